"""Directly-follows graph, start/end activities and bottlenecks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from journeymine.engine import EncodedLog, LogInput, as_encoded, edge_statistics
from journeymine.journeys._common import (
    Segments,
    TimeLike,
    apply_filters,
    check_int,
    event_labels,
    rank_of,
)
from journeymine.schema import ACTIVITY, CHANNEL, CUSTOMER_ID

__all__ = ["bottlenecks", "dfg", "end_activities", "start_activities"]


SEGMENT = "segment"
DFG_COLUMNS = (
    "source",
    "target",
    "count",
    "cases",
    "mean_seconds",
    "median_seconds",
    "p90_seconds",
)


def _neighbour_pairs(enc: EncodedLog) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edge ids (source * n_activities + target), case codes and microseconds of every pair of
    neighbouring events. The pairs that cross from one case to the next get the edge id
    ``n_activities ** 2`` (above every real edge; drop its statistics) and 0 microseconds:
    nothing is copied to select the pairs inside a case."""
    a, t = enc.activity_codes, enc.timestamps
    n_act = len(enc.activities)
    edge: np.ndarray = a[:-1].astype(np.int32 if n_act * n_act < 2**31 - 1 else np.int64)
    np.multiply(edge, n_act, out=edge)
    np.add(edge, a[1:], out=edge)
    micros = np.subtract(t[1:], t[:-1])
    cross = enc.case_bounds[1:-1] - 1  # the last event of every case but the last
    edge[cross] = n_act * n_act
    micros[cross] = 0
    return edge, enc.case_codes[1:], micros


def _edge_arrays(
    enc: EncodedLog, groups: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Edge ids (source * n_activities + target), case codes, microseconds and group codes of
    every directly-follows pair inside a case and inside a group."""
    # a stable sort by group keeps (case, time) order inside each group
    order = np.argsort(groups, kind="stable")
    c, a, t, g = (
        enc.case_codes[order],
        enc.activity_codes[order],
        enc.timestamps[order],
        groups[order],
    )
    same = c[1:] == c[:-1]
    same &= g[1:] == g[:-1]
    n_act = len(enc.activities)
    edge = a[:-1][same].astype(np.int32 if n_act * n_act < 2**31 else np.int64)
    edge *= n_act
    edge += a[1:][same]
    micros = t[1:][same]
    micros -= t[:-1][same]
    cases = c[1:][same]
    return edge, cases, micros, g[1:][same]


def _empty_dfg(with_segment: bool) -> pd.DataFrame:
    cols: dict[str, pd.Series] = {}
    if with_segment:
        cols[SEGMENT] = pd.Series([], dtype=object)
    cols |= {
        "source": pd.Series([], dtype="str"),
        "target": pd.Series([], dtype="str"),
        "count": pd.Series([], dtype=np.int64),
        "cases": pd.Series([], dtype=np.int64),
        "mean_seconds": pd.Series([], dtype=np.float64),
        "median_seconds": pd.Series([], dtype=np.float64),
        "p90_seconds": pd.Series([], dtype=np.float64),
    }
    return pd.DataFrame(cols)


def dfg(
    log: LogInput,
    *,
    case: str = CUSTOMER_ID,
    min_count: int = 1,
    top_k: int | None = None,
    time_range: tuple[TimeLike, TimeLike] | None = None,
    channels: Sequence[str] | None = None,
    segment: Segments | None = None,
) -> pd.DataFrame:
    """Directly-follows graph: how often each activity is directly followed by another inside
    a case, in how many cases, and how long the step takes.

    Parameters
    ----------
    log : DataFrame, path or EncodedLog
        Canonical event log, a Parquet/CSV file read by DuckDB, or the result of
        :func:`journeymine.encode`. It need not be sorted; ties in time keep input order.
    case : str, default "customer_id"
        Case column (a process log may use ``session_id``).
    min_count : int, default 1
        Drop edges seen fewer times.
    top_k : int, optional
        Keep the ``top_k`` most frequent edges (per segment) to keep a real process map readable.
    time_range : (start, end), optional
        Keep events with ``start <= timestamp < end`` (either may be None; naive times are UTC)
        before pairing them.
    channels : list of str, optional
        Keep events on these channels before pairing them (needs ``channel``).
    segment : str, dict or Series, optional
        Compute the graph per segment and add a ``segment`` column: a column name (each event's
        value; events of a case with the same value form that case's journey in the segment),
        or a mapping customer_id -> label such as personas (every customer needs a label).

    Returns
    -------
    DataFrame
        ``[segment,] source, target, count, cases, mean_seconds, median_seconds,
        p90_seconds``: one row per edge, sorted by (segment,) count descending, then source and
        target. ``count`` is the number of times ``target`` directly follows ``source``,
        ``cases`` the number of cases with that step, times are between the two events.

    Raises
    ------
    MissingColumnError, EmptyLogError, EventLogError
        Bad input log (missing column, no events, nulls).
    ConfigError
        A bad argument, e.g. an unknown channel (with did-you-mean) or ``top_k=0``.

    Examples
    --------
    >>> import pandas as pd
    >>> import journeymine as jm
    >>> log = pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "b", "b"],
    ...     "timestamp": pd.to_datetime(["2025-01-01 10:00", "2025-01-01 10:01",
    ...         "2025-01-01 10:03", "2025-01-02 09:00", "2025-01-02 09:05"], utc=True),
    ...     "activity": ["view", "cart", "buy", "view", "cart"]})
    >>> jm.dfg(log)[["source", "target", "count", "cases", "median_seconds"]]
      source target  count  cases  median_seconds
    0   view   cart      2      2           180.0
    1   cart    buy      1      1           120.0
    """
    check_int(min_count, "min_count")
    check_int(top_k, "top_k", allow_none=True)
    needed = [CHANNEL] if channels is not None else []
    if isinstance(segment, str):
        needed.append(segment)
    enc = as_encoded(log, case=case, columns=needed)
    enc = apply_filters(enc, time_range=time_range, channels=channels)
    seg_codes = seg_labels = None
    if segment is not None:
        seg_codes, seg_labels = event_labels(
            enc, segment, param="segment", purpose="dfg(segment=...)"
        )
    return _dfg_frame(enc, seg_codes, seg_labels, min_count=min_count, top_k=top_k)


def _dfg_frame(
    enc: EncodedLog,
    seg_codes: np.ndarray | None,
    seg_labels: pd.Index | None,
    *,
    min_count: int,
    top_k: int | None,
) -> pd.DataFrame:
    with_segment = seg_codes is not None
    n_act = len(enc.activities)
    groups: np.ndarray | None = None
    if seg_codes is None:
        if enc.n_cases == enc.n_events:  # no case has two events
            return _empty_dfg(with_segment)
        edge, cases, micros = _neighbour_pairs(enc)
        stats = edge_statistics({"edge": edge}, cases, micros, overwrite=True)
        stats = stats[stats["edge"].to_numpy() != n_act * n_act]  # the pairs across cases
    else:
        edge, cases, micros, groups = _edge_arrays(enc, seg_codes)
        if len(edge) == 0:
            return _empty_dfg(with_segment)
        stats = edge_statistics({"group": groups, "edge": edge}, cases, micros, overwrite=True)
    stats = stats[stats["count"] >= min_count]
    e = stats["edge"].to_numpy()
    act_rank = rank_of(enc.activities)  # sources and targets sort by label, not by code
    sort_keys = [act_rank[e % n_act], act_rank[e // n_act], -stats["count"].to_numpy()]
    if groups is not None and seg_labels is not None:
        sort_keys.append(rank_of(seg_labels)[stats["group"].to_numpy()])
    stats = stats.iloc[np.lexsort(sort_keys)]
    if top_k is not None:
        if groups is not None:
            stats = stats.groupby("group", sort=False).head(top_k)
        else:
            stats = stats.head(top_k)
    e = stats["edge"].to_numpy()
    out: dict[str, object] = {}
    if groups is not None and seg_labels is not None:
        out[SEGMENT] = seg_labels.take(stats["group"].to_numpy())
    out["source"] = enc.activities.take(e // n_act)
    out["target"] = enc.activities.take(e % n_act)
    for col in DFG_COLUMNS[2:]:
        out[col] = stats[col].to_numpy()
    return pd.DataFrame(out)


def _boundary_activities(log: LogInput, case: str, *, last: bool) -> pd.DataFrame:
    enc = as_encoded(log, case=case)
    bounds = enc.case_bounds
    pos = bounds[1:] - 1 if last else bounds[:-1]
    counts = np.bincount(enc.activity_codes[pos], minlength=len(enc.activities))
    codes = np.flatnonzero(counts)
    order = np.lexsort((rank_of(enc.activities)[codes], -counts[codes]))
    codes = codes[order]
    return pd.DataFrame(
        {ACTIVITY: enc.activities.take(codes), "count": counts[codes].astype(np.int64)}
    )


def start_activities(log: LogInput, *, case: str = CUSTOMER_ID) -> pd.DataFrame:
    """How many cases start with each activity.

    Parameters
    ----------
    log : DataFrame, path or EncodedLog
        Event log (need not be sorted). A case starts with its earliest event; events at the
        same time keep their input order.
    case : str, default "customer_id"
        Case column.

    Returns
    -------
    DataFrame
        ``activity, count``: one row per activity that starts a case, sorted by count
        descending, then activity. The counts add up to the number of cases.

    See Also
    --------
    end_activities : The same count over the last event of each case.
    variants : Whole journeys, or their first steps (``max_steps``).

    Examples
    --------
    >>> import journeymine as jm
    >>> log = jm.datasets.make_journeys(n_customers=200, days=60, random_state=0).events
    >>> starts = jm.start_activities(log)
    >>> int(starts["count"].sum()) == log["customer_id"].nunique()
    True
    """
    return _boundary_activities(log, case, last=False)


def end_activities(log: LogInput, *, case: str = CUSTOMER_ID) -> pd.DataFrame:
    """How many cases end with each activity.

    Parameters
    ----------
    log : DataFrame, path or EncodedLog
        Event log (need not be sorted). A case ends with its latest event; of events at the
        same time, the last in input order.
    case : str, default "customer_id"
        Case column.

    Returns
    -------
    DataFrame
        ``activity, count``: one row per activity that ends a case (where journeys stop, e.g.
        after a purchase or abandoned in a cart), sorted by count descending, then activity.

    See Also
    --------
    start_activities : The same count over the first event of each case.
    variants : Whole journeys, or their last steps (``max_steps`` with ``from_end=True``).

    Examples
    --------
    >>> import pandas as pd
    >>> import journeymine as jm
    >>> log = pd.DataFrame({"customer_id": ["a", "a", "a", "b", "b", "c", "c"],
    ...     "activity": ["view", "cart", "buy", "view", "cart", "view", "cart"],
    ...     "timestamp": pd.to_datetime([1, 2, 3, 1, 2, 1, 2], unit="D", utc=True)})
    >>> jm.end_activities(log)
      activity  count
    0     cart      2
    1      buy      1
    """
    return _boundary_activities(log, case, last=True)


def bottlenecks(
    log: LogInput,
    *,
    case: str = CUSTOMER_ID,
    top_k: int = 10,
    min_count: int = 5,
) -> pd.DataFrame:
    """The directly-follows steps that take longest (by median time), among frequent steps.

    Parameters
    ----------
    log : DataFrame, path or EncodedLog
        Event log (need not be sorted).
    case : str, default "customer_id"
        Case column.
    top_k : int, default 10
        Number of edges to return.
    min_count : int, default 5
        Minimum support: edges seen fewer times are ignored (a single slow pair is no
        bottleneck).

    Returns
    -------
    DataFrame
        The :func:`dfg` columns, sorted by ``median_seconds`` descending, then count descending.

    Examples
    --------
    >>> import journeymine as jm
    >>> log = jm.datasets.make_journeys(n_customers=200, days=60, random_state=0).events
    >>> slow = jm.bottlenecks(log, top_k=3)
    >>> len(slow), bool(slow["median_seconds"].is_monotonic_decreasing)
    (3, True)
    """
    check_int(top_k, "top_k")
    check_int(min_count, "min_count")
    edges = dfg(log, case=case, min_count=min_count)
    order = np.lexsort((-edges["count"].to_numpy(), -edges["median_seconds"].to_numpy()))
    return edges.iloc[order[:top_k]].reset_index(drop=True)
