"""Metrics of the model card: held-out accuracy by events seen, abstention, calibration error
(the reliability table) and the confusion matrix."""

from __future__ import annotations

from typing import Any

import numpy as np

from journeymine.assignment._card import UNASSIGNED

__all__ = ["holdout_metrics", "reliability_table"]

#: Bins of the reliability table.
_N_BINS = 10


def reliability_table(
    confidence: np.ndarray, correct: np.ndarray, n_bins: int = _N_BINS
) -> tuple[float, list[dict[str, Any]]]:
    """Expected calibration error (top label, equal-width bins) and the reliability table.

    Examples
    --------
    >>> ece, table = reliability_table(np.array([0.9, 0.9, 0.6, 0.6]),
    ...                                np.array([True, True, True, False]))
    >>> round(ece, 3), [row["count"] for row in table if row["count"]]
    (0.1, [2, 2])
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    correct = np.asarray(correct, dtype=bool)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    b = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    rows = []
    ece = 0.0
    n = max(len(confidence), 1)
    for i in range(n_bins):
        m = b == i
        cnt = int(m.sum())
        conf = float(confidence[m].mean()) if cnt else None
        acc = float(correct[m].mean()) if cnt else None
        if cnt:
            ece += cnt / n * abs(acc - conf)  # type: ignore[operator]
        rows.append(
            {
                "bin": f"({edges[i]:.1f}, {edges[i + 1]:.1f}]",
                "count": cnt,
                "mean_confidence": conf,
                "accuracy": acc,
            }
        )
    return float(ece), rows


def holdout_metrics(
    proba: np.ndarray,
    y: np.ndarray,
    level: np.ndarray,
    eval_cuts: tuple[int, ...],
    *,
    classes: np.ndarray,
    abstain_threshold: float,
) -> dict[str, Any]:
    """The model card's metrics on held-out customers.

    Parameters
    ----------
    proba : ndarray, shape (n, len(classes))
        Calibrated probabilities of each held-out row.
    y : ndarray of int
        True persona of each row.
    level : ndarray of int
        Events seen of each row (a cut of ``eval_cuts``), 0 for all events.
    eval_cuts : tuple of int
        The cuts reported.
    classes : ndarray of int
        Persona ids, in the columns' order.
    abstain_threshold : float
        Below it a row is "unassigned".

    Returns
    -------
    dict
        ``by_events_seen``, ``ece``, ``reliability``, ``confusion_matrix`` (all events seen)
        and ``abstention_rate``.
    """
    thr = float(abstain_threshold)
    conf = proba.max(axis=1)
    pred = classes[proba.argmax(axis=1)]
    assigned = conf >= thr
    correct = pred == y
    by = []
    for k in (*eval_cuts, 0):
        m = level == k
        n = int(m.sum())
        if not n:
            continue
        ece_k, _ = reliability_table(conf[m], correct[m])
        by.append(
            {
                "events": "all" if k == 0 else int(k),
                "n": n,
                "accuracy": float(correct[m].mean()),
                "accuracy_assigned": (
                    float(correct[m & assigned].mean()) if (m & assigned).any() else None
                ),
                "abstention_rate": float(1.0 - assigned[m].mean()),
                "ece": ece_k,
            }
        )
    ece, table = reliability_table(conf, correct)
    full = level == 0
    cols = [*classes.tolist(), UNASSIGNED]
    shown = np.where(assigned, pred, UNASSIGNED)
    matrix = [[int(((y == a) & (shown == b) & full).sum()) for b in cols] for a in classes.tolist()]
    return {
        "by_events_seen": by,
        "ece": ece,
        "reliability": table,
        "confusion_matrix": {
            "rows": "true persona",
            "columns": "predicted persona (-1 = abstained), all events seen",
            "labels": [int(c) for c in cols],
            "matrix": matrix,
        },
        "abstention_rate": float(1.0 - assigned[full].mean()) if full.any() else None,
    }
