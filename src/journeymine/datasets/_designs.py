"""The designs behind the synthetic generator: personas, session grammars, CRM journeys, incidents.

Everything here is data. The generator (``_generator.py``) turns it into events; the ground-truth
tables returned with the events are built from these same tables, so truth and events agree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# --- activities -----------------------------------------------------------------------------
# Session states of the Markov grammar (END is absorbing and emits nothing).
STATES: tuple[str, ...] = (
    "visit",
    "search",
    "view_promotions",
    "view_product",
    "read_reviews",
    "add_to_cart",
    "checkout",
    "purchase",
    "contact_support",
    "track_order",
    "store_visit",
    "call",
    "END",
)
S = {name: i for i, name in enumerate(STATES)}
END = S["END"]
PRODUCT_STATES = frozenset({S["view_product"], S["read_reviews"], S["add_to_cart"], S["purchase"]})
RETURN_ACTIVITY = "return_product"
OUTBOUND_ACTIVITY = {"email": "email_sent", "sms": "sms_sent", "push": "push_sent"}
RESPONSE_ACTIVITIES = {
    "email": ("email_open", "email_click"),
    "sms": ("sms_click",),
    "push": ("push_open",),
}
ACTIVITIES: tuple[str, ...] = (
    *STATES[:-1],
    RETURN_ACTIVITY,
    "email_sent",
    "email_open",
    "email_click",
    "sms_sent",
    "sms_click",
    "push_sent",
    "push_open",
)
CHANNELS: tuple[str, ...] = ("web", "app", "store", "call_centre", "email", "sms", "push")
SESSION_CHANNELS: tuple[str, ...] = ("web", "app", "store", "call_centre")
PRODUCTS: tuple[str, ...] = ("shoes", "outerwear", "electronics", "beauty", "home", "kids")

# --- personas -------------------------------------------------------------------------------
PERSONAS: tuple[str, ...] = (
    "bargain_hunter",
    "loyal_app_buyer",
    "store_first_omnichannel",
    "researcher",
    "lapsing_customer",
    "support_heavy",
)
PERSONA_DESCRIPTIONS: tuple[str, ...] = (
    "browses promotions on web and app, buys cheap items, reacts to flash sales",
    "shops mostly in the app in the evening, converts well, spends regularly",
    "buys in store during the day, uses the website to look things up",
    "reads products and reviews for long web sessions, buys rarely but big",
    "was active and fades away; reacts mostly to win-back messages",
    "tracks orders and contacts support often, returns many purchases",
)
PERSONA_WEIGHTS = np.array([0.2, 0.2, 0.17, 0.16, 0.14, 0.13])
# sessions per day, channel mix over SESSION_CHANNELS
SESSION_RATE = np.array([0.07, 0.09, 0.05, 0.06, 0.08, 0.05])
LAPSE_DAYS = np.array([np.inf, np.inf, np.inf, np.inf, 35.0, np.inf])  # e-folding of activity
CHANNEL_MIX = np.array(
    [
        [0.50, 0.40, 0.07, 0.03],
        [0.10, 0.85, 0.04, 0.01],
        [0.30, 0.05, 0.60, 0.05],
        [0.82, 0.12, 0.04, 0.02],
        [0.45, 0.35, 0.15, 0.05],
        [0.35, 0.15, 0.10, 0.40],
    ]
)
# mean seconds between events inside a session, by persona, for digital sessions
DIGITAL_GAP_S = np.array([40.0, 30.0, 45.0, 150.0, 50.0, 60.0])
STORE_GAP_S, CALL_GAP_S = 240.0, 180.0
MEAN_VALUE = np.array([35.0, 60.0, 80.0, 160.0, 50.0, 70.0])
RETURN_PROB = np.array([0.12, 0.05, 0.04, 0.08, 0.05, 0.35])
RETURN_CHANNEL = np.array([0, 1, 2, 0, 0, 3])  # index into SESSION_CHANNELS
PRODUCT_PREF = np.array(
    [
        [0.30, 0.15, 0.10, 0.25, 0.10, 0.10],
        [0.20, 0.20, 0.15, 0.20, 0.10, 0.15],
        [0.15, 0.30, 0.05, 0.10, 0.25, 0.15],
        [0.05, 0.10, 0.60, 0.05, 0.15, 0.05],
        [0.20, 0.20, 0.15, 0.15, 0.15, 0.15],
        [0.15, 0.15, 0.35, 0.10, 0.15, 0.10],
    ]
)


def _hours(peaks: list[tuple[float, float, float]]) -> np.ndarray:
    h = np.arange(24) + 0.5
    w = np.full(24, 0.02)
    for centre, width, weight in peaks:
        w = w + weight * np.exp(-0.5 * ((h - centre) / width) ** 2)
    w[:6] *= 0.15  # people sleep
    return w / w.sum()


HOUR_PROFILE = np.stack(
    [
        _hours([(12.5, 1.5, 1.0), (20.5, 2.0, 1.0)]),
        _hours([(21.0, 1.5, 1.5), (8.0, 1.0, 0.4)]),
        _hours([(14.0, 2.5, 1.5)]),
        _hours([(23.0, 1.5, 1.2), (13.0, 1.0, 0.6)]),
        _hours([(13.0, 4.0, 1.0)]),
        _hours([(11.0, 2.0, 1.2), (16.0, 1.5, 0.8)]),
    ]
)

# Persona change: where a changing customer goes.
CHANGE_TO = np.array([1, 4, 1, 0, 3, 2])


# --- session grammars -----------------------------------------------------------------------
def _matrix(rows: dict[str, dict[str, float]]) -> np.ndarray:
    m = np.zeros((len(STATES), len(STATES)))
    for a, nxt in rows.items():
        for b, p in nxt.items():
            m[S[a], S[b]] = p
    m[END, END] = 1.0
    for i in range(len(STATES)):
        if m[i].sum() == 0:
            m[i, END] = 1.0
    return m / m.sum(1, keepdims=True)


DIGITAL = _matrix(
    {
        "visit": {
            "search": 0.3,
            "view_promotions": 0.12,
            "view_product": 0.38,
            "track_order": 0.04,
            "contact_support": 0.02,
            "END": 0.14,
        },
        "search": {"view_product": 0.6, "search": 0.12, "END": 0.28},
        "view_promotions": {"view_product": 0.5, "add_to_cart": 0.1, "END": 0.4},
        "view_product": {
            "view_product": 0.28,
            "read_reviews": 0.08,
            "add_to_cart": 0.22,
            "search": 0.1,
            "END": 0.32,
        },
        "read_reviews": {"view_product": 0.4, "add_to_cart": 0.2, "END": 0.4},
        "add_to_cart": {"checkout": 0.5, "view_product": 0.2, "END": 0.3},
        "checkout": {"purchase": 0.82, "END": 0.18},
        "purchase": {"END": 0.85, "view_product": 0.15},
        "contact_support": {"END": 0.7, "track_order": 0.3},
        "track_order": {"contact_support": 0.2, "END": 0.8},
    }
)
STORE = _matrix(
    {
        "store_visit": {
            "view_product": 0.72,
            "purchase": 0.18,
            "contact_support": 0.05,
            "END": 0.05,
        },
        "view_product": {"purchase": 0.45, "view_product": 0.2, "END": 0.35},
        "purchase": {"END": 1.0},
        "contact_support": {"END": 1.0},
    }
)
CALL = _matrix(
    {
        "call": {"contact_support": 0.8, "track_order": 0.2},
        "contact_support": {"END": 0.75, "track_order": 0.25},
        "track_order": {"END": 0.7, "contact_support": 0.3},
    }
)
KIND_START = (S["visit"], S["store_visit"], S["call"])  # digital, store, call
KIND_MATRIX = (DIGITAL, STORE, CALL)

# persona modifiers: (kind, from, to, factor); rows are renormalised afterwards
MODIFIERS: dict[int, list[tuple[int, str, str, float]]] = {
    0: [
        (0, "visit", "view_promotions", 4.0),
        (0, "view_promotions", "add_to_cart", 2.0),
        (0, "search", "search", 1.5),
    ],
    1: [
        (0, "add_to_cart", "checkout", 1.6),
        (0, "checkout", "purchase", 1.15),
        (0, "visit", "view_product", 1.5),
        (0, "view_product", "END", 0.7),
    ],
    2: [(0, "view_product", "END", 1.6), (1, "view_product", "purchase", 1.3)],
    3: [
        (0, "view_product", "view_product", 2.0),
        (0, "view_product", "read_reviews", 4.0),
        (0, "read_reviews", "view_product", 1.5),
        (0, "view_product", "END", 0.5),
        (0, "add_to_cart", "checkout", 0.5),
    ],
    4: [(0, "view_product", "END", 1.8), (0, "search", "END", 1.8), (0, "visit", "END", 1.8)],
    5: [
        (0, "visit", "track_order", 6.0),
        (0, "visit", "contact_support", 8.0),
        (0, "track_order", "contact_support", 2.0),
    ],
}


def persona_matrices() -> np.ndarray:
    """Transition tensors of shape (persona, kind, state, state)."""
    out = np.stack([np.stack([m.copy() for m in KIND_MATRIX]) for _ in PERSONAS])
    for p, mods in MODIFIERS.items():
        for kind, a, b, f in mods:
            out[p, kind, S[a], S[b]] *= f
    return out / out.sum(-1, keepdims=True)


# --- CRM journeys ---------------------------------------------------------------------------
JOURNEYS: tuple[str, ...] = (
    "welcome",
    "birthday",
    "holiday",
    "flash_sale",
    "cart_abandonment",
    "post_purchase_tips",
    "win_back",
)
JOURNEY_CHANNEL = ("email", "sms", "email", "push", "email", "email", "email")
JOURNEY_TRIGGER = (
    "signed up during the period: touches on days 0, 2 and 6 after sign-up",
    "birthday inside the period: one touch the day before",
    "everyone signed up: one touch on the first day of the holiday week",
    "flash sale days: push to app users, email to the others",
    "digital session with add_to_cart and no purchase: one touch 2 hours later",
    "after a purchase: tips about that product 3 and 10 days later (even after a return)",
    "no session for 30 days: one touch, then again after 30 more quiet days",
)
# Per persona x journey: (P(response | touch), its true incremental part). The response drives
# a visit on web (email/sms) or app (push). The incremental part (uplift) is P(response | touch)
# - P(the same response without it); the rest is organic (the customer would have come back
# and bought anyway): a loyal app buyer "responds" to a cart reminder at 0.35 but only 0.05 of
# that is caused by it.
# fmt: off
_RESPONSE_UPLIFT = np.array([  # rows: PERSONAS; columns: JOURNEYS
    [(0.10,0.06), (0.08,0.04), (0.15,0.08), (0.45,0.30), (0.20,0.12), (0.03,0.01), (0.10,0.07)],
    [(0.25,0.08), (0.15,0.05), (0.10,0.03), (0.22,0.04), (0.35,0.05), (0.15,0.03), (0.05,0.02)],
    [(0.10,0.06), (0.35,0.20), (0.20,0.12), (0.05,0.03), (0.05,0.03), (0.08,0.05), (0.08,0.05)],
    [(0.15,0.09), (0.05,0.03), (0.08,0.05), (0.05,0.03), (0.30,0.18), (0.25,0.15), (0.05,0.03)],
    [(0.05,0.03), (0.10,0.06), (0.05,0.03), (0.08,0.05), (0.05,0.03), (0.03,0.01), (0.30,0.25)],
    [(0.08,0.03), (0.05,0.01), (0.05,0.01), (0.03,0.00), (0.05,0.01), (0.02,0.00), (0.04,0.02)],
])
# fmt: on
RESPONSE = np.ascontiguousarray(_RESPONSE_UPLIFT[..., 0])
UPLIFT = np.ascontiguousarray(_RESPONSE_UPLIFT[..., 1])
OPEN_WITHOUT_CLICK = 0.2
ORGANIC = RESPONSE - UPLIFT
# Consent and reachability: share of customers opted in per outbound channel (push also needs
# the app); drawn from their own seed stream, so the events of a seed do not change.
OPT_IN = {"email": 0.8, "sms": 0.45, "push": 0.85}
# A touch's steps up to the click, and the steps from the cart to the order.
_EMAIL_CLICK = ("email_sent", "email_open", "email_click")
_CHECKOUT = ("add_to_cart", "checkout", "purchase")
DESIGNED_STEPS: dict[str, tuple[str, ...]] = {
    "welcome": (*_EMAIL_CLICK, "visit", "view_product", *_CHECKOUT),
    "birthday": ("sms_sent", "sms_click", "visit", "view_promotions", "view_product", *_CHECKOUT),
    "holiday": (*_EMAIL_CLICK, "visit", "view_promotions", "view_product", *_CHECKOUT),
    "flash_sale": ("push_sent", "push_open", "visit", "view_promotions", *_CHECKOUT),
    "cart_abandonment": (*_EMAIL_CLICK, "visit", *_CHECKOUT),
    "post_purchase_tips": (*_EMAIL_CLICK, "visit", "view_product"),
    "win_back": (*_EMAIL_CLICK, "visit", "view_product", *_CHECKOUT),
}


# --- incidents ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Incident:
    """A scheduled change of behaviour: on ``channel``, between ``start_day`` (inclusive) and
    ``end_day`` (exclusive) counted from the start of the period, the probability of the
    transition ``source -> target`` is multiplied by ``factor``; the lost probability ends the
    session (the customer gives up).

    Examples
    --------
    >>> Incident("app_checkout_failure", "app", 60, 74, "checkout", "purchase", 0.1).days
    14
    """

    name: str
    channel: str
    start_day: int
    end_day: int
    source: str
    target: str
    factor: float
    description: str = ""

    @property
    def days(self) -> int:
        return self.end_day - self.start_day


def default_incidents(days: int) -> tuple[Incident, ...]:
    """Two incidents placed relative to the period: an app checkout failure (two weeks) and a
    web search outage (five days).

    Examples
    --------
    >>> [(i.name, i.start_day, i.end_day) for i in default_incidents(180)]
    [('app_checkout_failure', 62, 76), ('web_search_outage', 125, 130)]
    """
    a = int(days * 0.35)
    b = int(days * 0.7)
    return (
        Incident(
            "app_checkout_failure",
            "app",
            a,
            a + 14,
            "checkout",
            "purchase",
            0.1,
            "mobile checkout failure: most app checkouts do not end in a purchase",
        ),
        Incident(
            "web_search_outage",
            "web",
            b,
            b + 5,
            "search",
            "view_product",
            0.05,
            "site search returns nothing: web searches rarely lead to a product view",
        ),
    )
