"""The canonical event log: column names, dtypes and :func:`validate`.

This module is the only place where canonical column names are spelled. A canonical log is a
pandas DataFrame with

========== ========================= =========================================================
column     dtype                     meaning
========== ========================= =========================================================
customer_id ``str``                  who (required)
timestamp  ``datetime64[us, UTC]``   when (required; naive input is localized with ``tz``)
activity   ``category``              what (required)
channel    ``category``              where: web, app, email, sms, push, store, call_centre...
                                     (required by multichannel functions, optional otherwise)
session_id ``str``                   optional
journey_id ``str``                   optional: designed journey/campaign that sent a touch
value      ``float64``               optional: money or quantity
event_id   ``str``                   optional: unique event key (used for duplicate checks)
device_id  ``str``                   optional: device/cookie id (identity stitching)
========== ========================= =========================================================

Any other column is kept as it is, after the canonical ones. Rows are sorted by
(customer_id, timestamp), ties kept in input order.
"""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Sequence
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

from journeymine.exceptions import (
    ConfigError,
    DataQualityWarning,
    EmptyLogError,
    EventLogError,
    MissingColumnError,
    RowsDroppedWarning,
    did_you_mean,
)

__all__ = [
    "ACTIVITY",
    "CANONICAL_COLUMNS",
    "CHANNEL",
    "CUSTOMER_ID",
    "DEVICE_ID",
    "EVENT_ID",
    "JOURNEY_ID",
    "OPTIONAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "SESSION_ID",
    "TIMESTAMP",
    "TIMESTAMP_DTYPE",
    "VALUE",
    "require_columns",
    "summarize",
    "validate",
]

CUSTOMER_ID: Final = "customer_id"
TIMESTAMP: Final = "timestamp"
ACTIVITY: Final = "activity"
CHANNEL: Final = "channel"
SESSION_ID: Final = "session_id"
JOURNEY_ID: Final = "journey_id"
VALUE: Final = "value"
EVENT_ID: Final = "event_id"
DEVICE_ID: Final = "device_id"

REQUIRED_COLUMNS: Final[tuple[str, ...]] = (CUSTOMER_ID, TIMESTAMP, ACTIVITY)
OPTIONAL_COLUMNS: Final[tuple[str, ...]] = (
    CHANNEL,
    SESSION_ID,
    JOURNEY_ID,
    VALUE,
    EVENT_ID,
    DEVICE_ID,
)
CANONICAL_COLUMNS: Final[tuple[str, ...]] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
ID_COLUMNS: Final[tuple[str, ...]] = (CUSTOMER_ID, SESSION_ID, JOURNEY_ID, EVENT_ID, DEVICE_ID)
CATEGORY_COLUMNS: Final[tuple[str, ...]] = (ACTIVITY, CHANNEL)
TIMESTAMP_DTYPE: Final = pd.DatetimeTZDtype(unit="us", tz="UTC")
STRING_DTYPE: Final = "str"

_MAX_ROWS_SHOWN = 5
# an offset only counts after a time of day: "2025-01-01" ends in "-01" but has no offset
_OFFSET_RE = r"\d:\d\d(?::\d\d(?:[.,]\d+)?)?\s*(?:[Zz]|UTC|GMT|[+-]\d\d(?::?\d\d)?)\s*$"

Duplicates = Literal["warn", "raise", "drop", "keep"]
TimestampUnit = Literal["s", "ms", "us", "ns"]


def _rows(mask: np.ndarray | pd.Series) -> str:
    """Describe the first positions where ``mask`` is true, e.g. ``rows 3, 17 and 2 more``."""
    pos = np.flatnonzero(np.asarray(mask))
    shown = ", ".join(str(p) for p in pos[:_MAX_ROWS_SHOWN])
    more = f" and {len(pos) - _MAX_ROWS_SHOWN} more" if len(pos) > _MAX_ROWS_SHOWN else ""
    return f"row{'s' if len(pos) > 1 else ''} {shown}{more} (0-based positions)"


def require_columns(log: pd.DataFrame, columns: Sequence[str], *, purpose: str = "") -> None:
    """Raise :class:`MissingColumnError` naming every absent column, the closest match and the
    available columns.

    Examples
    --------
    >>> import pandas as pd
    >>> require_columns(pd.DataFrame({"custmer_id": ["a"]}), ["customer_id"])
    Traceback (most recent call last):
    ...
    journeymine.exceptions.MissingColumnError: missing column 'customer_id' (Did you mean ...
    """
    available = [str(c) for c in log.columns]
    missing = [c for c in columns if c not in log.columns]
    if not missing:
        return
    parts = []
    for c in missing:
        hint = did_you_mean(c, [a for a in available if a not in columns])
        parts.append(f"{c!r} ({hint.strip()})" if hint else repr(c))
    why = (
        f" {purpose[0].upper() + purpose[1:]} needs {', '.join(map(repr, columns))}."
        if (purpose)
        else ""
    )
    raise MissingColumnError(
        f"missing column{'s' if len(missing) > 1 else ''} {', '.join(parts)}."
        + why
        + f" Available columns: {available}. Map your names when reading, e.g. "
        f"jm.read_events(path, columns={{'your_name': {missing[0]!r}}}).",
    )


def _positions(null: np.ndarray, sub: np.ndarray, n: int) -> np.ndarray:
    """A full-length mask from a mask over the non-null rows."""
    mask = np.zeros(n, dtype=bool)
    mask[np.flatnonzero(~null)[sub]] = True
    return mask


def _to_string_ids(
    s: pd.Series, name: str, problems: list[str], *, coerce: bool
) -> tuple[pd.Series, np.ndarray]:
    """Return ids as pandas strings and a mask of null ids. Non-string ids are a problem unless
    ``coerce`` (then they are converted with ``str``)."""
    null = s.isna().to_numpy()
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    if pd.api.types.is_string_dtype(s.dtype) and s.dtype != object:
        return s.astype(STRING_DTYPE), null
    values = s[~null]
    if s.dtype == object:
        non_str = ~values.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
    else:
        non_str = np.ones(len(values), dtype=bool)
    if non_str.any() and not coerce:
        kinds = sorted({type(v).__name__ for v in values[non_str].head(1000)})
        problems.append(
            f"{name} must hold strings, found {', '.join(kinds)} values in "
            f"{_rows(_positions(null, non_str, len(s)))}"
            f" (dtype {s.dtype}). Ids are text so that '007' and '7' stay different: convert "
            f"with df[{name!r}] = df[{name!r}].astype(str), or pass coerce_ids=True."
        )
    out = s.astype(object).where(null, s.astype(str)) if non_str.any() else s
    return out.astype(STRING_DTYPE), null


def _parse_timestamps(
    s: pd.Series,
    *,
    tz: str,
    unit: TimestampUnit | None,
    problems: list[str],
) -> tuple[pd.Series, np.ndarray]:
    """Return UTC timestamps and a mask of rows that are null or could not be parsed."""
    null = s.isna().to_numpy()
    dtype = s.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        out = s.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(dtype):
        out = s.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    elif pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
        if unit is None:
            problems.append(
                "timestamp is numeric (epoch numbers) but no unit was given: pass "
                "timestamp_unit='s', 'ms', 'us' or 'ns' (GA4 exports use 'us', Mixpanel 's')."
            )
            return pd.Series(pd.NaT, index=s.index, dtype=TIMESTAMP_DTYPE), null
        out = pd.to_datetime(s, unit=unit, utc=True, errors="coerce")
    else:
        text = s.astype(object).where(~null, None)
        is_str = text.map(lambda v: isinstance(v, str)).to_numpy(dtype=bool)
        other = ~is_str & ~null
        if other.any():
            dates = text.map(lambda v: isinstance(v, dt.date | np.datetime64)).to_numpy(bool)
            odd = other & ~dates
            if odd.any():
                problems.append(
                    f"timestamp mixes text or datetimes with other values in {_rows(odd)}, "
                    f"e.g. {text[odd].iloc[0]!r} ({type(text[odd].iloc[0]).__name__}). Give "
                    f"timestamps as ISO 8601 text or datetimes; numbers need timestamp_unit "
                    f"and a numeric column."
                )
                return pd.Series(pd.NaT, index=s.index, dtype=TIMESTAMP_DTYPE), null | odd
            # python datetime objects (possibly mixed aware/naive)
            try:
                out = pd.to_datetime(s, utc=False, errors="raise")
            except (ValueError, TypeError) as exc:
                problems.append(
                    f"timestamp mixes timezone-aware and naive values or unparseable objects "
                    f"({exc}). Make them all timezone-aware, or all naive and pass tz=..."
                )
                return pd.Series(pd.NaT, index=s.index, dtype=TIMESTAMP_DTYPE), null
            return _parse_timestamps(out, tz=tz, unit=unit, problems=problems)
        strs = text.astype(STRING_DTYPE)
        aware = strs.str.contains(_OFFSET_RE, regex=True, na=False).to_numpy(dtype=bool)
        naive = ~aware & ~null
        if aware.any() and naive.any():
            # text that is no date at all is unparseable (reported below), not naive
            naive_text = strs[naive]
            try:
                parsed = pd.to_datetime(naive_text, format="ISO8601", errors="raise")
            except (ValueError, TypeError):
                parsed = pd.to_datetime(naive_text, format="mixed", errors="coerce")
            naive[np.flatnonzero(naive)[parsed.isna().to_numpy()]] = False
        if aware.any() and naive.any():
            problems.append(
                f"timestamp mixes values with a timezone offset and values without one: "
                f"{int(naive.sum())} naive in {_rows(naive)}, e.g. {strs[naive].iloc[0]!r}, "
                f"while e.g. {strs[aware].iloc[0]!r} has an offset. The naive ones are "
                f"ambiguous: add the offset to them, or strip it from all and pass tz=..."
            )
            return pd.Series(pd.NaT, index=s.index, dtype=TIMESTAMP_DTYPE), null | naive
        try:
            out = pd.to_datetime(strs, utc=aware.any(), format="ISO8601", errors="raise")
        except (ValueError, TypeError):
            out = pd.to_datetime(strs, utc=aware.any(), format="mixed", errors="coerce")
        bad = out.isna().to_numpy() & ~null
        if bad.any():
            problems.append(
                f"timestamp could not be parsed in {_rows(bad)}, e.g. "
                f"{strs[bad].iloc[0]!r}. Use ISO 8601 such as '2025-01-31T14:05:00Z', or "
                f"parse the column yourself with pd.to_datetime(..., format=...)."
            )
            null = null | bad
        if not aware.any():  # after the parse check: a DST gap is reported as such below
            out = out.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
        out = out.dt.tz_convert("UTC")
    bad = out.isna().to_numpy() & ~null
    if bad.any():
        problems.append(
            f"timestamp does not exist in timezone {tz!r} (DST gap/overlap) or is out of "
            f"range in {_rows(bad)}. Give timestamps with an explicit offset."
        )
        null = null | bad
    return out.astype(TIMESTAMP_DTYPE), null


def _to_category(s: pd.Series) -> pd.Series:
    if isinstance(s.dtype, pd.CategoricalDtype):
        if pd.api.types.is_string_dtype(s.cat.categories.dtype):
            return s.cat.remove_unused_categories()
        return s.astype(object).where(s.isna(), s.astype(str)).astype("category")
    if not pd.api.types.is_string_dtype(s.dtype) or s.dtype == object:
        s = s.astype(object).where(s.isna(), s.astype(str))
    return s.astype(STRING_DTYPE).astype("category")


def validate(
    log: pd.DataFrame,
    *,
    tz: str = "UTC",
    timestamp_unit: TimestampUnit | None = None,
    duplicates: Duplicates = "warn",
    drop_invalid: bool = False,
    coerce_ids: bool = False,
    require_channel: bool = False,
    sort: bool = True,
) -> pd.DataFrame:
    """Check an event log and return it in canonical form (a new DataFrame; input untouched).

    All problems are collected, then raised together as one :class:`EventLogError` whose
    ``problems`` attribute lists them. Nothing is dropped or changed silently.

    Parameters
    ----------
    log : DataFrame
        Events with at least ``customer_id``, ``timestamp`` and ``activity``.
    tz : str, default "UTC"
        Timezone of naive timestamps (they are localized to it, then converted to UTC).
    timestamp_unit : {"s", "ms", "us", "ns"}, optional
        Unit of numeric (epoch) timestamps. Required when the timestamp column is numeric.
    duplicates : {"warn", "raise", "drop", "keep"}, default "warn"
        Duplicate events (same ``event_id``, or rows equal in every column when there is no
        ``event_id``): warn with a :class:`DataQualityWarning` and keep,
        raise, drop (with a :class:`RowsDroppedWarning` giving the count), or keep quietly.
    drop_invalid : bool, default False
        Drop rows with a null id, activity or channel, or a null/unparseable timestamp instead
        of raising; a :class:`RowsDroppedWarning` reports the count per reason.
    coerce_ids : bool, default False
        Convert non-string ids (e.g. integers) to strings instead of raising.
    require_channel : bool, default False
        Also require the ``channel`` column.
    sort : bool, default True
        Sort by (customer_id, timestamp), keeping input order among ties.

    Returns
    -------
    DataFrame
        The canonical log, index reset to 0..n-1.

    Raises
    ------
    EmptyLogError
        The log has no rows.
    MissingColumnError
        A required column is missing (the message suggests the closest name).
    EventLogError
        Any other problem; ``err.problems`` lists all of them.

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({
    ...     "customer_id": ["b", "a", "a"],
    ...     "timestamp": ["2025-01-02 10:00", "2025-01-01 09:00", "2025-01-01 08:00"],
    ...     "activity": ["view", "purchase", "view"],
    ...     "channel": ["web", "app", "web"],
    ... })
    >>> log = validate(raw)
    >>> log[["customer_id", "activity"]].values.tolist()
    [['a', 'view'], ['a', 'purchase'], ['b', 'view']]
    >>> str(log["timestamp"].dtype)
    'datetime64[us, UTC]'
    """
    if not isinstance(log, pd.DataFrame):
        raise EventLogError(
            f"expected a pandas DataFrame of events, got {type(log).__name__}. Read files with "
            f"jm.read_events(path) or build a DataFrame first."
        )
    if duplicates not in ("warn", "raise", "drop", "keep"):
        raise EventLogError(
            f"duplicates={duplicates!r} is not allowed; use 'warn', 'raise', 'drop' or 'keep'."
        )
    if log.columns.duplicated().any():
        dup = sorted({str(c) for c in log.columns[log.columns.duplicated()]})
        raise EventLogError(f"column names appear twice: {dup}. Rename or drop the copies.")
    required = (*REQUIRED_COLUMNS, CHANNEL) if require_channel else REQUIRED_COLUMNS
    require_columns(log, required, purpose="an event log")
    if len(log) == 0:
        raise EmptyLogError(
            "the event log is empty (0 rows). Check the file, the filters or the time window."
        )

    problems: list[str] = []
    invalid: dict[str, np.ndarray] = {}
    out: dict[str, pd.Series] = {}
    log = log.reset_index(drop=True)

    for col in ID_COLUMNS:
        if col not in log.columns:
            continue
        ids, null = _to_string_ids(log[col], col, problems, coerce=coerce_ids)
        out[col] = ids
        if col == CUSTOMER_ID:
            empty = ids.fillna("").str.strip().eq("").to_numpy(dtype=bool) & ~null
            if empty.any():
                null = null | empty
            if null.any():
                invalid["null or empty customer_id"] = null

    ts, bad_ts = _parse_timestamps(log[TIMESTAMP], tz=tz, unit=timestamp_unit, problems=problems)
    out[TIMESTAMP] = ts
    if bad_ts.any():
        invalid["null or unparseable timestamp"] = bad_ts

    for col in CATEGORY_COLUMNS:
        if col not in log.columns:
            continue
        null = log[col].isna().to_numpy()
        if null.any():
            invalid[f"null {col}"] = null
        out[col] = _to_category(log[col])

    if VALUE in log.columns:
        v = log[VALUE]
        if not pd.api.types.is_numeric_dtype(v.dtype) or pd.api.types.is_bool_dtype(v.dtype):
            num = pd.to_numeric(v, errors="coerce")
            bad = num.isna().to_numpy() & v.notna().to_numpy()
            if bad.any():
                problems.append(
                    f"value must be numeric; {_rows(bad)} are not, e.g. "
                    f"{v[bad].iloc[0]!r}. Clean the column or map another one to 'value'."
                )
            v = num
        out[VALUE] = v.astype("float64")

    keep = np.ones(len(log), dtype=bool)
    for reason, mask in invalid.items():
        if drop_invalid:
            keep &= ~mask
        elif reason.startswith("null or unparseable timestamp"):
            if not any(p.startswith("timestamp") for p in problems):
                problems.append(f"timestamp is null in {_rows(mask)}.")
        else:
            problems.append(
                f"{reason} in {_rows(mask)}. Fill them, or pass drop_invalid=True to drop "
                f"these rows (the count is reported)."
            )
    if problems:
        n = len(problems)
        raise EventLogError(
            f"invalid event log: {n} problem{'s' if n > 1 else ''}:\n- " + "\n- ".join(problems),
            problems,
        )

    extras = [c for c in log.columns if c not in CANONICAL_COLUMNS]
    result = pd.DataFrame(
        {c: out[c] for c in CANONICAL_COLUMNS if c in out} | {c: log[c] for c in extras},
        index=log.index,
    )
    if drop_invalid and not keep.all():
        counts = "; ".join(f"{int(m.sum())} with {r}" for r, m in invalid.items() if m.any())
        warnings.warn(
            f"dropped {int((~keep).sum())} of {len(log)} rows (drop_invalid=True): {counts}.",
            RowsDroppedWarning,
            stacklevel=2,
        )
        result = result[keep]
        if len(result) == 0:
            raise EmptyLogError("every row was invalid; nothing is left after drop_invalid=True.")
        for col in CATEGORY_COLUMNS:
            if col in result.columns:
                result[col] = result[col].cat.remove_unused_categories()

    if duplicates != "keep":
        # without an event_id, a duplicate is a row equal in every column: a start and a
        # complete event at the same instant (XES lifecycle) are two events, not one
        key = [EVENT_ID] if EVENT_ID in result.columns else list(result.columns)
        dup = result.duplicated(subset=key, keep="first").to_numpy()
        if dup.any():
            same = ", ".join(key) if len(key) == 1 else "every column"
            what = f"{int(dup.sum())} duplicate events (same {same})"
            if duplicates == "raise":
                raise EventLogError(
                    f"{what} in {_rows(dup)}. Pass duplicates='drop' to drop them or 'keep'."
                )
            if duplicates == "drop":
                warnings.warn(f"dropped {what}.", RowsDroppedWarning, stacklevel=2)
                result = result[~dup]
            else:
                warnings.warn(
                    f"{what}, kept. Pass duplicates='drop' to remove them or 'keep' to "
                    f"silence this warning.",
                    DataQualityWarning,
                    stacklevel=2,
                )
    if sort:
        result = sort_events(result)
    return result.reset_index(drop=True)


def check_duration(
    value: Any, name: str, *, examples: str = "'30min', '7D' or pd.Timedelta(days=7)"
) -> pd.Timedelta:
    """``value`` (text such as ``'30min'``, a Timedelta or a timedelta) as a positive
    :class:`pandas.Timedelta`; :class:`ConfigError` naming argument ``name`` otherwise.

    Examples
    --------
    >>> check_duration("90min", "gap")
    Timedelta('0 days 01:30:00')
    >>> check_duration("-1h", "gap")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    journeymine.exceptions.ConfigError: gap must be a positive duration such as ..., got '-1h'.
    """
    try:
        td = pd.Timedelta(value)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"{name}={value!r} is not a duration ({exc}); use a pandas duration such as {examples}."
        ) from None
    if pd.isna(td) or td <= pd.Timedelta(0):
        raise ConfigError(f"{name} must be a positive duration such as {examples}, got {value!r}.")
    return td


def sort_events(log: pd.DataFrame) -> pd.DataFrame:
    """Sort by (customer_id, timestamp), keeping the input order among ties (stable)."""
    cust = log[CUSTOMER_ID].to_numpy(dtype=object) if len(log) else np.array([], dtype=object)
    codes, _ = pd.factorize(cust, sort=True)
    order = np.lexsort((log[TIMESTAMP].to_numpy(dtype="datetime64[us]").view("int64"), codes))
    return log.iloc[order]


def summarize(log: pd.DataFrame) -> dict[str, Any]:
    """Counts and ranges of a canonical log: customers, events, activities, channels, dates.

    Examples
    --------
    >>> import pandas as pd
    >>> s = summarize(validate(pd.DataFrame({"customer_id": ["a"], "activity": ["x"],
    ...     "timestamp": ["2025-01-01T00:00:00Z"]})))
    >>> s["customers"], s["events"], s["activities"]
    (1, 1, 1)
    """
    require_columns(log, REQUIRED_COLUMNS, purpose="summarize")
    per_customer = log.groupby(CUSTOMER_ID, observed=True).size()
    out: dict[str, Any] = {
        "customers": int(log[CUSTOMER_ID].nunique()),
        "events": len(log),
        "activities": int(log[ACTIVITY].nunique()),
        "channels": int(log[CHANNEL].nunique()) if CHANNEL in log.columns else 0,
        "start": log[TIMESTAMP].min(),
        "end": log[TIMESTAMP].max(),
        "events_per_customer_median": float(per_customer.median()) if len(log) else 0.0,
    }
    if CHANNEL in log.columns:
        out["channel_counts"] = {
            str(k): int(v) for k, v in log[CHANNEL].value_counts(sort=True).items() if v
        }
    return out
