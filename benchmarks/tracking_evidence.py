"""Is persona tracking limited by the information in a window, or by the persona model's window
memberships? The same HMM (:func:`~journeymine.personas.window_hmm.smooth_windows`) fed four
kinds of window evidence, on the generator's defaults (``make_journeys(n, random_state=s)``:
180 days, 10% of customers change persona on day 90, two 90-day windows):

- ``mined``: each window's memberships from the persona model (``window_membership_``), as
  :func:`~journeymine.personas.track_personas` uses them;
- ``refined``: a gradient-boosted classifier of the view's features trained on the HMM's
  smoothed labels (out of fold, the two windows of a customer in one fold), smoothed again:
  what ``track_personas(refine=True)`` adds
  (:func:`~journeymine.personas.window_refine.refined_evidence`), no ground truth;
- ``supervised``: the same classifier trained on the *true* personas of other seeds' windows
  (``--train-seeds``): what the window's features can tell, the bound for the other two;
- ``this log``: the same classifier trained on this log's own true personas, out of fold (the
  two windows of a customer in one fold, on the persona view's columns): what a learner
  confined to one log could reach with perfect labels.

Over the customers the tracker labels in both windows, per seed: the AUC of the move
probability for the scheduled changes, the share of them among the customers ranked first in
lists 1.2x and 1.5x their number, and the share reported moving (move probability above 0.5)
over the true share with its recall.

    python -m benchmarks.tracking_evidence --seeds 1101-1104 [--train-seeds 1001-1004]
        [--customers 3000]
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold

from benchmarks.persona_recovery import _seeds
from journeymine.datasets import make_journeys
from journeymine.personas import PersonaTracks, track_personas
from journeymine.personas.window_hmm import smooth_windows
from journeymine.personas.window_refine import refined_evidence


def _tracked(n: int, seed: int) -> tuple[PersonaTracks, pd.DataFrame]:
    data = make_journeys(n, random_state=seed)
    return track_personas(data.events, refine=False), data.customers.set_index("customer_id")


def _classifier() -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(max_iter=200, random_state=0)


def _window_truth(tr: PersonaTracks, cust: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, ...]:
    X = [m.features_.reindex(columns=cols, fill_value=0.0) for m in tr.miners]
    # two windows: the persona before the change day, then after it
    y = [cust.loc[x.index, "persona_after_change" if w else "persona"] for w, x in enumerate(X)]
    return np.concatenate([x.to_numpy() for x in X]), np.concatenate([v.to_numpy() for v in y])


def _scores(mp: np.ndarray, changed: np.ndarray) -> dict[str, float]:
    n = int(changed.sum())
    order = np.argsort(-mp)
    moved = mp > 0.5
    return {
        "auc": float(roc_auc_score(changed, mp)),
        "recall@1.2x": float(changed[order[: round(1.2 * n)]].sum() / n),
        "recall@1.5x": float(changed[order[: round(1.5 * n)]].sum() / n),
        "reported/true": float(moved.sum() / n),
        "recall": float((moved & changed).sum() / n),
    }


def evidence_run(
    n: int, seed: int, supervised: HistGradientBoostingClassifier, cols: list[str]
) -> tuple[dict[str, dict[str, float]], int, int]:
    """One seed: the scores of the four kinds of evidence."""
    tr, cust = _tracked(n, seed)
    L = tr.labels
    both = ((L.iloc[:, 0] >= 0) & (L.iloc[:, -1] >= 0)).fillna(False).to_numpy()
    ids = L.index[both]
    changed = cust.loc[ids, "changed"].to_numpy()
    mined = np.stack([m.window_membership_.loc[ids].to_numpy() for m in tr.miners])
    chain = smooth_windows(mined)
    out = {"mined": _scores(chain.move[0], changed)}
    # refined: what track_personas(refine=True) adds (window_refine.refined_evidence)
    ev = refined_evidence(
        tr.miners[0], [m.features_ for m in tr.miners], [m.labels_ for m in tr.miners]
    )
    assert ev is not None
    refined = np.stack([e.reindex(ids).fillna(0.0).to_numpy() for e in ev])
    out["refined"] = _scores(smooth_windows(refined).move[0], changed)
    S = [
        supervised.predict_proba(
            m.features_.loc[ids].reindex(columns=cols, fill_value=0.0).to_numpy()
        )
        for m in tr.miners
    ]
    out["supervised"] = _scores(smooth_windows(np.stack(S)).move[0], changed)
    out["this log"] = _scores(smooth_windows(_in_log(tr, cust, ids)).move[0], changed)
    return out, int(changed.sum()), len(ids)


def _in_log(tr: PersonaTracks, cust: pd.DataFrame, ids: pd.Index) -> np.ndarray:
    """Windows x customers x true personas: out-of-fold probabilities of a classifier trained
    on this log's true personas (a customer's windows in one fold)."""
    cols = list(tr.miners[0].columns_)
    X = np.concatenate([m.features_.loc[ids, cols].to_numpy() for m in tr.miners])
    truth = [cust.loc[ids, "persona_after_change" if w else "persona"] for w in range(2)]
    classes, y = np.unique(np.concatenate([t.to_numpy() for t in truth]), return_inverse=True)
    groups = np.tile(np.arange(len(ids)), 2)
    P = np.zeros((len(X), len(classes)))
    for fit, held in GroupKFold(5).split(X, y, groups):
        clf = _classifier().fit(X[fit], y[fit])
        P[np.ix_(held, clf.classes_)] = clf.predict_proba(X[held])
    return P.reshape(2, len(ids), len(classes))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="1101-1104")
    ap.add_argument("--train-seeds", default="1001-1004")
    ap.add_argument("--customers", type=int, default=3000)
    a = ap.parse_args()
    tables = []
    for s in _seeds(a.train_seeds):
        tr, cust = _tracked(a.customers, s)
        tables.append((tr, cust))
    cols = sorted(set().union(*(set(m.features_.columns) for tr, _ in tables for m in tr.miners)))
    parts = [_window_truth(tr, cust, cols) for tr, cust in tables]
    supervised = _classifier().fit(
        np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    )
    rows = []
    for s in _seeds(a.seeds):
        res, movers, n = evidence_run(a.customers, s, supervised, cols)
        for kind, sc in res.items():
            rows.append({"seed": s, "evidence": kind, **sc})
            print(
                f"seed={s} ({n} customers labelled in both windows, {movers} changed) {kind:10s} "
                + " ".join(f"{k} {v:.3f}" for k, v in sc.items()),
                flush=True,
            )
    df = pd.DataFrame(rows)
    for kind, g in df.groupby("evidence", sort=False):
        print(
            f"== {kind}: "
            + "; ".join(
                f"{c} {g[c].min():.3f} / {statistics.median(g[c]):.3f} / {g[c].max():.3f}"
                for c in ("auc", "recall@1.2x", "recall@1.5x", "reported/true", "recall")
            )
        )


if __name__ == "__main__":
    main()
