"""Bucketed calibrated models: one calibrated logistic regression per bucket of events seen,
trained on folds grouped by customer (a customer's prefixes never straddle folds)."""

from __future__ import annotations

import logging
import warnings
from typing import Any, Literal

import numpy as np

from journeymine.exceptions import DataQualityWarning

__all__ = ["bucket_ok", "customer_folds", "fit_buckets", "fit_estimator"]

logger = logging.getLogger(__name__)


def bucket_ok(y: np.ndarray, groups: np.ndarray, cv: int) -> bool:
    """A bucket can be trained: two personas or more, each with >= ``cv`` customers."""
    if len(y) == 0:
        return False
    pairs = np.unique(np.column_stack([y, groups]), axis=0)
    _, per_class = np.unique(pairs[:, 0], return_counts=True)
    return len(per_class) >= 2 and bool((per_class >= int(cv)).all())


def fit_buckets(
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    n_events: np.ndarray,
    cuts: tuple[int, ...],
    *,
    C: float,
    cv: int,
    calibration: Literal["temperature", "isotonic", "sigmoid"],
    random_state: int,
) -> tuple[list[Any], tuple[int, ...]]:
    """One calibrated classifier per bucket of events seen (buckets bounded by ``cuts``);
    a bucket without enough customers per persona is merged with its neighbour.

    Parameters
    ----------
    X : ndarray, shape (n_rows, n_features)
        Features of the training rows.
    y : ndarray of int
        Persona of each row.
    groups : ndarray of int
        Customer of each row.
    n_events : ndarray of int
        Events seen of each row (its prefix length).
    cuts : tuple of int
        Upper bounds of the buckets but the last.
    C, cv, calibration, random_state
        The model's parameters (:class:`~journeymine.assignment.PersonaModel`).

    Returns
    -------
    estimators : list of CalibratedClassifierCV
    edges : tuple of int
        The bucket edges kept.
    """
    edges = list(cuts)
    while edges:
        b = np.searchsorted(edges, n_events, side="left")
        bad = [i for i in range(len(edges) + 1) if not bucket_ok(y[b == i], groups[b == i], cv)]
        if not bad:
            break
        i = bad[0]
        removed = edges.pop(i - 1 if i > 0 else 0)
        logger.info(
            "bucket %d of events seen has too few customers per persona; merged at edge %d",
            i,
            removed,
        )
    b = np.searchsorted(edges, n_events, side="left")
    ests = [
        fit_estimator(
            X[b == i],
            y[b == i],
            groups[b == i],
            C=C,
            cv=cv,
            calibration=calibration,
            random_state=random_state,
        )
        for i in range(len(edges) + 1)
    ]
    return ests, tuple(edges)


def fit_estimator(
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    *,
    C: float,
    cv: int,
    calibration: Literal["temperature", "isotonic", "sigmoid"],
    random_state: int,
) -> Any:
    """``CalibratedClassifierCV(Pipeline(StandardScaler, LogisticRegression))`` fitted on
    folds grouped by customer (:func:`customer_folds`), with one BLAS thread."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    base = Pipeline(
        [
            ("scale", StandardScaler()),
            ("logreg", LogisticRegression(C=float(C), max_iter=5000)),
        ]
    )
    splits = customer_folds(y, groups, int(cv), random_state)
    est = CalibratedClassifierCV(base, method=calibration, cv=splits, ensemble=True)
    # small dense problems: BLAS threads only add contention
    with threadpool_limits(limits=1, user_api="blas"):
        try:
            est.fit(X, y)
        except RuntimeError as exc:
            if calibration != "temperature" or "Temperature scaling" not in str(exc):
                raise
            # the folds' probabilities are all but 0 or 1 (personas the features separate
            # almost perfectly): the temperature's search finds no minimum
            warnings.warn(
                f"PersonaModel: temperature scaling found no temperature on {len(y):,} rows "
                f"({exc}); those rows' classifier is calibrated with sigmoid instead. Pass "
                f"PersonaModel(calibration='sigmoid') to choose it for every bucket.",
                DataQualityWarning,
                stacklevel=2,
            )
            est = CalibratedClassifierCV(base, method="sigmoid", cv=splits, ensemble=True)
            est.fit(X, y)
    # the fold index arrays are only needed by fit; do not persist them
    est.set_params(cv=int(cv))
    return est


def customer_folds(
    y: np.ndarray, groups: np.ndarray, n_splits: int, random_state: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified group k-fold for rows whose group (customer) has one label: each persona's
    customers are shuffled and dealt round-robin to the folds, so every fold holds every
    persona with >= n_splits customers and a customer's prefixes never straddle folds."""
    rng = np.random.default_rng(random_state)
    cust, first = np.unique(groups, return_index=True)
    cust_label = y[first]
    fold_of = np.empty(len(cust), dtype=np.int64)
    offset = 0
    for c in np.unique(cust_label):
        members = np.flatnonzero(cust_label == c)
        members = members[rng.permutation(len(members))]
        fold_of[members] = (np.arange(len(members)) + offset) % n_splits
        offset += len(members)
    row_fold = fold_of[np.searchsorted(cust, groups)]
    return [(np.flatnonzero(row_fold != k), np.flatnonzero(row_fold == k)) for k in range(n_splits)]
