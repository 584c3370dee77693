"""Gaussian mixtures fitted over resamples, with as many personas as can be told apart.

Why: the maximum-likelihood mixture of a given size is not always the reproducible one (on
behavioural features, a better likelihood is often reached by splitting a large persona and
merging two close ones), and BIC keeps falling past the number of real personas because
personas are not exactly Gaussian. So, for each candidate count ``k = 1, 2, ...``:

1. fit a tied-covariance mixture on ``n_resamples`` random 80% subsamples of at most
   ``MAX_FIT_POINTS`` points (the most likely of ``N_STARTS`` k-means++ initialisations each,
   seeded ``random_state`` + resample number);
2. measure each fit's **overlap** on the 20% of points it was not fitted on (all points when
   that is fewer than 10 per component): for each pair of components, the mean
   posterior probability of one among the points assigned to the other, averaged both ways;
   a fit's overlap is the largest over its pairs. Keep the *most typical* fit among those
   whose overlap is at most ``max_overlap``: the one whose labels agree best (mean adjusted
   Rand index) with the other fits'. EM sometimes settles, on one subsample, on a poorer
   optimum that isolates a small, well-separated group and merges two personas; it is the
   odd one out, so the fits that agree are kept (the smallest overlap alone would pick it).
   A fit that splits one persona and merges two others has two overlapping halves, so when
   no fit is within ``max_overlap`` the best-separated one (smallest overlap) is kept. The
   best-separated fit also gives the next count's split start (:func:`split_start`);
3. report the count's *stability*: the mean adjusted Rand index between the fits' labels,
   and its *cluster-wise stability* (Hennig 2007): each fit's least stable persona's mean
   best Jaccard similarity with the other fits' personas, averaged over the fits (that of the
   kept fit alone would be biased up: it was kept for agreeing with the others).

The chosen count is the largest whose overlap is at most ``max_overlap`` (default 0.03: two
personas are distinct when, on average, less than 3% of a customer of one is explained by the
other) and whose cluster-wise stability is at least ``MIN_JACCARD`` (0.5); the scan ends at two
consecutive counts over it (one can be the best split of several personas into too few groups,
e.g. two), at a count with a persona of fewer than ``min_size`` points (the points it would
label: its outliers, beyond the 99.9% ellipsoid, do not count; a component made of outliers is
no persona), or at a count whose BIC is no better than the previous one's. Splitting a real
persona in two gives two heavily overlapping halves, so the scan stops there. Pass
``n_personas`` to fix the count.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = np.vstack([rng.normal(c, 0.3, size=(150, 2)) for c in ((0, 0), (3, 0), (0, 3))])
>>> fit = fit_consensus_mixture(X, k_max=6, random_state=0)
>>> fit.k
3
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture

from journeymine.exceptions import ConfigError
from journeymine.personas.tails import outliers

logger = logging.getLogger(__name__)

__all__ = [
    "ConsensusMixture",
    "evidence_posterior",
    "fit_consensus_mixture",
    "outliers",
    "overlap",
    "overlapping_counts",
    "persona_spread",
    "typical_fit",
]

#: Largest overlap between two personas (see the module docstring).
MAX_OVERLAP = 0.03
#: Consecutive counts over ``max_overlap`` that end the scan: one overlapping count can be the
#: best split of several personas into too few groups (e.g. two), not a persona split in two.
OVERLAP_PATIENCE = 2
#: Cluster-wise stability (Hennig 2007) below which a persona "dissolves" across resampled
#: fits: a count with such a persona is not chosen, as one with overlapping personas.
MIN_JACCARD = 0.5
#: k-means++ starts of each resampled fit (the most likely is kept): one start can settle on
#: a persona split in two and two others merged, and the next counts then inherit it.
N_STARTS = 3
#: Points a resampled fit uses (and held-out points its overlap is measured on), at most:
#: beyond this the fits cost time without changing the count.
MAX_FIT_POINTS = 8_000


@dataclass(frozen=True)
class ConsensusMixture:
    """The chosen mixture and the search behind it.

    What :func:`fit_consensus_mixture` returns; ``search`` shows why ``k`` was chosen.

    Attributes
    ----------
    model : GaussianMixture
        The most typical well-separated fit of the chosen count (module docstring).
    k : int
        Number of components (personas).
    stability : float
        Mean adjusted Rand index between the resampled fits of the chosen count (1 = every
        resample gives the same personas).
    search : DataFrame
        One row per count tried: ``k``, ``bic``, ``stability``, ``overlap``, ``smallest``
        (points of the smallest persona), ``chosen``.
    """

    model: GaussianMixture
    k: int
    stability: float
    search: pd.DataFrame


def overlap(model: GaussianMixture, X: np.ndarray) -> float:
    """Largest overlap between two components of ``model`` on points ``X`` (module docstring);
    0 for a single component.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (300, 1)), rng.normal(8, 1, (300, 1))])
    >>> g = GaussianMixture(2, covariance_type="tied", random_state=0).fit(X)
    >>> overlap(g, X) < 0.01
    True
    """
    k = model.n_components
    if k < 2:
        return 0.0
    post = model.predict_proba(X)
    lab = post.argmax(1)
    conf = np.zeros((k, k))
    for i in range(k):
        mine = lab == i
        if mine.any():
            conf[i] = post[mine].mean(0)
    sym = (conf + conf.T) / 2.0
    np.fill_diagonal(sym, 0.0)
    return float(sym.max())


def _resampled_fits(
    X: np.ndarray,
    k: int,
    n_resamples: int,
    random_state: int,
    sample_weight: np.ndarray | None = None,
    min_size: int = 1,
    previous: GaussianMixture | None = None,
    max_overlap: float = MAX_OVERLAP,
) -> tuple[GaussianMixture, GaussianMixture, float, float, float]:
    """``n_resamples`` fits on 80% subsamples: the one to keep (:func:`typical_fit`: the
    most typical of those whose overlap on the held-out 20% is at most ``max_overlap``), the
    best-separated one (smallest overlap: the next count's split start), the kept one's
    overlap, the fits' stability (mean pairwise ARI of their labels) and their cluster-wise
    stability (of each fit's least stable persona against the other fits, averaged over the
    fits). Fits with a component of fewer than ``min_size`` points are kept only when
    every fit has one (a far-away tiny component separates well but is no persona).
    With ``sample_weight``, both parts are redrawn (with replacement) in proportion to it.
    With ``previous`` (the best-separated fit of ``k - 1``), each resample also starts from
    it with its largest persona split in two (:func:`split_start`), and keeps the likelier
    fit."""
    rng = np.random.default_rng([random_state, k])
    size = min(max(int(0.8 * len(X)), min(len(X), 2 * k)), MAX_FIT_POINTS)
    fits, labels, overlaps = [], [], []
    for b in range(n_resamples):
        perm = rng.permutation(len(X))
        idx, held = perm[:size], perm[size : size + MAX_FIT_POINTS]
        if sample_weight is not None:
            idx = _weighted_draw(rng, idx, sample_weight)
            held = _weighted_draw(rng, held, sample_weight)
        kw = {"covariance_type": "tied", "random_state": random_state + b, "reg_covar": 1e-5}
        g = GaussianMixture(k, n_init=N_STARTS, **kw).fit(X[idx])
        if previous is not None and previous.n_components == k - 1:
            warm = GaussianMixture(k, means_init=split_start(previous), **kw)
            warm.fit(X[idx])
            if warm.score(X[idx]) > g.score(X[idx]):
                g = warm
        fits.append(g)
        labels.append(g.predict(X))
        overlaps.append(overlap(g, X[held] if len(held) >= 10 * k else X))
    agree = np.eye(n_resamples)
    for i, j in itertools.combinations(range(n_resamples), 2):
        agree[i, j] = agree[j, i] = adjusted_rand_score(labels[i], labels[j])
    pairs = agree[np.triu_indices(n_resamples, 1)]
    stability = float(pairs.mean()) if len(pairs) and k > 1 else 1.0
    small = np.array([np.bincount(lab, minlength=k).min() < min_size for lab in labels])
    ranked = np.where(small & ~small.all(), np.inf, np.asarray(overlaps, dtype=np.float64))
    best = typical_fit(agree, ranked, max_overlap)
    # the count's cluster-wise stability: every fit's against the others, averaged (that of
    # the kept fit alone is biased up, as it was kept for agreeing with them)
    jac = float(
        np.mean(
            [
                cluster_stability(lab, labels[:b] + labels[b + 1 :], k, sample_weight)
                for b, lab in enumerate(labels)
            ]
        )
    )
    return fits[best], fits[int(np.argmin(ranked))], overlaps[best], stability, jac


def typical_fit(agree: np.ndarray, overlaps: np.ndarray, max_overlap: float) -> int:
    """Index of the fit to keep: among the fits whose overlap is at most ``max_overlap``, the
    one that agrees best with the others (mean of its row of ``agree``, the fits' pairwise
    adjusted Rand indices, without itself); the smallest overlap when none is within it.
    An overlap of ``inf`` marks a fit that may not be chosen.

    Examples
    --------
    Three fits agree; the fourth found another optimum, better separated but alone:

    >>> agree = np.array([[1, .9, .9, .6], [.9, 1, .9, .6], [.9, .9, 1, .6], [.6, .6, .6, 1]])
    >>> typical_fit(agree, np.array([0.02, 0.025, 0.02, 0.01]), 0.03)
    0
    >>> typical_fit(agree, np.array([0.05, 0.06, 0.05, 0.04]), 0.03)   # none within: 3
    3
    """
    ov = np.asarray(overlaps, dtype=np.float64)
    within = np.isfinite(ov) & (ov <= max_overlap)
    n = len(ov)
    if not within.any() or n < 2:
        return int(np.argmin(ov))
    typical = (np.asarray(agree, dtype=np.float64).sum(axis=1) - 1.0) / (n - 1)
    # the most typical, ties to the better separated
    order = np.lexsort((ov, -np.where(within, typical, -np.inf)))
    return int(order[0])


def cluster_stability(
    labels: np.ndarray,
    others: list[np.ndarray],
    k: int,
    sample_weight: np.ndarray | None = None,
) -> float:
    """Hennig's cluster-wise stability of the least stable persona of ``labels``: for each
    persona, the mean over the other fits' ``others`` labels of its best Jaccard similarity
    with one of their personas; the smallest of these (1 with no other fit). With
    ``sample_weight`` the sets are weighed (a customer measured on few events counts less).

    Examples
    --------
    >>> a = np.array([0, 0, 0, 1, 1, 1])
    >>> cluster_stability(a, [np.array([1, 1, 1, 0, 0, 0])], 2)
    1.0
    >>> round(cluster_stability(a, [np.array([0, 0, 0, 0, 0, 1])], 2), 2)
    0.33
    """
    if not others or k < 2:
        return 1.0
    scores = np.zeros(k)
    for other in others:
        both = np.zeros((k, int(other.max()) + 1))
        np.add.at(both, (labels, other), 1.0 if sample_weight is None else sample_weight)
        union = both.sum(1)[:, None] + both.sum(0)[None, :] - both
        jac = np.divide(both, union, out=np.zeros_like(both), where=union > 0)
        scores += jac.max(1)
    return float((scores / len(others)).min())


def split_start(model: GaussianMixture) -> np.ndarray:
    """Means for one more component than ``model``: its heaviest component split in two along
    the main axis of the (tied) spread, half a standard deviation either side. A start that
    keeps every persona the smaller count found, so one more persona cannot fit worse because
    EM fell into a poorer optimum (k-means++ starts alone sometimes merge two personas and
    split a third).

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(400, 2)) * [3.0, 0.5]
    >>> g = GaussianMixture(1, covariance_type="tied", random_state=0).fit(X)
    >>> start = split_start(g)       # one standard deviation (3) apart, on the long axis
    >>> gap = start[1] - start[0]
    >>> start.shape, round(float(abs(gap[0])), 1), bool(abs(gap[1]) < 0.1)
    ((2, 2), 3.0, True)
    """
    means = np.asarray(model.means_, dtype=np.float64)
    cov = np.asarray(model.covariances_, dtype=np.float64)
    c = int(np.argmax(model.weights_))
    spread = cov if cov.ndim == 2 else cov[c]
    vals, vecs = np.linalg.eigh(spread)
    step = 0.5 * np.sqrt(max(float(vals[-1]), 0.0)) * vecs[:, -1]
    return np.vstack([np.delete(means, c, axis=0), means[c] - step, means[c] + step])


def _weighted_draw(rng: np.random.Generator, idx: np.ndarray, w: np.ndarray) -> np.ndarray:
    if len(idx) == 0:
        return idx
    p = w[idx] / w[idx].sum()
    return np.sort(rng.choice(idx, size=len(idx), replace=True, p=p))


def fit_consensus_mixture(
    X: np.ndarray,
    *,
    k_max: int = 12,
    n_personas: int | None = None,
    n_resamples: int = 4,
    max_overlap: float = MAX_OVERLAP,
    min_size: int = 1,
    random_state: int = 0,
    sample_weight: np.ndarray | None = None,
) -> ConsensusMixture:
    """Fit consensus mixtures of ``1, 2, ...`` components and choose the count (module
    docstring); the scan stops at the first count whose overlap exceeds ``max_overlap``.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Points (customers in the reduced persona view).
    k_max : int, default 12
        Largest count tried (lowered to ``n // 20`` on small inputs).
    n_personas : int, optional
        Fix the count instead of choosing it.
    n_resamples : int, default 4
        Resampled fits per count.
    max_overlap : float, default 0.03
        Largest overlap between two personas.
    min_size : int, default 1
        Fewest points a persona may have; the scan also stops at a count with a smaller one.
    random_state : int, default 0
    sample_weight : ndarray of shape (n,), optional
        How much each point counts (e.g. how well a customer's behaviour is measured): the
        resampled fits and their held-out parts are drawn in proportion to it.

    Returns
    -------
    ConsensusMixture
    """
    X = np.asarray(X, dtype=np.float64)
    n = len(X)
    w = None
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
        if len(w) != n or not np.isfinite(w).all() or (w < 0).any() or not w.sum() > 0:
            raise ConfigError(
                f"sample_weight must hold {n} finite non-negative numbers, not all 0."
            )
    if n_resamples < 1:
        raise ConfigError(f"n_resamples must be >= 1, got {n_resamples}.")
    if not 0.0 < float(max_overlap) < 0.5:
        raise ConfigError(f"max_overlap must be within (0, 0.5), got {max_overlap!r}.")
    if n_personas is not None:
        if n_personas < 1 or n_personas > n // 2:
            raise ConfigError(
                f"n_personas={n_personas} is not possible with {n} customers; use 1 to {n // 2}."
            )
        ks = [int(n_personas)]
    else:
        top = max(2, min(int(k_max), n // 20))
        ks = list(range(1, top + 1))
    rows: list[dict[str, float]] = []
    fits: dict[int, tuple[GaussianMixture, float, GaussianMixture]] = {}
    chosen = ks[0]
    # BIC on one fixed draw (weighted like the fits when there are weights), the same for
    # every count, so that counts compare on the data the fits describe
    scored = (
        X if w is None else X[_weighted_draw(np.random.default_rng(random_state), np.arange(n), w)]
    )
    overlapping = 0
    for k in ks:
        previous = fits[k - 1][2] if k - 1 in fits else None
        g, separated, ov, stab, jac = _resampled_fits(
            X, k, n_resamples, random_state, w, min_size, previous, max_overlap
        )
        fits[k] = (g, stab, separated)
        rows.append(
            {"k": k, "bic": float(g.bic(scored)), "stability": stab, "overlap": ov, "jaccard": jac}
        )
        # a persona's size counts the points it would label: its outliers get no persona
        lab = g.predict(X)
        smallest = int(np.bincount(lab[~outliers(g, X, comp=lab)], minlength=k).min())
        rows[-1]["smallest"] = smallest
        if len(ks) == 1:
            break
        worse = len(rows) > 1 and rows[-1]["bic"] >= rows[-2]["bic"]
        if smallest < min_size or worse:
            break
        if ov > max_overlap:
            overlapping += 1
            if overlapping >= OVERLAP_PATIENCE:
                break
            continue
        overlapping = 0
        # a count with a persona that dissolves across resamples is not chosen, but the scan
        # goes on: too few groups for many personas are unstable too (which ones to join?)
        if jac >= MIN_JACCARD:
            chosen = k
    search = pd.DataFrame(rows)
    search["chosen"] = search["k"] == chosen
    for k, ov, jac in overlapping_counts(search, max_overlap):
        logger.info(
            "persona count: %d chosen; %d personas were reproducible (Jaccard %.2f) but "
            "overlapped by %.1f%% on held-out customers (limit %.1f%%, max_overlap): "
            "n_personas=%d forces them",
            chosen,
            k,
            jac,
            100 * ov,
            100 * max_overlap,
            k,
        )
    g, stab, _ = fits[chosen]
    return ConsensusMixture(model=g, k=chosen, stability=stab, search=search)


def overlapping_counts(
    search: pd.DataFrame, max_overlap: float = MAX_OVERLAP
) -> list[tuple[int, float, float]]:
    """``(k, overlap, jaccard)`` of the counts above the chosen one that the scan turned down
    for their overlap alone: each persona reproducible under resampling (Jaccard at least
    ``MIN_JACCARD``), but two overlapping by more than ``max_overlap`` on held-out points.
    Where a log's personas are close, these are the counts a user may want to force.

    Examples
    --------
    >>> search = pd.DataFrame({"k": [1, 2, 3], "overlap": [0.0, 0.035, 0.2],
    ...                        "jaccard": [1.0, 0.96, 0.3], "chosen": [True, False, False]})
    >>> overlapping_counts(search)
    [(2, 0.035, 0.96)]
    """
    chosen = int(search.loc[search["chosen"], "k"].max())
    rows = search[
        (search["k"] > chosen)
        & (search["overlap"] > max_overlap)
        & (search["jaccard"] >= MIN_JACCARD)
    ]
    return [(int(r.k), float(r.overlap), float(r.jaccard)) for r in rows.itertuples(index=False)]


def persona_spread(
    model: GaussianMixture, X: np.ndarray, evidence: np.ndarray | None = None
) -> np.ndarray:
    """The spread (d x d covariance) of points around their most likely component; with
    ``evidence`` (each point's ``n / (n + n0)``), that of a fully measured point: one seen on
    ``n`` events scatters ``1 + n0 / n`` times as much (the reliability of a mean over ``n``
    events is ``n / (n + n0)``), so residuals are scaled by the square root of ``evidence``.

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(2000, 1)) * 2.0
    >>> g = GaussianMixture(1, covariance_type="tied", random_state=0).fit(X)
    >>> round(float(persona_spread(g, X)[0, 0]), 1)
    4.0
    >>> round(float(persona_spread(g, X, np.full(2000, 0.25))[0, 0]), 1)  # seen on n = n0 / 3
    1.0
    """
    X = np.asarray(X, dtype=np.float64)
    d = X.shape[1]
    resid = X - model.means_[model.predict(X)]
    if evidence is not None:
        resid = resid * np.sqrt(np.asarray(evidence, dtype=np.float64))[:, None]
    return np.cov(resid, rowvar=False).reshape(d, d) + 1e-9 * np.eye(d)


def evidence_posterior(
    posterior: np.ndarray, shares: np.ndarray, n_events: np.ndarray, n0: float
) -> np.ndarray:
    """Posteriors with each customer's likelihood raised to its evidence weight
    ``n / (n + n0)`` before the persona ``shares`` are applied: a customer seen on few events
    gets memberships closer to the shares.

    Examples
    --------
    >>> post = np.array([[0.99, 0.01], [0.99, 0.01]])
    >>> evidence_posterior(post, np.array([0.5, 0.5]), np.array([1, 1000]), 10.0).round(2)
    array([[0.6 , 0.4 ],
           [0.99, 0.01]])
    """
    shares = np.maximum(np.asarray(shares, dtype=np.float64), 1e-12)
    n = np.asarray(n_events, dtype=np.float64)
    r = (n / (n + float(n0)))[:, None]
    with np.errstate(divide="ignore"):
        logp = r * np.log(np.clip(posterior / shares, 1e-300, None)) + np.log(shares)
    logp -= logp.max(axis=1, keepdims=True)
    out = np.exp(logp)
    return out / out.sum(axis=1, keepdims=True)
