"""The simulated retailer: its ground truth, its policy and the state a run starts from
(:func:`make_world`, :func:`sim_policy`); :mod:`journeymine.datasets._simulate` runs days in it
(the model of the world is described there).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from journeymine.datasets import _designs as D
from journeymine.datasets._generator import SyntheticJourneys, make_journeys
from journeymine.exceptions import ConfigError

__all__ = ["World", "make_world", "sim_policy"]

DAY = 86_400
SIM_JOURNEYS = (
    "cart_abandonment",
    "post_purchase_tips",
    "win_back",
    "flash_sale",
    "holiday",
    "birthday",
)
SIM_CHANNEL = ("email", "email", "email", "push", "email", "sms")
CONTEXT = ("cart", "bought", "lapsed", "all", "all", "all")
OUT_CHANNELS = ("email", "sms", "push")
CHANNEL_COST = np.array([0.01, 0.02, 0.005])  # per send, by outbound channel
LANDS_ON = ("web", "web", "app")  # where a touch on each outbound channel brings the customer
SENT = {"email": "email_sent", "sms": "sms_sent", "push": "push_sent"}
BASE = np.array([0.012, 0.02, 0.008, 0.006, 0.003, 0.006])  # organic purchase per day
VISIT = np.array([0.14, 0.18, 0.06, 0.12, 0.03, 0.1])
CART = np.array([0.35, 0.4, 0.2, 0.3, 0.25, 0.2])


def sim_policy(
    arbitration: str = "uplift",
    *,
    next_step_channels: bool = False,
    skip_outcome_above: float | None = None,
) -> Any:
    """The policy of the simulated retailer (reachability- and consent-aware), as a Policy.

    ``next_step_channels``: every journey may also be sent by email or push (``alternatives``)
    and goes where a NextStepModel predicts the customer will be next (``app``: push, ``web``:
    email). ``skip_outcome_above``: skip the cart reminder when the predicted outcome
    probability is at least this.

    Examples
    --------
    >>> sim_policy(next_step_channels=True).next_step_channels
    (('app', 'push'), ('web', 'email'))
    """
    from journeymine.actions import Policy

    email = {"channel": "email", "activity": "email_sent", "cost": 0.01}
    spec: dict[str, Any] = {
        "journeys": [
            {
                "name": "cart_abandonment",
                **email,
                "eligible": [
                    {"rule": "seen", "activity": "add_to_cart", "within": "24h"},
                    {"rule": "not_seen", "activity": "purchase", "within": "24h"},
                ],
                "min_gap": "3D",
            },
            {
                "name": "post_purchase_tips",
                **email,
                "product_from": "purchase",
                "eligible": [{"rule": "seen", "activity": "purchase", "within": "14D"}],
                "suppress": [{"activity": "return_product", "within": "30D", "same_product": True}],
                "min_gap": "5D",
            },
            {
                "name": "win_back",
                **email,
                "eligible": [
                    {
                        "rule": "not_seen",
                        "activity": ["visit", "store_visit", "call"],
                        "within": "28D",
                    }
                ],
                "min_gap": "14D",
            },
            {
                "name": "flash_sale",
                "channel": "push",
                "activity": "push_sent",
                "cost": 0.005,
                "min_gap": "7D",
            },
            {"name": "holiday", **email, "min_gap": "14D"},
            {
                "name": "birthday",
                "channel": "sms",
                "activity": "sms_sent",
                "cost": 0.02,
                "min_gap": "14D",
            },
        ],
        "caps": [
            {"channel": "email", "max": 2, "per": "7D"},
            {"channel": "*", "max": 3, "per": "7D"},
        ],
        "consent": [
            {"channel": "email", "opt_in": "email_opt_in", "opt_out": "email_opt_out"},
            {"channel": "sms", "opt_in": "sms_opt_in", "opt_out": "sms_opt_out"},
            {"channel": "push", "requires": "app_install"},
            {"channel": "push", "opt_in": "push_opt_in", "opt_out": "push_opt_out"},
        ],
        "response_window": "20h",
        "response_activities": ["purchase"],
        "outcome_activities": ["purchase"],
        "arbitration": arbitration,
        # the retailer's own economics, like the journeys' costs: what a customer's consent
        # on a channel is worth (World.unsub_cost)
        "fatigue": {"within": "7D", "factor": 0.6, "unsubscribe_cost": 0.3},
    }
    if next_step_channels:
        for j in spec["journeys"]:
            j["alternatives"] = {c: SENT[c] for c in ("email", "push") if c != j["channel"]}
        spec["next_step"] = {"channels": {"app": "push", "web": "email"}}
    if skip_outcome_above is not None:
        spec["journeys"][0]["skip_if_likely"] = True
        spec.setdefault("next_step", {})["skip_outcome_above"] = skip_outcome_above
    return Policy.from_dict(spec)


def _secs(x: pd.Series) -> np.ndarray:
    """Seconds since the epoch of a tz-aware datetime Series."""
    return ((x - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)).to_numpy(np.int64)


@dataclass
class World:
    """The simulated retailer: history, state at the start and ground truth.

    ``uplift``/``organic`` are persona x journey tables (the journeys of :data:`SIM_JOURNEYS`);
    ``persona`` is the true persona of each customer (codes into ``_designs.PERSONAS``).

    Examples
    --------
    :func:`make_world` returns one:

    >>> from journeymine.datasets import make_world
    >>> w = make_world(200, history_days=30, random_state=0)
    >>> w.uplift.columns.tolist()  # the simulated journeys
    ['cart_abandonment', 'post_purchase_tips', 'win_back', 'flash_sale', 'holiday', 'birthday']
    >>> len(w.ids), w.true_personas.index.equals(w.ids)
    (200, True)
    >>> w.attributes.columns.tolist()  # what the policy's consent gates may read
    ['has_app', 'email_opt_in', 'sms_opt_in', 'push_opt_in']
    >>> w.caps
    {'email': 2, '*': 3}
    """

    history: SyntheticJourneys
    ids: pd.Index
    persona: np.ndarray
    consent: dict[str, np.ndarray]
    has_app: np.ndarray
    start_s: int
    seed_log: pd.DataFrame
    last_visit: np.ndarray
    last_cart: np.ndarray
    uplift: pd.DataFrame
    organic: pd.DataFrame
    value: np.ndarray = field(default_factory=lambda: np.ones(len(SIM_JOURNEYS)))
    cost: np.ndarray = field(
        default_factory=lambda: np.array([0.01, 0.01, 0.01, 0.005, 0.01, 0.02])
    )
    fatigue: float = 0.6
    unsub: dict[str, float] = field(
        default_factory=lambda: {"email": 0.004, "sms": 0.006, "push": 0.003}
    )
    unsub_cost: float = 0.3
    caps: dict[str, int] = field(default_factory=lambda: {"email": 2, "*": 3})
    app_share: np.ndarray | None = None
    channel_affinity: float = 0.0

    @property
    def affinity(self) -> np.ndarray:
        """(customers, outbound channels) multiplier of a touch's uplift: ``1 - w + w x`` the
        customer's share of sessions on the channel the touch lands on over the mean share."""
        n = len(self.ids)
        share = np.full(n, 0.5) if self.app_share is None else self.app_share
        land = np.stack([1 - share, 1 - share, share], axis=1)
        w = float(self.channel_affinity)
        return 1 - w + w * land / np.maximum(land.mean(axis=0, keepdims=True), 1e-12)

    @property
    def true_personas(self) -> pd.Series:
        """customer_id -> true persona code at the start of the simulation."""
        return pd.Series(self.persona, index=self.ids)

    @property
    def attributes(self) -> pd.DataFrame:
        """Customer attribute table: has_app and the opt-ins at the start."""
        return pd.DataFrame(
            {"has_app": self.has_app, **{f"{c}_opt_in": v for c, v in self.consent.items()}},
            index=self.ids,
        )


def make_world(
    n_customers: int = 2_000,
    *,
    history_days: int = 90,
    random_state: int = 0,
    channel_affinity: float = 0.0,
) -> World:
    """A world whose history (``make_journeys``, no persona change) ends where simulation starts.

    ``channel_affinity`` (in [0, 1], default 0): the share of a touch's uplift that scales with
    the customer's use of the channel the touch lands on (see the module docstring).

    Examples
    --------
    >>> w = make_world(200, history_days=30, random_state=0)
    >>> w.uplift.shape, len(w.ids)
    ((6, 6), 200)
    """
    if not isinstance(n_customers, int | np.integer) or n_customers < 10:
        raise ConfigError(f"n_customers must be an integer >= 10, got {n_customers!r}.")
    if isinstance(channel_affinity, bool) or not 0 <= float(channel_affinity) <= 1:
        raise ConfigError(
            f"channel_affinity must be in [0, 1] (0: channels do not matter), got "
            f"{channel_affinity!r}."
        )
    hist = make_journeys(
        int(n_customers), days=history_days, random_state=random_state, persona_change_share=0.0
    )
    c = hist.customers
    ids = pd.Index(c["customer_id"].astype(str), name="customer_id")
    persona = pd.Index(D.PERSONAS).get_indexer(c["persona"])
    start = pd.Timestamp(hist.params["start"]) + pd.Timedelta(days=history_days)
    start_s = int(start.value // 10**9)
    signup = np.maximum(_secs(c["signup"]), start_s - history_days * DAY)
    consent = {ch: c[f"{ch}_opt_in"].to_numpy(bool) for ch in OUT_CHANNELS}
    has_app = c["has_app"].to_numpy(bool)
    rows = [("app_install", has_app)] + [(f"{ch}_opt_in", consent[ch]) for ch in OUT_CHANNELS]
    seed = [
        pd.DataFrame(
            {
                "customer_id": ids[m],
                "timestamp": pd.to_datetime(signup[m], unit="s", utc=True),
                "activity": act,
                "channel": "app" if act in ("app_install", "push_opt_in") else act[:-7],
            }
        )
        for act, m in rows
    ]
    ev = hist.events
    keep = ev["activity"].isin(
        ["visit", "store_visit", "call", "add_to_cart", "purchase", "return_product"]
    )
    hist_ev = ev.loc[keep, ["customer_id", "timestamp", "activity", "channel", "product"]].copy()
    hist_ev["activity"] = hist_ev["activity"].astype(str)
    hist_ev["channel"] = hist_ev["channel"].astype(str).astype(object)
    hist_ev["product"] = hist_ev["product"].astype(object)
    seed_log = pd.concat([*seed, hist_ev], ignore_index=True)
    seed_log["channel"] = seed_log["channel"].astype(object)
    sess = ev[ev["channel"].isin(["app", "web"])]
    n_app = (sess["channel"] == "app").groupby(sess["customer_id"], observed=True).sum()
    n_all = sess.groupby("customer_id", observed=True).size()
    n_app.index, n_all.index = n_app.index.astype(str), n_all.index.astype(str)
    app_share = (
        (n_app.reindex(ids, fill_value=0).to_numpy() + 1.0)
        / (n_all.reindex(ids, fill_value=0).to_numpy() + 2.0)
    ) * has_app  # no app, no app sessions
    seed_log["journey_id"] = None
    seed_log["timestamp"] = seed_log["timestamp"].astype("datetime64[us, UTC]")

    def last(acts: list[str]) -> np.ndarray:
        e = ev[ev["activity"].isin(acts)]
        t = e.groupby("customer_id", observed=True)["timestamp"].max()
        t.index = t.index.astype(str)
        s = t.reindex(ids)
        out = np.full(len(ids), start_s - 400 * DAY, dtype=np.int64)
        have = ~s.isna().to_numpy()
        out[have] = _secs(s[have])
        return out - start_s

    sim_j = list(SIM_JOURNEYS)
    cols = [D.JOURNEYS.index(j) for j in sim_j]
    mk = lambda a: pd.DataFrame(  # noqa: E731
        a[:, cols],
        index=pd.Index(D.PERSONAS, name="persona"),
        columns=pd.Index(sim_j, name="journey_id"),
    )
    return World(
        history=hist,
        ids=ids,
        persona=persona.astype(np.int64),
        consent=consent,
        has_app=has_app,
        start_s=start_s,
        seed_log=seed_log,
        last_visit=last(["visit", "store_visit", "call"]),
        last_cart=last(["add_to_cart"]),
        uplift=mk(D.UPLIFT),
        organic=mk(D.ORGANIC),
        app_share=app_share,
        channel_affinity=float(channel_affinity),
    )
