"""Density personas (``PersonaMiner(method="density")``): an HDBSCAN parameter search on a
subsample of the reduced view, then a nearest-clustered-neighbour vote that labels every
customer.

1. **Search.** For each candidate ``(n_components, min_cluster_size, min_samples)``, HDBSCAN on
   the subsample; a candidate's score is its DBCV times the share of the subsample the vote
   labels (so a search cannot win by calling most customers noise).
2. **Vote.** A customer takes the persona most of its ``n_neighbors`` nearest clustered
   customers have, unless fewer than ``min_vote`` of them agree or it lies farther than
   ``reach`` times the typical distance between clustered customers ("noise").

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> core = np.vstack([rng.normal(0, 0.2, (50, 2)), rng.normal(5, 0.2, (50, 2))])
>>> labels = np.repeat([0, 1], 50)
>>> lab, prob = extend_vote(np.array([[0.1, 0.0], [5.0, 5.1], [40.0, 40.0]]), core, labels,
...                         Vote(n_neighbors=10, min_vote=0.5, reach=1.5))
>>> lab.tolist()
[0, 1, -1]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

from journeymine.exceptions import ConfigError

__all__ = [
    "MIN_SAMPLES_GRID",
    "VARIANCE_TARGETS",
    "DensityFit",
    "Vote",
    "density_search",
    "extend_vote",
    "hdbscan_clusterer",
]

#: Shares of the view's variance whose component counts the search tries.
VARIANCE_TARGETS = (0.5, 0.55, 0.6, 0.65, 0.7)
#: HDBSCAN ``min_samples`` values the search tries.
MIN_SAMPLES_GRID = (5, 10, 20)


@dataclass(frozen=True)
class Vote:
    """The extension vote's rule: ``n_neighbors`` nearest clustered customers, the share of
    them that must agree (``min_vote``), and how far (``reach`` x the typical distance between
    clustered customers) a customer may lie."""

    n_neighbors: int
    min_vote: float
    reach: float


@dataclass(frozen=True)
class DensityFit:
    """The chosen HDBSCAN fit and the search behind it (one row per candidate)."""

    search: pd.DataFrame
    n_components: int
    min_cluster_size: int
    min_samples: int
    clusterer: Any
    embedding: np.ndarray
    core: np.ndarray
    core_labels: np.ndarray


def hdbscan_clusterer(hdbscan: Any, min_cluster_size: int, min_samples: int, n_jobs: int) -> Any:
    """An unfitted HDBSCAN with journeymine's settings (leaf selection, approximate tree)."""
    return hdbscan.HDBSCAN(
        min_cluster_size=int(min_cluster_size),
        min_samples=int(min_samples),
        gen_min_span_tree=True,
        core_dist_n_jobs=int(n_jobs),
        approx_min_span_tree=True,
        cluster_selection_method="leaf",
    )


def extend_vote(
    emb: np.ndarray, core: np.ndarray, core_labels: np.ndarray, vote: Vote
) -> tuple[np.ndarray, np.ndarray]:
    """Label ``emb`` by the nearest clustered customers ``core`` (module docstring): labels
    (``-1`` = noise) and a probability (vote share, lowered with the distance)."""
    k = int(min(vote.n_neighbors, len(core)))
    nn = NearestNeighbors(n_neighbors=k).fit(core)
    dist, idx = nn.kneighbors(emb)
    votes = core_labels[idx]
    n_lab = int(core_labels.max()) + 1
    counts = np.zeros((len(emb), n_lab), dtype=np.int64)
    for c in range(n_lab):
        counts[:, c] = (votes == c).sum(1)
    lab = counts.argmax(1)
    share = counts.max(1) / k
    own, _ = nn.kneighbors(core, n_neighbors=min(k + 1, len(core)))
    typical = float(np.quantile(own[:, -1], 0.99))
    limit = vote.reach * typical
    d = dist[:, -1]
    prob = share * np.minimum(1.0, typical / np.maximum(d, 1e-12))
    out = np.where((share < vote.min_vote) | (d > limit), -1, lab)
    return out, np.where(out >= 0, prob, 0.0)


def density_search(
    reducer: Any,
    Z: np.ndarray,
    fit_idx: np.ndarray,
    *,
    n_components: int | None,
    min_cluster_size: int | None,
    min_samples: int | None,
    vote: Vote,
    core_dist_n_jobs: int = 1,
    show_progress: bool = False,
) -> DensityFit:
    """The HDBSCAN search of the module docstring on the rows ``fit_idx`` of the scaled view
    ``Z`` (reduced by the fitted ``reducer``); ``None`` parameters are searched."""
    import hdbscan

    n_fit = len(fit_idx)
    if n_components is not None:
        nc_grid = [int(n_components)]
    else:
        cum = np.cumsum(reducer.explained_variance_ratio_)
        nc_grid = sorted(
            {
                int(min(max(np.searchsorted(cum, t) + 1, 2), reducer.n_components))
                for t in VARIANCE_TARGETS
            }
        )
    mcs_grid = (
        [int(min_cluster_size)] if min_cluster_size is not None else [max(10, round(0.01 * n_fit))]
    )
    ms_grid = [int(min_samples)] if min_samples is not None else list(MIN_SAMPLES_GRID)
    emb_all = reducer.transform(Z)
    candidates = [(nc, mcs, ms) for nc in nc_grid for mcs in mcs_grid for ms in ms_grid]
    it: Any = candidates
    if show_progress:
        from tqdm.auto import tqdm

        it = tqdm(candidates, desc="persona search", unit="fit")
    rows = []
    best: tuple[float, int] | None = None
    fits = []
    for k, (nc, mcs, ms) in enumerate(it):
        R = emb_all[fit_idx, :nc]
        cl = hdbscan_clusterer(hdbscan, mcs, min(ms, n_fit - 1), core_dist_n_jobs).fit(R)
        lab = cl.labels_
        n_clusters = int(lab.max() + 1)
        noise = float((lab < 0).mean())
        dbcv = float(cl.relative_validity_) if n_clusters >= 2 else 0.0
        if not np.isfinite(dbcv):
            dbcv = 0.0
        if n_clusters >= 2:
            ext, _ = extend_vote(R, R[lab >= 0], lab[lab >= 0], vote)
            ext_noise = float((ext < 0).mean())
            score = dbcv * (1.0 - ext_noise)
        else:
            ext_noise, score = 1.0, -1.0
        rows.append(
            {
                "n_components": nc,
                "min_cluster_size": mcs,
                "min_samples": ms,
                "n_personas": n_clusters,
                "hdbscan_noise_share": noise,
                "noise_share": ext_noise,
                "dbcv": dbcv,
                "score": score,
            }
        )
        fits.append(cl)
        if best is None or score > best[0]:
            best = (score, k)
    assert best is not None
    nc, mcs, ms = candidates[best[1]]
    clusterer = fits[best[1]]
    if int(clusterer.labels_.max()) < 0:
        raise ConfigError(
            f"HDBSCAN found no persona among {n_fit} customers (all noise). Lower "
            f"min_cluster_size, lower min_events to include more customers, or check that "
            f"the features vary."
        )
    emb = emb_all[:, :nc]
    fit_labels = clusterer.labels_
    return DensityFit(
        search=pd.DataFrame(rows),
        n_components=nc,
        min_cluster_size=mcs,
        min_samples=ms,
        clusterer=clusterer,
        embedding=emb,
        core=emb[fit_idx][fit_labels >= 0],
        core_labels=fit_labels[fit_labels >= 0],
    )
