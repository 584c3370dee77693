"""Process map: the directly-follows graph drawn as a layered, readable map.

:func:`process_map_data` computes the map's edges (with a layered layout) from a log;
:func:`process_map_figure` draws them with plotly: node boxes, curved edges whose width is the
number of transitions and whose colour is the median time between the two steps, hover details on
every edge and node. The layout is our own (see ``_layout``): longest-path layering from the start
with barycentre ordering, top to bottom.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from journeymine.report._common import (
    DEFAULT_K,
    FONT,
    INK,
    base_layout,
    check_frame,
    check_k,
    check_positive_int,
    filter_log,
    format_duration,
    plotly_text,
)
from journeymine.report._layout import layered_layout
from journeymine.report._shapes import curve, duration_ticks, hover_markers, self_loop
from journeymine.schema import ACTIVITY, CUSTOMER_ID

__all__ = ["process_map_data", "process_map_figure"]

EDGE_COLUMNS = (
    "kind",
    "source",
    "target",
    "count",
    "cases",
    "median_seconds",
    "source_layer",
    "source_x",
    "target_layer",
    "target_x",
    "via",
    "source_events",
    "target_events",
)
TIME_SCALE = [[0.0, "#2b5fa8"], [0.5, "#8e4fa8"], [1.0, "#e4572e"]]
START_END_COLOUR = "#9aa5b1"
_START, _END = ("start",), ("end",)


def _node(kind: str, name: Any) -> tuple[str, ...]:
    if kind == "start":
        return _START
    if kind == "end":
        return _END
    return ("act", str(name))


def assemble_process_map(
    dfg: pd.DataFrame,
    *,
    starts: pd.DataFrame | None,
    ends: pd.DataFrame | None,
    events: Mapping[str, int],
    n_cases: int,
    k: int,
    top_k: int | None,
    max_start_end: int = 3,
    min_start_end_share: float = 0.05,
) -> pd.DataFrame:
    """Privacy filter, top-k and layout on precomputed DFG / start / end frames.

    ``dfg`` has ``source, target, count, cases, median_seconds`` (the output of ``jm.dfg``);
    ``starts``/``ends`` have ``activity, count`` (``count`` = cases starting/ending there).
    """
    check_frame(
        dfg,
        ("source", "target", "count", "cases", "median_seconds"),
        what="dfg",
        hint="Pass the output of jm.dfg(log).",
    )
    edges = dfg.loc[:, ["source", "target", "count", "cases", "median_seconds"]].copy()
    edges["source"] = edges["source"].astype(str)
    edges["target"] = edges["target"].astype(str)
    small = edges["cases"].to_numpy() < k
    hidden = int(small.sum())
    edges = edges[~small]
    edges = edges.sort_values(
        ["count", "source", "target"], ascending=[False, True, True], kind="stable"
    )
    beyond = 0
    if top_k is not None and len(edges) > top_k:
        beyond = len(edges) - top_k
        edges = edges.head(top_k)
    edges.insert(0, "kind", "edge")
    shown = set(edges["source"]) | set(edges["target"])
    parts = [edges]
    hidden_se = 0
    for kind, frame in (("start", starts), ("end", ends)):
        if frame is None:
            continue
        check_frame(
            frame,
            ("activity", "count"),
            what=f"{kind} activities",
            hint=f"Pass the output of jm.{kind}_activities(log).",
        )
        f = frame.assign(activity=frame["activity"].astype(str))
        f = f[f["activity"].isin(shown)]
        ok = f["count"].to_numpy() >= k
        hidden_se += int((~ok).sum())
        f = f[ok & (f["count"].to_numpy() >= min_start_end_share * n_cases)]
        f = f.sort_values(["count", "activity"], ascending=[False, True], kind="stable")
        f = f.head(max_start_end)
        rows = pd.DataFrame(
            {
                "kind": kind,
                "source": pd.Series(
                    [None] * len(f) if kind == "start" else f["activity"].tolist(), dtype=object
                ),
                "target": pd.Series(
                    f["activity"].tolist() if kind == "start" else [None] * len(f), dtype=object
                ),
                "count": f["count"].to_numpy(),
                "cases": f["count"].to_numpy(),
                "median_seconds": np.nan,
            }
        )
        parts.append(rows)
    out = pd.concat(parts, ignore_index=True)
    out["count"] = out["count"].astype("int64")
    out["cases"] = out["cases"].astype("int64")
    out["median_seconds"] = out["median_seconds"].astype("float64")

    src_nodes = [
        _node(kd if kd == "start" else "act", s)
        for kd, s in zip(out["kind"], out["source"], strict=True)
    ]
    tgt_nodes = [
        _node(kd if kd == "end" else "act", t)
        for kd, t in zip(out["kind"], out["target"], strict=True)
    ]
    nodes: list[tuple[str, ...]] = []
    if (out["kind"] == "start").any():
        nodes.append(_START)
    nodes += sorted(
        {n for n in src_nodes + tgt_nodes if n[0] == "act"},
        key=lambda n: (-events.get(n[1], 0), n[1]),
    )
    if (out["kind"] == "end").any():
        nodes.append(_END)
    pos, routes = layered_layout(
        nodes,
        [(s, t, float(c)) for s, t, c in zip(src_nodes, tgt_nodes, out["count"], strict=True)],
        start=_START if _START in nodes else None,
        end=_END if _END in nodes else None,
    )

    def ev(n: tuple[str, ...]) -> int:
        return n_cases if n[0] != "act" else int(events.get(n[1], 0))

    out["source_layer"] = [pos[n][0] for n in src_nodes]
    out["source_x"] = [round(pos[n][1], 6) for n in src_nodes]
    out["target_layer"] = [pos[n][0] for n in tgt_nodes]
    out["target_x"] = [round(pos[n][1], 6) for n in tgt_nodes]
    out["via"] = [[(int(la), round(float(x), 6)) for la, x in r] for r in routes]
    out["source_events"] = [ev(n) for n in src_nodes]
    out["target_events"] = [ev(n) for n in tgt_nodes]
    out.attrs.update(
        {
            "k": k,
            "hidden_edges": hidden + hidden_se,
            "beyond_top_k": beyond,
            "top_k": top_k,
            "customers": n_cases,
        }
    )
    return out


def process_map_data(
    log: pd.DataFrame,
    *,
    top_k: int | None = 25,
    k: int = DEFAULT_K,
    channels: str | Iterable[str] | None = None,
    time_range: tuple[Any, Any] | None = None,
    personas: pd.Series | Mapping[str, Any] | None = None,
    persona: Any = None,
    start_end: bool = True,
) -> pd.DataFrame:
    """Edges of the process map of a log, with their layered layout.

    The directly-follows graph per customer (``jm.dfg``), keeping only edges taken by at least
    ``k`` customers (privacy) and then the ``top_k`` most frequent ones; start and end edges link
    a ``start`` / ``end`` node to the most common first / last activities.

    Parameters
    ----------
    log : DataFrame
        Canonical event log.
    top_k : int or None, default 25
        Keep the most frequent edges (by transitions) so the map stays readable.
    k : int, default 10
        Minimum number of customers behind an edge; smaller edges are hidden (counted in
        ``result.attrs["hidden_edges"]``).
    channels : str or list of str, optional
        Only events on these channels.
    time_range : (start, end), optional
        Only events with ``start <= timestamp < end`` (either bound may be None).
    personas : Series or mapping customer_id -> persona label, optional
    persona : label or list of labels, optional
        Only customers whose label in ``personas`` is ``persona``.
    start_end : bool, default True
        Add the start and end node, linked to the (up to three) most common first and last
        activities taken by at least 5% of the customers.

    Returns
    -------
    DataFrame
        One row per drawn edge: ``kind`` ("start", "edge", "end"), ``source``, ``target`` (None
        for the start/end node), ``count``, ``cases`` (customers), ``median_seconds``,
        ``source_layer, source_x, target_layer, target_x`` and ``via`` (the layout: layer
        index from the top, horizontal position in node widths, and the (layer, x) points a
        long edge passes through),
        ``source_events, target_events`` (events of the activity in the filtered log).
        ``attrs`` holds ``k``, ``hidden_edges``, ``beyond_top_k``, ``customers``.

    Examples
    --------
    >>> import journeymine as jm
    >>> from journeymine.report import process_map_data
    >>> synthetic = jm.datasets.make_journeys(n_customers=200, days=60, random_state=0)
    >>> personas = synthetic.customers.set_index("customer_id")["persona"]  # the true ones
    >>> log = jm.validate(synthetic.events)
    >>> edges = process_map_data(log, top_k=15, k=10)
    >>> int((edges["kind"] == "edge").sum()) <= 15, bool((edges["cases"] >= 10).all())
    (True, True)

    The map of one persona's customers (``personas`` maps customer_id -> persona):

    >>> one = process_map_data(log, personas=personas, persona="researcher", top_k=15)
    >>> 0 < one.attrs["customers"] < edges.attrs["customers"]
    True
    """
    from journeymine.journeys import dfg, end_activities, start_activities

    k = check_k(k)
    top_k = check_positive_int("top_k", top_k, allow_none=True)
    log = filter_log(
        log,
        channels=channels,
        time_range=time_range,
        personas=personas,
        persona=persona,
        purpose="process_map_data",
    )
    events = {str(a): int(c) for a, c in log[ACTIVITY].value_counts().items() if c}
    return assemble_process_map(
        dfg(log),
        starts=start_activities(log) if start_end else None,
        ends=end_activities(log) if start_end else None,
        events=events,
        n_cases=int(log[CUSTOMER_ID].nunique()),
        k=k,
        top_k=top_k,
    )


def process_map_figure(
    data: pd.DataFrame,
    *,
    title: str = "Process map",
    subtitle: str | None = None,
) -> go.Figure:
    """Draw a process map from :func:`process_map_data`.

    Node boxes show the activity and its number of events; edge width is the number of
    transitions, edge colour the median time between the two steps (log scale, colour bar);
    hover an edge's midpoint for transitions, customers and median time. The figure's width
    grows with the widest layer so that boxes never overlap.

    Examples
    --------
    >>> import journeymine as jm
    >>> from journeymine.report import process_map_data, process_map_figure
    >>> log = jm.validate(jm.datasets.make_journeys(n_customers=200, days=60,
    ...                                             random_state=0).events)
    >>> fig = process_map_figure(process_map_data(log, top_k=15))
    >>> fig.layout.title.text.startswith("<b>Process map")
    True
    """
    check_frame(
        data,
        EDGE_COLUMNS,
        what="process map data",
        hint="Pass the output of process_map_data(log).",
    )
    nodes: dict[tuple[str, ...], tuple[int, float, int]] = {}
    for side in ("source", "target"):
        for kind, name, lay, x, ev in zip(
            data["kind"],
            data[side],
            data[f"{side}_layer"],
            data[f"{side}_x"],
            data[f"{side}_events"],
            strict=True,
        ):
            nk = (
                "start"
                if (kind == "start" and side == "source")
                else ("end" if (kind == "end" and side == "target") else "act")
            )
            nodes[_node(nk, name)] = (int(lay), float(x), int(ev))
    if not nodes:
        fig = go.Figure(layout=base_layout(title, "no edge is supported by enough customers"))
        fig.update_layout(height=220, xaxis={"visible": False}, yaxis={"visible": False})
        return fig

    def label(n: tuple[str, ...]) -> str:
        return "▶ start" if n == _START else "■ end" if n == _END else n[1]

    n_layers = max(lay for lay, _, _ in nodes.values()) + 1
    xs_all = [x for _, x, _ in nodes.values()]
    for via in data["via"]:
        xs_all += [float(x) for _, x in via]
    font_size = 12
    char_px = font_size * 0.62
    box_px = {
        n: max(len(label(n)) * 1.08, len(f"{nodes[n][2]:,} events"), 8) * char_px + 18
        for n in nodes
    }
    unit_px = max(max(box_px.values()) + 26, 130.0)
    x_range = [min(xs_all) - 0.7, max(xs_all) + 0.7]
    margin = {"l": 20, "r": 120, "t": 95, "b": 30}  # t is raised below for long subtitles
    width = int(
        min(max((x_range[1] - x_range[0]) * unit_px + margin["l"] + margin["r"], 760), 2400)
    )
    px_x = (width - margin["l"] - margin["r"]) / (x_range[1] - x_range[0])
    row_px = 96
    height = margin["t"] + margin["b"] + row_px * n_layers
    y_range = [-(n_layers - 1) - 0.5, 0.5]
    px_y = (height - margin["t"] - margin["b"]) / (y_range[1] - y_range[0])
    coords = {n: (x, -float(lay)) for n, (lay, x, _) in nodes.items()}
    half_w = {n: box_px[n] / 2 / px_x for n in nodes}
    half_h = 19 / px_y
    lead = 18 / px_y  # vertical lead-in/out at the boxes

    max_count = float(data["count"].max()) if len(data) else 1.0
    med = data.loc[data["kind"] == "edge", "median_seconds"].to_numpy(dtype=float)
    med = med[np.isfinite(med)]
    lo = math.log10(max(float(med.min()), 1.0)) if len(med) else 0.0
    hi = math.log10(max(float(med.max()), 1.0)) if len(med) else 1.0
    if hi - lo < 1e-9:
        hi = lo + 1.0

    pair_set = {(s, t) for s, t in zip(data["source"], data["target"], strict=True)}
    fig = go.Figure()
    annotations: list[dict[str, Any]] = []
    mid_x: list[float] = []
    mid_y: list[float] = []
    mid_c: list[float] = []
    mid_text: list[str] = []
    se_x: list[float] = []
    se_y: list[float] = []
    se_text: list[str] = []
    order = np.argsort(data["count"].to_numpy(), kind="stable")  # thick edges drawn last
    for i in order:
        row = data.iloc[int(i)]
        s = _START if row["kind"] == "start" else ("act", str(row["source"]))
        t = _END if row["kind"] == "end" else ("act", str(row["target"]))
        (xs, ys), (xt, yt) = coords[s], coords[t]
        count, cases, median = int(row["count"]), int(row["cases"]), row["median_seconds"]
        w = 1.2 + 8.5 * math.sqrt(count / max_count)
        if row["kind"] != "edge":
            w = 1.0 + 3.0 * math.sqrt(count / max_count)
        if row["kind"] == "edge" and np.isfinite(median):
            frac = (math.log10(max(median, 1.0)) - lo) / (hi - lo)
            colour = sample_colorscale(TIME_SCALE, [min(max(frac, 0.0), 1.0)])[0]
        else:
            colour = START_END_COLOUR
        via = [(float(x), -float(lay)) for lay, x in row["via"]]
        if s == t:
            bx, by = self_loop(xs, ys, half_w[s], half_h, 36 / px_x)
        else:
            down = yt < ys
            sign = -1.0 if down else 1.0
            shift = 0.0
            if (row["target"], row["source"]) in pair_set and not via:
                shift = -0.2 if down else 0.2
            p0 = (xs + shift * half_w[s], ys + sign * half_h)
            p3 = (xt + shift * half_w[t], yt - sign * half_h)
            pts = [p0, (p0[0], p0[1] + sign * lead), *via, (p3[0], p3[1] - sign * lead), p3]
            bx, by = curve(pts)
        fig.add_trace(
            go.Scatter(
                x=bx,
                y=by,
                mode="lines",
                line={
                    "color": colour,
                    "width": w,
                    "dash": "solid" if row["kind"] == "edge" else "dot",
                },
                opacity=0.8,
                hoverinfo="skip",
                showlegend=False,
            )
        )
        dist = np.hypot((bx - bx[-1]) * px_x, (by - by[-1]) * px_y)
        far = np.flatnonzero(dist >= 16.0)
        tail = int(far[-1]) if len(far) else 0
        annotations.append(
            {
                "x": float(bx[-1]),
                "y": float(by[-1]),
                "ax": float(bx[tail]),
                "ay": float(by[tail]),
                "xref": "x",
                "yref": "y",
                "axref": "x",
                "ayref": "y",
                "text": "",
                "showarrow": True,
                "arrowhead": 2,
                "arrowsize": max(1.5, w / 2.8),
                "arrowwidth": 1.6,
                "arrowcolor": colour,
                "standoff": 0,
            }
        )
        mid = len(bx) // 2
        mx, my = float(bx[mid]), float(by[mid])
        if row["kind"] == "edge":
            mid_x.append(mx)
            mid_y.append(my)
            mid_c.append(math.log10(max(median, 1.0)) if np.isfinite(median) else lo)
            mid_text.append(
                f"<b>{plotly_text(row['source'])} → {plotly_text(row['target'])}</b><br>"
                f"transitions: {count:,}<br>customers: {cases:,}<br>"
                f"median time: {format_duration(median)}"
            )
        else:
            se_x.append(mx)
            se_y.append(my)
            what = "start with" if row["kind"] == "start" else "end with"
            act = row["target"] if row["kind"] == "start" else row["source"]
            se_text.append(f"{cases:,} customers {what} <b>{plotly_text(act)}</b>")
    tickvals, ticktext = duration_ticks(lo, hi)
    fig.add_trace(
        hover_markers(
            mid_x,
            mid_y,
            mid_text,
            "edges",
            size=9,
            color=mid_c,
            colorscale=TIME_SCALE,
            cmin=lo,
            cmax=hi,
            colorbar={
                "title": {"text": "median time<br>between steps", "side": "top"},
                "tickvals": tickvals,
                "ticktext": ticktext,
                "thickness": 12,
                "len": min(0.8, 320 / height),
                "lenmode": "fraction",
                "y": 1.0,
                "yanchor": "top",
                "x": 1.0,
                "xanchor": "left",
            },
        )
    )
    if se_x:
        fig.add_trace(
            hover_markers(se_x, se_y, se_text, "start/end", size=8, color=START_END_COLOUR)
        )
    for n, (_, _, ev) in nodes.items():
        x, y = coords[n]
        special = n in (_START, _END)
        text = label(n) if special else f"<b>{plotly_text(n[1])}</b><br>{ev:,} events"
        hover = f"{ev:,} customers" if special else f"<b>{plotly_text(n[1])}</b><br>{ev:,} events"
        annotations.append(
            {
                "x": x,
                "y": y,
                "xref": "x",
                "yref": "y",
                "text": text,
                "showarrow": False,
                "font": {"size": font_size, "color": "white" if special else INK, "family": FONT},
                "bgcolor": INK if special else "#f4f7fb",
                "bordercolor": INK if special else "#51606f",
                "borderwidth": 1,
                "borderpad": 4,
                "hovertext": hover,
                "align": "center",
                "width": box_px[n] - 10,
            }
        )
    shown = int((data["kind"] == "edge").sum())
    attrs = data.attrs
    if subtitle is None:
        bits = [f"{shown} most frequent transitions"]
        if attrs.get("customers"):
            bits.append(f"{attrs['customers']:,} customers")
        if attrs.get("hidden_edges"):
            bits.append(
                f"{attrs['hidden_edges']} edges with fewer than {attrs.get('k')} customers hidden"
            )
        bits.append("width = transitions, colour = median time")
        subtitle = " · ".join(bits)
    layout = base_layout(title, subtitle)
    top = max(margin["t"], layout["margin"]["t"] + 12)  # room for a wrapped subtitle
    height += top - margin["t"]
    margin["t"] = top
    fig.update_layout(**layout)
    fig.update_layout(
        width=width,
        height=height,
        margin=margin,
        annotations=annotations,
        xaxis={"visible": False, "range": x_range},
        yaxis={"visible": False, "range": y_range},
        hovermode="closest",
        dragmode="pan",
    )
    return fig
