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
- **accuracy** (not timed, not in `make bench`): `python -m benchmarks.bench_change --seeds 20
  [--large]` runs `detect_changes` with default arguments on the generator's incidents (2,000
  and, with `--large`, 200,000 customers), on incident-free logs of the generator and of the
  independent clickstream of `tests/journeys/_clickstream.py` (weekly rhythm, bursts), and on
  small clickstream logs with incidents; it prints hits and false alarms.
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


# --- accuracy sweep (not timed): python -m benchmarks.bench_change [--seeds N] [--large] ------
def _clickstream():
    import sys
    from pathlib import Path

    here = Path(__file__).resolve().parents[1] / "tests" / "journeys"
    if str(here) not in sys.path:
        sys.path.insert(0, str(here))
    import _clickstream

    return _clickstream


def _hits(found, truth, days: int) -> list[bool]:
    import pandas as pd

    tol = pd.Timedelta(days=days)
    out = []
    for _, t in truth.iterrows():
        start = t["start"] if t["start"].tzinfo else t["start"].tz_localize("UTC")
        end = t["end"] if t["end"].tzinfo else t["end"].tz_localize("UTC")
        m = found[
            (found["channel"] == t["channel"])
            & ((found["start"] - start).abs() <= tol)
            & ((found["end"] - end).abs() <= tol)
        ]
        out.append(len(m) > 0)
    return out


def _unmatched(found, truth, days: int) -> int:
    import pandas as pd

    tol = pd.Timedelta(days=days)
    n = 0
    for _, r in found.drop_duplicates("incident").iterrows():
        ok = False
        for _, t in truth.iterrows():
            start = t["start"] if t["start"].tzinfo else t["start"].tz_localize("UTC")
            end = t["end"] if t["end"].tzinfo else t["end"].tz_localize("UTC")
            ok |= r["channel"] == t["channel"] and r["start"] < end + tol and r["end"] > start - tol
        n += not ok
    return n


def accuracy(seeds: int = 20, large: bool = False) -> None:
    """Default-argument accuracy of detect_changes: incidents of our generator found (start
    and end within 2 days, right channel), false alarms on incident-free logs of our generator
    and of the independent clickstream (weekly rhythm, bursts), the small-log and three-incident
    clickstream cases."""
    import time

    import journeymine as jm
    from journeymine.datasets import make_journeys

    cs = _clickstream()
    t0 = time.perf_counter()
    sizes = [2_000, 200_000] if large else [2_000]
    for n in sizes:
        runs = seeds if n <= 20_000 else 1
        found = total = extra = 0
        for seed in range(runs):
            data = make_journeys(n, random_state=seed)
            t = time.perf_counter()
            got = jm.detect_changes(data.events)
            secs = time.perf_counter() - t
            h = _hits(got, data.incidents, 2)
            found, total = found + sum(h), total + len(h)
            extra += _unmatched(got, data.incidents, 2)
        print(
            f"make_journeys {n:>7,} customers x {runs} seeds: {found}/{total} incidents found "
            f"(+-2 days, right channel), {extra} other incidents; last run "
            f"{len(data.events):,} events in {secs:.1f} s",
            flush=True,
        )
    alarms = sum(
        not jm.detect_changes(
            make_journeys(2_000, random_state=1000 + s, incidents=None).events
        ).empty
        for s in range(seeds)
    )
    print(
        f"make_journeys 2,000 customers, no incident x {seeds} seeds: {alarms} with a false alarm"
    )
    for n_users in (600, 2_000):
        alarms = sum(
            not jm.detect_changes(cs.make_clickstream(n_users, seed=2000 + s)[0]).empty
            for s in range(seeds)
        )
        print(
            f"clickstream {n_users:,} users, no incident x {seeds} seeds: {alarms} with a false "
            f"alarm",
            flush=True,
        )
    one = (cs.ClickIncident("desktop", 60, 14, "site_search", "item_page", 0.2),)
    found = sum(
        _hits(jm.detect_changes(ev), truth, 2)[0]
        for ev, truth in (
            cs.make_clickstream(600, incidents=one, seed=3000 + s) for s in range(seeds)
        )
    )
    print(
        f"clickstream 600 users (~30k events), one 14-day incident x {seeds} seeds: {found} found"
    )
    three = (
        cs.ClickIncident("desktop", 40, 14, "site_search", "item_page", 0.2),
        cs.ClickIncident("ios", 100, 4, "basket", "checkout_start", 0.15),
        cs.ClickIncident("desktop", 120, 30, "item_page", "basket_add", 0.3),
    )
    per = [0, 0, 0]
    two_of_three = extra = 0
    for s in range(seeds):
        ev, truth = cs.make_clickstream(600, incidents=three, seed=4000 + s)
        got = jm.detect_changes(ev)
        h = _hits(got, truth, 3)
        per = [a + b for a, b in zip(per, h, strict=True)]
        two_of_three += sum(h) >= 2
        extra += _unmatched(got, truth, 3)
    print(
        f"clickstream 600 users, incidents of 14/4/30 days x {seeds} seeds: found {per} "
        f"(+-3 days), >= 2 of 3 in {two_of_three}, {extra} unmatched incidents in all"
    )
    print(f"sweep took {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=accuracy.__doc__)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--large", action="store_true", help="also 200,000 customers (10M events)")
    args = ap.parse_args()
    accuracy(args.seeds, args.large)
