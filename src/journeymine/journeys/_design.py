"""The designed journey of a conformance check, and optimal alignments on it.

A design given as a sequence of activities or as a dict ``activity -> next activities``
becomes a :class:`Graph` (nodes labelled with activities); a ``.bpmn``/``.pnml`` path or a
:class:`~journeymine._pm4py.ProcessModel` stays a pm4py model (:func:`load_design`).
:func:`align` finds the cheapest alignment of one trace to a path of a graph (synchronous
moves cost 0, moves on the log or on the model cost 1), and :func:`pair_wrong_order` turns a
skipped and an unexpected move of the same activity into one ``"wrong_order"`` deviation.
Used by :func:`journeymine.journeys.conformance.check_conformance`.
"""

from __future__ import annotations

import os
import warnings
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from journeymine.exceptions import (
    ConfigError,
    DataQualityWarning,
    UnknownActivityError,
    did_you_mean,
)

if TYPE_CHECKING:  # pragma: no cover
    from journeymine._pm4py import ProcessModel

__all__ = [
    "Design",
    "Graph",
    "Move",
    "activity_names",
    "align",
    "check_activities",
    "load_design",
    "pair_wrong_order",
]

Design = Sequence[str] | Mapping[str, Sequence[str]] | str | os.PathLike[str] | Any


# --- the designed journey -----------------------------------------------------------------------
@dataclass(frozen=True)
class Graph:
    """A designed journey as a labelled graph: nodes carry activities; a path from a start node
    to an end node is a designed journey. A sequence is a chain of nodes."""

    labels: tuple[str, ...]
    succ: tuple[tuple[int, ...], ...]
    start: tuple[int, ...]
    end: frozenset[int]
    kind: str

    @property
    def activities(self) -> frozenset[str]:
        return frozenset(self.labels)

    def shortest_path(self) -> int:
        """Fewest nodes on a path from a start node to an end node."""
        dist = {v: 1 for v in self.start}
        todo = deque(self.start)
        while todo:
            v = todo.popleft()
            if v in self.end:
                return dist[v]
            for w in self.succ[v]:
                if w not in dist:
                    dist[w] = dist[v] + 1
                    todo.append(w)
        raise ConfigError("the designed journey has no path from a start to an end activity.")


def activity_names(values: Any, what: str) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Sequence | set | frozenset):
        raise ConfigError(f"{what} must be a list of activity names, got {values!r}.")
    out = list(values)
    bad = [v for v in out if not isinstance(v, str) or not v]
    if bad:
        raise ConfigError(f"{what} must hold non-empty activity names (str); got {bad[:3]}.")
    return out


def sequence_graph(steps: Sequence[str]) -> Graph:
    names = activity_names(steps, "a designed sequence")
    if not names:
        raise ConfigError("the designed sequence is empty; give at least one activity.")
    n = len(names)
    succ = tuple((i + 1,) if i + 1 < n else () for i in range(n))
    return Graph(tuple(names), succ, (0,), frozenset({n - 1}), "sequence")


def dict_graph(
    edges: Mapping[str, Sequence[str]],
    start: Sequence[str] | None,
    end: Sequence[str] | None,
) -> Graph:
    if not edges:
        raise ConfigError("the designed graph is empty; map each activity to its next ones.")
    nodes: list[str] = []
    for a, nxt in edges.items():
        if not isinstance(a, str) or not a:
            raise ConfigError(f"graph keys must be activity names (str), got {a!r}.")
        if a not in nodes:
            nodes.append(a)
        for b in activity_names(nxt, f"the next activities of {a!r}"):
            if b not in nodes:
                nodes.append(b)
    index = {a: i for i, a in enumerate(nodes)}
    succ = tuple(tuple(index[b] for b in dict.fromkeys(edges.get(a, ()))) for a in nodes)
    targets = {w for s in succ for w in s}
    n = len(nodes)
    start_nodes = _boundary(start, index, [i for i in range(n) if i not in targets], "start")
    end_nodes = _boundary(end, index, [i for i in range(n) if not succ[i]], "end")
    return Graph(tuple(nodes), succ, tuple(start_nodes), frozenset(end_nodes), "graph")


def _boundary(given: Any, index: Mapping[str, int], implied: list[int], what: str) -> list[int]:
    """The ``what`` ("start" or "end") nodes: ``given`` by name, else those the graph implies."""
    if given is not None:
        return [_node(index, a, what) for a in activity_names(given, what)]
    if not implied:
        has, which = ("predecessor", "first") if what == "start" else ("successor", "last")
        raise ConfigError(
            f"every activity of the designed graph has a {has}, so the {what} is "
            f"ambiguous: pass {what}=[...] with the {which} activities."
        )
    return implied


def _node(index: Mapping[str, int], name: str, what: str) -> int:
    if name not in index:
        raise ConfigError(
            f"{what} activity {name!r} is not in the designed graph.{did_you_mean(name, index)} "
            f"Graph activities: {sorted(index)}."
        )
    return index[name]


def load_design(
    design: Design, start: Sequence[str] | None, end: Sequence[str] | None
) -> Graph | ProcessModel:
    from journeymine import _pm4py

    if isinstance(design, _pm4py.ProcessModel):
        return design
    if isinstance(design, str | os.PathLike) and Path(design).suffix.lower() in (
        ".bpmn",
        ".pnml",
    ):
        path = Path(design)
        return _pm4py.read_bpmn(path) if path.suffix.lower() == ".bpmn" else _pm4py.read_pnml(path)
    if isinstance(design, str | os.PathLike):
        raise ConfigError(
            f"design={str(design)!r}: a designed journey given as text must be a .bpmn or "
            f".pnml file; give a sequence as a list, e.g. ['email_sent', 'visit']."
        )
    if isinstance(design, Mapping):
        return dict_graph(design, start, end)
    if start is not None or end is not None:
        raise ConfigError("start= and end= apply to a designed graph (a dict) only.")
    if isinstance(design, Sequence):
        return sequence_graph(design)
    raise ConfigError(
        f"design must be a list of activities, a dict activity -> next activities, a .bpmn/"
        f".pnml path or a ProcessModel; got {type(design).__name__}."
    )


def check_activities(design_acts: Sequence[str], log_acts: Sequence[str], *, strict: bool) -> None:
    present = set(log_acts)
    absent = [a for a in dict.fromkeys(design_acts) if a not in present]
    if not absent:
        return
    parts = [f"{a!r} is not in the log.{did_you_mean(a, present)}" for a in absent]
    msg = (
        f"the designed journey names {len(absent)} activit{'y' if len(absent) == 1 else 'ies'} "
        f"absent from the log: {' '.join(parts)} Log activities: {sorted(present)}."
    )
    if strict:
        raise UnknownActivityError(
            msg + " Fix the design, or pass strict=False to check anyway (the missing steps "
            "then count as skipped in every case)."
        )
    warnings.warn(
        msg + " They count as skipped steps in every case.", DataQualityWarning, stacklevel=3
    )


# --- alignments on a labelled graph -------------------------------------------------------------
Move = tuple[str, Any, "str | None"]  # (deviation type, position, activity)


def align(trace: tuple[str, ...], g: Graph) -> tuple[int, list[Move]]:
    """Optimal alignment of ``trace`` to a path of ``g`` (0-1 BFS over (position, node)).

    Returns the cost and the deviating moves ``(type, position, activity)`` with type
    ``"unexpected"`` (move on the log) or ``"skipped"`` (move on the model).
    """
    n, v_count = len(trace), len(g.labels)
    width = v_count + 1  # node -1 (before the first step) is column 0
    size = (n + 1) * width
    dist = np.full(size, np.iinfo(np.int64).max, dtype=np.int64)
    back = np.full(size, -1, dtype=np.int64)
    move = np.zeros(size, dtype=np.int8)  # 0 sync, 1 log move, 2 model move
    dist[0] = 0
    todo: deque[int] = deque([0])
    done = np.zeros(size, dtype=bool)
    while todo:
        s = todo.popleft()
        if done[s]:
            continue
        done[s] = True
        i, v = divmod(s, width)
        nxt = g.start if v == 0 else g.succ[v - 1]
        d = dist[s]
        for w in nxt:
            if i < n and g.labels[w] == trace[i]:
                t = (i + 1) * width + w + 1
                if d < dist[t]:
                    dist[t], back[t], move[t] = d, s, 0
                    todo.appendleft(t)
            t = i * width + w + 1
            if d + 1 < dist[t]:
                dist[t], back[t], move[t] = d + 1, s, 2
                todo.append(t)
        if i < n:
            t = (i + 1) * width + v
            if d + 1 < dist[t]:
                dist[t], back[t], move[t] = d + 1, s, 1
                todo.append(t)
    ends = [n * width + e + 1 for e in sorted(g.end)]
    best = min(ends, key=lambda s: dist[s])
    moves: list[Move] = []
    s = best
    while s > 0:
        i, v = divmod(s, width)
        if move[s] == 1:
            moves.append(("unexpected", i - 1, trace[i - 1]))
        elif move[s] == 2:
            moves.append(("skipped", i, g.labels[v - 1]))
        s = int(back[s])
    moves.reverse()
    return int(dist[best]), moves


def pair_wrong_order(moves: list[Move]) -> list[Move]:
    """Replace each (skipped a, unexpected a) pair by one ``wrong_order`` deviation for ``a``
    at the position where ``a`` actually happened."""
    skipped: dict[str | None, list[int]] = {}
    for k, (typ, _, act) in enumerate(moves):
        if typ == "skipped":
            skipped.setdefault(act, []).append(k)
    drop: set[int] = set()
    out: list[Move] = []
    for typ, pos, act in moves:
        if typ == "unexpected" and skipped.get(act):
            drop.add(skipped[act].pop(0))
            out.append(("wrong_order", pos, act))
        else:
            out.append((typ, pos, act))
    return [m for k, m in enumerate(out) if k not in drop]
