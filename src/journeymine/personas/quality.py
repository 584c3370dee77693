"""How good a :class:`~journeymine.personas.PersonaMiner` fit is: noise share, silhouette on
at most 5,000 clustered customers, DBCV (density method) and stability, the adjusted Rand index
between the fit's labels and refits on ``n_bootstrap`` resamples of the fitted customers."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture

__all__ = ["fit_quality"]


def fit_quality(
    miner: Any, emb: np.ndarray, fit_idx: np.ndarray, el: np.ndarray, n_elig: int, n_all: int
) -> dict[str, Any]:
    """The ``quality_`` mapping of a fitted miner (module docstring); ``el`` are the eligible
    customers' labels, ``emb`` their reduced view, ``fit_idx`` the fitted subsample."""
    rng = np.random.default_rng(miner.random_state + 1)
    clustered = np.flatnonzero(el >= 0)
    sil = float("nan")
    if len(np.unique(el[clustered])) >= 2:
        take = rng.choice(clustered, size=min(5000, len(clustered)), replace=False)
        if len(np.unique(el[take])) >= 2:
            sil = float(silhouette_score(emb[take], el[take]))
    aris = []
    for b in range(miner.n_bootstrap):
        boot = np.sort(rng.choice(fit_idx, size=int(0.8 * len(fit_idx)), replace=False))
        if miner.method == "mixture":
            g = GaussianMixture(
                miner.mixture_.n_components,
                covariance_type="tied",
                random_state=miner.random_state + 1000 + b,
                reg_covar=1e-5,
            ).fit(emb[boot])
            aris.append(float(adjusted_rand_score(el[fit_idx], g.predict(emb[fit_idx]))))
            continue
        import hdbscan

        cl = miner._hdbscan(hdbscan, miner.min_cluster_size_, miner.min_samples_).fit(emb[boot])
        ok = cl.labels_ >= 0
        if ok.sum() == 0 or cl.labels_.max() < 0:
            aris.append(0.0)
            continue
        lab_b, _ = miner._extend(emb[fit_idx], emb[boot][ok], cl.labels_[ok])
        aris.append(float(adjusted_rand_score(el[fit_idx], lab_b)))
    dbcv = float(miner.hdbscan_.relative_validity_) if miner.method == "density" else float("nan")
    return {
        "n_customers": int(n_all),
        "n_eligible": int(n_elig),
        "n_personas": int(el.max() + 1),
        "noise_share": float((el < 0).mean()),
        "too_few_events_share": float(1 - n_elig / n_all),
        "dbcv": dbcv if np.isfinite(dbcv) or miner.method == "mixture" else 0.0,
        "silhouette": sil,
        "stability_ari": float(np.mean(aris)) if aris else float("nan"),
        "stability_runs": [round(a, 4) for a in aris],
        "n_fit": len(fit_idx),
    }
