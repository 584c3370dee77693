"""The blend of the boosted trees with the count model (one job: how much each is trusted).

The next-activity probabilities are ``w * trees + (1 - w) * counts`` (:func:`blend`), with one
weight per context length (:data:`WEIGHT_BUCKETS`: the first events are where an attribute may
decide what follows, long contexts where exact counts are best), learnt on held-out cases by
log loss (:func:`fit_weights`), each bucket shrunk to the global weight.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from journeymine.nextstep._ngram import NGram

__all__ = [
    "PRIOR_ROWS",
    "WEIGHT_BUCKETS",
    "CountBlend",
    "blend",
    "blend_by_bucket",
    "context_bucket",
    "fit_count_blend",
    "fit_weight",
    "fit_weights",
]

#: The blend weight is learnt per context length: the first value of each bucket (known
#: activities of the prefix, at most ``n_lags``): 1, 2, 3-4, 5 and more. Short contexts are
#: where attributes matter most next to the counts, long ones where exact counts are best.
WEIGHT_BUCKETS: tuple[int, ...] = (1, 2, 3, 5)
#: Shrinkage of a bucket's weight to the global one: the global held-out loss enters a bucket's
#: loss as this many pseudo-rows, so a bucket with few held-out prefixes keeps the global
#: weight and one with many times more goes by its own.
PRIOR_ROWS = 100
# the bucket of 0, 1, ..., WEIGHT_BUCKETS[-1] known activities (more: the last bucket)
_BUCKET_OF = (
    np.searchsorted(WEIGHT_BUCKETS, np.arange(WEIGHT_BUCKETS[-1] + 1), side="right").clip(1) - 1
)


def blend(p_trees: np.ndarray, p_counts: np.ndarray, weight: float) -> np.ndarray:
    """``weight * p_trees + (1 - weight) * p_counts`` (weight 1: the trees alone, unchanged)."""
    if weight >= 1.0:
        return p_trees
    return weight * p_trees + (1.0 - weight) * p_counts


def context_bucket(lags: np.ndarray) -> np.ndarray:
    """The :data:`WEIGHT_BUCKETS` index of each row of ``lags`` (the ``lag1..lagK`` activity
    code columns, NaN before the case start): by how many activities are known."""
    known = lags.shape[1] - np.isnan(lags).sum(axis=1)
    return _BUCKET_OF[np.minimum(known, len(_BUCKET_OF) - 1)]


def blend_by_bucket(
    p_trees: np.ndarray, p_counts: np.ndarray, weights: Any, buckets: np.ndarray
) -> np.ndarray:
    """:func:`blend` with the weight of each row's bucket (``weights[buckets]``)."""
    if min(weights) >= 1.0:
        return p_trees
    if len(buckets) == 1:  # one live customer: scalar arithmetic
        w = float(weights[int(buckets[0])])
        return w * p_trees + (1.0 - w) * p_counts
    wr = np.asarray(weights, dtype=np.float64)[buckets][:, None]
    return wr * p_trees + (1.0 - wr) * p_counts


def _losses(p_trees: np.ndarray, p_counts: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(21, rows) log loss of each held-out row for the weights 0, 0.05, ..., 1."""
    rows = np.arange(len(y))
    pt, pc = p_trees[rows, y], p_counts[rows, y]
    grid = np.arange(21)[:, None] / 20
    return -np.log(np.clip(grid * pt + (1.0 - grid) * pc, 1e-12, 1.0))


def _argmin_largest(loss: np.ndarray) -> float:
    """The largest grid weight whose loss is the smallest (within 1e-12)."""
    best = int(np.flatnonzero(loss <= loss.min() + 1e-12).max())
    return best / 20


def fit_weights(
    p_trees: np.ndarray,
    p_counts: np.ndarray,
    y: np.ndarray,
    buckets: np.ndarray,
    *,
    n_buckets: int = len(WEIGHT_BUCKETS),
    prior_rows: float = PRIOR_ROWS,
) -> tuple[float, list[float]]:
    """The global weight of :func:`fit_weight` and one weight per context-length bucket.

    Parameters
    ----------
    p_trees, p_counts : ndarray of shape (rows, n_classes)
        The trees' and the count model's probabilities on held-out prefixes.
    y : ndarray of shape (rows,)
        The true next activity (column index).
    buckets : ndarray of shape (rows,)
        Each row's bucket (:func:`context_bucket`).
    n_buckets : int
        Number of buckets.
    prior_rows : float
        Shrinkage: bucket ``b`` minimises ``sum of its rows' log loss + prior_rows * mean
        log loss of all rows``; a bucket without rows gets the global weight.

    Returns
    -------
    (float, list of float)
        The global weight and the weight of each bucket, in {0, 0.05, ..., 1} (the largest on
        ties).
    """
    loss = _losses(p_trees, p_counts, np.asarray(y, dtype=np.int64))
    mean = loss.mean(axis=1) if loss.shape[1] else np.zeros(21)
    weight = _argmin_largest(mean)
    weights = []
    for b in range(n_buckets):
        own = loss[:, buckets == b]
        weights.append(
            _argmin_largest(own.sum(axis=1) + prior_rows * mean) if own.shape[1] else weight
        )
    return weight, weights


def fit_weight(p_trees: np.ndarray, p_counts: np.ndarray, y: np.ndarray) -> float:
    """The weight in {0, 0.05, ..., 1} of the trees minimising the mean log loss of the blend
    on held-out rows (``y``: column indices); the largest such weight on ties."""
    rows = np.arange(len(y))
    best_w, best = 1.0, np.inf
    for step in range(20, -1, -1):
        w = step / 20
        p = blend(p_trees, p_counts, w)[rows, y]
        loss = float(-np.mean(np.log(np.clip(p, 1e-12, 1.0))))
        if loss < best - 1e-12:
            best_w, best = w, loss
    return best_w


@dataclass
class CountBlend:
    """The count model of the next activity and the trees' weight against it."""

    ngram: NGram | None  # None when the trees are used alone (every weight 1)
    weight: float  # the global weight
    weights: list[float]  # one per WEIGHT_BUCKETS bucket
    metrics: dict[str, Any] = field(default_factory=dict)


def fit_count_blend(
    lags: np.ndarray,
    y: np.ndarray,
    is_val_row: np.ndarray,
    held_out: tuple[np.ndarray, np.ndarray] | None,
    *,
    tree_weight: float | str,
    n_classes: int,
    n_codes: int,
    order: int,
) -> CountBlend:
    """The n-gram count model of the next activity and its weight against the trees.

    Parameters
    ----------
    lags : ndarray of shape (rows, n_lags)
        The ``lag1..lagK`` activity codes of every training prefix of the activity head.
    y : ndarray of shape (rows,)
        Their next activity (class code).
    is_val_row : ndarray of bool
        The rows of held-out cases.
    held_out : (mask, probabilities) or None
        The trees' calibrated probabilities on the held-out rows ``mask`` (a subset of
        ``is_val_row``); None when nothing was held out.
    tree_weight : "auto" or float
        The estimator's parameter.
    n_classes, n_codes, order : int
        Classes, activity codes in the contexts, longest context.

    Returns
    -------
    CountBlend
    """
    metrics: dict[str, Any] = {}
    # a fixed weight, or "auto" with too few cases to hold any out (or validation_size=0):
    # nothing says which is better, equal weights
    weight = 0.5 if isinstance(tree_weight, str) else float(tree_weight)
    weights = [weight] * len(WEIGHT_BUCKETS)
    if isinstance(tree_weight, str) and held_out is not None:  # "auto": learnt
        val_ok, p_trees = held_out
        train = ~is_val_row
        counts = NGram.fit(lags[train], y[train], n_classes=n_classes, n_codes=n_codes, order=order)
        p_counts = counts.proba(lags[val_ok])
        buckets = context_bucket(lags[val_ok])
        weight, weights = fit_weights(p_trees, p_counts, y[val_ok], buckets)
        metrics["activity_validation_prefixes_by_bucket"] = np.bincount(
            buckets, minlength=len(WEIGHT_BUCKETS)
        ).tolist()
        metrics["activity_validation_accuracy_counts"] = float(
            np.mean(p_counts.argmax(axis=1) == y[val_ok])
        )
        p_blend = blend_by_bucket(p_trees, p_counts, weights, buckets)
        metrics["activity_validation_accuracy_blend"] = float(
            np.mean(p_blend.argmax(axis=1) == y[val_ok])
        )
    ngram = None
    if min(weights) < 1.0:  # counted on every training prefix, held-out cases included
        ngram = NGram.fit(lags, y, n_classes=n_classes, n_codes=n_codes, order=order)
    return CountBlend(ngram, float(weight), [float(w) for w in weights], metrics)
