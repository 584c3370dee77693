"""Persona ids: a clustering's raw labels numbered by persona size, and raw labels or
per-component values of a fitted model carried onto those ids.

A fit's raw labels (mixture components, or HDBSCAN clusters extended by the vote) are
renumbered ``0..k-1`` by decreasing size (:func:`relabel_by_size`); the raw -> persona mapping
(:func:`label_mapping`) then labels new customers (:func:`map_labels`) and sums a model's
per-component probabilities or weights per persona (:func:`sum_by_persona`).

Examples
--------
>>> import numpy as np
>>> raw = np.array([2, 2, 0, -1, 2, 0, 1])
>>> final = relabel_by_size(raw)
>>> final.tolist()
[0, 0, 1, -1, 0, 1, 2]
>>> mapping = label_mapping(raw, final)
>>> mapping
{2: 0, 0: 1, 1: 2}
>>> map_labels(np.array([1, 5, 0]), mapping).tolist()
[2, -1, 1]
"""

from __future__ import annotations

import numpy as np

__all__ = ["label_mapping", "map_labels", "relabel_by_size", "sum_by_persona"]


def relabel_by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber personas 0..k-1 by decreasing size (ties by old id); -1 stays.

    Examples
    --------
    >>> relabel_by_size(np.array([5, 3, 3, -1])).tolist()
    [1, 0, 0, -1]
    """
    ids, counts = np.unique(labels[labels >= 0], return_counts=True)
    order = ids[np.lexsort((ids, -counts))]
    lookup = {int(old): new for new, old in enumerate(order)}
    return np.array([lookup.get(int(v), -1) for v in labels], dtype=np.int64)


def label_mapping(raw: np.ndarray, final: np.ndarray) -> dict[int, int]:
    """Raw label -> final persona id, from the same customers' raw and final labels.

    Examples
    --------
    >>> label_mapping(np.array([4, -1, 7]), np.array([1, -1, 0]))
    {4: 1, 7: 0}
    """
    out: dict[int, int] = {}
    for r, f in zip(raw, final, strict=True):
        if r >= 0:
            out[int(r)] = int(f)
    return out


def map_labels(raw: np.ndarray, mapping: dict[int, int]) -> np.ndarray:
    """Persona ids of raw labels (``-1`` for a raw label without a persona).

    Examples
    --------
    >>> map_labels(np.array([4, -1]), {4: 1}).tolist()
    [1, -1]
    """
    return np.array([mapping.get(int(v), -1) for v in raw], dtype=np.int64)


def sum_by_persona(values: np.ndarray, mapping: dict[int, int], k: int) -> np.ndarray:
    """Per-component values (the last axis: a mixture's probabilities or weights) summed per
    persona id ``0..k-1``.

    Examples
    --------
    >>> sum_by_persona(np.array([0.2, 0.5, 0.3]), {0: 1, 1: 0, 2: 1}, 2).tolist()
    [0.5, 0.5]
    """
    out = np.zeros((*values.shape[:-1], k))
    for comp, final in mapping.items():
        out[..., final] += values[..., comp]
    return out
