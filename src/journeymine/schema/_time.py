"""Timestamps: parsing text, epoch numbers and datetimes to UTC microseconds, and the
plausible range."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from journeymine.exceptions import (
    ConfigError,
)
from journeymine.schema._checks import (
    _count,
    _example,
    _parsed_argument,
    _rows,
)
from journeymine.schema._columns import (
    _DAY_MONTH_RE,
    _EPOCH_EDGES,
    _EPOCH_NAMES,
    _EPOCH_UNITS,
    _NOW_WORDS,
    _OFFSET_RE,
    _PER_SECOND,
    PLAUSIBLE_RANGE,
    STRING_DTYPE,
    TIMESTAMP_DTYPE,
    PlausibleRange,
    TimestampUnit,
)

TimeLike: TypeAlias = str | dt.datetime | dt.date | np.datetime64 | pd.Timestamp | None
"""A point in time as the public functions take it: text, a datetime or a numpy/pandas time
(naive = UTC), or None for an open bound."""


def to_timestamp(value: TimeLike, name: str) -> pd.Timestamp | None:
    """A time argument as a UTC :class:`pandas.Timestamp` (naive = UTC); None stays None.

    Parameters
    ----------
    value : str, datetime, date, numpy.datetime64, Timestamp or None
        The time, e.g. ``"2025-03-01"``; a naive time is read as UTC.
    name : str
        The argument's name, for the error message.

    Returns
    -------
    Timestamp or None
        With time zone UTC.

    Raises
    ------
    ConfigError
        ``value`` is not a time, or is NaT.

    Examples
    --------
    >>> from journeymine.schema import to_timestamp
    >>> to_timestamp("2025-03-01 10:00", "start")
    Timestamp('2025-03-01 10:00:00+0000', tz='UTC')
    >>> to_timestamp("2025-03-01T10:00+01:00", "start")
    Timestamp('2025-03-01 09:00:00+0000', tz='UTC')
    >>> to_timestamp("soon", "start")
    Traceback (most recent call last):
    ...
    journeymine.exceptions.ConfigError: start='soon' is not a time (...); pass e.g. '2025-03-01' ...
    """
    if value is None:
        return None
    ts = _parsed_argument(
        pd.Timestamp, value, name, "a time", "pass e.g. '2025-03-01' or a Timestamp."
    )
    if ts is pd.NaT:
        raise ConfigError(f"{name} is NaT; pass a time or None for an open bound.")
    return ts.tz_localize("UTC") if ts.tz is None else ts.tz_convert("UTC")


def to_micros(value: TimeLike, name: str) -> int | None:
    """A time argument as microseconds since 1970-01-01 UTC (naive = UTC); None stays None.

    The integer form of :func:`to_timestamp` (same arguments, same errors), in the unit of
    the canonical ``timestamp`` column and of every encoded log.

    Examples
    --------
    >>> from journeymine.schema import to_micros
    >>> to_micros("1970-01-01T00:00:01Z", "cutoff")
    1000000
    >>> to_micros(None, "cutoff") is None
    True
    """
    ts = to_timestamp(value, name)
    if ts is None:
        return None
    return int((ts - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(1, unit="us"))


def to_time_range(
    value: Any, name: str = "time_range", *, open_ends: bool = True
) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """A ``(start, end)`` time-range argument as two UTC Timestamps, start inclusive, end
    exclusive (naive = UTC), checked.

    Parameters
    ----------
    value : (start, end)
        Two times as :func:`to_timestamp` reads them, e.g. ``("2025-03-01", "2025-04-01")``.
    name : str, default "time_range"
        The argument's name, for the error message.
    open_ends : bool, default True
        Either end may be None (no bound); with False both are required.

    Returns
    -------
    (Timestamp or None, Timestamp or None)

    Raises
    ------
    ConfigError
        ``value`` is not a pair, an end is not a time (or is None with ``open_ends=False``),
        or the range does not end after it starts.

    Examples
    --------
    >>> from journeymine.schema import to_time_range
    >>> to_time_range(("2025-03-01", None))
    (Timestamp('2025-03-01 00:00:00+0000', tz='UTC'), None)
    >>> to_time_range(("2025-03-02", "2025-03-01"), "period")
    Traceback (most recent call last):
    ...
    journeymine.exceptions.ConfigError: period ends before it starts: ('2025-03-02', '2025-03-01').
    """
    if isinstance(value, str) or not isinstance(value, Sequence) or len(value) != 2:
        raise ConfigError(
            f"{name}={value!r} is not a (start, end) pair; pass e.g. ('2025-03-01', "
            f"'2025-04-01'), end exclusive" + ("; either may be None." if open_ends else ".")
        )
    start, end = (to_timestamp(v, f"{name}[{i}]") for i, v in enumerate(value))
    for i, bound in enumerate((start, end)):
        if bound is None and not open_ends:
            raise ConfigError(f"{name}[{i}] is missing (None); pass a time such as '2025-03-01'.")
    if start is not None and end is not None and end <= start:
        raise ConfigError(f"{name} ends before it starts: {value!r}.")
    return start, end


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
