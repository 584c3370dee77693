"""Journey statistics and customer features from Parquet files larger than memory (DuckDB).

:class:`OutOfCoreLog` reads a folder of Parquet files (hive-partitioned by date or not), one
file or a glob, with DuckDB under a memory limit and with a temporary directory to spill to.
No pandas frame of the whole log is ever built:

- :meth:`OutOfCoreLog.dfg` and :meth:`OutOfCoreLog.variants` run as SQL over the files (window
  ``lead`` and ordered ``string_agg``), with the definitions of :func:`journeymine.dfg` and
  :func:`journeymine.variants`: the same rows, values and order;
- :meth:`OutOfCoreLog.customer_features` splits the customers into buckets by a hash of their
  id (one pass writes each bucket to the temporary directory), then featurizes one bucket at a
  time in memory with a fitted :class:`~journeymine.personas.CustomerFeaturizer`: features of a
  customer depend only on that customer's events, so the buckets together give the features
  of the whole log.

The events of a customer are ordered by (timestamp, file name, row in the file), the order
:func:`journeymine.read_events` gives the files read one after the other in name order. The
columns are checked as the local path checks them: the first rows go through
:func:`journeymine.schema.validate`, so a missing column or a wrong timestamp type gets the
same exception and message as from :func:`journeymine.read_events`.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from journeymine.engine import connect, quote_ident
from journeymine.exceptions import ConfigError, EmptyLogError, EventLogError
from journeymine.journeys import SEPARATOR
from journeymine.schema import ACTIVITY, CUSTOMER_ID, TIMESTAMP, validate

__all__ = ["OutOfCoreLog"]

logger = logging.getLogger(__name__)

_SAMPLE_ROWS = 1000  # rows checked by the local gate before any full pass
_TIMESTAMP_TYPES = (
    "TIMESTAMP WITH TIME ZONE",
    "TIMESTAMP",
    "TIMESTAMP_S",
    "TIMESTAMP_MS",
    "TIMESTAMP_NS",
    "TIMESTAMP_US",
)


class Featurizer(Protocol):
    """What :meth:`OutOfCoreLog.customer_features` needs: a fitted featurizer whose
    ``transform(log)`` gives one row per customer (index ``customer_id``)."""

    def transform(self, log: pd.DataFrame) -> pd.DataFrame: ...


def _files_of(source: str | os.PathLike[str]) -> tuple[str, list[Path]]:
    """The DuckDB glob of ``source`` (a folder, a Parquet file or a glob) and its files."""
    text = os.fspath(source)
    p = Path(text)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.suffix.lower() in (".parquet", ".pq"))
        pattern = str(p / "**" / "*.parquet")
        if any(f.suffix.lower() != ".parquet" for f in files):
            pattern = ""  # .pq files too: the files are listed one by one
        if not files:
            raise FileNotFoundError(
                f"no Parquet files (.parquet, .pq) under folder '{p}'. Check the path."
            )
        return pattern, files
    if any(ch in text for ch in "*?["):
        files = sorted(Path(f) for f in _glob(text))
        if not files:
            raise FileNotFoundError(f"no files match '{text}'. Check the pattern.")
        return text, files
    if not p.is_file():
        raise FileNotFoundError(
            f"event files '{p}' do not exist (absolute path '{p.resolve()}'). Pass a folder "
            f"of Parquet files, one Parquet file or a glob such as 'events/**/*.parquet'."
        )
    return text, [p]


def _glob(pattern: str) -> list[str]:
    import glob

    return glob.glob(pattern, recursive=True)


def check_int(value: object, name: str, *, minimum: int = 1, allow_none: bool = False) -> None:
    """:class:`ConfigError` unless ``value`` is an int >= ``minimum`` (or None if allowed)."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        more = " or None" if allow_none else ""
        raise ConfigError(f"{name}={value!r} is not allowed; pass an int >= {minimum}{more}.")


def _size(value: str, name: str) -> str:
    if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", str(value)):
        raise ConfigError(f"{name}={value!r} is not allowed; pass a size such as '4GB'.")
    return str(value)


class OutOfCoreLog:
    """An event log in Parquet files, processed by DuckDB without loading it whole.

    Parameters
    ----------
    source : str or path-like
        A folder of Parquet files (searched recursively; hive partitions such as
        ``date=2025-01-01/`` become a column), one Parquet file, or a glob.
    memory_limit : str, default "4GB"
        DuckDB memory limit; above it DuckDB spills to ``temp_directory``.
    temp_directory : str or path-like, optional
        Where DuckDB spills and where customer buckets are written (default: a new temporary
        folder, removed by :meth:`close`).
    threads : int, optional
        DuckDB threads (default: one per core).
    progress : bool, default True
        Show DuckDB's progress bar on long queries and one line per step on stderr.
    events_per_bucket : int, default 5_000_000
        Above this many events, customers are split by a hash of their id into buckets of
        about this many events (written once to the temporary folder), and every statistic
        works a bucket at a time: the memory a step needs grows with it, not with the log.

    Raises
    ------
    FileNotFoundError
        No such folder, file or matching files.
    MissingColumnError, EventLogError, EmptyLogError
        As :func:`journeymine.read_events` would raise them for the first rows (missing or
        misspelled columns, a wrong timestamp type); also timestamps that are not a Parquet
        timestamp type, and null ids, activities or timestamps anywhere (counted).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import journeymine as jm
    >>> log = jm.datasets.make_journeys(n_customers=100, days=30, random_state=0).events
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> for day, part in log.groupby(log["timestamp"].dt.strftime("%Y-%m")):
    ...     (folder / f"month={day}").mkdir()
    ...     part.to_parquet(folder / f"month={day}" / "part.parquet")
    >>> with OutOfCoreLog(folder, memory_limit="1GB", progress=False) as big:
    ...     edges = big.dfg()
    >>> edges["count"].tolist() == jm.dfg(log)["count"].tolist()
    True
    """

    def __init__(
        self,
        source: str | os.PathLike[str],
        *,
        memory_limit: str = "4GB",
        temp_directory: str | os.PathLike[str] | None = None,
        threads: int | None = None,
        progress: bool = True,
        events_per_bucket: int = 5_000_000,
    ) -> None:
        limit = _size(memory_limit, "memory_limit")
        check_int(events_per_bucket, "events_per_bucket")
        self.events_per_bucket = int(events_per_bucket)
        self._buckets: dict[int, tuple[Path, list[Path]]] = {}
        self._activities: list[str] | None = None
        self.pattern, self.files = _files_of(source)
        self.source = os.fspath(source)
        self.progress = bool(progress)
        self._own_temp = temp_directory is None
        self.temp_directory = Path(
            tempfile.mkdtemp(prefix="jm_ooc_") if temp_directory is None else temp_directory
        )
        self.temp_directory.mkdir(parents=True, exist_ok=True)
        self.con = connect(threads=threads, memory_limit=limit)
        try:
            self.con.execute(f"SET temp_directory = '{self.temp_directory}'")
            self.con.execute("SET preserve_insertion_order = false")
            if self.progress:
                self.con.execute("SET enable_progress_bar = true")
                self.con.execute("SET enable_progress_bar_print = true")
            self._check()
        except BaseException:
            self.close()
            raise

    # ---- set-up and checks -----------------------------------------------------------------

    @property
    def _scan(self) -> str:
        def quoted(text: str) -> str:
            return "'" + text.replace("'", "''") + "'"

        if self.pattern:
            source = quoted(self.pattern)
        else:
            source = "[" + ", ".join(quoted(str(f)) for f in self.files) + "]"
        return (
            f"read_parquet({source}, hive_partitioning = true, union_by_name = true, "
            f"file_row_number = true)"
        )

    def _check(self) -> None:
        """The local gate on the first rows, then type and null checks over every row."""
        sample = self.con.sql(f"SELECT * FROM {self._scan} LIMIT {_SAMPLE_ROWS}").fetchdf()
        sample = sample.drop(columns=["file_row_number"])
        if len(sample) == 0:
            raise EmptyLogError(f"the event files '{self.source}' hold no rows.")
        validate(sample, duplicates="keep", sort=False)  # same errors as read_events
        described = self.con.sql(f"DESCRIBE SELECT * FROM {self._scan}").fetchall()
        types = {str(r[0]): str(r[1]) for r in described}
        self.columns = [c for c in types if c != "file_row_number"]
        ts_type = str(types[TIMESTAMP]).upper()
        if ts_type not in _TIMESTAMP_TYPES:
            raise EventLogError(
                f"column {TIMESTAMP!r} has type {ts_type} in the event files; out of core it "
                f"must be a Parquet timestamp. Convert the files (e.g. "
                f"jm.write_events(jm.read_events(path), path) for each file), or read them "
                f"with jm.read_events."
            )
        q = {c: quote_ident(c) for c in (CUSTOMER_ID, TIMESTAMP, ACTIVITY)}
        row = (
            self._run(
                "checking the events",
                f"SELECT count(*), count(*) FILTER (WHERE {q[CUSTOMER_ID]} IS NULL OR "
                f"trim(CAST({q[CUSTOMER_ID]} AS VARCHAR)) = ''), count(*) FILTER (WHERE "
                f"{q[TIMESTAMP]} IS NULL), count(*) FILTER (WHERE {q[ACTIVITY]} IS NULL OR "
                f"trim(CAST({q[ACTIVITY]} AS VARCHAR)) = '') FROM {self._scan}",
            )
            .iloc[0]
            .tolist()
        )
        self.n_events = int(row[0])
        problems = [
            f"null or empty {name} in {int(n)} rows"
            for name, n in zip((CUSTOMER_ID, TIMESTAMP, ACTIVITY), row[1:], strict=True)
            if n
        ]
        if problems:
            raise EventLogError(
                f"invalid event log: {len(problems)} problem{'s' if len(problems) > 1 else ''}"
                f":\n- " + "\n- ".join(problems) + "\nClean the files (out of core, rows are "
                "not dropped), or read them with jm.read_events(path, drop_invalid=True).",
                problems,
            )

    def _say(self, text: str) -> None:
        logger.info(text)
        if self.progress:
            print(f"[journeymine] {text}", file=sys.stderr, flush=True)

    def _run(self, step: str, query: str) -> pd.DataFrame:
        """Run ``query`` and fetch its (small) result, saying what it does and how long it
        took."""
        self._say(f"{step}: {len(self.files)} file(s)...")
        t0 = time.perf_counter()
        out = self.con.sql(query).fetchdf()
        self._say(f"{step}: done in {time.perf_counter() - t0:.1f} s")
        return out

    @property
    def _events(self) -> str:
        """Canonical events: customer, microseconds, activity and the input order."""
        return self._events_from(self._scan, "file_index")

    def _events_from(self, scan: str, file_col: str) -> str:
        c, t, a = (quote_ident(x) for x in (CUSTOMER_ID, TIMESTAMP, ACTIVITY))
        return (
            f"(SELECT CAST({c} AS VARCHAR) AS c, epoch_us({t}) AS t, CAST({a} AS VARCHAR) AS a, "
            f"{file_col} AS f, file_row_number AS r FROM {scan})"
        )

    def _n_buckets(self, events_per_bucket: int | None) -> int:
        per = self.events_per_bucket if events_per_bucket is None else events_per_bucket
        check_int(per, "events_per_bucket")
        return max(1, -(-self.n_events // per))

    def _event_sources(self, n_buckets: int) -> list[str]:
        """SQL sources of the canonical events of each bucket of whole customers: the files
        themselves for one bucket, else the bucket files (written once per object)."""
        if n_buckets == 1:
            return [self._events]
        files = self._bucket_files(n_buckets)
        return [self._events_from(f"read_parquet('{f}')", "__jm_file") for f in files]

    def _activity_codes(self) -> list[str]:
        """The distinct activities in code-point order, registered as table ``__jm_acts``
        (``a`` text, ``k`` its small integer code)."""
        import pyarrow as pa

        if self._activities is None:
            rows = self.con.sql(f"SELECT DISTINCT a FROM {self._events} ORDER BY a").fetchall()
            self._activities = [str(r[0]) for r in rows]
            dtype = np.uint16 if len(self._activities) < 2**16 else np.uint32
            self.con.register(
                "__jm_acts",
                pa.table(
                    {
                        "a": pa.array(self._activities, pa.string()),
                        "k": np.arange(len(self._activities), dtype=dtype),
                    }
                ),
            )
        return self._activities

    # ---- statistics ------------------------------------------------------------------------

    def dfg(self, *, events_per_bucket: int | None = None) -> pd.DataFrame:
        """The directly-follows graph, as :func:`journeymine.dfg` gives it for the whole log.

        Customers are processed a bucket at a time (see ``events_per_bucket``); the pairs of
        every bucket go to one DuckDB table (spilled to disk as needed) on which the counts,
        mean and quantiles are computed as in memory.

        Parameters
        ----------
        events_per_bucket : int, optional
            About how many events one bucket holds (default: the object's).

        Returns
        -------
        DataFrame
            ``source``, ``target``, ``count``, ``cases``, ``mean_seconds``,
            ``median_seconds``, ``p90_seconds``; by count descending, then source and target.
        """
        n_buckets = self._n_buckets(events_per_bucket)
        self._say(f"dfg: {self.n_events:,} events in {n_buckets} bucket(s) of customers")
        t0 = time.perf_counter()
        labels = self._activity_codes()
        self.con.execute(
            "CREATE OR REPLACE TEMP TABLE __jm_pairs (s UINTEGER, g UINTEGER, d BIGINT)"
        )
        cases: dict[tuple[int, int], int] = {}
        try:
            for k, ev in enumerate(self._event_sources(n_buckets)):
                self.con.execute(
                    f"""
                    CREATE OR REPLACE TEMP TABLE __jm_b AS
                    SELECT * FROM (
                        SELECT c, k AS s, lead(k) OVER w AS g, lead(t) OVER w - t AS d
                        FROM {ev} JOIN __jm_acts USING (a)
                        WINDOW w AS (PARTITION BY c ORDER BY t, f, r)
                    ) WHERE g IS NOT NULL
                    """
                )
                rows = self.con.sql(
                    "SELECT s, g, count(DISTINCT c) FROM __jm_b GROUP BY ALL"
                ).fetchall()
                for s, g, n in rows:  # buckets hold different customers: cases add up
                    cases[(int(s), int(g))] = cases.get((int(s), int(g)), 0) + int(n)
                self.con.execute("INSERT INTO __jm_pairs SELECT s, g, d FROM __jm_b")
                self.con.execute("DROP TABLE __jm_b")
                if n_buckets > 1:
                    self._say(f"dfg: bucket {k + 1} of {n_buckets}")
            table = self.con.sql(
                "SELECT s, g, count(*) AS count, avg(d) / 1e6 AS mean_seconds, "
                "quantile_cont(d, [0.5, 0.9]) AS q FROM __jm_pairs GROUP BY ALL"
            ).fetchdf()
        finally:
            self.con.execute("DROP TABLE IF EXISTS __jm_pairs")
        self._say(f"dfg: done in {time.perf_counter() - t0:.1f} s")
        names = pd.Index(labels, dtype="str")
        s, g = table["s"].to_numpy(dtype=np.int64), table["g"].to_numpy(dtype=np.int64)
        q = np.array(table.pop("q").tolist(), dtype=float).reshape(-1, 2) / 1e6
        out = pd.DataFrame(
            {
                "source": names.take(s),
                "target": names.take(g),
                "count": table["count"].to_numpy(dtype=np.int64),
                "cases": np.array([cases[(a, b)] for a, b in zip(s, g, strict=True)], np.int64),
                "mean_seconds": table["mean_seconds"].to_numpy(dtype=float),
                "median_seconds": q[:, 0],
                "p90_seconds": q[:, 1],
            }
        )
        # codes follow the label order: sort by count, then source and target labels
        order = np.lexsort((g, s, -out["count"].to_numpy()))
        out = out.iloc[order].reset_index(drop=True)
        for col in ("source", "target"):
            out[col] = pd.array(out[col].astype(object), dtype="str")
        return out

    def variants(
        self, *, top_k: int | None = None, events_per_bucket: int | None = None
    ) -> pd.DataFrame:
        """Journey variants, as :func:`journeymine.variants` gives them for the whole log.

        Sequences of small activity codes are grouped in DuckDB a bucket of customers at a
        time, the counts of equal sequences added over the buckets; only the distinct
        sequences are turned into text.

        Parameters
        ----------
        top_k : int, optional
            Return only the ``top_k`` most common variants.
        events_per_bucket : int, optional
            About how many events one bucket holds (default: the object's).

        Returns
        -------
        DataFrame
            ``variant`` (activities joined by " > "), ``length``, ``cases``, ``share``; by
            cases descending, then variant.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        check_int(top_k, "top_k", allow_none=True)
        n_buckets = self._n_buckets(events_per_bucket)
        self._say(f"variants: {self.n_events:,} events in {n_buckets} bucket(s) of customers")
        t0 = time.perf_counter()
        labels = self._activity_codes()
        self.con.execute("CREATE OR REPLACE TEMP TABLE __jm_seqs (seq UINTEGER[], cases BIGINT)")
        try:
            for k, ev in enumerate(self._event_sources(n_buckets)):
                self.con.execute(
                    f"""
                    INSERT INTO __jm_seqs
                    SELECT seq, count(*) FROM (
                        SELECT list(k ORDER BY t, f, r) AS seq
                        FROM {ev} JOIN __jm_acts USING (a) GROUP BY c
                    ) GROUP BY seq
                    """
                )
                if n_buckets > 1:
                    self._say(f"variants: bucket {k + 1} of {n_buckets}")
            grouped = self.con.sql(
                "SELECT seq, sum(cases)::BIGINT AS cases FROM __jm_seqs GROUP BY seq"
            ).to_arrow_table()
        finally:
            self.con.execute("DROP TABLE IF EXISTS __jm_seqs")
        seq = grouped.column("seq").combine_chunks()
        tokens = pa.array(labels, pa.string()).take(pc.list_flatten(seq))
        text = pc.binary_join(type(seq).from_arrays(seq.offsets, tokens), SEPARATOR)
        cases = grouped.column("cases").combine_chunks()
        table = pa.table(
            {"variant": text, "length": pc.list_value_length(seq).cast(pa.int64()), "cases": cases}
        ).sort_by([("cases", "descending"), ("variant", "ascending")])
        n_cases = int(pc.sum(cases).as_py() or 0)
        if top_k is not None:
            table = table.slice(0, top_k)
        out = table.to_pandas()
        out["variant"] = pd.array(out["variant"].astype(object), dtype="str")
        for col in ("length", "cases"):
            out[col] = out[col].astype(np.int64)
        out["share"] = out["cases"] / n_cases
        self._say(f"variants: done in {time.perf_counter() - t0:.1f} s")
        return out

    # ---- customer features -----------------------------------------------------------------

    def customer_features(
        self, featurizer: Featurizer, *, events_per_bucket: int | None = None
    ) -> pd.DataFrame:
        """Features of every customer with a fitted featurizer, one bucket of customers at a
        time (``featurizer.transform`` on each bucket's events, read with
        :func:`journeymine.read_events`).

        Parameters
        ----------
        featurizer : CustomerFeaturizer
            Fitted (e.g. on a sample of customers read with :meth:`sample_customers`).
        events_per_bucket : int, optional
            About how many events one bucket holds (default: the object's; the peak memory
            grows with it).

        Returns
        -------
        DataFrame
            One row per customer (index ``customer_id``, sorted), the featurizer's columns.
        """
        from journeymine.io import read_events

        n_buckets = self._n_buckets(events_per_bucket)
        if n_buckets == 1:
            queries = [f"SELECT * FROM {self._scan} ORDER BY file_index, file_row_number"]
        else:
            queries = [
                f"SELECT * EXCLUDE (__jm_bucket, __jm_file) FROM read_parquet('{path}') "
                f"ORDER BY __jm_file, file_row_number"
                for path in self._bucket_files(n_buckets)
            ]
        parts = []
        for k, query in enumerate(queries):
            self._say(f"customer features: bucket {k + 1} of {len(queries)}")
            frame = self.con.sql(query).fetchdf().drop(columns=["file_row_number"])
            log = read_events(frame, duplicates="keep")
            try:
                parts.append(featurizer.transform(log))
            except EmptyLogError:
                continue  # no customer of this bucket has events in the window
        if not parts:
            raise EmptyLogError("no customer has events in the featurizer's window.")
        return pd.concat(parts).sort_index()

    def sample_customers(self, n: int, *, seed: int = 0) -> pd.DataFrame:
        """Every event of about ``n`` customers drawn at random (by a seeded hash of the id),
        as a canonical log: small enough to fit a featurizer in memory.

        Examples
        --------
        >>> # log = OutOfCoreLog("events/").sample_customers(50_000)
        >>> # featurizer = jm.personas.CustomerFeaturizer().fit(log)
        """
        from journeymine.io import read_events

        check_int(n, "n")
        check_int(seed, "seed", minimum=0)
        c = quote_ident(CUSTOMER_ID)
        total = (
            self._run("counting customers", f"SELECT count(DISTINCT {c}) FROM {self._scan}")
            .iloc[0]
            .tolist()
        )
        share = min(1.0, n / max(int(total[0]), 1))
        cut = int(share * (2**64 - 1))
        frame = self.con.sql(
            f"SELECT * FROM {self._scan} WHERE hash({c} || '{int(seed)}') <= {cut} "
            f"ORDER BY file_index, file_row_number"
        ).fetchdf()
        return read_events(frame.drop(columns=["file_row_number"]))

    def _bucket_files(self, n_buckets: int) -> list[Path]:
        """The events written in ``n_buckets`` Parquet files of whole customers (a hash of the
        id; one pass), kept in the temporary folder until :meth:`close`."""
        if n_buckets not in self._buckets:
            out = Path(tempfile.mkdtemp(prefix="buckets_", dir=self.temp_directory))
            c = quote_ident(CUSTOMER_ID)
            self._say(f"writing {n_buckets} bucket(s) of customers")
            t0 = time.perf_counter()
            self.con.execute(
                f"COPY (SELECT *, file_index AS __jm_file, hash({c}) % {n_buckets} AS "
                f"__jm_bucket FROM {self._scan}) "
                f"TO '{out}' (FORMAT parquet, PARTITION_BY (__jm_bucket))"
            )
            self._say(f"buckets written in {time.perf_counter() - t0:.1f} s")
            self._buckets[n_buckets] = (out, sorted(out.rglob("*.parquet")))
        return self._buckets[n_buckets][1]

    # ---- life cycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Close the DuckDB connection and remove the temporary folder it created."""
        con = getattr(self, "con", None)
        if con is not None:
            con.close()
            self.con = None  # type: ignore[assignment]
        for folder, _ in getattr(self, "_buckets", {}).values():
            shutil.rmtree(folder, ignore_errors=True)
        self._buckets = {}
        if self._own_temp:
            shutil.rmtree(self.temp_directory, ignore_errors=True)

    def __enter__(self) -> OutOfCoreLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"OutOfCoreLog({self.source!r}, files={len(self.files)})"
