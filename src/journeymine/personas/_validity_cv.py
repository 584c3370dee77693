"""Cross-validated AUC for :func:`~journeymine.personas.persona_validity`: logistic regressions
on held-out folds, the persona columns' weight chosen in an inner cross-validation, the fold
mean AUC and percentile intervals."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

# -- scoring ------------------------------------------------------------------------------------
#: Weights tried for the persona columns next to the baseline (0 = the baseline alone). Scaling
#: a block of columns down strengthens the L2 penalty on it alone, so personas that carry
#: nothing beyond the baseline are shrunk to nothing instead of adding noise to it.
PERSONA_WEIGHTS: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.5, 1.0)
_INNER_FOLDS = 3


def _standardize(Xtr: np.ndarray, Xte: np.ndarray, scale: np.ndarray) -> None:
    """Standardize the ``scale`` columns of both, in place, with the training moments."""
    if not scale.any():
        return
    mu = Xtr[:, scale].mean(0)
    sd = Xtr[:, scale].std(0)
    sd[sd < 1e-12] = 1.0
    Xtr[:, scale] = (Xtr[:, scale] - mu) / sd
    Xte[:, scale] = (Xte[:, scale] - mu) / sd


def _persona_weight(X: np.ndarray, y: np.ndarray, block: np.ndarray, random_state: int) -> float:
    """The weight of the persona columns chosen by inner cross-validation with a
    one-standard-error rule: the smallest weight whose mean log loss exceeds the best one's by
    less than one standard error of the difference (paired over the customers), so personas
    that do not clearly help get a weight of 0."""
    from sklearn.model_selection import StratifiedKFold

    inner = StratifiedKFold(n_splits=_INNER_FOLDS, shuffle=True, random_state=random_state)
    losses = np.zeros((len(PERSONA_WEIGHTS), len(y)))  # per customer, held out
    eps = 1e-12
    for train, test in inner.split(X, y):
        for k, w in enumerate(PERSONA_WEIGHTS):
            Xw = X.copy()
            Xw[:, block] *= w
            q = np.clip(_logit(Xw[train], y[train]).predict_proba(Xw[test])[:, 1], eps, 1 - eps)
            losses[k, test] = -np.where(y[test], np.log(q), np.log1p(-q))
    mean = losses.mean(1)
    best = int(np.argmin(mean))
    # standard error of each weight's mean loss minus the best one's, customer by customer
    se = (losses - losses[best]).std(1, ddof=1) / np.sqrt(len(y))
    return PERSONA_WEIGHTS[int(np.flatnonzero(mean <= mean[best] + se)[0])]


def _logit(X: np.ndarray, y: np.ndarray) -> Any:
    """L2 logistic regression (C=1, unpenalized intercept)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(solver="newton-cholesky", max_iter=200).fit(X, y)


def out_of_fold_scores(
    X: np.ndarray,
    y: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
    scale: np.ndarray,
    block: np.ndarray | None = None,
    random_state: int = 0,
) -> tuple[np.ndarray, list[float]]:
    """Out-of-fold probabilities of a logistic regression (L2, C=1) and the persona weight of
    each fold. Columns in ``scale`` are standardized on each training fold; the columns in
    ``block`` (personas next to the baseline) get the weight chosen by :func:`_persona_weight`
    on the training fold."""

    p = np.empty(len(y), dtype=np.float64)
    weights: list[float] = []
    for train, test in folds:
        Xtr, Xte = X[train].copy(), X[test].copy()
        _standardize(Xtr, Xte, scale)
        if block is not None and block.any():
            w = _persona_weight(Xtr, y[train], block, random_state)
            Xtr[:, block] *= w
            Xte[:, block] *= w
            weights.append(w)
        p[test] = _logit(Xtr, y[train]).predict_proba(Xte)[:, 1]
    return p, weights


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties counted half); NaN with one class."""
    from scipy.stats import rankdata

    n1 = int(y.sum())
    n0 = len(y) - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(s)
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def fold_mean_auc(y: np.ndarray, s: np.ndarray, parts: Sequence[np.ndarray]) -> float:
    """Mean of the AUCs within each fold (folds with one class are skipped).

    Pooling the out-of-fold predictions of all folds into one AUC is biased downwards for
    labels without signal (each fold's scores are learned from the other folds, whose
    outcomes are what the fold's own are not), so random personas would score below 0.5. Within
    one fold, training and held-out customers are independent and the AUC is not biased.
    """
    aucs = [_auc(y[i], s[i]) for i in parts]
    finite = [a for a in aucs if np.isfinite(a)]
    return float(np.mean(finite)) if finite else float("nan")


def percentile_interval(values: np.ndarray) -> tuple[float, float]:
    v = values[np.isfinite(values)]
    if len(v) == 0:
        return float("nan"), float("nan")
    lo, hi = np.percentile(v, [2.5, 97.5])
    return float(lo), float(hi)
