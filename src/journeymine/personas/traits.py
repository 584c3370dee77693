"""The trait vocabulary of persona names: what a feature that sets a persona apart says.

A *trait* (:class:`Trait`) is one feature on which a persona differs from the others (its
Cohen's d), said in words: a higher share of one of the log's activities, transitions or
channels ("search -> view_item customers", "kiosk-first"), value, time of day, visit frequency,
fading or recent activity, session shape, response. :func:`describe` turns a feature and its d
into a trait, in the log's own terms. The lexicon :data:`NAME_RULES` names the featurizer's role
features and known channels ("Store-first buyers", "Promotion hunters") and counts
``LEXICON_WEIGHT`` times its |d|; a low share of a mix counts ``LOW_SHARE_WEIGHT`` times.
:mod:`journeymine.personas.profiles` picks and composes the traits into names.

Examples
--------
>>> describe("organic_channel_share:app", 1.0).head
'App loyalists'
>>> describe("activity_share:search", -1.0).tail
'less search'
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "HOURS",
    "LEXICON_WEIGHT",
    "LOW_SHARE_WEIGHT",
    "NAME_RULES",
    "NameRule",
    "Trait",
    "describe",
    "feature_words",
    "rest_of",
]

#: Rules of the lexicon (:data:`NAME_RULES`) count this much more than generic traits: they say
#: what an activity or channel means (the featurizer's roles), not only what it is called.
LEXICON_WEIGHT = 1.5
#: Low shares of a mix (an activity, transition or channel) say less than high ones.
LOW_SHARE_WEIGHT = 0.75


@dataclass(frozen=True)
class NameRule:
    """A lexicon rule: when ``feature`` (exact name, or ``prefix*``) has Cohen's d beyond the
    naming threshold (``profiles.MIN_D``) in ``direction`` (+1 high, -1 low), the persona is
    called ``adjective noun`` (e.g. "Store-first buyers"); ``family`` groups rules and traits
    that say the same thing so that a name does not repeat itself."""

    feature: str
    direction: int
    adjective: str
    noun: str
    family: str

    def matches(self, name: str) -> bool:
        if self.feature.endswith("*"):
            return name.startswith(self.feature[:-1])
        return name == self.feature


#: The lexicon: features whose meaning journeymine knows (the featurizer's role features and
#: the generator's channel names). Every other feature is named by :func:`describe` in the
#: log's own terms (its activity, transition and channel names).
NAME_RULES: tuple[NameRule, ...] = (
    NameRule("organic_channel_share:store", 1, "Store-first", "buyers", "channel:store"),
    NameRule("organic_channel_share:app", 1, "App", "loyalists", "channel:app"),
    NameRule("organic_channel_share:web", 1, "Web", "browsers", "channel:web"),
    NameRule(
        "organic_channel_share:call_centre", 1, "Support-heavy", "callers", "channel:call_centre"
    ),
    NameRule("support_per_session", 1, "Support", "seekers", "support"),
    NameRule("returns_per_purchase", 1, "Frequent", "returners", "returns"),
    NameRule("promotion_share", 1, "Promotion", "hunters", "promotion"),
    NameRule("research_share", 1, "Review", "researchers", "research"),
    NameRule("conversion_rate", 1, "Decisive", "buyers", "conversion"),
)

#: Hour-of-day share -> (adjective of a name's head, words after a comma).
HOURS = {
    "00-04": ("Night", "at night"),
    "04-08": ("Early-morning", "early mornings"),
    "08-12": ("Morning", "mornings"),
    "12-16": ("Daytime", "daytime"),
    "16-20": ("Late-afternoon", "late afternoons"),
    "20-24": ("Evening", "evenings"),
}
# scalar feature -> family, (head, tail) when high, (head, tail) when low (None: not a trait)
_Phrase = tuple[str, str] | None
_Scalar = tuple[str, _Phrase, _Phrase]
_FREQUENCY: _Scalar = (
    "frequency",
    ("Frequent customers", "frequent"),
    ("Occasional customers", "occasional"),
)
_FADING: _Scalar = (
    "trend",
    ("Fading customers", "fading"),
    ("Recently active customers", "recently active"),
)
# activity centred late in the window is the same trait read the other way: fading's phrases
# swapped (high = recently active, low = fading)
_RECENT: _Scalar = (_FADING[0], _FADING[2], _FADING[1])
_VALUE: _Scalar = (
    "value",
    ("High-value customers", "high value"),
    ("Low-value customers", "low value"),
)
_SCALARS: dict[str, _Scalar] = {
    "sessions_per_week": _FREQUENCY,
    "organic_sessions_per_week": _FREQUENCY,
    "active_day_share": _FREQUENCY,
    "log_sessions": _FREQUENCY,
    "log_events": ("volume", ("Busy customers", "many events"), ("Light customers", "few events")),
    "organic_recency_share": _FADING,
    "session_recency_share": _FADING,
    "organic_centre": _RECENT,
    "activity_centre": _RECENT,
    # the days since the last visit and the fading of activity are one dimension: one family, so
    # a name never says both ("Recently active customers, not seen lately")
    "recency_days_log": (
        "trend",
        ("Lapsed customers", "not seen lately"),
        ("Recently seen customers", "seen lately"),
    ),
    "tenure_days_log": (
        "tenure",
        ("Long-standing customers", "long-standing"),
        ("New customers", "new"),
    ),
    "order_value_log": _VALUE,
    "log_value": _VALUE,
    "events_per_session": (
        "session shape",
        ("Deep-session customers", "long sessions"),
        ("Short-session customers", "short sessions"),
    ),
    "session_minutes_log": (
        "session shape",
        ("Long-session customers", "long sessions"),
        ("Quick-session customers", "quick sessions"),
    ),
    "bounce_share": (
        "session shape",
        ("Single-event-session customers", "single-event sessions"),
        None,
    ),
    "weekend_share": (
        "weekday",
        ("Weekend customers", "weekends"),
        ("Weekday customers", "weekdays"),
    ),
    "conversion_rate": (
        "conversion",
        ("Decisive buyers", "often buying"),
        ("Hesitant customers", "rarely buying"),
    ),
    "browse_to_buy": ("conversion", ("Decisive buyers", "browse then buy"), None),
    "cart_abandonment": ("cart", ("Cart abandoners", "abandoning carts"), None),
    "channel_switch_rate": (
        "switching",
        ("Channel-switching customers", "switching channels"),
        ("Single-channel customers", "one channel"),
    ),
    "triggered_session_share": (
        "response",
        ("Campaign-driven customers", "campaign-driven"),
        ("Self-starting customers", "self-starting"),
    ),
    "response_rate": (
        "response",
        ("Campaign-responsive customers", "campaign-responsive"),
        ("Unresponsive customers", "unresponsive"),
    ),
    "touches_per_session": (
        "contact",
        ("Heavily contacted customers", "heavily contacted"),
        ("Rarely contacted customers", "rarely contacted"),
    ),
    "support_per_session": ("support", ("Support seekers", "support-heavy"), None),
    "returns_per_purchase": ("returns", ("Frequent returners", "returning"), None),
    "promotion_share": ("promotion", ("Promotion hunters", "promotion-driven"), None),
    "research_share": ("research", ("Review researchers", "researching"), None),
}


@dataclass(frozen=True)
class Trait:
    """One thing that sets a persona apart: the feature, its Cohen's d, what it says as the
    head of a name (``head``, a noun phrase) and after a comma (``tail``), and the ranking
    ``score`` (|d| times the lexicon and low-share weights)."""

    feature: str
    d: float
    family: str
    head: str
    tail: str
    score: float


def _term(name: str) -> str:
    """An activity or channel name as written in a persona name (quoted when it has spaces)."""
    return f'"{name}"' if any(ch.isspace() for ch in name) else name


def rest_of(col: str) -> str:
    return col.partition(":")[2] or col


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _mix_trait(
    col: str, d: float, family: str, high: tuple[str, str], low: tuple[str, str]
) -> Trait:
    """The trait of a share of a mix (an activity, transition or channel): ``high`` (head,
    tail) when the persona has more of it, else ``low``, which weighs ``LOW_SHARE_WEIGHT``."""
    if d > 0:
        return Trait(col, d, family, high[0], high[1], abs(d))
    return Trait(col, d, family, low[0], low[1], abs(d) * LOW_SHARE_WEIGHT)


def _more_or_less(col: str, d: float, family: str, what: str) -> Trait:
    """The trait of an activity's or a transition's share, ``what`` as written in a name."""
    return _mix_trait(
        col,
        d,
        family,
        (f"{what} customers", f"more {what}"),
        (f"Customers with less {what}", f"less {what}"),
    )


def describe(feature: str, d: float) -> Trait | None:
    """The trait that ``feature`` being higher (``d > 0``) or lower (``d < 0``) than in the
    other personas says, in the log's own terms; None when the feature says nothing readable
    (e.g. a low time-of-day share).

    Examples
    --------
    >>> describe("transition_share:search>view_item", 1.2).head
    'search -> view_item customers'
    >>> describe("organic_channel_share:kiosk", 2.0).tail
    'kiosk-first'
    >>> describe("order_value_log", -0.9).head
    'Low-value customers'
    """
    col = str(feature)
    high = d > 0
    for rule in NAME_RULES:
        if rule.matches(col) and rule.direction * d > 0:
            head = f"{rule.adjective} {rule.noun}"
            known = _SCALARS.get(col)
            if known is not None and known[1] is not None:
                tail = known[1][1]
            else:
                tail = f"{_term(rest_of(col))}-first"
            return Trait(col, d, rule.family, head, tail, abs(d) * LEXICON_WEIGHT)
    kind, _, rest = col.partition(":")
    if rest:
        if kind in ("organic_channel_share", "session_channel_share", "channel_share"):
            ch = _term(rest)
            return _mix_trait(
                col,
                d,
                f"channel:{rest}",
                (f"{_capital(ch)}-first customers", f"{ch}-first"),
                (f"Non-{ch} customers", f"rarely {ch}"),
            )
        if kind in ("activity_share", "touch_share"):
            return _more_or_less(col, d, f"activity:{rest}", _term(rest))
        if kind == "transition_share":
            a, _, b = rest.partition(">")
            return _more_or_less(col, d, f"transition:{rest}", f"{_term(a)} -> {_term(b)}")
        if kind == "hour_share":
            if not high or rest not in HOURS:
                return None
            adj, tail = HOURS[rest]
            return Trait(col, d, "time", f"{adj} customers", tail, abs(d))
        if kind == "response_rate":
            j = _term(rest)
            if high:
                return Trait(
                    col,
                    d,
                    f"response:{rest}",
                    f"{_capital(j)} responders",
                    f"responsive to {j}",
                    abs(d),
                )
            return None
        return None
    spec = _SCALARS.get(col)
    if spec is None:
        return None
    family, up, down = spec
    phrase = up if high else down
    if phrase is None:
        return None
    return Trait(col, d, family, phrase[0], phrase[1], abs(d))


#: What each scalar feature measures, in words (:func:`feature_words`).
_SCALAR_WORDS: dict[str, str] = {
    "log_events": "number of events",
    "log_sessions": "number of sessions",
    "sessions_per_week": "sessions per week",
    "organic_sessions_per_week": "sessions of their own per week",
    "active_day_share": "share of days active",
    "recency_days_log": "days since the last event",
    "tenure_days_log": "days since the first event",
    "session_recency_share": "time since the last session, as a share of their history",
    "organic_recency_share": "time since their last own session, as a share of their history",
    "activity_centre": "when their sessions fall in their history (0 early, 1 late)",
    "organic_centre": "when their own sessions fall in their history (0 early, 1 late)",
    "triggered_session_share": "share of sessions that follow a touch",
    "log_value": "total value",
    "order_value_log": "value per purchase",
    "events_per_session": "events per session",
    "session_minutes_log": "session length",
    "bounce_share": "share of single-event sessions",
    "weekend_share": "share of weekend activity",
    "conversion_rate": "share of sessions with a purchase",
    "browse_to_buy": "purchases per browsing session",
    "cart_abandonment": "share of cart sessions without a purchase",
    "channel_switch_rate": "channel switches between sessions",
    "response_rate": "response rate to touches",
    "touches_per_session": "touches per session",
    "returns_per_purchase": "returns per purchase",
    "support_per_session": "support contacts per session",
    "promotion_share": "share of promotion views",
    "research_share": "share of research activity",
}
_MIX_WORDS: dict[str, str] = {
    "organic_channel_share": "share of their own sessions on {}",
    "session_channel_share": "share of sessions on {}",
    "channel_share": "share of events on {}",
    "activity_share": "share of {} in their activity",
    "touch_share": "share of touches that are {}",
    "transition_share": "share of {} steps",
    "hour_share": "share of activity at {} h",
    "response_rate": "response rate to {}",
}


def feature_words(feature: str) -> str:
    """What a persona feature measures, in words (for findings and tables); an unknown name
    is returned with its underscores as spaces.

    Examples
    --------
    >>> feature_words("organic_channel_share:app")
    'share of their own sessions on app'
    >>> feature_words("transition_share:search>view_item")
    'share of search -> view_item steps'
    >>> feature_words("organic_recency_share")
    'time since their last own session, as a share of their history'
    >>> feature_words("my_custom_score")
    'my custom score'
    """
    col = str(feature)
    kind, _, rest = col.partition(":")
    if rest and kind in _MIX_WORDS:
        what = (
            " -> ".join(_term(x) for x in rest.split(">"))
            if kind == "transition_share"
            else (_term(rest))
        )
        return _MIX_WORDS[kind].format(what)
    return _SCALAR_WORDS.get(col, col.replace("_", " "))
