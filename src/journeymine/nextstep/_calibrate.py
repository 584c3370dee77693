"""Temperature scaling of class probabilities (one job: calibrate a fitted classifier).

One scalar ``T`` divides the log-probabilities before the softmax; it is fitted on held-out
cases by minimising the log loss. ``T > 1`` softens over-confident boosting, ``T < 1`` sharpens.
It never changes the arg max, so accuracy is untouched.
"""

from __future__ import annotations

import numpy as np

__all__ = ["apply_temperature", "fit_temperature"]

_EPS = 1e-12


def apply_temperature(proba: np.ndarray, temperature: float) -> np.ndarray:
    """Rows of ``proba`` rescaled by ``softmax(log(p) / T)``."""
    if temperature == 1.0:
        return proba
    z = np.log(np.clip(proba, _EPS, 1.0)) / temperature
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(proba: np.ndarray, y: np.ndarray) -> float:
    """The ``T`` in [0.05, 20] minimising the mean log loss of ``proba`` (rows) for labels
    ``y`` (column indices). 1.0 when there is nothing to fit on."""
    from scipy.optimize import minimize_scalar

    if len(y) < 20:
        return 1.0
    logp = np.log(np.clip(proba, _EPS, 1.0))

    def nll(log_t: float) -> float:
        z = logp / np.exp(log_t)
        z = z - z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z).sum(axis=1))
        return float(np.mean(lse - z[np.arange(len(y)), y]))

    res = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(res.x)) if res.success else 1.0
