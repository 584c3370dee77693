"""The time windows of :func:`~journeymine.personas.track_personas` and their features.

Windows are a frequency cutting the log from its first day (:func:`window_spans`), an explicit
list, or ``"auto"``: the log's days cut into equal windows (:func:`window_edges`), as many as
the persona model allows (:func:`most_windows`) and no more than leave the median customer
``min_events`` events in each (:func:`window_pace`). :func:`window_features` computes each
window's customer features with the one featurizer fitted on the whole log.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from journeymine.exceptions import ConfigError, DataQualityWarning, EmptyLogError
from journeymine.personas.features import (
    _EPOCH,
    CustomerFeaturizer,
    compute_aggregates,
    features_from_aggregates,
)

__all__ = [
    "DAY_US",
    "WindowSpec",
    "most_windows",
    "timestamp_of",
    "window_edges",
    "window_features",
    "window_length_text",
    "window_pace",
    "window_spans",
]

#: Microseconds in a day.
DAY_US = 86_400_000_000

WindowSpec: TypeAlias = str | pd.DateOffset | pd.Timedelta | Sequence[tuple[Any, Any]]


def timestamp_of(us: int) -> pd.Timestamp:
    """Microseconds since the epoch as a UTC timestamp."""
    return pd.Timestamp(us, unit="us", tz="UTC")


def window_edges(span_days: int, n_windows: int) -> list[int]:
    """The edges, in whole days from the log's first day, of ``n_windows`` windows of equal
    length (to a day) covering ``span_days`` days.

    Examples
    --------
    >>> window_edges(240, 2)
    [0, 120, 240]
    >>> window_edges(100, 3)
    [0, 33, 67, 100]
    """
    return [round(k * span_days / n_windows) for k in range(n_windows + 1)]


def window_pace(n_events: np.ndarray, span_days: int, min_events: int) -> tuple[int, str]:
    """The most windows a ``span_days``-day log can be cut into while the median customer, at
    their average pace over the log (``n_events`` per customer), still has ``min_events``
    events in a window (two at least), and what that pace is.

    Examples
    --------
    >>> window_pace(np.array([40, 50, 60]), 180, 10)[0]  # 10 events take 36 days
    5
    >>> window_pace(np.array([4, 5, 6]), 180, 10)[0]  # thin: two windows at least
    2
    """
    span = max(int(span_days), 2)
    pace = float(np.median(n_events)) / span if len(n_events) else 0.0
    need = int(min_events) / pace if pace > 0 else float("inf")
    n = max(2, int(span // need)) if need <= span else 2
    return n, (
        f"the median customer has {pace:.2f} events a day over the log's {span} days, so "
        f"min_events={int(min_events)} events take {need:.0f} days"
    )


def most_windows(holds: Callable[[int], bool], n_max: int) -> int:
    """The most windows ``n`` in ``2..n_max`` for which ``holds(n)``, taking ``holds`` to be
    true up to some count and false beyond it: 2, 3 and 4 are tried in turn (the usual
    answers), then the count doubles until ``holds`` fails or ``n_max`` is reached, and the
    last step is halved until it is found, so a log that allows many windows costs a few
    dozen calls at most. 2 when even 2 fails.

    Examples
    --------
    >>> tried = []
    >>> most_windows(lambda n: tried.append(n) or n <= 3, 10), tried
    (3, [2, 3, 4])
    >>> tried = []
    >>> most_windows(lambda n: tried.append(n) or n <= 11, 100), tried
    (11, [2, 3, 4, 8, 16, 12, 10, 11])
    >>> most_windows(lambda n: False, 10)
    2
    """
    if not holds(2):
        return 2
    lo, hi = 2, None  # holds(lo); not holds(hi)
    while hi is None and lo < n_max:
        n = min(lo + 1 if lo < 4 else 2 * lo, n_max)
        if holds(n):
            lo = n
        else:
            hi = n
    while hi is not None and hi - lo > 1:
        mid = (lo + hi) // 2
        if holds(mid):
            lo = mid
        else:
            hi = mid
    return lo


def window_spans(
    t_min: int, t_max: int, windows: WindowSpec, rolling: bool
) -> tuple[list[tuple[int, int]], bool]:
    """Windows as (start_us, end_us), and whether they were given explicitly."""
    if isinstance(windows, str | pd.DateOffset | pd.Timedelta):
        try:
            offset = pd.tseries.frequencies.to_offset(windows)
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                f"windows={windows!r} is not a frequency. Use e.g. '30D', '7D', 'MS' (month "
                f"starts), 'W-MON', or a list of (start, end) pairs."
            ) from exc
        first = pd.Timestamp(t_min, unit="us", tz="UTC").normalize()
        first = offset.rollback(first) if not isinstance(offset, pd.offsets.Tick) else first
        stop = pd.Timestamp(t_max + 1, unit="us", tz="UTC")
        edges = [first]
        while edges[-1] < stop:
            nxt = edges[-1] + offset
            if nxt <= edges[-1]:
                raise ConfigError(f"windows={windows!r} does not move forward in time.")
            edges.append(nxt)
            if len(edges) > 10_000:
                raise ConfigError(f"windows={windows!r} gives more than 10,000 windows.")
        us = [int((e - _EPOCH) // pd.Timedelta(microseconds=1)) for e in edges]
        step = 2 if rolling else 1
        out = [(us[i], us[i + step]) for i in range(len(us) - step)]
        return out, False
    if isinstance(windows, Sequence):
        out = []
        for k, pair in enumerate(windows):
            try:
                a, b = pair
                sa, sb = pd.Timestamp(a), pd.Timestamp(b)
            except (TypeError, ValueError) as exc:
                raise ConfigError(
                    f"windows[{k}]={pair!r} is not a (start, end) pair of timestamps."
                ) from exc
            sa = sa.tz_localize("UTC") if sa.tzinfo is None else sa.tz_convert("UTC")
            sb = sb.tz_localize("UTC") if sb.tzinfo is None else sb.tz_convert("UTC")
            if not sa < sb:
                raise ConfigError(f"windows[{k}]: start {sa} must be before end {sb}.")
            out.append(
                (
                    int((sa - _EPOCH) // pd.Timedelta(microseconds=1)),
                    int((sb - _EPOCH) // pd.Timedelta(microseconds=1)),
                )
            )
        if len(out) < 1:
            raise ConfigError("windows is an empty list; give at least one (start, end) pair.")
        if rolling:
            raise ConfigError("rolling=True applies to frequency windows, not to a list.")
        return out, True
    raise ConfigError(
        f"windows must be a frequency such as '30D' or 'MS', or a list of (start, end) pairs; "
        f"got {type(windows).__name__}."
    )


def window_features(
    log: pd.DataFrame,
    t: np.ndarray,
    spans: list[tuple[int, int]],
    base_spec: Any,
    fz: CustomerFeaturizer,
    *,
    explicit: bool,
    show_progress: bool,
) -> tuple[list[pd.DataFrame], list[tuple[int, int]]]:
    """Each window's customer features, and the windows that have events (an empty window is
    an error when it was given explicitly, else skipped with a warning)."""
    it: Any = list(enumerate(spans))
    if show_progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="persona windows", unit="window")
    feats: list[pd.DataFrame] = []
    used: list[tuple[int, int]] = []
    for k, (a, b) in it:
        if not ((t >= a) & (t < b)).any():
            msg = f"window {k} [{timestamp_of(a)}, {timestamp_of(b)}) has no events"
            if explicit:
                raise EmptyLogError(f"{msg}. Remove it or widen it.")
            warnings.warn(f"{msg}; it is skipped.", DataQualityWarning, stacklevel=3)
            continue
        spec = dataclasses.replace(base_spec, start_us=a, end_us=b, as_of_us=b)
        ids, agg = compute_aggregates(log, spec, engine=fz.engine, threads=fz.threads)
        feats.append(
            pd.DataFrame(
                features_from_aggregates(agg, spec), index=ids, columns=list(spec.feature_names)
            )
        )
        used.append((a, b))
    if not feats:
        raise EmptyLogError("no window has events; check the windows against the log's span.")
    return feats, used


def window_length_text(spans: Sequence[tuple[int, int]], rolling: bool) -> str:
    """The windows' length for a log line (equal windows: the first one's).

    Examples
    --------
    >>> window_length_text([(0, 60 * DAY_US), (60 * DAY_US, 120 * DAY_US)], False)
    '60 days'
    >>> window_length_text([(0, 80 * DAY_US), (40 * DAY_US, 120 * DAY_US)], True)
    '80 days, each overlapping the next by half'
    """
    days = (spans[0][1] - spans[0][0]) / DAY_US
    return f"{days:.0f} days" + (", each overlapping the next by half" if rolling else "")
