"""DuckDB connection helper, reading event files directly, and the grouped SQL aggregations.

DuckDB is imported lazily (inside the functions), so importing :mod:`journeymine.engine` costs
nothing for code that only encodes in-memory DataFrames.
"""

from __future__ import annotations

import os
import re
import threading
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from journeymine.exceptions import ConfigError, EmptyLogError, EventLogError
from journeymine.schema import require_columns

if TYPE_CHECKING:  # pragma: no cover
    import duckdb
    import pyarrow as pa

__all__ = ["connect", "edge_statistics", "file_columns", "quote_ident", "read_file_columns"]


PathLike = str | os.PathLike[str]
_PARQUET_SUFFIXES = (".parquet", ".pq", ".parq")
_CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".tsv.gz", ".txt")
_TIME_TYPES = ("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "DATE")


def connect(
    *, threads: int | None = None, memory_limit: str | None = None
) -> duckdb.DuckDBPyConnection:
    """Open a fresh in-memory DuckDB connection set up for journeymine.

    The session time zone is UTC, so timestamps without an offset read from CSV are taken as UTC
    (as everywhere in journeymine) whatever the machine's local zone.

    Parameters
    ----------
    threads : int, optional
        Worker threads (default: DuckDB's choice, one per core).
    memory_limit : str, optional
        DuckDB memory limit such as ``"2GB"``; above it, DuckDB spills to disk.

    Returns
    -------
    duckdb.DuckDBPyConnection
        Close it when done (or use it as a context manager).

    Examples
    --------
    >>> with connect(threads=1) as con:
    ...     con.sql("SELECT current_setting('TimeZone') AS tz").fetchall()
    [('UTC',)]
    """
    import duckdb

    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ConfigError(f"threads={threads!r} is not allowed; pass a positive int or None.")
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit is not None:
        if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", str(memory_limit)):
            con.close()
            raise ConfigError(
                f"memory_limit={memory_limit!r} is not allowed; pass a size such as '2GB' or "
                f"'512MiB'."
            )
        con.execute(f"SET memory_limit = '{memory_limit}'")
    return con


_LOCAL = threading.local()


def _session() -> duckdb.DuckDBPyConnection:
    """A connection cached per process and thread for internal queries (opening one costs
    tens of milliseconds, too much for small logs). Callers register tables under unique names
    and unregister them when done."""
    pid = os.getpid()
    con = getattr(_LOCAL, "con", None)
    if con is None or getattr(_LOCAL, "pid", None) != pid:
        con = connect()
        _LOCAL.con, _LOCAL.pid = con, pid
    return con


def quote_ident(name: str) -> str:
    """Quote a column name for SQL (double quotes, embedded quotes doubled).

    Examples
    --------
    >>> print(quote_ident('my "col'))
    "my ""col"
    """
    return '"' + str(name).replace('"', '""') + '"'


def _reader(path: PathLike) -> tuple[Path, str]:
    """Validate ``path`` and return it with the DuckDB table function that reads it."""
    p = Path(os.fspath(path))
    name = p.name.lower()
    if name.endswith(_PARQUET_SUFFIXES):
        func = "read_parquet"
    elif name.endswith(_CSV_SUFFIXES):
        func = "read_csv"
    else:
        raise ConfigError(
            f"cannot read {p.name!r} directly: the file must end in .parquet or .csv (also "
            f".csv.gz, .tsv). Read other formats with jm.read_events(path) or jm.read_xes(path) "
            f"and pass the DataFrame instead."
        )
    if not p.is_file():
        raise FileNotFoundError(
            f"no such event file: {p}. Check the path (relative paths start at {Path.cwd()})."
        )
    return p, func


def file_columns(path: PathLike, con: duckdb.DuckDBPyConnection | None = None) -> dict[str, str]:
    """Column names and DuckDB types of a Parquet/CSV file, read without loading the rows.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> with tempfile.TemporaryDirectory() as d:
    ...     pd.DataFrame({"customer_id": ["a"], "n": [1]}).to_parquet(f"{d}/e.parquet")
    ...     file_columns(f"{d}/e.parquet")
    {'customer_id': 'VARCHAR', 'n': 'BIGINT'}
    """
    p, func = _reader(path)
    con = _session() if con is None else con
    rows = con.sql(f"DESCRIBE SELECT * FROM {func}($path)", params={"path": str(p)}).fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def _timestamp_expr(col: str, dtype: str) -> str | None:
    """SQL giving microseconds since the epoch (UTC) for a column of DuckDB type ``dtype``."""
    q = quote_ident(col)
    base = dtype.upper()
    if base == "TIMESTAMP WITH TIME ZONE":
        return f"epoch_us({q})"
    if base in _TIME_TYPES:
        return f"epoch_us(CAST({q} AS TIMESTAMP))"
    if base == "VARCHAR":
        return f"epoch_us(TRY_CAST({q} AS TIMESTAMPTZ))"
    return None


def read_file_columns(
    path: PathLike,
    *,
    case: str,
    timestamp: str,
    activity: str,
    extra: Sequence[str] = (),
    optional: Sequence[str] = (),
) -> tuple[pa.Table, list[str]]:
    """Read the columns needed for journey statistics from a Parquet/CSV file with DuckDB.

    Only these columns are read (projection pushdown); rows keep the file order. Returns an Arrow
    table with ``case`` (text), ``timestamp`` (int64 microseconds since the epoch, UTC),
    ``activity`` (text), then ``extra`` and the ``optional`` columns the file has (as text),
    and the list of extra/optional columns actually read.

    Raises
    ------
    MissingColumnError
        A required column (case, timestamp, activity or one of ``extra``) is absent.
    EventLogError
        Nulls in the case/activity/timestamp columns or unparseable timestamps.
    EmptyLogError
        The file has no rows.

    Examples
    --------
    >>> import tempfile, pandas as pd
    >>> times = ["2025-01-01 09:00", "2025-01-01 09:05", "2025-01-02 10:00"]
    >>> log = pd.DataFrame({"customer_id": ["a", "a", "b"],
    ...     "timestamp": pd.to_datetime(times, utc=True),
    ...     "activity": ["visit", "purchase", "visit"], "channel": ["web", "web", "app"]})
    >>> with tempfile.TemporaryDirectory() as d:
    ...     log.to_parquet(f"{d}/events.parquet")
    ...     table, read = read_file_columns(f"{d}/events.parquet", case="customer_id",
    ...         timestamp="timestamp", activity="activity", optional=["channel", "product"])
    >>> table.column_names, read  # the file has no product column: not read
    (['case', 'timestamp', 'activity', 'channel'], ['channel'])
    >>> table["timestamp"].to_pylist()[:2]  # microseconds since the epoch, UTC
    [1735722000000000, 1735722300000000]
    """
    p, func = _reader(path)
    con = _session()
    types = file_columns(p, con)
    holder = pd.DataFrame(columns=list(types))
    require_columns(
        holder, [case, timestamp, activity, *extra], purpose=f"journey statistics on {p.name}"
    )
    ts_sql = _timestamp_expr(timestamp, types[timestamp])
    if ts_sql is None:
        raise EventLogError(
            f"column {timestamp!r} of {p.name} has type {types[timestamp]}, not a timestamp. "
            f"Epoch numbers need a unit: read the file with jm.read_events(path, "
            f"timestamp_unit='s') and pass the DataFrame."
        )
    more = [*extra, *(c for c in optional if c in types and c not in extra)]
    more = [c for c in dict.fromkeys(more) if c not in (case, timestamp, activity)]
    select = [
        f"CAST({quote_ident(case)} AS VARCHAR) AS c",
        f"{ts_sql} AS t",
        f"CAST({quote_ident(activity)} AS VARCHAR) AS a",
        *(f"CAST({quote_ident(c)} AS VARCHAR) AS x{i}" for i, c in enumerate(more)),
    ]
    rel = con.sql(f"SELECT {', '.join(select)} FROM {func}($path)", params={"path": str(p)})
    table = rel.to_arrow_table()
    if table.num_rows == 0:
        raise EmptyLogError(f"{p.name} has no rows. Check the file.")
    problems = []
    for col, what in (("c", case), ("a", activity)):
        nulls = table.column(col).null_count
        if nulls:
            problems.append(f"{nulls} rows have a null {what!r}")
    if table.column("t").null_count:
        problems.extend(_timestamp_problems(p, func, timestamp, ts_sql))
    if problems:
        raise EventLogError(
            f"cannot compute journey statistics on {p.name}: "
            + "; ".join(problems)
            + ". Clean the file, or read it with jm.read_events(path, drop_invalid=True) and "
            "pass the DataFrame.",
            problems,
        )
    names = ["case", "timestamp", "activity", *more]
    return table.rename_columns(names), more


def _timestamp_problems(p: Path, func: str, timestamp: str, ts_sql: str) -> list[str]:
    """Count null and unparseable timestamps of a file (only run when some are missing)."""
    q = quote_ident(timestamp)
    rows = (
        _session()
        .sql(
            f"SELECT count(*) FILTER (WHERE {q} IS NULL), "
            f"count(*) FILTER (WHERE {q} IS NOT NULL AND {ts_sql} IS NULL), "
            f"first(CAST({q} AS VARCHAR)) FILTER (WHERE {q} IS NOT NULL AND {ts_sql} IS NULL) "
            f"FROM {func}($path)",
            params={"path": str(p)},
        )
        .fetchall()
    )
    nulls, bad, example = rows[0] if rows else (0, 0, None)
    out = []
    if bad:
        out.append(
            f"{bad} rows have an unparseable {timestamp!r}, e.g. {example!r}; use ISO 8601 such "
            f"as '2025-01-31T14:05:00Z'"
        )
    if nulls:
        out.append(f"{nulls} rows have a null {timestamp!r}")
    return out


def _dense_groups(keys: Sequence[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Dense group number (0..g-1, in key order) of every row, and the key values per group."""
    sizes = [int(k.max()) + 1 if len(k) else 1 for k in keys]
    total = int(np.prod(sizes, dtype=object))
    if total >= 2**62:
        uniq_rows, dense = np.unique(np.stack(keys, axis=1), axis=0, return_inverse=True)
        return dense.reshape(-1).astype(np.int64), [uniq_rows[:, i] for i in range(len(keys))]
    if len(keys) == 1:
        combined = keys[0]
    else:
        combined = np.zeros(len(keys[0]), dtype=np.int64)
        for k, size in zip(keys, sizes, strict=True):
            combined *= size
            combined += k
    if total <= 1 << 24:
        used = np.flatnonzero(np.bincount(combined, minlength=total))
        if len(used) == total:
            dense, uniq = combined, used
        else:
            lut = np.zeros(total, dtype=np.int32)
            lut[used] = np.arange(len(used), dtype=np.int32)
            dense, uniq = lut[combined], used
    else:
        uniq, dense = np.unique(combined, return_inverse=True)
    values = []
    for size in reversed(sizes):
        values.append(uniq % size)
        uniq = uniq // size
    return dense, values[::-1]


_BITMAP_LIMIT = 1 << 27  # bytes of the (case x group) "seen" map; above it, sort instead
#: Rows per block for the temporaries of the grouped statistics (small and reused, rather
#: than fresh full-size arrays: first-touched memory costs more than the arithmetic).
_BLOCK = 1 << 20


def _distinct_cases_per_group(
    group: np.ndarray, case: np.ndarray, n_groups: int, *, bitmap_limit: int = _BITMAP_LIMIT
) -> np.ndarray:
    """Number of distinct cases per group, for rows that come in case order within a group."""
    n_codes = int(case.max()) + 1
    if n_codes * n_groups <= bitmap_limit:
        # mark (case, group) pairs in a dense map; cases ascend, so writes sweep it forward
        seen = np.zeros(n_codes * n_groups, dtype=bool)
        itype = np.int32 if n_codes * n_groups < 2**31 else np.int64
        for s in range(0, len(case), _BLOCK):  # positions made a block at a time
            idx: np.ndarray = case[s : s + _BLOCK].astype(itype)
            np.multiply(idx, n_groups, out=idx)
            np.add(idx, group[s : s + _BLOCK], out=idx, casting="unsafe")
            seen[idx] = True
        return seen.reshape(n_codes, n_groups).sum(axis=0)
    sort_key = group.astype(np.uint16) if n_groups <= 1 << 16 else group
    order = np.argsort(sort_key, kind="stable")  # radix sort for 16-bit keys
    grp, cs = group[order], case[order]
    first = np.empty(len(grp), dtype=bool)
    first[0] = True
    np.not_equal(grp[1:], grp[:-1], out=first[1:])
    first[1:] |= cs[1:] != cs[:-1]  # first row of its group in this case
    return np.bincount(grp[first], minlength=n_groups)


_QUANTILES = (0.5, 0.9)
#: Edges from which the distinct cases are counted on a second thread (below, a thread costs
#: more than it saves).
_THREADED_ROWS = 1_000_000


def _sorted_group_stats(
    dense: np.ndarray, counts: np.ndarray, micros: np.ndarray, *, overwrite: bool = False
) -> tuple[np.ndarray, np.ndarray] | None:
    """Mean and the 0.5/0.9 quantiles (seconds; linear interpolation, as DuckDB's
    ``quantile_cont`` and numpy's default) of non-negative ``micros`` per group ``dense``
    (0..g-1, every group non-empty), from one value sort of ``group << b | micros`` packed
    into uint64 (in ``micros`` itself with ``overwrite``, an int64 array then no longer
    needed); None when they do not fit in 64 bits (or a value is negative), ``micros``
    untouched."""
    if int(micros.min()) < 0:
        return None
    d_bits = int(micros.max()).bit_length()
    g_bits = max(1, (len(counts) - 1).bit_length())
    if d_bits + g_bits > 64:
        return None
    in_place = overwrite and micros.dtype == np.int64 and micros.flags.c_contiguous
    packed = micros.view(np.uint64) if in_place else np.empty(len(micros), dtype=np.uint64)
    for s in range(0, len(micros), _BLOCK):
        block = dense[s : s + _BLOCK].astype(np.uint64)
        block <<= np.uint64(d_bits)
        block |= micros[s : s + _BLOCK].view(np.uint64)
        packed[s : s + _BLOCK] = block
    packed.sort()
    packed &= np.uint64((1 << d_bits) - 1)
    values = packed.view(np.int64)  # each group's durations, ascending
    starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
    if d_bits + int(counts.max()).bit_length() <= 63:  # no group's total can overflow
        mean = np.add.reduceat(values, starts) / counts / 1e6
    else:  # exact sums in two int64 halves (a group's total can pass 2**63 microseconds)
        high = np.add.reduceat(values >> 20, starts)
        low = np.add.reduceat(values & ((1 << 20) - 1), starts)
        mean = (high * float(1 << 20) + low) / counts / 1e6
    q = np.empty((len(counts), len(_QUANTILES)))
    for j, level in enumerate(_QUANTILES):
        rank = (counts - 1) * level
        below = np.floor(rank).astype(np.int64)
        above = np.minimum(below + 1, counts - 1)
        lo, hi = values[starts + below].astype(float), values[starts + above].astype(float)
        q[:, j] = (lo + (hi - lo) * (rank - below)) / 1e6
    return mean, q


def _duckdb_group_stats(dense: np.ndarray, micros: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and the 0.5/0.9 quantiles (seconds) of ``micros`` per group, by DuckDB."""
    import pyarrow as pa

    table = pa.table({"g": dense.astype(np.int32, copy=False), "d": micros})
    con = _session()
    name = f"jm_edges_{uuid.uuid4().hex}"
    try:
        con.register(name, table)
        out = con.sql(
            f"SELECT g, avg(d) / 1e6 AS m, quantile_cont(d, {list(_QUANTILES)}) AS q "
            f"FROM {name} GROUP BY g ORDER BY g"
        ).to_arrow_table()
    finally:
        con.unregister(name)
    q = out.column("q").combine_chunks().flatten().to_numpy().reshape(-1, 2) / 1e6
    return out.column("m").to_numpy(), q


def edge_statistics(
    keys: Mapping[str, np.ndarray],
    case: np.ndarray,
    micros: np.ndarray,
    *,
    overwrite: bool = False,
) -> pd.DataFrame:
    """Group edges by ``keys``: count, distinct cases, and the mean, median and 90th percentile
    of ``micros`` (reported in seconds; quantiles interpolate linearly, as numpy's default).

    ``keys`` map output names to equal-length arrays of non-negative integer codes; ``case``
    holds the case code of each edge; the edges of each key combination must come in case
    order (as the encoded log gives them). Counts and distinct cases are computed in numpy (a
    (case x group) bitmap, or a radix sort on the group number that keeps case order inside
    each group). The grouped mean and quantiles come from one value sort of the group number
    and the duration packed into 64 bits (DuckDB computes them when they do not fit); with
    ``overwrite=True`` an int64 ``micros`` is that sort's buffer (no copy of it; its values are
    scrambled afterwards). Returns one row per key combination, sorted by the keys.

    Examples
    --------
    >>> import numpy as np
    >>> edge_statistics({"e": np.array([1, 0, 0])}, np.array([0, 0, 1]),
    ...                 np.array([5_000_000, 1_000_000, 3_000_000]))
       e  count  cases  mean_seconds  median_seconds  p90_seconds
    0  0      2      2           2.0             2.0          2.8
    1  1      1      1           5.0             5.0          5.0
    """
    names = list(keys)
    arrays = [np.asarray(keys[n]) for n in names]
    case = np.asarray(case)
    micros = np.asarray(micros, dtype=np.int64)
    columns = [*names, "count", "cases", "mean_seconds", "median_seconds", "p90_seconds"]
    if len(micros) == 0:
        empty = {n: np.zeros(0, a.dtype) for n, a in zip(names, arrays, strict=True)}
        return pd.DataFrame(
            empty
            | {c: np.zeros(0, np.int64) for c in ("count", "cases")}
            | {c: np.zeros(0) for c in columns[-3:]}
        )
    dense, values = _dense_groups(arrays)
    n_groups = len(values[0])
    counts = np.bincount(dense, minlength=n_groups)
    if len(dense) >= _THREADED_ROWS:
        # two independent numpy passes (both release the GIL): the distinct cases on a thread
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(_distinct_cases_per_group, dense, case, n_groups)
            stats = _sorted_group_stats(dense, counts, micros, overwrite=overwrite)
            cases = pending.result()
    else:
        cases = _distinct_cases_per_group(dense, case, n_groups)
        stats = _sorted_group_stats(dense, counts, micros, overwrite=overwrite)
    if stats is None:  # durations too long to pack beside the group: DuckDB
        stats = _duckdb_group_stats(dense, micros)
    mean, q = stats
    frame = pd.DataFrame(
        {n: v.astype(a.dtype) for n, v, a in zip(names, values, arrays, strict=True)}
    )
    frame["count"] = counts.astype(np.int64)
    frame["cases"] = cases.astype(np.int64)
    frame["mean_seconds"] = mean
    frame["median_seconds"] = q[:, 0]
    frame["p90_seconds"] = q[:, 1]
    return frame
