"""Drawing primitives of the graph figures: smooth edge curves, self-loops, readable ticks for
a duration colour bar and hover-only markers (used by :mod:`journeymine.report.process_map`)."""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import plotly.graph_objects as go

from journeymine.report._common import format_duration

__all__ = ["curve", "duration_ticks", "hover_markers", "self_loop"]


def curve(points: list[tuple[float, float]], n: int = 14) -> tuple[np.ndarray, np.ndarray]:
    """Smooth path through ``points`` with vertical tangents at each one (cubic Beziers)."""
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    t = np.linspace(0.0, 1.0, n)
    for i, ((x1, y1), (x2, y2)) in enumerate(itertools.pairwise(points)):
        dy = (y2 - y1) * 0.5
        c1, c2 = (x1, y1 + dy), (x2, y2 - dy)
        bx = (
            (1 - t) ** 3 * x1
            + 3 * (1 - t) ** 2 * t * c1[0]
            + 3 * (1 - t) * t**2 * c2[0]
            + t**3 * x2
        )
        by = (
            (1 - t) ** 3 * y1
            + 3 * (1 - t) ** 2 * t * c1[1]
            + 3 * (1 - t) * t**2 * c2[1]
            + t**3 * y2
        )
        xs.append(bx if i == 0 else bx[1:])
        ys.append(by if i == 0 else by[1:])
    return np.concatenate(xs), np.concatenate(ys)


def self_loop(
    x: float, y: float, hw: float, hh: float, out: float
) -> tuple[np.ndarray, np.ndarray]:
    """A self-loop on the right side of a node box."""
    t = np.linspace(0.0, 1.0, 24)
    p0, p3 = np.array([x + hw, y + hh * 0.45]), np.array([x + hw, y - hh * 0.45])
    p1, p2 = np.array([p0[0] + out, y + hh * 1.8]), np.array([p3[0] + out, y - hh * 1.8])
    pts = (
        (1 - t)[:, None] ** 3 * p0
        + 3 * ((1 - t) ** 2 * t)[:, None] * p1
        + 3 * ((1 - t) * t**2)[:, None] * p2
        + (t**3)[:, None] * p3
    )
    return pts[:, 0], pts[:, 1]


def duration_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Readable colour-bar ticks (log10 seconds), at most six."""
    fine = [
        (1, "1 s"),
        (10, "10 s"),
        (60, "1 min"),
        (600, "10 min"),
        (3600, "1 h"),
        (6 * 3600, "6 h"),
        (86400, "1 d"),
        (7 * 86400, "1 wk"),
        (30 * 86400, "30 d"),
    ]
    coarse = [(1, "1 s"), (60, "1 min"), (3600, "1 h"), (86400, "1 d"), (30 * 86400, "30 d")]
    for marks in (fine, coarse):
        vals = [(math.log10(m), n) for m, n in marks if lo - 1e-9 <= math.log10(m) <= hi + 1e-9]
        if len(vals) <= 6:
            break
    if len(vals) < 2:
        return [lo, hi], [format_duration(10**lo), format_duration(10**hi)]
    return [v for v, _ in vals], [n for _, n in vals]


def hover_markers(
    x: list[Any], y: list[Any], text: list[str], name: str, **marker: Any
) -> go.Scatter:
    """Markers (``marker``, white outline) that show ``text`` on hover, outside the legend."""
    return go.Scatter(
        x=x,
        y=y,
        mode="markers",
        text=text,
        hovertemplate="%{text}<extra></extra>",
        marker={**marker, "line": {"width": 1, "color": "white"}},
        showlegend=False,
        name=name,
    )
