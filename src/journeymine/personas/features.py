"""Behaviour features per customer, in two exact steps: integer *aggregates*, then *features*.

:class:`CustomerFeaturizer` is a scikit-learn transformer. ``fit(log)`` learns a
:class:`FeatureSpec` (the vocabulary of activities, channels and journeys, the most frequent
in-session transitions, the window and ``as_of``); ``transform(log)`` returns one row of
features per customer (index ``customer_id``, sorted).

The work is split in two so that a single-customer path (live assignment, plain numpy) can
reproduce the batch result bit for bit:

(a) :func:`compute_aggregates` computes per-customer **integer** counts and sums (``int64``),
    listed below and in ``spec.aggregate_names``, with vectorised numpy (the default engine,
    also used by live assignment) or as one DuckDB SQL query (the readable reference; the two
    are checked equal bit for bit);
(b) :func:`features_from_aggregates` turns those integers into features (shares, logs, rates)
    with plain numpy. It is shared by every path, so equal aggregates give equal features.

Aggregate definitions
---------------------
Input handling (identical for every implementation):

- Only events with ``start_us <= t < end_us`` count (``spec.start_us``/``spec.end_us``; ``None``
  means unbounded). ``t`` is the timestamp as integer microseconds since 1970-01-01 UTC.
- A customer's events are ordered by ``(t, position in the input)``: ties keep input order.
- Activities, channels and journeys are mapped to the vocabulary in ``spec``; names outside it
  count as ``__other__``. A missing ``channel`` column counts every event as channel
  ``__other__``; a null ``journey_id`` means "no journey".
- *Touches* are events whose activity is in ``spec.touch_activities`` (outbound messages such as
  ``email_sent``). All other events are *session events*.
- *Responses* are session events with a non-null ``journey_id``.
- *Sessions* are built from session events only. If ``spec.use_session_id``, a session is the
  set of a customer's events sharing a ``session_id`` (an event with a null ``session_id`` is a
  session of its own). Otherwise a new session starts at a customer's first session event and
  whenever the time since the previous session event is **greater than** ``spec.session_gap_us``.
  Sessions are ordered by their first event (in the event order above).
- ``cents(v) = floor(v * 100 + 0.5)`` in IEEE double precision, then cast to int64.
- ``hour(t) = ((t mod D) + D) mod D // H`` and ``weekday(t) = (floor(t / D) + 3) mod 7``
  (Monday = 0), with ``D`` a day and ``H`` an hour in microseconds (UTC).

Aggregates, in the order of ``spec.aggregate_names``:

=============================== ===============================================================
``n_events``                    events in the window
``act:<a>``, ``act:__other__``  events per activity
``ch:<c>``, ``ch:__other__``    events per channel
``sch:<c>``, ``sch:__other__``  session events per channel
``n_touches``                   touches
``n_responded``                 touches followed by a response of the same customer and the
                                same ``journey_id`` with ``t_touch <= t_response <= t_touch +
                                spec.response_window_us`` (a touch counts once)
``touch:<j>``, ``resp:<j>``     the same two counts per journey in ``spec.journeys``
``n_session_events``            session events
``n_sessions``                  sessions
``n_single_event_sessions``     sessions with exactly one event
``session_us``                  sum over sessions of (last ``t`` - first ``t``)
``sessions_browse``             sessions with an event in ``spec.browse_activities``
``sessions_browse_purchase``    ... that also have an event in ``spec.purchase_activities``
``sessions_cart``               sessions with an event in ``spec.cart_activities``
``sessions_cart_no_purchase``   ... without any purchase event
``sessions_purchase``           sessions with a purchase event
``n_organic_sessions``          sessions without a response event (self-initiated, not
                                triggered by a touch)
``osch:<c>``, ``osch:__other__`` organic sessions per session channel (channel of the last
                                event, as for switches)
``last_organic_us``             last ``t`` of an event in an organic session (0 when none)
``organic_t_rel_s``             sum over organic sessions of ``floor((t0 - first_us) / 10**6)``
                                with ``t0`` the session's first ``t``
``session_channel_switches``    consecutive sessions whose channels differ; the channel of a
                                session is the channel of its last event
``n_transitions``               pairs of consecutive events inside one session
``tr:<a>><b>``                  such pairs ``a -> b``, for each pair in ``spec.transitions``
``hour:<hh>``                   session events per UTC hour 00..23
``wday:<d>``                    session events per weekday 0..6 (Monday = 0)
``n_active_days``               distinct UTC days (``floor(t / D)``) with a session event
``value_cents``                 sum of ``cents(value)`` over events in
                                ``spec.purchase_activities`` with a non-null, non-NaN value
``n_valued_purchases``          the number of those events
``first_us``, ``last_us``       first and last ``t`` (any event)
``last_session_us``             last ``t`` of a session event (0 when there is none)
``session_t_rel_s``             sum over session events of ``floor((t - first_us) / 10**6)``
                                (whole seconds since the customer's first event)
=============================== ===============================================================

Only customers with at least one event in the window get a row.

Examples
--------
>>> from journeymine.datasets import make_journeys
>>> log = make_journeys(n_customers=200, days=60, random_state=0).events
>>> fz = CustomerFeaturizer().fit(log)
>>> X = fz.transform(log)
>>> X.shape[0] == log["customer_id"].nunique(), bool(X.notna().all().all())
(True, True)
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from journeymine.exceptions import ConfigError, EmptyLogError, UnknownActivityError, did_you_mean
from journeymine.exceptions import NotFittedError as _JmNotFitted
from journeymine.journeys._common import to_micros
from journeymine.personas._aggregates import cents as _to_cents
from journeymine.personas._aggregates import learn_stats
from journeymine.personas._frame import (
    CHUNK_EVENTS,
    Vocab,
    _codes,
    aggregate_log,
    canonical_log,
    customer_slices,
    encode_log,
    require_session_id,
    timestamps_us,
)
from journeymine.personas._spec import (
    HOUR_BUCKETS,
    OTHER,
    US_PER_DAY,
    US_PER_HOUR,
    US_PER_SECOND,
    FeatureSpec,
    _session_activities,
)
from journeymine.schema import (
    ACTIVITY,
    CHANNEL,
    CUSTOMER_ID,
    JOURNEY_ID,
    SESSION_ID,
    TIMESTAMP,
    VALUE,
    check_duration,
)

__all__ = [
    "OTHER",
    "CustomerFeaturizer",
    "FeatureSpec",
    "compute_aggregates",
    "features_from_aggregates",
]

logger = logging.getLogger(__name__)

_EPOCH = pd.Timestamp("1970-01-01", tz="UTC")


# ---------------------------------------------------------------------------------------------
# (b) features from aggregates: pure numpy, shared by the batch and the single-customer paths
# ---------------------------------------------------------------------------------------------
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


def _linear_ratios(
    spec: FeatureSpec,
) -> list[tuple[str, dict[str, float], dict[str, float], float]]:
    """(feature, numerator {aggregate: coefficient}, denominator {...}, denominator constant)
    of every feature that is ``safe_div(sum, sum + constant)``."""
    one = 1.0
    sev = {"n_session_events": one}
    sess = {"n_sessions": one}
    out: list[tuple[str, dict[str, float], dict[str, float], float]] = []
    out += [(f"activity_share:{a}", {f"act:{a}": one}, sev, 0.0) for a in _session_activities(spec)]
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
        "session_acts": [f"act:{x}" for x in _session_activities(spec)],
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
    layout = _Layout(
        idx,
        groups,
        np.asarray(priors, dtype=np.float64),
        pos,
        np.asarray([pos[r[0]] for r in ratios], dtype=np.intp),
        num,
        den,
        np.asarray([r[3] for r in ratios], dtype=np.float64),
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
        rates and the mean order value are shrunk towards those of the fitted log by
        ``spec.prior_strength`` pseudo-touches / pseudo-purchases.

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
    X[:, layout.ratio_pos] = _safe_div(af @ layout.num, af @ layout.den + layout.den_const)

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


# ---------------------------------------------------------------------------------------------
# (a) aggregates: DuckDB
# ---------------------------------------------------------------------------------------------
def _encode(log: pd.DataFrame, spec: FeatureSpec) -> tuple[pd.Index, pd.DataFrame]:
    """Integer columns for DuckDB (window filter applied), and the sorted customer ids."""
    t = timestamps_us(log)
    keep = np.ones(len(log), dtype=bool)
    if spec.start_us is not None:
        keep &= t >= spec.start_us
    if spec.end_us is not None:
        keep &= t < spec.end_us
    pos = np.flatnonzero(keep).astype(np.int64)
    if not keep.all():
        log = log.iloc[pos]
        t = t[pos]
    cust_codes, customers = pd.factorize(log[CUSTOMER_ID].to_numpy(), sort=True)
    act = _codes(log[ACTIVITY], spec.activities)[0]
    n_act = len(spec.activities)
    if CHANNEL in log.columns:
        ch = _codes(log[CHANNEL], spec.channels)[0]
    else:
        ch = np.full(len(log), len(spec.channels), dtype=np.int32)
    if JOURNEY_ID in log.columns:
        jraw, juniq = pd.factorize(log[JOURNEY_ID], use_na_sentinel=True)
        jvocab = pd.Index(list(spec.journeys)).get_indexer(pd.Index(juniq.astype(str)))
        jvocab = np.where(jvocab < 0, -1, jvocab)
        jv = np.where(jraw < 0, -1, jvocab[np.maximum(jraw, 0)]).astype(np.int32)
        jraw = jraw.astype(np.int64)
    else:
        jraw = np.full(len(log), -1, dtype=np.int64)
        jv = np.full(len(log), -1, dtype=np.int32)
    if VALUE in log.columns:
        v = log[VALUE].to_numpy(dtype=np.float64, na_value=np.nan)
        valued = np.isfinite(v)
        cents = _to_cents(v)
    else:
        valued = np.zeros(len(log), dtype=bool)
        cents = np.zeros(len(log), dtype=np.int64)
    if spec.use_session_id and SESSION_ID in log.columns:
        sraw, _ = pd.factorize(log[SESSION_ID], use_na_sentinel=True)
        sid = sraw.astype(np.int64)
    else:
        sid = np.full(len(log), -1, dtype=np.int64)

    def role(names: tuple[str, ...]) -> np.ndarray:
        lookup = np.zeros(n_act + 1, dtype=bool)
        for name in names:
            if name in spec.activities:
                lookup[spec.activities.index(name)] = True
        return lookup[act]

    frame = pd.DataFrame(
        {
            "c": cust_codes.astype(np.int64),
            "ts": t,
            "pos": pos,
            "a": act,
            "ch": ch,
            "jraw": jraw,
            "jv": jv,
            "valued": valued,
            "cents": cents,
            "sid": sid,
            "touch": role(spec.touch_activities),
            "purchase": role(spec.purchase_activities),
            "cart": role(spec.cart_activities),
            "browse": role(spec.browse_activities),
        }
    )
    return pd.Index(customers, name=CUSTOMER_ID), frame


def _sql(spec: FeatureSpec) -> str:
    """The aggregate query over table ``ev`` (see :func:`_encode`)."""
    n_act, n_ch = len(spec.activities), len(spec.channels)
    D, H = US_PER_DAY, US_PER_HOUR
    act_cols = ",\n".join(f'count(*) FILTER (WHERE a = {i}) AS "act{i}"' for i in range(n_act + 1))
    ch_cols = ",\n".join(f'count(*) FILTER (WHERE ch = {i}) AS "ch{i}"' for i in range(n_ch + 1))
    osch_cols = ",\n".join(
        f'count(*) FILTER (WHERE NOT triggered AND last_ch = {i}) AS "osch{i}"'
        for i in range(n_ch + 1)
    )
    sch_cols = ",\n".join(f'count(*) FILTER (WHERE ch = {i}) AS "sch{i}"' for i in range(n_ch + 1))
    hour_cols = ",\n".join(
        f'count(*) FILTER (WHERE ((ts % {D}) + {D}) % {D} // {H} = {h}) AS "hour{h}"'
        for h in range(24)
    )
    wday_cols = ",\n".join(
        f"count(*) FILTER (WHERE (((ts - (((ts % {D}) + {D}) % {D})) // {D} + 3) % 7 + 7) % 7 "
        f'= {d}) AS "wday{d}"'
        for d in range(7)
    )
    a_index = {name: i for i, name in enumerate(spec.activities)}
    tr_cols = ",\n".join(
        f'count(*) FILTER (WHERE prev_a = {a_index[x]} AND a = {a_index[y]}) AS "tr{k}"'
        for k, (x, y) in enumerate(spec.transitions)
    )
    tr_select = f",\n{tr_cols}" if tr_cols else ""
    j_cols = ",\n".join(
        f'count(*) FILTER (WHERE jv = {k}) AS "touch{k}", '
        f'count(*) FILTER (WHERE jv = {k} AND responded) AS "resp{k}"'
        for k in range(len(spec.journeys))
    )
    j_select = f",\n{j_cols}" if j_cols else ""
    if spec.use_session_id:
        sess_expr = "CASE WHEN sid >= 0 THEN sid ELSE -1 - pos END"
    else:
        sess_expr = (
            f"sum(CASE WHEN prev_ts IS NULL OR ts - prev_ts > {int(spec.session_gap_us)} "
            f"THEN 1 ELSE 0 END) OVER (PARTITION BY c ORDER BY ts, pos "
            f"ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
        )
    rw = int(spec.response_window_us)
    final_cols = ", ".join(
        f'CAST(coalesce("{n}", 0) AS BIGINT) AS "{n}"' for n in _result_columns(spec)
    )
    return f"""
WITH
firsts AS (SELECT c, min(ts) AS f FROM ev GROUP BY c),
sev0 AS (
    SELECT c, ts, pos, a, ch, jv, jraw, sid, purchase, cart, browse,
           lag(ts) OVER (PARTITION BY c ORDER BY ts, pos) AS prev_ts
    FROM ev WHERE NOT touch
),
sev AS (
    SELECT *, {sess_expr} AS sess FROM sev0
),
sev2 AS (
    SELECT *, lag(a) OVER (PARTITION BY c, sess ORDER BY ts, pos) AS prev_a FROM sev
),
sessions AS (
    SELECT c, sess, count(*) AS n, max(ts) - min(ts) AS dur, max(ts) AS t1,
           min(ts) AS t0, first(pos ORDER BY ts, pos) AS p0,
           last(ch ORDER BY ts, pos) AS last_ch,
           bool_or(browse) AS has_browse, bool_or(cart) AS has_cart,
           bool_or(purchase) AS has_purchase, bool_or(jraw >= 0) AS triggered
    FROM sev GROUP BY c, sess
),
sess_seq AS (
    SELECT *, lag(last_ch) OVER (PARTITION BY c ORDER BY t0, p0) AS prev_ch FROM sessions
),
per_sess AS (
    SELECT c,
        count(*) AS n_sessions,
        count(*) FILTER (WHERE n = 1) AS n_single_event_sessions,
        sum(dur) AS session_us,
        count(*) FILTER (WHERE has_browse) AS sessions_browse,
        count(*) FILTER (WHERE has_browse AND has_purchase) AS sessions_browse_purchase,
        count(*) FILTER (WHERE has_cart) AS sessions_cart,
        count(*) FILTER (WHERE has_cart AND NOT has_purchase) AS sessions_cart_no_purchase,
        count(*) FILTER (WHERE has_purchase) AS sessions_purchase,
        count(*) FILTER (WHERE NOT triggered) AS n_organic_sessions,
        {osch_cols},
        max(t1) FILTER (WHERE NOT triggered) AS last_organic_us,
        sum((t0 - f) // {US_PER_SECOND}) FILTER (WHERE NOT triggered) AS organic_t_rel_s,
        count(*) FILTER (WHERE prev_ch IS NOT NULL AND prev_ch <> last_ch)
            AS session_channel_switches
    FROM sess_seq JOIN firsts USING (c) GROUP BY c
),
per_sev AS (
    SELECT c,
        count(*) AS n_session_events,
        count(prev_a) AS n_transitions{tr_select},
        {sch_cols},
        {hour_cols},
        {wday_cols},
        count(DISTINCT (ts - (((ts % {D}) + {D}) % {D})) // {D}) AS n_active_days,
        max(ts) AS last_session_us,
        sum((ts - f) // {US_PER_SECOND}) AS session_t_rel_s
    FROM sev2 JOIN firsts USING (c) GROUP BY c
),
touches AS (
    SELECT t.c, t.jv, EXISTS (
        SELECT 1 FROM ev r
        WHERE NOT r.touch AND r.jraw >= 0 AND r.c = t.c AND r.jraw = t.jraw
          AND r.ts >= t.ts AND r.ts <= t.ts + {rw}
    ) AS responded
    FROM ev t WHERE t.touch
),
per_touch AS (
    SELECT c, count(*) AS n_touches, count(*) FILTER (WHERE responded) AS n_responded{j_select}
    FROM touches GROUP BY c
),
per_ev AS (
    SELECT c,
        count(*) AS n_events,
        {act_cols},
        {ch_cols},
        sum(cents) FILTER (WHERE purchase AND valued) AS value_cents,
        count(*) FILTER (WHERE purchase AND valued) AS n_valued_purchases,
        min(ts) AS first_us, max(ts) AS last_us
    FROM ev GROUP BY c
)
SELECT c, {final_cols}
FROM per_ev
LEFT JOIN per_touch USING (c)
LEFT JOIN per_sess USING (c)
LEFT JOIN per_sev USING (c)
ORDER BY c
"""


def _result_columns(spec: FeatureSpec) -> list[str]:
    """SQL-safe column alias of every aggregate, in ``spec.aggregate_names`` order: a scalar
    keeps its name, ``group:key`` becomes ``group<k>`` (``act:visit`` -> ``act0``)."""
    seen: dict[str, int] = {}
    out = []
    for name in spec.aggregate_names:
        group, sep, _ = name.partition(":")
        if sep:
            out.append(f"{group}{seen.get(group, 0)}")
            seen[group] = seen.get(group, 0) + 1
        else:
            out.append(name)
    return out


def _connect(threads: int | None = None) -> Any:
    import duckdb

    con = duckdb.connect(":memory:")
    if threads:
        con.execute(f"SET threads TO {int(threads)}")
    con.execute("SET preserve_insertion_order = false")
    return con


def compute_aggregates(
    log: pd.DataFrame,
    spec: FeatureSpec,
    *,
    engine: Literal["numpy", "duckdb"] = "numpy",
    threads: int | None = None,
) -> tuple[pd.Index, np.ndarray]:
    """Per-customer integer aggregates of ``log`` under ``spec``.

    Parameters
    ----------
    log : DataFrame
        A canonical event log (any row order).
    spec : FeatureSpec
        From :meth:`CustomerFeaturizer.fit`.
    engine : {"numpy", "duckdb"}, default "numpy"
        ``"numpy"``: vectorised numpy (sorts, ``bincount``, ``reduceat``), the fast path, also
        used by live assignment. ``"duckdb"``: the same definitions as one SQL query (window
        functions), kept as the readable reference (a warehouse port starts from it) and
        checked equal to the numpy engine, bit for bit, in the tests.
    threads : int, optional
        DuckDB threads (default: all cores); only for ``engine="duckdb"``.

    Returns
    -------
    customers : Index
        Sorted customer ids with at least one event in the window.
    aggregates : ndarray of int64, shape (len(customers), len(spec.aggregate_names))

    Raises
    ------
    EmptyLogError
        No event falls inside the window.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({"customer_id": ["b", "a", "a"], "activity": ["x", "x", "y"],
    ...     "timestamp": pd.to_datetime(["2025-01-01 10:00", "2025-01-01 10:00",
    ...                                  "2025-01-01 10:05"], utc=True)})
    >>> spec = CustomerFeaturizer().fit(log).spec_
    >>> ids, agg = compute_aggregates(log, spec)
    >>> list(ids), agg[:, spec.aggregate_names.index("n_events")].tolist()
    (['a', 'b'], [2, 1])
    >>> bool((compute_aggregates(log, spec, engine="duckdb")[1] == agg).all())
    True
    """
    if engine not in ("numpy", "duckdb"):
        raise ConfigError(f"engine must be 'numpy' or 'duckdb', got {engine!r}.")
    log = canonical_log(log, what="compute_aggregates")
    if engine == "numpy":
        customers, agg, _, _ = aggregate_log(
            log, Vocab.of(spec), what="compute_aggregates", unknown_names=False
        )
        present = agg[:, 0] > 0  # n_events: customers without an event in the window get no row
        if not present.all():
            customers, agg = customers[present], agg[present]
    else:
        require_session_id(log, spec, what="compute_aggregates")
        customers, agg = _duckdb_aggregates(log, spec, threads)
    if len(customers) == 0:
        raise EmptyLogError(
            f"no events inside the window [{_fmt_us(spec.start_us)}, {_fmt_us(spec.end_us)}) "
            f"(the log spans {log[TIMESTAMP].min()} to {log[TIMESTAMP].max()}). Widen the "
            f"window or pass another log."
        )
    return customers, agg


def _duckdb_aggregates(
    log: pd.DataFrame, spec: FeatureSpec, threads: int | None
) -> tuple[pd.Index, np.ndarray]:
    customers, frame = _encode(log, spec)
    if len(frame) == 0:
        return customers, np.zeros((0, len(spec.aggregate_names)), dtype=np.int64)
    con = _connect(threads)
    try:
        con.register("ev", frame)
        res = con.execute(_sql(spec)).fetchnumpy()
    finally:
        con.close()
    cols = _result_columns(spec)
    agg = np.empty((len(customers), len(cols)), dtype=np.int64)
    for i, name in enumerate(cols):
        agg[:, i] = np.asarray(res[name], dtype=np.int64)
    if not np.array_equal(res["c"], np.arange(len(customers))):
        raise RuntimeError("internal error: aggregate rows do not match customers")
    return customers, agg


def _fmt_us(us: int | None) -> str:
    return "-inf" if us is None else str(pd.Timestamp(us, unit="us", tz="UTC"))


# ---------------------------------------------------------------------------------------------
# the transformer
# ---------------------------------------------------------------------------------------------
def _to_td_us(value: Any, name: str) -> int:
    td = check_duration(value, name, examples="'30min', '48h' or '90D'")
    return int(td // pd.Timedelta(microseconds=1))


def _names(value: Any, name: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    try:
        out = tuple(value)
    except TypeError as exc:
        raise ConfigError(f"{name} must be a list of activity names, got {value!r}.") from exc
    if not all(isinstance(v, str) for v in out):
        raise ConfigError(f"{name} must hold activity names (str), got {value!r}.")
    return out


def _present(
    names: tuple[str, ...], activities: tuple[str, ...], role: str, *, explicit: bool
) -> tuple[str, ...]:
    """Role activities present in the log. A name the caller gave explicitly that is absent but
    close to a present one is a typo (:class:`UnknownActivityError`); other absent names only
    give zero features (logged)."""
    out = []
    for n in names:
        if n in activities:
            out.append(n)
            continue
        hint = did_you_mean(n, activities)
        if explicit and hint:
            raise UnknownActivityError(
                f"{role}: activity {n!r} is not in the log.{hint} Available activities: "
                f"{list(activities)}."
            )
        logger.info("%s: activity %r is not in the log; its features are 0", role, n)
    return tuple(out)


_ROLE_DEFAULTS: dict[str, tuple[str, ...]] = {
    "purchase_activities": ("purchase",),
    "cart_activities": ("add_to_cart",),
    "browse_activities": ("view_product",),
    "return_activities": ("return_product",),
    "support_activities": ("contact_support", "track_order"),
    "promotion_activities": ("view_promotions",),
    "research_activities": ("read_reviews",),
}


def _priors(
    n_journeys: int, touches: list[tuple[int, int, int]]
) -> tuple[float, tuple[float, ...]]:
    """Overall and per-journey response rates from (journey code, touches, responded) rows
    (journey code -1 = a touch outside the vocabulary: counted in the overall rate only)."""
    n_all = sum(n for _, n, _ in touches)
    r_all = sum(r for _, _, r in touches)
    prior = float(r_all / n_all) if n_all else 0.0
    by_j = {int(j): (n, r) for j, n, r in touches}
    jprior = tuple(
        float(by_j[k][1] / by_j[k][0]) if k in by_j and by_j[k][0] else prior
        for k in range(n_journeys)
    )
    return prior, jprior


def _learn_numpy(
    log: pd.DataFrame, spec: FeatureSpec, n_transitions: int, chunk_events: int = CHUNK_EVENTS
) -> tuple[tuple[tuple[str, str], ...], float, tuple[float, ...]]:
    """:meth:`CustomerFeaturizer._learn` with the numpy aggregates' definitions (equal to the
    DuckDB queries, tested): the ``n_transitions`` most frequent in-session pairs (ties by
    activity order) and the response priors."""
    vocab = Vocab.of(spec)
    counts = np.zeros((len(spec.activities),) * 2, dtype=np.int64)
    journeys: list[np.ndarray] = []
    responded: list[np.ndarray] = []
    for frame in customer_slices(log, chunk_events):
        _, ev, _, _ = encode_log(frame, vocab, what="CustomerFeaturizer.fit", unknown_names=False)
        c, j, r = learn_stats(ev, spec, vocab.plan)
        counts += c
        journeys.append(j)
        responded.append(r)
    prev, nxt = np.nonzero(counts)
    n = counts[prev, nxt]
    top = np.lexsort((nxt, prev, -n))[:n_transitions]
    transitions = tuple((spec.activities[prev[i]], spec.activities[nxt[i]]) for i in top)
    jv = np.concatenate(journeys) if journeys else np.zeros(0, dtype=np.int64)
    resp = np.concatenate(responded) if responded else np.zeros(0, dtype=bool)
    rows = []
    for code in np.unique(jv):
        sel = jv == code
        rows.append((int(code), int(sel.sum()), int(resp[sel].sum())))
    prior, jprior = _priors(len(spec.journeys), rows)
    return transitions, prior, jprior


class CustomerFeaturizer(TransformerMixin, BaseEstimator):
    """Behaviour features per customer: activity/channel mix, recency/frequency/value, session
    shape, time-of-day/week habits, transitions, response to outbound touches, returns, support.

    Parameters
    ----------
    start, end : str or Timestamp, optional
        Use only events with ``start <= timestamp < end``.
    window : str or Timedelta, optional
        Window length, e.g. ``"90D"``: with ``end`` (or alone) the window ends at ``end`` (or at
        the last event of the fitted log, inclusive); with ``start`` it starts there. Giving
        ``start``, ``end`` and ``window`` together is an error.
    session_gap : str or Timedelta, default "30min"
        Inactivity that starts a new session when the log has no ``session_id`` (or
        ``use_session_id=False``).
    use_session_id : bool or "auto", default "auto"
        Use the log's ``session_id`` column for sessions ("auto": when it is present at fit).
    response_window : str or Timedelta, default "48h"
        A touch is answered by a response of the same journey within this time.
    touch_activities : list of str, optional
        Outbound touches (sent messages). Default: activities of the log whose name ends in
        ``"_sent"`` or ``"sent"``.
    purchase_activities, cart_activities, browse_activities, return_activities,
    support_activities, promotion_activities, research_activities : list of str
        Activities playing these roles (support: customer-service contacts such as support
        requests and order tracking; promotion: looking at offers; research: reading reviews).
        Names absent from the log give zero features; a name given explicitly that is close
        to a present one raises :class:`UnknownActivityError`.
    n_transitions : int, default 16
        How many of the most frequent in-session transitions ``a -> b`` become features.
    prior_strength : float, default 2.0
        Response rates and the mean order value are shrunk towards the fitted log's by this
        many pseudo-touches / pseudo-purchases (so customers without touches or purchases are
        not a spike at 0).
    engine : {"numpy", "duckdb"}, default "numpy"
        How :meth:`transform` computes the aggregates (see :func:`compute_aggregates`; equal
        results, numpy is several times faster).
    threads : int, optional
        DuckDB threads (default: all cores): ``fit`` (transitions, response rates) and
        ``engine="duckdb"``.

    Attributes
    ----------
    spec_ : FeatureSpec
        Vocabulary, window, ``as_of`` and roles; JSON-serialisable.
    feature_names_in_ : ndarray of str
        Columns of the fitted log.
    n_customers_ : int
        Customers in the fitted log's window.

    Examples
    --------
    >>> from journeymine.datasets import make_journeys
    >>> log = make_journeys(n_customers=200, days=60, random_state=0).events
    >>> fz = CustomerFeaturizer(window="30D").fit(log)
    >>> X = fz.transform(log)
    >>> list(X.columns) == list(fz.get_feature_names_out())
    True
    >>> X.index.is_monotonic_increasing
    True
    """

    def __init__(
        self,
        *,
        start: str | pd.Timestamp | None = None,
        end: str | pd.Timestamp | None = None,
        window: str | pd.Timedelta | None = None,
        session_gap: str | pd.Timedelta = "30min",
        use_session_id: bool | Literal["auto"] = "auto",
        response_window: str | pd.Timedelta = "48h",
        touch_activities: Sequence[str] | None = None,
        purchase_activities: Sequence[str] = ("purchase",),
        cart_activities: Sequence[str] = ("add_to_cart",),
        browse_activities: Sequence[str] = ("view_product",),
        return_activities: Sequence[str] = ("return_product",),
        support_activities: Sequence[str] = ("contact_support", "track_order"),
        promotion_activities: Sequence[str] = ("view_promotions",),
        research_activities: Sequence[str] = ("read_reviews",),
        n_transitions: int = 16,
        prior_strength: float = 2.0,
        engine: Literal["numpy", "duckdb"] = "numpy",
        threads: int | None = None,
    ) -> None:
        self.start = start
        self.end = end
        self.window = window
        self.session_gap = session_gap
        self.use_session_id = use_session_id
        self.response_window = response_window
        self.touch_activities = touch_activities
        self.purchase_activities = purchase_activities
        self.cart_activities = cart_activities
        self.browse_activities = browse_activities
        self.return_activities = return_activities
        self.support_activities = support_activities
        self.promotion_activities = promotion_activities
        self.research_activities = research_activities
        self.n_transitions = n_transitions
        self.prior_strength = prior_strength
        self.engine = engine
        self.threads = threads

    # -- fit ----------------------------------------------------------------------------------
    def _window_us(self, t: np.ndarray) -> tuple[int | None, int | None, int]:
        start = to_micros(self.start, "start")
        end = to_micros(self.end, "end")
        if self.window is not None:
            w = _to_td_us(self.window, "window")
            if start is not None and end is not None:
                raise ConfigError(
                    "give at most two of start, end and window (all three were given)."
                )
            if start is not None:
                end = start + w
            else:
                if end is None:
                    end = int(t.max()) + 1
                start = end - w
        if start is not None and end is not None and start >= end:
            raise ConfigError(f"start ({_fmt_us(start)}) must be before end ({_fmt_us(end)}).")
        inside = np.ones(len(t), dtype=bool)
        if start is not None:
            inside &= t >= start
        if end is not None:
            inside &= t < end
        if not inside.any():
            raise EmptyLogError(
                f"no events inside the window [{_fmt_us(start)}, {_fmt_us(end)}); the log "
                f"spans {_fmt_us(int(t.min()))} to {_fmt_us(int(t.max()))}."
            )
        as_of = end if end is not None else int(t[inside].max())
        return start, end, as_of

    def fit(self, log: pd.DataFrame, y: Any = None) -> CustomerFeaturizer:
        """Learn the vocabulary, roles, top transitions, response priors, window and ``as_of``.

        Parameters
        ----------
        log : DataFrame
            Canonical event log.
        y : ignored

        Returns
        -------
        self
        """
        if self.engine not in ("numpy", "duckdb"):
            raise ConfigError(f"engine must be 'numpy' or 'duckdb', got {self.engine!r}.")
        log = canonical_log(log, what="CustomerFeaturizer.fit")
        if not isinstance(self.n_transitions, int | np.integer) or self.n_transitions < 0:
            raise ConfigError(f"n_transitions must be an integer >= 0, got {self.n_transitions!r}.")
        if not float(self.prior_strength) >= 0:
            raise ConfigError(f"prior_strength must be >= 0, got {self.prior_strength!r}.")
        if self.use_session_id not in (True, False, "auto"):
            raise ConfigError(
                f"use_session_id must be True, False or 'auto', got {self.use_session_id!r}."
            )
        gap = _to_td_us(self.session_gap, "session_gap")
        rw = _to_td_us(self.response_window, "response_window")
        t = timestamps_us(log)
        start, end, as_of = self._window_us(t)
        inside = np.ones(len(t), dtype=bool)
        if start is not None:
            inside &= t >= start
        if end is not None:
            inside &= t < end
        win = log if inside.all() else log.iloc[np.flatnonzero(inside)]

        def vocab(column: str) -> tuple[str, ...]:
            if column not in win.columns:
                return ()
            s = win[column].dropna()
            vals = (
                s.cat.remove_unused_categories().cat.categories
                if isinstance(s.dtype, pd.CategoricalDtype)
                else pd.unique(s)
            )
            return tuple(sorted(str(v) for v in vals))

        activities = vocab(ACTIVITY)
        channels = vocab(CHANNEL)
        journeys = vocab(JOURNEY_ID)
        if self.touch_activities is None:
            touch = tuple(a for a in activities if a.lower().endswith("sent"))
        else:
            touch = _present(
                _names(self.touch_activities, "touch_activities"),
                activities,
                "touch_activities",
                explicit=True,
            )
        roles: dict[str, Any] = {
            role: _present(
                _names(getattr(self, role), role),
                activities,
                role,
                explicit=tuple(getattr(self, role)) != _ROLE_DEFAULTS[role],
            )
            for role in (
                "purchase_activities",
                "cart_activities",
                "browse_activities",
                "return_activities",
                "support_activities",
                "promotion_activities",
                "research_activities",
            )
        }
        use_sid = bool(
            SESSION_ID in log.columns if self.use_session_id == "auto" else self.use_session_id
        )
        if use_sid and SESSION_ID not in log.columns:
            raise ConfigError(
                "use_session_id=True but the log has no 'session_id' column; add one with "
                "jm.sessionize(log) or use use_session_id=False (inactivity gap)."
            )
        base = FeatureSpec(
            activities=activities,
            channels=channels,
            journeys=journeys,
            as_of_us=as_of,
            touch_activities=touch,
            transitions=(),
            start_us=start,
            end_us=end,
            session_gap_us=gap,
            use_session_id=use_sid,
            response_window_us=rw,
            prior_strength=float(self.prior_strength),
            **roles,
        )
        transitions, prior, jprior = self._learn(win, base)
        valued = (
            win[VALUE].to_numpy(dtype=np.float64, na_value=np.nan)[
                win[ACTIVITY].astype(str).isin(roles["purchase_activities"]).to_numpy()
            ]
            if VALUE in win.columns
            else np.array([])
        )
        valued = valued[np.isfinite(valued)]
        value_prior = float(np.mean(valued)) if len(valued) else 0.0
        self.spec_ = dataclasses.replace(
            base,
            transitions=transitions,
            response_prior=prior,
            order_value_prior=value_prior,
            journey_response_prior=jprior,
        )
        self.feature_names_in_ = np.asarray([str(c) for c in log.columns], dtype=object)
        self.n_customers_ = int(win[CUSTOMER_ID].nunique())
        return self

    def _learn(
        self, log: pd.DataFrame, spec: FeatureSpec
    ) -> tuple[tuple[tuple[str, str], ...], float, tuple[float, ...]]:
        """Top in-session transitions and response rates of the fitted log."""
        if self.engine == "numpy":
            return _learn_numpy(log, spec, int(self.n_transitions))
        _, frame = _encode(log, spec)
        con = _connect(self.threads)
        try:
            con.register("ev", frame)
            if spec.use_session_id:
                sess = "CASE WHEN sid >= 0 THEN sid ELSE -1 - pos END"
            else:
                sess = (
                    f"sum(CASE WHEN prev_ts IS NULL OR ts - prev_ts > {spec.session_gap_us} "
                    f"THEN 1 ELSE 0 END) OVER (PARTITION BY c ORDER BY ts, pos "
                    f"ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)"
                )
            n_act = len(spec.activities)
            rows = con.execute(
                f"""
                WITH s0 AS (SELECT c, ts, pos, a, sid,
                        lag(ts) OVER (PARTITION BY c ORDER BY ts, pos) AS prev_ts
                    FROM ev WHERE NOT touch),
                s1 AS (SELECT *, {sess} AS sess FROM s0),
                s2 AS (SELECT a, lag(a) OVER (PARTITION BY c, sess ORDER BY ts, pos) AS prev_a
                    FROM s1)
                SELECT prev_a, a, count(*) AS n FROM s2
                WHERE prev_a IS NOT NULL AND prev_a < {n_act} AND a < {n_act}
                GROUP BY prev_a, a ORDER BY n DESC, prev_a, a LIMIT {int(self.n_transitions)}
                """
            ).fetchall()
            transitions = tuple((spec.activities[p], spec.activities[q]) for p, q, _ in rows)
            resp = con.execute(
                f"""
                WITH t AS (SELECT t.jv, EXISTS (
                    SELECT 1 FROM ev r WHERE NOT r.touch AND r.jraw >= 0 AND r.c = t.c
                      AND r.jraw = t.jraw AND r.ts >= t.ts
                      AND r.ts <= t.ts + {spec.response_window_us}) AS responded
                    FROM ev t WHERE t.touch)
                SELECT jv, count(*) AS n, count(*) FILTER (WHERE responded) AS r
                FROM t GROUP BY jv
                """
            ).fetchall()
        finally:
            con.close()
        prior, jprior = _priors(len(spec.journeys), [(int(j), n, r) for j, n, r in resp])
        return transitions, prior, jprior

    # -- transform ----------------------------------------------------------------------------
    def _spec(self) -> FeatureSpec:
        try:
            check_is_fitted(self, "spec_")
        except Exception as exc:
            raise _JmNotFitted(
                "this CustomerFeaturizer is not fitted yet; call fit(log) first."
            ) from exc
        return self.spec_

    def aggregate(self, log: pd.DataFrame) -> pd.DataFrame:
        """Integer aggregates per customer (index customer_id, sorted; columns
        ``spec_.aggregate_names``). See the module docstring for exact definitions."""
        spec = self._spec()
        customers, agg = compute_aggregates(log, spec, engine=self.engine, threads=self.threads)
        return pd.DataFrame(agg, index=customers, columns=list(spec.aggregate_names))

    def transform(self, log: pd.DataFrame) -> pd.DataFrame:
        """Features per customer with at least one event in the window.

        Parameters
        ----------
        log : DataFrame
            Canonical event log (any row order; customers need not be those seen at fit).

        Returns
        -------
        DataFrame
            Index ``customer_id`` (sorted), columns :meth:`get_feature_names_out`, float64,
            no NaN.
        """
        spec = self._spec()
        customers, agg = compute_aggregates(log, spec, engine=self.engine, threads=self.threads)
        X = features_from_aggregates(agg, spec)
        return pd.DataFrame(X, index=customers, columns=list(spec.feature_names))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Names of the features :meth:`transform` returns."""
        return np.asarray(self._spec().feature_names, dtype=object)

    def set_output(self, *, transform: Any = None) -> CustomerFeaturizer:
        """Output is always a DataFrame; accepted for scikit-learn compatibility."""
        return self
