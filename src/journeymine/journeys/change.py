"""What changed, where, when and how sure: comparing periods or segments, and scanning for
incidents over time.

:func:`compare_periods` and :func:`compare_segments` compare two slices of a log on
the same metrics:

=========== ================================================ ===================== ============
metric      value                                            test                  effect
=========== ================================================ ===================== ============
edges       P(target | source): share of ``source`` events    two-proportion z-test Cohen's h
            directly followed by ``target`` in the session
activities  events of the activity per active customer         Mann-Whitney U on     rank-biserial
            (active: any event in the slice)                  per-customer counts   correlation
funnel      share of customers reaching a step who then       two-proportion z-test Cohen's h
            reach the next one (any channel, in order)
durations   session duration (first to last event), median    Mann-Whitney U        rank-biserial
=========== ================================================ ===================== ============

Every comparison is tested and the p-values of one call are corrected together with
Benjamini-Hochberg (``q_value``).

:func:`detect_changes` scans the log over time. For every channel (every ``by`` group, and
segment) it builds a series per time bin of

- **edges**: successes = ``source -> target`` transitions, trials = ``source`` events
  (binomial), for the frequent edges;
- **conversions**: sessions with ``a`` in which ``b`` follows, out of sessions with ``a``
  (binomial), for the pairs given;
- **volumes**: events of an activity (Poisson) per customer active in the bin (any channel;
  an event tagged with a ``journey_id``, such as an outbound e-mail, does not make its
  customer active).

On each series it finds the interval of bins whose rate departs most from the rest of the
series (the maximum likelihood ratio over all intervals, an "epidemic" change-point scan),
keeping only departures that matter (Cohen's h >= ``min_effect``, rate ratio >= ``min_ratio``),
last at least ``min_duration`` and are consistent (most of their bins depart on their own, so
that one extreme bin cannot make a long interval look changed) and depart and return (the
bins just before and after are not changed the same way). The evidence is the
likelihood-ratio deviance (without the interval's most extreme bin) divided by the series'
overdispersion (Pearson chi-square of the baseline bins), and the p-value is
Bonferroni-corrected for the number of intervals scanned; detections are then found again on
the rest of the series (up to ``max_changes``), adjacent detections of the same direction are
merged, and Benjamini-Hochberg corrects over all series. Detections on the same channel
(``by`` group) that overlap in time are grouped into one ``incident``, ranked by evidence.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from journeymine import schema
from journeymine.exceptions import (
    ConfigError,
    DataQualityWarning,
    EmptyLogError,
    EventLogError,
    MissingColumnError,
    did_you_mean,
)
from journeymine.journeys._common import check_int, to_micros
from journeymine.journeys.conformance import _check_log, _segment_labels, _timedelta

__all__ = ["compare_periods", "compare_segments", "detect_changes"]

logger = logging.getLogger(__name__)

CompareMetric = Literal["edges", "activities", "funnel", "durations"]
ChangeMetric = Literal["edges", "conversions", "volumes"]
Period = tuple[Any, Any]
Segment: TypeAlias = str | Mapping[Any, Any] | pd.Series

_COMPARE_METRICS: tuple[str, ...] = ("edges", "activities", "funnel", "durations")
_CHANGE_METRICS: tuple[str, ...] = ("edges", "conversions", "volumes")
_SEGMENT = "segment"
_US = 1_000_000


# --- preparing the log --------------------------------------------------------------------------
@dataclass
class _Log:
    """A sorted, integer-coded view of a log (internal)."""

    ts: np.ndarray  # int64 microseconds since epoch, sorted within customer
    cust: np.ndarray  # customer code
    act: np.ndarray  # activity code
    acts: np.ndarray  # activity names by code
    group: np.ndarray  # code of the (by..., segment) group of each event
    groups: pd.DataFrame  # one row per group code
    seg: np.ndarray  # segment code of each event (0 without segment)
    nxt: np.ndarray  # position of the next event in the same session, -1 at a session end
    session: np.ndarray  # session number of each event
    initiated: np.ndarray  # True unless the event is tagged with a journey_id (a CRM touch)


def _names(values: Any, what: str) -> tuple[str, ...]:
    if isinstance(values, str):
        return (values,)
    if not isinstance(values, Sequence) or not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{what} must be a list of names, got {values!r}.")
    return tuple(values)


def _check_metrics(metrics: Any, allowed: tuple[str, ...]) -> tuple[str, ...]:
    names = _names(metrics, "metrics")
    if not names:
        raise ConfigError(f"metrics is empty; choose among {list(allowed)}.")
    for m in names:
        if m not in allowed:
            raise ConfigError(
                f"unknown metric {m!r}.{did_you_mean(m, allowed)} Allowed: {list(allowed)}."
            )
    return tuple(dict.fromkeys(names))


def _prepare(
    log: pd.DataFrame,
    *,
    by: Sequence[str],
    segment: Segment | None,
    session_gap: str | pd.Timedelta,
    purpose: str,
) -> _Log:
    _check_log(log, purpose)
    by = _names(by, "by")
    if _SEGMENT in by:
        raise ConfigError(f"{_SEGMENT!r} cannot be a by column; pass segment=... instead.")
    missing = [c for c in by if c not in log.columns]
    if missing:
        available = [str(c) for c in log.columns]
        hints = "".join(did_you_mean(c, available) for c in missing)
        raise MissingColumnError(
            f"{purpose}(by={list(by)}): the log has no column {', '.join(map(repr, missing))}."
            f"{hints} Available columns: {available}. Pass by=() to analyse the log as a "
            f"whole (a process log often has no channel), or name existing columns."
        )
    for col in by:
        if log[col].isna().any():
            raise EventLogError(
                f"by column {col!r} has {int(log[col].isna().sum())} nulls; fill them or "
                f"filter the log (jm.validate(log, drop_invalid=True) drops null channels)."
            )
    gap_us = int(_timedelta(session_gap, "session_gap").value // 1000)
    n = len(log)
    cust, _ = _codes(log[schema.CUSTOMER_ID], sort=False)
    ts = log[schema.TIMESTAMP].to_numpy(dtype="datetime64[us]").view("int64")
    order = np.lexsort((np.arange(n), ts, cust))
    ts, cust = ts[order], cust[order]
    act, acts = _codes(log[schema.ACTIVITY], sort=True)
    act = act[order]
    parts: list[tuple[str, np.ndarray, np.ndarray]] = []
    for col in by:
        codes, names = _codes(log[col], sort=True)
        parts.append((col, codes[order], names))
    seg = np.zeros(n, dtype=np.int64)
    if segment is not None:
        codes, names = _codes(_segment_labels(log, segment), sort=True)
        seg = codes[order]
        parts.append((_SEGMENT, seg, names))
    if parts:
        combined = np.zeros(n, dtype=np.int64)
        for _, codes, names in parts:
            combined = combined * max(len(names), 1) + codes
        space = int(np.prod([max(len(names), 1) for _, _, names in parts]))
        if space <= 50_000_000:
            present = np.bincount(combined, minlength=space) > 0
            uniq = np.flatnonzero(present)
            group = (np.cumsum(present) - 1)[combined]
        else:
            uniq, group = np.unique(combined, return_inverse=True)
        decoded = {}
        rest = uniq.copy()
        for col, _, names in reversed(parts):
            decoded[col] = names[rest % max(len(names), 1)]
            rest //= max(len(names), 1)
        groups = pd.DataFrame({col: pd.Series(decoded[col], dtype="str") for col, _, _ in parts})
        group = group.astype(np.int64)
    else:
        group = np.zeros(n, dtype=np.int64)
        groups = pd.DataFrame(index=[0])
    new = np.ones(n, dtype=bool)
    if n > 1:
        split = (cust[1:] != cust[:-1]) | ((ts[1:] - ts[:-1]) > gap_us)
        if schema.SESSION_ID in log.columns:
            sid = _codes(log[schema.SESSION_ID], sort=False)[0][order]
            split |= sid[1:] != sid[:-1]
        elif schema.CHANNEL in log.columns:
            ch = _codes(log[schema.CHANNEL], sort=False)[0][order]
            split |= ch[1:] != ch[:-1]
        new[1:] = split
    nxt = np.full(n, -1, dtype=np.int64)
    if n > 1:
        cont = ~new[1:]
        nxt[:-1][cont] = np.flatnonzero(cont) + 1
    return _Log(
        ts=ts,
        cust=cust,
        act=act,
        acts=acts,
        group=group,
        groups=groups,
        seg=seg,
        nxt=nxt,
        session=np.cumsum(new) - 1,
        initiated=(
            log[schema.JOURNEY_ID].isna().to_numpy(dtype=bool)[order]
            if schema.JOURNEY_ID in log.columns
            else np.ones(n, dtype=bool)
        ),
    )


def _codes(values: pd.Series, *, sort: bool) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (int64) and the names (str, object array) of a column without nulls.

    Categories keep their order (independent of the row order); other values are sorted when
    ``sort`` (only the distinct values are sorted)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = values.cat.categories
        names = np.asarray([str(c) for c in cats], dtype=object)
        if len(set(names.tolist())) == len(names):
            return values.cat.codes.to_numpy(dtype=np.int64), names
        values = values.astype("str")
    codes, uniq = pd.factorize(values, sort=sort)
    names = np.asarray([str(u) for u in np.asarray(uniq, dtype=object)], dtype=object)
    return codes.astype(np.int64), names


def _activity_codes(lg: _Log, names: Sequence[str], what: str) -> list[int]:
    from journeymine.exceptions import UnknownActivityError

    index = {a: i for i, a in enumerate(lg.acts.tolist())}
    missing = [a for a in names if a not in index]
    if missing:
        parts = " ".join(f"{a!r} is not in the log.{did_you_mean(a, index)}" for a in missing)
        raise UnknownActivityError(
            f"{what} names activities absent from the log: {parts} Log activities: {sorted(index)}."
        )
    return [index[a] for a in names]


# --- statistics ---------------------------------------------------------------------------------
def _cohen_h(p_new: np.ndarray, p_old: np.ndarray) -> np.ndarray:
    """Cohen's h = 2 asin(sqrt(p_new)) - 2 asin(sqrt(p_old))."""
    return 2 * np.arcsin(np.sqrt(np.clip(p_new, 0, 1))) - 2 * np.arcsin(
        np.sqrt(np.clip(p_old, 0, 1))
    )


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.where(a > 0, np.inf, np.nan))


def _z_test(k_a: np.ndarray, n_a: np.ndarray, k_b: np.ndarray, n_b: np.ndarray) -> np.ndarray:
    """Two-sided pooled two-proportion z-test p-values (1.0 where undefined)."""
    p = (k_a + k_b) / np.maximum(n_a + n_b, 1)
    se = np.sqrt(p * (1 - p) * (1 / np.maximum(n_a, 1) + 1 / np.maximum(n_b, 1)))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (k_b / np.maximum(n_b, 1) - k_a / np.maximum(n_a, 1)) / se
    from scipy import special  # imported on use: scipy is slow to import

    out = special.erfc(np.abs(z) / np.sqrt(2.0))  # two-sided normal tail
    return np.where((se > 0) & np.isfinite(out), out, 1.0)


def _bh(p: np.ndarray) -> np.ndarray:
    if len(p) == 0:
        return np.asarray(p, dtype=float)
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    order = np.argsort(p, kind="stable")
    ranked = p[order] * len(p) / np.arange(1, len(p) + 1)
    q = np.empty_like(p)
    q[order] = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
    return q


def _mwu(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mann-Whitney U p-value and rank-biserial correlation (positive when ``b`` is larger)."""
    if len(a) == 0 or len(b) == 0:
        return 1.0, float("nan")
    if np.ptp(np.r_[a, b]) == 0:
        return 1.0, 0.0
    from scipy import stats

    res = stats.mannwhitneyu(b, a, alternative="two-sided", method="asymptotic")
    return float(res.pvalue), float(2 * res.statistic / (len(a) * len(b)) - 1)


# --- comparing two slices -----------------------------------------------------------------------
def _timestamp(value: Any, name: str) -> int:
    micros = to_micros(value, name)
    if micros is None:
        raise ConfigError(f"{name} is missing (None); pass a time such as '2025-03-01'.")
    return micros


def _period(period: Any, name: str) -> tuple[int, int]:
    if isinstance(period, str) or not isinstance(period, Sequence) or len(period) != 2:
        raise ConfigError(
            f"{name} must be a (start, end) pair, end exclusive, e.g. ('2025-03-01', "
            f"'2025-04-01'); got {period!r}."
        )
    a, b = _timestamp(period[0], f"{name}[0]"), _timestamp(period[1], f"{name}[1]")
    if b <= a:
        raise ConfigError(f"{name} ends before it starts: {period!r}.")
    return a, b


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
    p_a, p_b = k_a / n_a, k_b / n_b
    return _rows(
        "edges",
        _group_columns(lg, g),
        np.array(
            [f"{a} -> {b}" for a, b in zip(lg.acts[s], lg.acts[t], strict=True)], dtype=object
        ),
        lg.acts[s],
        lg.acts[t],
        p_a,
        p_b,
        n_a,
        n_b,
        _cohen_h(p_b, p_a),
        "cohen_h",
        "two-proportion z",
        _z_test(k_a, n_a, k_b, n_b),
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
    seg_of_group = pd.Series(lg.seg).groupby(lg.group).first()
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
    p_a, p_b = k_a / n_a, k_b / n_b
    return _rows(
        "funnel",
        cols,
        what,
        step[i_arr],
        step[j_arr],
        p_a,
        p_b,
        n_a,
        n_b,
        _cohen_h(p_b, p_a),
        "cohen_h",
        "two-proportion z",
        _z_test(k_a, n_a, k_b, n_b),
    )


def _compare_durations(lg: _Log, side: np.ndarray, min_support: int) -> pd.DataFrame:
    """Session durations (seconds from first to last event) per group; Mann-Whitney U."""
    first = np.flatnonzero(np.r_[True, lg.session[1:] != lg.session[:-1]])
    last = np.r_[first[1:] - 1, len(lg.session) - 1]
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


def _where(frame: pd.DataFrame, cols: Sequence[str]) -> pd.Series:
    """Readable location of each row: the ``by`` values and the segment joined by " / "
    ("all" when there are none, or for a funnel that runs across channels)."""
    if not cols:
        return pd.Series("all", index=frame.index, dtype="str")
    columns = [frame[c].to_numpy(dtype=object) for c in cols]
    joined = [
        " / ".join(str(v) for v in vals if not pd.isna(v)) or "all"
        for vals in zip(*columns, strict=True)
    ]
    return pd.Series(joined, index=frame.index, dtype="str")


def _check_common(min_support: int, alpha: float) -> None:
    check_int(min_support, "min_support")
    if not 0 < float(alpha) < 1:
        raise ConfigError(f"alpha must be within (0, 1), got {alpha!r}.")


def compare_periods(
    log: pd.DataFrame,
    period_a: Period,
    period_b: Period,
    *,
    metrics: Sequence[CompareMetric] = ("edges", "activities", "funnel", "durations"),
    by: Sequence[str] = ("channel",),
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
    by : list of str, default ("channel",)
        Columns whose values split edges, activities and durations (the funnel runs across
        them). ``()`` for the whole log.
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
        by_cols=_names(by, "by"),
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
    by: Sequence[str] = ("channel",),
    funnel: Sequence[str] | None = None,
    min_support: int = 30,
    alpha: float = 0.05,
    session_gap: str | pd.Timedelta = "30min",
) -> pd.DataFrame:
    """Compare two segments of customers on the same metrics as :func:`compare_periods`.

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
    by_cols = _names(by, "by")
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


# --- change detection over time -----------------------------------------------------------------
@dataclass
class _Series:
    metric: str
    group: int
    source: str
    target: str | None
    k: np.ndarray  # successes (binomial) or counts (poisson) per bin
    n: np.ndarray  # trials (binomial) or exposure (poisson) per bin
    kind: str  # "binomial" or "poisson"


def _loglik(k: np.ndarray, n: np.ndarray, kind: str) -> np.ndarray:
    """Maximised log-likelihood (up to terms that cancel in ratios) of pooled counts."""
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(n > 0, k / np.where(n > 0, n, 1.0), 0.0)
        if kind == "binomial":
            return _xlogy(k, rate) + _xlogy(n - k, 1.0 - rate)
        return _xlogy(k, rate)


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x * log(y), 0 where x == 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0, 0.0, x * np.log(np.where(x == 0, 1.0, y)))


def _effect(rate_in: np.ndarray, rate_out: np.ndarray, kind: str) -> np.ndarray:
    if kind == "binomial":
        return _cohen_h(rate_in, rate_out)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(
            np.where(rate_out > 0, rate_in, np.nan) / np.where(rate_out > 0, rate_out, 1.0)
        )


def _dispersion(k: np.ndarray, n: np.ndarray, rate: float, kind: str) -> float:
    """Pearson chi-square / df of the baseline bins around their pooled rate (>= 1)."""
    use = n > 0
    if use.sum() < 3:
        return 1.0
    k, n = k[use].astype(float), n[use].astype(float)
    var = n * rate * (1 - rate) if kind == "binomial" else n * rate
    with np.errstate(divide="ignore", invalid="ignore"):
        x2 = np.where(var > 0, (k - n * rate) ** 2 / np.where(var > 0, var, 1.0), 0.0)
    return max(1.0, float(x2.sum()) / (len(k) - 1))


def _typical_rate(s: _Series, avail: np.ndarray) -> float:
    """Median of the bin rates weighted by trials/exposure (the series' typical level)."""
    data = avail & (s.n > 0)
    if not data.any():
        return 0.0
    rate = s.k[data] / s.n[data]
    order = np.argsort(rate, kind="stable")
    w = np.cumsum(s.n[data][order].astype(float))
    return float(rate[order][np.searchsorted(w, w[-1] / 2)])


def _departing_bins(
    s: _Series, avail: np.ndarray, base: float, *, min_effect: float, min_ratio: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bins whose own rate is below (``down``) or above (``up``) the typical rate ``base`` by
    the minimum effect, and the bins that have data."""
    data = avail & (s.n > 0)
    rate = np.where(data, s.k / np.where(data, s.n, 1), 0.0)
    if s.kind == "binomial":
        h = _cohen_h(rate, np.full(len(rate), base))
        return data & (h <= -min_effect), data & (h >= min_effect), data
    thr = np.log(min_ratio)
    with np.errstate(divide="ignore"):
        lr = np.log(rate) - np.log(base) if base > 0 else np.where(rate > 0, np.inf, 0.0)
    return data & (lr <= -thr), data & (lr >= thr), data


def _range_extreme(
    values: np.ndarray, st: np.ndarray, en: np.ndarray, *, lowest: bool
) -> np.ndarray:
    """Index of the lowest (or highest) value in each range [st, en) (sparse table)."""
    t_len = len(values)
    v = values if lowest else -values
    levels = [np.arange(t_len)]
    width = 1
    while 2 * width <= t_len:
        prev = levels[-1]
        a, b = prev[: t_len - 2 * width + 1], prev[width : width + t_len - 2 * width + 1]
        levels.append(np.where(v[b] < v[a], b, a))
        width *= 2
    length = en - st
    j = np.floor(np.log2(np.maximum(length, 1))).astype(np.int64)
    out = np.empty(len(st), dtype=np.int64)
    for level in np.unique(j):
        m = j == level
        table = levels[level]
        a, b = table[st[m]], table[en[m] - (1 << int(level))]
        out[m] = np.where(v[b] < v[a], b, a)
    return out


@dataclass
class _Interval:
    start: int
    end: int  # exclusive


def _best_interval(
    s: _Series,
    avail: np.ndarray,
    *,
    min_bins: int,
    max_bins: int,
    open_ended: bool,
    min_effect: float,
    min_ratio: float,
    min_consistency: float,
) -> tuple[_Interval | None, int]:
    """The interval of available bins with the largest likelihood ratio against the rest, among
    those whose effect is large enough and whose bins mostly depart on their own. The ratio
    and the effect are computed without the interval's most extreme bin (robust to one
    spike). Returns the interval and the number of intervals scanned."""
    t_len = len(s.k)
    k = np.where(avail, s.k, 0).astype(float)
    n = np.where(avail, s.n, 0).astype(float)
    ck, cn = np.r_[0.0, np.cumsum(k)], np.r_[0.0, np.cumsum(n)]
    blocked = np.r_[0, np.cumsum(~avail)]
    lo, hi = (0, t_len) if open_ended else (1, t_len - 1)
    starts, ends = [], []
    for length in range(min_bins, min(max_bins, hi - lo) + 1):
        st = np.arange(lo, hi - length + 1)
        starts.append(st)
        ends.append(st + length)
    if not starts:
        return None, 0
    st, en = np.concatenate(starts), np.concatenate(ends)
    ok = blocked[en] == blocked[st]
    st, en = st[ok], en[ok]
    scanned = len(st)
    k_in, n_in = ck[en] - ck[st], cn[en] - cn[st]
    k_out, n_out = ck[-1] - k_in, cn[-1] - n_in
    good = (n_in > 0) & (n_out > 0)
    if not good.any():
        return None, scanned
    st, en, k_in, n_in, k_out, n_out = (x[good] for x in (st, en, k_in, n_in, k_out, n_out))
    r_out = k_out / n_out
    eff = _effect(k_in / n_in, r_out, s.kind)
    base = _typical_rate(s, avail)
    down, up, data = _departing_bins(s, avail, base, min_effect=min_effect, min_ratio=min_ratio)
    cd, cu, cdata = (np.r_[0, np.cumsum(x)] for x in (down, up, data))
    with_data = np.maximum(cdata[en] - cdata[st], 1)
    falling = eff < 0
    share = np.where(falling, cd[en] - cd[st], cu[en] - cu[st]) / with_data
    # the change must depart and return: the bins just before and after it are not changed
    # the same way (this rejects a shift that merely continues from the edge of the log)
    for a, b in ((np.maximum(st - min_bins, 0), st), (en, np.minimum(en + min_bins, t_len))):
        ctx = np.where(falling, cd[b] - cd[a], cu[b] - cu[a]) / np.maximum(cdata[b] - cdata[a], 1)
        share = np.where(ctx >= min_consistency, 0.0, share)
    # leave out the most extreme bin of each interval (in the interval's direction)
    excess = k - n * base
    drop_low = _range_extreme(excess, st, en, lowest=True)
    drop_high = _range_extreme(excess, st, en, lowest=False)
    x = np.where(falling, drop_low, drop_high)
    multi = (en - st) > 1
    k_t = np.where(multi, k_in - k[x], k_in)
    n_t = np.where(multi, n_in - n[x], n_in)
    with np.errstate(divide="ignore", invalid="ignore"):
        eff_t = _effect(np.where(n_t > 0, k_t / np.where(n_t > 0, n_t, 1), np.nan), r_out, s.kind)
    eff_t = np.nan_to_num(eff_t, nan=0.0)
    thr = min_effect if s.kind == "binomial" else np.log(min_ratio)
    big = (np.abs(np.nan_to_num(eff, nan=0.0)) >= thr) & (np.sign(eff_t) == np.sign(eff))
    big &= (np.abs(eff_t) >= thr) & (share >= min_consistency) & (n_t > 0)
    if not big.any():
        return None, scanned
    llr = (
        _loglik(k_t, n_t, s.kind)
        + _loglik(k_out, n_out, s.kind)
        - _loglik(k_t + k_out, n_t + n_out, s.kind)
    )
    llr = np.where(big, llr, -np.inf)
    best = int(np.argmax(llr))
    return _Interval(int(st[best]), int(en[best])), scanned


def _interval_stats(
    s: _Series, inside: np.ndarray, base: np.ndarray, scanned: int, typical: float
) -> dict[str, float]:
    """Values over the whole interval; evidence without its most extreme bin."""
    k_in, n_in = float(s.k[inside].sum()), float(s.n[inside].sum())
    k_out, n_out = float(s.k[base].sum()), float(s.n[base].sum())
    r_in = k_in / n_in if n_in > 0 else float("nan")
    r_out = k_out / n_out if n_out > 0 else float("nan")
    effect = float(_effect(np.array([r_in]), np.array([r_out]), s.kind)[0])
    k_t, n_t = k_in, n_in
    idx = np.flatnonzero(inside)
    if len(idx) > 1:
        excess = s.k[idx] - s.n[idx] * typical
        x = idx[np.argmin(excess) if effect < 0 else np.argmax(excess)]
        k_t, n_t = k_in - float(s.k[x]), n_in - float(s.n[x])
    llr = float(
        _loglik(np.array([k_t]), np.array([n_t]), s.kind)[0]
        + _loglik(np.array([k_out]), np.array([n_out]), s.kind)[0]
        - _loglik(np.array([k_t + k_out]), np.array([n_t + n_out]), s.kind)[0]
    )
    phi = _dispersion(s.k[base], s.n[base], r_out, s.kind) if n_out > 0 else 1.0
    deviance = max(2.0 * llr, 0.0) / phi
    p = min(1.0, max(scanned, 1) * math.erfc(math.sqrt(deviance / 2.0)))  # chi2(1) tail
    return {
        "baseline": r_out,
        "changed": r_in,
        "effect": effect,
        "deviance": deviance,
        "dispersion": phi,
        "p_value": p,
        "n_baseline": k_out if s.kind == "poisson" else n_out,
        "n_changed": k_in if s.kind == "poisson" else n_in,
    }


def _mask(t_len: int, *intervals: _Interval) -> np.ndarray:
    m = np.zeros(t_len, dtype=bool)
    for iv in intervals:
        m[iv.start : iv.end] = True
    return m


def _scan_series(
    s: _Series,
    *,
    min_bins: int,
    max_bins: int,
    open_ended: bool,
    min_effect: float,
    min_ratio: float,
    min_consistency: float,
    alpha: float,
    max_changes: int,
    merge_gap: int,
) -> tuple[list[tuple[_Interval, dict[str, float]]], float | None]:
    """Detected intervals of one series with their statistics, and the p-value of the first
    rejected candidate (None when every candidate was detected) for the test family."""
    t_len = len(s.k)
    avail = np.ones(t_len, dtype=bool)
    found: list[_Interval] = []
    scanned_first = 0
    rejected_p: float | None = None
    while len(found) < max_changes:
        iv, scanned = _best_interval(
            s,
            avail,
            min_bins=min_bins,
            max_bins=max_bins,
            open_ended=open_ended,
            min_effect=min_effect,
            min_ratio=min_ratio,
            min_consistency=min_consistency,
        )
        scanned_first = scanned_first or scanned
        if iv is None:
            break
        inside = _mask(t_len, iv)
        st = _interval_stats(s, inside, avail & ~inside, scanned_first, _typical_rate(s, avail))
        if st["p_value"] > alpha:
            rejected_p = st["p_value"]
            break
        found.append(iv)
        avail &= ~inside
    if not found:
        return [], rejected_p
    # merge detections that are close and move the same way
    found.sort(key=lambda iv: iv.start)
    base = ~_mask(t_len, *found)
    typical = _typical_rate(s, base)

    def direction(iv: _Interval) -> float:
        st = _interval_stats(s, _mask(t_len, iv), base, scanned_first, typical)
        return float(np.sign(st["effect"]))

    merged = [found[0]]
    for iv in found[1:]:
        last = merged[-1]
        if iv.start - last.end <= merge_gap and direction(iv) == direction(last):
            merged[-1] = _Interval(last.start, iv.end)
        else:
            merged.append(iv)
    base = ~_mask(t_len, *merged)
    typical = _typical_rate(s, base)
    out = [
        (iv, _interval_stats(s, _mask(t_len, iv), base, scanned_first, typical)) for iv in merged
    ]
    return out, rejected_p


def _bins(lg: _Log, freq: str | pd.Timedelta) -> tuple[np.ndarray, int, int, int]:
    """Bin index of each event, number of bins, origin (us) and bin width (us)."""
    try:
        off = to_offset(freq)
        width = int(off.nanos // 1000)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"freq={freq!r} is not a fixed frequency; use e.g. 'D', '12h' or '7D' (calendar "
            f"frequencies such as 'W' or 'MS' have no fixed length)."
        ) from exc
    if width <= 0:
        raise ConfigError(f"freq must be a positive duration, got {freq!r}.")
    origin = int(lg.ts.min() // width * width)
    b = (lg.ts - origin) // width
    return b.astype(np.int64), int(b.max()) + 1, origin, width


def _edge_series(lg: _Log, b: np.ndarray, t_len: int, min_support: int) -> list[_Series]:
    n_act = len(lg.acts)
    src_key = lg.group * n_act + lg.act
    has = lg.nxt >= 0
    ekey = src_key[has] * n_act + lg.act[lg.nxt[has]]
    frequent, idx = _frequent(ekey, len(lg.groups) * n_act * n_act, min_support)
    if not len(frequent):
        return []
    hit = idx >= 0
    k = np.bincount(idx[hit] * t_len + b[has][hit], minlength=len(frequent) * t_len)
    k = k.reshape(len(frequent), t_len)
    src_needed = np.unique(frequent // n_act)
    sidx = np.searchsorted(src_needed, src_key)
    sidx = np.minimum(sidx, len(src_needed) - 1)
    shit = src_needed[sidx] == src_key
    n = np.bincount(sidx[shit] * t_len + b[shit], minlength=len(src_needed) * t_len)
    n = n.reshape(len(src_needed), t_len)
    out = []
    for row, e in enumerate(frequent.tolist()):
        gs, t = divmod(e, n_act)
        g, s = divmod(gs, n_act)
        out.append(
            _Series(
                "edges",
                g,
                str(lg.acts[s]),
                str(lg.acts[t]),
                k[row],
                n[np.searchsorted(src_needed, gs)],
                "binomial",
            )
        )
    return out


def _exposure(lg: _Log, b: np.ndarray, t_len: int) -> np.ndarray:
    """Distinct active customers per (segment, bin): customers with an event not tagged with
    a journey_id (an outbound touch alone does not make a customer active)."""
    n_seg = int(lg.seg.max()) + 1
    m = lg.initiated
    key = (lg.cust[m] * t_len + b[m]) * n_seg + lg.seg[m]
    if len(key):  # events are sorted by customer and time: repeats are adjacent
        key = key[np.r_[True, key[1:] != key[:-1]]]
    if n_seg > 1:
        key = np.unique(key)
    seg, bins = key % n_seg, (key // n_seg) % t_len
    return np.bincount(seg * t_len + bins, minlength=n_seg * t_len).reshape(n_seg, t_len)


def _frequent(key: np.ndarray, space: int, min_support: int) -> tuple[np.ndarray, np.ndarray]:
    """The keys occurring at least ``min_support`` times (sorted) and, for each element, the
    position of its key among them (-1 when rare)."""
    if space <= 50_000_000:
        counts = np.bincount(key, minlength=space)
        frequent = np.flatnonzero(counts >= min_support)
        row = np.full(space, -1, dtype=np.int64)
        row[frequent] = np.arange(len(frequent))
        return frequent, row[key]
    uniq, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    keep = counts >= min_support
    row = np.where(keep, np.cumsum(keep) - 1, -1)
    return uniq[keep], row[inverse]


def _volume_series(lg: _Log, b: np.ndarray, t_len: int, min_support: int) -> list[_Series]:
    n_act = len(lg.acts)
    key = lg.group * n_act + lg.act
    frequent, idx = _frequent(key, len(lg.groups) * n_act, min_support)
    if not len(frequent):
        return []
    hit = idx >= 0
    k = np.bincount(idx[hit] * t_len + b[hit], minlength=len(frequent) * t_len)
    k = k.reshape(len(frequent), t_len)
    expo = _exposure(lg, b, t_len)
    seg_of_group = pd.Series(lg.seg).groupby(lg.group).first()
    out = []
    for row, e in enumerate(frequent.tolist()):
        g, a = divmod(e, n_act)
        out.append(
            _Series(
                "volumes",
                g,
                str(lg.acts[a]),
                None,
                k[row],
                np.maximum(expo[int(seg_of_group[g])], k[row] > 0),
                "poisson",
            )
        )
    return out


def _conversion_series(
    lg: _Log, b: np.ndarray, t_len: int, pairs: Sequence[tuple[str, str]], min_support: int
) -> list[_Series]:
    out = []
    n_sess = int(lg.session.max()) + 1
    pos = np.arange(len(lg.act))
    n_g = len(lg.groups)
    for a_name, b_name in pairs:
        ca, cb = _activity_codes(lg, [a_name, b_name], "conversions")
        first_a = np.full(n_sess, len(pos), dtype=np.int64)
        ma = lg.act == ca
        np.minimum.at(first_a, lg.session[ma], pos[ma])
        last_b = np.full(n_sess, -1, dtype=np.int64)
        mb = lg.act == cb
        np.maximum.at(last_b, lg.session[mb], pos[mb])
        has_a = first_a < len(pos)
        conv = has_a & (last_b > first_a)
        p_a = first_a[has_a]
        g, bb = lg.group[p_a], b[p_a]
        trials = np.bincount(g * t_len + bb, minlength=n_g * t_len).reshape(n_g, t_len)
        succ = np.bincount(g[conv[has_a]] * t_len + bb[conv[has_a]], minlength=n_g * t_len).reshape(
            n_g, t_len
        )
        for code in range(n_g):
            if trials[code].sum() >= min_support:
                out.append(
                    _Series(
                        "conversions", code, a_name, b_name, succ[code], trials[code], "binomial"
                    )
                )
    return out


def _duration_bins(value: str | pd.Timedelta, width: int, name: str) -> int:
    td = _timedelta(value, name)
    return max(1, int(np.ceil(td.value / 1000 / width)))


def _change_columns(lg: _Log) -> list[str]:
    return [
        "incident",
        "metric",
        "where",
        *lg.groups.columns,
        "what",
        "source",
        "target",
        "start",
        "end",
        "bins",
        "direction",
        "baseline",
        "changed",
        "difference",
        "ratio",
        "effect",
        "effect_measure",
        "deviance",
        "dispersion",
        "p_value",
        "q_value",
        "ongoing",
        "n_baseline",
        "n_changed",
    ]


def detect_changes(
    log: pd.DataFrame,
    *,
    by: Sequence[str] = ("channel",),
    segment: Segment | None = None,
    metrics: Sequence[ChangeMetric] = ("edges", "volumes"),
    conversions: Sequence[tuple[str, str]] | None = None,
    freq: str = "D",
    min_support: int = 200,
    min_duration: str | pd.Timedelta = "2D",
    max_duration: str | pd.Timedelta | None = None,
    min_effect: float = 0.2,
    min_ratio: float = 1.5,
    min_consistency: float = 0.6,
    alpha: float = 0.01,
    max_changes: int = 3,
    open_ended: bool = False,
    merge_gap: str | pd.Timedelta = "1D",
    session_gap: str | pd.Timedelta = "30min",
    show_progress: bool = False,
) -> pd.DataFrame:
    """Find when journey metrics changed: what, where, from when to when, how much, how sure.

    Parameters
    ----------
    log : DataFrame
        Canonical log (need not be sorted).
    by : list of str, default ("channel",)
        Columns splitting the series (one series per value combination). ``()`` for none.
    segment : str or mapping, optional
        A column or a mapping customer -> segment; series are split per segment too, and
        volumes are per active customer of the segment.
    metrics : list of {"edges", "conversions", "volumes"}, default ("edges", "volumes")
        Series to scan (see the module docstring). ``"conversions"`` needs ``conversions``.
    conversions : list of (str, str), optional
        Pairs ``(a, b)``: the share of sessions with ``a`` in which ``b`` follows, e.g.
        ``[("checkout", "purchase")]``. Adds ``"conversions"`` to ``metrics`` when given.
    freq : str, default "D"
        Bin width, a fixed frequency ('D', '12h', '7D'); bins start at midnight UTC for 'D'.
    min_support : int, default 200
        Scan an edge or an activity only if it occurs at least this often in its group over
        the whole log (conversions: sessions with ``a``).
    min_duration : str or Timedelta, default "2D"
        Shortest change reported (rounded up to whole bins). One-day spikes (a campaign day)
        are ignored by default; use "1D" to see them.
    max_duration : str or Timedelta, optional
        Longest change; default half the log's span (a change must be shorter than its
        baseline).
    min_effect : float, default 0.2
        Smallest |Cohen's h| between the changed and the baseline proportion (edges,
        conversions). 0.2 is a "small" effect in Cohen's convention.
    min_ratio : float, default 1.5
        Smallest rate ratio (either way) for volumes.
    min_consistency : float, default 0.6
        Share of the bins of a change (among bins with data) that must depart on their own
        from the series' typical rate (weighted median of bin rates) by ``min_effect`` /
        ``min_ratio``, in the same direction. It keeps one extreme bin (a campaign day) from
        making a longer interval look changed.
    alpha : float, default 0.01
        Level of the per-series scan (Bonferroni over the intervals scanned) and false
        discovery rate over all series (Benjamini-Hochberg) for a change to be reported.
    max_changes : int, default 3
        Most changes looked for per series.
    open_ended : bool, default False
        Also report changes that touch the first or the last bin (the departure or the return
        is not observed, e.g. an incident still going on). Off by default because the edges
        of a log are where extraction artefacts live: returns of purchases made before the
        log started are missing at its start, late steps of recent journeys at its end.
    merge_gap : str or Timedelta, default "1D"
        Detections of one series that move the same way and are at most this far apart are
        merged; detections in one ``by`` group (and segment) within this gap of each other
        form one incident.
    session_gap : str or Timedelta, default "30min"
        Inactivity (or a change of channel) that ends a session, for edges and conversions;
        an existing ``session_id`` column is used as is.
    show_progress : bool, default False
        Show a progress bar over the series.

    Returns
    -------
    DataFrame
        One row per detected change, strongest incident first: ``incident`` (1 = most
        evidence), ``metric``, ``where`` (e.g. ``"app"`` or ``"app / loyal_app_buyer"``), the
        ``by`` columns (and ``segment``), ``what``, ``source``,
        ``target``, ``start`` and ``end`` (UTC, end exclusive), ``bins``, ``direction``
        ("drop"/"rise"), ``baseline`` and ``changed`` (proportion for edges/conversions,
        events per active customer per bin for volumes), ``difference``, ``ratio``, ``effect``
        and ``effect_measure`` (Cohen's h, or the log rate ratio for volumes), ``deviance``
        (likelihood-ratio chi-square of the change without its most extreme bin, divided by
        ``dispersion``, the overdispersion of the baseline), ``p_value`` (Bonferroni over
        intervals), ``q_value`` (Benjamini-Hochberg over all series), ``ongoing`` (the change
        lasts until the end of the log),
        ``n_baseline`` and ``n_changed`` (trials, or events for volumes). Empty when nothing
        changed.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> days = pd.date_range("2025-01-01", periods=40, freq="D", tz="UTC")
    >>> rows = []
    >>> for d, day in enumerate(days):
    ...     p = 0.2 if 20 <= d < 25 else 0.8   # checkouts fail from day 20 to 24
    ...     for i in range(60):
    ...         t = day + pd.Timedelta(hours=12, minutes=i % 50)
    ...         rows.append((f"c{d}_{i}", t, "checkout", "app"))
    ...         if rng.random() < p:
    ...             rows.append((f"c{d}_{i}", t + pd.Timedelta(minutes=1), "purchase", "app"))
    >>> log = pd.DataFrame(rows, columns=["customer_id", "timestamp", "activity", "channel"])
    >>> res = detect_changes(log, metrics=["edges"], min_support=50)
    >>> res[["channel", "what", "direction"]].iloc[0].tolist()
    ['app', 'checkout -> purchase', 'drop']
    >>> str(res["start"].iloc[0].date()), str(res["end"].iloc[0].date())
    ('2025-01-21', '2025-01-26')
    """
    _check_common(min_support, alpha)
    metrics_t = _check_metrics(metrics, _CHANGE_METRICS)
    if conversions is not None:
        ok = isinstance(conversions, Sequence) and len(conversions) > 0
        for pair in conversions if ok else ():
            ok = ok and isinstance(pair, tuple | list) and len(pair) == 2
            ok = ok and all(isinstance(x, str) for x in pair)
        if not ok:
            raise ConfigError(
                f"conversions must be a list of (from, to) activity pairs, got {conversions!r}."
            )
        pairs = [(str(a), str(b)) for a, b in conversions]
        metrics_t = tuple(dict.fromkeys([*metrics_t, "conversions"]))
    elif "conversions" in metrics_t:
        raise ConfigError(
            "metric 'conversions' needs conversions=[(from, to), ...], e.g. "
            "[('checkout', 'purchase')]."
        )
    if not 0 <= float(min_effect) < np.pi:
        raise ConfigError(f"min_effect (Cohen's h) must be within [0, pi), got {min_effect!r}.")
    if not 0.0 <= float(min_consistency) <= 1.0:
        raise ConfigError(f"min_consistency must be within [0, 1], got {min_consistency!r}.")
    if not float(min_ratio) >= 1.0:
        raise ConfigError(f"min_ratio must be >= 1, got {min_ratio!r}.")
    if isinstance(max_changes, bool) or not isinstance(max_changes, int) or max_changes < 1:
        raise ConfigError(f"max_changes must be a positive integer, got {max_changes!r}.")
    lg = _prepare(log, by=by, segment=segment, session_gap=session_gap, purpose="detect_changes")
    b, t_len, origin, width = _bins(lg, freq)
    min_bins = _duration_bins(min_duration, width, "min_duration")
    max_bins = (
        max(t_len // 2, 1)
        if max_duration is None
        else _duration_bins(max_duration, width, "max_duration")
    )
    gap_bins = int(_timedelta(merge_gap, "merge_gap").value // 1000 // width)
    if min_bins > max_bins or t_len < 2 * min_bins:
        raise ConfigError(
            f"the log spans {t_len} bins of {freq!r}: too short to find changes of at least "
            f"{min_bins} bins against a baseline. Use a finer freq or a shorter min_duration."
        )
    if t_len * max_bins > 20_000_000:
        raise ConfigError(
            f"{t_len} bins x changes up to {max_bins} bins is too many intervals to scan; use "
            f"a coarser freq or a smaller max_duration."
        )
    series: list[_Series] = []
    if "edges" in metrics_t:
        series += _edge_series(lg, b, t_len, min_support)
    if "conversions" in metrics_t and conversions is not None:
        series += _conversion_series(lg, b, t_len, pairs, min_support)
    if "volumes" in metrics_t:
        series += _volume_series(lg, b, t_len, min_support)
    logger.info("scanning %d series over %d bins", len(series), t_len)
    iterator: Any = series
    if show_progress:
        from tqdm.auto import tqdm

        iterator = tqdm(series, desc="scanning series", unit="series")
    found: list[tuple[_Series, _Interval, dict[str, float]]] = []
    family: list[float] = []  # every test made: detections and rejected candidates
    ref: list[int] = []  # index into found, -1 for a rejected candidate
    for s in iterator:
        hits, rejected = _scan_series(
            s,
            min_bins=min_bins,
            max_bins=max_bins,
            open_ended=open_ended,
            min_effect=float(min_effect),
            min_ratio=float(min_ratio),
            min_consistency=float(min_consistency),
            alpha=float(alpha),
            max_changes=max_changes,
            merge_gap=gap_bins,
        )
        for iv, st in hits:
            ref.append(len(found))
            found.append((s, iv, st))
            family.append(st["p_value"])
        if rejected is not None or not hits:
            ref.append(-1)
            family.append(1.0 if rejected is None else rejected)
    columns = _change_columns(lg)
    if not found:
        return pd.DataFrame(columns=columns)
    q_all = _bh(np.array(family))
    q_found = np.empty(len(found))
    for q, r in zip(q_all, ref, strict=True):
        if r >= 0:
            q_found[r] = q
    rows = []
    for (s, iv, st), q in zip(found, q_found, strict=True):
        if q > alpha:
            continue
        group_vals = {c: lg.groups[c].iloc[s.group] for c in lg.groups.columns}
        what = (
            f"{s.source} -> {s.target}"
            if s.metric == "edges"
            else f"{s.source} => {s.target}"
            if s.metric == "conversions"
            else s.source
        )
        rows.append(
            {
                "metric": s.metric,
                **group_vals,
                "what": what,
                "source": s.source,
                "target": s.target,
                "start": origin + iv.start * width,
                "end": origin + iv.end * width,
                "bins": iv.end - iv.start,
                "direction": "drop" if st["changed"] < st["baseline"] else "rise",
                "baseline": st["baseline"],
                "changed": st["changed"],
                "difference": st["changed"] - st["baseline"],
                "ratio": float(_ratio(np.array([st["changed"]]), np.array([st["baseline"]]))[0]),
                "effect": st["effect"],
                "effect_measure": "cohen_h" if s.kind == "binomial" else "log_rate_ratio",
                "deviance": st["deviance"],
                "dispersion": st["dispersion"],
                "p_value": st["p_value"],
                "q_value": float(q),
                "ongoing": iv.end >= t_len,
                "n_baseline": int(st["n_baseline"]),
                "n_changed": int(st["n_changed"]),
                "_group": s.group,
                "_start": iv.start,
                "_end": iv.end,
            }
        )
    if not rows:
        return pd.DataFrame(columns=columns)
    out = pd.DataFrame(rows)
    out = _incidents(out, gap_bins)
    out["where"] = _where(out, list(lg.groups.columns))
    for col in ("start", "end"):
        out[col] = pd.to_datetime(out[col].to_numpy(dtype=np.int64), unit="us", utc=True)
    return out[columns].reset_index(drop=True)


def _incidents(out: pd.DataFrame, gap_bins: int) -> pd.DataFrame:
    """Group detections of one group that overlap in time (within ``gap_bins``) into incidents,
    numbered by their strongest evidence; rows sorted by incident then evidence."""
    out = out.sort_values(["_group", "_start", "_end"], kind="stable").reset_index(drop=True)
    label = np.zeros(len(out), dtype=np.int64)
    current, reach, prev_group = -1, -1, None
    for i, (g, s, e) in enumerate(zip(out["_group"], out["_start"], out["_end"], strict=True)):
        if g != prev_group or s > reach + gap_bins:
            current += 1
            reach = e
        else:
            reach = max(reach, e)
        label[i] = current
        prev_group = g
    out["_label"] = label
    strength = out.groupby("_label")["deviance"].max()
    rank = strength.sort_values(ascending=False, kind="stable").index
    number = pd.Series(np.arange(1, len(rank) + 1), index=rank)
    out["incident"] = number.reindex(out["_label"]).to_numpy()
    return out.sort_values(["incident", "deviance"], ascending=[True, False], kind="stable")
