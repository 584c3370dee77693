"""Split each customer's events into sessions separated by inactivity."""

from __future__ import annotations

import numpy as np
import pandas as pd

from journeymine import schema
from journeymine.compat import renamed_keywords
from journeymine.exceptions import EventLogError

__all__ = ["session_numbers", "sessionize"]


def _gap(session_gap: str | pd.Timedelta) -> np.timedelta64:
    td = schema.check_duration(
        session_gap, "session_gap", examples="'30min', '2h' or pd.Timedelta(minutes=30)"
    )
    return td.to_timedelta64().astype("timedelta64[us]")


@renamed_keywords(gap="session_gap")
def sessionize(
    log: pd.DataFrame, *, session_gap: str | pd.Timedelta = "30min", by_channel: bool = False
) -> pd.DataFrame:
    """Assign ``session_id``: a customer's new session starts after more than ``session_gap``
    without events (and, with ``by_channel``, whenever the channel changes).

    Returns a new DataFrame in the input's row order; an existing ``session_id`` is replaced.
    Session ids are ``"<customer_id>:<n>"`` with ``n`` counting the customer's sessions in
    time order from 1. Rows need not be sorted; equal timestamps keep their row order.

    Parameters
    ----------
    log : DataFrame
        A canonical log (``customer_id``, ``timestamp``; ``channel`` when ``by_channel``).
    session_gap : str or Timedelta, default "30min"
        Longest inactivity inside one session (a gap equal to it does not split), as
        ``session_gap`` of :class:`journeymine.CustomerFeaturizer` and
        :func:`journeymine.compare_periods`. Renamed from ``gap`` (which still works, with a
        ``FutureWarning``, until the next minor release).
    by_channel : bool, default False
        Also start a new session when the customer switches channel.

    Returns
    -------
    DataFrame
        ``log`` with a ``session_id`` column (str).

    Raises
    ------
    ConfigError
        ``session_gap`` is not a positive duration.
    TypeError
        Both ``gap`` and ``session_gap`` are given.
    MissingColumnError
        A needed column is absent.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "b"],
    ...     "timestamp": pd.to_datetime(["2025-01-01 10:00", "2025-01-01 10:20",
    ...                                  "2025-01-01 12:00", "2025-01-01 10:00"], utc=True),
    ...     "activity": ["view", "cart", "view", "view"],
    ... })
    >>> sessionize(log, session_gap="30min")["session_id"].tolist()
    ['a:1', 'a:1', 'a:2', 'b:1']
    """
    session_of_row, labels = _sessions(log, session_gap, by_channel, "sessionize")
    text = (pd.Series(labels[0], dtype="str") + ":" + pd.Series(labels[1]).astype("str")).to_numpy()
    out = log.copy(deep=False)
    out[schema.SESSION_ID] = pd.Series(text[session_of_row], index=log.index, dtype="str")
    canonical = [col for col in schema.CANONICAL_COLUMNS if col in out.columns]
    return out[canonical + [col for col in out.columns if col not in canonical]]


def session_numbers(
    log: pd.DataFrame, *, session_gap: str | pd.Timedelta = "30min", by_channel: bool = False
) -> np.ndarray:
    """Each row's session as an integer: the sessions of :func:`sessionize` without building
    their text ids, for code that only groups rows by session. Sessions are numbered customer
    by customer, in the order the customers first appear, and in time order within each.

    Examples
    --------
    >>> import pandas as pd
    >>> log = pd.DataFrame({
    ...     "customer_id": ["b", "a", "a", "a"],
    ...     "timestamp": pd.to_datetime(["2025-01-01 10:00", "2025-01-01 10:00",
    ...                                  "2025-01-01 10:20", "2025-01-01 12:00"], utc=True),
    ... })
    >>> session_numbers(log).tolist()
    [0, 1, 1, 2]
    """
    return _sessions(log, session_gap, by_channel, "session_numbers")[0]


def _sessions(
    log: pd.DataFrame, session_gap: str | pd.Timedelta, by_channel: bool, what: str
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Each row's session number (see :func:`session_numbers`) and, per session, its customer
    id and its number among the customer's sessions (from 1)."""
    gap64 = _gap(session_gap)
    needed = [schema.CUSTOMER_ID, schema.TIMESTAMP] + ([schema.CHANNEL] if by_channel else [])
    schema.require_columns(log, needed, purpose=what)
    n = len(log)
    ts = log[schema.TIMESTAMP]
    if not pd.api.types.is_datetime64_any_dtype(ts.dtype):
        raise EventLogError(
            f"timestamp must be datetimes for {what}, got dtype {ts.dtype}. Run "
            f"jm.validate(log) or jm.read_events(...) first."
        )
    for col in (schema.CUSTOMER_ID, schema.TIMESTAMP):
        if log[col].isna().any():
            raise EventLogError(
                f"{col} has nulls; every event needs one to be put in a session. Run "
                f"jm.validate(log) (drop_invalid=True drops such rows)."
            )
    t = ts.to_numpy(dtype="datetime64[us]")
    cust_codes, cust_values = pd.factorize(log[schema.CUSTOMER_ID], use_na_sentinel=False)
    # the stable (customer, time) order; None when the rows are in it (a canonical log)
    order = schema.row_order(cust_codes, len(cust_values), t.view(np.int64))
    if order is None:
        order = np.arange(n)
    c = cust_codes[order]
    ts_sorted = t[order]
    new = np.ones(n, dtype=bool)
    if n > 1:
        same = c[1:] == c[:-1]
        split = (ts_sorted[1:] - ts_sorted[:-1]) > gap64
        if by_channel:
            ch_codes, _ = pd.factorize(log[schema.CHANNEL], use_na_sentinel=False)
            ch = ch_codes[order]
            split |= ch[1:] != ch[:-1]
        new[1:] = ~same | split
    session = np.cumsum(new) - 1  # global session number in sorted order
    starts = np.flatnonzero(new)
    first_of_customer = np.ones(len(starts), dtype=bool)
    first_of_customer[1:] = c[starts[1:]] != c[starts[:-1]]
    group_start = np.maximum.accumulate(np.where(first_of_customer, np.arange(len(starts)), 0))
    number = np.arange(len(starts)) - group_start + 1
    session_of_row = np.empty(n, dtype=np.int64)
    session_of_row[order] = session
    return session_of_row, (np.asarray(cust_values, dtype=object)[c[starts]], number)
