"""The feature spec: what :class:`~journeymine.personas.features.CustomerFeaturizer` learned and
every featurization path needs (vocabularies, roles, session rule, windows, priors), with the
names of the aggregates and features it implies. Serialised in model cards."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from journeymine.exceptions import ConfigError, did_you_mean

__all__ = [
    "HOUR_BUCKETS",
    "OTHER",
    "SCALAR_AGGREGATES",
    "SHRUNK_RATES",
    "SPEC_VERSION",
    "US_PER_DAY",
    "US_PER_HOUR",
    "US_PER_SECOND",
    "FeatureSpec",
]

OTHER = "__other__"
US_PER_SECOND = 1_000_000
US_PER_HOUR = 3_600 * US_PER_SECOND
US_PER_DAY = 24 * US_PER_HOUR
HOUR_BUCKETS: tuple[tuple[int, int], ...] = ((0, 4), (4, 8), (8, 12), (12, 16), (16, 20), (20, 24))
SPEC_VERSION = 1
#: The per-session rates that are shrunk towards the fitted log's pooled rate (``rate_priors``):
#: a customer with few (or no) sessions of the kind a rate divides by gets a rate near the
#: log's, not an extreme 0 or 1 from one session.
SHRUNK_RATES: tuple[str, ...] = ("conversion_rate", "browse_to_buy", "cart_abandonment")


@dataclass(frozen=True)
class FeatureSpec:
    """Everything needed to compute features, produced by :meth:`CustomerFeaturizer.fit`.

    Serialise with :meth:`to_json` / :meth:`from_json` (the assignment model card stores it).
    Times are integer microseconds since 1970-01-01 UTC.

    Examples
    --------
    >>> spec = FeatureSpec(activities=("view", "purchase"), channels=("web",), as_of_us=0)
    >>> FeatureSpec.from_json(spec.to_json()) == spec
    True
    >>> spec.aggregate_names[:3]
    ('n_events', 'act:view', 'act:purchase')
    """

    activities: tuple[str, ...]
    channels: tuple[str, ...]
    as_of_us: int
    journeys: tuple[str, ...] = ()
    touch_activities: tuple[str, ...] = ()
    purchase_activities: tuple[str, ...] = ()
    cart_activities: tuple[str, ...] = ()
    browse_activities: tuple[str, ...] = ()
    return_activities: tuple[str, ...] = ()
    support_activities: tuple[str, ...] = ()
    promotion_activities: tuple[str, ...] = ()
    research_activities: tuple[str, ...] = ()
    transitions: tuple[tuple[str, str], ...] = ()
    start_us: int | None = None
    end_us: int | None = None
    session_gap_us: int = 30 * 60 * US_PER_SECOND
    use_session_id: bool = False
    response_window_us: int = 48 * US_PER_HOUR
    response_prior: float = 0.0
    order_value_prior: float = 0.0
    journey_response_prior: tuple[float, ...] = ()
    rate_priors: tuple[tuple[str, float], ...] = ()
    prior_strength: float = 2.0
    version: int = SPEC_VERSION
    aggregate_names: tuple[str, ...] = field(init=False, compare=False, repr=False)
    feature_names: tuple[str, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.journey_response_prior) not in (0, len(self.journeys)):
            raise ConfigError(
                f"journey_response_prior has {len(self.journey_response_prior)} values for "
                f"{len(self.journeys)} journeys; give one per journey or none."
            )
        bad = [(n, p) for n, p in self.rate_priors if n not in SHRUNK_RATES or not 0 <= p <= 1]
        if bad:
            raise ConfigError(
                f"rate_priors {bad} are not allowed: each is (rate, prior) with rate one of "
                f"{list(SHRUNK_RATES)} and prior within [0, 1]."
            )
        object.__setattr__(self, "aggregate_names", _aggregate_names(self))
        object.__setattr__(self, "feature_names", _feature_names(self))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        d["transitions"] = [list(t) for t in self.transitions]
        d["rate_priors"] = [list(t) for t in self.rate_priors]
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    def to_json(self) -> str:
        """Serialise to a JSON string."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureSpec:
        """Rebuild from :meth:`to_dict` output (unknown keys raise :class:`ConfigError`)."""
        names = {f.name for f in dataclasses.fields(cls) if f.init}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ConfigError(
                f"unknown FeatureSpec fields {unknown}.{did_you_mean(unknown[0], names)} "
                f"Allowed: {sorted(names)}."
            )
        if int(d.get("version", SPEC_VERSION)) > SPEC_VERSION:
            raise ConfigError(
                f"FeatureSpec version {d['version']} is newer than this journeymine supports "
                f"({SPEC_VERSION}); upgrade journeymine."
            )
        kw: dict[str, Any] = {}
        for k, v in d.items():
            if k == "transitions":
                kw[k] = tuple((str(a), str(b)) for a, b in v)
            elif k == "rate_priors":
                kw[k] = tuple((str(a), float(b)) for a, b in v)
            elif isinstance(v, list):
                kw[k] = tuple(v)
            else:
                kw[k] = v
        return cls(**kw)

    @classmethod
    def from_json(cls, text: str) -> FeatureSpec:
        """Rebuild from :meth:`to_json` output."""
        return cls.from_dict(json.loads(text))


# The scalar aggregates (one column each), in groups in the order of ``aggregate_names``; the
# numpy aggregates (``features.aggregates``) compute exactly these.
_COUNTS = ("n_events",)
_TOUCHES = ("n_touches", "n_responded")
_SESSIONS = (
    "n_session_events",
    "n_sessions",
    "n_single_event_sessions",
    "session_us",
    "sessions_browse",
    "sessions_browse_purchase",
    "sessions_cart",
    "sessions_cart_no_purchase",
    "sessions_purchase",
    "n_organic_sessions",
)
_ORGANIC = ("last_organic_us", "organic_t_rel_s", "session_channel_switches", "n_transitions")
_DAYS_VALUE_TIMES = (
    "n_active_days",
    "value_cents",
    "n_valued_purchases",
    "first_us",
    "last_us",
    "last_session_us",
    "session_t_rel_s",
)
#: Every scalar aggregate (the others are ``group:key`` columns such as ``act:view``).
SCALAR_AGGREGATES: tuple[str, ...] = _COUNTS + _TOUCHES + _SESSIONS + _ORGANIC + _DAYS_VALUE_TIMES


def _aggregate_names(spec: FeatureSpec) -> tuple[str, ...]:
    names = [*_COUNTS]
    names += [f"act:{a}" for a in (*spec.activities, OTHER)]
    names += [f"ch:{c}" for c in (*spec.channels, OTHER)]
    names += [f"sch:{c}" for c in (*spec.channels, OTHER)]
    names += _TOUCHES
    for j in spec.journeys:
        names += [f"touch:{j}", f"resp:{j}"]
    names += _SESSIONS
    names += [f"osch:{c}" for c in (*spec.channels, OTHER)]
    names += _ORGANIC
    names += [f"tr:{a}>{b}" for a, b in spec.transitions]
    names += [f"hour:{h:02d}" for h in range(24)]
    names += [f"wday:{d}" for d in range(7)]
    names += _DAYS_VALUE_TIMES
    return tuple(names)


def session_activities(spec: FeatureSpec) -> list[str]:
    touch = set(spec.touch_activities)
    return [a for a in spec.activities if a not in touch]


def _feature_names(spec: FeatureSpec) -> tuple[str, ...]:
    names = [f"activity_share:{a}" for a in session_activities(spec)]
    names += [f"touch_share:{a}" for a in spec.touch_activities]
    names += [f"channel_share:{c}" for c in spec.channels]
    names += [f"session_channel_share:{c}" for c in spec.channels]
    names += [f"organic_channel_share:{c}" for c in spec.channels]
    names += [
        "log_events",
        "log_sessions",
        "sessions_per_week",
        "active_day_share",
        "recency_days_log",
        "tenure_days_log",
        "session_recency_share",
        "activity_centre",
        "organic_sessions_per_week",
        "organic_recency_share",
        "organic_centre",
        "triggered_session_share",
        "log_value",
        "order_value_log",
        "events_per_session",
        "session_minutes_log",
        "bounce_share",
    ]
    names += [f"hour_share:{a:02d}-{b:02d}" for a, b in HOUR_BUCKETS]
    names += [
        "weekend_share",
        "conversion_rate",
        "browse_to_buy",
        "cart_abandonment",
        "channel_switch_rate",
    ]
    names += [f"transition_share:{a}>{b}" for a, b in spec.transitions]
    names += ["response_rate"] + [f"response_rate:{j}" for j in spec.journeys]
    names += ["touches_per_session", "returns_per_purchase", "support_per_session"]
    names += ["promotion_share", "research_share"]
    return tuple(names)
