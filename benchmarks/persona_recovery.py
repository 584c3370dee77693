"""Persona recovery on the generator over seeds and sizes: the spread, not the best run.

ARI between the mined persona and the true one over customers who never change persona and
have at least 20 events, noise (-1) counted as its own label; the number of personas found.
With ``--ceiling``, also what the miner's own view can tell at best: the ARI of a supervised
classifier (linear discriminant analysis, the tied-covariance Gaussian model the mixture
fits) trained on the *true* personas over the same embedding, out of fold (5 folds), on the
same customers. The gap between the two is what the unsupervised fit loses; the ceiling is
what the features carry.

    python -m benchmarks.persona_recovery --sizes 2000,10000,50000 --seeds 301-308
    python -m benchmarks.persona_recovery --method density --sizes 3000 --seeds 7,11,13
    python -m benchmarks.persona_recovery --sizes 2000 --seeds 1311-1318 --max-overlap 0.015
    python -m benchmarks.persona_recovery --sizes 2000 --seeds 1509,1407 --ceiling

Seeds 301+ are used by no test. Prints one line per run and min / median / max per size.
"""

from __future__ import annotations

import argparse
import statistics
import time

from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.metrics import adjusted_rand_score
from sklearn.model_selection import cross_val_predict

from journeymine.datasets import make_journeys
from journeymine.personas import PersonaMiner
from journeymine.personas.mixture import MAX_OVERLAP

MIN_EVENTS_FOR_ARI = 20


def recovery(
    n_customers: int,
    seed: int,
    method: str = "mixture",
    max_overlap: float = MAX_OVERLAP,
    ceiling: bool = False,
) -> dict[str, float]:
    """One run: ARI, personas found, noise share and fit seconds; with ``ceiling``, the
    supervised ceiling's ARI (module docstring; NaN where the embedding misses customers)."""
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
    truth = cust.loc[keep, "persona"].to_numpy()
    out = {
        "ari": float(adjusted_rand_score(truth, labels)),
        "personas": int(miner.quality_["n_personas"]),
        "noise": float((labels < 0).mean()),
        "seconds": seconds,
        "ceiling": float("nan"),
    }
    if ceiling:
        emb = miner.embedding_.reindex(keep)
        if emb.notna().all(axis=None):
            guess = cross_val_predict(LinearDiscriminantAnalysis(), emb.to_numpy(), truth, cv=5)
            out["ceiling"] = float(adjusted_rand_score(truth, guess))
    return out


def _spread(values: list[float]) -> str:
    return f"min {min(values):.3f} / median {statistics.median(values):.3f} / max {max(values):.3f}"


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
    ap.add_argument(
        "--ceiling", action="store_true", help="also the supervised ceiling on the same view"
    )
    args = ap.parse_args()
    for n in (int(x) for x in args.sizes.split(",")):
        aris, counts, tops = [], [], []
        for seed in _seeds(args.seeds):
            r = recovery(n, seed, args.method, args.max_overlap, args.ceiling)
            aris.append(r["ari"])
            counts.append(r["personas"])
            tops.append(r["ceiling"])
            top = f", supervised ceiling {r['ceiling']:.3f}" if args.ceiling else ""
            print(
                f"{args.method} n={n} seed={seed}: ARI {r['ari']:.3f}, {r['personas']} personas, "
                f"noise {r['noise']:.3f}, fit {r['seconds']:.1f} s{top}",
                flush=True,
            )
        top = f"; supervised ceiling {_spread(tops)}" if args.ceiling else ""
        print(
            f"== {args.method} n={n}: ARI {_spread(aris)}; personas {sorted(set(counts))}{top}",
            flush=True,
        )


if __name__ == "__main__":
    main()
