"""Layered (Sugiyama-style) layout of a small directed graph, for the process map.

Steps, each simple and deterministic:

1. **Cycle removal.** Depth-first search from the start node (then from every node without
   incoming edges, then from the rest by decreasing weight), following heavier edges first; an edge
   to a node still on the DFS stack is a *back edge* and is reversed for layering only.
2. **Longest-path layering** on the resulting DAG: ``layer(v) = max(layer(u) + 1)`` over its
   predecessors; nodes without predecessors are then pulled down next to their first successor so
   that they do not float at the top; the end node goes to its own last layer.
3. **Ordering inside layers** by the barycentre heuristic: alternate downward and upward sweeps
   place each node at the weighted mean position of its neighbours in the layers above (below);
   the ordering with the fewest weighted crossings between adjacent layers is kept.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

__all__ = ["layered_layout"]


@dataclass(frozen=True)
class _Dummy:
    """A point where a long edge crosses a layer (never equal to a user's node)."""

    edge: int
    layer: int


def _back_edges(
    nodes: Sequence[Hashable],
    succ: dict[Hashable, list[tuple[float, Hashable]]],
    indeg: dict[Hashable, int],
    weight_of: dict[Hashable, float],
    start: Hashable | None,
) -> tuple[set[tuple[Hashable, Hashable]], list[Hashable]]:
    state: dict[Hashable, int] = {}
    back: set[tuple[Hashable, Hashable]] = set()
    discovered: list[Hashable] = []
    roots: list[Hashable] = []
    if start is not None:
        roots.append(start)
    roots += [n for n in nodes if indeg[n] == 0 and n != start]
    roots += sorted((n for n in nodes if indeg[n] > 0), key=lambda n: -weight_of[n])
    for root in roots:
        if root in state:
            continue
        state[root] = 1
        discovered.append(root)
        stack = [(root, iter(succ[root]))]
        while stack:
            node, it = stack[-1]
            for _, nxt in it:
                s = state.get(nxt, 0)
                if s == 1:
                    back.add((node, nxt))
                elif s == 0:
                    state[nxt] = 1
                    discovered.append(nxt)
                    stack.append((nxt, iter(succ[nxt])))
                    break
            else:
                state[node] = 2
                stack.pop()
    return back, discovered


def _crossings(
    layers: list[list[Hashable]],
    pos: dict[Hashable, int],
    layer_of: dict[Hashable, int],
    edges: list[tuple[Hashable, Hashable, float]],
) -> float:
    total = 0.0
    by_gap: dict[int, list[tuple[int, int, float]]] = defaultdict(list)
    for u, v, w in edges:
        lu, lv = layer_of[u], layer_of[v]
        if abs(lu - lv) != 1:
            continue
        a, b = (u, v) if lu < lv else (v, u)
        by_gap[min(lu, lv)].append((pos[a], pos[b], w))
    for segs in by_gap.values():
        for i in range(len(segs)):
            a1, b1, w1 = segs[i]
            for j in range(i + 1, len(segs)):
                a2, b2, w2 = segs[j]
                if (a1 - a2) * (b1 - b2) < 0:
                    total += w1 * w2
    return total


def layered_layout(
    nodes: Sequence[Hashable],
    edges: Sequence[tuple[Hashable, Hashable, float]],
    *,
    start: Hashable | None = None,
    end: Hashable | None = None,
    sweeps: int = 12,
    dummy_width: float = 0.35,
) -> tuple[dict[Hashable, tuple[int, float]], list[list[tuple[int, float]]]]:
    """Lay out a directed weighted graph in layers, top to bottom.

    Edges spanning several layers are split by *dummy* points (one per crossed layer) that take
    part in the ordering, so long edges are routed between the boxes instead of through them.

    Parameters
    ----------
    nodes : sequence of hashable
        Every node (isolated ones included).
    edges : sequence of (source, target, weight)
        Directed edges; self-loops are allowed and ignored for the layout.
    start, end : hashable, optional
        Nodes forced to the first / last layer.
    sweeps : int, default 12
        Barycentre sweeps (each a downward and an upward pass).
    dummy_width : float, default 0.35
        Horizontal room of a dummy point, relative to a node's 1.0.

    Returns
    -------
    positions : dict
        ``{node: (layer, x)}``, x centred on 0 in node widths.
    routes : list
        For each input edge, the dummy points ``(layer, x)`` it passes, from source to target.

    Examples
    --------
    >>> pos, routes = layered_layout(["s", "a", "b", "e"],
    ...     [("s", "a", 5), ("a", "b", 3), ("b", "a", 1), ("b", "e", 3), ("s", "e", 1)],
    ...     start="s", end="e")
    >>> [pos[n][0] for n in ("s", "a", "b", "e")]
    [0, 1, 2, 3]
    >>> [layer for layer, _ in routes[4]]
    [1, 2]
    """
    nodes = list(dict.fromkeys(nodes))
    known = set(nodes)
    all_edges = [(u, v, float(w)) for u, v, w in edges]
    edges_in = [(u, v, w) for u, v, w in all_edges if u in known and v in known]
    succ: dict[Hashable, list[tuple[float, Hashable]]] = {n: [] for n in nodes}
    indeg: dict[Hashable, int] = dict.fromkeys(nodes, 0)
    weight_of: dict[Hashable, float] = dict.fromkeys(nodes, 0.0)
    for u, v, w in edges_in:
        weight_of[u] += w
        weight_of[v] += w
        if u == v:
            continue
        succ[u].append((w, v))
        indeg[v] += 1
    for n in nodes:
        succ[n].sort(key=lambda t: (-t[0], str(t[1])))
    back, discovered = _back_edges(nodes, succ, indeg, weight_of, start)
    rank = {n: i for i, n in enumerate(discovered)}

    # DAG for layering: back edges reversed, edges into start / out of end turned around
    dag_pred: dict[Hashable, set[Hashable]] = {n: set() for n in nodes}
    dag_succ: dict[Hashable, set[Hashable]] = {n: set() for n in nodes}

    def add(a: Hashable, b: Hashable) -> None:
        if a != b and b not in dag_succ[a] and a not in dag_succ[b]:
            dag_pred[b].add(a)
            dag_succ[a].add(b)

    for u, v, _ in edges_in:
        if u == v:
            continue
        a, b = (v, u) if (u, v) in back else (u, v)
        if a == end or b == start:
            a, b = b, a
        add(a, b)
    if start is not None:  # every other source hangs below the start node
        for n in nodes:
            if n != start and not dag_pred[n]:
                add(start, n)
    indeg_dag = {n: len(dag_pred[n]) for n in nodes}
    ready = sorted((n for n in nodes if indeg_dag[n] == 0), key=rank.__getitem__)
    topo: list[Hashable] = []
    while ready:
        n = ready.pop(0)
        topo.append(n)
        for m in dag_succ[n]:
            indeg_dag[m] -= 1
            if indeg_dag[m] == 0:
                ready.append(m)
        ready.sort(key=rank.__getitem__)
    topo += [n for n in nodes if n not in set(topo)]  # defensive: the DAG is acyclic
    layer: dict[Hashable, int] = {}
    for n in topo:
        layer[n] = max((layer[p] + 1 for p in dag_pred[n] if p in layer), default=0)
    if start is None:  # pull sources down next to their first successor
        for n in reversed(topo):
            if not dag_pred[n] and dag_succ[n]:
                layer[n] = max(min(layer[m] for m in dag_succ[n]) - 1, 0)
    if end is not None:
        layer[end] = max((layer[n] for n in nodes if n != end), default=0) + 1
    used = sorted(set(layer.values()))
    remap = {old: new for new, old in enumerate(used)}
    layer = {n: remap[lv] for n, lv in layer.items()}
    n_layers = len(used)

    # split long edges with dummy points; keep one route per input edge
    slots: list[list[Hashable]] = [[] for _ in range(n_layers)]
    for n in discovered:
        slots[layer[n]].append(n)
    seg_edges: list[tuple[Hashable, Hashable, float]] = []
    chains: list[list[Hashable]] = []
    dummy_layer: dict[Hashable, int] = {}
    for i, (u, v, w) in enumerate(all_edges):
        if u not in known or v not in known or u == v:
            chains.append([])
            continue
        lu, lv = layer[u], layer[v]
        step = 1 if lv > lu else -1
        chain: list[Hashable] = []
        prev = u
        for lay in range(lu + step, lv, step):
            d: Hashable = _Dummy(i, lay)
            dummy_layer[d] = lay
            slots[lay].append(d)
            chain.append(d)
            seg_edges.append((prev, d, w))
            prev = d
        seg_edges.append((prev, v, w))
        chains.append(chain)
    layer_of = {**layer, **dummy_layer}
    rank_all = {**rank}
    for dd in dummy_layer:
        rank_all[dd] = len(rank_all)
    neigh: dict[Hashable, list[tuple[Hashable, float]]] = {n: [] for n in layer_of}
    for u, v, w in seg_edges:
        if u != v:
            neigh[u].append((v, w))
            neigh[v].append((u, w))

    def positions() -> dict[Hashable, int]:
        return {n: i for row in slots for i, n in enumerate(row)}

    def norm_pos() -> dict[Hashable, float]:
        out: dict[Hashable, float] = {}
        for row in slots:
            m = len(row)
            for i, n in enumerate(row):
                out[n] = (i + 0.5) / m
        return out

    best = [row[:] for row in slots]
    best_cost = _crossings(slots, positions(), layer_of, seg_edges)
    for sweep in range(2 * sweeps):
        if best_cost == 0:
            break
        down = sweep % 2 == 0
        order = range(1, n_layers) if down else range(n_layers - 2, -1, -1)
        for li in order:
            npos = norm_pos()
            row = slots[li]
            bary: dict[Hashable, float] = {}
            for n in row:
                num = den = 0.0
                for m, w in neigh[n]:
                    lm = layer_of[m]
                    if (down and lm == li - 1) or (not down and lm == li + 1):
                        num += w * npos[m]
                        den += w
                bary[n] = num / den if den > 0 else npos[n]
            row.sort(key=lambda n: (bary[n], rank_all[n]))
        cost = _crossings(slots, positions(), layer_of, seg_edges)
        if cost < best_cost:
            best_cost = cost
            best = [row[:] for row in slots]

    xs: dict[Hashable, float] = {}
    for row in best:
        widths = [dummy_width if n in dummy_layer else 1.0 for n in row]
        total = sum(widths)
        x = -total / 2
        for n, wd in zip(row, widths, strict=True):
            xs[n] = x + wd / 2
            x += wd
    pos = {n: (layer[n], xs[n]) for n in nodes}
    routes = [[(dummy_layer[d], xs[d]) for d in chain] for chain in chains]
    return pos, routes
