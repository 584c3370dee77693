"""The layered layout of the process map."""

from __future__ import annotations

import itertools

from journeymine.report._layout import layered_layout


def test_dag_edges_point_down_and_start_end_are_first_and_last() -> None:
    nodes = ["s", "a", "b", "c", "d", "e"]
    edges = [
        ("s", "a", 9),
        ("a", "b", 5),
        ("a", "c", 4),
        ("b", "d", 3),
        ("c", "d", 2),
        ("d", "e", 5),
        ("b", "e", 1),
    ]
    pos, routes = layered_layout(nodes, edges, start="s", end="e")
    assert set(pos) == set(nodes)
    assert pos["s"][0] == 0
    assert pos["e"][0] == max(layer for layer, _ in pos.values())
    for u, v, _ in edges:
        assert pos[u][0] < pos[v][0], (u, v)
    # the long edge b -> e passes one dummy point per layer it crosses
    i = edges.index(("b", "e", 1))
    assert [layer for layer, _ in routes[i]] == list(range(pos["b"][0] + 1, pos["e"][0]))


def test_cycles_and_self_loops_are_laid_out() -> None:
    nodes = ["s", "visit", "view", "cart", "e"]
    edges = [
        ("s", "visit", 10),
        ("visit", "view", 8),
        ("view", "view", 6),
        ("view", "visit", 3),
        ("view", "cart", 4),
        ("cart", "view", 2),
        ("cart", "e", 4),
        ("view", "e", 4),
    ]
    pos, routes = layered_layout(nodes, edges, start="s", end="e")
    assert pos["visit"][0] < pos["view"][0] < pos["cart"][0] < pos["e"][0]
    assert routes[2] == []  # self-loop: no route
    # no two nodes share a slot
    slots = [(layer, round(x, 6)) for layer, x in pos.values()]
    assert len(slots) == len(set(slots))


def test_barycentre_ordering_removes_avoidable_crossings() -> None:
    # two parallel chains given in crossing order: a1->b2, a2->b1 style
    nodes = ["s", "a1", "a2", "b2", "b1", "e"]
    edges = [
        ("s", "a1", 5),
        ("s", "a2", 5),
        ("a1", "b1", 5),
        ("a2", "b2", 5),
        ("b1", "e", 5),
        ("b2", "e", 5),
    ]
    pos, _ = layered_layout(nodes, edges, start="s", end="e")
    # a1 is left of a2 exactly when b1 is left of b2: the chains do not cross
    assert (pos["a1"][1] < pos["a2"][1]) == (pos["b1"][1] < pos["b2"][1])
    # counted here independently: two edges between the same layers cross when their ends
    # are in opposite order
    between = [(pos[u], pos[v]) for u, v, _ in edges if pos[v][0] == pos[u][0] + 1]
    crossings = sum(
        (a[0][0] == b[0][0]) and (a[0][1] - b[0][1]) * (a[1][1] - b[1][1]) < 0
        for a, b in itertools.combinations(between, 2)
    )
    assert crossings == 0


def test_layout_is_deterministic() -> None:
    nodes = [f"n{i}" for i in range(8)]
    edges = [
        (a, b, float((i * 7) % 5 + 1))
        for i, (a, b) in enumerate(itertools.permutations(nodes[:5], 2))
    ]
    assert layered_layout(nodes, edges) == layered_layout(nodes, edges)
