"""Case durations: first and last event, time between them, number of events."""

from __future__ import annotations

import numpy as np
import pandas as pd

from journeymine.engine import LogInput, as_encoded
from journeymine.journeys._common import rank_of
from journeymine.schema import CUSTOMER_ID, TIMESTAMP_DTYPE

__all__ = ["durations"]


def durations(log: LogInput, *, case: str = CUSTOMER_ID) -> pd.DataFrame:
    """Duration of every case, from its first to its last event.

    Parameters
    ----------
    log : DataFrame, path or EncodedLog
        Event log (need not be sorted).
    case : str, default "customer_id"
        Case column; its values make the output's ``case`` column.

    Returns
    -------
    DataFrame
        One row per case, sorted by case: ``case`` (the case id), ``start`` and ``end``
        (UTC timestamps), ``duration_seconds`` and ``events``.

    Examples
    --------
    >>> import pandas as pd
    >>> import journeymine as jm
    >>> log = pd.DataFrame({"customer_id": ["b", "a", "a"], "activity": ["x", "y", "x"],
    ...     "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-01"], utc=True)})
    >>> jm.durations(log)[["case", "duration_seconds", "events"]]
      case  duration_seconds  events
    0    a           86400.0       2
    1    b               0.0       1
    """
    enc = as_encoded(log, case=case)
    bounds = enc.case_bounds
    first, last = bounds[:-1], bounds[1:] - 1
    codes = enc.case_codes[first]
    order = np.argsort(rank_of(enc.case_ids)[codes], kind="stable")
    first, last, codes = first[order], last[order], codes[order]
    t = enc.timestamps

    def stamps(pos: np.ndarray) -> pd.Series:
        return (
            pd.Series(t[pos].astype("datetime64[us]")).dt.tz_localize("UTC").astype(TIMESTAMP_DTYPE)
        )

    return pd.DataFrame(
        {
            "case": enc.case_ids.take(codes),
            "start": stamps(first),
            "end": stamps(last),
            "duration_seconds": (t[last] - t[first]) / 1e6,
            "events": (last - first + 1).astype(np.int64),
        }
    )
