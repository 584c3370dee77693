"""Change detection, period comparison, conformance and discovery at 1M and 10M events."""

from __future__ import annotations

import functools

from benchmarks._data import events_path
from benchmarks._harness import Measurement, measure

NOTES = """
Data: `make_journeys(n_customers, random_state=0)` with the default incidents (about 52 events per
customer: 20,000 customers make 1M events, 200,000 make 10M), cached as Parquet in
`benchmarks/out/`. `setup` reads the Parquet file (not timed).

- **detect_changes**: `jm.detect_changes(log, conversions=[("checkout", "purchase")])`, daily
  bins, every channel; the result must name both incidents. No library we know does this; the
  peer row *pandas daily edge counts* only builds the daily edge series with a plain pandas
  groupby (sort, shift within customer, count per day/channel/edge) and detects nothing: it
  shows what the preparation alone costs done the obvious way.
- **compare_periods**: two 14-day periods, all four metrics with a 4-step funnel.
- **conformance**: the generator's designed `cart_abandonment` journey checked on every journey
  instance (7-day window). *journeymine* aligns with its own code on the designed sequence;
  *pm4py alignments* checks the same instances against the same design as a Petri net through
  `journeymine._pm4py` (pm4py's A* alignments, one per variant). Same mean fitness required.
- **discover_process**: sessions as cases (`jm.sessionize(log, by_channel=True)` in setup; a
  customer's 180 days are all unique traces). journeymine counts the variants with numpy and
  hands pm4py's inductive miner the counted variants: *top 20 variants* (the reduced log) and
  *all variants* (the same model as pm4py's: the run prints tree digests, equal at 100k and
  1M) against *pm4py inductive*, `pm4py.discover_process_tree_inductive` on the session frame
  (conversion with `to_pm4py` included). At 10M pm4py is not run.
"""


def _load(n: int):
    import pandas as pd

    return pd.read_parquet(events_path(n))


def _sessions(n: int):
    import journeymine as jm

    return jm.sessionize(_load(n), by_channel=True)


# --- tasks ------------------------------------------------------------------------------------
def _detect(log) -> str:
    import journeymine as jm

    res = jm.detect_changes(log, conversions=[("checkout", "purchase")])
    found = {
        (r.channel, r.what)
        for r in res.itertuples()
        if r.what in ("checkout -> purchase", "search -> view_product")
    }
    return f"{res['incident'].nunique()} incidents, edges found: {sorted(found)}"


def _pandas_daily_edges(log) -> int:
    import pandas as pd

    df = log.sort_values(["customer_id", "timestamp"], kind="stable")
    nxt_act = df.groupby("customer_id", sort=False)["activity"].shift(-1)
    nxt_ch = df.groupby("customer_id", sort=False)["channel"].shift(-1)
    nxt_t = df.groupby("customer_id", sort=False)["timestamp"].shift(-1)
    same = (nxt_ch == df["channel"]) & ((nxt_t - df["timestamp"]) <= pd.Timedelta("30min"))
    edges = pd.DataFrame(
        {
            "day": df["timestamp"].dt.floor("D"),
            "channel": df["channel"],
            "source": df["activity"],
            "target": nxt_act.where(same),
        }
    )
    counts = edges.dropna().groupby(["channel", "source", "target", "day"], observed=True).size()
    trials = edges.groupby(["channel", "source", "day"], observed=True).size()
    return len(counts) + len(trials)


def _compare(log) -> int:
    import journeymine as jm

    res = jm.compare_periods(
        log,
        ("2025-02-18", "2025-03-04"),
        ("2025-03-04", "2025-03-18"),
        funnel=["view_product", "add_to_cart", "checkout", "purchase"],
    )
    return int(res["significant"].sum())


_CART = ["email_sent", "email_open", "email_click", "visit", "add_to_cart", "checkout", "purchase"]


def _conformance_own(log) -> str:
    from journeymine.journeys.conformance import check_conformance

    res = check_conformance(log, _CART, journey="cart_abandonment")
    return f"{len(res.cases)} cases, mean fitness {res.fitness:.6f}"


def _conformance_pm4py(log) -> str:
    import pandas as pd

    from journeymine._pm4py import discover_process
    from journeymine.journeys.conformance import check_conformance

    t0 = pd.Timestamp("2025-01-01", tz="UTC")
    design = pd.DataFrame(
        {
            "customer_id": "design",
            "timestamp": [t0 + pd.Timedelta(minutes=i) for i in range(len(_CART))],
            "activity": _CART,
        }
    )
    model = discover_process(design)  # the designed sequence as a Petri net
    res = check_conformance(log, model, journey="cart_abandonment")
    return f"{len(res.cases)} cases, mean fitness {res.fitness:.6f}"


def _discover_top(log) -> str:
    from journeymine._pm4py import discover_process

    m = discover_process(log, top_variants=20, case="session_id")
    return f"{len(m.activities)} activities, coverage {m.coverage:.4f} of {m.n_cases} sessions"


def _digest(tree) -> str:
    import hashlib

    return hashlib.sha1(str(tree).encode()).hexdigest()[:12]


def _discover_all(log) -> str:
    from journeymine._pm4py import discover_process

    m = discover_process(log, case="session_id")
    return f"{len(m.activities)} activities, tree {_digest(m.process_tree)}"


def _discover_pm4py(log) -> str:
    import pm4py

    from journeymine._pm4py import to_pm4py

    tree = pm4py.discover_process_tree_inductive(to_pm4py(log, case="session_id"))
    return f"tree {_digest(tree)}"


def run(quick: bool) -> list[Measurement]:
    sizes = [("100k", 2_000)] if quick else [("1M", 20_000), ("10M", 200_000)]
    rows = []
    for label, n in sizes:
        setup = functools.partial(_load, n)
        sessions = functools.partial(_sessions, n)
        rows.append(measure("detect_changes", "journeymine", label, setup, _detect))
        rows.append(
            measure("detect_changes", "pandas daily edge counts", label, setup, _pandas_daily_edges)
        )
        rows.append(measure("compare_periods", "journeymine", label, setup, _compare))
        rows.append(measure("conformance", "journeymine", label, setup, _conformance_own))
        if label != "10M":
            rows.append(
                measure("conformance", "pm4py alignments", label, setup, _conformance_pm4py)
            )
        rows.append(
            measure(
                "discover_process", "journeymine top 20 variants", label, sessions, _discover_top
            )
        )
        rows.append(
            measure("discover_process", "journeymine all variants", label, sessions, _discover_all)
        )
        if label != "10M":
            rows.append(
                measure("discover_process", "pm4py inductive", label, sessions, _discover_pm4py)
            )
    for m in rows:
        if m.result is not None:
            print(f"    {m.task} / {m.contender} / {m.size}: {m.result}", flush=True)
    return rows
