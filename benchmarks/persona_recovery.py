"""Persona recovery on the generator over seeds and sizes: the spread, not the best run.

ARI between the mined persona and the true one over customers who never change persona and
have at least 20 events, noise (-1) counted as its own label; the number of personas found.

    python -m benchmarks.persona_recovery --sizes 2000,10000,50000 --seeds 301-308
    python -m benchmarks.persona_recovery --method density --sizes 3000 --seeds 7,11,13
    python -m benchmarks.persona_recovery --sizes 2000 --seeds 1311-1318 --max-overlap 0.015

Seeds 301+ are used by no test. Prints one line per run and min / median / max per size.
"""

from __future__ import annotations

import argparse
import statistics
import time

from sklearn.metrics import adjusted_rand_score

from journeymine.datasets import make_journeys
from journeymine.personas import PersonaMiner
from journeymine.personas.mixture import MAX_OVERLAP

MIN_EVENTS_FOR_ARI = 20


def recovery(
    n_customers: int, seed: int, method: str = "mixture", max_overlap: float = MAX_OVERLAP
) -> dict[str, float]:
    """One run: ARI, personas found, noise share and fit seconds."""
    data = make_journeys(n_customers=n_customers, random_state=seed)
    t0 = time.perf_counter()
    miner = PersonaMiner(
        method=method,  # type: ignore[arg-type]
        n_bootstrap=0,
        random_state=0,
        max_overlap=max_overlap,
    ).fit(data.events)
    seconds = time.perf_counter() - t0
    cust = data.customers.set_index("customer_id")
    n_ev = data.events.groupby("customer_id", observed=True).size()
    keep = cust.index[~cust["changed"].to_numpy()]
    keep = keep[n_ev.reindex(keep).fillna(0).to_numpy() >= MIN_EVENTS_FOR_ARI]
    labels = miner.labels_.reindex(keep).fillna(-1)
    return {
        "ari": float(adjusted_rand_score(cust.loc[keep, "persona"], labels)),
        "personas": int(miner.quality_["n_personas"]),
        "noise": float((labels < 0).mean()),
        "seconds": seconds,
    }


def _seeds(text: str) -> list[int]:
    if "-" in text:
        lo, hi = (int(x) for x in text.split("-"))
        return list(range(lo, hi + 1))
    return [int(x) for x in text.split(",")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="2000,10000")
    ap.add_argument("--seeds", default="301-308")
    ap.add_argument("--method", default="mixture", choices=["mixture", "density"])
    ap.add_argument("--max-overlap", type=float, default=MAX_OVERLAP, help="the count's limit")
    args = ap.parse_args()
    for n in (int(x) for x in args.sizes.split(",")):
        aris, counts = [], []
        for seed in _seeds(args.seeds):
            r = recovery(n, seed, args.method, args.max_overlap)
            aris.append(r["ari"])
            counts.append(r["personas"])
            print(
                f"{args.method} n={n} seed={seed}: ARI {r['ari']:.3f}, {r['personas']} personas, "
                f"noise {r['noise']:.3f}, fit {r['seconds']:.1f} s",
                flush=True,
            )
        print(
            f"== {args.method} n={n}: ARI min {min(aris):.3f} / median "
            f"{statistics.median(aris):.3f} / max {max(aris):.3f}; personas "
            f"{sorted(set(counts))}",
            flush=True,
        )


if __name__ == "__main__":
    main()
