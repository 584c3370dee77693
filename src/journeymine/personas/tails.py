"""How far from its persona a customer may lie before it is noise: the limit learned from the log.

The mixture describes each persona as a Gaussian, under which a customer's squared Mahalanobis
distance to its persona follows a chi-square law with ``d`` degrees of freedom (``d`` the
dimensions clustered). Behaviour has heavier tails than that: on generated logs about 1% of
well-measured customers lie beyond the chi-square's 99.9% quantile, ten times as many as the
law allows, and the outlier rule called them noise although they plainly belong to their
persona. So the distances are described instead as those of a multivariate Student t, whose
degrees of freedom ``nu`` are fitted by maximum likelihood to the log's own distances (the
Gaussian, ``nu`` infinite, when it fits as well). The noise limit is that law's 99.9%
quantile: a customer is noise only when it lies beyond what the tails of the log's own
personas explain. Customers that are truly foreign (a bot, a test account) lie far beyond it.

With the covariance ``C`` of the customers around their persona (not the t's scale matrix),
the squared distance of a t with ``nu > 2`` degrees of freedom is ``(nu - 2) / nu * d * F``
with ``F`` following Fisher's F law with ``(d, nu)`` degrees of freedom.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> gauss = (rng.normal(size=(5000, 4)) ** 2).sum(1)          # chi-square distances, d = 4
>>> heavy = gauss / rng.chisquare(5, size=5000) * 3            # a t with 5 dof: C-scaled
>>> tail_dof(gauss, 4) > 50, 3 < tail_dof(heavy, 4) < 8
(True, True)
>>> noise_limit(4, np.inf) < noise_limit(4, 5.0)               # a heavier tail reaches further
True
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, stats

__all__ = ["LEVEL", "noise_limit", "tail_dof"]

#: Share of a persona's customers inside the noise limit under the fitted law.
LEVEL = 0.999
#: Bounds of the fitted degrees of freedom (above the upper one, the law is the Gaussian's).
_DOF_RANGE = (2.05, 1000.0)


def _t_loglik(dist: np.ndarray, d: int, nu: float) -> float:
    scale = nu / ((nu - 2.0) * d)
    return float(np.sum(stats.f.logpdf(dist * scale, d, nu)) + len(dist) * np.log(scale))


def tail_dof(distances: np.ndarray, d: int) -> float:
    """Degrees of freedom of the multivariate t that best explains the squared distances
    ``distances`` (each computed with the covariance of the points around their centre) in
    ``d`` dimensions, by maximum likelihood; ``inf`` when the Gaussian (chi-square distances)
    explains them at least as well, or with fewer than ``10 * d`` distances.

    Examples
    --------
    >>> tail_dof(np.full(5, 2.0), 2)        # too few to tell: the Gaussian
    inf
    """
    dist = np.asarray(distances, dtype=np.float64)
    dist = dist[np.isfinite(dist) & (dist > 0)]
    if d < 1 or len(dist) < 10 * d:
        return float("inf")
    fit = optimize.minimize_scalar(
        lambda log_nu: -_t_loglik(dist, d, float(np.exp(log_nu))),
        bounds=tuple(np.log(_DOF_RANGE)),
        method="bounded",
    )
    nu = float(np.exp(fit.x))
    gauss = float(np.sum(stats.chi2.logpdf(dist, d)))
    return float("inf") if gauss >= -float(fit.fun) or nu >= _DOF_RANGE[1] * 0.99 else nu


def noise_limit(d: int, dof: float, level: float = LEVEL) -> float:
    """The squared distance (with the covariance around the persona) beyond which a point in
    ``d`` dimensions is noise: the ``level`` quantile of the t law with ``dof`` degrees of
    freedom (:func:`tail_dof`), of the chi-square with ``d`` for ``dof = inf``.

    Examples
    --------
    >>> round(noise_limit(2, float("inf")), 2)     # the chi-square's 99.9% quantile
    13.82
    """
    if not np.isfinite(dof):
        return float(stats.chi2.ppf(level, d))
    return float((dof - 2.0) / dof * d * stats.f.ppf(level, d, dof))
