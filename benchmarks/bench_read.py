"""Read + DFG + variants from Parquet on an independent, shuffled log (not our generator).

Contenders, each in its own spawned process, timed from the Parquet path to the results:
journeymine (``read_events`` + ``encode`` + ``dfg`` + ``variants``), pm4py (``format_dataframe``
+ ``discover_dfg`` + ``get_variants``), retentioneering (``Eventstream`` +
``transition_graph_data``: DFG only) and plain DuckDB SQL (window ``lead`` + ``string_agg``).
Results are cross-checked against journeymine's.

    python -m benchmarks.run bench_read            # 1M and 10M events
    python -m benchmarks.bench_read --events 1e6   # one size, printed only
    python -m benchmarks.bench_read --events 1e7 --before /tmp/before/src   # before/after
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing as mp
import os
import warnings
from pathlib import Path
from typing import Any

from benchmarks._data import OUT
from benchmarks._harness import Measurement, mark_differences, measure

TASK = "read + dfg + variants"
SIZES = {"quick": [("100k", 100_000)], "full": [("1M", 1_000_000), ("10M", 10_000_000)]}
SEED = 0

NOTES = """
An independent log made by `benchmarks/gen_independent.py` (a seeded numpy Markov chain over 30
activities and 6 channels, ~26 events per customer, gaps of at least 1 s; rows shuffled;
`customer_id`, `timestamp` (UTC), `activity`, `channel` as plain Parquet strings), cached under
`benchmarks/out/`. Every contender starts from the Parquet path in a fresh process (imports in
setup, not timed) and ends with the DFG (edge counts) and the variants (sequence -> cases).

- **journeymine**: `log = jm.read_events(path)` (the full gate: validation, duplicate check,
  sort), `enc = jm.encode(log)`, `jm.dfg(enc)`, `jm.variants(enc)`.
- **journeymine (read_events only)**: `jm.read_events(path)` alone.
- **pm4py**: `pd.read_parquet`, `format_dataframe`, `discover_dfg`, `get_variants`.
- **retentioneering**: `pd.read_parquet`, `Eventstream`, `transition_graph_data(edge_weight=
  "count")` (no variants; its path_start/path_end edges are excluded).
- **DuckDB SQL**: one connection; DFG with `lead(activity) OVER (PARTITION BY customer_id ORDER
  BY timestamp)` grouped by edge, variants with `string_agg(activity, ',' ORDER BY timestamp)`
  per customer grouped by sequence, both on the Parquet scan.

Each run returns (edges, sum of edge counts, variants, cases of the top variant); a contender
whose numbers differ from journeymine's gets "result differs" in its row.
"""


def data_path(n_events: int, seed: int = SEED) -> Path:
    """The cached independent log of about ``n_events`` events (generated in a child)."""
    from benchmarks.gen_independent import write

    path = OUT / f"independent_e{n_events}_s{seed}.parquet"
    if not path.exists():
        proc = mp.get_context("spawn").Process(target=write, args=(n_events, str(path), seed))
        proc.start()
        proc.join()
        if proc.exitcode != 0 or not path.exists():
            raise RuntimeError(f"generating {path.name} failed (exit code {proc.exitcode})")
    return path


# ---- setups (imports only; not timed) ----------------------------------------------------


def _setup_jm(path: Path) -> Path:
    import duckdb  # noqa: F401
    import pyarrow.parquet  # noqa: F401

    import journeymine as jm

    jm.read_events, jm.encode, jm.dfg, jm.variants  # noqa: B018  (load the lazy modules)
    return path


def _setup_jm_from(src: str, path: Path) -> Path:
    """Like :func:`_setup_jm`, with journeymine imported from another source tree ``src`` (e.g.
    ``git archive <commit> src | tar -x -C /tmp/before`` gives ``/tmp/before/src``)."""
    import sys

    sys.path.insert(0, src)
    import journeymine

    if not str(Path(journeymine.__file__).resolve()).startswith(str(Path(src).resolve())):
        raise RuntimeError(f"journeymine was imported from {journeymine.__file__}, not {src}")
    return _setup_jm(path)


def _setup_pm4py(path: Path) -> Path:
    warnings.filterwarnings("ignore")
    import pandas  # noqa: F401
    import pm4py  # noqa: F401

    return path


def _setup_retentioneering(path: Path) -> Path:
    os.environ.setdefault("RETENTIONEERING_NO_TRACK", "1")
    warnings.filterwarnings("ignore")
    from retentioneering.eventstream import Eventstream  # noqa: F401

    return path


def _setup_duckdb(path: Path) -> Path:
    import duckdb  # noqa: F401

    return path


# ---- timed runs ----------------------------------------------------------------------------


def _run_jm(path: Path) -> tuple[int, int, int, int]:
    import journeymine as jm

    log = jm.read_events(path)
    enc = jm.encode(log)
    d = jm.dfg(enc)
    v = jm.variants(enc)
    return len(d), int(d["count"].sum()), len(v), int(v["cases"].max())


def _run_jm_read(path: Path) -> tuple[None, None, None, None]:
    import journeymine as jm

    jm.read_events(path)
    return None, None, None, None


def _run_pm4py(path: Path) -> tuple[int, int, int, int]:
    import pandas as pd
    import pm4py

    df = pd.read_parquet(path)
    f = pm4py.format_dataframe(
        df, case_id="customer_id", activity_key="activity", timestamp_key="timestamp"
    )
    graph, _, _ = pm4py.discover_dfg(f)
    variants = pm4py.get_variants(f)
    counts = [len(v) if isinstance(v, list) else int(v) for v in variants.values()]
    return len(graph), int(sum(graph.values())), len(counts), max(counts)


def _run_retentioneering(path: Path) -> tuple[int, int, None, None]:
    import pandas as pd
    from retentioneering.eventstream import Eventstream

    df = pd.read_parquet(path, columns=["customer_id", "timestamp", "activity"])
    df["timestamp"] = df["timestamp"].dt.tz_localize(None)  # it wants naive datetimes
    stream = Eventstream(
        df,
        schema={
            "path_cols": ["customer_id"],
            "event_col": "activity",
            "timestamp_col": "timestamp",
        },
    )
    m = stream.transition_graph_data(edge_weight="count")
    synthetic = ["path_start", "path_end"]
    m = m.drop(index=synthetic, columns=synthetic, errors="ignore")
    values = m.to_numpy()
    return int((values > 0).sum()), int(values.sum()), None, None


def _run_duckdb(path: Path) -> tuple[int, int, int, int]:
    import duckdb

    con = duckdb.connect()
    src = f"read_parquet('{path}')"
    edges, total = con.execute(
        f"""
        WITH e AS (
            SELECT activity AS source,
                   lead(activity) OVER (PARTITION BY customer_id ORDER BY timestamp) AS target
            FROM {src}
        )
        SELECT count(*), sum(n) FROM (
            SELECT source, target, count(*) AS n FROM e WHERE target IS NOT NULL GROUP BY ALL
        )
        """
    ).fetchone()
    n_variants, top = con.execute(
        f"""
        SELECT count(*), max(cases) FROM (
            SELECT seq, count(*) AS cases FROM (
                SELECT string_agg(activity, ',' ORDER BY timestamp) AS seq
                FROM {src} GROUP BY customer_id
            ) GROUP BY seq
        )
        """
    ).fetchone()
    con.close()
    return int(edges), int(total), int(n_variants), int(top)


CONTENDERS = [
    ("journeymine", _setup_jm, _run_jm),
    ("journeymine (read_events only)", _setup_jm, _run_jm_read),
    ("pm4py", _setup_pm4py, _run_pm4py),
    ("retentioneering", _setup_retentioneering, _run_retentioneering),
    ("DuckDB SQL", _setup_duckdb, _run_duckdb),
]


def run(
    quick: bool,
    sizes: list[tuple[str, int]] | None = None,
    *,
    before: str | None = None,
    skip: tuple[str, ...] = (),
    repeat: int = 3,
) -> list[Measurement]:
    """Every contender on every size; ``before`` (a source tree's ``src`` folder) adds
    journeymine from that tree (named "journeymine before"), for before/after in one run;
    contenders named in ``skip`` are left out. Each contender runs ``repeat`` times, each in a
    fresh process, and its median run (by wall time) is reported."""
    import pyarrow.parquet as pq

    contenders = [c for c in CONTENDERS if c[0] not in skip]
    if before is not None:
        setup_before = functools.partial(_setup_jm_from, before)
        contenders[1:1] = [
            ("journeymine before", setup_before, _run_jm),
            ("journeymine before (read_events only)", setup_before, _run_jm_read),
        ]
    rows: list[Measurement] = []
    for label, n_events in sizes or SIZES["quick" if quick else "full"]:
        path = data_path(n_events)
        n = pq.ParquetFile(path).metadata.num_rows
        size = f"{label} ({n:,} ev)"
        # the file in the page cache for everyone: the first contender must not pay the disk
        path.read_bytes()
        group = [
            _median_run(name, size, functools.partial(setup, path), task, repeat)
            for name, setup, task in contenders
        ]
        mark_differences(group)
        for m in group:
            if m.error and m.error.startswith("result differs"):
                print(f"  {m.contender}: {m.error}")
        rows.extend(group)
    return rows


def _median_run(name: str, size: str, setup: Any, task: Any, repeat: int) -> Measurement:
    """The run of median wall time among ``repeat`` fresh-process runs of one contender."""
    runs = [measure(TASK, name, size, setup, task, timeout=3600) for _ in range(max(repeat, 1))]
    ok = sorted((m for m in runs if not m.error), key=lambda m: m.seconds)
    return ok[len(ok) // 2] if ok else runs[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--events", type=lambda s: int(float(s.replace("_", ""))), default=1_000_000)
    ap.add_argument(
        "--before",
        help="also run journeymine from this source tree's src folder (before/after in one run)",
    )
    ap.add_argument(
        "--skip", nargs="*", default=[], help="contenders to leave out, e.g. retentioneering"
    )
    ap.add_argument(
        "--repeat", type=int, default=3, help="fresh-process runs per contender (median shown)"
    )
    args = ap.parse_args()
    run(
        quick=False,
        sizes=[(f"{args.events:.0e}", args.events)],
        before=args.before,
        skip=tuple(args.skip),
        repeat=args.repeat,
    )


if __name__ == "__main__":
    main()
