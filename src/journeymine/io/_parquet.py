"""Parquet read as Arrow, and a clean log made canonical on Arrow and numpy.

:func:`canonical_from_table` is the fast path of :func:`journeymine.read_events` for an Arrow
table holding exactly the canonical columns ``customer_id``, ``timestamp``, ``activity`` and
optionally ``channel``. It returns the frame :func:`journeymine.schema.validate` would return
(same values, dtypes, categories and row order) when the log passes every rule of the gate
as it is; otherwise it returns None and the caller hands the log to ``validate``, which
decides what is wrong and says so. It never raises or warns about the data itself: the one
gate keeps every error and warning.

Where the time goes on a shuffled log: customer ids are hashed once in Arrow (on a second
thread, while the other columns are coded) and only the distinct ids are sorted; activity and
channel stay Arrow dictionaries (hashed per distinct value, never per event); the rows are
ordered by one sort of an int64 key (:func:`journeymine.engine.stable_order`); nothing becomes
a Python object.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from journeymine import schema
from journeymine.engine import stable_order

__all__ = ["canonical_from_table", "read_parquet", "sorted_categories"]

_FAST_COLUMNS = frozenset({schema.CUSTOMER_ID, schema.TIMESTAMP, schema.ACTIVITY, schema.CHANNEL})
# the canonical columns with rules of their own (ids, value): left to the gate
_GATED_COLUMNS = frozenset(schema.CANONICAL_COLUMNS) - _FAST_COLUMNS


def sorted_categories(s: pd.Series) -> pd.Series:
    """A categorical text column with its categories in sorted order (as
    ``astype("category")`` gives them), codes remapped; nulls stay null."""
    cats = s.cat.categories
    perm = np.argsort(cats.to_numpy(dtype=object), kind="stable")
    if (perm == np.arange(len(perm))).all():
        return s
    rank = np.empty(len(perm) + 1, dtype=np.int64)
    rank[perm] = np.arange(len(perm))
    rank[-1] = -1  # null (code -1) stays null
    codes = rank[s.cat.codes.to_numpy()]
    out = pd.Categorical.from_codes(codes, categories=cats.take(perm))
    return pd.Series(out, index=s.index, name=s.name)


def _release_arrow_memory() -> None:
    """Hand the memory Arrow's pool holds unused (freed by the Parquet decoder, hash tables
    and temporaries) back to the system, where numpy's next large arrays reuse it: a pool
    keeps freed memory for its own allocations only, and the process would otherwise grow
    into memory it has not touched yet, which costs more than the arithmetic on it."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


def _is_text(t: Any) -> bool:
    import pyarrow as pa

    return bool(pa.types.is_string(t) or pa.types.is_large_string(t))


def _ranked(arr: Any) -> tuple[np.ndarray, Any]:
    """Codes of a text column ranked by value (code order = sorted order of the distinct
    values) and the sorted distinct values, hashing every value once in Arrow and sorting
    only the distinct values."""
    import pyarrow as pa
    import pyarrow.compute as pc

    enc = pc.dictionary_encode(arr)
    if isinstance(enc, pa.ChunkedArray):
        # one hash table over all chunks: every chunk shares the final dictionary (checked;
        # else the chunks are combined first, which copies the text)
        chunks = enc.chunks
        if not chunks or len({_buffer_id(c.dictionary) for c in chunks}) != 1:
            return _ranked(arr.combine_chunks())
        dictionary = chunks[0].dictionary
        indices = [c.indices for c in chunks]
    else:
        dictionary, indices = enc.dictionary, [enc.indices]
    # UTF-8 byte order is code point order: the order of Python (and pandas) string sorts
    perm = pc.sort_indices(dictionary).to_numpy()
    # int32 for fewer than 2**31 ids: half the memory of int64 for the per-event codes
    rank = np.empty(len(perm), dtype=np.int32 if len(perm) < 2**31 else np.int64)
    rank[perm] = np.arange(len(perm), dtype=rank.dtype)
    return _looked_up(rank, indices), dictionary.take(pa.array(perm))


def _looked_up(table: np.ndarray, chunks: list[Any]) -> np.ndarray:
    """``table[i]`` for the indices of every chunk (Arrow integer arrays without nulls), in
    one numpy array: chunk by chunk, without combining the chunks first (a copy)."""
    out = np.empty(sum(len(c) for c in chunks), dtype=table.dtype)
    start = 0
    for c in chunks:
        # Arrow checked the indices; "clip" writes straight into out ("raise" buffers it)
        np.take(table, c.to_numpy(), out=out[start : start + len(c)], mode="clip")
        start += len(c)
    return out


def _buffer_id(arr: Any) -> tuple[int, ...]:
    """The addresses of an Arrow array's buffers: equal for the very same data."""
    return (*(b.address if b is not None else 0 for b in arr.buffers()), arr.offset, len(arr))


def _dictionary_codes(col: Any, keep_order: bool) -> tuple[np.ndarray, Any]:
    """Codes (int8, or int32 from 128 values on) and distinct values of a text or dictionary
    column with no nulls: only the values that occur, sorted, or in the dictionary's order
    with ``keep_order`` (a categorical column written by pandas reads back so)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_dictionary(col.type):
        col = pc.dictionary_encode(col)
    col = col.unify_dictionaries() if isinstance(col, pa.ChunkedArray) else col
    chunks = col.chunks if isinstance(col, pa.ChunkedArray) else [col]
    if not chunks:
        return np.zeros(0, dtype=np.int64), pa.array([], pa.string())
    labels = chunks[0].dictionary
    indices = [c.indices for c in chunks]
    counts = np.zeros(len(labels), dtype=np.int64)
    for c in indices:  # the values that occur, counted per chunk
        counts += np.bincount(c.to_numpy(), minlength=len(labels))
    present = np.flatnonzero(counts)
    labels = labels.take(pa.array(present))
    perm = np.arange(len(labels)) if keep_order else pc.sort_indices(labels).to_numpy()
    remap = np.full(len(chunks[0].dictionary), -1, dtype=np.int8 if len(perm) < 128 else np.int32)
    remap[present[perm]] = np.arange(len(perm))
    return _looked_up(remap, indices), labels.take(pa.array(perm))


def _micros(col: Any, tz: str) -> np.ndarray | None:
    """int64 microseconds (UTC) of an Arrow timestamp column, or None when the gate must
    convert it (nanoseconds, naive times read in a zone other than UTC, not a timestamp)."""
    import pyarrow as pa

    t = col.type
    if not pa.types.is_timestamp(t) or t.unit not in schema.MICROS_PER_UNIT:
        return None
    if t.tz is None and tz != "UTC":
        return None
    values = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    out = values.to_numpy(zero_copy_only=False).view(np.int64)
    factor = schema.MICROS_PER_UNIT[t.unit]
    return out * factor if factor != 1 else out


def _in_range(t: np.ndarray, plausible_range: schema.PlausibleRange | None) -> bool:
    """Every time (int64 microseconds UTC) inside ``plausible_range``, by the gate's rule
    applied to the first and the last."""
    ends = np.array([t.min(), t.max()]).view("datetime64[us]")
    return not schema.implausible_timestamps(ends, plausible_range).any()


def _stores_index(table_schema: Any) -> bool:
    """A file written from pandas with its index stored as a column (pandas reads it back as
    the index, which the gate then drops)."""
    meta = (table_schema.metadata or {}).get(b"pandas")
    if meta is None:
        return False
    try:
        index = json.loads(meta).get("index_columns", [])
    except (ValueError, AttributeError):
        return True  # unreadable metadata: let pandas and the gate decide
    return any(isinstance(i, str) for i in index)


def _has_duplicate_rows(
    c: np.ndarray, t: np.ndarray, others: list[np.ndarray], *, compare: bool = True
) -> bool:
    """Rows equal in every column, in sorted arrays (equal rows share customer and time, so
    only the rows of a (customer, time) shared with a neighbour are compared). Without
    ``compare`` (columns not given here), any shared (customer, time) counts."""
    rows = schema.tied_positions(c, t)
    if not len(rows):
        return False
    if not compare:
        return True
    frame = pd.DataFrame(
        {"c": c[rows], "t": t[rows]} | {str(i): o[rows] for i, o in enumerate(others)}
    )
    return bool(frame.duplicated().any())


def canonical_from_table(
    table: Any,
    *,
    tz: str = "UTC",
    plausible_range: schema.PlausibleRange | None = schema.PLAUSIBLE_RANGE,
    duplicates: schema.Duplicates = "warn",
    ranked: Future[tuple[np.ndarray, Any]] | None = None,
    keep_order: Collection[str] = (),
) -> pd.DataFrame | None:
    """The canonical log of an Arrow table that passes the gate as it is, else None.

    ``table`` (a ``pyarrow.Table`` with canonical column names) qualifies when it holds
    ``customer_id`` (text), ``timestamp`` (an Arrow timestamp in s, ms or us; naive only with
    ``tz="UTC"``), ``activity``, optionally ``channel`` (text or dictionary) and columns that
    are not canonical (carried as pandas reads them), no other canonical column (ids and
    ``value`` have rules of their own), with no null, no empty or blank id, activity or
    channel, every time inside ``plausible_range``, at least one row, and no duplicate row
    unless ``duplicates="keep"`` (with other columns, no two rows sharing customer and time).
    The result equals ``schema.validate(frame, tz=tz, plausible_range=plausible_range,
    duplicates=duplicates)`` for the same data; anything else (other columns, another
    type, a problem) returns None so that ``validate`` reports it. ``ranked``: the customer
    ids already being ranked (:func:`_ranked` of the ``customer_id`` column, on a thread).
    Categories come out sorted, as ``astype("category")`` makes them, except for the dictionary
    columns named in ``keep_order``, which keep their dictionary's order (as a categorical
    column written by pandas reads back); an ordered dictionary goes to the gate.

    Examples
    --------
    >>> import pyarrow as pa
    >>> day = 86_400 * 1_000_000  # microseconds
    >>> t = pa.table({"customer_id": ["b", "a"], "activity": ["x", "y"],
    ...     "timestamp": pa.array([20_000 * day, 20_001 * day], pa.timestamp("us", tz="UTC"))})
    >>> canonical_from_table(t)[["customer_id", "activity"]].values.tolist()
    [['a', 'y'], ['b', 'x']]
    >>> canonical_from_table(t.append_column("value", pa.array([1.0, 2.0]))) is None
    True
    """
    columns = _coded_columns(
        table, tz=tz, plausible_range=plausible_range, ranked=ranked, keep_order=keep_order
    )
    return None if columns is None else _canonical(columns, duplicates)


class _Coded(NamedTuple):
    """A table's canonical columns as numpy: int64 microseconds and customer ranks in the
    file's row order, the sorted distinct ids, the activity (and channel) codes with their
    labels, and the other columns (an Arrow table, or None)."""

    t: np.ndarray
    ranks: np.ndarray
    ids: Any
    coded: dict[str, tuple[np.ndarray, Any]]
    extras: Any


def _coded_columns(
    table: Any,
    *,
    tz: str,
    plausible_range: schema.PlausibleRange | None,
    ranked: Future[tuple[np.ndarray, Any]] | None,
    keep_order: Collection[str],
) -> _Coded | None:
    """The columns of :func:`canonical_from_table`, coded, or None when the table does not
    qualify: after this the table itself is no longer needed."""
    import pyarrow as pa

    names = list(table.column_names)
    canonical = [n for n in names if n in _FAST_COLUMNS]
    extras = [n for n in names if n not in schema.CANONICAL_COLUMNS]
    if (
        table.num_rows == 0
        or len(set(names)) != len(names)
        or set(names) & _GATED_COLUMNS
        or not set(schema.REQUIRED_COLUMNS) <= set(names)
        or any(table.column(n).null_count for n in canonical)
        or not _is_text(table.schema.field(schema.CUSTOMER_ID).type)
        or (extras and _stores_index(table.schema))
    ):
        return None
    categories = [c for c in (schema.ACTIVITY, schema.CHANNEL) if c in names]
    for name in categories:
        typ = table.schema.field(name).type
        if pa.types.is_dictionary(typ) and (typ.ordered or not _is_text(typ.value_type)):
            return None
        if not (_is_text(typ) or pa.types.is_dictionary(typ)):
            return None
    t = _micros(table.column(schema.TIMESTAMP), tz)
    if t is None or not _in_range(t, plausible_range):
        return None
    with ThreadPoolExecutor(1) as pool:
        # customer ids are hashed (the longest step) while the other columns are coded
        if ranked is None:
            ranked = pool.submit(_ranked, table.column(schema.CUSTOMER_ID))
        coded = {
            name: _dictionary_codes(table.column(name), name in keep_order) for name in categories
        }
        blank = any(schema.blank_values(labels).any() for _, labels in coded.values())
        ranks, ids = ranked.result()
    if blank or schema.blank_values(ids).any():
        return None
    # the file's pandas metadata (nullable integer dtypes, categories) comes along
    rest = table.select(extras).replace_schema_metadata(table.schema.metadata) if extras else None
    return _Coded(t, ranks, ids, coded, rest)


def _canonical(columns: _Coded, duplicates: schema.Duplicates) -> pd.DataFrame | None:
    """The canonical frame of coded columns: rows sorted by (customer, time), or None when
    the gate must see the log (duplicate rows unless ``duplicates="keep"``)."""
    import pyarrow as pa

    t, ranks, ids, coded, extras = columns
    _release_arrow_memory()  # what reading and hashing freed, for the sort's arrays
    order = stable_order(ranks, len(ids), t)
    if order is None:
        t = t.copy()  # the frame gets its own writeable times, not the Arrow buffer
    else:
        with ThreadPoolExecutor(1) as pool:  # the widest gather on a second thread
            times = pool.submit(np.take, t, order)
            coded = {k: (codes[order], labels) for k, (codes, labels) in coded.items()}
            # sorted ranks are non-decreasing: rebuilt from the counts, not gathered
            ranks = np.repeat(
                np.arange(len(ids), dtype=ranks.dtype), np.bincount(ranks, minlength=len(ids))
            )
            t = times.result()
        if extras is None:
            order = None  # freed before the columns are made
    if duplicates != "keep" and _has_duplicate_rows(
        ranks, t, [c for c, _ in coded.values()], compare=extras is None
    ):
        return None
    # pandas holds text as large_string: the (few) distinct ids are cast, not every event's
    text = ids.cast(pa.large_string()).take(pa.array(ranks))
    cols: dict[str, Any] = {
        schema.CUSTOMER_ID: pd.array(text, dtype=schema.STRING_DTYPE),
        # int64 microseconds viewed as UTC times: no copy
        schema.TIMESTAMP: pd.Series(t, dtype=pd.DatetimeTZDtype("us", "UTC"), copy=False).array,
    }
    for name, (codes, labels) in coded.items():
        cats = pd.Index(pd.array(labels, dtype=schema.STRING_DTYPE))
        cols[name] = pd.Categorical.from_codes(codes, categories=cats)
    out = pd.DataFrame(  # every column is new here: no copy
        {c: cols[c] for c in schema.CANONICAL_COLUMNS if c in cols},
        index=pd.RangeIndex(len(t)),
        copy=False,
    )
    if extras is not None:  # other columns as pandas reads them, carried in the same order
        rest = pd.DataFrame.from_arrow(extras)
        rest = rest.take(order) if order is not None else rest
        for name in extras.column_names:
            out[name] = rest[name].reset_index(drop=True)
    # the customer codes ride on the column: encode() need not hash the ids again
    schema.remember_codes(out[schema.CUSTOMER_ID], ranks, ids)
    return out


def read_parquet(
    path: Path, rename: Mapping[str, str], dictionary: list[str], fast: dict[str, Any] | None
) -> tuple[Any, pd.DataFrame | None]:
    """The file as an Arrow table (``dictionary`` columns as Arrow dictionaries) and, with
    ``fast`` (the gate's options: ``tz``, ``plausible_range``, ``duplicates``), the canonical
    log when the columns, renamed by ``rename``, pass the gate as they are (else None). When
    the log comes out canonical, None stands for the table (its memory is released).

    For a fast read, the column that becomes ``customer_id`` is decoded first and hashed on a
    second thread while the other columns are decoded."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    file_schema = pq.read_schema(path)
    names = [str(n) for n in file_schema.names]
    renamed = [rename.get(n, n) for n in names]
    # dictionaries stored in the file keep their order (pandas reads them so)
    keep_order = [
        dst
        for n, dst in zip(names, renamed, strict=True)
        if pa.types.is_dictionary(file_schema.field(n).type)
    ]
    if (
        fast is None
        or set(renamed) & _GATED_COLUMNS
        or schema.CUSTOMER_ID not in renamed
        or _stores_index(file_schema)
    ):
        return pq.read_table(path, read_dictionary=dictionary or None), None
    cust = names[renamed.index(schema.CUSTOMER_ID)]
    # pre_buffer off: a local file needs no coalesced read-ahead, and the decoder then holds
    # less memory at once
    ids = pq.read_table(path, columns=[cust], pre_buffer=False)
    with ThreadPoolExecutor(1) as pool:
        ranked = None
        if _is_text(ids.schema.field(cust).type) and not ids.column(cust).null_count:
            ranked = pool.submit(_ranked, ids.column(cust))
        others = [n for n in names if n != cust]
        rest = pq.read_table(
            path, columns=others, read_dictionary=dictionary or None, pre_buffer=False
        )
        table = rest.add_column(names.index(cust), ids.schema.field(cust), ids.column(cust))
        table = table.replace_schema_metadata(file_schema.metadata)  # as one read keeps it
        if ranked is None:
            return table, None
        columns = _coded_columns(
            table.rename_columns(renamed).replace_schema_metadata(file_schema.metadata),
            tz=fast["tz"],
            plausible_range=fast["plausible_range"],
            ranked=ranked,
            keep_order=keep_order,
        )
    if columns is None:
        return table, None
    del table, rest, ids  # coded: the file's columns are freed before the sort
    frame = _canonical(columns, fast["duplicates"])
    del columns
    if frame is None:  # duplicate rows: the gate reads the table (read again, as one read)
        return pq.read_table(path, read_dictionary=dictionary or None), None
    _release_arrow_memory()
    return None, frame
