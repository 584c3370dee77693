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

Plausibility rules (:func:`validate` applies them to every reader's output, so they live here once):

- timestamps must fall in :data:`PLAUSIBLE_RANGE` (``1990-01-01`` included to ``2100-01-01``
  excluded) unless ``plausible_range=`` widens, narrows or disables (``None``) it;
- text dates written day and month first (``01/02/2025``) must be unambiguous and in one order
  per column, unless ``timestamp_format=`` says how to read them;
- epoch numbers must all be in one unit (seconds ~1e9, milliseconds ~1e12, microseconds ~1e15,
  nanoseconds ~1e18);
- ``value`` must be finite with ``abs(value) <= MAX_ABS_VALUE`` (``1e15``); missing is allowed;
- ``activity``, ``channel`` and the id columns hold one scalar per event (no lists, arrays or
  dicts); ``activity``, ``channel`` and ``customer_id`` must not be empty or blank;
- every column name appears once.
"""

from __future__ import annotations

import datetime as dt
import re
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
    "MAX_ABS_VALUE",
    "OPTIONAL_COLUMNS",
    "PLAUSIBLE_RANGE",
    "REQUIRED_COLUMNS",
    "SESSION_ID",
    "TIMESTAMP",
    "TIMESTAMP_DTYPE",
    "VALUE",
    "PlausibleRange",
    "canonical_log",
    "check_unique_columns",
    "implausible_timestamps",
    "plausible_bounds",
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
PlausibleRange = tuple[str | dt.datetime | pd.Timestamp, str | dt.datetime | pd.Timestamp]

PLAUSIBLE_RANGE: Final[tuple[str, str]] = ("1990-01-01", "2100-01-01")
"""Default range of plausible event times: ``[start, end)``, naive bounds read as UTC.

Event timestamps outside it are refused by :func:`validate` and by every reader (or dropped and
counted with ``drop_invalid=True``): dates such as 0001-01-01, 1900-01-01, 2150-01-01 or
9999-12-31 are placeholders, two-digit years or epoch numbers read in the wrong unit
(milliseconds read as seconds land in year 56972), never real customer events. Override it per
call with ``plausible_range=("1970-01-01", "2200-01-01")``, or disable the check with
``plausible_range=None``. Other entry points that take event times (the service, the next best
action) use the same setting through :func:`plausible_bounds` and
:func:`implausible_timestamps`.
"""

MAX_ABS_VALUE: Final[float] = 1e15
"""Largest plausible ``abs(value)`` of one event (money or quantity).

Larger values (and ``inf``, ``-inf``) are refused by :func:`validate` (or dropped and counted with
``drop_invalid=True``): 1e15 is more than any single purchase in any currency unit, and sums of
values below it stay finite and exact to one unit up to ~9e15 (``1e308`` doubles to ``inf``).
Missing values (NaN) are allowed.
"""

_MAX_TEXT: Final = f"{MAX_ABS_VALUE:.0e}".replace("e+", "e")  # '1e15'
# epoch magnitudes: below 1e8 nothing is recognisable, then one unit per factor of 1000
_EPOCH_EDGES: Final = np.array([1e8, 1e11, 1e14, 1e17])
_EPOCH_UNITS: Final[tuple[TimestampUnit, ...]] = ("s", "ms", "us", "ns")
_EPOCH_NAMES: Final = ("seconds", "milliseconds", "microseconds", "nanoseconds")
_PER_SECOND: Final = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}
# a numeric date with the day and the month first: 01/02/2025, 1.2.25, 13-01-2025 10:00
_DAY_MONTH_RE: Final = r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](?:\d{4}|\d{2})(?!\d)"
# pandas reads these words as the time of reading, never an event time
_NOW_WORDS: Final = ("now", "today")


def _rows(mask: np.ndarray | pd.Series) -> str:
    """Describe the first positions where ``mask`` is true, e.g. ``rows 3, 17 and 2 more``."""
    pos = np.flatnonzero(np.asarray(mask))
    shown = ", ".join(str(p) for p in pos[:_MAX_ROWS_SHOWN])
    more = f" and {len(pos) - _MAX_ROWS_SHOWN} more" if len(pos) > _MAX_ROWS_SHOWN else ""
    return f"row{'s' if len(pos) > 1 else ''} {shown}{more} (0-based positions)"


def _example(value: Any, limit: int = 60) -> str:
    """``repr`` of one input value for a message: numpy scalars as Python ones, long ones cut."""
    if isinstance(value, np.generic):
        value = value.item()
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def check_unique_columns(names: Sequence[Any], *, source: str = "") -> None:
    """Raise :class:`EventLogError` when a column name appears more than once.

    Readers call it on the names as written in the file, before pandas renames a second
    ``activity`` to ``activity.1`` (CSV) or one JSON key overwrites the other.

    Examples
    --------
    >>> check_unique_columns(["customer_id", "activity", "activity"], source="'e.csv'")
    Traceback (most recent call last):
    ...
    journeymine.exceptions.EventLogError: column names appear twice: ['activity'] in 'e.csv' ...
    """
    index = pd.Index(list(names), dtype=object)
    if not index.has_duplicates:
        return
    counts = index.value_counts()
    dup = sorted(str(c) for c in counts.index[counts.to_numpy() > 1])
    first = dup[0]
    times = ", ".join(f"{int(counts[c])} named {str(c)!r}" for c in counts.index if counts[c] > 1)
    mapping = (
        f", then map the one you mean with columns={{'your_name': {first!r}}} "
        f"(CLI: --map your_name={first})"
        if first in CANONICAL_COLUMNS
        else ""
    )
    raise EventLogError(
        f"column names appear twice: {dup}{' in ' + source if source else ''} ({times}). "
        f"Allowed: each name once; read as they are, the copies would be renamed (pandas calls "
        f"the second {first!r} {first + '.1'!r}) or overwrite each other. Rename or drop the "
        f"copies in the source{mapping}."
    )


def plausible_bounds(
    plausible_range: PlausibleRange | None = PLAUSIBLE_RANGE,
) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The ``[start, end)`` of ``plausible_range`` as UTC timestamps (None when disabled).

    Naive bounds are read as UTC. A malformed range raises :class:`ConfigError`.

    Examples
    --------
    >>> [str(t) for t in plausible_bounds()]
    ['1990-01-01 00:00:00+00:00', '2100-01-01 00:00:00+00:00']
    >>> plausible_bounds(None) is None
    True
    """
    if plausible_range is None:
        return None
    fix = "use e.g. ('1990-01-01', '2100-01-01'), or None to accept any date"
    if isinstance(plausible_range, str | bytes) or not isinstance(plausible_range, Sequence):
        raise ConfigError(f"plausible_range={plausible_range!r} is not a pair of dates; {fix}.")
    if len(plausible_range) != 2:
        raise ConfigError(
            f"plausible_range={plausible_range!r} has {len(plausible_range)} items, not 2 "
            f"(start, end); {fix}."
        )
    bounds = []
    for bound in plausible_range:
        try:
            t = pd.Timestamp(bound)
        except (ValueError, TypeError, OverflowError) as exc:
            raise ConfigError(
                f"plausible_range={plausible_range!r}: {bound!r} is not a date ({exc}); {fix}."
            ) from None
        if pd.isna(t):
            raise ConfigError(f"plausible_range={plausible_range!r} holds a missing date; {fix}.")
        t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
        bounds.append(t.as_unit("us"))
    lo, hi = bounds
    if lo >= hi:
        raise ConfigError(
            f"plausible_range={plausible_range!r} does not start before it ends; give "
            f"(start, end) with start < end, e.g. ('1990-01-01', '2100-01-01')."
        )
    return lo, hi


def implausible_timestamps(
    timestamps: pd.Series | pd.DatetimeIndex | np.ndarray,
    plausible_range: PlausibleRange | None = PLAUSIBLE_RANGE,
) -> np.ndarray:
    """Boolean mask of the timestamps outside ``plausible_range`` (``[start, end)``).

    Missing timestamps are not flagged; naive timestamps are read as UTC. Vectorised: two
    comparisons on the whole column.

    Examples
    --------
    >>> import pandas as pd
    >>> implausible_timestamps(pd.to_datetime(["2025-01-01", "2150-01-01", None], utc=True))
    array([False,  True, False])
    >>> implausible_timestamps(pd.to_datetime(["2150-01-01"]), None)
    array([False])
    """
    bounds = plausible_bounds(plausible_range)
    idx = pd.DatetimeIndex(timestamps)
    if bounds is None:
        return np.zeros(len(idx), dtype=bool)
    if idx.tz is not None:
        idx = idx.tz_convert(None)
    values = idx.to_numpy()
    lo, hi = (np.datetime64(b.tz_convert(None).as_unit("us").asm8) for b in bounds)
    return np.asarray((values < lo) | (values >= hi), dtype=bool)


def _range_text(bounds: tuple[pd.Timestamp, pd.Timestamp]) -> str:
    def fmt(t: pd.Timestamp) -> str:
        return t.strftime("%Y-%m-%d") if t == t.normalize() else t.isoformat()

    return f"[{fmt(bounds[0])}, {fmt(bounds[1])})"


def _fitting_unit(
    values: np.ndarray, bounds: tuple[pd.Timestamp, pd.Timestamp] | None
) -> TimestampUnit | None:
    """The one epoch unit that puts the median of ``values`` in the plausible range, if any."""
    bounds = bounds or plausible_bounds(PLAUSIBLE_RANGE)
    finite = values[np.isfinite(values)]
    if bounds is None or not len(finite):
        return None
    median = float(np.median(finite))
    lo, hi = bounds[0].timestamp(), bounds[1].timestamp()
    fits = [u for u in _EPOCH_UNITS if lo <= median / _PER_SECOND[u] < hi]
    return fits[0] if len(fits) == 1 else None


def _epoch_units_problem(s: pd.Series, values: np.ndarray, problems: list[str]) -> bool:
    """Report epoch numbers of several magnitudes (seconds next to milliseconds...)."""
    finite = np.isfinite(values)
    kind = np.searchsorted(_EPOCH_EDGES, np.abs(np.where(finite, values, 0)), side="right")
    counts = np.bincount(kind[finite], minlength=len(_EPOCH_EDGES) + 1)[1:]
    present = np.flatnonzero(counts)
    if len(present) < 2:
        return False
    parts = []
    for k in present:
        pos = int(np.flatnonzero(finite & (kind == k + 1))[0])
        n = int(counts[k])
        parts.append(
            f"{_count(n, 'value')} {'looks' if n == 1 else 'look'} like {_EPOCH_NAMES[k]} "
            f"(~1e{9 + 3 * k}, e.g. "
            f"{_example(s.iloc[pos])} in row {pos})"
        )
    major = int(present[np.argmax(counts[present])])
    minor = int(next(k for k in present if k != major))
    problems.append(
        f"timestamp mixes epoch units: {' and '.join(parts)}. Allowed: one unit per column. "
        f"Convert the values to one unit first (e.g. {_EPOCH_NAMES[minor]} "
        f"{'*' if major > minor else '/'} {1000 ** abs(major - minor)} gives "
        f"{_EPOCH_NAMES[major]}), then pass timestamp_unit={_EPOCH_UNITS[major]!r} "
        f"(CLI --timestamp-unit)."
    )
    return True


def _format_hint(example: str, day_first: bool) -> str:
    """A strftime format for a numeric day-month date such as ``'13/01/2025 10:00'``."""
    order = ("%d", "%m") if day_first else ("%m", "%d")
    m = re.match(r"\s*\d{1,2}([/.\-])\d{1,2}[/.\-](\d{4}|\d{2})(.*)$", example)
    if m is None:
        return "/".join(order) + "/%Y"
    sep, year, rest = m.groups()
    fmt = sep.join(order) + sep + ("%Y" if len(year) == 4 else "%y")
    t = re.fullmatch(r"([ T])\d{1,2}:\d{2}(:\d{2})?([.,]\d+)?", rest.rstrip())
    if t:
        fmt += t.group(1) + "%H:%M" + (":%S" if t.group(2) else "")
        fmt += (t.group(3)[0] + "%f") if t.group(3) else ""
    return fmt


def _day_month_problem(strs: pd.Series, problems: list[str]) -> bool:
    """Report numeric dates whose day-month order is ambiguous or mixed within the column.

    ``13/01/2025`` can only be day first, ``01/13/2025`` only month first, ``01/02/2025`` could be
    either (pandas reads it month first). A column may not mix day-first and month-first
    readings, and a column where every such date could be either is ambiguous.
    """
    parts = strs.str.extract(_DAY_MONTH_RE)
    if parts[0].isna().all():
        return False
    a = pd.to_numeric(parts[0]).to_numpy(dtype="float64", na_value=np.nan)
    b = pd.to_numeric(parts[1]).to_numpy(dtype="float64", na_value=np.nan)
    day_first = (a > 12) & (b <= 12)
    month_first = (b > 12) & (a <= 12)
    either = (a <= 12) & (b <= 12) & (a != b)

    def some(mask: np.ndarray, what: str) -> str:
        pos = int(np.flatnonzero(mask)[0])
        return f"{_count(int(mask.sum()), 'date')} {what} (e.g. {strs.iloc[pos]!r} in row {pos})"

    fix_example = strs.iloc[int(np.flatnonzero(day_first | month_first | either)[0])]
    fix = (
        f"Pass timestamp_format={_format_hint(fix_example, True)!r} if the day comes first, or "
        f"{_format_hint(fix_example, False)!r} if the month does (CLI --timestamp-format), or "
        f"write the dates as ISO 8601 ('2025-01-31')."
    )
    if day_first.any() and (month_first.any() or either.any()):
        others = []
        if month_first.any():
            others.append(some(month_first, "can only be month first"))
        if either.any():
            others.append(some(either, "could be either and would be read month first"))
        problems.append(
            f"timestamp mixes day-first and month-first dates: "
            f"{some(day_first, 'can only be day first')}, while {' and '.join(others)}. "
            f"Allowed: one order per column. {fix}"
        )
        return True
    if either.any() and not month_first.any() and not day_first.any():
        problems.append(
            f"timestamp has ambiguous dates: {some(either, 'could be day first or month first')}"
            f" and no date has a day above 12 that would tell the order. Allowed: dates whose "
            f"order is known. {fix}"
        )
        return True
    return False


_SCALAR_KINDS: Final = frozenset(
    {
        "string", "empty", "integer", "floating", "mixed-integer-float", "boolean", "decimal",
        "datetime", "datetime64", "date", "time", "timedelta", "timedelta64", "period",
        "interval", "bytes", "complex", "categorical",
    }
)  # fmt: skip


def _non_scalar(s: pd.Series) -> np.ndarray | None:
    """Mask of lists, arrays, dicts... in ``s`` (None when there are none).

    One C pass (``infer_dtype``) decides for homogeneous columns; only mixed object columns are
    checked value by value.
    """
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = _non_scalar(pd.Series(s.cat.categories.to_numpy(dtype=object), dtype=object))
        if cats is None:
            return None
        mask = np.isin(s.cat.codes.to_numpy(), np.flatnonzero(cats))
        return mask if mask.any() else None
    if s.dtype != object or pd.api.types.infer_dtype(s, skipna=True) in _SCALAR_KINDS:
        return None
    mask = ~s.map(pd.api.types.is_scalar).to_numpy(dtype=bool)
    return mask if mask.any() else None


def _non_scalar_problem(s: pd.Series, name: str, mask: np.ndarray) -> str:
    values = s[mask]
    kinds = sorted({type(v).__name__ for v in values.head(1000)})
    return (
        f"{name} holds {_count(int(mask.sum()), 'non-scalar value')} ({', '.join(kinds)}) in "
        f"{_rows(mask)}, e.g. {_example(values.iloc[0])}. Allowed: one value per event. Pick "
        f"one element, or make one event per element with df.explode({name!r}) before "
        f"reading, or map another column to {name!r} with columns={{...}} (CLI --map)."
    )


def _blank(s: pd.Series) -> np.ndarray:
    """Mask of empty or whitespace-only values of a category (or text) column."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = s.cat.categories
        blank = np.flatnonzero(cats.astype(str).str.strip() == "")
        if not len(blank):
            return np.zeros(len(s), dtype=bool)
        return np.isin(s.cat.codes.to_numpy(), blank)
    text = s.fillna("").astype(STRING_DTYPE)
    return text.str.strip().eq("").to_numpy(dtype=bool) & s.notna().to_numpy(dtype=bool)


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


def _check_tz(tz: Any) -> None:
    """:class:`ConfigError` unless ``tz`` names a timezone pandas can localize to."""
    fix = "use an IANA name such as 'Europe/Paris' or 'UTC', or an offset such as '+02:00'"
    if not isinstance(tz, str | dt.tzinfo) or (isinstance(tz, str) and not tz.strip()):
        raise ConfigError(f"tz={tz!r} is not a timezone; {fix} (CLI --tz).")
    try:
        pd.Timestamp("2025-01-01").tz_localize(tz)
    except (LookupError, ValueError, TypeError, AttributeError) as exc:
        raise ConfigError(f"tz={tz!r} is not a known timezone ({exc}); {fix} (CLI --tz).") from None


def _iso_text(value: Any) -> Any:
    """A date or datetime object as ISO 8601 text (offset kept); text and None as they are."""
    if isinstance(value, np.datetime64):
        value = pd.Timestamp(value)
    return value.isoformat() if isinstance(value, dt.date) else value


def _nat(s: pd.Series) -> pd.Series:
    return pd.Series(pd.NaT, index=s.index, dtype=TIMESTAMP_DTYPE)


def _parse_timestamps(
    s: pd.Series,
    *,
    tz: str,
    unit: TimestampUnit | None,
    fmt: str | None,
    problems: list[str],
) -> tuple[pd.Series, np.ndarray]:
    """Return UTC timestamps and a mask of rows that are null or could not be parsed."""
    null = s.isna().to_numpy()
    dtype = s.dtype
    numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    if fmt is not None and numeric and pd.api.types.is_integer_dtype(dtype):
        # numbers such as 20250131 with timestamp_format='%Y%m%d' are text dates
        s = s.astype("Int64").astype("string").astype(STRING_DTYPE)
        dtype, numeric = s.dtype, False
    if isinstance(dtype, pd.DatetimeTZDtype):
        out = s.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(dtype):
        out = s.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")
    elif numeric:
        values = s.to_numpy(dtype="float64", na_value=np.nan)
        if _epoch_units_problem(s, values, problems):
            return _nat(s), null
        if unit is None:
            guess = _fitting_unit(values, None)
            problems.append(
                "timestamp is numeric (epoch numbers) but no unit was given: pass "
                "timestamp_unit='s', 'ms', 'us' or 'ns' (CLI --timestamp-unit; GA4 exports use "
                "'us', Mixpanel 's')"
                + (f"; these values look like {_EPOCH_NAMES[_EPOCH_UNITS.index(guess)]} "
                   f"('{guess}')." if guess else ".")
            )  # fmt: skip
            return _nat(s), null
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
                    f"e.g. {_example(text[odd].iloc[0])} ({type(text[odd].iloc[0]).__name__}). "
                    f"Give timestamps as ISO 8601 text or datetimes; numbers need "
                    f"timestamp_unit and a numeric column."
                )
                return _nat(s), null | odd
        if other.any() and is_str.any():
            # text next to datetime objects: all as ISO text, so that the text rules apply
            text = text.map(_iso_text)
            other = np.zeros(len(s), dtype=bool)
        if other.any():
            # python datetime objects (possibly mixed aware/naive)
            try:
                out = pd.to_datetime(s, utc=False, errors="raise")
            except (ValueError, TypeError) as exc:
                problems.append(
                    f"timestamp mixes timezone-aware and naive values or unparseable objects "
                    f"({exc}). Make them all timezone-aware, or all naive and pass tz=..."
                )
                return _nat(s), null
            return _parse_timestamps(out, tz=tz, unit=unit, fmt=None, problems=problems)
        strs = text.astype(STRING_DTYPE)
        started = pd.Timestamp.now(tz="UTC") - pd.Timedelta(seconds=1)
        started_naive = min(started.tz_convert(None), pd.Timestamp.now() - pd.Timedelta(seconds=1))
        if fmt is not None:
            aware = np.full(len(s), "%z" in fmt or "%Z" in fmt)
            try:
                out = pd.to_datetime(strs, format=fmt, utc=bool(aware.any()), errors="coerce")
            except (ValueError, TypeError) as exc:
                raise ConfigError(
                    f"timestamp_format={fmt!r} is not a valid format ({exc}); use strftime "
                    f"codes such as '%d/%m/%Y %H:%M' (CLI --timestamp-format)."
                ) from None
            how = (
                f"does not match timestamp_format={fmt!r}",
                "Fix the rows, or give the format they are written in (strftime codes, e.g. "
                "'%d/%m/%Y %H:%M').",
            )
        else:
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
                return _nat(s), null | naive
            try:
                out = pd.to_datetime(strs, utc=aware.any(), format="ISO8601", errors="raise")
            except (ValueError, TypeError):
                # not all ISO 8601: pandas guesses per value, so refuse mixed day-month orders
                if _day_month_problem(strs, problems):
                    return _nat(s), null
                out = pd.to_datetime(strs, utc=aware.any(), format="mixed", errors="coerce")
            how = (
                "could not be parsed",
                "Use ISO 8601 such as '2025-01-31T14:05:00Z', or give the format with "
                "timestamp_format='%d/%m/%Y %H:%M' (CLI --timestamp-format).",
            )
        # pandas reads 'now' and 'today' as the time of reading: never an event time
        since = started if out.dt.tz is not None else started_naive
        late_mask = (out >= since).to_numpy(dtype=bool)
        if late_mask.any():
            words = np.zeros(len(s), dtype=bool)
            words[late_mask] = strs[late_mask].str.strip().str.lower().isin(_NOW_WORDS)
            if words.any():
                problems.append(
                    f"timestamp holds 'now' or 'today' in {_rows(words)}, which pandas would "
                    f"read as the time of reading, not of the event. Give the time the event "
                    f"happened, e.g. '2025-01-31T14:05:00Z'."
                )
                null = null | words
        bad = out.isna().to_numpy() & ~null
        if bad.any():
            problems.append(
                f"timestamp {how[0]} in {_rows(bad)}, e.g. {strs[bad].iloc[0]!r}. {how[1]}"
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


def _range_problem(
    raw: pd.Series,
    ts: pd.Series,
    mask: np.ndarray,
    bounds: tuple[pd.Timestamp, pd.Timestamp],
    unit: TimestampUnit | None,
) -> str:
    """Say which timestamps fall outside the plausible range, and the likely cause."""
    pos = int(np.flatnonzero(mask)[0])
    read = ts.iloc[pos]
    cause = (
        "Such dates are placeholders (1900-01-01, 9999-12-31), two-digit years or epoch "
        "numbers read in the wrong unit."
    )
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        values = raw.to_numpy(dtype="float64", na_value=np.nan)[mask]
        guess = _fitting_unit(values, bounds)
        if guess is not None and guess != unit:
            cause = (
                f"These epoch numbers look like {_EPOCH_NAMES[_EPOCH_UNITS.index(guess)]}, "
                f"not {_EPOCH_NAMES[_EPOCH_UNITS.index(unit)] if unit else 'the given unit'}: "
                f"pass timestamp_unit={guess!r} (CLI --timestamp-unit)."
            )
    return (
        f"{_count(int(mask.sum()), 'timestamp')} outside the plausible range "
        f"{_range_text(bounds)} in {_rows(mask)}, e.g. {_example(raw.iloc[pos])} read as "
        f"{read.year:04d}-{read.month:02d}-{read.day:02d}. {cause} Fix these rows, pass "
        f"drop_invalid=True to drop them (the count is reported), or change the range with "
        f"plausible_range=(start, end) (None accepts any date; CLI --plausible-range)."
    )


def _arrow_text(s: pd.Series) -> Any:
    """The pyarrow array (one chunk) behind an Arrow-backed text column, else None."""
    if not isinstance(s.array, pd.arrays.ArrowStringArray):
        return None
    import pyarrow as pa

    arr = pa.array(s.array)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _ranked_text_codes(s: pd.Series) -> tuple[np.ndarray, Any] | None:
    """Codes of an Arrow-backed text column ranked by value (code order = sorted order of the
    distinct values; -1 for null) and the sorted distinct values (pyarrow), by hashing in
    Arrow and sorting only the distinct values. None for other columns."""
    arr = _arrow_text(s)
    if arr is None:
        return None
    import pyarrow.compute as pc

    enc = pc.dictionary_encode(arr)
    # UTF-8 byte order is code point order: the order of Python (and pandas) string sorts
    perm = pc.sort_indices(enc.dictionary).to_numpy()
    rank = np.empty(len(perm) + 1, dtype=np.int32 if len(perm) < 2**31 else np.int64)
    rank[perm] = np.arange(len(perm))
    rank[-1] = -1  # null (index -1 below) stays -1
    idx = enc.indices
    raw = (pc.fill_null(idx, -1) if idx.null_count else idx).to_numpy(zero_copy_only=False)
    return rank[raw], enc.dictionary.take(perm)


def _to_category(s: pd.Series) -> pd.Series:
    if isinstance(s.dtype, pd.CategoricalDtype):
        if pd.api.types.is_string_dtype(s.cat.categories.dtype):
            return s.cat.remove_unused_categories()
        return s.astype(object).where(s.isna(), s.astype(str)).astype("category")
    if not pd.api.types.is_string_dtype(s.dtype) or s.dtype == object:
        s = s.astype(object).where(s.isna(), s.astype(str))
    s = s.astype(STRING_DTYPE)
    ranked = _ranked_text_codes(s)
    if ranked is None:
        return s.astype("category")
    # as astype("category") (sorted categories), hashed once in Arrow
    codes, labels = ranked
    cats = pd.Index(pd.array(labels, dtype=STRING_DTYPE))
    out = pd.Categorical.from_codes(codes.astype(_small_int(len(cats))), categories=cats)
    return pd.Series(out, index=s.index, name=s.name)


def validate(
    log: pd.DataFrame,
    *,
    tz: str = "UTC",
    timestamp_unit: TimestampUnit | None = None,
    timestamp_format: str | None = None,
    plausible_range: PlausibleRange | None = PLAUSIBLE_RANGE,
    duplicates: Duplicates = "warn",
    drop_invalid: bool = False,
    coerce_ids: bool = False,
    require_channel: bool = False,
    sort: bool = True,
) -> pd.DataFrame:
    """Check an event log and return it in canonical form (a new DataFrame; input untouched).

    All problems are collected, then raised together as one :class:`EventLogError` whose
    ``problems`` attribute lists them. Nothing is dropped or changed silently. Every reader
    (:func:`journeymine.read_events`, :func:`journeymine.read_xes`) ends here, so the rules
    below hold for every source.

    Parameters
    ----------
    log : DataFrame
        Events with at least ``customer_id``, ``timestamp`` and ``activity``.
    tz : str, default "UTC"
        Timezone of naive timestamps (they are localized to it, then converted to UTC).
    timestamp_unit : {"s", "ms", "us", "ns"}, optional
        Unit of numeric (epoch) timestamps. Required when the timestamp column is numeric. A
        column mixing magnitudes (seconds ~1e9 next to milliseconds ~1e12) is refused.
    timestamp_format : str, optional
        strftime format of text timestamps, e.g. ``"%d/%m/%Y %H:%M"``. Without it, ISO 8601 is
        read exactly and other text is parsed value by value; numeric dates written day and
        month first (``01/02/2025``) are then refused when their order is ambiguous or mixed
        within the column (``13/01/2025`` next to ``01/02/2025``).
    plausible_range : (start, end) or None, default :data:`PLAUSIBLE_RANGE`
        Timestamps outside ``[start, end)`` (naive bounds in UTC) are refused, or dropped and
        counted with ``drop_invalid``. ``None`` accepts any date.
    duplicates : {"warn", "raise", "drop", "keep"}, default "warn"
        Duplicate events (same ``event_id``, or rows equal in every column when there is no
        ``event_id``): warn with a :class:`DataQualityWarning` and keep,
        raise, drop (with a :class:`RowsDroppedWarning` giving the count), or keep quietly.
    drop_invalid : bool, default False
        Drop rows with a null or blank id, activity or channel, a null or implausible timestamp,
        or an infinite or implausibly large ``value`` instead of raising; a
        :class:`RowsDroppedWarning` reports the count per reason.
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
    ConfigError
        An unknown ``tz`` or ``timestamp_unit``, a malformed ``plausible_range`` or
        ``timestamp_format``.
    EventLogError
        Any other problem; ``err.problems`` lists all of them. Besides nulls, bad dtypes and
        unparseable timestamps: a column name that appears twice, lists or other non-scalar
        values in ``activity``, ``channel``, ``value`` or an id column, an empty or blank
        ``activity``/``channel``/``customer_id``, ambiguous day-month dates, mixed epoch units,
        timestamps outside ``plausible_range``, ``value`` infinite or beyond
        :data:`MAX_ABS_VALUE`.

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
    if timestamp_format is not None and not isinstance(timestamp_format, str):
        raise ConfigError(
            f"timestamp_format must be a strftime format such as '%d/%m/%Y %H:%M', got "
            f"{type(timestamp_format).__name__}."
        )
    if timestamp_unit is not None and timestamp_unit not in _EPOCH_UNITS:
        raise ConfigError(
            f"timestamp_unit={timestamp_unit!r} is not a unit of epoch timestamps. Use 's', "
            f"'ms', 'us' or 'ns' (seconds, milliseconds, microseconds, nanoseconds; CLI "
            f"--timestamp-unit)."
        )
    _check_tz(tz)
    bounds = plausible_bounds(plausible_range)
    check_unique_columns(log.columns)
    required = (*REQUIRED_COLUMNS, CHANNEL) if require_channel else REQUIRED_COLUMNS
    require_columns(log, required, purpose="an event log")
    if len(log) == 0:
        raise EmptyLogError(
            "the event log is empty (0 rows). Check the file, the filters or the time window."
        )

    problems: list[str] = []
    invalid: dict[str, np.ndarray] = {}
    messages: dict[str, str] = {}  # reason -> full message, when the generic one won't do
    out: dict[str, pd.Series] = {}
    log = log.reset_index(drop=True)

    for col in ID_COLUMNS:
        if col not in log.columns:
            continue
        lists = _non_scalar(log[col])
        if lists is not None:
            problems.append(_non_scalar_problem(log[col], col, lists))
        coerce = coerce_ids or lists is not None  # one message per column is enough
        ids, null = _to_string_ids(log[col], col, problems, coerce=coerce)
        out[col] = ids
        if col == CUSTOMER_ID:
            empty = ids.fillna("").str.strip().eq("").to_numpy(dtype=bool) & ~null
            if empty.any():
                null = null | empty
            if null.any():
                invalid["null or empty customer_id"] = null

    ts, bad_ts = _parse_timestamps(
        log[TIMESTAMP], tz=tz, unit=timestamp_unit, fmt=timestamp_format, problems=problems
    )
    out[TIMESTAMP] = ts
    if bad_ts.any():
        invalid["null or unparseable timestamp"] = bad_ts
    if bounds is not None:
        far = implausible_timestamps(ts, bounds) & ~bad_ts
        if far.any():
            reason = f"timestamp outside the plausible range {_range_text(bounds)}"
            invalid[reason] = far
            messages[reason] = _range_problem(log[TIMESTAMP], ts, far, bounds, timestamp_unit)

    for col in CATEGORY_COLUMNS:
        if col not in log.columns:
            continue
        lists = _non_scalar(log[col])
        if lists is not None:
            problems.append(_non_scalar_problem(log[col], col, lists))
        out[col] = _to_category(log[col])
        null = out[col].isna().to_numpy() | _blank(out[col])
        if null.any():
            invalid[f"null or empty {col}"] = null

    if VALUE in log.columns:
        v = log[VALUE]
        lists = _non_scalar(v)
        if lists is not None:
            problems.append(_non_scalar_problem(v, VALUE, lists))
            v = v.where(~lists, None)
        if not pd.api.types.is_numeric_dtype(v.dtype) or pd.api.types.is_bool_dtype(v.dtype):
            num = pd.to_numeric(v, errors="coerce")
            bad = num.isna().to_numpy() & v.notna().to_numpy()
            if bad.any():
                problems.append(
                    f"value must be numeric; {_rows(bad)} are not, e.g. "
                    f"{_example(v[bad].iloc[0])}. Clean the column or map another one to 'value'."
                )
            v = num
        out[VALUE] = v.astype("float64")
        values = out[VALUE].to_numpy()
        with np.errstate(invalid="ignore"):
            huge = ~(np.abs(values) <= MAX_ABS_VALUE) & ~np.isnan(values)
        if huge.any():
            reason = f"value infinite or beyond ±{_MAX_TEXT}"
            invalid[reason] = huge
            messages[reason] = (
                f"value is infinite or beyond ±{_MAX_TEXT} in "
                f"{_count(int(huge.sum()), 'row')}: {_rows(huge)}, e.g. "
                f"{_example(log[VALUE][huge].iloc[0])}. Allowed: finite numbers with "
                f"abs(value) <= {_MAX_TEXT} (schema.MAX_ABS_VALUE); a missing value is "
                f"allowed. Fix or blank these values (check the unit, e.g. cents), keep the "
                f"column under another name, or pass drop_invalid=True to drop these rows (the "
                f"count is reported)."
            )

    keep = np.ones(len(log), dtype=bool)
    for reason, mask in invalid.items():
        if drop_invalid:
            keep &= ~mask
        elif reason in messages:
            problems.append(messages[reason])
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

    order: _Order | None = None
    if duplicates != "keep":
        # without an event_id, a duplicate is a row equal in every column: a start and a
        # complete event at the same instant (XES lifecycle) are two events, not one
        key = [EVENT_ID] if EVENT_ID in result.columns else list(result.columns)
        if key == [EVENT_ID]:
            dup = _duplicated(result, key)
        else:
            # rows equal in every column have the same customer and time: only the rows of a
            # (customer, time) shared by several rows are compared, column by column, exactly
            order = _Order.of(result)
            dup = order.duplicated(result)
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
                order = order.without(dup) if order is not None else None
            else:
                warnings.warn(
                    f"{what}, kept. Pass duplicates='drop' to remove them or 'keep' to "
                    f"silence this warning.",
                    DataQualityWarning,
                    stacklevel=2,
                )
    if sort:
        return (order or _Order.of(result)).apply(result)
    return result.reset_index(drop=True)


def _is_canonical(log: pd.DataFrame) -> bool:
    """Canonical dtypes, each column once, required columns present without nulls, non-empty."""
    cols = log.columns
    if len(log) == 0 or cols.has_duplicates or any(c not in cols for c in REQUIRED_COLUMNS):
        return False
    cust, ts, act = log[CUSTOMER_ID], log[TIMESTAMP], log[ACTIVITY]
    return (
        isinstance(ts.dtype, pd.DatetimeTZDtype)
        and isinstance(act.dtype, pd.CategoricalDtype)
        and pd.api.types.is_string_dtype(act.cat.categories.dtype)
        and pd.api.types.is_string_dtype(cust.dtype)
        and cust.dtype != object
        and (CHANNEL not in cols or isinstance(log[CHANNEL].dtype, pd.CategoricalDtype))
        and not (cust.isna().any() or ts.isna().any() or act.isna().any())
    )


def canonical_log(log: Any) -> pd.DataFrame:
    """The one gate of every entry point that takes an event log DataFrame.

    A log already in canonical form (as :func:`validate` or :func:`journeymine.read_events`
    return it: canonical dtypes, no null id, time or activity) is returned as it is, after a
    few dtype checks and null counts. Anything else goes through :func:`validate` (duplicates
    kept, rows not sorted), so the same malformed log gets the same exception type and message
    from :func:`journeymine.read_events`, :func:`journeymine.dfg`, ``PersonaMiner.fit``,
    :func:`journeymine.check_conformance`, :func:`journeymine.detect_changes` and
    ``next_best_action``.

    Raises
    ------
    EventLogError, MissingColumnError, EmptyLogError, ConfigError
        As :func:`validate`.
    """
    if isinstance(log, pd.DataFrame) and _is_canonical(log):
        return log
    return validate(log, duplicates="keep", sort=False)


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
    """Sort by (customer_id, timestamp), keeping the input order among ties (stable).

    The index is kept (rows move with their labels), as ``log.iloc[order]`` would."""
    order = _Order.of(log)
    return log if order.order is None else log.iloc[order.order]


def _small_int(n: int) -> type[np.signedinteger]:
    """Smallest signed integer type for codes 0..n-1 and -1."""
    return np.int8 if n < 2**7 else np.int16 if n < 2**15 else np.int32 if n < 2**31 else np.int64


def _duplicated(frame: pd.DataFrame, key: list[str]) -> np.ndarray:
    """``frame.duplicated(subset=key)``; lists or dicts in a column are compared as text."""
    try:
        return frame.duplicated(subset=key, keep="first").to_numpy()
    except TypeError:  # lists or dicts in an extra column: compare them as text
        text = {c: frame[c].astype(str) for c in key if frame[c].dtype == object}
        return frame[key].assign(**text).duplicated(keep="first").to_numpy()


def _stable_argsort(key: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The stable order of the rows by (``key``, ``t``), where ``key`` (int64) is
    non-decreasing in (``key``, ``t``): an unstable sort of ``key`` (several times faster than
    numpy's merge sort on int64), then the runs of equal keys, rare in an event log, are ordered
    by (``t``, input position)."""
    order = np.argsort(key)
    ks = key[order]
    tie = ks[1:] == ks[:-1]
    if tie.any():
        mark = np.zeros(len(key), dtype=bool)
        mark[1:] = tie
        mark[:-1] |= tie
        pos = np.flatnonzero(mark)
        sub = order[pos]
        order[pos] = sub[np.lexsort((sub, t[sub], ks[pos]))]
    return order


def row_order(codes: np.ndarray, n_codes: int, t: np.ndarray) -> np.ndarray | None:
    """Stable order of rows by (``codes``, ``t``), or None when they are already in it.

    ``codes`` are non-negative integers below ``n_codes`` (e.g. customers ranked by id), ``t``
    int64 times. One int64 key ``code * span + (t - min t)`` sorted once; when it would not fit
    in 63 bits the time is coarsened by a shift and the rows of equal keys are ordered exactly.
    """
    if len(t) < 2:
        return None
    same = codes[1:] == codes[:-1]
    if bool(np.all((codes[1:] > codes[:-1]) | (same & (t[1:] >= t[:-1])))):
        return None
    del same
    tmin = int(t.min())
    span = int(t.max()) - tmin + 1
    shift = 0
    while max(n_codes, 1) * (((span - 1) >> shift) + 1) >= 2**63:
        shift += 1
    key = t.view(np.uint64) - np.uint64(tmin % 2**64)  # exact even when span >= 2**63
    key >>= np.uint64(shift)
    key = key.view(np.int64)
    key += codes.astype(np.int64) * (((span - 1) >> shift) + 1)
    return _stable_argsort(key, t)


class _Order:
    """The stable order of a log's rows by (customer_id, timestamp), computed on integers.

    Customers are ranked by hashing the ids once (Arrow ``dictionary_encode`` for Arrow-backed
    text, else ``pandas.factorize``) and sorting only the distinct ids; the rows are then sorted
    on one int64 key ``rank * span + (time - first time)`` (time coarsened when that would not
    fit in 63 bits, ties then ordered exactly). ``order`` is None when the rows are already in
    order; ``ranks`` and ``t`` (int64 microseconds) are per row, in input order.
    """

    def __init__(
        self, order: np.ndarray | None, ranks: np.ndarray, t: np.ndarray, labels: Any
    ) -> None:
        self.order, self.ranks, self.t, self.labels = order, ranks, t, labels

    @classmethod
    def of(cls, log: pd.DataFrame) -> _Order:
        cust = log[CUSTOMER_ID]
        ranked = _ranked_text_codes(cust) if len(log) else None
        if ranked is not None:
            ranks, labels = ranked
        else:
            values = cust.to_numpy(dtype=object) if len(log) else np.array([], dtype=object)
            ranks, _ = pd.factorize(values, sort=True)
            labels = None
        if len(ranks) and ranks.min() < 0:  # null ids (-1) first, as in a lexsort
            ranks = ranks + 1
        n_cust = int(ranks.max()) + 1 if len(ranks) else 0
        t = log[TIMESTAMP].to_numpy(dtype="datetime64[us]").view(np.int64)
        return cls(row_order(ranks, n_cust, t), ranks, t, labels)

    def duplicated(self, log: pd.DataFrame) -> np.ndarray:
        """``log.duplicated(keep="first")`` over every column, exactly, comparing only the rows
        that share their (customer, time) with another row."""
        r, t = (
            (self.ranks, self.t)
            if self.order is None
            else (self.ranks[self.order], self.t[self.order])
        )
        dup = np.zeros(len(t), dtype=bool)
        tie = (t[1:] == t[:-1]) & (r[1:] == r[:-1])
        if not tie.any():
            return dup
        mark = np.zeros(len(t), dtype=bool)
        mark[1:] = tie
        mark[:-1] |= tie
        pos = np.flatnonzero(mark)
        cand = np.sort(pos if self.order is None else self.order[pos])  # input order
        dup[cand[_duplicated(log.iloc[cand], list(log.columns))]] = True
        return dup

    def without(self, drop: np.ndarray) -> _Order:
        """The order of the rows left after dropping the rows where ``drop`` is true."""
        keep = ~drop
        order = self.order
        if order is not None:
            new = np.cumsum(keep) - 1
            order = new[order[keep[order]]]
        return _Order(order, self.ranks[keep], self.t[keep], self.labels)

    def apply(self, log: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``log`` in this order, index reset (``log.iloc[order]``, faster: text
        columns are taken in Arrow, customer ids rebuilt from the sorted distinct ids)."""
        if self.order is None:
            return log.reset_index(drop=True)
        order = self.order
        cols: dict[Any, Any] = {}
        for name in log.columns:
            s = log[name]
            if name == CUSTOMER_ID and self.labels is not None:
                # ranks in this order are non-decreasing: a sequential gather
                import pyarrow as pa

                taken = self.labels.take(pa.array(self.ranks[order]))
                cols[name] = pd.array(taken, dtype=s.dtype)
            elif isinstance(s.dtype, pd.CategoricalDtype):
                codes = s.cat.codes.to_numpy()[order]
                cols[name] = pd.Categorical.from_codes(codes, dtype=s.dtype)
            elif (arr := _arrow_text(s)) is not None:
                cols[name] = pd.array(arr.take(order), dtype=s.dtype)
            else:
                cols[name] = s.take(order).reset_index(drop=True)
        out = pd.DataFrame(cols, index=pd.RangeIndex(len(order)))
        out.attrs = log.attrs
        return out


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
