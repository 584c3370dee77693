"""The persona-feature aggregates in plain numpy: one customer or many, no DuckDB.

:func:`numpy_aggregates` re-implements :func:`journeymine.personas.features.compute_aggregates`
(the DuckDB query) on integer-coded arrays, for any number of customers at once (grouped with
sorts, ``bincount`` and ``reduceat``). Every aggregate is an exact integer, so equal inputs give
bit-identical aggregates and, through the shared
:func:`journeymine.personas.features.features_from_aggregates`, bit-identical features. The
definitions are those of the :mod:`journeymine.personas.features` module docstring; a parity test
compares the two implementations on thousands of random customers.

The arrays come from :func:`encode_frame` (a DataFrame) or from the single-customer parser in
:mod:`journeymine.assignment._assign` (a list of dicts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from journeymine.exceptions import ModelError
from journeymine.features.spec import (
    SCALAR_AGGREGATES,
    US_PER_HOUR,
    US_PER_SECOND,
    FeatureSpec,
)

__all__ = ["AggPlan", "Encoded", "cents", "learn_stats", "numpy_aggregates"]


@dataclass
class Encoded:
    """Events of one or more customers as integer codes (input order, window not applied).

    Attributes
    ----------
    cust : ndarray of int64
        Customer code of every event, ``0..n_customers-1``.
    n_customers : int
        Number of customer codes.
    t : ndarray of int64
        Timestamps in microseconds since 1970-01-01 UTC.
    act, ch : ndarray of int32
        Activity / channel codes in ``spec.activities`` / ``spec.channels``; the length of the
        vocabulary stands for ``__other__``.
    jraw : ndarray of int64
        Raw journey id codes (any string, equal strings equal codes), -1 for null.
    jv : ndarray of int32
        Journey codes in ``spec.journeys``, -1 for null or outside the vocabulary.
    cents : ndarray of int64
        ``floor(value * 100 + 0.5)``, 0 where the value is not finite.
    valued : ndarray of bool
        The value is finite.
    sid : ndarray of int64
        Raw session id codes, -1 for null (only used when ``spec.use_session_id``).
    """

    cust: np.ndarray
    n_customers: int
    t: np.ndarray
    act: np.ndarray
    ch: np.ndarray
    jraw: np.ndarray
    jv: np.ndarray
    cents: np.ndarray
    valued: np.ndarray
    sid: np.ndarray


def cents(values: np.ndarray) -> np.ndarray:
    """``floor(v * 100 + 0.5)`` as int64, 0 where ``v`` is not finite (as the featurizer).

    Examples
    --------
    >>> import numpy as np
    >>> from journeymine.features import cents
    >>> cents(np.array([1.005, 2.5, np.nan, -0.004])).tolist()
    [100, 250, 0, 0]
    """
    v = np.asarray(values, dtype=np.float64)
    ok = np.isfinite(v)
    out = np.zeros(len(v), dtype=np.int64)
    out[ok] = np.floor(v[ok] * 100.0 + 0.5).astype(np.int64)
    return out


#: The scalar aggregates this module computes (tests drop one to mimic a newer spec).
_SCALARS = SCALAR_AGGREGATES


class AggPlan:
    """Everything about a spec that does not depend on the events: role lookups, the
    transition table and the output column of every aggregate. Build once per model."""

    def __init__(self, spec: FeatureSpec) -> None:
        self.spec = spec
        names = spec.aggregate_names
        pos = {name: i for i, name in enumerate(names)}
        self.n_act = len(spec.activities) + 1
        self.n_ch = len(spec.channels) + 1
        self.n_j = len(spec.journeys)
        self.n_tr = len(spec.transitions)
        index = {a: i for i, a in enumerate(spec.activities)}

        def role(members: tuple[str, ...]) -> np.ndarray:
            lookup = np.zeros(self.n_act, dtype=bool)
            for name in members:
                if name in index:
                    lookup[index[name]] = True
            return lookup

        self.touch = role(spec.touch_activities)
        self.purchase = role(spec.purchase_activities)
        self.cart = role(spec.cart_activities)
        self.browse = role(spec.browse_activities)
        self.tr_lookup = np.full(self.n_act * self.n_act, -1, dtype=np.int64)
        for k, (x, y) in enumerate(spec.transitions):
            self.tr_lookup[index[x] * self.n_act + index[y]] = k
        chans = (*spec.channels, "__other__")
        covered: list[str] = []

        def cols(keys: list[str]) -> np.ndarray:
            covered.extend(keys)
            return np.asarray([pos[k] for k in keys if k in pos], dtype=np.int64)

        self.c_act = cols([f"act:{a}" for a in (*spec.activities, "__other__")])
        self.c_ch = cols([f"ch:{c}" for c in chans])
        self.c_sch = cols([f"sch:{c}" for c in chans])
        self.c_osch = cols([f"osch:{c}" for c in chans])
        self.c_touch = cols([f"touch:{j}" for j in spec.journeys])
        self.c_resp = cols([f"resp:{j}" for j in spec.journeys])
        self.c_tr = cols([f"tr:{x}>{y}" for x, y in spec.transitions])
        self.c_hour = cols([f"hour:{h:02d}" for h in range(24)])
        self.c_wday = cols([f"wday:{d}" for d in range(7)])
        self.c = {name: pos[name] for name in _SCALARS if name in pos}
        covered.extend(_SCALARS)
        self.missing = [name for name in names if name not in set(covered)]
        self.width = len(names)
        self.has = {
            "sch": len(self.c_sch) == self.n_ch,
            "osch": len(self.c_osch) == self.n_ch,
        }


def _flags_new(a: np.ndarray) -> np.ndarray:
    """True where ``a`` differs from its predecessor (and at position 0)."""
    out = np.empty(len(a), dtype=bool)
    if len(a):
        out[0] = True
        np.not_equal(a[1:], a[:-1], out=out[1:])
    return out


def _counts(keys: np.ndarray, n: int, width: int) -> np.ndarray:
    """Counts of ``keys = group * width + category`` as an (n, width) table."""
    return np.bincount(keys, minlength=n * width).reshape(n, width)


def _count(group: np.ndarray, n: int) -> np.ndarray | int:
    """Number of rows per group (a scalar when there is one group)."""
    return len(group) if n == 1 else np.bincount(group, minlength=n)


def _group_sum(group: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Exact int64 sum of ``values`` per ``group`` (``group`` sorted ascending)."""
    out = np.zeros(n, dtype=np.int64)
    if len(group) == 0:
        return out
    if n == 1:
        out[0] = values.sum(dtype=np.int64)
        return out
    starts = np.flatnonzero(_flags_new(group))
    out[group[starts]] = np.add.reduceat(values.astype(np.int64), starts)
    return out


def _group_last(group: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """The last value of each ``group`` (``group`` sorted ascending), 0 for empty ones."""
    out = np.zeros(n, dtype=np.int64)
    if n == 1:
        if len(group):
            out[0] = values[-1]
    elif len(group):
        ends = np.empty(len(group), dtype=bool)
        ends[-1] = True
        np.not_equal(group[1:], group[:-1], out=ends[:-1])
        out[group[ends]] = values[ends]
    return out


def _time_order(cust: np.ndarray, t: np.ndarray, n: int) -> np.ndarray:
    """Stable order by (customer, time); skips the sort when the events already are in it
    (a validated log is)."""
    if len(t) < 2:
        return np.arange(len(t))
    if n == 1:
        dt = t[1:] >= t[:-1]
        return np.arange(len(t)) if dt.all() else np.argsort(t, kind="stable")
    dc = cust[1:] - cust[:-1]
    if (dc >= 0).all() and ((dc > 0) | (t[1:] >= t[:-1])).all():
        return np.arange(len(t))
    return np.lexsort((t, cust))


def _responded(
    cust: np.ndarray,
    t: np.ndarray,
    jraw: np.ndarray,
    touch: np.ndarray,
    rw: int,
) -> np.ndarray:
    """For every touch: is there a non-touch event of the same customer and raw journey with
    ``t_touch <= t <= t_touch + rw``? Returns a bool array aligned with ``np.flatnonzero(touch)``.
    """
    ti = np.flatnonzero(touch)
    out = np.zeros(len(ti), dtype=bool)
    ri = np.flatnonzero(~touch & (jraw >= 0))
    if len(ti) == 0 or len(ri) == 0:
        return out
    if len(ti) * len(ri) <= 4096:
        # few events (one live customer): compare every touch with every candidate response
        tt, tr_ = t[ti][:, None], t[ri][None, :]
        hit = (
            (cust[ti][:, None] == cust[ri][None, :])
            & (jraw[ti][:, None] == jraw[ri][None, :])
            & (tr_ >= tt)
            & (tr_ <= tt + rw)
        )
        return hit.any(axis=1) & (jraw[ti] >= 0)
    tj = ti[jraw[ti] >= 0]
    if len(tj) == 0:
        return out
    # touches and candidate responses sorted by (customer and raw journey, time), a touch
    # before a response at the same time: a touch is answered iff the next response after it
    # in this order is in its group and within the window
    idx = np.concatenate([tj, ri])
    kind = np.concatenate([np.zeros(len(tj), dtype=np.int8), np.ones(len(ri), dtype=np.int8)])
    width = int(jraw.max()) + 1
    g = cust[idx] * width + jraw[idx]
    tt = t[idx]
    o = np.lexsort((kind, tt, g))
    g, tt, kind, idx = g[o], tt[o], kind[o], idx[o]
    m = len(o)
    nxt = np.where(kind == 1, np.arange(m), m)
    nxt = np.minimum.accumulate(nxt[::-1])[::-1]
    is_t = kind == 0
    j = nxt[is_t]
    jj = np.minimum(j, m - 1)
    hit = (j < m) & (g[jj] == g[is_t]) & (tt[jj] <= tt[is_t] + rw)
    out[np.searchsorted(ti, idx[is_t])] = hit
    return out


def _ordered(ev: Encoded, spec: FeatureSpec, pos: np.ndarray | None) -> tuple[np.ndarray, Any]:
    """Input positions and a ``take(array)`` that puts per-event arrays in (customer, time,
    position) order, keeping only the events inside the spec's window."""
    n = ev.n_customers
    t_all = ev.t
    m_all = len(t_all)
    # one stable sort by (customer, time): ties keep the input order
    if pos is None:
        pos = np.arange(m_all, dtype=np.int64)
        order = _time_order(ev.cust, t_all, n)
    else:
        order = np.lexsort((pos, t_all, ev.cust))
    if spec.start_us is not None or spec.end_us is not None:
        ts = t_all[order]
        keep = np.ones(m_all, dtype=bool)
        if spec.start_us is not None:
            keep &= ts >= spec.start_us
        if spec.end_us is not None:
            keep &= ts < spec.end_us
        order = order[keep]
    identity = len(order) == m_all and (
        m_all == 0 or (order[0] == 0 and order[-1] == m_all - 1 and (np.diff(order) == 1).all())
    )

    def take(a: np.ndarray) -> np.ndarray:
        return a if identity else a[order]  # already in order: no copy

    return pos, take


def _session_key(
    ev: Encoded, spec: FeatureSpec, take: Any, pos: np.ndarray, si: np.ndarray
) -> np.ndarray | None:
    """The key :func:`_group_sessions` groups the session events ``si`` (indices in the order
    of ``take``) by: their session id, or ``-1 - position`` for an event without one; None when
    ``spec`` splits sessions by the gap between events."""
    if not spec.use_session_id:
        return None
    s_sid = take(ev.sid)[si]
    return np.where(s_sid >= 0, s_sid, -1 - take(pos)[si])


def _group_sessions(
    s_c: np.ndarray, s_t: np.ndarray, key: np.ndarray | None, gap_us: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Sessions of time-ordered session events: the new-session flag of every event in
    session-grouped order and the permutation into that order (None = already grouped).
    ``key`` (session id, or ``-1 - position`` without one) groups by id; without it a session
    ends where the gap to the previous event is greater than ``gap_us``."""
    if key is not None:
        # group by (customer, session key), events inside a session in (time, position) order
        g_order = np.lexsort((np.arange(len(s_c)), key, s_c))
        g_new = _flags_new(s_c[g_order]) | _flags_new(key[g_order])
        return g_new, g_order
    g_new = _flags_new(s_c).copy()
    g_new[1:] |= (s_t[1:] - s_t[:-1]) > gap_us
    return g_new, None


def learn_stats(
    ev: Encoded, spec: FeatureSpec, plan: AggPlan | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What :class:`~journeymine.personas.features.CustomerFeaturizer` learns from a log, in
    numpy: in-session transition counts between vocabulary activities (matrix
    ``[previous, next]``) and, per touch, its journey code (-1 none) and whether it got a
    response. Same definitions as the aggregates; the DuckDB reference is checked equal."""
    if plan is None or plan.spec is not spec:
        plan = AggPlan(spec)
    pos, take = _ordered(ev, spec, None)
    cust, t, act = take(ev.cust), take(ev.t), take(ev.act)
    touch = plan.touch[act]
    ti = np.flatnonzero(touch)
    responded = (
        _responded(cust, t, take(ev.jraw), touch, int(spec.response_window_us))
        if len(ti)
        else np.zeros(0, dtype=bool)
    )
    journey = take(ev.jv)[ti]
    si = np.flatnonzero(~touch)
    v = plan.n_act - 1  # vocabulary size (the last code is __other__)
    if len(si) == 0:
        return np.zeros((v, v), dtype=np.int64), journey, responded
    s_c, s_t, s_a = cust[si], t[si], act[si]
    key = _session_key(ev, spec, take, pos, si)
    g_new, g_order = _group_sessions(s_c, s_t, key, spec.session_gap_us)
    e_a = s_a if g_order is None else s_a[g_order]
    same = ~g_new[1:]
    prev, nxt = e_a[:-1][same].astype(np.int64), e_a[1:][same].astype(np.int64)
    ok = (prev < v) & (nxt < v)
    counts = np.bincount(prev[ok] * v + nxt[ok], minlength=v * v).reshape(v, v)
    return counts, journey, responded


def numpy_aggregates(
    ev: Encoded,
    spec: FeatureSpec,
    pos: np.ndarray | None = None,
    plan: AggPlan | None = None,
) -> np.ndarray:
    """Integer aggregates per customer code, columns in ``spec.aggregate_names`` order.

    Parameters
    ----------
    ev : Encoded
        The events (any order; ties in time keep the order of the arrays).
    spec : FeatureSpec
        Vocabulary, roles, session rule, response window and window bounds.
    pos : ndarray of int64, optional
        Input position of each event (default ``arange``): breaks ties in time and keys the
        sessions of events without a ``session_id`` in ``session_id`` mode.
    plan : AggPlan, optional
        ``AggPlan(spec)``, precomputed (a model keeps one).

    Returns
    -------
    ndarray of int64, shape (ev.n_customers, len(spec.aggregate_names))
        A customer code with no event inside the window gets a row of zeros (callers drop it:
        the batch featurizer has no row for such a customer).
    """
    if plan is None or plan.spec is not spec:
        plan = AggPlan(spec)
    if plan.missing:
        raise ModelError(
            f"the numpy aggregates do not know {plan.missing}: the model's feature spec is newer "
            f"than this journeymine. Upgrade journeymine or retrain the model with this version."
        )
    n = ev.n_customers
    C = plan.c
    out = np.zeros((n, plan.width), dtype=np.int64)
    pos, take = _ordered(ev, spec, pos)
    t_all = ev.t

    cust = take(ev.cust)
    t = take(t_all)
    act = take(ev.act)
    ch = take(ev.ch)
    jraw = take(ev.jraw)
    n_act, n_ch = plan.n_act, plan.n_ch

    touch = plan.touch[act]
    purchase = plan.purchase[act]

    n_events = np.bincount(cust, minlength=n) if n > 1 else np.array([len(cust)])
    out[:, C["n_events"]] = n_events
    out[:, plan.c_act] = _counts(cust * n_act + act, n, n_act)
    out[:, plan.c_ch] = _counts(cust * n_ch + ch, n, n_ch)

    # first/last time of any event
    ends = np.cumsum(n_events)
    has = n_events > 0
    first_us = np.zeros(n, dtype=np.int64)
    if has.all():
        first_us[:] = t[ends - n_events]
        out[:, C["last_us"]] = t[ends - 1]
    elif has.any():
        first_us[has] = t[(ends - n_events)[has]]
        out[has, C["last_us"]] = t[ends[has] - 1]
    out[:, C["first_us"]] = first_us

    # value of purchases (any event, touches included, as in the batch featurizer)
    vi = purchase & take(ev.valued)
    if vi.any():
        out[:, C["value_cents"]] = _group_sum(cust[vi], take(ev.cents)[vi], n)
        out[:, C["n_valued_purchases"]] = _count(cust[vi], n)

    # touches and responses
    ti = np.flatnonzero(touch)
    if len(ti):
        resp = _responded(cust, t, jraw, touch, int(spec.response_window_us))
        tc = cust[ti]
        out[:, C["n_touches"]] = _count(tc, n)
        out[:, C["n_responded"]] = _count(tc[resp], n)
        if plan.n_j:
            jt = take(ev.jv)[ti]
            inj = jt >= 0
            out[:, plan.c_touch] = _counts(tc[inj] * plan.n_j + jt[inj], n, plan.n_j)
            both = inj & resp
            out[:, plan.c_resp] = _counts(tc[both] * plan.n_j + jt[both], n, plan.n_j)

    # session events, in (customer, time, position) order
    si = np.flatnonzero(~touch)
    ns = len(si)
    if ns == 0:
        return out
    s_c, s_t, s_a, s_ch, s_j = cust[si], t[si], act[si], ch[si], jraw[si]
    out[:, C["n_session_events"]] = _count(s_c, n)
    out[:, plan.c_sch] = _counts(s_c * n_ch + s_ch, n, n_ch)

    new_cust = _flags_new(s_c)
    key = _session_key(ev, spec, take, pos, si)
    g_new, g_order = _group_sessions(s_c, s_t, key, spec.session_gap_us)
    if g_order is not None:
        e_c, e_t, e_a, e_ch = s_c[g_order], s_t[g_order], s_a[g_order], s_ch[g_order]
    else:
        e_c, e_t, e_a, e_ch = s_c, s_t, s_a, s_ch
    # events grouped by session (contiguous), each session in event order
    sess_start = np.flatnonzero(g_new)
    n_sess = len(sess_start)
    sess = np.cumsum(g_new) - 1
    sess_end = np.empty(n_sess, dtype=np.int64)
    sess_end[:-1] = sess_start[1:] - 1
    sess_end[-1] = ns - 1
    sess_c = e_c[sess_start]
    sess_t0 = e_t[sess_start]
    sess_t1 = e_t[sess_end]
    sess_last_ch = e_ch[sess_end]

    def any_in_session(flag: np.ndarray) -> np.ndarray:
        f = flag if g_order is None else flag[g_order]
        return np.bincount(sess[f], minlength=n_sess) > 0

    has_browse = any_in_session(plan.browse[s_a])
    has_cart = any_in_session(plan.cart[s_a])
    has_purchase = purchase[si]
    has_purchase = any_in_session(has_purchase)
    organic = ~any_in_session(s_j >= 0)

    def per_customer(mask: np.ndarray) -> np.ndarray | int:
        return int(np.count_nonzero(mask)) if n == 1 else np.bincount(sess_c[mask], minlength=n)

    out[:, C["n_sessions"]] = _count(sess_c, n)
    out[:, C["n_single_event_sessions"]] = per_customer(sess_end == sess_start)
    # sessions are grouped by customer, so per-customer sums over them can use reduceat
    out[:, C["session_us"]] = _group_sum(sess_c, sess_t1 - sess_t0, n)
    out[:, C["sessions_browse"]] = per_customer(has_browse)
    out[:, C["sessions_browse_purchase"]] = per_customer(has_browse & has_purchase)
    out[:, C["sessions_cart"]] = per_customer(has_cart)
    out[:, C["sessions_cart_no_purchase"]] = per_customer(has_cart & ~has_purchase)
    out[:, C["sessions_purchase"]] = per_customer(has_purchase)
    org_c = sess_c[organic]
    out[:, C["n_organic_sessions"]] = _count(org_c, n)
    out[:, plan.c_osch] = _counts(org_c * n_ch + sess_last_ch[organic], n, n_ch)
    org_t1 = sess_t1[organic]
    if spec.use_session_id and len(org_c):
        # organic sessions of a customer are not in time order: take the max explicitly
        o = np.lexsort((org_t1, org_c))
        out[:, C["last_organic_us"]] = _group_last(org_c[o], org_t1[o], n)
    else:
        out[:, C["last_organic_us"]] = _group_last(org_c, org_t1, n)
    out[:, C["organic_t_rel_s"]] = _group_sum(
        org_c, (sess_t0[organic] - first_us[org_c]) // US_PER_SECOND, n
    )
    # channel switches between consecutive sessions ordered by their first event
    if g_order is not None:  # session_id mode
        s_order = np.lexsort((g_order[sess_start], sess_c))
        oc, olch = sess_c[s_order], sess_last_ch[s_order]
    else:
        oc, olch = sess_c, sess_last_ch
    switch = (oc[1:] == oc[:-1]) & (olch[1:] != olch[:-1])
    out[:, C["session_channel_switches"]] = _count(oc[1:][switch], n)

    # transitions: consecutive events inside one session
    same = ~g_new[1:]
    pair_c = e_c[1:][same]
    out[:, C["n_transitions"]] = _count(pair_c, n)
    if plan.n_tr:
        tk = plan.tr_lookup[e_a[:-1][same] * n_act + e_a[1:][same]]
        ok = tk >= 0
        out[:, plan.c_tr] = _counts(pair_c[ok] * plan.n_tr + tk[ok], n, plan.n_tr)

    # time of day / week, active days (UTC), on session events
    hours = s_t // US_PER_HOUR  # floor: hours since 1970-01-01 UTC
    if len(hours) and hours.min() > -(2**31) and hours.max() < 2**31 - 24:
        hours = hours.astype(np.int32)  # faster divisions below; exact (the range is checked)
    day = hours // 24
    out[:, plan.c_hour] = _counts(s_c * 24 + (hours - day * 24), n, 24)
    out[:, plan.c_wday] = _counts(s_c * 7 + (day + 3) % 7, n, 7)
    new_day = new_cust | _flags_new(day)
    out[:, C["n_active_days"]] = _count(s_c[new_day], n)
    out[:, C["last_session_us"]] = _group_last(s_c, s_t, n)
    out[:, C["session_t_rel_s"]] = _group_sum(s_c, (s_t - first_us[s_c]) // US_PER_SECOND, n)

    return out
