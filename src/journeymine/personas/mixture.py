"""Gaussian mixtures fitted by consensus over resamples, with the number of personas chosen
at the knee of the BIC curve.

Why: the maximum-likelihood mixture of a given size is not always the reproducible one (on
behavioural features, a better likelihood is often reached by splitting a large persona and
merging two close ones), and BIC keeps falling past the number of real personas because
personas are not exactly Gaussian. So, for each candidate count ``k``:

1. fit a tied-covariance mixture on ``n_resamples`` random 80% subsamples (one k-means++
   initialisation each, ``random_state`` + resample number);
2. label every point with each fit and keep the **consensus** fit: the one whose labels agree
   best (mean adjusted Rand index) with the others. That mean is the count's *stability*;
3. score the consensus fit by its BIC on all the points.

The chosen count is the knee of BIC against ``k`` (the point farthest below the chord from
the first to the last count, "Kneedle", Satopää et al. 2011): where adding a persona stops
paying much more than the average step. Pass ``n_personas`` to fix the count.

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

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import chi2
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture

from journeymine.exceptions import ConfigError

__all__ = ["ConsensusMixture", "fit_consensus_mixture", "knee", "outliers"]


@dataclass(frozen=True)
class ConsensusMixture:
    """The chosen mixture and the search behind it.

    Attributes
    ----------
    model : GaussianMixture
        The consensus fit of the chosen count.
    k : int
        Number of components (personas).
    stability : float
        Mean adjusted Rand index between the resampled fits of the chosen count (1 = every
        resample gives the same personas).
    search : DataFrame
        One row per candidate count: ``k``, ``bic``, ``stability``, ``chosen``.
    """

    model: GaussianMixture
    k: int
    stability: float
    search: pd.DataFrame


def knee(ks: np.ndarray, values: np.ndarray) -> int:
    """The count at the knee of a decreasing curve (farthest below the first-last chord).

    Examples
    --------
    >>> int(knee(np.arange(1, 7), np.array([100.0, 60, 30, 25, 22, 20])))
    3
    """
    k = np.asarray(ks, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if len(k) < 3:
        return int(k[np.argmin(y)])
    chord = y[0] + (y[-1] - y[0]) * (k - k[0]) / (k[-1] - k[0])
    return int(k[np.argmin(y - chord)])


def _consensus(
    X: np.ndarray, k: int, n_resamples: int, random_state: int
) -> tuple[GaussianMixture, float]:
    rng = np.random.default_rng([random_state, k])
    size = max(int(0.8 * len(X)), min(len(X), 2 * k))
    fits, labels = [], []
    for b in range(n_resamples):
        idx = rng.choice(len(X), size=size, replace=False)
        g = GaussianMixture(
            k, covariance_type="tied", random_state=random_state + b, reg_covar=1e-5
        ).fit(X[idx])
        fits.append(g)
        labels.append(g.predict(X))
    if n_resamples == 1 or k == 1:
        return fits[0], 1.0
    agree = np.zeros((n_resamples, n_resamples))
    for i in range(n_resamples):
        for j in range(i + 1, n_resamples):
            agree[i, j] = agree[j, i] = adjusted_rand_score(labels[i], labels[j])
    mean = agree.sum(1) / (n_resamples - 1)
    best = int(mean.argmax())
    return fits[best], float(agree.sum() / (n_resamples * (n_resamples - 1)))


def fit_consensus_mixture(
    X: np.ndarray,
    *,
    k_max: int = 12,
    n_personas: int | None = None,
    n_resamples: int = 4,
    random_state: int = 0,
) -> ConsensusMixture:
    """Fit the consensus mixture of every count ``1..k_max`` and choose one (module docstring).

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
    random_state : int, default 0

    Returns
    -------
    ConsensusMixture
    """
    X = np.asarray(X, dtype=np.float64)
    n = len(X)
    if n_resamples < 1:
        raise ConfigError(f"n_resamples must be >= 1, got {n_resamples}.")
    if n_personas is not None:
        if n_personas < 1 or n_personas > n // 2:
            raise ConfigError(
                f"n_personas={n_personas} is not possible with {n} customers; use 1 to {n // 2}."
            )
        ks = [int(n_personas)]
    else:
        top = max(2, min(int(k_max), n // 20))
        ks = list(range(1, top + 1))
    rows, fits = [], {}
    for k in ks:
        g, stab = _consensus(X, k, n_resamples, random_state)
        fits[k] = (g, stab)
        rows.append({"k": k, "bic": float(g.bic(X)), "stability": stab})
    search = pd.DataFrame(rows)
    chosen = ks[0] if len(ks) == 1 else knee(search["k"].to_numpy(), search["bic"].to_numpy())
    search["chosen"] = search["k"] == chosen
    g, stab = fits[chosen]
    return ConsensusMixture(model=g, k=chosen, stability=stab, search=search)


def outliers(model: GaussianMixture, X: np.ndarray, level: float = 0.999) -> np.ndarray:
    """True where a point lies outside the ``level`` ellipsoid of its most likely component
    (squared Mahalanobis distance above the chi-square quantile): it belongs to no persona.

    Examples
    --------
    >>> g = GaussianMixture(1, covariance_type="tied", random_state=0).fit(
    ...     np.random.default_rng(0).normal(size=(500, 2)))
    >>> outliers(g, np.array([[0.0, 0.0], [9.0, 9.0]])).tolist()
    [False, True]
    """
    X = np.asarray(X, dtype=np.float64)
    comp = model.predict(X)
    prec = np.linalg.inv(model.covariances_)
    diff = X - model.means_[comp]
    d2 = np.einsum("ij,jk,ik->i", diff, prec, diff)
    return d2 > chi2.ppf(level, X.shape[1])
