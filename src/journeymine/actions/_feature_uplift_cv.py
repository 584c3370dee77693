"""How :class:`~journeymine.actions.FeatureUplift` chooses ``C`` and ``blend`` on the log
itself: :func:`cross_validate`.

The log's touches and holdouts (:class:`Points`, in the canonical order of
:func:`~journeymine.actions.uplift_points.uplift_points`) are split into folds over customers
(every point of a customer in one fold; 5 folds, ``N_FOLDS`` of
:mod:`journeymine.actions.feature_uplift`, seeded by ``random_state`` and dealt over the sorted
customer ids, so that the folds do not depend on the log's row order). Each point is predicted
without its fold (:func:`out_of_fold`): by the persona cells fitted on the other folds, and by
the per-journey logistic regression fitted on them for every ``C`` of the grid (strongest
penalty first, each fit warm-started from the last).

The criterion is the log-loss of the held-out points' outcomes (touched and held out alike)
under the blended outcome rate ``blend`` x the feature model's rate + ``(1 - blend)`` x the cells'
rate for the arm the point was in. ``C`` is the penalty of least loss (at blend 1 when the blend
is chosen too, else at the given blend); the blend is the *smallest* of the grid whose loss at
that ``C`` is within one standard error (paired, over customers) of the least: the
one-standard-error rule, which keeps the cells unless the features lower the loss beyond noise.

The points, the logistic regressions' inputs (:func:`interact`) and their uplift
(:func:`predicted_uplift`) are shared with ``FeatureUplift.fit`` and
``FeatureUplift.feature_rates``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from journeymine.actions.policy import Policy
from journeymine.actions.uplift import UpliftModel

__all__ = [
    "SOLVER",
    "Points",
    "contrast",
    "cross_validate",
    "interact",
    "out_of_fold",
    "predicted_uplift",
]

#: The logistic regressions' solver: exact Newton steps, fast for a few dozen inputs.
SOLVER = "newton-cholesky"


class Points(NamedTuple):
    """The log's touches and holdouts: customer, journey index, treated (1.0) or held out
    (0.0), outcome, and the design row ``x``."""

    cust: np.ndarray
    j: np.ndarray
    t: np.ndarray
    y: np.ndarray
    A: np.ndarray


def contrast(pts: Points, s: np.ndarray) -> bool:
    """Whether the points ``s`` hold both arms and both outcomes (else nothing to fit)."""
    return len(np.unique(pts.t[s])) == 2 and len(np.unique(pts.y[s])) == 2


def interact(A: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The logistic regressions' inputs: ``[x, treated, x * treated]``."""
    t = t[:, None]
    return np.hstack([A, t, A * t])


def predicted_uplift(clf: LogisticRegression, A: np.ndarray) -> np.ndarray:
    """The outcome rate with the touch minus without it, per row of ``A``."""
    one, zero = np.ones(len(A)), np.zeros(len(A))
    return clf.predict_proba(interact(A, one))[:, 1] - clf.predict_proba(interact(A, zero))[:, 1]


def cross_validate(
    pts: Points,
    memberships: pd.DataFrame,
    policy: Policy,
    *,
    base: UpliftModel | None,
    Cs: tuple[float, ...],
    blends: tuple[float, ...],
    auto_blend: bool,
    n_folds: int,
    random_state: int,
    max_iter: int,
) -> tuple[float, float, pd.DataFrame]:
    """The ``C`` (least out-of-fold loss at blend 1 when ``auto_blend``, else at the one blend
    given) and the blend (one-standard-error rule towards 0) chosen from ``Cs`` x ``blends``,
    and the table of every pair tried (``FeatureUplift.cv_``)."""
    # folds over the sorted customer ids: the same customers, the same folds, in any row order
    codes, uniq = pd.factorize(pts.cust, sort=True)
    rng = np.random.default_rng(random_state)
    fold = (rng.permutation(len(uniq)) % n_folds)[codes]
    p_cell, p_feat, u_cell, u_feat = out_of_fold(
        pts, fold, memberships, policy, base=base, Cs=Cs, n_folds=n_folds, max_iter=max_iter
    )
    e = (np.bincount(pts.j, weights=pts.t) / np.maximum(np.bincount(pts.j), 1))[pts.j]
    e = np.clip(e, 1e-3, 1 - 1e-3)
    z = pts.y * (pts.t - e) / (e * (1 - e))  # the transformed outcome: E[z | x] = uplift

    def losses(b: float, c: int) -> np.ndarray:
        p = np.clip(b * p_feat[:, c] + (1 - b) * p_cell, 1e-6, 1 - 1e-6)
        return -np.where(pts.y, np.log(p), np.log1p(-p))

    at = 1.0 if auto_blend else blends[0]
    c_best = int(np.argmin([losses(at, c).mean() for c in range(len(Cs))]))
    per = {(c, b): losses(b, c) for c in range(len(Cs)) for b in blends}
    least = min((per[c_best, b] for b in blends), key=np.mean)
    best = float(least.mean())
    n_cust, rows, chosen = len(uniq), [], None
    for b in blends:  # the cells first: the smallest blend within one SE of the least loss
        d = np.bincount(codes, weights=per[c_best, b] - least, minlength=n_cust)
        excess = d.sum() / len(codes)
        se = np.sqrt(n_cust) * d.std(ddof=1) / len(codes) if n_cust > 1 else 0.0
        if chosen is None and excess <= se:
            chosen = b
        for c in range(len(Cs)):
            rows.append(
                {
                    "C": Cs[c],
                    "blend": b,
                    "log_loss": per[c, b].mean(),
                    "uplift_mse": np.mean((z - b * u_feat[:, c] - (1 - b) * u_cell) ** 2),
                    "excess": excess if c == c_best else per[c, b].mean() - best,
                    "se": se if c == c_best else np.nan,
                    "chosen": False,
                }
            )
    C_ = float(Cs[c_best])
    blend_ = float(blends[0] if chosen is None else chosen)
    cv = pd.DataFrame(rows)
    cv["chosen"] = (cv["C"] == C_) & (cv["blend"] == blend_)
    return C_, blend_, cv


def out_of_fold(
    pts: Points,
    fold: np.ndarray,
    memberships: pd.DataFrame,
    policy: Policy,
    *,
    base: UpliftModel | None,
    Cs: tuple[float, ...],
    n_folds: int,
    max_iter: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each point's outcome rate in its own arm, and its uplift, predicted without its
    fold: by the cells (``base``, default ``UpliftModel()``, fitted on the other folds'
    points) and by the feature model per C (the cells' where the other folds leave a journey
    nothing to contrast)."""
    p_cell, u_cell = np.empty(len(pts.j)), np.empty(len(pts.j))
    p_feat, u_feat = np.empty((len(pts.j), len(Cs))), np.empty((len(pts.j), len(Cs)))
    base = UpliftModel() if base is None else base
    for k in range(n_folds):
        tr, te = fold != k, fold == k
        if not te.any():
            continue
        cells = clone(base).fit(None, memberships, policy)
        cells.update(memberships.reindex(pts.cust[tr]), pts.j[tr], pts.t[tr] == 0, pts.y[tr])
        W = memberships.reindex(pts.cust[te]).fillna(0.0)
        rate_t = cells.response_rates(W)
        rate_c = rate_t - cells.rates(W)
        at = (np.arange(te.sum()), pts.j[te])
        p_cell[te] = np.where(pts.t[te] == 1, rate_t[at], rate_c[at])
        u_cell[te] = (rate_t - rate_c)[at]
        p_feat[te], u_feat[te] = p_cell[te][:, None], u_cell[te][:, None]
        for jj in np.unique(pts.j[te]):
            s_tr, s_te = tr & (pts.j == jj), te & (pts.j == jj)
            if not contrast(pts, s_tr):
                continue
            D_tr, D_te = (
                interact(pts.A[s_tr], pts.t[s_tr]),
                interact(pts.A[s_te], pts.t[s_te]),
            )
            clf = LogisticRegression(solver=SOLVER, max_iter=max_iter, warm_start=True)
            for c, C in enumerate(Cs):  # strongest penalty first, each fit from the last
                clf.set_params(C=C).fit(D_tr, pts.y[s_tr])
                p_feat[s_te, c] = clf.predict_proba(D_te)[:, 1]
                u_feat[s_te, c] = predicted_uplift(clf, pts.A[s_te])
    return p_cell, p_feat, u_cell, u_feat
