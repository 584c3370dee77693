"""Out of core at 1M, 10M and 100M events: time and peak memory per step (`make bench-scale`).

The independent Markov log of `benchmarks/gen_independent.py` written as a folder of Parquet
files hive-partitioned by day (`write_folder`, 10M events per chunk, rows shuffled), read by
:class:`journeymine.scale.OutOfCoreLog` with a 4 GB DuckDB memory limit. Each step runs in its
own fresh process:

    python -m benchmarks.run bench_scale                 # 1M, 10M, 100M (long)
    python -m benchmarks.bench_scale --events 1e6 1e7    # chosen sizes, printed only
"""

from __future__ import annotations

import argparse
import functools
import multiprocessing as mp
import os
import shutil
from pathlib import Path
from typing import Any

from benchmarks._data import OUT
from benchmarks._harness import Measurement, measure

SEED = 0
MEMORY_LIMIT = "4GB"
SAMPLE_CUSTOMERS = 20_000  # customers the featurizer is fitted on (setup, not timed)
SIZES = {"quick": [("100k", 100_000)], "full": [("1M", 10**6), ("10M", 10**7), ("100M", 10**8)]}

NOTES = f"""
Out of core (`journeymine.scale.OutOfCoreLog`, DuckDB `memory_limit={MEMORY_LIMIT!r}`, spill to
a temporary folder) on the independent Markov log of `benchmarks/gen_independent.py` written as
a folder of Parquet files hive-partitioned by day (`date=YYYY-MM-DD/`, rows shuffled within each
10M-event chunk). Every step runs in its own fresh process; peak RSS is that process's (Python,
DuckDB and pandas; DuckDB's memory is capped by the limit, the pandas buckets of customer
features by `events_per_bucket=2,000,000`).

- **open + check**: `OutOfCoreLog(folder)`: the local gate on the first 1,000 rows, then one
  pass counting rows and nulls.
- **dfg**: `big.dfg()` (window `lead` per customer; count, distinct cases, mean, median, p90).
- **variants**: `big.variants()` (ordered `string_agg` per customer, grouped).
- **customer features**: `big.customer_features(featurizer)` with a `CustomerFeaturizer` fitted
  on `big.sample_customers({SAMPLE_CUSTOMERS:,})` (fit not timed): one pass writing customer
  buckets, then `read_events` + `transform` per bucket.
"""


def data_folder(n_events: int, seed: int = SEED) -> Path:
    """The cached hive folder of about ``n_events`` events (generated in a child process)."""
    from benchmarks.gen_independent import write_folder

    folder = OUT / f"independent_hive_e{n_events}_s{seed}"
    if not folder.exists():
        proc = mp.get_context("spawn").Process(
            target=write_folder, args=(n_events, str(folder), seed)
        )
        proc.start()
        proc.join()
        if proc.exitcode != 0 or not folder.exists():
            raise RuntimeError(f"generating {folder.name} failed (exit code {proc.exitcode})")
    return folder


def _open(folder: Path, progress: bool = False) -> Any:
    from journeymine.scale import OutOfCoreLog

    return OutOfCoreLog(folder, memory_limit=MEMORY_LIMIT, progress=progress)


def _setup_path(folder: Path) -> Path:
    import journeymine.scale  # noqa: F401  (imports not timed)

    return folder


def _setup_open(folder: Path) -> Any:
    return _open(folder)


def _setup_features(folder: Path) -> Any:
    from journeymine.personas import CustomerFeaturizer

    big = _open(folder)
    featurizer = CustomerFeaturizer().fit(big.sample_customers(SAMPLE_CUSTOMERS))
    return big, featurizer


def _run_open(folder: Path) -> int:
    with _open(folder) as big:
        return big.n_events


def _run_dfg(big: Any) -> int:
    try:
        return int(big.dfg()["count"].sum())
    finally:
        big.close()


def _run_variants(big: Any) -> int:
    try:
        return len(big.variants())
    finally:
        big.close()


def _run_features(data: Any) -> int:
    big, featurizer = data
    try:
        return len(big.customer_features(featurizer))
    finally:
        big.close()


STEPS = [
    ("open + check", _setup_path, _run_open),
    ("dfg", _setup_open, _run_dfg),
    ("variants", _setup_open, _run_variants),
    ("customer features", _setup_features, _run_features),
]


def run(quick: bool, sizes: list[tuple[str, int]] | None = None) -> list[Measurement]:
    rows: list[Measurement] = []
    for label, n_events in sizes or SIZES["quick" if quick else "full"]:
        folder = data_folder(n_events)
        size = f"{label} events"
        for step, setup, task in STEPS:
            rows.append(
                measure(
                    "out of core, 4 GB DuckDB",
                    f"journeymine: {step}",
                    size,
                    functools.partial(setup, folder),
                    task,
                    timeout=4 * 3600,
                )
            )
        if os.environ.get("JM_BENCH_KEEP_DATA") != "1" and n_events >= 10**8:
            shutil.rmtree(folder, ignore_errors=True)  # 100M events take ~1.5 GB of disk
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--events",
        nargs="+",
        type=lambda s: int(float(s.replace("_", ""))),
        default=[1_000_000],
    )
    args = ap.parse_args()
    run(quick=False, sizes=[(f"{n:.0e}", n) for n in args.events])


if __name__ == "__main__":
    main()
