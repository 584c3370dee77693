"""Shared helpers of the report package: input checks, privacy threshold, text and styling.

Every string that comes from the data (activity, channel, persona names, customer ids) and is
placed in a plotly figure goes through :func:`plotly_text`: plotly.js renders figure text as a
small subset of HTML, so ``<b>`` would turn bold and an unknown tag would vanish. Escaping it as
entities makes plotly draw the characters literally (it decodes ``&lt;``, ``&gt;``, ``&amp;``).
"""

from __future__ import annotations

import html
import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from journeymine.exceptions import ConfigError, EmptyLogError, EventLogError
from journeymine.schema import (
    ACTIVITY,
    CHANNEL,
    CUSTOMER_ID,
    REQUIRED_COLUMNS,
    TIMESTAMP,
    require_columns,
    to_time_range,
)

__all__ = [
    "DEFAULT_K",
    "FONT",
    "NO_PERSONA",
    "NO_PERSONA_NAME",
    "PALETTE",
    "base_layout",
    "check_frame",
    "check_k",
    "check_log",
    "customer_event_order",
    "filter_log",
    "finish_figure",
    "format_duration",
    "heatmap_figure",
    "hidden_subtitle",
    "period_text",
    "persona_label",
    "plotly_text",
    "rgba",
    "sankey_figure",
    "sankey_node_values",
    "sankey_nodes",
    "sankey_y",
    "suppress_small",
]

DEFAULT_K = 10
#: The label of customers without a persona.
NO_PERSONA = -1
#: How customers without a persona are labelled.
NO_PERSONA_NAME = "no persona"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
# colour-blind friendly qualitative palette (Okabe-Ito, then Tableau extras)
PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#8C564B",
    "#7F7F7F",
    "#BCBD22",
    "#17BECF",
    "#1F3A93",
)
INK = "#1f2933"
MUTED = "#6b7785"
GRID = "#e6e9ee"


def plotly_text(value: Any) -> str:
    """Escape a data string for plotly text (``&``, ``<``, ``>`` as entities).

    Examples
    --------
    >>> plotly_text("<script>alert(1)</script>")
    '&lt;script&gt;alert(1)&lt;/script&gt;'
    """
    return html.escape(str(value), quote=False)


def check_k(k: int) -> int:
    """Validate the minimum group size ``k`` (a positive integer)."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ConfigError(
            f"k={k!r} is not allowed: the minimum group size must be an integer >= 1 "
            f"(default {DEFAULT_K}). Use k=1 to show every group (only for private reports)."
        )
    return int(k)


def check_positive_int(name: str, value: Any, *, allow_none: bool = False) -> int | None:
    """Validate an optional positive integer argument such as ``top_k``."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        allowed = "a positive integer or None" if allow_none else "a positive integer"
        raise ConfigError(f"{name}={value!r} is not allowed; use {allowed}.")
    return int(value)


def check_log(log: Any, *, purpose: str, channel: bool = False) -> pd.DataFrame:
    """Check that ``log`` is a canonical event log DataFrame (cheap checks only)."""
    if not isinstance(log, pd.DataFrame):
        raise EventLogError(
            f"{purpose} needs an event log DataFrame, got {type(log).__name__}. Read files "
            f"with jm.read_events(path) first."
        )
    cols = (*REQUIRED_COLUMNS, CHANNEL) if channel else REQUIRED_COLUMNS
    require_columns(log, cols, purpose=purpose)
    if len(log) == 0:
        raise EmptyLogError(f"{purpose}: the event log is empty (0 rows).")
    ts = log[TIMESTAMP].dtype
    if not isinstance(ts, pd.DatetimeTZDtype):
        raise EventLogError(
            f"{purpose}: column 'timestamp' has dtype {ts}, expected timezone-aware "
            f"datetime64 (UTC). Pass the log through jm.validate(log) first."
        )
    return log


def check_frame(frame: Any, columns: Sequence[str], *, what: str, hint: str) -> pd.DataFrame:
    """Check that a result frame (e.g. the output of ``jm.dfg``) has the columns we draw."""
    if not isinstance(frame, pd.DataFrame):
        raise ConfigError(f"{what} must be a DataFrame, got {type(frame).__name__}. {hint}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ConfigError(
            f"{what} lacks column(s) {missing}; it needs {list(columns)} and has "
            f"{[str(c) for c in frame.columns]}. {hint}"
        )
    return frame


def _as_list(value: str | Iterable[str]) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value]


def filter_log(
    log: pd.DataFrame,
    *,
    channels: str | Iterable[str] | None = None,
    time_range: tuple[Any, Any] | None = None,
    personas: pd.Series | Mapping[str, Any] | None = None,
    persona: Any = None,
    purpose: str,
) -> pd.DataFrame:
    """Check ``log`` (:func:`check_log`), then keep the events on ``channels``, inside
    ``time_range`` and of customers whose label in ``personas`` (customer_id -> persona)
    equals ``persona`` (or is in it, for a list).

    Unknown channels and persona labels raise a :class:`ConfigError` with the allowed values.
    An empty result raises :class:`EmptyLogError`.
    """
    log = check_log(log, purpose=purpose)
    mask = np.ones(len(log), dtype=bool)
    what: list[str] = []
    if channels is not None:
        require_columns(log, [CHANNEL], purpose=f"{purpose} with channels=")
        wanted = _as_list(channels)
        present = {str(c) for c in log[CHANNEL].dropna().unique()}
        from journeymine.exceptions import did_you_mean

        for c in wanted:
            if c not in present:
                raise ConfigError(
                    f"channel {c!r} is not in the log.{did_you_mean(c, present)} "
                    f"Channels in the log: {sorted(present)}."
                )
        mask &= log[CHANNEL].astype(object).isin(wanted).to_numpy()
        what.append(f"channels {wanted}")
    if time_range is not None:
        start, end = to_time_range(time_range)
        ts = log[TIMESTAMP]
        if start is not None:
            mask &= (ts >= start).to_numpy()
        if end is not None:
            mask &= (ts < end).to_numpy()
        what.append(f"time range {time_range}")
    if persona is not None and personas is None:
        raise ConfigError(
            "persona= needs personas= too: a Series or mapping customer_id -> persona label "
            "(e.g. PersonaMiner().fit(log).labels_)."
        )
    if personas is not None:
        labels = personas if isinstance(personas, pd.Series) else pd.Series(dict(personas))
        if persona is not None:
            wanted_p = list(persona) if isinstance(persona, list | tuple | set) else [persona]
            present_p = set(labels.unique().tolist())
            for p in wanted_p:
                if p not in present_p:
                    raise ConfigError(
                        f"persona {p!r} is not among the persona labels "
                        f"{sorted(present_p, key=str)}."
                    )
            keep_ids = labels.index[labels.isin(wanted_p)].astype(str)
            mask &= log[CUSTOMER_ID].isin(keep_ids).to_numpy()
            what.append(f"persona {wanted_p}")
    if mask.all():
        return log
    out = log[mask]
    if len(out) == 0:
        raise EmptyLogError(
            f"{purpose}: no events left after filtering on {', '.join(what)}. Widen the filter."
        )
    for col in (ACTIVITY, CHANNEL):
        if col in out.columns and isinstance(out[col].dtype, pd.CategoricalDtype):
            out = out.assign(**{col: out[col].cat.remove_unused_categories()})
    return out


def customer_event_order(log: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Every event's customer code (in order of first appearance) and the positions that sort
    the events by customer, then time (ties keep input order)."""
    cust, _ = pd.factorize(log[CUSTOMER_ID], sort=False)
    ts = log[TIMESTAMP].to_numpy(dtype="datetime64[us]").view("int64")
    return cust, np.lexsort((ts, cust))


def suppress_small(frame: pd.DataFrame, column: str, k: int) -> tuple[pd.DataFrame, int]:
    """Drop rows whose ``column`` (a count of customers, or of touches) is below ``k``; return
    (kept, hidden).

    Examples
    --------
    >>> kept, hidden = suppress_small(pd.DataFrame({"cases": [12, 3, 10]}), "cases", 10)
    >>> kept["cases"].tolist(), hidden
    ([12, 10], 1)
    """
    small = frame[column].to_numpy() < k
    return frame[~small].reset_index(drop=True), int(small.sum())


def format_duration(seconds: float) -> str:
    """A short human duration: ``'45 s'``, ``'3.2 min'``, ``'5.0 h'``, ``'2.1 d'``.

    Examples
    --------
    >>> [format_duration(s) for s in (45, 192, 18000, 181440)]
    ['45 s', '3.2 min', '5.0 h', '2.1 d']
    """
    if seconds is None or not math.isfinite(float(seconds)):
        return "n/a"
    s = float(seconds)
    if s < 60:
        return f"{s:.0f} s"
    if s < 3600:
        return f"{s / 60:.1f} min"
    if s < 86400:
        return f"{s / 3600:.1f} h"
    return f"{s / 86400:.1f} d"


def persona_label(persona: Any, names: Mapping[Any, str]) -> str:
    """``"3: Night owls"`` for persona 3 named in ``names``, ``"3"`` without a name, and
    :data:`NO_PERSONA_NAME` for :data:`NO_PERSONA`."""
    if persona == NO_PERSONA or persona == str(NO_PERSONA):
        return NO_PERSONA_NAME
    name = names.get(persona)
    return f"{persona}: {name}" if name else str(persona)


def period_text(log: pd.DataFrame) -> str:
    """First to last day of a log, e.g. ``"2025-01-01 to 2025-03-01"``."""
    lo, hi = log[TIMESTAMP].min(), log[TIMESTAMP].max()
    return f"{lo:%Y-%m-%d} to {hi:%Y-%m-%d}"


def format_share(value: float) -> str:
    """A percentage with sensible precision: ``'73%'``, ``'4.2%'``, ``'0.31%'``."""
    p = 100.0 * float(value)
    if p >= 10 or p == 0:
        return f"{p:.0f}%"
    if p >= 1:
        return f"{p:.1f}%"
    return f"{p:.2f}%"


def hidden_subtitle(
    text: str, attrs: Mapping[str, Any], what: str, *, counting: str = "customers"
) -> str:
    """``text``, then how many ``what`` suppression hid (``attrs["hidden"]``: fewer than
    ``attrs["k"]`` ``counting``), if any."""
    hidden = int(attrs.get("hidden", 0) or 0)
    if not hidden:
        return text
    return f"{text} · {hidden} {what} with fewer than {attrs.get('k')} {counting} hidden"


def base_layout(title: str, subtitle: str = "", **extra: Any) -> dict[str, Any]:
    """The shared look of every figure: title (+ subtitle), fonts, white background."""
    text = f"<b>{title}</b>"
    lines = _wrap(subtitle) if subtitle else []
    for line in lines:
        text += f"<br><span style='font-size:12px;color:{MUTED}'>{line}</span>"
    layout: dict[str, Any] = {
        "title": {"text": text, "x": 0.0, "xanchor": "left", "font": {"size": 17, "color": INK}},
        "font": {"family": FONT, "size": 12, "color": INK},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "margin": {"l": 70, "r": 30, "t": 72 + 17 * len(lines), "b": 60},
        "hoverlabel": {"font": {"family": FONT}},
    }
    layout.update(extra)
    return layout


def finish_figure(
    fig: go.Figure, title: str, subtitle: str | None, default: str, **layout: Any
) -> go.Figure:
    """Give ``fig`` the shared look: ``title`` and ``subtitle`` (``default``, what the figure
    shows, when it is None), then the figure's own ``layout`` (height, legend...), merged into
    the shared one as :meth:`plotly.graph_objects.Figure.update_layout` merges."""
    fig.update_layout(**base_layout(title, default if subtitle is None else subtitle))
    if layout:
        fig.update_layout(**layout)
    return fig


def _wrap(text: str, width: int = 92) -> list[str]:
    """Split a subtitle at its " · " separators into lines of at most ~``width`` characters."""
    parts = text.split(" · ")
    lines: list[str] = []
    for part in parts:
        if lines and len(lines[-1]) + 3 + len(part) <= width:
            lines[-1] += " · " + part
        else:
            lines.append(part)
    return lines


def style_axes(fig: go.Figure) -> go.Figure:
    """Light grid, dark axis lines and readable ticks on every cartesian axis."""
    axis = {
        "showgrid": True,
        "gridcolor": GRID,
        "zeroline": False,
        "linecolor": "#9aa5b1",
        "ticks": "outside",
        "tickcolor": "#9aa5b1",
        "automargin": True,
    }
    fig.update_xaxes(**axis)
    fig.update_yaxes(**axis)
    return fig


def colour_map(values: Iterable[Any]) -> dict[Any, str]:
    """A stable colour per distinct value (first come, first served, palette cycles)."""
    out: dict[Any, str] = {}
    for v in values:
        if v not in out:
            out[v] = PALETTE[len(out) % len(PALETTE)]
    return out


def sankey_nodes(
    sources: Sequence[Hashable], targets: Sequence[Hashable]
) -> tuple[dict[Any, int], list[int], list[int]]:
    """Number the Sankey nodes of links ``sources[i] -> targets[i]`` (node keys such as
    ``(column, name)``) in order of first appearance, sources first; return the key -> index
    map and the source and target index of every link."""
    keys: dict[Any, int] = {}
    for key in [*sources, *targets]:
        keys.setdefault(key, len(keys))
    return keys, [keys[k] for k in sources], [keys[k] for k in targets]


def sankey_y(
    columns: Sequence[int], values: Sequence[float], order: Sequence[Any] | None = None
) -> list[float]:
    """Vertical centres (0 = top) for Sankey nodes stacked per column, largest first (or in
    ``order``), proportional to their values, so plotly keeps every node in its column."""
    n = len(columns)
    keys = list(order) if order is not None else [-float(v) for v in values]
    y = [0.5] * n
    by_col: dict[int, list[int]] = {}
    for i, c in enumerate(columns):
        by_col.setdefault(int(c), []).append(i)
    for idx in by_col.values():
        idx.sort(key=lambda i: (keys[i], i))
        total = float(sum(max(values[i], 0.0) for i in idx)) or 1.0
        gap = 0.04 if len(idx) > 1 else 0.0
        room = 0.96 - gap * (len(idx) - 1)
        pos = 0.02
        for i in idx:
            h = room * max(values[i], 0.0) / total
            y[i] = min(max(pos + h / 2, 0.001), 0.999)
            pos += h + gap
    return y


def sankey_node_values(
    n: int, src: Sequence[int], tgt: Sequence[int], value: Sequence[float]
) -> list[float]:
    """Size of each of ``n`` Sankey nodes: the larger of its inflow and its outflow."""
    inflow = [0.0] * n
    outflow = [0.0] * n
    for a, b, v in zip(src, tgt, value, strict=True):
        outflow[a] += float(v)
        inflow[b] += float(v)
    return [max(i, o) for i, o in zip(inflow, outflow, strict=True)]


def sankey_figure(
    columns: Sequence[int],
    n_columns: int,
    links: tuple[Sequence[int], Sequence[int], Sequence[int]],
    *,
    node_colours: Sequence[str],
    link_colours: Sequence[str],
    node: Mapping[str, Any],
    link: Mapping[str, Any],
    order: Sequence[Any] | None = None,
) -> go.Figure:
    """A Sankey whose nodes sit in ``columns`` (0 .. ``n_columns`` - 1, spread over the width)
    and whose ``links`` (source, target and value of every link) size the nodes, stacked per
    column as :func:`sankey_y` stacks them (in ``order``, if given).

    ``node_colours`` and ``link_colours`` colour every node and link; ``node`` and ``link``
    add the figure's own properties (labels, padding, hover text...).
    """
    src, tgt, value = links
    x = [0.01 + 0.98 * c / max(n_columns - 1, 1) for c in columns]
    y = sankey_y(columns, sankey_node_values(len(columns), src, tgt, value), order=order)
    return go.Figure(
        go.Sankey(
            arrangement="snap",
            node={"x": x, "y": y, "thickness": 16, "color": node_colours, **node},
            link={"source": src, "target": tgt, "value": value, "color": link_colours, **link},
        )
    )


def heatmap_figure(
    z: Any,
    x: Sequence[str],
    y: Sequence[str],
    text: Any,
    *,
    colorbar: Mapping[str, Any],
    **trace: Any,
) -> go.Figure:
    """A figure of one heatmap in the shared look: ``text`` written in each cell, 2 px between
    cells and a thin colour bar (``colorbar`` adds its title and ticks); ``trace`` adds the
    heatmap's own properties (colour scale, range, hover text...)."""
    return go.Figure(
        go.Heatmap(
            z=z,
            x=x,
            y=y,
            text=text,
            texttemplate="%{text}",
            xgap=2,
            ygap=2,
            colorbar={"thickness": 12, **colorbar},
            **trace,
        )
    )


def rgba(hex_colour: str, alpha: float) -> str:
    """``'#RRGGBB'`` as a plotly ``'rgba(r,g,b,alpha)'`` colour."""
    h = hex_colour.lstrip("#")
    r, g, b = (int(h[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"
