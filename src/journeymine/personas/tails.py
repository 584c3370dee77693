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

The module holds the noise rule: :func:`tail_dof` and :func:`noise_limit` (the limit learned
from the distances, both in :func:`fitted_noise_limit`), and for a plain Gaussian mixture
:func:`persona_distances` (a customer's squared distance to its most likely persona, widened by
:func:`inflation` for one seen on few events) and :func:`outliers` (who lies beyond a limit).
The deconvolved mixture (:mod:`journeymine.personas.deconvolution`) gives its own distances,
chi-square for a customer seen on any number of events.

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

import logging

import numpy as np
from scipy import optimize, stats
from sklearn.mixture import GaussianMixture

__all__ = [
    "LEVEL",
    "fitted_noise_limit",
    "inflation",
    "noise_limit",
    "outliers",
    "persona_distances",
    "tail_dof",
]

logger = logging.getLogger(__name__)

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


def persona_distances(
    model: GaussianMixture,
    X: np.ndarray,
    spread: np.ndarray | None = None,
    inflation: np.ndarray | None = None,
    comp: np.ndarray | None = None,
) -> np.ndarray:
    """Squared Mahalanobis distance of each point to its most likely component (``comp``
    when the caller has it already), with the model's covariances or ``spread`` (a d x d
    covariance shared by the components), divided by ``inflation`` (one factor per point)
    when given (:func:`outliers`).

    Examples
    --------
    >>> g = GaussianMixture(1, covariance_type="tied", random_state=0).fit(
    ...     np.random.default_rng(0).normal(size=(500, 2)))
    >>> persona_distances(g, np.array([[9.0, 9.0]]), np.eye(2), np.array([2.0])).round(1)
    array([81.])
    """
    X = np.asarray(X, dtype=np.float64)
    comp = model.predict(X) if comp is None else np.asarray(comp)
    diff = X - model.means_[comp]
    chol = model.precisions_cholesky_
    kind = model.covariance_type
    if spread is not None:
        z = diff @ np.linalg.cholesky(np.linalg.inv(spread))
    elif kind == "tied":
        z = diff @ chol
    elif kind == "full":
        z = np.einsum("ij,ijk->ik", diff, chol[comp])
    elif kind == "diag":
        z = diff * chol[comp]
    else:  # spherical
        z = diff * chol[comp][:, None]
    d2 = np.einsum("ij,ij->i", z, z)
    if inflation is not None:
        d2 = d2 / np.asarray(inflation, dtype=np.float64)
    return d2


def outliers(
    model: GaussianMixture,
    X: np.ndarray,
    level: float = LEVEL,
    spread: np.ndarray | None = None,
    inflation: np.ndarray | None = None,
    limit: float | None = None,
    comp: np.ndarray | None = None,
) -> np.ndarray:
    """True where a point lies outside the ``level`` ellipsoid of its most likely component
    (squared Mahalanobis distance above the chi-square quantile, or above ``limit`` when
    given, e.g. :func:`~journeymine.personas.tails.noise_limit` of the log's own tails): it
    belongs to no persona.

    ``spread`` (a d x d covariance shared by the components) replaces the model's own
    covariances, e.g. the spread of every customer around its persona when the model was
    fitted on the best-measured customers only. ``inflation`` (one factor per point) widens
    each point's ellipsoid: a customer measured on few events scatters more around their
    persona (``1 + n0 / n`` for ``n`` events, with ``spread`` that of a fully measured one).

    Examples
    --------
    >>> g = GaussianMixture(1, covariance_type="tied", random_state=0).fit(
    ...     np.random.default_rng(0).normal(size=(500, 2)))
    >>> outliers(g, np.array([[0.0, 0.0], [9.0, 9.0]])).tolist()
    [False, True]
    >>> outliers(g, np.array([[0.0, 0.0], [9.0, 9.0]]), limit=500.0).tolist()
    [False, False]
    """
    X = np.asarray(X, dtype=np.float64)
    d2 = persona_distances(model, X, spread, inflation, comp)
    return d2 > (stats.chi2.ppf(level, X.shape[1]) if limit is None else float(limit))


def inflation(n0: float | None, n_events: np.ndarray) -> np.ndarray | None:
    """How much more a customer seen on ``n_events`` events scatters around its persona than
    a fully measured one: ``1 + n0 / n`` (``None`` without ``n0``).

    Examples
    --------
    >>> inflation(10.0, np.array([10, 40])).tolist()
    [2.0, 1.25]
    """
    return None if n0 is None else 1.0 + float(n0) / np.maximum(n_events, 1)


def fitted_noise_limit(distances: np.ndarray, d: int) -> tuple[float, float]:
    """The noise limit of :mod:`journeymine.personas.tails` learned from the customers' own
    squared ``distances`` to their persona in ``d`` dimensions
    (:meth:`~journeymine.personas.persona_law.PersonaLaw.distances`), and the fitted degrees
    of freedom: ``(limit, dof)``.

    Examples
    --------
    >>> X = np.random.default_rng(0).standard_t(4, size=(3000, 3))
    >>> g = GaussianMixture(1, covariance_type="tied", random_state=0).fit(X)
    >>> limit, dof = fitted_noise_limit(persona_distances(g, X), 3)
    >>> 3 < dof < 6, limit > noise_limit(3, float("inf"))
    (True, True)
    """
    dof = tail_dof(distances, d)
    limit = noise_limit(d, dof)
    logger.info(
        "persona noise: a customer beyond squared distance %.1f of its persona (99.9%% of a t "
        "law with %.0f degrees of freedom fitted to the customers' distances; Gaussian: %.1f)",
        limit,
        dof,
        noise_limit(d, float("inf")),
    )
    return limit, dof
