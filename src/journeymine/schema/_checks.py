"""Shared checks and message helpers: column names, non-scalar and blank values, ids,
durations."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

import numpy as np
import pandas as pd

from journeymine.exceptions import (
    ConfigError,
    EventLogError,
    MissingColumnError,
)
from journeymine.schema._columns import (
    _MAX_ROWS_SHOWN,
    CANONICAL_COLUMNS,
    STRING_DTYPE,
)
from journeymine.schema._names import suggest_columns


def _rows(mask: np.ndarray | pd.Series) -> str:
    """Describe the first positions where ``mask`` is true, e.g. ``rows 3, 17 and 2 more``."""
    pos = np.flatnonzero(np.asarray(mask))
    shown = ", ".join(str(p) for p in pos[:_MAX_ROWS_SHOWN])
    more = f" and {len(pos) - _MAX_ROWS_SHOWN} more" if len(pos) > _MAX_ROWS_SHOWN else ""
    return f"row{'s' if len(pos) > 1 else ''} {shown}{more} (0-based positions)"


def _example(value: Any, limit: int = 60) -> str:
    """``repr`` of one input value for a message: numpy scalars as Python ones, times as their
    text (``'1970-01-01 00:00:00+00:00'``, not ``Timestamp(..., tz='UTC')``, whose ``tz=`` a
    CLI message would read as an option), long ones cut."""
    if isinstance(value, np.datetime64 | pd.Timestamp):
        value = str(pd.Timestamp(value))
    elif isinstance(value, np.generic):
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


def _note_non_scalar(s: pd.Series, name: str, problems: list[str]) -> np.ndarray | None:
    """Mask of the non-scalar values of column ``name`` (None when there are none); when there
    are some, the problem that names them is appended to ``problems``."""
    mask = _non_scalar(s)
    if mask is not None:
        problems.append(_non_scalar_problem(s, name, mask))
    return mask


def blank_values(values: Any) -> np.ndarray:
    """Mask of the empty or whitespace-only values among text ``values`` (a sequence, a
    pandas Index or a pyarrow array): the rule by which :func:`validate` refuses a blank
    ``customer_id``, ``activity`` or ``channel``. Missing values are not flagged.

    Examples
    --------
    >>> blank_values(["web", " ", "", None, "app"]).tolist()
    [False, True, True, False, False]
    """
    text = pd.Series(pd.array(values, dtype=STRING_DTYPE))
    return text.str.strip().eq("").to_numpy(dtype=bool, na_value=False)


def _blank(s: pd.Series) -> np.ndarray:
    """Mask of empty or whitespace-only values of a category (or text) column."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = s.cat.categories
        blank = np.flatnonzero(blank_values(cats))
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
    mapping = suggest_columns(missing, [a for a in available if a not in columns])
    source_of = {canonical: source for source, canonical in mapping.items()}
    parts = [
        f"{c!r} (Did you mean {source_of[c]!r}?)" if c in source_of else repr(c) for c in missing
    ]
    why = (
        f" {purpose[0].upper() + purpose[1:]} needs {', '.join(map(repr, columns))}."
        if (purpose)
        else ""
    )
    xes = {"case:concept:name", "concept:name", "time:timestamp"} <= set(available)
    raise MissingColumnError(
        f"missing column{'s' if len(missing) > 1 else ''} {', '.join(parts)}."
        + why
        + f" Available columns: {available}. "
        + (
            "These are the XES standard's names (as pm4py writes them): read the file with "
            "jm.read_events(path, preset='xes')."
            if xes
            else f"Map your names when reading, e.g. jm.read_events(path, columns="
            f"{mapping or {'your_name': missing[0]}!r})."
        ),
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


_T = TypeVar("_T")


def _parsed_argument(parse: Callable[[Any], _T], value: Any, name: str, what: str, fix: str) -> _T:
    """``parse(value)``, or a :class:`ConfigError` naming argument ``name`` when it cannot be
    parsed: ``"<name>=<value> is not <what> (<why>); <fix>"``."""
    try:
        return parse(value)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{name}={value!r} is not {what} ({exc}); {fix}") from None


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
    td = _parsed_argument(
        pd.Timedelta, value, name, "a duration", f"use a pandas duration such as {examples}."
    )
    if pd.isna(td) or td <= pd.Timedelta(0):
        raise ConfigError(f"{name} must be a positive duration such as {examples}, got {value!r}.")
    return td
