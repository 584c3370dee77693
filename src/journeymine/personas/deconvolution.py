"""Personas of customers seen on few events: a mixture that models each customer's measurement
noise (extreme deconvolution).

A customer's view is its behaviour measured on the events the log holds: ``x = z + e``, the
behaviour ``z`` drawn from its persona's Gaussian ``N(m_k, B)`` (one ``B`` shared by the
personas, as in the tied mixture) and ``e`` the noise of a mean over ``n`` events,
``N(0, S / n)``. ``S``, the noise of one event, is measured on the log itself
(:func:`measurement_noise`): each customer's sessions are dealt alternately into two halves,
and the halves' views differ by noise alone.

A plain mixture gives every customer the same covariance, so a customer seen on 12 events is
placed by the same directions, and as confidently, as one seen on 300, although for it those
directions are mostly noise. Fitting the mixture with each customer's own covariance
``B + S / n`` is *extreme deconvolution* (Bovy, Hogg and Roweis 2011, Annals of Applied
Statistics 5(2B), 1657-1677); its EM updates the persona means, shares and ``B``, starting from
the tied mixture. In the coordinates where ``S`` is the identity and ``B`` is diagonal
(``D``), every customer's covariance is diagonal, ``D + 1 / n``, so a step costs what a
diagonal mixture's does.

Under this law a customer's squared distance to its persona, ``(x - m_k)' (B + S / n)^-1
(x - m_k)``, is chi-square with ``d`` degrees of freedom for every ``n``: the noise limit of
:mod:`journeymine.personas.tails` is learned on these distances.

Examples
--------
>>> import numpy as np
>>> from sklearn.mixture import GaussianMixture
>>> rng = np.random.default_rng(0)
>>> z = np.r_[rng.normal(-1, 0.3, (400, 2)), rng.normal(1, 0.3, (400, 2))]
>>> n = rng.integers(2, 200, 800)                               # events per customer
>>> x = z + rng.normal(size=z.shape) / np.sqrt(n)[:, None]      # S = identity
>>> init = GaussianMixture(2, covariance_type="tied", random_state=0).fit(x)
>>> xd = DeconvolvedMixture.fit(x, n, init, np.eye(2))
>>> np.round(np.sort(xd.means_[:, 0]), 1).tolist()
[-1.0, 1.0]
>>> xd.predict_proba(np.array([[0.2, 0.2], [0.2, 0.2]]), np.array([2, 200])).max(1).round(2)
array([0.8, 1. ])
>>> np.diag(xd.between).round(2).tolist()                       # 0.3 ** 2: noise removed
[0.09, 0.09]
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from sklearn.mixture import GaussianMixture

from journeymine.exceptions import ConfigError

__all__ = ["DeconvolvedMixture", "measurement_noise"]

logger = logging.getLogger(__name__)

#: Fewest customers with both session halves, per dimension, to measure the noise.
MIN_PAIRS_PER_DIMENSION = 10
#: Smallest eigenvalue of ``B`` kept, relative to its largest.
_FLOOR = 1e-6


def measurement_noise(half_a: np.ndarray, half_b: np.ndarray, n_events: np.ndarray) -> np.ndarray:
    """The noise covariance ``S`` of one event in the view: each customer's view on one half of
    its sessions (``half_a``) minus that on the other (``half_b``), whose covariance is
    ``4 S / n`` for a customer seen on ``n`` events in all (each half a mean over ``n / 2``).

    Parameters
    ----------
    half_a, half_b : ndarray of shape (n_customers, d)
        The customers' views on the two halves of their sessions.
    n_events : ndarray of shape (n_customers,)
        Each customer's events in the whole log.

    Returns
    -------
    ndarray of shape (d, d)

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> n = rng.integers(4, 100, 20_000)
    >>> z = rng.normal(size=(20_000, 1))                         # behaviour, same in both
    >>> a = z + rng.normal(0, 3, z.shape) / np.sqrt(n / 2)[:, None]
    >>> b = z + rng.normal(0, 3, z.shape) / np.sqrt(n / 2)[:, None]
    >>> round(float(measurement_noise(a, b, n)[0, 0]), 1)       # S = 3 ** 2
    9.0
    """
    a, b = np.asarray(half_a, dtype=np.float64), np.asarray(half_b, dtype=np.float64)
    n = np.asarray(n_events, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2 or len(n) != len(a) or len(a) == 0:
        raise ConfigError(
            f"measurement_noise needs two (customers x d) views of the same shape and one event "
            f"count per customer; got {a.shape}, {b.shape} and {n.shape}."
        )
    diff = a - b
    return (diff * n[:, None]).T @ diff / (4.0 * len(diff))


@dataclass(frozen=True)
class DeconvolvedMixture:
    """A Gaussian mixture with one shared covariance ``B`` in which a customer seen on ``n``
    events has covariance ``B + S / n`` (see the module docstring). Every array is in the
    whitened coordinates ``whiten @ x``, where the noise of one event ``S`` is the identity.

    Build it with :meth:`fit`.

    Attributes
    ----------
    whiten : ndarray (d, d)
        Maps a view ``x`` to the coordinates where ``S`` is the identity.
    means : ndarray (k, d)
        Persona means, whitened.
    weights : ndarray (k,)
        Persona shares.
    between : ndarray (d, d)
        ``B`` whitened: how the behaviour of a persona's customers varies, noise removed.
    n_iter : int
        EM iterations run.
    converged : bool
        Whether the mean log-likelihood changed by less than ``tol`` at the end.
    """

    whiten: np.ndarray
    means: np.ndarray
    weights: np.ndarray
    between: np.ndarray
    n_iter: int = 0
    converged: bool = True

    @classmethod
    def fit(
        cls,
        X: np.ndarray,
        n_events: np.ndarray,
        init: GaussianMixture,
        noise: np.ndarray,
        sample_weight: np.ndarray | None = None,
        *,
        tol: float = 1e-3,
        max_iter: int = 100,
    ) -> DeconvolvedMixture:
        """Extreme deconvolution of the views ``X`` of customers seen on ``n_events`` events,
        with the noise ``noise`` (``S``) of one event, started from the tied mixture ``init``.

        ``init`` was fitted with each customer weighing ``sample_weight`` (all 1 when
        ``None``), so its covariance holds the noise of the mean customer under those weights:
        ``B`` starts at that covariance minus that noise. EM stops when the mean
        log-likelihood per customer gains less than ``tol`` (as scikit-learn's mixtures), or
        after ``max_iter`` steps.
        """
        X = np.asarray(X, dtype=np.float64)
        n = np.maximum(np.asarray(n_events, dtype=np.float64), 1.0)
        if getattr(init, "covariance_type", None) != "tied":
            raise ConfigError("DeconvolvedMixture.fit starts from a fitted tied GaussianMixture.")
        d = X.shape[1] if X.ndim == 2 else -1
        noise = np.asarray(noise, dtype=np.float64)
        w = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, float)
        if d != init.means_.shape[1] or n.shape != (len(X),) or w.shape != (len(X),):
            raise ConfigError(
                f"DeconvolvedMixture.fit needs (customers x {init.means_.shape[1]}) views with "
                f"one event count (and weight) per customer; got {X.shape}, {n.shape}, "
                f"{w.shape}."
            )
        if noise.shape != (d, d) or not np.allclose(noise, noise.T):
            raise ConfigError(f"noise must be a symmetric {d} x {d} covariance, got {noise.shape}.")
        ridge = 1e-9 * max(float(np.trace(noise)) / d, 1e-12) * np.eye(d)
        try:
            whiten = np.linalg.inv(np.linalg.cholesky(noise + ridge))
        except np.linalg.LinAlgError as exc:
            raise ConfigError("noise must be a positive definite covariance.") from exc
        noise_share = float((w / n).sum() / w.sum())
        B = whiten @ init.covariances_ @ whiten.T - noise_share * np.eye(d)
        D, V = np.linalg.eigh(B)
        B = (V * np.maximum(D, 1e-3 * D.max())) @ V.T
        Y = X @ whiten.T
        means, weights = init.means_ @ whiten.T, np.asarray(init.weights_, dtype=np.float64)
        prev, converged, it = -np.inf, False, 0
        while it < max_iter:
            it += 1
            D, V = _basis(B)
            U, A = Y @ V, means @ V
            var = D[None, :] + 1.0 / n[:, None]
            loglik, resp = _e_step(U, A, var, weights)
            if loglik - prev < tol:
                converged = True
                break
            prev = loglik
            means, weights, B = _m_step(U, A, var, D, V, resp)
        logger.info(
            "persona fit: each customer's measurement noise modelled (extreme deconvolution, "
            "%d EM steps%s)",
            it,
            "" if converged else ", not converged",
        )
        return cls(whiten, means, weights, B, it, converged)

    @property
    def means_(self) -> np.ndarray:
        """Persona means in the view's own coordinates."""
        return np.linalg.solve(self.whiten, self.means.T).T

    @property
    def weights_(self) -> np.ndarray:
        """Persona shares (as a scikit-learn mixture's ``weights_``)."""
        return self.weights

    def predict_proba(self, X: np.ndarray, n_events: np.ndarray) -> np.ndarray:
        """Each persona's probability for views ``X`` of customers seen on ``n_events``."""
        U, A, var = self._coordinates(X, n_events)
        return _e_step(U, A, var, self.weights)[1]

    def predict(self, X: np.ndarray, n_events: np.ndarray) -> np.ndarray:
        """The most probable persona (component index) of each customer."""
        return self.predict_proba(X, n_events).argmax(1)

    def distances(
        self, X: np.ndarray, n_events: np.ndarray, comp: np.ndarray | None = None
    ) -> np.ndarray:
        """Squared Mahalanobis distance of each customer to its persona ``comp`` (default: the
        most probable) under its own covariance ``B + S / n``: chi-square with ``d`` degrees of
        freedom under the model, whatever ``n``."""
        U, A, var = self._coordinates(X, n_events)
        if comp is None:
            comp = _e_step(U, A, var, self.weights)[1].argmax(1)
        return np.asarray(((U - A[np.asarray(comp)]) ** 2 / var).sum(1))

    def _coordinates(
        self, X: np.ndarray, n_events: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        X = np.asarray(X, dtype=np.float64)
        n = np.maximum(np.asarray(n_events, dtype=np.float64), 1.0)
        if X.ndim != 2 or X.shape[1] != self.whiten.shape[0] or len(n) != len(X):
            raise ConfigError(
                f"DeconvolvedMixture needs (customers x {self.whiten.shape[0]}) views and one "
                f"event count per customer; got {X.shape} and {n.shape}."
            )
        D, V = _basis(self.between)
        return X @ self.whiten.T @ V, self.means @ V, D[None, :] + 1.0 / n[:, None]


def _basis(B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    D, V = np.linalg.eigh(B)
    return np.maximum(D, _FLOOR * max(float(D.max()), 1e-12)), V


def _e_step(
    U: np.ndarray, A: np.ndarray, var: np.ndarray, weights: np.ndarray
) -> tuple[float, np.ndarray]:
    """Mean log-likelihood and responsibilities, in the basis where every covariance is the
    diagonal ``var`` (one row per customer)."""
    ll = np.empty((len(U), len(A)))
    for k in range(len(A)):
        ll[:, k] = -0.5 * (((U - A[k]) ** 2) / var).sum(1)
    ll += np.log(np.maximum(weights, 1e-300)) - 0.5 * np.log(2 * np.pi * var).sum(1)[:, None]
    top = ll.max(1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(ll - top).sum(1))
    return float(lse.mean()), np.exp(ll - lse[:, None])


def _m_step(
    U: np.ndarray, A: np.ndarray, var: np.ndarray, D: np.ndarray, V: np.ndarray, resp: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """New means, shares and ``B`` (whitened, back in the whitened basis) from the expected
    behaviour of each customer under each persona, ``a_k + D / var * (u - a_k)``, and its
    conditional variance ``D / (n D + 1)``."""
    shrink = D[None, :] / var
    nk = np.maximum(resp.sum(0), 1e-12)
    B = np.diag((D[None, :] * (var - D[None, :]) / var).sum(0))  # D / (n D + 1), summed
    new_a = np.empty_like(A)
    for k in range(len(A)):
        bk = A[k] + shrink * (U - A[k])
        new_a[k] = resp[:, k] @ bk / nk[k]
        r = bk - new_a[k]
        B += (resp[:, k : k + 1] * r).T @ r
    B /= len(U)
    return new_a @ V.T, nk / len(U), V @ B @ V.T
