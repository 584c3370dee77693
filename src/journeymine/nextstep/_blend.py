"""The blend of the boosted trees with the count model (one job: how much each is trusted).

The next-activity probabilities are ``w * trees + (1 - w) * counts`` (:func:`blend`), with one
weight per context length (:data:`WEIGHT_BUCKETS`: the first events are where an attribute may
decide what follows, long contexts where exact counts are best), learnt on held-out cases by
log loss (:func:`fit_weights`), each bucket shrunk to the global weight. The held-out evidence
is widened by case-level cross-fitting of the trees
(:func:`~journeymine.nextstep._train.cross_fitted_evidence`): on a few hundred held-out cases
(the cases that also chose the trees' rounds and temperature) the choice leaned to the trees
where they were no better than the counts.

Everything is chosen on the training log alone (:func:`fit_count_blend`), so that the model
cannot do worse than the count model it contains beyond noise, on any log: the count model's
order by case-level cross-fitting (order 1 is the first-order Markov model), and the counts
alone wherever the blend was less accurate than them on held-out cases, or when too few
prefixes were held out to tell.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from journeymine.nextstep._ngram import MAX_ORDER, NGram

logger = logging.getLogger("journeymine.nextstep")

__all__ = [
    "INNER_FOLDS",
    "MIN_HELD_OUT",
    "PRIOR_ROWS",
    "WEIGHT_BUCKETS",
    "CountBlend",
    "blend",
    "blend_by_bucket",
    "choose_order",
    "context_bucket",
    "fit_count_blend",
    "fit_weight",
    "fit_weights",
    "out_of_fold_counts",
]

#: The blend weight is learnt per context length: the first value of each bucket (known
#: activities of the prefix, at most ``n_lags``): 1, 2, 3-4, 5 and more. Short contexts are
#: where attributes matter most next to the counts, long ones where exact counts are best.
WEIGHT_BUCKETS: tuple[int, ...] = (1, 2, 3, 5)
#: Shrinkage of a bucket's weight to the global one: the global held-out loss enters a bucket's
#: loss as this many pseudo-rows, so a bucket with few held-out prefixes keeps the global
#: weight and one with many times more goes by its own.
PRIOR_ROWS = 100
_BUCKET_NAMES = ("1", "2", "3-4", "5 or more")
#: Below this many held-out prefixes, ``tree_weight="auto"`` uses the count model alone; below
#: this many training prefixes, the count model is the first-order Markov model.
MIN_HELD_OUT = 100
#: Case-level folds of the count model's cross-fitting (choosing its order).
INNER_FOLDS = 5
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


def _accuracy(p: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(p.argmax(axis=1) == y)) if len(y) else 0.0


def _log_loss(p: np.ndarray, y: np.ndarray) -> float:
    rows = np.arange(len(y))
    return float(-np.mean(np.log(np.clip(p[rows, y], 1e-12, 1.0)))) if len(y) else 0.0


def out_of_fold_counts(
    lags: np.ndarray,
    y: np.ndarray,
    case_of_row: np.ndarray,
    *,
    n_classes: int,
    n_codes: int,
    order: int,
    n_folds: int = INNER_FOLDS,
    random_state: int = 0,
) -> list[np.ndarray]:
    """Each row's count-model probabilities from a model counted without the row's case
    (case-level ``n_folds``-fold cross-fitting), for every order 1..``order`` (one array each).
    """
    cases = np.unique(case_of_row)
    k = int(min(n_folds, len(cases)))
    fold_of_case = np.empty(int(cases.max()) + 1, dtype=np.int64)
    fold_of_case[cases] = np.random.default_rng(random_state).permutation(len(cases)) % k
    fold = fold_of_case[case_of_row]
    order = int(min(order, lags.shape[1], MAX_ORDER))
    out = [np.empty((len(y), n_classes)) for _ in range(order)]
    for f in range(k):
        test = fold == f
        ng = NGram.fit(lags[~test], y[~test], n_classes=n_classes, n_codes=n_codes, order=order)
        for j, p in enumerate(ng.proba_by_order(lags[test])):
            out[j][test] = p
    return out


def choose_order(p_by_order: list[np.ndarray], y: np.ndarray) -> int:
    """The order (1-based) of the count model: the shortest context whose out-of-fold accuracy
    is within one standard error of the best order's (the paired difference over the rows;
    Breiman's one-standard-error rule), so that a longer context must be better beyond noise.
    """
    hits = [(p.argmax(axis=1) == y).astype(np.float64) for p in p_by_order]
    if not len(y):
        return 1
    best = int(np.argmax([h.mean() for h in hits]))
    for k, h in enumerate(hits):
        d = hits[best] - h
        se = float(d.std(ddof=1)) / np.sqrt(len(d)) if len(d) > 1 else 0.0
        if d.mean() <= se:
            return k + 1
    return best + 1


def guarded_weights(
    p_trees: np.ndarray, p_counts: np.ndarray, y: np.ndarray, buckets: np.ndarray
) -> tuple[float, list[float]]:
    """:func:`fit_weights` (log loss), then weight 0 (the counts alone) in every bucket where
    the blend gets fewer held-out rows right than the counts alone: on these rows the blend is
    never less accurate than the counts, in any bucket.

    Returns
    -------
    (float, list of float)
        The global weight (0 when every bucket is 0) and one weight per bucket.
    """
    weight, weights = fit_weights(p_trees, p_counts, y, buckets)
    hits_counts = p_counts.argmax(axis=1) == y
    hits_blend = blend_by_bucket(p_trees, p_counts, weights, buckets).argmax(axis=1) == y
    worse = [
        b
        for b in range(len(weights))
        if hits_blend[buckets == b].sum() < hits_counts[buckets == b].sum()
    ]
    for b in worse:
        weights[b] = 0.0
    if worse:
        logger.info(
            "NextStepModel: the count model alone after %s known activities (the blend was "
            "less accurate there on held-out cases)",
            ", ".join(_BUCKET_NAMES[b] for b in worse),
        )
    return (0.0 if max(weights) == 0.0 else weight), weights


def fit_count_blend(
    lags: np.ndarray,
    y: np.ndarray,
    case_of_row: np.ndarray,
    held_out: tuple[np.ndarray, np.ndarray] | None,
    *,
    tree_weight: float | str,
    n_classes: int,
    n_codes: int,
    order: int,
    validate: bool = True,
    random_state: int = 0,
) -> CountBlend:
    """The count model of the next activity and the trees' weight against it, both chosen on
    the training cases alone.

    1. **The count model's order** (contexts of at most 1..``order`` activities; order 1 is the
       first-order Markov model that never predicts the end, unless ``END`` is a class): the
       shortest one within noise of the best accuracy when each training case is predicted by
       counts without it (:func:`out_of_fold_counts`, :func:`choose_order`); order 1 with
       fewer than :data:`MIN_HELD_OUT` training prefixes.
    2. **The weights** (``tree_weight="auto"``): per context-length bucket by log loss on the
       held-out prefixes, then, bucket by bucket, the counts alone (weight 0) wherever the
       blend's held-out accuracy is below the counts' (:func:`guarded_weights`): on those
       prefixes the model is never worse than the count model it contains, but for noise.
       Without enough held-out prefixes (:data:`MIN_HELD_OUT`) to tell, the counts alone.
       A number fixes every weight; ``validate=False`` (``validation_size=0``: nothing held
       out by choice) gives the trees and the counts equal weights.

    Parameters
    ----------
    lags : ndarray of shape (rows, n_lags)
        The ``lag1..lagK`` activity codes of every training prefix of the activity head.
    y : ndarray of shape (rows,)
        Their next activity (class code).
    case_of_row : ndarray of shape (rows,)
        The case of each row (integer codes).
    held_out : (mask, probabilities) or None
        The trees' calibrated probabilities on the held-out rows ``mask`` (cases the trees
        did not learn from: the held-out cases and the cross-fitted groups of
        :func:`~journeymine.nextstep._train.cross_fitted_evidence`); None when nothing was
        held out.
    tree_weight : "auto" or float
        The estimator's parameter.
    n_classes, n_codes, order : int
        Classes, activity codes in the contexts, longest context.
    validate : bool
        False when the estimator holds no case out (``validation_size=0``).
    random_state : int
        The inner folds.

    Returns
    -------
    CountBlend
    """
    metrics: dict[str, Any] = {}
    p_by_order = out_of_fold_counts(
        lags,
        y,
        case_of_row,
        n_classes=n_classes,
        n_codes=n_codes,
        order=order,
        random_state=random_state,
    )
    # too few prefixes to tell a longer context from noise: the first-order Markov model
    chosen = choose_order(p_by_order, y) if len(y) >= MIN_HELD_OUT else 1
    metrics["count_order"] = chosen
    metrics["count_out_of_fold_accuracy_by_order"] = [round(_accuracy(p, y), 6) for p in p_by_order]
    p_oof = p_by_order[chosen - 1]
    if not isinstance(tree_weight, str) or not validate:
        # a fixed weight; or "auto" with validation_size=0: nothing says which is better
        weight = float(tree_weight) if not isinstance(tree_weight, str) else 0.5
        weights = [weight] * len(WEIGHT_BUCKETS)
    elif held_out is None or int(held_out[0].sum()) < MIN_HELD_OUT:
        n = 0 if held_out is None else int(held_out[0].sum())
        logger.info(
            "NextStepModel: %d held-out prefixes (fewer than %d) cannot tell the trees from the "
            "count model; the next activity is the count model's (fit on more cases to use "
            "time and attributes)",
            n,
            MIN_HELD_OUT,
        )
        weight, weights = 0.0, [0.0] * len(WEIGHT_BUCKETS)
        metrics["activity_counts_only"] = f"{n} held-out prefixes"
    else:
        val_ok, p_trees = held_out
        p_counts, yv = p_oof[val_ok], y[val_ok]
        buckets = context_bucket(lags[val_ok])
        weight, weights = guarded_weights(p_trees, p_counts, yv, buckets)
        metrics["activity_validation_prefixes_by_bucket"] = np.bincount(
            buckets, minlength=len(WEIGHT_BUCKETS)
        ).tolist()
        metrics["activity_validation_accuracy_counts"] = _accuracy(p_counts, yv)
        metrics["activity_validation_accuracy_blend"] = _accuracy(
            blend_by_bucket(p_trees, p_counts, weights, buckets), yv
        )
    ngram = None
    if min(weights) < 1.0:  # counted on every training prefix, held-out cases included
        ngram = NGram.fit(lags, y, n_classes=n_classes, n_codes=n_codes, order=chosen)
    return CountBlend(ngram, float(weight), [float(w) for w in weights], metrics)
