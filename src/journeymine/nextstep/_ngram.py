"""An interpolated count model of the next activity (one job: n-gram probabilities).

The next activity after the last ``k`` activities, counted on the training prefixes for every
``k`` up to :data:`MAX_ORDER`, with each order smoothed towards the next shorter one (a
Dirichlet prior of strength 1 centred on the shorter order's distribution; order 0 is the
class frequency, add-one smoothed):

``p_k = (counts of the last k activities + p_{k-1}) / (their total + 1)``

so a context seen often speaks for itself and a rare or unseen one falls back to shorter ones.
This is the back-off count model that the literature finds close to LSTMs on process logs;
:class:`~journeymine.NextStepModel` blends it with the boosted trees
(:mod:`journeymine.nextstep._blend`).

The contexts are read from the ``lag{j}_activity`` prefix features (codes, NaN before the case
start), so the model needs nothing but the feature matrix. A context is stored as one integer
(base ``n_codes``), the keys of each order sorted, and looked up with ``searchsorted``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["MAX_ORDER", "NGram"]

#: Longest context counted (the last 5 activities, as the back-off baseline of the evaluation).
MAX_ORDER = 5


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
        return self._walk(lags, every=False)[-1]

    def proba_by_order(self, lags: np.ndarray) -> list[np.ndarray]:
        """The probabilities of :meth:`proba` with contexts of at most 1, 2, ..., ``order``
        activities (what the model fitted with that ``order`` gives), in that order."""
        return self._walk(lags, every=True)

    def _walk(self, lags: np.ndarray, *, every: bool) -> list[np.ndarray]:
        p = np.tile(self.prior, (len(lags), 1))
        out = []
        for k, (keys, counts) in enumerate(zip(self.keys, self.counts, strict=True), start=1):
            if not len(keys):
                if every:
                    out.append(p.copy())
                continue
            rows, key = _keys(lags, k, self.n_codes)
            at = np.minimum(np.searchsorted(keys, key), len(keys) - 1)
            seen = keys[at] == key
            rows, at = rows[seen], at[seen]
            c = counts[at]
            p[rows] = (c + p[rows]) / (c.sum(axis=1, keepdims=True) + 1.0)
            if every:
                out.append(p.copy())
        return out if every and out else [p]

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
