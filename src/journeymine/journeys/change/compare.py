"""Comparing two slices of a log (periods or segments) on edges, activities, funnel and
durations; see :mod:`journeymine.journeys.change`."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from journeymine.exceptions import (
    ConfigError,
    DataQualityWarning,
    EmptyLogError,
    did_you_mean,
)
from journeymine.journeys.change._log import (
    _SEGMENT,
    _US,
    Segment,
    _activity_codes,
    _check_common,
    _check_metrics,
    _Log,
    _prepare,
    _segment_of_group,
    _session_starts,
    _where,
)
from journeymine.journeys.change._stats import _bh, _cohen_h, _mwu, _ratio, _z_test
from journeymine.schema import to_micros, to_time_range

__all__ = ["compare_periods", "compare_segments"]

logger = logging.getLogger(__name__)

CompareMetric = Literal["edges", "activities", "funnel", "durations"]
Period = tuple[Any, Any]

_COMPARE_METRICS: tuple[str, ...] = ("edges", "activities", "funnel", "durations")


# --- comparing two slices -----------------------------------------------------------------------
def _period(period: Any, name: str) -> tuple[int, int]:
    start, end = (to_micros(t, name) for t in to_time_range(period, name, open_ends=False))
    assert start is not None and end is not None  # both ends are required
    return start, end


def _group_columns(lg: _Log, codes: np.ndarray) -> dict[str, np.ndarray]:
    return {c: lg.groups[c].to_numpy(dtype=object)[codes] for c in lg.groups.columns}


def _rows(
    metric: str,
    cols: Mapping[str, np.ndarray],
    what: np.ndarray,
    source: np.ndarray,
    target: np.ndarray,
    value_a: np.ndarray,
    value_b: np.ndarray,
    n_a: np.ndarray,
    n_b: np.ndarray,
    effect: np.ndarray,
    effect_measure: str,
    test: str,
    p: np.ndarray,
) -> pd.DataFrame:
    value_a = np.asarray(value_a, dtype=float)
    value_b = np.asarray(value_b, dtype=float)
    return pd.DataFrame(
        {
            "metric": metric,
            **cols,
            "what": what,
            "source": source,
            "target": target,
            "value_a": value_a,
            "value_b": value_b,
            "n_a": np.asarray(n_a, dtype=np.int64),
            "n_b": np.asarray(n_b, dtype=np.int64),
            "difference": value_b - value_a,
            "ratio": _ratio(value_b, value_a),
            "effect": np.asarray(effect, dtype=float),
            "effect_measure": effect_measure,
            "test": test,
            "p_value": np.asarray(p, dtype=float),
        }
    )


def _proportion_rows(
    metric: str,
    cols: Mapping[str, np.ndarray],
    what: np.ndarray,
    source: np.ndarray,
    target: np.ndarray,
    a: tuple[np.ndarray, np.ndarray],
    b: tuple[np.ndarray, np.ndarray],
) -> pd.DataFrame:
    """Rows comparing two proportions ``k / n`` (``a`` and ``b`` are ``(k, n)`` as floats):
    the proportions as values, Cohen's h as the effect, a two-proportion z test."""
    (k_a, n_a), (k_b, n_b) = a, b
    p_a, p_b = k_a / n_a, k_b / n_b
    return _rows(
        metric,
        cols,
        what,
        source,
        target,
        p_a,
        p_b,
        n_a,
        n_b,
        _cohen_h(p_b, p_a),
        "cohen_h",
        "two-proportion z",
        _z_test(k_a, n_a, k_b, n_b),
    )


def _compare_edges(lg: _Log, side: np.ndarray, min_support: int) -> pd.DataFrame:
    n_g, n_act = len(lg.groups), len(lg.acts)
    src = np.flatnonzero((lg.nxt >= 0) & (side >= 0))
    key_src = (lg.group * n_act + lg.act)[side >= 0] * 2 + side[side >= 0]
    trials = np.bincount(key_src, minlength=n_g * n_act * 2).reshape(-1, 2)
    ekey = ((lg.group[src] * n_act + lg.act[src]) * n_act + lg.act[lg.nxt[src]]) * 2 + side[src]
    uniq, counts = np.unique(ekey, return_counts=True)
    edge, sd = uniq // 2, uniq % 2
    table = pd.DataFrame({"edge": edge, "side": sd, "k": counts})
    table = table.pivot_table(index="edge", columns="side", values="k", fill_value=0)
    table = table.reindex(columns=[0, 1], fill_value=0)
    keep = (table[0] + table[1]).to_numpy() >= min_support
    table = table[keep]
    e = table.index.to_numpy(dtype=np.int64)
    gs = e // n_act  # group * n_act + source
    g, s, t = gs // n_act, gs % n_act, e % n_act
    k_a, k_b = table[0].to_numpy(dtype=float), table[1].to_numpy(dtype=float)
    n_a, n_b = trials[gs, 0].astype(float), trials[gs, 1].astype(float)
    ok = (n_a > 0) & (n_b > 0)
    g, s, t, k_a, k_b, n_a, n_b = (x[ok] for x in (g, s, t, k_a, k_b, n_a, n_b))
    what = np.array(
        [f"{a} -> {b}" for a, b in zip(lg.acts[s], lg.acts[t], strict=True)], dtype=object
    )
    return _proportion_rows(
        "edges", _group_columns(lg, g), what, lg.acts[s], lg.acts[t], (k_a, n_a), (k_b, n_b)
    )


def _active_counts(lg: _Log, side: np.ndarray) -> dict[tuple[int, int], int]:
    """Active customers per (side, segment code)."""
    on = side >= 0
    key = np.unique(np.stack([side[on], lg.seg[on], lg.cust[on]]), axis=1)
    sides, segs = key[0], key[1]
    out: dict[tuple[int, int], int] = {}
    for sd, sg in zip(sides.tolist(), segs.tolist(), strict=True):
        out[(sd, sg)] = out.get((sd, sg), 0) + 1
    return out


def _compare_activities(lg: _Log, side: np.ndarray, min_support: int) -> pd.DataFrame:
    """Events of each activity per active customer; Mann-Whitney U per activity.

    Counts are not divided by the length of the slice: with per-day rates, slices of unequal
    length would make every customer with one event (a case of a process log) look different.
    """
    on = side >= 0
    n_active = _active_counts(lg, side)
    seg_of_group = _segment_of_group(lg)
    counts = (
        pd.DataFrame(
            {"group": lg.group[on], "act": lg.act[on], "side": side[on], "cust": lg.cust[on]}
        )
        .value_counts(sort=False)
        .rename("k")
        .reset_index()
        .sort_values(["group", "act", "side", "cust"], kind="stable")
    )
    key = counts["group"].to_numpy() * len(lg.acts) + counts["act"].to_numpy()
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.array([], int)
    ks = counts["k"].to_numpy(dtype=float)
    sides = counts["side"].to_numpy()
    out = []
    for lo, hi in zip(starts, np.r_[starts[1:], len(key)], strict=True):
        if ks[lo:hi].sum() < min_support:
            continue
        g, a = int(key[lo] // len(lg.acts)), int(key[lo] % len(lg.acts))
        seg = int(seg_of_group[g])
        rates = []
        for sd in (0, 1):
            nz = ks[lo:hi][sides[lo:hi] == sd]
            n_zero = n_active.get((sd, seg), 0) - len(nz)
            rates.append(np.r_[nz, np.zeros(max(n_zero, 0))])
        if len(rates[0]) == 0 or len(rates[1]) == 0:
            continue
        p, rb = _mwu(rates[0], rates[1])
        out.append((g, a, rates[0].mean(), rates[1].mean(), len(rates[0]), len(rates[1]), rb, p))
    if not out:
        return pd.DataFrame()
    cols = [np.array(x) for x in zip(*out, strict=True)]
    names = lg.acts[cols[1].astype(np.int64)]
    return _rows(
        "activities",
        _group_columns(lg, cols[0].astype(np.int64)),
        names,
        names,
        np.full(len(names), None, dtype=object),
        cols[2],
        cols[3],
        cols[4],
        cols[5],
        cols[6],
        "rank_biserial",
        "Mann-Whitney U",
        cols[7],
    )


def _funnel_reach(lg: _Log, on: np.ndarray, codes: Sequence[int]) -> list[np.ndarray]:
    """For each step, the customers who reached it in order (steps after the previous one)."""
    pos = np.arange(len(lg.cust))
    reach = pd.Series(np.full(0, 0, dtype=np.int64), index=pd.Index([], dtype=np.int64))
    out = []
    for k, c in enumerate(codes):
        m = on & (lg.act == c)
        ev = pd.Series(pos[m], index=lg.cust[m])
        if k > 0:
            prev = reach.reindex(ev.index).to_numpy(dtype=float)
            ev = ev[ev.to_numpy() > np.nan_to_num(prev, nan=np.inf)]
        reach = ev.groupby(level=0).min()
        out.append(reach.index.to_numpy())
    return out


def _compare_funnel(
    lg: _Log, side: np.ndarray, steps: Sequence[str], by_cols: Sequence[str]
) -> pd.DataFrame:
    """Ordered funnel per customer (any channel): step-to-step and overall conversion."""
    if len(steps) < 2:
        raise ConfigError(f"a funnel needs at least two steps, got {list(steps)}.")
    codes = _activity_codes(lg, steps, "funnel")
    seg_names = (
        pd.Series(lg.groups[_SEGMENT].to_numpy(dtype=object)[lg.group]).groupby(lg.seg).first()
        if _SEGMENT in lg.groups.columns
        else pd.Series(["all"], index=[0])
    )
    pairs = [(i, i + 1) for i in range(len(codes) - 1)]
    if len(codes) > 2:
        pairs.append((0, len(codes) - 1))
    n: dict[int, np.ndarray] = {}  # side -> (segment, step) customers reaching
    for sd in (0, 1):
        on = side == sd
        seg_of = pd.Series(lg.seg[on], index=lg.cust[on]).groupby(level=0).first()
        reached = _funnel_reach(lg, on, codes)
        n[sd] = np.array(
            [
                np.bincount(seg_of.reindex(r).to_numpy(dtype=np.int64), minlength=len(seg_names))
                for r in reached
            ]
        ).T
    rows = []
    for s in range(len(seg_names)):
        for i, j in pairs:
            rows.append((s, i, j, n[0][s, j], n[0][s, i], n[1][s, j], n[1][s, i]))
    s_arr, i_arr, j_arr, k_a, n_a, k_b, n_b = (np.array(x) for x in zip(*rows, strict=True))
    keep = (n_a > 0) & (n_b > 0)
    s_arr, i_arr, j_arr, k_a, n_a, k_b, n_b = (
        x[keep] for x in (s_arr, i_arr, j_arr, k_a, n_a, k_b, n_b)
    )
    k_a, n_a, k_b, n_b = (x.astype(float) for x in (k_a, n_a, k_b, n_b))
    cols: dict[str, np.ndarray] = {c: np.full(len(s_arr), None, dtype=object) for c in by_cols}
    if _SEGMENT in lg.groups.columns:
        cols[_SEGMENT] = seg_names.to_numpy(dtype=object)[s_arr]
    step = np.asarray(steps, dtype=object)
    overall = (j_arr - i_arr) > 1
    what = np.array(
        [
            f"{a} => {b}" + (" (overall)" if o else "")
            for a, b, o in zip(step[i_arr], step[j_arr], overall, strict=True)
        ],
        dtype=object,
    )
    return _proportion_rows("funnel", cols, what, step[i_arr], step[j_arr], (k_a, n_a), (k_b, n_b))


def _compare_durations(lg: _Log, side: np.ndarray, min_support: int) -> pd.DataFrame:
    """Session durations (seconds from first to last event) per group; Mann-Whitney U."""
    first, end = _session_starts(lg)
    last = end - 1
    dur = (lg.ts[last] - lg.ts[first]) / _US
    g, sd = lg.group[first], side[first]
    out = []
    for code in np.unique(g[sd >= 0]):
        a = dur[(g == code) & (sd == 0)]
        b = dur[(g == code) & (sd == 1)]
        if len(a) + len(b) < min_support or not len(a) or not len(b):
            continue
        p, rb = _mwu(a, b)
        out.append((code, np.median(a), np.median(b), len(a), len(b), rb, p))
    if not out:
        return pd.DataFrame()
    cols = [np.array(x) for x in zip(*out, strict=True)]
    n_rows = len(cols[0])
    return _rows(
        "durations",
        _group_columns(lg, cols[0].astype(np.int64)),
        np.full(n_rows, "session duration (s)", dtype=object),
        np.full(n_rows, None, dtype=object),
        np.full(n_rows, None, dtype=object),
        cols[1],
        cols[2],
        cols[3],
        cols[4],
        cols[5],
        "rank_biserial",
        "Mann-Whitney U",
        cols[6],
    )


def _compare(
    lg: _Log,
    side: np.ndarray,
    *,
    metrics: tuple[str, ...],
    funnel: Sequence[str] | None,
    by_cols: Sequence[str],
    min_support: int,
    alpha: float,
) -> pd.DataFrame:
    if not (side == 0).any() or not (side == 1).any():
        which = "a" if not (side == 0).any() else "b"
        raise EmptyLogError(
            f"slice {which} has no events; check the periods/segments against the log's range."
        )
    parts = []
    for metric in metrics:
        if metric == "edges":
            parts.append(_compare_edges(lg, side, min_support))
        elif metric == "activities":
            parts.append(_compare_activities(lg, side, min_support))
        elif metric == "funnel":
            if funnel is None:
                logger.info("metric 'funnel' skipped: no funnel steps given (funnel=[...])")
                continue
            parts.append(_compare_funnel(lg, side, funnel, by_cols))
        else:
            parts.append(_compare_durations(lg, side, min_support))
    parts = [p for p in parts if len(p)]
    columns = [
        "metric",
        "where",
        *lg.groups.columns,
        "what",
        "source",
        "target",
        "value_a",
        "value_b",
        "n_a",
        "n_b",
        "difference",
        "ratio",
        "effect",
        "effect_measure",
        "test",
        "p_value",
        "q_value",
        "significant",
    ]
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)
    out["where"] = _where(out, list(lg.groups.columns))
    out["q_value"] = _bh(out["p_value"].to_numpy())
    out["significant"] = out["q_value"].to_numpy() <= alpha
    order = np.lexsort((-np.abs(out["effect"].fillna(0).to_numpy()), out["q_value"].to_numpy()))
    out = out.iloc[order].reset_index(drop=True)
    for col in ("metric", "where", "what", "effect_measure", "test"):
        out[col] = out[col].astype("str")
    return out[columns]


def compare_periods(
    log: pd.DataFrame,
    period_a: Period,
    period_b: Period,
    *,
    metrics: Sequence[CompareMetric] = ("edges", "activities", "funnel", "durations"),
    by: Sequence[str] | None = None,
    segment: Segment | None = None,
    funnel: Sequence[str] | None = None,
    min_support: int = 30,
    alpha: float = 0.05,
    session_gap: str | pd.Timedelta = "30min",
) -> pd.DataFrame:
    """Compare two periods of a log: what differs, where, by how much and how sure.

    Parameters
    ----------
    log : DataFrame
        Canonical log (need not be sorted).
    period_a, period_b : (start, end)
        Time ranges, start inclusive, end exclusive (strings or timestamps; naive = UTC). An
        event belongs to a period by its timestamp, an edge or a session by its first event; a
        funnel counts the steps made inside the period. Give periods of equal length when
        comparing ``"activities"`` (counts per customer grow with the length).
    metrics : list of {"edges", "activities", "funnel", "durations"}
        What to compare (see the module docstring for definitions and tests). ``"funnel"``
        needs ``funnel`` steps and is skipped (logged) without them.
    by : list of str, optional
        Columns whose values split edges, activities and durations (the funnel runs across
        them). ``()`` for the whole log. Default: ``("channel",)`` when the log has a
        ``channel`` column, else the whole log (said in the log).
    segment : str or mapping, optional
        A column or a mapping customer -> segment: every comparison is made per segment.
    funnel : list of str, optional
        Ordered funnel steps, e.g. ``["view_product", "add_to_cart", "checkout", "purchase"]``.
    min_support : int, default 30
        Compare an edge, activity or duration only with at least this many events (edges:
        transitions; durations: sessions) over both periods.
    alpha : float, default 0.05
        False discovery rate for ``significant`` (Benjamini-Hochberg over all rows).
    session_gap : str or Timedelta, default "30min"
        Sessions (for edges and durations) split after this much inactivity or a change of
        channel; an existing ``session_id`` column is used as is.

    Returns
    -------
    DataFrame
        One row per comparison: ``metric``, ``where`` (the ``by`` values and segment joined
        by " / ", e.g. ``"app"``; ``"all"`` without them), the ``by`` columns (and
        ``segment``), ``what``
        (``"a -> b"`` for an edge, the activity, ``"a => b"`` for a funnel step), ``source``,
        ``target``, ``value_a``, ``value_b``, ``n_a``, ``n_b``, ``difference`` (b - a),
        ``ratio`` (b / a), ``effect`` and ``effect_measure`` (Cohen's h for proportions,
        rank-biserial correlation for rates and durations; positive when b is larger),
        ``test``, ``p_value``, ``q_value``, ``significant``. Sorted by q-value.

    Raises
    ------
    ConfigError
        A period, metric or threshold is invalid.
    EmptyLogError
        A period holds no event.

    Warns
    -----
    DataQualityWarning
        ``"activities"`` is compared over periods whose lengths differ by more than 1%.
    UnknownActivityError
        A funnel step is absent from the log.

    Examples
    --------
    >>> from journeymine.datasets import make_journeys
    >>> data = make_journeys(n_customers=200, days=60, random_state=0)
    >>> res = compare_periods(data.events, ("2025-01-01", "2025-01-21"),
    ...                       ("2025-01-21", "2025-02-10"), metrics=["edges"])
    >>> list(res.columns[:5])
    ['metric', 'where', 'channel', 'what', 'source']
    >>> bool(res["q_value"].between(0, 1).all())
    True
    """
    _check_common(min_support, alpha)
    metrics_t = _check_metrics(metrics, _COMPARE_METRICS)
    a0, a1 = _period(period_a, "period_a")
    b0, b1 = _period(period_b, "period_b")
    lg = _prepare(log, by=by, segment=segment, session_gap=session_gap, purpose="compare_periods")
    side = np.full(len(lg.ts), -1, dtype=np.int64)
    side[(lg.ts >= a0) & (lg.ts < a1)] = 0
    side[(lg.ts >= b0) & (lg.ts < b1)] = 1
    if ((lg.ts >= a0) & (lg.ts < a1) & (side == 1)).any():
        raise ConfigError(
            f"period_a {period_a!r} and period_b {period_b!r} overlap; compare disjoint periods."
        )
    if "activities" in metrics_t and abs((a1 - a0) - (b1 - b0)) > 0.01 * max(a1 - a0, b1 - b0):
        warnings.warn(
            f"period_a lasts {(a1 - a0) / 86_400e6:.1f} days and period_b "
            f"{(b1 - b0) / 86_400e6:.1f}: 'activities' compares events per active customer over "
            f"each period, so the longer period tends to count more. Compare periods of equal "
            f"length, or leave 'activities' out of metrics.",
            DataQualityWarning,
            stacklevel=2,
        )
    return _compare(
        lg,
        side,
        metrics=metrics_t,
        funnel=funnel,
        by_cols=lg.by,
        min_support=min_support,
        alpha=alpha,
    )


def compare_segments(
    log: pd.DataFrame,
    segment: Segment,
    segment_a: Any,
    segment_b: Any,
    *,
    period: Period | None = None,
    metrics: Sequence[CompareMetric] = ("edges", "activities", "funnel", "durations"),
    by: Sequence[str] | None = None,
    funnel: Sequence[str] | None = None,
    min_support: int = 30,
    alpha: float = 0.05,
    session_gap: str | pd.Timedelta = "30min",
) -> pd.DataFrame:
    """Compare two segments of customers on the same metrics as :func:`compare_periods`.

    Both segments are compared over the same time (``period``, or the whole log), so
    ``"activities"`` compares like with like without the equal-length care periods need.
    Segment values are matched as text: ``2`` selects the segment ``"2"``.

    Parameters
    ----------
    log : DataFrame
        Canonical log.
    segment : str or mapping
        A column of the log or a mapping customer -> segment.
    segment_a, segment_b
        The two segment values to compare (``value_a`` belongs to ``segment_a``).
    period : (start, end), optional
        Restrict both to this time range (end exclusive); default the whole log.
    metrics, by, funnel, min_support, alpha, session_gap
        As in :func:`compare_periods`.

    Returns
    -------
    DataFrame
        As :func:`compare_periods` (without a ``segment`` column).

    Raises
    ------
    ConfigError
        ``segment_a`` or ``segment_b`` is not a segment of the log (with did-you-mean), both
        are the same segment, or a metric, period or threshold is invalid.
    EmptyLogError
        A segment holds no event (within ``period``).

    Examples
    --------
    >>> from journeymine.datasets import make_journeys
    >>> data = make_journeys(n_customers=300, days=60, random_state=0)
    >>> persona = data.customers.set_index("customer_id")["persona"]
    >>> res = compare_segments(data.events, persona, "loyal_app_buyer", "researcher",
    ...                        metrics=["activities"], by=[])
    >>> row = res[res["what"] == "read_reviews"].iloc[0]
    >>> bool(row["value_b"] > row["value_a"]), bool(row["significant"])
    (True, True)
    """
    _check_common(min_support, alpha)
    metrics_t = _check_metrics(metrics, _COMPARE_METRICS)
    lg = _prepare(log, by=by, segment=segment, session_gap=session_gap, purpose="compare_segments")
    names = lg.groups[_SEGMENT].to_numpy(dtype=object)[lg.group]
    known = sorted(set(names.tolist()))
    for name, value in (("segment_a", segment_a), ("segment_b", segment_b)):
        if str(value) not in known:
            raise ConfigError(
                f"{name}={value!r} is not a segment of the log.{did_you_mean(str(value), known)}"
                f" Segments: {known[:20]}."
            )
    if str(segment_a) == str(segment_b):
        raise ConfigError("segment_a and segment_b are the same segment.")
    side = np.full(len(lg.ts), -1, dtype=np.int64)
    side[names == str(segment_a)] = 0
    side[names == str(segment_b)] = 1
    if period is not None:
        p0, p1 = _period(period, "period")
        side[(lg.ts < p0) | (lg.ts >= p1)] = -1
    # compare across segments: drop the segment from the groups
    by_cols = lg.by
    if by_cols:
        frame = lg.groups[list(by_cols)]
        merged = frame.groupby(list(by_cols), sort=True, observed=True).ngroup().to_numpy()
        new_groups = frame.drop_duplicates().sort_values(list(by_cols)).reset_index(drop=True)
        lg.group = merged[lg.group]
        lg.groups = new_groups
    else:
        lg.group = np.zeros_like(lg.group)
        lg.groups = pd.DataFrame(index=[0])
    lg.seg = np.zeros_like(lg.seg)
    return _compare(
        lg,
        side,
        metrics=metrics_t,
        funnel=funnel,
        by_cols=by_cols,
        min_support=min_support,
        alpha=alpha,
    )
