"""Persona lineage across time windows: which persona of one window is which of the next, and
what happened to each (birth, death, split, merge).

1. **Centroids** (:func:`window_centroids`): each persona's centroid is the mean of its members'
   persona-view features, standardised with one scaler fitted on all windows.
2. **Matching** (:func:`match_windows`): personas of consecutive windows are paired by the
   Hungarian algorithm (``scipy.optimize.linear_sum_assignment``) on centroid distance; a pair
   is accepted when its distance is below ``match_threshold`` times the typical distance
   between *different* personas of the same window. A matched persona keeps its stable id; an
   unmatched one gets a new id.
3. **Events** (:func:`transition_events`): splits and merges from the members shared by
   consecutive windows (:func:`overlaps`), births and deaths from the matching, exactly one
   event type per persona and transition.

:func:`~journeymine.personas.track_personas` fits the windows and assembles the tracks.

Examples
--------
>>> import numpy as np
>>> before = np.array([0, 0, 0, 0, 1, 1])
>>> after = np.array([0, 0, 1, 1, 2, 2])
>>> [e["event"] for e in transition_events(before, after, {0: 0, 1: 1}, {0: 0, 1: 5, 2: 1},
...                                        [5], pd.Timestamp("2025-01-01", tz="UTC"), 0.25)]
['split']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.preprocessing import StandardScaler

from journeymine.personas.view import select_features

__all__ = [
    "Lineage",
    "event",
    "match_windows",
    "overlaps",
    "transition_events",
    "window_centroids",
]

#: Columns of :attr:`Lineage.matches`.
MATCH_COLUMNS = [
    "from_window",
    "from_persona",
    "to_window",
    "to_persona",
    "distance",
    "shared_customers",
    "accepted",
]
#: Columns of :attr:`Lineage.events`.
EVENT_COLUMNS = ["window", "event", "personas", "into", "detail"]


@dataclass(frozen=True)
class Lineage:
    """Stable persona ids across windows and what happened to them.

    Attributes
    ----------
    id_maps : list of dict
        Raw label -> stable id, per window.
    events : DataFrame
        ``window``, ``event`` ("birth", "death", "split", "merge"), ``personas`` (ids before),
        ``into`` (ids after), ``detail``.
    matches : DataFrame
        Accepted and rejected pairings: ``from_window``, ``from_persona``, ``to_window``,
        ``to_persona``, ``distance``, ``shared_customers``, ``accepted``.
    threshold : float
        The centroid distance limit used for matching.
    """

    id_maps: list[dict[int, int]]
    events: pd.DataFrame
    matches: pd.DataFrame
    threshold: float


def window_centroids(
    feats: list[pd.DataFrame], labels: Sequence[pd.Series]
) -> tuple[list[pd.DataFrame], float]:
    """Centroids per window in one standardised persona-view space, and the typical distance
    between different personas of a window."""
    cols = select_features(feats[0].columns, "default")
    stacked = np.vstack([f[cols].to_numpy() for f in feats])
    scaler = StandardScaler().fit(stacked)
    out = []
    seps = []
    for f, lab_s in zip(feats, labels, strict=True):
        Z = np.clip(scaler.transform(f[cols].to_numpy()), -5, 5)
        lab = lab_s.to_numpy()
        ids = sorted(int(p) for p in np.unique(lab) if p >= 0)
        C = pd.DataFrame([Z[lab == p].mean(0) for p in ids], index=ids, columns=cols)
        out.append(C)
        if len(ids) >= 2:
            D = np.linalg.norm(C.to_numpy()[:, None] - C.to_numpy()[None], axis=-1)
            np.fill_diagonal(D, np.inf)
            seps.append(float(np.median(D.min(1))))
    typical = float(np.median(seps)) if seps else 1.0
    return out, typical


def match_windows(
    feats: list[pd.DataFrame],
    labels: Sequence[pd.Series],
    starts: Sequence[pd.Timestamp],
    match_threshold: float,
    split_share: float,
    same_ids: bool = False,
) -> Lineage:
    """Stable ids, matches and lifecycle events of personas over consecutive windows (module
    docstring), from each window's features ``feats``, raw ``labels`` (numbered by size, ``-1``
    = no persona) and start time. With ``same_ids`` the labels of every window come from one
    model: a persona keeps its label as its id, and is matched to itself whenever both windows
    have members (its centroid distance is still reported).

    Examples
    --------
    >>> feats = [pd.DataFrame({"order_value_log": [1.0, 1.1, 5.0, 5.2]}, index=list("abcd"))] * 2
    >>> labels = [pd.Series([0, 0, 1, 1], index=list("abcd"))] * 2
    >>> starts = pd.to_datetime(["2025-01-01", "2025-02-01"], utc=True)
    >>> lin = match_windows(feats, labels, starts, match_threshold=0.5, split_share=0.25)
    >>> lin.id_maps, lin.events["event"].tolist()
    ([{0: 0, 1: 1}, {0: 0, 1: 1}], ['birth', 'birth'])
    """
    cents, typical = window_centroids(feats, labels)
    limit = match_threshold * typical
    # window 0: ids by size (the miner already numbers personas by size)
    id_maps: list[dict[int, int]] = [{p: p for p in cents[0].index}]
    next_id = (max(cents[0].index) + 1) if len(cents[0]) else 0
    match_rows: list[dict[str, Any]] = []
    events = [event(starts[0], "birth", [], [p], "first window") for p in id_maps[0].values()]
    for w in range(1, len(labels)):
        prev, cur = cents[w - 1], cents[w]
        prev_lab, cur_lab = labels[w - 1], labels[w]
        common = prev_lab.index.intersection(cur_lab.index)
        pl, cl = prev_lab.loc[common].to_numpy(), cur_lab.loc[common].to_numpy()
        mapping: dict[int, int] = {}
        if len(prev) and len(cur):
            D = np.linalg.norm(prev.to_numpy()[:, None] - cur.to_numpy()[None], axis=-1)
            if same_ids:  # each persona to itself
                rows = np.flatnonzero(prev.index.isin(cur.index))
                colsi = cur.index.get_indexer(prev.index[rows])
            else:
                rows, colsi = linear_sum_assignment(D)
            for r, c in zip(rows, colsi, strict=True):
                p_raw, c_raw = int(prev.index[r]), int(cur.index[c])
                ok = same_ids or bool(D[r, c] <= limit)
                match_rows.append(
                    {
                        "from_window": starts[w - 1],
                        "from_persona": id_maps[w - 1][p_raw],
                        "to_window": starts[w],
                        "to_persona": id_maps[w - 1][p_raw] if ok else -1,
                        "distance": float(D[r, c]),
                        "shared_customers": int(((pl == p_raw) & (cl == c_raw)).sum()),
                        "accepted": ok,
                    }
                )
                if ok:
                    mapping[c_raw] = id_maps[w - 1][p_raw]
        born = []
        for c_raw in cur.index:
            if int(c_raw) not in mapping:
                mapping[int(c_raw)] = next_id
                born.append(next_id)
                next_id += 1
        id_maps.append(mapping)
        events += transition_events(pl, cl, id_maps[w - 1], mapping, born, starts[w], split_share)
    return Lineage(
        id_maps,
        pd.DataFrame(events, columns=EVENT_COLUMNS),
        pd.DataFrame(match_rows, columns=MATCH_COLUMNS),
        limit,
    )


def overlaps(
    pl: np.ndarray,
    cl: np.ndarray,
    prev_map: dict[int, int],
    cur_map: dict[int, int],
    share: float,
) -> tuple[dict[int, list[tuple[int, float]]], dict[int, list[tuple[int, float]]]]:
    """Split branches per previous persona and merge sources per current persona (stable ids,
    with the share of members), from the customers labelled in both windows."""
    both = (pl >= 0) & (cl >= 0)
    if not both.any():
        return {}, {}
    p_ids = sorted(set(pl[both].tolist()))
    c_ids = sorted(set(cl[both].tolist()))
    M = np.array([[int(((pl == p) & (cl == c)).sum()) for c in c_ids] for p in p_ids])
    splits = _branches(M, p_ids, c_ids, prev_map, cur_map, share)
    merges = _branches(M.T, c_ids, p_ids, cur_map, prev_map, share)
    return splits, merges


def _branches(
    M: np.ndarray,
    row_ids: list[int],
    col_ids: list[int],
    row_map: dict[int, int],
    col_map: dict[int, int],
    share: float,
) -> dict[int, list[tuple[int, float]]]:
    """The personas (rows of ``M``, the members shared by row and column personas) whose
    members go to (or come from) at least two column personas with ``share`` of them each:
    row stable id -> [(column stable id, share of the row's members)]."""
    total = M.sum(1)
    out: dict[int, list[tuple[int, float]]] = {}
    for i, r in enumerate(row_ids):
        parts = [
            (col_map[c], M[i, j] / total[i])
            for j, c in enumerate(col_ids)
            if M[i, j] >= share * total[i] > 0
        ]
        if len(parts) >= 2:
            out[row_map[r]] = parts
    return out


def transition_events(
    pl: np.ndarray,
    cl: np.ndarray,
    prev_map: dict[int, int],
    cur_map: dict[int, int],
    born: list[int],
    window: pd.Timestamp,
    share: float,
) -> list[dict[str, Any]]:
    """The lifecycle events of one window transition: exactly one event type per persona.

    Precedence: a persona of the previous window **splits** (at least two branches), else
    **merges** (one of at least two sources of a persona of this window, sources that split
    not counted), else **dies** (no matching persona), else continues (no event). A persona
    new in this window comes from one event: a split (it is a branch), else a merge (it is
    the result), else a birth.
    """
    splits, merges = overlaps(pl, cl, prev_map, cur_map, share)
    new = set(born)
    alive = set(cur_map.values())
    # members moving between personas that exist in both windows are migration: a persona
    # that goes on splits only into itself and new personas, and a merge source is gone or
    # the result itself
    splits = {
        p: kept
        for p, into in splits.items()
        if len(kept := [(c, s) for c, s in into if p not in alive or c == p or c in new]) >= 2
    }
    merges = {c: [(p, s) for p, s in src if p == c or p not in alive] for c, src in merges.items()}
    branches = {c for into in splits.values() for c, _ in into}
    merges = {
        c: kept
        for c, src in merges.items()
        if not (c in new and c in branches)  # a new persona comes from one event: the split
        and len(kept := [(p, s) for p, s in src if p not in splits]) >= 2
    }
    merged = {p for src in merges.values() for p, _ in src}
    explained = branches | set(merges)
    out: list[dict[str, Any]] = []
    for c in born:
        if c not in explained:
            out.append(
                event(window, "birth", [], [c], "no matching persona in the previous window")
            )
    for sid in prev_map.values():
        if sid not in alive and sid not in splits and sid not in merged:
            out.append(event(window, "death", [sid], [], "no matching persona in this window"))
    for p, into in splits.items():
        shares = ", ".join(f"{c}: {s:.0%}" for c, s in into)
        out.append(event(window, "split", [p], [c for c, _ in into], f"members went to {shares}"))
    for c, src in merges.items():
        shares = ", ".join(f"{p}: {s:.0%}" for p, s in src)
        out.append(event(window, "merge", [p for p, _ in src], [c], f"members came from {shares}"))
    return out


def event(
    window: pd.Timestamp, kind: str, personas: list[int], into: list[int], detail: str
) -> dict[str, Any]:
    """One row of :attr:`Lineage.events`."""
    return {"window": window, "event": kind, "personas": personas, "into": into, "detail": detail}
