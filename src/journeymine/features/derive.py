"""Features from aggregates: the one numpy step shared by every featurization path.

:func:`features_from_aggregates` turns the integer aggregates of
:mod:`journeymine.features.aggregates` (or of the DuckDB reference,
:mod:`journeymine.features.reference`) into features (shares, logs, rates) with plain numpy.
Every path calls it, so equal aggregates give equal features, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from journeymine.exceptions import ConfigError
from journeymine.features.spec import (
    HOUR_BUCKETS,
    SHRUNK_RATES,
    US_PER_DAY,
    US_PER_SECOND,
    FeatureSpec,
    session_activities,
)

__all__ = ["features_from_aggregates", "pooled_rates"]


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with 0 where ``den <= 0`` (float64 arrays, broadcast)."""
    out = np.zeros(np.broadcast(num, den).shape, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


@dataclass(frozen=True)
class _Layout:
    """Where every input of :func:`features_from_aggregates` sits among a spec's aggregates,
    and the features that are a ratio of two sums of aggregates, as two 0/±1 matrices."""

    idx: dict[str, int]
    groups: dict[str, np.ndarray]
    journey_priors: np.ndarray
    pos: dict[str, int]  # feature name -> output column
    ratio_pos: np.ndarray  # output columns of the linear ratios
    num: np.ndarray  # (n_aggregates, n_ratios) numerator coefficients
    den: np.ndarray  # (n_aggregates, n_ratios) denominator coefficients
    den_const: np.ndarray  # (n_ratios,) added to the denominator
    prior_num: np.ndarray  # (n_ratios,) pseudo-counts added to the numerator (rate_priors)
    prior_den: np.ndarray  # (n_ratios,) pseudo-counts added to the denominator (rate_priors)


def _linear_ratios(
    spec: FeatureSpec,
) -> list[tuple[str, dict[str, float], dict[str, float], float]]:
    """(feature, numerator {aggregate: coefficient}, denominator {...}, denominator constant)
    of every feature that is ``safe_div(sum, sum + constant)``."""
    one = 1.0
    sev = {"n_session_events": one}
    sess = {"n_sessions": one}
    out: list[tuple[str, dict[str, float], dict[str, float], float]] = []
    out += [(f"activity_share:{a}", {f"act:{a}": one}, sev, 0.0) for a in session_activities(spec)]
    out += [
        (f"touch_share:{a}", {f"act:{a}": one}, {"n_touches": one}, 0.0)
        for a in spec.touch_activities
    ]
    out += [(f"channel_share:{c}", {f"ch:{c}": one}, {"n_events": one}, 0.0) for c in spec.channels]
    out += [(f"session_channel_share:{c}", {f"sch:{c}": one}, sev, 0.0) for c in spec.channels]
    out += [
        (f"organic_channel_share:{c}", {f"osch:{c}": one}, {"n_organic_sessions": one}, 0.0)
        for c in spec.channels
    ]
    out += [
        ("triggered_session_share", {"n_sessions": one, "n_organic_sessions": -one}, sess, 0.0),
        ("events_per_session", {"n_session_events": one}, sess, 0.0),
        ("bounce_share", {"n_single_event_sessions": one}, sess, 0.0),
    ]
    out += [
        (f"hour_share:{lo:02d}-{hi:02d}", {f"hour:{h:02d}": one for h in range(lo, hi)}, sev, 0.0)
        for lo, hi in HOUR_BUCKETS
    ]
    out += [
        ("weekend_share", {"wday:5": one, "wday:6": one}, sev, 0.0),
        ("conversion_rate", {"sessions_purchase": one}, sess, 0.0),
        ("browse_to_buy", {"sessions_browse_purchase": one}, {"sessions_browse": one}, 0.0),
        ("cart_abandonment", {"sessions_cart_no_purchase": one}, {"sessions_cart": one}, 0.0),
        ("channel_switch_rate", {"session_channel_switches": one}, sess, -1.0),
    ]
    out += [
        (f"transition_share:{a}>{b}", {f"tr:{a}>{b}": one}, {"n_transitions": one}, 0.0)
        for a, b in spec.transitions
    ]
    for name, acts in (
        ("promotion_share", spec.promotion_activities),
        ("research_share", spec.research_activities),
    ):
        num: dict[str, float] = {}
        for a in acts:
            num[f"act:{a}"] = num.get(f"act:{a}", 0.0) + one
        out.append((name, num, sev, 0.0))
    return out


# The single-customer path calls features_from_aggregates with the same spec object thousands
# of times a second: its layout is computed once per spec object (keyed by identity, so no
# hashing of the spec's fields per call).
_LAYOUTS: dict[int, tuple[FeatureSpec, _Layout]] = {}


def _layout(spec: FeatureSpec) -> _Layout:
    hit = _LAYOUTS.get(id(spec))
    if hit is not None and hit[0] is spec:
        return hit[1]
    idx = {name: i for i, name in enumerate(spec.aggregate_names)}
    named = {
        "session_acts": [f"act:{x}" for x in session_activities(spec)],
        "touch_acts": [f"act:{x}" for x in spec.touch_activities],
        "ch": [f"ch:{x}" for x in spec.channels],
        "sch": [f"sch:{x}" for x in spec.channels],
        "osch": [f"osch:{x}" for x in spec.channels],
        "hours": [f"hour:{h:02d}" for h in range(24)],
        "wday": [f"wday:{d}" for d in range(7)],
        "tr": [f"tr:{x}>{y}" for x, y in spec.transitions],
        "resp": [f"resp:{j}" for j in spec.journeys],
        "touch": [f"touch:{j}" for j in spec.journeys],
        "purchase": [f"act:{x}" for x in spec.purchase_activities],
        "returns": [f"act:{x}" for x in spec.return_activities],
        "support": [f"act:{x}" for x in spec.support_activities],
        "promotion": [f"act:{x}" for x in spec.promotion_activities],
        "research": [f"act:{x}" for x in spec.research_activities],
    }
    groups = {k: np.asarray([idx[n] for n in v], dtype=np.intp) for k, v in named.items()}
    priors = spec.journey_response_prior or (spec.response_prior,) * len(spec.journeys)
    pos = {name: i for i, name in enumerate(spec.feature_names)}
    ratios = _linear_ratios(spec)
    num = np.zeros((len(idx), len(ratios)))
    den = np.zeros((len(idx), len(ratios)))
    for r, (_, n_coef, d_coef, _) in enumerate(ratios):
        for name, c in n_coef.items():
            num[idx[name], r] += c
        for name, c in d_coef.items():
            den[idx[name], r] += c
    rate_prior = dict(spec.rate_priors)
    prior_den = np.asarray(
        [float(spec.prior_strength) if r[0] in rate_prior else 0.0 for r in ratios]
    )
    prior_num = prior_den * np.asarray([rate_prior.get(r[0], 0.0) for r in ratios])
    layout = _Layout(
        idx,
        groups,
        np.asarray(priors, dtype=np.float64),
        pos,
        np.asarray([pos[r[0]] for r in ratios], dtype=np.intp),
        num,
        den,
        np.asarray([r[3] for r in ratios], dtype=np.float64),
        prior_num,
        prior_den,
    )
    if len(_LAYOUTS) >= 64:
        _LAYOUTS.clear()
    _LAYOUTS[id(spec)] = (spec, layout)
    return layout


def features_from_aggregates(aggregates: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Turn integer aggregates into features (pure numpy; no NaN, no inf).

    Parameters
    ----------
    aggregates : ndarray of int64, shape (n_customers, len(spec.aggregate_names))
        Output of :func:`compute_aggregates` (or an equal single-customer computation).
    spec : FeatureSpec
        The spec the aggregates were computed with; ``spec.as_of_us`` is "now" for recency.

    Returns
    -------
    ndarray of float64, shape (n_customers, len(spec.feature_names))
        Every ratio has a safe denominator (0 when there is nothing to divide by); response
        rates, the mean order value and the rates of ``spec.rate_priors`` are shrunk towards
        those of the fitted log by ``spec.prior_strength`` pseudo-touches / pseudo-purchases /
        pseudo-sessions.

    Examples
    --------
    >>> spec = FeatureSpec(activities=("view",), channels=("web",), as_of_us=0)
    >>> agg = np.zeros((1, len(spec.aggregate_names)), dtype=np.int64)
    >>> features_from_aggregates(agg, spec).shape == (1, len(spec.feature_names))
    True
    """
    a = np.asarray(aggregates)
    if a.ndim == 1:
        a = a[None, :]
    if a.ndim != 2 or a.shape[1] != len(spec.aggregate_names):
        raise ConfigError(
            f"aggregates must have shape (n, {len(spec.aggregate_names)}) for this spec, got "
            f"{a.shape}. Compute them with compute_aggregates(log, spec)."
        )
    layout = _layout(spec)
    if len(a) <= _CHUNK_ROWS:
        return _features(a, spec, layout)
    # Large inputs in slices of rows (every row is computed on its own, so the result is the
    # same): the temporaries of a slice are reused from the heap instead of being fresh
    # memory each time, whose first touch is most of the cost of a million rows.
    X = np.empty((len(a), len(layout.pos)), dtype=np.float64)
    for lo in range(0, len(a), _CHUNK_ROWS):
        X[lo : lo + _CHUNK_ROWS] = _features(a[lo : lo + _CHUNK_ROWS], spec, layout)
    return X


_CHUNK_ROWS = 8_192


def pooled_rates(aggregates: np.ndarray, spec: FeatureSpec) -> tuple[tuple[str, float], ...]:
    """The pooled rate of every rate of :data:`~journeymine.features.spec.SHRUNK_RATES` over
    all customers (sum of numerators / sum of denominators): the ``rate_priors`` a customer
    with little evidence is shrunk towards. A rate with no denominator anywhere is left out.

    Examples
    --------
    >>> spec = FeatureSpec(activities=("view", "buy"), channels=("web",), as_of_us=0,
    ...                    purchase_activities=("buy",))
    >>> agg = np.zeros((2, len(spec.aggregate_names)), dtype=np.int64)
    >>> agg[:, spec.aggregate_names.index("n_sessions")] = [3, 1]
    >>> agg[:, spec.aggregate_names.index("sessions_purchase")] = [1, 1]
    >>> pooled_rates(agg, spec)
    (('conversion_rate', 0.5),)
    """
    layout = _layout(spec)
    a = np.asarray(aggregates, dtype=np.float64).reshape(-1, len(spec.aggregate_names))
    ratio_of = {p: r for r, p in enumerate(layout.ratio_pos.tolist())}
    num = a.sum(0) @ layout.num
    den = a.sum(0) @ layout.den + len(a) * layout.den_const
    rows = [ratio_of[layout.pos[name]] for name in SHRUNK_RATES]
    return tuple(
        (name, float(min(max(num[r] / den[r], 0.0), 1.0)))
        for name, r in zip(SHRUNK_RATES, rows, strict=True)
        if den[r] > 0
    )


def _features(a: np.ndarray, spec: FeatureSpec, layout: _Layout) -> np.ndarray:
    idx, groups = layout.idx, layout.groups
    af = a.astype(np.float64)  # every aggregate is an integer < 2**53: exact

    def col(name: str) -> np.ndarray:
        return af[:, idx[name]]

    def cols(group: str) -> np.ndarray:
        return af[:, groups[group]]

    X = np.empty((len(af), len(layout.pos)), dtype=np.float64)
    # Ratios of sums of aggregates: two products with 0/±1 matrices. The sums are of integers
    # below 2**53, so they are exact whatever the summation order: the same numbers as adding
    # the columns one by one.
    # (rate_priors add pseudo-counts to a few rates; 0 + 0 elsewhere leaves the sums exact)
    X[:, layout.ratio_pos] = _safe_div(
        af @ layout.num + layout.prior_num, af @ layout.den + layout.den_const + layout.prior_den
    )

    n_events = col("n_events")
    n_sess = col("n_sessions")
    n_sev = col("n_session_events")
    as_of = float(spec.as_of_us)
    first = col("first_us")
    last = col("last_us")
    tenure_days = np.maximum(as_of - first, 0.0) / US_PER_DAY
    recency_days = np.maximum(as_of - last, 0.0) / US_PER_DAY
    observed_days = np.maximum(tenure_days, 7.0)
    has_sessions = n_sev > 0
    last_session = np.where(has_sessions, col("last_session_us"), first)
    span = np.maximum(as_of - first, 0.0)
    n_org = col("n_organic_sessions")
    last_org = col("last_organic_us")
    value = col("value_cents") / 100.0
    k = float(spec.prior_strength)
    pos = layout.pos
    X[:, pos["log_events"]] = np.log1p(n_events)
    X[:, pos["log_sessions"]] = np.log1p(n_sess)
    X[:, pos["sessions_per_week"]] = n_sess * 7.0 / observed_days
    X[:, pos["active_day_share"]] = np.minimum(
        col("n_active_days") / np.maximum(np.ceil(tenure_days), 1.0), 1.0
    )
    X[:, pos["recency_days_log"]] = np.log1p(recency_days)
    X[:, pos["tenure_days_log"]] = np.log1p(tenure_days)
    X[:, pos["session_recency_share"]] = _safe_div(np.maximum(as_of - last_session, 0.0), span)
    X[:, pos["activity_centre"]] = np.minimum(
        _safe_div(col("session_t_rel_s") * US_PER_SECOND, n_sev * span), 1.0
    )
    X[:, pos["organic_sessions_per_week"]] = n_org * 7.0 / observed_days
    X[:, pos["organic_recency_share"]] = np.where(
        n_org > 0, _safe_div(np.maximum(as_of - last_org, 0.0), span), 1.0
    )
    X[:, pos["organic_centre"]] = np.minimum(
        _safe_div(col("organic_t_rel_s") * US_PER_SECOND, n_org * span), 1.0
    )
    X[:, pos["log_value"]] = np.log1p(np.maximum(value, 0.0))
    X[:, pos["order_value_log"]] = np.log1p(
        np.maximum((value + k * spec.order_value_prior) / (col("n_valued_purchases") + k), 0.0)
    )
    X[:, pos["session_minutes_log"]] = np.log1p(
        _safe_div(col("session_us"), n_sess) / (60.0 * US_PER_SECOND)
    )
    X[:, pos["response_rate"]] = (col("n_responded") + k * spec.response_prior) / (
        col("n_touches") + k
    )
    if spec.journeys:
        first_j = pos[f"response_rate:{spec.journeys[0]}"]
        X[:, first_j : first_j + len(spec.journeys)] = (
            cols("resp") + k * layout.journey_priors
        ) / (cols("touch") + k)
    purchases = cols("purchase").sum(1)
    X[:, pos["touches_per_session"]] = _safe_div(col("n_touches"), np.maximum(n_sess, 1.0))
    X[:, pos["returns_per_purchase"]] = _safe_div(
        cols("returns").sum(1), np.maximum(purchases, 1.0)
    )
    X[:, pos["support_per_session"]] = _safe_div(cols("support").sum(1), np.maximum(n_sess, 1.0))
    return X
