"""Persona benchmarks: customer featurization (numpy and DuckDB engines) and persona clustering vs
retentioneering.

Run with ``.venv/bin/python -m benchmarks.run bench_personas`` (``--quick`` for small sizes).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from benchmarks._harness import Measurement, measure

os.environ.setdefault("RETENTIONEERING_NO_TRACK", "1")

OUT = Path(__file__).parent / "out"
SEED = 0

NOTES = """
The limits of #12: `PersonaMiner.fit` on 100,000 customers at most 60 s (*cluster*, 100k) and
featurizing 1M customers at most 25.7 s (*featurize*, 1M/15M). Recovery over fresh seeds and
sizes (min / median / max) and tracking are in the README (*Personas*), how each persona
change moved them in `docs/evidence/personas.md`; the supervised ceiling of the view: `python -m
benchmarks.persona_recovery --ceiling`.
*persona recovery*: `python -m benchmarks.persona_recovery` for one seed each of 301-303 at 50,000
customers (180 days): generate, `PersonaMiner().fit(events)`, ARI against the true persona over
unchanged customers with >= 20 events (noise its own label); the time includes generating.
Data: `make_journeys(n, days, random_state=0)`, cached as Parquet under `benchmarks/out/`.
*featurize*: `CustomerFeaturizer().fit_transform(log)` on 1M customers x 35 days (15.3M
events; earlier tables said "10M"; before 2026-12-06 `fit(log).transform(log)`, the same work
then: since `fit` also learns the pooled conversion rates from the log's aggregates,
`fit_transform` computes them once and `fit` then `transform` twice): `fit` learns the
vocabulary, transitions and response rates (DuckDB), the aggregates are computed with the numpy
engine (the default since 2026-11-23) or, in the "DuckDB engine" row, as one SQL query (window
functions for sessions and transitions, filtered counts), then the shared numpy feature step.
*cluster*: from the event log to persona labels. journeymine = `PersonaMiner().fit(log)`
(the default mixture: featurize, split-half reliability of the view's columns (two more
featurizations of half the sessions, on at most 20,000 customers), PCA, the consensus mixture
scan on at most 20,000 customers, 3 stability refits, profiles).
retentioneering 5 = `Eventstream(df).add_clusters(...)` with per-path features
(`event_count_bulk` over all activities, `length`, `duration`, `active_days`), standard
scaling, and either k-means (k=6, the true number of personas, which journeymine is not told)
or its HDBSCAN (`min_cluster_size` = 1% of customers) on the raw feature space. ARI against the
true personas is computed for customers with >= 20 events that received a cluster/persona
(retentioneering labels everyone) and shown in the contender name with the share labelled.
The 1M clustering uses the 35-day data (about 10 events per customer, so most customers are
below journeymine's `min_events=10` and get "too few events"); the 100k clustering uses 180 days.
"""


def _events_path(n: int, days: int) -> Path:
    return OUT / f"personas_events_{n}_{days}d_seed{SEED}.parquet"


def _truth_path(n: int, days: int) -> Path:
    return OUT / f"personas_truth_{n}_{days}d_seed{SEED}.parquet"


def ensure_data(n: int, days: int) -> Path:
    """Generate once and cache the events and the true personas."""
    path = _events_path(n, days)
    if path.exists() and _truth_path(n, days).exists():
        return path
    from journeymine.datasets import make_journeys

    OUT.mkdir(exist_ok=True)
    data = make_journeys(n_customers=n, days=days, random_state=SEED)
    data.events.to_parquet(path, index=False)
    data.customers[["customer_id", "persona", "changed"]].to_parquet(
        _truth_path(n, days), index=False
    )
    return path


def _read(n: int, days: int) -> Any:
    import pandas as pd

    return pd.read_parquet(_events_path(n, days))


def _ari(labels: Any, n_events: Any, n: int, days: int) -> str:
    """ARI vs the true persona for customers with >= 20 events that have a label."""
    import pandas as pd
    from sklearn.metrics import adjusted_rand_score

    truth = pd.read_parquet(_truth_path(n, days)).set_index("customer_id")
    truth = truth[~truth["changed"]]["persona"]
    lab = labels.reindex(truth.index)
    ev = n_events.reindex(truth.index).fillna(0)
    enough = ev >= 20
    got = lab.notna() & (lab >= 0) & enough
    if got.sum() < 2:
        return "ARI n/a"
    ari = adjusted_rand_score(truth[got], lab[got].astype(int))
    return f"ARI {ari:.2f}, {got.sum() / max(enough.sum(), 1):.0%} labelled"


# ---- setups (not timed) -----------------------------------------------------------------
def setup_1m_35d() -> Any:
    return _read(1_000_000, 35)


def setup_100k_180d() -> Any:
    return _read(100_000, 180)


def setup_quick_20k_35d() -> Any:
    return _read(20_000, 35)


def setup_quick_5k_180d() -> Any:
    return _read(5_000, 180)


# ---- runs (timed) -----------------------------------------------------------------------
def run_featurize(log: Any, engine: str = "numpy") -> dict[str, Any]:
    from journeymine.personas import CustomerFeaturizer

    X = CustomerFeaturizer(engine=engine).fit_transform(log)
    return {"customers": len(X), "features": X.shape[1], "events": len(log)}


def run_featurize_duckdb(log: Any) -> dict[str, Any]:
    return run_featurize(log, "duckdb")


def _jm_cluster(log: Any) -> Any:
    import numpy as np

    from journeymine.personas import PersonaMiner

    # from the log: featurize, rate the view's columns on split halves, fit the mixture
    miner = PersonaMiner(random_state=0).fit(log)
    n_ev = np.rint(np.expm1(miner.features_["log_events"]))
    return miner.labels_, n_ev, miner.quality_


def _rete_cluster(log: Any, method: str) -> Any:
    import pandas as pd
    from retentioneering.eventstream import Eventstream

    df = pd.DataFrame(
        {
            "user_id": log["customer_id"].astype(str),
            "event": log["activity"].astype(str),
            "timestamp": log["timestamp"].dt.tz_localize(None),
        }
    )
    n_users = df["user_id"].nunique()
    stream = Eventstream(df)
    acts = sorted(df["event"].unique())
    feats = [
        {"metric": "event_count_bulk", "metric_args": {"events": acts}},
        {"metric": "length"},
        {"metric": "duration"},
        {"metric": "active_days"},
    ]
    args = {"n_clusters": 6} if method == "kmeans" else {"min_cluster_size": max(5, n_users // 100)}
    out = stream.add_clusters(
        name="persona", features=feats, method=method, method_args=args, scaler="std"
    ).to_dataframe()
    first = out.groupby("user_id")["persona"].first().astype(str)
    labels = first.str.extract(r"(-?\d+)$")[0].astype(float).fillna(-1).astype(int)
    n_ev = df.groupby("user_id").size().astype(float)
    return labels, n_ev


def _result(n: int, days: int, labels: Any, n_ev: Any, extra: Any = None) -> dict[str, Any]:
    return {"ari": _ari(labels, n_ev, n, days), "quality": extra}


def run_jm_100k(log: Any) -> dict[str, Any]:
    labels, n_ev, q = _jm_cluster(log)
    return _result(100_000, 180, labels, n_ev, q)


def run_jm_1m(log: Any) -> dict[str, Any]:
    labels, n_ev, q = _jm_cluster(log)
    return _result(1_000_000, 35, labels, n_ev, q)


def run_jm_quick(log: Any) -> dict[str, Any]:
    labels, n_ev, q = _jm_cluster(log)
    return _result(5_000, 180, labels, n_ev, q)


def run_rete_kmeans_100k(log: Any) -> dict[str, Any]:
    return _result(100_000, 180, *_rete_cluster(log, "kmeans"))


def run_rete_hdbscan_100k(log: Any) -> dict[str, Any]:
    return _result(100_000, 180, *_rete_cluster(log, "hdbscan"))


def run_rete_kmeans_1m(log: Any) -> dict[str, Any]:
    return _result(1_000_000, 35, *_rete_cluster(log, "kmeans"))


def run_rete_hdbscan_1m(log: Any) -> dict[str, Any]:
    return _result(1_000_000, 35, *_rete_cluster(log, "hdbscan"))


def run_rete_kmeans_quick(log: Any) -> dict[str, Any]:
    return _result(5_000, 180, *_rete_cluster(log, "kmeans"))


def run_rete_hdbscan_quick(log: Any) -> dict[str, Any]:
    return _result(5_000, 180, *_rete_cluster(log, "hdbscan"))


# ---- persona recovery over seeds (the 50,000-customer case) ----------------------
RECOVERY_SEEDS = (301, 302, 303)  # used by no test


def setup_none() -> None:
    return None


def _recovery(n: int, seed: int) -> dict[str, Any]:
    from benchmarks.persona_recovery import recovery

    r = recovery(n, seed)
    return {"ari": f"seed {seed}: ARI {r['ari']:.3f}, {r['personas']} personas", "quality": r}


def run_recovery_50k_301(_: Any) -> dict[str, Any]:
    return _recovery(50_000, 301)


def run_recovery_50k_302(_: Any) -> dict[str, Any]:
    return _recovery(50_000, 302)


def run_recovery_50k_303(_: Any) -> dict[str, Any]:
    return _recovery(50_000, 303)


def run_recovery_2k_301(_: Any) -> dict[str, Any]:
    return _recovery(2_000, 301)


def _named(m: Measurement) -> Measurement:
    if m.result and "ari" in m.result:
        m.contender = f"{m.contender} ({m.result['ari']})"
        print(f"    -> {m.contender}; quality {m.result.get('quality')}", flush=True)
    return m


def run(quick: bool) -> list[Measurement]:
    rows: list[Measurement] = []
    if quick:
        ensure_data(20_000, 35)
        ensure_data(5_000, 180)
        rows.append(measure("featurize", "journeymine", "20k", setup_quick_20k_35d, run_featurize))
        rows.append(
            measure(
                "featurize", "journeymine, DuckDB engine", "20k", setup_quick_20k_35d,
                run_featurize_duckdb,
            )
        )  # fmt: skip
        plan = [
            ("journeymine", run_jm_quick),
            ("retentioneering kmeans", run_rete_kmeans_quick),
            ("retentioneering hdbscan", run_rete_hdbscan_quick),
        ]
        for name, fn in plan:
            rows.append(_named(measure("cluster", name, "5k", setup_quick_5k_180d, fn)))
        rec = measure("persona recovery", "journeymine", "2k", setup_none, run_recovery_2k_301)
        rows.append(_named(rec))
        return rows
    for fn in (run_recovery_50k_301, run_recovery_50k_302, run_recovery_50k_303):
        rows.append(_named(measure("persona recovery", "journeymine", "50k", setup_none, fn)))
    ensure_data(1_000_000, 35)
    ensure_data(100_000, 180)
    rows.append(measure("featurize", "journeymine", "1M/15M", setup_1m_35d, run_featurize))
    rows.append(
        measure(
            "featurize", "journeymine, DuckDB engine", "1M/15M", setup_1m_35d, run_featurize_duckdb
        )
    )
    for name, fn in (
        ("journeymine", run_jm_100k),
        ("retentioneering kmeans", run_rete_kmeans_100k),
        ("retentioneering hdbscan", run_rete_hdbscan_100k),
    ):
        rows.append(_named(measure("cluster", name, "100k", setup_100k_180d, fn, timeout=3600)))
    for name, fn in (
        ("journeymine", run_jm_1m),
        ("retentioneering kmeans", run_rete_kmeans_1m),
        ("retentioneering hdbscan", run_rete_hdbscan_1m),
    ):
        rows.append(_named(measure("cluster", name, "1M", setup_1m_35d, fn, timeout=3600)))
    return rows
