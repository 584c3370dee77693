"""The encoded log: integer codes and one sort, shared by every journey statistic.

Encoding turns cases, activities and any extra columns into integer codes once, converts
timestamps to int64 microseconds (UTC) and sorts the events once by (case, timestamp, input
order). Every statistic then works on these arrays (numpy for shifts and hashes, DuckDB for
grouped quantiles). A caller who computes several statistics encodes once and passes the
:class:`EncodedLog` instead of the DataFrame.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from journeymine.engine._order import stable_order
from journeymine.exceptions import (
    ConfigError,
    EmptyLogError,
    EventLogError,
    MissingColumnError,
    did_you_mean,
)
from journeymine.schema import (
    ACTIVITY,
    CHANNEL,
    CUSTOMER_ID,
    MICROS_PER_UNIT,
    REQUIRED_COLUMNS,
    TIMESTAMP,
    TIMESTAMP_DTYPE,
    cached_codes,
    canonical_log,
    require_columns,
)

__all__ = ["EncodedLog", "LogInput", "as_encoded", "encode"]

logger = logging.getLogger(__name__)


def _readonly(a: np.ndarray) -> np.ndarray:
    v = a.view()
    v.flags.writeable = False
    return v


@dataclass(frozen=True, eq=False, repr=False)
class EncodedLog:
    """An event log as integer codes, sorted once by (case, timestamp, input order).

    Build it with :func:`encode`; pass it to :func:`journeymine.dfg`, :func:`journeymine.variants`,
    :func:`journeymine.funnel`... in place of the log so that encoding and sorting are paid once.
    The arrays are read-only; event ``i`` of the sorted log has case ``case_ids[case_codes[i]]``,
    activity ``activities[activity_codes[i]]`` and time ``timestamps[i]``. When the input was
    already sorted, ``timestamps`` may share memory with the input frame: encode again after
    modifying that frame in place.

    Attributes
    ----------
    case : str
        Name of the case column (``customer_id``, or e.g. ``session_id`` for a process log).
    case_codes : ndarray of int16 or int32
        Case code of every event; non-decreasing (events of a case are contiguous).
    case_ids : Index
        Case labels, indexed by code.
    activity_codes : ndarray of int16 or int32
        Activity code of every event (int16 when there are fewer than 32,768 activities).
    activities : Index of str
        Activity labels (text), indexed by code.
    timestamps : ndarray of int64
        Event times in microseconds since the epoch, UTC.
    attributes : dict
        Extra columns carried along: name -> (codes as int16/int32 with -1 for null, labels).

    Examples
    --------
    :func:`encode` returns one:

    >>> from journeymine.datasets import make_journeys
    >>> from journeymine.engine import encode
    >>> events = make_journeys(200, days=30, random_state=0).events
    >>> enc = encode(events, columns=["journey_id"])
    >>> enc.n_events == len(events), enc.n_cases == events["customer_id"].nunique()
    (True, True)
    >>> enc.timestamps.dtype, sorted(enc.attributes)  # channel is carried when present
    (dtype('int64'), ['channel', 'journey_id'])
    >>> first = enc.case_codes == 0  # the events of the first customer, in time order
    >>> enc.case_ids[0], bool((enc.timestamps[first][1:] >= enc.timestamps[first][:-1]).all())
    ('C0000000', True)
    >>> enc.activities[enc.activity_codes[first]].tolist() == (
    ...     events[events["customer_id"] == "C0000000"]
    ...     .sort_values("timestamp", kind="stable")["activity"].astype(str).tolist())
    True
    """

    case: str
    case_codes: np.ndarray
    case_ids: pd.Index
    activity_codes: np.ndarray
    activities: pd.Index
    timestamps: np.ndarray
    attributes: dict[str, tuple[np.ndarray, pd.Index]] = field(default_factory=dict)

    @property
    def n_events(self) -> int:
        """Number of events."""
        return len(self.activity_codes)

    @cached_property
    def case_bounds(self) -> np.ndarray:
        """Start position of every case in the sorted arrays, plus ``n_events`` at the end."""
        c = self.case_codes
        starts = np.flatnonzero(c[1:] != c[:-1]) + 1
        return _readonly(np.concatenate(([0], starts, [len(c)])).astype(np.int64))

    @property
    def n_cases(self) -> int:
        """Number of cases that have at least one event."""
        return len(self.case_bounds) - 1 if self.n_events else 0

    @cached_property
    def activity_counts(self) -> np.ndarray:
        """Events per activity code."""
        return _readonly(np.bincount(self.activity_codes, minlength=len(self.activities)))

    def present_activities(self) -> list[str]:
        """Activity labels that occur at least once."""
        return [str(a) for a, n in zip(self.activities, self.activity_counts, strict=True) if n]

    def attribute(self, name: str, *, purpose: str = "") -> tuple[np.ndarray, pd.Index]:
        """Codes and labels of an extra column; raise when it was not encoded or has nulls."""
        if name not in self.attributes:
            carried = sorted(self.attributes)
            why = f"{purpose} needs column {name!r}, but " if purpose else ""
            raise MissingColumnError(
                f"{why}the encoded log does not carry {name!r}.{did_you_mean(name, carried)} "
                f"It carries {carried}. Encode with jm.encode(log, columns=[{name!r}]) or pass "
                f"the DataFrame."
            )
        codes, labels = self.attributes[name]
        nulls = int(np.count_nonzero(codes < 0))
        if nulls:
            raise EventLogError(
                f"column {name!r} has {nulls} null values; {purpose or 'this statistic'} needs "
                f"a value on every event. Fill them first, e.g. "
                f"log[{name!r}] = log[{name!r}].fillna('unknown')."
            )
        return codes, labels

    def take(self, mask: np.ndarray) -> EncodedLog:
        """The events where ``mask`` (boolean, one per sorted event) is true, still sorted."""
        mask = np.asarray(mask, dtype=bool)
        return EncodedLog(
            case=self.case,
            case_codes=_readonly(self.case_codes[mask]),
            case_ids=self.case_ids,
            activity_codes=_readonly(self.activity_codes[mask]),
            activities=self.activities,
            timestamps=_readonly(self.timestamps[mask]),
            attributes={
                k: (_readonly(codes[mask]), labels)
                for k, (codes, labels) in self.attributes.items()
            },
        )

    def to_frame(self) -> pd.DataFrame:
        """Decode into a sorted DataFrame (case column, timestamp, activity, attributes).

        Examples
        --------
        >>> import pandas as pd
        >>> enc = encode(pd.DataFrame({"customer_id": ["b", "a", "b"],
        ...     "timestamp": pd.to_datetime(["2025-01-02", "2025-01-01", "2025-01-01"], utc=True),
        ...     "activity": ["buy", "view", "view"]}))
        >>> enc.to_frame()[["customer_id", "activity"]].values.tolist()
        [['b', 'view'], ['b', 'buy'], ['a', 'view']]
        """
        out: dict[str, Any] = {
            self.case: self.case_ids.take(self.case_codes),
            TIMESTAMP: pd.DatetimeIndex(self.timestamps.astype("datetime64[us]")).tz_localize(
                "UTC"
            ),
            ACTIVITY: pd.Categorical.from_codes(self.activity_codes, self.activities),
        }
        for name, (codes, labels) in self.attributes.items():
            out[name] = pd.Categorical.from_codes(codes, labels)
        frame = pd.DataFrame(out)
        frame[TIMESTAMP] = frame[TIMESTAMP].astype(TIMESTAMP_DTYPE)
        return frame

    def __repr__(self) -> str:
        return (
            f"EncodedLog(case={self.case!r}, events={self.n_events}, cases={self.n_cases}, "
            f"activities={len(self.activities)}, attributes={sorted(self.attributes)})"
        )


LogInput: TypeAlias = pd.DataFrame | str | os.PathLike[str] | EncodedLog


def _as_str_labels(codes: np.ndarray, values: Iterable[Any]) -> tuple[np.ndarray, pd.Index]:
    """Make labels text; labels that become equal as text (1 and '1') are merged."""
    labels = pd.Index(values)
    if pd.api.types.is_string_dtype(labels.dtype) and labels.dtype != object:
        return codes, labels
    text = pd.Index([str(v) for v in labels], dtype="str")
    remap, uniq = pd.factorize(text)
    if len(uniq) == len(text):
        return codes, text
    remap = np.append(remap, -1).astype(codes.dtype)  # code -1 (null) stays -1
    return remap[codes], pd.Index(uniq, dtype="str")


def _code_dtype(n_labels: int) -> type[np.signedinteger]:
    """Smallest signed integer type for codes 0..n_labels-1 and the null code -1."""
    return np.int16 if n_labels < 2**15 else np.int32


def _factorize_sorted_text(s: pd.Series) -> tuple[np.ndarray, pd.Index] | None:
    """Codes and labels of an Arrow-backed text column without nulls whose values are in
    sorted order (a canonical log's customer_id), from the run boundaries: two vectorised
    comparisons instead of hashing every value. None for any other column."""
    if not isinstance(s.array, pd.arrays.ArrowStringArray) or len(s) < 2 or s.hasnans:
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(s.array)
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    head, tail = arr.slice(0, len(arr) - 1), arr.slice(1)
    new = np.empty(len(arr), dtype=bool)
    new[0] = True
    new[1:] = pc.not_equal(head, tail).to_numpy(zero_copy_only=False)
    starts = np.flatnonzero(new)
    # sorted when every change of value goes up: one comparison per change, not per value
    changes = pa.array(starts[1:] - 1)
    if not pc.all(pc.less(head.take(changes), tail.take(changes)), min_count=0).as_py():
        return None
    codes = np.cumsum(new, dtype=np.int64) - 1
    labels = pd.Index(pd.array(arr.take(pa.array(starts)), dtype=s.dtype))
    return codes.astype(_code_dtype(len(labels))), labels


def _factorize_series(s: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (int16/int32, -1 for null, in order of first appearance) and labels."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        labels = pd.Index(s.cat.categories)
        return s.cat.codes.to_numpy().astype(_code_dtype(len(labels))), labels
    kept = cached_codes(s)  # the customer codes read_events/validate computed while sorting
    if kept is not None:
        codes, labels = kept  # shared with the column's cache, never written to
        return codes.astype(_code_dtype(len(labels)), copy=False), labels
    runs = _factorize_sorted_text(s)
    if runs is not None:
        return runs
    codes, uniques = pd.factorize(s, sort=False, use_na_sentinel=True)
    return codes.astype(_code_dtype(len(uniques))), pd.Index(uniques)


def _factorize_arrow(col: Any) -> tuple[np.ndarray, pd.Index]:
    import pyarrow as pa
    import pyarrow.compute as pc

    enc = pc.dictionary_encode(col)
    chunks = enc.chunks
    if not chunks:
        return np.zeros(0, np.int32), pd.Index([], dtype="str")
    idx = pa.chunked_array([ch.indices for ch in chunks], type=chunks[0].indices.type)
    labels = pd.Index(chunks[0].dictionary.to_pylist(), dtype="str")
    if idx.null_count:
        idx = pc.fill_null(idx, -1)
    codes = idx.to_numpy().astype(_code_dtype(len(labels)))
    return codes, labels


def _timestamps(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(sort key in the column's own unit, microseconds since the epoch UTC), both int64."""
    dtype = s.dtype
    if not (isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype)):
        raise EventLogError(
            f"column {TIMESTAMP!r} has dtype {dtype}, not datetime. Parse it first: "
            f"log = jm.validate(log) (text and epoch numbers), or read the file with "
            f"jm.read_events(...)."
        )
    unit = s.dt.unit
    raw = s.to_numpy(dtype=f"datetime64[{unit}]").view(np.int64)
    nat = raw == np.iinfo(np.int64).min
    if nat.any():
        raise EventLogError(
            f"column {TIMESTAMP!r} has {int(nat.sum())} null values (NaT). Drop or fix them, "
            f"e.g. jm.validate(log, drop_invalid=True) drops them and reports the count."
        )
    factor = MICROS_PER_UNIT.get(unit)  # None: nanoseconds
    micros = raw // 1000 if factor is None else raw * factor if factor != 1 else raw
    return raw, micros


def _stable_order_by_code(codes: np.ndarray, n_codes: int) -> np.ndarray:
    """Stable argsort of non-negative codes by 16-bit radix passes (least significant first)."""
    order = np.argsort(codes.astype(np.uint16), kind="stable")  # numpy radix-sorts 16-bit keys
    if n_codes > 1 << 16:
        high = (codes[order] >> 16).astype(np.uint16)
        order = order[np.argsort(high, kind="stable")]
    return order


def _sort_order(codes: np.ndarray, n_codes: int, key_time: np.ndarray) -> np.ndarray | None:
    """Stable order by (code, time), or None when the events are already in that order.

    Events in global time order, as raw exports often are, get a stable radix sort on the case
    code alone; anything else one sort of an int64 key (:func:`stable_order`).
    """
    if len(codes) < 2:
        return None
    if n_codes < 1 << 32 and bool(np.all(key_time[1:] >= key_time[:-1])):
        if bool(np.all(codes[1:] >= codes[:-1])):
            return None
        return _stable_order_by_code(codes, n_codes)
    return stable_order(codes, n_codes, key_time)


def _check_case_arg(case: str) -> None:
    if not isinstance(case, str) or not case:
        raise ConfigError(
            f"case={case!r} is not allowed; pass a column name such as "
            f"'customer_id' or 'session_id'."
        )
    if case in (TIMESTAMP, ACTIVITY):
        raise ConfigError(
            f"case={case!r} is not allowed: the case is who the events belong to, "
            f"e.g. 'customer_id' or 'session_id'."
        )


def _default_columns(available: Iterable[str], case: str) -> list[str]:
    """Columns carried whenever present: channel, and customer_id for another case notion."""
    avail = set(available)
    out = [CHANNEL] if CHANNEL in avail else []
    if case != CUSTOMER_ID and CUSTOMER_ID in avail:
        out.append(CUSTOMER_ID)
    return out


def encode(
    log: pd.DataFrame | str | os.PathLike[str],
    *,
    case: str = CUSTOMER_ID,
    columns: Sequence[str] | None = None,
) -> EncodedLog:
    """Encode an event log once: integer codes, int64 microsecond times, one stable sort.

    Pass the result to the journey statistics (:func:`journeymine.dfg`,
    :func:`journeymine.variants`, :func:`journeymine.funnel`, ...) to pay encoding once.

    Parameters
    ----------
    log : DataFrame or path
        A canonical event log (at least ``case``, ``timestamp``, ``activity``), or the path of
        a Parquet/CSV file with those columns, read by DuckDB without going through pandas
        (ids are read as text; timestamps without an offset are taken as UTC). The DataFrame is
        never modified and need not be sorted.
    case : str, default "customer_id"
        Column that identifies a case (a journey). A process log may use ``session_id``.
    columns : sequence of str, optional
        Extra columns to carry (e.g. a segment column for ``dfg(segment=...)`` or
        ``funnel(segment=...)``); they must exist. ``channel`` and, when ``case`` is not
        ``customer_id``, ``customer_id`` are always carried when present.

    Returns
    -------
    EncodedLog
        Events sorted by (case, timestamp), ties in input order.

    Raises
    ------
    MissingColumnError
        A needed column is absent (the message suggests the closest name).
    EmptyLogError
        The log has no events.
    EventLogError
        Nulls in the case, activity or timestamp column, or a timestamp that is not a datetime.

    Examples
    --------
    >>> import journeymine as jm
    >>> log = jm.datasets.make_journeys(n_customers=200, days=60, random_state=0).events
    >>> enc = jm.encode(log)
    >>> enc.n_events == len(log), enc.n_cases == log["customer_id"].nunique()
    (True, True)
    >>> jm.dfg(enc, top_k=1)["count"].tolist() == jm.dfg(log, top_k=1)["count"].tolist()
    True
    """
    _check_case_arg(case)
    if columns is not None:
        if isinstance(columns, str):
            columns = [columns]
        columns = list(dict.fromkeys(columns))
    t0 = time.perf_counter()
    if isinstance(log, pd.DataFrame):
        enc = _encode_frame(log, case, columns)
    elif isinstance(log, str | os.PathLike):
        enc = _encode_path(log, case, columns)
    else:
        raise EventLogError(
            f"expected a pandas DataFrame of events or the path of a Parquet/CSV file, got "
            f"{type(log).__name__}."
        )
    logger.debug("encoded %s in %.3f s", enc, time.perf_counter() - t0)
    return enc


def _encodable(log: pd.DataFrame) -> bool:
    """Cheap checks that a customer log needs nothing from the gate: the required columns
    each once, events, datetime timestamps, no null, blank or non-scalar id or activity."""
    if not isinstance(log, pd.DataFrame):
        return False
    cols = log.columns
    if len(log) == 0 or cols.has_duplicates or any(c not in cols for c in REQUIRED_COLUMNS):
        return False
    ts = log[TIMESTAMP]
    if not (isinstance(ts.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(ts)):
        return False
    if ts.isna().any():
        return False
    for col in (CUSTOMER_ID, ACTIVITY):
        s = log[col]
        if s.isna().any():
            return False
        if isinstance(s.dtype, pd.CategoricalDtype):
            s = pd.Series(s.cat.categories)
        elif col == CUSTOMER_ID and s.dtype != object and pd.api.types.is_string_dtype(s.dtype):
            continue  # text ids: blank ones are looked for among the distinct ids (_has_blank)
        if s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) != "string":
            return False
        if pd.api.types.is_string_dtype(s.dtype) and _has_blank(s):
            return False
    return True


def _has_blank(values: pd.Series | pd.Index) -> bool:
    """Any empty or whitespace-only text among ``values``."""
    return bool(pd.Series(values).str.strip().eq("").any())


def _encode_frame(log: pd.DataFrame, case: str, columns: list[str] | None) -> EncodedLog:
    if case == CUSTOMER_ID and not _encodable(log):
        # the one gate decides what is wrong (the same error as from every entry point) or
        # returns the log validated; logs encode can take as they are skip it, keeping their
        # nanoseconds, unused categories, null attributes and dates of any year
        log = canonical_log(log)
    required = [c for c in columns or () if c not in (case, TIMESTAMP, ACTIVITY)]
    require_columns(log, [case, TIMESTAMP, ACTIVITY, *required], purpose="journey statistics")
    extra = list(dict.fromkeys([*_default_columns(log.columns, case), *required]))
    if len(log) == 0:
        raise EmptyLogError(
            "the event log is empty (0 rows). Check the file, the filters or the time window."
        )
    case_codes, case_ids = _factorize_series(log[case])
    if case == CUSTOMER_ID and _has_blank(case_ids):
        gated = canonical_log(log)  # as for any log _encodable refuses
        if gated is not log:
            log = gated
            case_codes, case_ids = _factorize_series(log[case])
    act_codes, activities = _factorize_series(log[ACTIVITY])
    _check_nulls({case: case_codes, ACTIVITY: act_codes})
    key_time, micros = _timestamps(log[TIMESTAMP])
    attrs = {c: _factorize_series(log[c]) for c in extra}
    return _build(case, case_codes, case_ids, act_codes, activities, key_time, micros, attrs)


def _encode_path(path: str | os.PathLike[str], case: str, columns: list[str] | None) -> EncodedLog:
    from journeymine.engine._duckdb import read_file_columns

    optional = [CHANNEL] + ([CUSTOMER_ID] if case != CUSTOMER_ID else [])
    table, more = read_file_columns(
        path,
        case=case,
        timestamp=TIMESTAMP,
        activity=ACTIVITY,
        extra=columns or (),
        optional=optional,
    )
    case_codes, case_ids = _factorize_arrow(table.column("case"))
    act_codes, activities = _factorize_arrow(table.column("activity"))
    micros = table.column("timestamp").to_numpy().astype(np.int64, copy=False)
    attrs = {c: _factorize_arrow(table.column(c)) for c in more}
    logger.debug("read %d events from %s", table.num_rows, Path(path).name)
    return _build(case, case_codes, case_ids, act_codes, activities, micros, micros, attrs)


def _check_nulls(cols: dict[str, np.ndarray]) -> None:
    problems = [
        f"{int((c < 0).sum())} null values in {name!r}" for name, c in cols.items() if (c < 0).any()
    ]
    if problems:
        raise EventLogError(
            "cannot compute journey statistics: " + "; ".join(problems) + ". Every event needs "
            "a case and an activity: jm.validate(log, drop_invalid=True) drops such rows and "
            "reports the count.",
            problems,
        )


def _build(
    case: str,
    case_codes: np.ndarray,
    case_ids: pd.Index,
    act_codes: np.ndarray,
    activities: pd.Index,
    key_time: np.ndarray,
    micros: np.ndarray,
    attrs: dict[str, tuple[np.ndarray, pd.Index]],
) -> EncodedLog:
    act_codes, activities = _as_str_labels(act_codes, activities)
    order = _sort_order(case_codes, len(case_ids), key_time)
    if order is None:

        def pick(a: np.ndarray) -> np.ndarray:
            return _readonly(a)
    else:

        def pick(a: np.ndarray) -> np.ndarray:
            return _readonly(a[order])

    return EncodedLog(
        case=case,
        case_codes=pick(case_codes),
        case_ids=case_ids,
        activity_codes=pick(act_codes),
        activities=activities,
        timestamps=pick(micros),
        attributes={k: (pick(codes), labels) for k, (codes, labels) in attrs.items()},
    )


def as_encoded(
    log: LogInput, *, case: str = CUSTOMER_ID, columns: Sequence[str] = ()
) -> EncodedLog:
    """Encode ``log`` unless it already is an :class:`EncodedLog`; check that it carries
    ``columns`` and uses the case column ``case``.

    Examples
    --------
    >>> from journeymine.datasets import make_journeys
    >>> from journeymine.engine import as_encoded, encode
    >>> events = make_journeys(200, days=30, random_state=0).events
    >>> enc = encode(events)
    >>> as_encoded(enc) is enc  # already encoded: returned as it is
    True
    >>> sorted(as_encoded(events, columns=["journey_id"]).attributes)  # a frame is encoded
    ['channel', 'journey_id']
    >>> as_encoded(enc, columns=["product"])
    Traceback (most recent call last):
    ...
    journeymine.exceptions.MissingColumnError: the encoded log does not carry 'product'. ...
    """
    if isinstance(log, EncodedLog):
        _check_case_arg(case)
        if log.case != case:
            raise ConfigError(
                f"the encoded log uses case={log.case!r}, but case={case!r} was asked for. "
                f"Pass case={log.case!r}, or encode again with jm.encode(log, case={case!r})."
            )
        for c in columns:
            log.attribute(c)
        return log
    return encode(log, case=case, columns=list(columns))
