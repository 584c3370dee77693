"""Paths out of / into an activity (Sankey-ready) and channel switches between events."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from journeymine.engine import LogInput, as_encoded
from journeymine.exceptions import ConfigError
from journeymine.journeys._common import activity_code, check_int, rank_of
from journeymine.schema import CHANNEL, CUSTOMER_ID

__all__ = ["channel_switches", "paths"]


def paths(
    log: LogInput,
    activity: str,
    *,
    direction: Literal["after", "before"] = "after",
    max_steps: int = 3,
    top_k: int | None = None,
    case: str = CUSTOMER_ID,
) -> pd.DataFrame:
    """Where journeys go after (or come from before) an activity: Sankey-ready transitions.

    Each case is anchored at its first occurrence of ``activity``. After it, step ``s`` is the
    transition from the event ``s - 1`` places after the anchor to the one ``s`` places after
    (step 1 leaves the anchor). Before it, step ``-s`` is the transition from the event ``s``
    places before the anchor to the one ``s - 1`` places before (step -1 enters the anchor), so
    sorting by ``step`` gives the flow order. Cases that end (or start) earlier simply stop.

    Parameters
    ----------
    log : DataFrame, path or EncodedLog
        Event log (need not be sorted).
    activity : str
        The anchor activity.
    direction : {"after", "before"}, default "after"
        Paths out of the activity, or into it.
    max_steps : int, default 3
        How many transitions to follow from the anchor.
    top_k : int, optional
        Keep the ``top_k`` most common transitions per step.
    case : str, default "customer_id"
        Case column.

    Returns
    -------
    DataFrame
        ``step, source, target, cases``, sorted by step, then cases descending. For a Sankey
        diagram, label nodes by (step, activity) so that repeated activities stay apart.

    Raises
    ------
    UnknownActivityError
        ``activity`` is not in the log (with did-you-mean).

    Examples
    --------
    >>> import pandas as pd
    >>> import journeymine as jm
    >>> log = pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "a", "b", "b", "b"],
    ...     "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04",
    ...                                  "2025-01-01", "2025-01-02", "2025-01-03"], utc=True),
    ...     "activity": ["view", "cart", "view", "buy", "view", "cart", "buy"]})

    Customer a views twice; its paths leave from the first view only:

    >>> jm.paths(log, "view", max_steps=2)
       step source target  cases
    0     1   view   cart      2
    1     2   cart    buy      1
    2     2   cart   view      1
    >>> jm.paths(log, "buy", direction="before", max_steps=1)
       step source target  cases
    0    -1   cart    buy      1
    1    -1   view    buy      1
    """
    if direction not in ("after", "before"):
        raise ConfigError(f"direction={direction!r} is not allowed; use 'after' or 'before'.")
    check_int(max_steps, "max_steps")
    check_int(top_k, "top_k", allow_none=True)
    enc = as_encoded(log, case=case)
    code = activity_code(enc, activity, purpose="paths")
    c, a, bounds = enc.case_codes, enc.activity_codes, enc.case_bounds
    ev = np.flatnonzero(a == code)
    anchor = ev[np.concatenate(([True], c[ev[1:]] != c[ev[:-1]]))]
    k = np.searchsorted(bounds, anchor, side="right") - 1
    lo, hi = bounds[k], bounds[k + 1]
    n_act = np.int64(len(enc.activities))
    act_rank = rank_of(enc.activities)
    frames = []
    for s in range(1, max_steps + 1):
        if direction == "after":
            src, step = anchor + s - 1, s
            ok = anchor + s < hi
        else:
            src, step = anchor - s, -s
            ok = src >= lo
        src = src[ok]
        pair = a[src].astype(np.int64) * n_act + a[src + 1]
        counts = np.bincount(pair, minlength=int(n_act * n_act))
        pairs = _ranked_pairs(counts, act_rank)
        if top_k is not None:
            pairs = pairs[:top_k]
        frames.append(
            pd.DataFrame(
                {
                    "step": np.full(len(pairs), step, dtype=np.int64),
                    "source": enc.activities.take(pairs // n_act),
                    "target": enc.activities.take(pairs % n_act),
                    "cases": counts[pairs].astype(np.int64),
                }
            )
        )
    if direction == "before":
        frames.reverse()
    return pd.concat(frames, ignore_index=True)


def channel_switches(log: LogInput, *, case: str = CUSTOMER_ID) -> pd.DataFrame:
    """Channel of each event against the channel of the next event of the same case.

    Parameters
    ----------
    log : DataFrame, path or EncodedLog
        Event log with a ``channel`` column (need not be sorted).
    case : str, default "customer_id"
        Case column.

    Returns
    -------
    DataFrame
        ``from_channel, to_channel, count, share``: consecutive event pairs inside a case
        (``from_channel == to_channel`` means staying on the channel); ``share`` is the share
        of the ``from_channel`` row, so shares add up to 1 per from_channel. Sorted by count
        descending, then channels.

    Examples
    --------
    >>> import pandas as pd
    >>> import journeymine as jm
    >>> log = pd.DataFrame([
    ...     ("a", "2025-01-01", "email_open", "email"),
    ...     ("a", "2025-01-02", "view", "web"),
    ...     ("a", "2025-01-03", "buy", "web"),
    ...     ("b", "2025-01-01", "view", "app"),
    ...     ("b", "2025-01-02", "buy", "store"),
    ... ], columns=["customer_id", "timestamp", "activity", "channel"])
    >>> jm.channel_switches(log)
      from_channel to_channel  count  share
    0          app      store      1    1.0
    1        email        web      1    1.0
    2          web        web      1    1.0
    """
    enc = as_encoded(log, case=case, columns=[CHANNEL])
    ch, labels = enc.attribute(CHANNEL, purpose="channel_switches")
    c = enc.case_codes
    same = c[1:] == c[:-1]
    n = np.int64(len(labels))
    pair = ch[:-1][same].astype(np.int64) * n + ch[1:][same]
    counts = np.bincount(pair, minlength=int(n * n))
    rows = counts.reshape(int(n), int(n)).sum(axis=1)
    pairs = _ranked_pairs(counts, rank_of(labels))
    return pd.DataFrame(
        {
            "from_channel": labels.take(pairs // n),
            "to_channel": labels.take(pairs % n),
            "count": counts[pairs].astype(np.int64),
            "share": counts[pairs] / rows[pairs // n],
        }
    )


def _ranked_pairs(counts: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """The pair codes ``source * n + target`` (``n = len(rank)``) that occur in ``counts``,
    most frequent first, then by the ``rank`` of the source and of the target."""
    n = np.int64(len(rank))
    pairs = np.flatnonzero(counts)
    return pairs[np.lexsort((rank[pairs % n], rank[pairs // n], -counts[pairs]))]
