"""Ordered funnels: how many cases reach each step, in order, optionally within a time limit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pandas as pd

from journeymine.compat import renamed_keywords
from journeymine.engine import EncodedLog, LogInput, as_encoded
from journeymine.exceptions import ConfigError
from journeymine.journeys._common import Segments, activity_code, event_labels, sort_labels
from journeymine.schema import CUSTOMER_ID, check_duration

__all__ = ["funnel"]

_SEGMENT = "segment"


def _within_micros(within: str | pd.Timedelta | dt.timedelta | None) -> int | None:
    if within is None:
        return None
    delta = check_duration(within, "within", examples="'7D', '30min' or a Timedelta")
    return int(delta // pd.Timedelta(1, unit="us"))


@renamed_keywords(by="segment")
def funnel(
    log: LogInput,
    steps: Sequence[str],
    *,
    within: str | pd.Timedelta | dt.timedelta | None = None,
    segment: Segments | None = None,
    case: str = CUSTOMER_ID,
) -> pd.DataFrame:
    """Ordered funnel: how many cases reach each step after the previous one.

    A case enters at its first occurrence of ``steps[0]``; step ``k`` counts when the case has
    ``steps[k]`` later than the event matched for step ``k - 1`` (later in the sorted order:
    timestamp, then input order), taking the earliest such event, and, with ``within``, no
    later than ``within`` after the entry event (inclusive). Other events in between are
    allowed.

    Parameters
    ----------
    log : DataFrame, path or EncodedLog
        Event log (need not be sorted).
    steps : list of str
        Activities in funnel order (an activity may repeat).
    within : str or Timedelta, optional
        Time limit from the entry event, e.g. ``"7D"`` or ``"30min"``.
    segment : str, dict or Series, optional
        Split the funnel, as ``segment`` of :func:`journeymine.dfg`: a column name (its value
        on the entry event, e.g. ``"channel"``), or a mapping customer_id -> label such as
        personas. Adds a column named after the column (or the Series name, else
        ``segment``). Renamed from ``by`` (which still works, with a ``FutureWarning``, until
        the next minor release).
    case : str, default "customer_id"
        Case column.

    Returns
    -------
    DataFrame
        ``[segment,] step, activity, cases, conversion, step_conversion, drop_off``: ``step`` counts
        from 1, ``conversion`` is the share of the cases that entered at step 1,
        ``step_conversion`` the share of the previous step's cases, ``drop_off`` the cases lost
        since the previous step.

    Raises
    ------
    UnknownActivityError
        A step is not an activity of the log (the message suggests the closest one).
    ConfigError
        No steps, or a bad ``within``.

    Examples
    --------
    >>> import pandas as pd
    >>> import journeymine as jm
    >>> log = pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "b", "b", "c"],
    ...     "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03",
    ...         "2025-01-01", "2025-01-20", "2025-01-01"], utc=True),
    ...     "activity": ["view", "cart", "buy", "view", "cart", "view"]})
    >>> jm.funnel(log, ["view", "cart", "buy"])
       step activity  cases  conversion  step_conversion  drop_off
    0     1     view      3    1.000000         1.000000         0
    1     2     cart      2    0.666667         0.666667         1
    2     3      buy      1    0.333333         0.500000         1
    >>> jm.funnel(log, ["view", "cart"], within="7D")["cases"].tolist()
    [3, 1]
    """
    if isinstance(steps, str) or not isinstance(steps, Sequence) or len(steps) == 0:
        raise ConfigError(
            f"steps={steps!r} is not allowed; pass a non-empty list of activities in funnel "
            f"order, e.g. ['view_product', 'add_to_cart', 'purchase']."
        )
    within_us = _within_micros(within)
    enc = as_encoded(log, case=case, columns=[segment] if isinstance(segment, str) else [])
    codes = [activity_code(enc, s, purpose="funnel step") for s in steps]
    if segment is not None:
        labels_per_event, labels = event_labels(
            enc, segment, param="segment", purpose="funnel(segment=...)"
        )
    else:
        labels_per_event, labels = None, pd.Index([0])
    counts = step_counts(enc, codes, within_us, labels_per_event, len(labels))
    name = _segment_name(segment) if segment is not None else None
    return funnel_frame(counts, steps, labels, name)


def step_counts(
    enc: EncodedLog,
    codes: Sequence[int],
    within_us: int | None,
    labels_per_event: np.ndarray | None = None,
    n_groups: int = 1,
) -> np.ndarray:
    """Cases reaching each step (rows) per group (columns), for the step activity ``codes``
    of ``enc`` (the definition of :func:`funnel`). Counts of disjoint sets of cases add up,
    so a log split by case can be counted part by part."""
    c, a, t = enc.case_codes, enc.activity_codes, enc.timestamps
    ev = np.flatnonzero(a == codes[0])
    entry = ev[np.concatenate(([True], c[ev[1:]] != c[ev[:-1]]))] if len(ev) else ev
    if labels_per_event is not None:
        group = labels_per_event[entry].astype(np.int64)
    else:
        group = np.zeros(len(entry), dtype=np.int64)
    reached = [np.bincount(group, minlength=n_groups)]
    cur, t0 = entry, t[entry]
    for code in codes[1:]:
        evk = np.flatnonzero(a == code)
        if len(cur) and len(evk):
            j = np.searchsorted(evk, cur, side="right")
            ok = j < len(evk)
            nxt = evk[np.minimum(j, len(evk) - 1)]
            ok &= c[nxt] == c[cur]
            if within_us is not None:
                ok &= (t[nxt] - t0) <= within_us
            cur, t0, group = nxt[ok], t0[ok], group[ok]
        else:
            cur, t0, group = cur[:0], t0[:0], group[:0]
        reached.append(np.bincount(group, minlength=n_groups))
    return np.vstack(reached)  # steps x groups


def funnel_frame(
    counts: np.ndarray, steps: Sequence[str], labels: pd.Index, segment_name: str | None
) -> pd.DataFrame:
    """The funnel table of :func:`funnel` from the step counts (steps x groups)."""
    prev = np.vstack([counts[:1], counts[:-1]])
    rows = []
    for g in sort_labels(labels):
        if counts[0, g] == 0:
            continue
        frame = pd.DataFrame(
            {
                "step": np.arange(1, len(steps) + 1, dtype=np.int64),
                "activity": pd.array([str(s) for s in steps], dtype="str"),
                "cases": counts[:, g].astype(np.int64),
                "conversion": counts[:, g] / counts[0, g],
                "step_conversion": np.divide(
                    counts[:, g], prev[:, g], out=np.zeros(len(steps)), where=prev[:, g] > 0
                ),
                "drop_off": (prev[:, g] - counts[:, g]).astype(np.int64),
            }
        )
        if segment_name is not None:
            frame.insert(0, segment_name, labels[g])
        rows.append(frame)
    return pd.concat(rows, ignore_index=True)


def _segment_name(segment: Segments) -> str:
    if isinstance(segment, str):
        return segment
    if isinstance(segment, pd.Series) and isinstance(segment.name, str) and segment.name:
        return segment.name
    return _SEGMENT
