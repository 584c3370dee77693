"""An interpolated count model of the next activity (one job: n-gram probabilities).

The next activity after the last ``k`` activities, counted on the training prefixes for every
``k`` up to :data:`MAX_ORDER`, with each order smoothed towards the next shorter one (a
Dirichlet prior of strength 1 centred on the shorter order's distribution; order 0 is the
class frequency, add-one smoothed):

``p_k = (counts of the last k activities + p_{k-1}) / (their total + 1)``

so a context seen often speaks for itself and a rare or unseen one falls back to shorter ones.
This is the back-off count model that the literature finds close to LSTMs on process logs;
:class:`~journeymine.NextStepModel` blends it with the boosted trees, the weight learnt on
held-out cases, because exact long contexts are what trees fitted on few cases (or on a log
whose next step is a function of the activities alone) reconstruct worst.

The contexts are read from the ``lag{j}_activity`` prefix features (codes, NaN before the case
start), so the model needs nothing but the feature matrix. A context is stored as one integer
(base ``n_codes``), the keys of each order sorted, and looked up with ``searchsorted``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "MAX_ORDER",
    "PRIOR_ROWS",
    "WEIGHT_BUCKETS",
    "NGram",
    "blend",
    "blend_by_bucket",
    "context_bucket",
    "fit_weight",
    "fit_weights",
]

#: Longest context counted (the last 5 activities, as the back-off baseline of the evaluation).
MAX_ORDER = 5
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


def _keys(lags: np.ndarray, k: int, n_codes: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows with at least ``k`` activities, their context of the last ``k`` as one int64)."""
    ok = ~np.isnan(lags[:, :k]).any(axis=1)  # lag k known implies lags 1..k-1 are
    codes = lags[ok, :k].astype(np.int64)
    key = np.zeros(int(ok.sum()), dtype=np.int64)
    for j in range(k):
        key = key * n_codes + codes[:, j]
    return np.flatnonzero(ok), key


@dataclass
class NGram:
    """Interpolated next-activity counts over the last 1..``order`` activities."""

    n_classes: int
    n_codes: int  # activity codes in the contexts (the vocabulary plus "other")
    prior: np.ndarray  # (n_classes,) add-one smoothed class frequencies
    keys: list[np.ndarray]  # per order k = 1..order: sorted context keys (int64)
    counts: list[np.ndarray]  # per order: (len(keys), n_classes) float64

    @property
    def order(self) -> int:
        return len(self.keys)

    @classmethod
    def fit(
        cls, lags: np.ndarray, y: np.ndarray, *, n_classes: int, n_codes: int, order: int
    ) -> NGram:
        """Count ``y`` (class codes) after each context of ``lags`` (the ``lag1..lagK`` activity
        code columns of the training prefixes, most recent first)."""
        order = int(min(order, lags.shape[1], MAX_ORDER))
        if n_codes**order >= 2**62:
            raise ValueError(f"{n_codes} activity codes: contexts of {order} do not fit int64")
        y = np.asarray(y, dtype=np.int64)
        prior = (np.bincount(y, minlength=n_classes)[:n_classes] + 1.0) / (len(y) + n_classes)
        keys, counts = [], []
        for k in range(1, order + 1):
            rows, key = _keys(lags, k, n_codes)
            uniq, inv = np.unique(key, return_inverse=True)
            c = np.bincount(inv * n_classes + y[rows], minlength=len(uniq) * n_classes)
            keys.append(uniq)
            counts.append(c.reshape(len(uniq), n_classes).astype(np.float64))
        return cls(n_classes, int(n_codes), prior, keys, counts)

    def proba(self, lags: np.ndarray) -> np.ndarray:
        """(rows, n_classes) probabilities for the contexts of ``lags`` (rows sum to 1)."""
        p = np.tile(self.prior, (len(lags), 1))
        for k, (keys, counts) in enumerate(zip(self.keys, self.counts, strict=True), start=1):
            if not len(keys):
                continue
            rows, key = _keys(lags, k, self.n_codes)
            at = np.minimum(np.searchsorted(keys, key), len(keys) - 1)
            seen = keys[at] == key
            rows, at = rows[seen], at[seen]
            c = counts[at]
            p[rows] = (c + p[rows]) / (c.sum(axis=1, keepdims=True) + 1.0)
        return p

    def to_state(self) -> dict[str, Any]:
        return {
            "n_classes": self.n_classes,
            "n_codes": self.n_codes,
            "prior": self.prior,
            "keys": list(self.keys),
            "counts": list(self.counts),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> NGram:
        n_classes, n_codes = int(state["n_classes"]), int(state["n_codes"])
        keys = [np.ascontiguousarray(k, dtype=np.int64) for k in state["keys"]]
        counts = [np.ascontiguousarray(c, dtype=np.float64) for c in state["counts"]]
        prior = np.asarray(state["prior"], dtype=np.float64)
        problems = []
        if len(keys) != len(counts) or len(keys) > MAX_ORDER:
            problems.append("orders of keys and counts differ")
        if prior.shape != (n_classes,):
            problems.append("prior of the wrong length")
        for k, c in zip(keys, counts, strict=False):
            if c.shape != (len(k), n_classes):
                problems.append("counts of the wrong shape")
            if len(k) > 1 and not (np.diff(k) > 0).all():
                problems.append("keys not sorted")
        if problems:
            raise ValueError("n-gram state: " + "; ".join(sorted(set(problems))))
        return cls(n_classes, n_codes, prior, keys, counts)


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
