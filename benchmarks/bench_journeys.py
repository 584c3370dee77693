"""Journey statistics: directly-follows graph + variants on 1M and 10M synthetic events.

Contenders: journeymine (DataFrame in memory, shuffled DataFrame, Parquet path), pm4py
(``format_dataframe`` + ``discover_dfg`` + ``get_variants``), retentioneering 5 (``Eventstream`` +
``transition_graph_data(edge_weight="count")``: DFG only) and plain pandas (groupby/shift DFG +
groupby-agg tuple variants). Every contender runs in its own spawned process on the same cached
Parquet data; results are cross-checked against journeymine's.
"""

from __future__ import annotations

import functools
import os
import warnings
from pathlib import Path
from typing import Any

from benchmarks._data import events_path
from benchmarks._harness import Measurement, mark_differences, measure

SEED = 0
TASK = "dfg + variants"
SIZES = {"quick": [("100k", 2_000)], "full": [("1M", 20_000), ("10M", 200_000)]}

NOTES = """
DFG + variants of a synthetic log (`make_journeys(n_customers, days=180, random_state=0)`, about
52 events per customer; cached as Parquet under `benchmarks/out/`). Setup (not timed) loads the
Parquet file into a DataFrame and imports the library; the timed part starts from that frame.

- **journeymine**: `enc = jm.encode(df)`, `jm.dfg(enc)` (count, distinct cases, mean/median/p90
  seconds per edge) and `jm.variants(enc)` (every variant decoded to text, sorted). The generator
  writes events grouped by customer and in time order, which `encode` detects in one pass.
- **journeymine (shuffled rows)**: the same on the frame with its rows shuffled (shuffling is in
  setup): pays the full sort by (customer, time, input order) and a slower factorization.
- **journeymine (Parquet path)**: the same, but `jm.encode(path)` reads the file with DuckDB
  (only the needed columns) instead of receiving a DataFrame; setup only imports.
- **pm4py**: `format_dataframe` (copies, sorts) + `discover_dfg` (counts, start/end activities) +
  `get_variants` (variant tuple -> count).
- **retentioneering**: `Eventstream(df[[customer_id, timestamp, activity]], schema=...)` +
  `transition_graph_data(edge_weight="count")`: a DFG count matrix only (it has no variant
  function), with its synthetic path_start/path_end events excluded in the check.
- **pandas**: stable sort by (customer_id, timestamp), `groupby().shift(-1)` + `groupby(...).size()`
  for the DFG, `groupby().agg(tuple).value_counts()` for variants.

Each run returns (edges, sum of edge counts, variants, cases of the top variant); a contender
whose numbers differ from journeymine's gets "result differs" in its row (none did unless shown).
"time vs journeymine" divides by the in-memory **journeymine** row of the same size.
"""


# ---- setups (not timed) -------------------------------------------------------------------


def _read(path: Path) -> Any:
    import pandas as pd

    return pd.read_parquet(path)


def _import_jm() -> None:
    import duckdb  # noqa: F401

    import journeymine as jm

    jm.encode, jm.dfg, jm.variants  # noqa: B018  (load the lazy modules)


def _setup_jm(path: Path) -> Any:
    _import_jm()
    return _read(path)


def _setup_jm_shuffled(path: Path) -> Any:
    return _setup_jm(path).sample(frac=1.0, random_state=1)


def _setup_jm_path(path: Path) -> Any:
    _import_jm()
    return path


def _setup_pm4py(path: Path) -> Any:
    warnings.filterwarnings("ignore")
    import pm4py  # noqa: F401

    return _read(path)


def _setup_retentioneering(path: Path) -> Any:
    os.environ.setdefault("RETENTIONEERING_NO_TRACK", "1")
    warnings.filterwarnings("ignore")
    from retentioneering.eventstream import Eventstream  # noqa: F401

    return _read(path)[["customer_id", "timestamp", "activity"]]


# ---- timed runs ---------------------------------------------------------------------------


def _run_jm(log: Any) -> tuple[int, int, int, int]:
    import journeymine as jm

    enc = jm.encode(log)
    d = jm.dfg(enc)
    v = jm.variants(enc)
    return len(d), int(d["count"].sum()), len(v), int(v["cases"].iloc[0])


def _run_pm4py(df: Any) -> tuple[int, int, int, int]:
    import pm4py

    f = pm4py.format_dataframe(
        df, case_id="customer_id", activity_key="activity", timestamp_key="timestamp"
    )
    graph, _, _ = pm4py.discover_dfg(f)
    variants = pm4py.get_variants(f)
    counts = [len(v) if isinstance(v, list) else int(v) for v in variants.values()]
    return len(graph), int(sum(graph.values())), len(counts), max(counts)


def _run_retentioneering(df: Any) -> tuple[int, int, None, None]:
    from retentioneering.eventstream import Eventstream

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


def _run_pandas(df: Any) -> tuple[int, int, int, int]:
    s = df.sort_values(["customer_id", "timestamp"], kind="stable")
    nxt = s.groupby("customer_id", sort=False, observed=True)["activity"].shift(-1)
    ok = nxt.notna()
    import pandas as pd

    edges = pd.DataFrame({"source": s["activity"][ok], "target": nxt[ok]})
    graph = edges.groupby(["source", "target"], observed=True).size()
    graph = graph[graph > 0]
    variants = (
        s.groupby("customer_id", sort=False, observed=True)["activity"].agg(tuple).value_counts()
    )
    return len(graph), int(graph.sum()), len(variants), int(variants.iloc[0])


# the report's "time vs journeymine" column divides by the last journeymine row of a size
CONTENDERS = [
    ("journeymine (shuffled rows)", _setup_jm_shuffled, _run_jm),
    ("journeymine (Parquet path)", _setup_jm_path, _run_jm),
    ("journeymine", _setup_jm, _run_jm),
    ("pm4py", _setup_pm4py, _run_pm4py),
    ("retentioneering", _setup_retentioneering, _run_retentioneering),
    ("pandas", _read, _run_pandas),
]


def run(quick: bool) -> list[Measurement]:
    rows: list[Measurement] = []
    for label, n_customers in SIZES["quick" if quick else "full"]:
        path = events_path(n_customers, SEED)
        import pyarrow.parquet as pq

        n_events = pq.ParquetFile(path).metadata.num_rows
        size = f"{label} ({n_events:,} ev)"
        group = []
        for name, setup, task in CONTENDERS:
            group.append(
                measure(TASK, name, size, functools.partial(setup, path), task, timeout=1800)
            )
        mark_differences(group)
        rows.extend(group)
    return rows
