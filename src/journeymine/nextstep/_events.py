"""Event logs as sorted integer arrays for the next-step model (one job: input -> arrays).

A log is a DataFrame with ``customer_id``, ``timestamp`` and ``activity`` (``channel`` and any
other column optional). Rows are grouped by customer in order of first appearance and sorted by
time within a customer, ties kept in input order (so a log read from a file keeps its case
order: the Tax et al. protocol needs it). The checks are the light ones a scorer needs; run
:func:`journeymine.validate` first for the full ones.

One live customer's events (a list of dicts, or a dict of columns) take a DataFrame-free path,
:func:`events_from_records`, that yields the same arrays as :func:`to_events` of the same events
as a DataFrame (a parity test checks the predictions equal).
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from journeymine.exceptions import ConfigError, EmptyLogError, EventLogError
from journeymine.schema import ACTIVITY, CHANNEL, CUSTOMER_ID, TIMESTAMP, require_columns

__all__ = [
    "ID_COLUMNS",
    "Events",
    "attribute_columns",
    "encode_codes",
    "events_from_records",
    "floats",
    "labels",
    "outcome_within",
    "to_events",
]

#: Columns never used as attributes: identifiers (one value per customer/event carry no
#: general pattern) and the columns the model reads anyway.
ID_COLUMNS = frozenset({CUSTOMER_ID, TIMESTAMP, ACTIVITY, "session_id", "event_id", "device_id"})


@dataclass
class Events:
    """One log as arrays, events grouped by case (contiguous) and sorted by time."""

    case_ids: np.ndarray  # case label (str) by case index, in order of first appearance
    starts: np.ndarray  # int64, n_cases + 1 boundaries
    case: np.ndarray  # int64 case index of every event
    activity: np.ndarray  # str label of every event (object)
    t: np.ndarray  # float64 seconds since the epoch (UTC)
    # other columns, sorted: Series (from a DataFrame) or arrays (object labels / float64
    # numbers, from records)
    columns: dict[str, Any] = field(default_factory=dict)

    @property
    def n_events(self) -> int:
        return len(self.t)

    @property
    def n_cases(self) -> int:
        return len(self.case_ids)

    @property
    def last(self) -> np.ndarray:
        """Index of every case's last event."""
        return self.starts[1:] - 1

    def take_cases(self, cases: np.ndarray) -> Events:
        """The events of ``cases`` (case indices), in the order given."""
        cases = np.asarray(cases, dtype=np.int64)
        sizes = self.starts[cases + 1] - self.starts[cases]
        idx = np.repeat(self.starts[cases] - (np.cumsum(sizes) - sizes), sizes)
        idx = idx + np.arange(int(sizes.sum()))
        starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        return Events(
            case_ids=self.case_ids[cases],
            starts=starts,
            case=np.repeat(np.arange(len(cases), dtype=np.int64), sizes),
            activity=self.activity[idx],
            t=self.t[idx],
            columns={k: _take_rows(v, idx) for k, v in self.columns.items()},
        )

    def truncate(self, max_events: int) -> Events:
        """Each case cut after its first ``max_events`` events."""
        pos = np.arange(self.n_events) - self.starts[self.case]
        keep = np.flatnonzero(pos < max_events)
        sizes = np.minimum(np.diff(self.starts), max_events)
        return Events(
            case_ids=self.case_ids,
            starts=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
            case=self.case[keep],
            activity=self.activity[keep],
            t=self.t[keep],
            columns={k: _take_rows(v, keep) for k, v in self.columns.items()},
        )


def _take_rows(values: Any, idx: np.ndarray) -> Any:
    if isinstance(values, pd.Series):
        return values.iloc[idx].reset_index(drop=True)
    return np.asarray(values)[idx]


def floats(values: Any) -> np.ndarray:
    """A numeric attribute column as float64 (NaN for missing)."""
    if isinstance(values, np.ndarray) and values.dtype == np.float64:
        return values
    if isinstance(values, pd.Series):
        if not pd.api.types.is_numeric_dtype(values.dtype):  # numbers written as text
            values = pd.to_numeric(values, errors="coerce")
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    return np.asarray(values, dtype=np.float64)


_PER_SECOND = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}


def _seconds(s: pd.Series) -> np.ndarray:
    if isinstance(s.dtype, pd.DatetimeTZDtype) and not s.hasnans:  # fast path: UTC integers
        per = _PER_SECOND[s.dtype.unit]
        if per > 10**6:  # whole microseconds, as every other path (floor, as numpy casts)
            return (s.array.asi8 // (per // 10**6)) / 1e6
        return s.array.asi8 / per
    if isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(s.dtype):
        ts = s
    else:
        ts = pd.to_datetime(s, utc=True, errors="coerce", format="mixed")
        bad = ts.isna() & s.notna()
        if bad.any():
            example = s[bad].iloc[0]
            raise EventLogError(
                f"{int(bad.sum())} timestamp(s) cannot be read as dates (e.g. {example!r}); "
                f"parse them first (jm.read_events or jm.validate with timestamp_format=...)."
            )
    if ts.isna().any():
        raise EventLogError(
            f"{int(ts.isna().sum())} event(s) have no timestamp; drop or fill them "
            f"(jm.validate reports which rows)."
        )
    if isinstance(ts.dtype, pd.DatetimeTZDtype):
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    us = ts.to_numpy().astype("datetime64[us]").astype(np.int64)
    return us / 1e6


def to_events(log: Any, *, purpose: str = "the next-step model", keep: Any = None) -> Events:
    """Check ``log`` and turn it into :class:`Events` (other columns: those in ``keep``, or
    all when None)."""
    if not isinstance(log, pd.DataFrame):
        raise ConfigError(
            f"{purpose} needs a pandas DataFrame of events with columns customer_id, timestamp "
            f"and activity, got {type(log).__name__}. Read files with jm.read_events."
        )
    require_columns(log, [CUSTOMER_ID, TIMESTAMP, ACTIVITY], purpose=purpose)
    if len(log) == 0:
        raise EmptyLogError(f"the log given to {purpose} has no events.")
    small = len(log) <= _SMALL
    raw: dict[str, np.ndarray] = {}
    for col in (CUSTOMER_ID, ACTIVITY):
        s = log[col]
        if small and isinstance(s.dtype, pd.CategoricalDtype):
            n = int((s.array.codes < 0).sum())
        elif small:  # object values, read once (labels() reads small columns the same way)
            raw[col] = s.to_numpy(dtype=object)
            n = int(pd.isna(raw[col]).sum())
        else:
            n = int(log[col].isna().sum())
        if n:
            raise EventLogError(
                f"{n} event(s) have no {col}; drop or fill them before using {purpose} "
                f"(jm.validate reports which rows)."
            )
    t = _seconds(log[TIMESTAMP])
    ids_raw = raw.get(CUSTOMER_ID)
    first = ids_raw[0] if ids_raw is not None else None
    if (
        ids_raw is not None
        and type(first) is str
        and all(type(v) is str and v == first for v in ids_raw)
    ):
        # one customer (the live-scoring case): no factorizing
        codes = np.zeros(len(log), dtype=np.intp)
        uniques: Any = [first]
    else:
        codes, uniques = pd.factorize(log[CUSTOMER_ID], sort=False)
    order = np.lexsort((t, codes))  # stable: ties keep input order
    case = codes[order].astype(np.int64)
    sizes = np.bincount(case, minlength=len(uniques))
    starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    act_str = labels(raw[ACTIVITY] if ACTIVITY in raw else log[ACTIVITY])[order]
    others = [
        c
        for c in log.columns
        if c not in (CUSTOMER_ID, TIMESTAMP, ACTIVITY) and (keep is None or c in keep)
    ]
    ordered = (order[1:] >= order[:-1]).all() if len(order) > 1 else True
    index = log.index
    plain = (
        ordered
        and isinstance(index, pd.RangeIndex)
        and index.start == 0
        and index.step == 1
        and index.name is None
    )
    columns = {
        c: log[c] if plain else (log[c] if ordered else log[c].iloc[order]).reset_index(drop=True)
        for c in others
    }
    ids = np.asarray([u if isinstance(u, str) else str(u) for u in uniques], dtype=object)
    return Events(ids, starts, case, act_str, t[order], columns)


def attribute_columns(ev: Events, attributes: Any) -> tuple[list[str], list[str]]:
    """(categorical, numeric) attribute columns to use: ``"auto"`` = channel first, then every
    other non-identifier column; a list names them; ``None`` = none."""
    available = list(ev.columns)
    if attributes is None:
        return [], []
    if isinstance(attributes, str) and attributes == "auto":
        names = [c for c in available if c not in ID_COLUMNS]
        names.sort(key=lambda c: (c != CHANNEL, available.index(c)))
    elif isinstance(attributes, list | tuple) and all(isinstance(a, str) for a in attributes):
        missing = [a for a in attributes if a not in available]
        if missing:
            raise ConfigError(
                f"attributes {missing} are not columns of the log (it has {available}); "
                f"name existing columns, or use attributes='auto'."
            )
        names = list(attributes)
    else:
        raise ConfigError(
            f"attributes must be 'auto', None or a list of column names, got {attributes!r}."
        )
    cat, num = [], []
    for c in names:
        s = ev.columns[c]
        if pd.api.types.is_bool_dtype(s.dtype):
            cat.append(c)
        elif pd.api.types.is_numeric_dtype(s.dtype):
            num.append(c)
        elif isinstance(s.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(
            s.dtype
        ):
            continue
        elif _numbers_as_text(s):
            num.append(c)
        else:
            cat.append(c)
    return cat, num


def _numbers_as_text(s: Any) -> bool:
    """Is every present value of a text column a number (e.g. an XES ``duration`` written as a
    string)? Such a column is a number, not thousands of one-off categories."""
    if not isinstance(s, pd.Series) or isinstance(s.dtype, pd.CategoricalDtype):
        return False
    present = s.dropna()
    if len(present) == 0:
        return False
    if not all(isinstance(v, str) for v in present.unique()[:1000]):
        return False
    return bool(pd.to_numeric(present, errors="coerce").notna().all())


_SMALL = 4096  # below this many values a dict lookup beats pandas


def encode_codes(values: Any, vocab: list[str] | dict[str, int]) -> np.ndarray:
    """Codes of ``values`` in ``vocab`` (a list, or a dict label -> code; int64; -1 for
    missing or unknown)."""
    lut = vocab if isinstance(vocab, dict) else {v: i for i, v in enumerate(vocab)}
    if (
        isinstance(values, pd.Series)
        and isinstance(values.dtype, pd.CategoricalDtype)
        and len(values) > _SMALL
    ):
        cats = encode_codes(np.asarray(values.cat.categories, dtype=object), lut)
        codes = values.cat.codes.to_numpy()
        return np.where(codes >= 0, cats[np.maximum(codes, 0)] if len(cats) else -1, -1)
    arr = labels(values)
    if len(arr) <= _SMALL:
        return np.fromiter((lut.get(v, -1) for v in arr), dtype=np.int64, count=len(arr))
    names = list(lut)
    codes = pd.Index(names).get_indexer(arr).astype(np.int64)  # -1: missing or unknown
    mapped = np.asarray([lut[n] for n in names], dtype=np.int64)
    return np.where(codes >= 0, mapped[np.maximum(codes, 0)], -1)


def _label(v: Any) -> Any:
    """A value as a category label: text, or None when missing."""
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
        return None
    return str(v)


def labels(values: Any) -> np.ndarray:
    """Values as text labels (object array; None for missing)."""
    if isinstance(values, pd.Series):
        if isinstance(values.dtype, pd.CategoricalDtype) and (
            len(values) > _SMALL or len(values.dtype.categories) <= len(values)
        ):  # through the codes (reading a categorical row by row is slow)
            cat = values.array
            cats = labels(cat.categories.to_numpy(dtype=object))
            codes = cat.codes
            missing = np.array(None, dtype=object)
            known = cats[np.maximum(codes, 0)] if len(cats) else missing
            return np.where(codes >= 0, known, missing)
        arr = values.to_numpy(dtype=object)
    else:
        arr = np.asarray(values, dtype=object)
    if all(isinstance(v, str) for v in arr):
        return arr
    return np.asarray([v if isinstance(v, str) else _label(v) for v in arr], dtype=object)


def outcome_within(
    ev: Events, outcome: str, horizon: float, end: float | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """For every event: does ``outcome`` happen in the same case within ``horizon`` seconds
    after it (strictly later events), and is that known (True, or False with the horizon
    ending before ``end``, default: the log's last timestamp)? Both boolean arrays."""
    n = ev.n_events
    idx = np.arange(n)
    end = float(ev.t.max()) if end is None else end
    hits = np.flatnonzero(ev.activity == outcome)
    if len(hits) == 0:
        within = np.zeros(n, dtype=bool)
    else:
        k = np.searchsorted(hits, idx + 1)
        nxt = hits[np.minimum(k, len(hits) - 1)]
        within = (k < len(hits)) & (ev.case[nxt] == ev.case) & (ev.t[nxt] - ev.t <= horizon)
    return within, within | (ev.t + horizon <= end)


# ---------------------------------------------------------------------------------------------
# one live customer's events, without pandas
# ---------------------------------------------------------------------------------------------
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_EPOCH_NAIVE = _dt.datetime(1970, 1, 1)
_US = _dt.timedelta(microseconds=1)
_MAX_SHOWN = 5


def _micros(value: Any) -> int | None:
    """Microseconds since the epoch (UTC; naive times are UTC, as ``pd.to_datetime(...,
    utc=True)`` reads them), floored; None when ``value`` is not a time."""
    if type(value) is str:
        try:
            d = _dt.datetime.fromisoformat(value)
        except ValueError:
            return _micros_pandas(value)
        return (d - (_EPOCH_NAIVE if d.tzinfo is None else _EPOCH)) // _US
    if isinstance(value, pd.Timestamp | np.datetime64 | str):
        return _micros_pandas(value)
    if isinstance(value, _dt.datetime):
        return (value - (_EPOCH_NAIVE if value.tzinfo is None else _EPOCH)) // _US
    if isinstance(value, _dt.date):
        return (_dt.datetime(value.year, value.month, value.day) - _EPOCH_NAIVE) // _US
    return None


def _micros_pandas(value: Any) -> int | None:
    try:
        ts = pd.Timestamp(value)
        if pd.isna(ts):
            return None
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
        return int(ts.as_unit("ns").value // 1000)
    except (TypeError, ValueError, OverflowError):
        return None


def _as_rows(events: Any, purpose: str) -> list[Mapping[str, Any]] | Mapping[str, Any]:
    if isinstance(events, Mapping):
        return events
    if (
        isinstance(events, Sequence)
        and not isinstance(events, str | bytes)
        and all(isinstance(e, Mapping) for e in events)
    ):
        return list(events)
    raise ConfigError(
        f"{purpose} takes one customer's events as a list of dicts (each with timestamp and "
        f"activity, optional channel and other attributes), a dict of columns (lists or "
        f"arrays of equal length) or a DataFrame; got {type(events).__name__}."
    )


def _fail(problems: list[str]) -> EventLogError:
    n = len(problems)
    more = f"\n- ... and {n - _MAX_SHOWN} more" if n > _MAX_SHOWN else ""
    return EventLogError(
        f"invalid events: {n} problem{'s' if n > 1 else ''}:\n- "
        + "\n- ".join(problems[:_MAX_SHOWN])
        + more,
        problems,
    )


def events_from_records(
    events: Any,
    *,
    numeric: Sequence[str] = (),
    categorical: Sequence[str] = (),
    customer_id: Any = None,
    purpose: str = "the next-step model",
) -> Events:
    """ONE customer's events as :class:`Events`, without pandas (the live-scoring path).

    Parameters
    ----------
    events : list of dict or dict of sequences
        Each event has ``timestamp`` (ISO 8601 string, ``datetime``, ``pandas.Timestamp`` or
        ``numpy.datetime64``; naive times are UTC) and ``activity``; ``customer_id`` is optional
        (all equal when given); other keys are attributes. A dict maps each of those keys to a
        list or array, one entry per event.
    numeric, categorical : sequence of str
        The attributes to keep, read as numbers (float64, NaN when missing) or as text labels
        (None when missing); other keys are ignored.
    customer_id : optional
        The customer, when the events do not name it (must match when they do).

    Returns
    -------
    Events
        Sorted by time (ties in input order), columns as arrays: the same values
        :func:`to_events` gives for the same events as a DataFrame.

    Raises
    ------
    EmptyLogError
        No events.
    EventLogError
        A missing timestamp or activity, a timestamp that is not a time, a non-numeric value of
        a numeric attribute, columns of unequal length, several customers (every problem listed).
    """
    rows = _as_rows(events, purpose)
    problems: list[str] = []
    if isinstance(rows, Mapping):
        keys = {TIMESTAMP, ACTIVITY, CUSTOMER_ID, *numeric, *categorical}
        used = {k: v for k, v in rows.items() if k in keys}
        flat = [
            k
            for k, v in used.items()
            if isinstance(v, str | bytes) or not isinstance(v, Sequence | np.ndarray | pd.Series)
        ]
        if flat:
            raise _fail([f"column {k!r} is not a list or array (one per event)" for k in flat])
        lengths = {k: len(v) for k, v in used.items()}
        n = max(lengths.values(), default=0)
        if len(set(lengths.values())) > 1:
            raise _fail([f"columns of unequal length: {lengths}"])
        for req in (TIMESTAMP, ACTIVITY):
            if req not in rows:
                problems.append(f"no {req!r} column")
        if problems:
            raise _fail(problems)

        def column(key: str) -> list[Any]:
            v = rows.get(key)
            if v is None:
                return [None] * n
            return v.tolist() if isinstance(v, np.ndarray) and v.dtype != object else list(v)

        times_raw = rows[TIMESTAMP]
        if isinstance(times_raw, np.ndarray) and np.issubdtype(times_raw.dtype, np.datetime64):
            us_arr = times_raw.astype("datetime64[us]").astype(np.int64)
            bad = np.isnat(times_raw)
            times: list[Any] = [None if b else int(u) for u, b in zip(us_arr, bad, strict=True)]
            parsed = True
        else:
            times = column(TIMESTAMP)
            parsed = False
        acts = column(ACTIVITY)
        ids = column(CUSTOMER_ID) if CUSTOMER_ID in rows else []
        attrs = {c: column(c) for c in (*categorical, *numeric) if c in rows}
    else:
        n = len(rows)
        parsed = False
        times = [r.get(TIMESTAMP) for r in rows]
        acts = [r.get(ACTIVITY) for r in rows]
        ids = [r[CUSTOMER_ID] for r in rows if CUSTOMER_ID in r]
        attrs = {
            c: [r.get(c) for r in rows]
            for c in (*categorical, *numeric)
            if any(c in r for r in rows)
        }
    if n == 0:
        raise EmptyLogError(f"no events were given to {purpose}.")
    us = np.empty(n, dtype=np.int64)
    for i, v in enumerate(times):
        m = v if parsed else (None if _missing(v) else _micros(v))
        if m is None:
            what = "no timestamp" if _missing(v) else f"timestamp {v!r} is not a time"
            problems.append(
                f"event {i}: {what} (an ISO 8601 string such as '2025-03-01T10:15:00Z', "
                f"a datetime or numpy.datetime64)"
            )
        else:
            us[i] = m
    act = labels(acts)
    problems += [f"event {i}: no activity" for i, a in enumerate(act) if a is None]
    known = {_label(v) for v in ids} - {None}
    if customer_id is not None:
        known.add(customer_id if isinstance(customer_id, str) else str(customer_id))
    if len(known) > 1:
        problems.append(
            f"events of {len(known)} customers ({sorted(known)[:5]}); give one customer's events"
        )
    columns: dict[str, Any] = {}
    for c, values in attrs.items():
        if c in numeric:
            out = np.empty(n, dtype=np.float64)
            for i, v in enumerate(values):
                if _missing(v):
                    out[i] = np.nan
                elif isinstance(v, int | float | np.number):
                    out[i] = float(v)
                else:
                    number = _number(v)
                    if number is None:
                        problems.append(f"event {i}: {c} {v!r} is not a number")
                    else:
                        out[i] = number
            columns[c] = out
        else:
            columns[c] = labels(values)
    if problems:
        raise _fail(problems)
    t = us / 1e6
    order = np.argsort(t, kind="stable")
    if len(order) > 1 and not (order[1:] > order[:-1]).all():
        t = t[order]
        act = act[order]
        columns = {c: v[order] for c, v in columns.items()}
    cid = next(iter(known)) if known else None
    return Events(
        case_ids=np.asarray([cid], dtype=object),
        starts=np.asarray([0, n], dtype=np.int64),
        case=np.zeros(n, dtype=np.int64),
        activity=act,
        t=t,
        columns=columns,
    )


def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v))


def _number(v: Any) -> float | None:
    """A number written as text (as ``pd.to_numeric`` reads it), else None."""
    if not isinstance(v, str):
        return None
    x = pd.to_numeric(pd.Series([v]), errors="coerce").iloc[0]
    return None if pd.isna(x) else float(x)
