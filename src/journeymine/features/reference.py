"""The aggregates as one DuckDB query: the readable reference of the numpy aggregates.

The same definitions as :func:`journeymine.features.aggregates.numpy_aggregates` (listed in
:mod:`journeymine.features`), written with window functions; a warehouse port starts here. A
parity test checks the two equal, bit for bit. DuckDB is imported only when a query runs.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from journeymine.features.aggregates import cents as _to_cents
from journeymine.features.encode import _codes, timestamps_us
from journeymine.features.spec import US_PER_DAY, US_PER_HOUR, US_PER_SECOND, FeatureSpec
from journeymine.schema import ACTIVITY, CHANNEL, CUSTOMER_ID, JOURNEY_ID, SESSION_ID, VALUE

__all__ = ["duckdb_aggregates", "duckdb_learn"]


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


def duckdb_aggregates(
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


def duckdb_learn(
    log: pd.DataFrame, spec: FeatureSpec, n_transitions: int, threads: int | None = None
) -> tuple[tuple[tuple[str, str], ...], list[tuple[int, int, int]]]:
    """What the featurizer learns from a log, as DuckDB queries (the reference of
    :func:`journeymine.features.aggregates.learn_stats`).

    Returns the ``n_transitions`` most frequent in-session transitions between vocabulary
    activities (ties by activity order) and, per journey code (-1 = outside the vocabulary),
    ``(code, touches, responded)``.
    """
    _, frame = _encode(log, spec)
    con = _connect(threads)
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
            GROUP BY prev_a, a ORDER BY n DESC, prev_a, a LIMIT {int(n_transitions)}
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
    return transitions, [(int(j), int(n), int(r)) for j, n, r in resp]
