"""Persona tracking figures: persona sizes over time and the migration Sankey, with the
facts the persona report says about them (the customers most likely to have moved, the pairs
a window tells apart least well)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from journeymine.exceptions import ConfigError
from journeymine.personas.tracks import check_recall
from journeymine.report._common import (
    DEFAULT_K,
    NO_PERSONA,
    check_frame,
    check_k,
    colour_map,
    finish_figure,
    hidden_subtitle,
    persona_label,
    plotly_text,
    rgba,
    sankey_figure,
    sankey_nodes,
    style_axes,
    suppress_small,
)

__all__ = [
    "describe_hard_pairs",
    "hard_pairs",
    "persona_migration_data",
    "persona_migration_figure",
    "persona_sizes_data",
    "persona_sizes_figure",
]

SIZES_COLUMNS = ("window", "persona", "customers", "share")
MIGRATION_COLUMNS = ("from_window", "from_persona", "to_window", "to_persona", "customers")


# ---------------------------------------------------------------- sizes over time
def _tracking_frame(obj: Any, name: str, what: str) -> pd.DataFrame:
    """``obj`` itself when it is a DataFrame, else its DataFrame attribute (or key) ``name``
    (a ``track_personas`` result, or a dict of its parts)."""
    if isinstance(obj, pd.DataFrame):
        return obj
    value = getattr(obj, name, None)
    if value is None and isinstance(obj, dict):
        value = obj.get(name)
    if not isinstance(value, pd.DataFrame):
        raise ConfigError(
            f"{what} needs a track_personas() result (with a DataFrame attribute {name!r}), got "
            f"{type(obj).__name__}."
        )
    return value


def persona_sizes_data(tracking: Any, *, k: int = DEFAULT_K) -> pd.DataFrame:
    """Customers per persona per window, long format, from a ``track_personas`` result.

    Cells with fewer than ``k`` customers (but more than zero) are removed (``attrs["hidden"]``).

    Returns
    -------
    DataFrame
        ``window, persona, customers, share`` (+ ``name`` when the result names personas).

    Examples
    --------
    >>> import pandas as pd
    >>> sizes = pd.DataFrame({0: [120, 100], 1: [80, 95]}, index=["2025-01", "2025-02"])
    >>> persona_sizes_data({"sizes": sizes})["customers"].tolist()
    [120, 80, 100, 95]
    """
    k = check_k(k)
    sizes = _tracking_frame(tracking, "sizes", "persona_sizes_data")
    long = sizes.copy()
    long.index = long.index.rename("window")
    long.columns = long.columns.rename("persona")
    out = long.stack().rename("customers").reset_index()
    out["customers"] = out["customers"].fillna(0).astype("int64")
    total = out.groupby("window", sort=False)["customers"].transform("sum")
    out["share"] = np.where(total > 0, out["customers"] / total.where(total > 0, 1), 0.0)
    small = (out["customers"] < k) & (out["customers"] > 0)
    hidden = int(small.sum())
    out = out[~small].reset_index(drop=True)
    names = _names(tracking)
    if names:
        out["name"] = [names.get(p, "") for p in out["persona"]]
    out.attrs.update({"k": k, "hidden": hidden})
    return out


def _names(tracking: Any) -> dict[Any, str]:
    names = getattr(tracking, "names", None)
    if names is None and isinstance(tracking, dict):
        names = tracking.get("names")
    if isinstance(names, pd.DataFrame):  # window x persona (track_personas): latest name
        out: dict[Any, str] = {}
        for persona in names.columns:
            given = [str(v) for v in names[persona] if isinstance(v, str) and v]
            if given:
                out[persona] = given[-1]
        return out
    if isinstance(names, pd.Series):
        return {k: str(v) for k, v in names.items()}
    if isinstance(names, dict):
        return {k: str(v) for k, v in names.items()}
    return {}


def _window_text(w: Any) -> str:
    """A window label: a date for window starts, else the value as text."""
    if isinstance(w, pd.Timestamp):
        return w.strftime("%Y-%m-%d") if w == w.normalize() else w.strftime("%Y-%m-%d %H:%M")
    return str(w)


def persona_sizes_figure(
    data: pd.DataFrame, *, title: str = "Persona sizes over time", subtitle: str | None = None
) -> go.Figure:
    """Stacked areas: customers per persona in each window.

    Hovering a window lists every persona's customers and share of that window.

    Parameters
    ----------
    data : DataFrame
        What :func:`persona_sizes_data` returns from a ``track_personas`` result: ``window,
        persona, customers, share`` (+ ``name``, for the legend). Persona -1 (no persona) is
        drawn in grey.
    title : str, default "Persona sizes over time"
    subtitle : str, optional
        Replaces the default note (customers per persona per window, and any cells under
        ``k`` that were hidden).

    Examples
    --------
    >>> import pandas as pd
    >>> from journeymine.report import persona_sizes_data, persona_sizes_figure
    >>> sizes = pd.DataFrame({0: [120, 100], 1: [80, 95]}, index=["2025-01", "2025-02"])
    >>> len(persona_sizes_figure(persona_sizes_data({"sizes": sizes})).data)
    2
    """
    check_frame(
        data, SIZES_COLUMNS, what="persona sizes data", hint="Pass persona_sizes_data() output."
    )
    names = dict(zip(data["persona"], data["name"], strict=True)) if "name" in data else {}
    personas = list(dict.fromkeys(data["persona"]))
    colours = colour_map(personas)
    windows = list(dict.fromkeys(data["window"]))
    xs = [plotly_text(w) if not isinstance(w, pd.Timestamp) else w for w in windows]
    fig = go.Figure()
    for p in personas:
        g = data[data["persona"] == p].set_index("window").reindex(windows)
        colour = "#b8c0cc" if p == NO_PERSONA else colours[p]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=g["customers"].fillna(0),
                mode="lines",
                stackgroup="one",
                name=plotly_text(persona_label(p, names)),
                line={"width": 0.8, "color": colour},
                fillcolor=rgba(colour, 0.75) if colour.startswith("#") else colour,
                customdata=g["share"].fillna(0),
                hovertemplate="%{x}<br>%{y:,} customers (%{customdata:.0%})<extra>%{fullData.name}"
                "</extra>",
            )
        )
    finish_figure(
        fig,
        title,
        subtitle,
        hidden_subtitle(
            "customers assigned to each persona per window (stable persona ids)",
            data.attrs,
            "cells",
        ),
        height=430,
        legend={"title": {"text": "persona"}},
        hovermode="x unified",
    )
    fig.update_xaxes(title_text="window")
    fig.update_yaxes(title_text="customers", rangemode="tozero")
    style_axes(fig)
    return fig


# ---------------------------------------------------------------- migration
def persona_migration_data(
    tracking: Any,
    *,
    k: int = DEFAULT_K,
    include_stayers: bool = True,
    movers_recall: float = 0.95,
) -> pd.DataFrame:
    """Customers moving between personas from one window to the next (Sankey-ready).

    Links with fewer than ``k`` customers are removed (``attrs["hidden"]``,
    ``attrs["hidden_customers"]``). With a ``track_personas`` result that has move
    probabilities (``smoothing="hmm"``), ``attrs["movers"]`` holds per pair of windows the size,
    expected recall and expected precision of ``tracking.movers(recall=movers_recall)``: the
    customers most likely to have changed persona.

    Returns
    -------
    DataFrame
        ``from_window, from_persona, to_window, to_persona, customers`` (and ``confident``
        and ``expected_moves`` when the tracking has them).

    Examples
    --------
    >>> import pandas as pd
    >>> mig = pd.DataFrame({"from_window": ["w1", "w1"], "from_persona": [0, 0],
    ...     "to_window": ["w2", "w2"], "to_persona": [0, 1], "customers": [90, 4]})
    >>> persona_migration_data({"migration": mig}).attrs["hidden"]
    1
    """
    k = check_k(k)
    movers_recall = check_recall(movers_recall, "movers_recall")
    mig = _tracking_frame(tracking, "migration", "persona_migration_data")
    check_frame(mig, MIGRATION_COLUMNS, what="migration", hint="")
    # ``confident`` (track_personas: probability >= 0.9 in both windows) and ``expected_moves``
    # (the sum of move probabilities) feed the findings' totals only; the figure shows
    # ``customers``
    extra = [c for c in ("confident", "expected_moves") if c in mig.columns]
    mig = mig.loc[:, [*MIGRATION_COLUMNS, *extra]]
    if not include_stayers:
        mig = mig[mig["from_persona"] != mig["to_persona"]]
    small = mig["customers"].to_numpy() < k
    out, hidden = suppress_small(mig, "customers", k)
    out.attrs.update(
        {
            "k": k,
            "hidden": hidden,
            "hidden_customers": int(mig.loc[small, "customers"].sum()),
            "names": _names(tracking),
            "movers": _movers(tracking, movers_recall),
            "movers_recall": movers_recall,
            "hard_pairs": hard_pairs(tracking),
        }
    )
    return out


def describe_hard_pairs(pairs: Sequence[tuple[int, int, float, float]], names: Any) -> str:
    """``(a, b, p_ab, p_ba)`` pairs of ``tracks.confusion().attrs["hard_pairs"]`` in words,
    with the personas' ``names`` (a mapping id -> name; ids without a name stay ids).

    Examples
    --------
    >>> describe_hard_pairs([(0, 1, 0.07, 0.1)], {0: "App loyalists", 1: "Promotion hunters"})
    "App loyalists and Promotion hunters (a window's App loyalists are Promotion hunters with probability 0.07, the reverse 0.10)"
    """  # noqa: E501
    return "; ".join(
        f"{names.get(a, a)} and {names.get(b, b)} (a window's {names.get(a, a)} are "
        f"{names.get(b, b)} with probability {ab:.2f}, the reverse {ba:.2f})"
        for a, b, ab, ba in pairs
    )


def hard_pairs(tracking: Any, top: int = 3) -> list[tuple[int, int, float, float]]:
    """The persona pairs one window tells apart least well (``tracking.confusion()``), at most
    ``top``; empty for tracks without window memberships."""
    if getattr(tracking, "move_probability", None) is None or not hasattr(tracking, "confusion"):
        return []
    return list(tracking.confusion().attrs["hard_pairs"][:top])


def _movers(tracking: Any, recall: float) -> list[dict[str, Any]]:
    """Per pair of windows, the size, expected recall and precision of ``tracking``'s movers
    list; empty without move probabilities."""
    if getattr(tracking, "move_probability", None) is None or not hasattr(tracking, "movers"):
        return []
    starts = tracking.windows["start"]
    out = []
    for w in range(1, len(starts)):
        listed = tracking.movers(w, recall=recall)
        out.append(
            {
                "from_window": starts[w - 1],
                "to_window": starts[w],
                "listed": len(listed),
                "expected_recall": listed.attrs["expected_recall"],
                "expected_precision": listed.attrs["expected_precision"],
            }
        )
    return out


def persona_migration_figure(
    data: pd.DataFrame, *, title: str = "Persona migration", subtitle: str | None = None
) -> go.Figure:
    """Sankey: one column per window, nodes are personas, links are customers who moved.

    Windows are in time order; customers without a persona (-1) are the grey node at the
    bottom of each column.

    Parameters
    ----------
    data : DataFrame
        What :func:`persona_migration_data` returns: ``from_window, from_persona, to_window,
        to_persona, customers``; ``attrs["names"]`` labels the personas. A link keeps its
        source persona's colour, paler for customers who stayed.
    title : str, default "Persona migration"
    subtitle : str, optional
        Replaces the span of windows and the links hidden for privacy (from ``attrs``).

    Examples
    --------
    >>> import pandas as pd
    >>> from journeymine.report import persona_migration_figure
    >>> mig = pd.DataFrame({"from_window": ["w1", "w1"], "from_persona": [0, 0],
    ...     "to_window": ["w2", "w2"], "to_persona": [0, 1], "customers": [90, 14]})
    >>> persona_migration_figure(mig).data[0].type
    'sankey'
    """
    check_frame(
        data, MIGRATION_COLUMNS, what="migration data", hint="Pass persona_migration_data() output."
    )
    names = data.attrs.get("names") or {}
    windows = list(dict.fromkeys([*data["from_window"], *data["to_window"]]))
    with contextlib.suppress(TypeError):
        windows = sorted(windows)
    col_of = {w: i for i, w in enumerate(windows)}
    keys, src, tgt = sankey_nodes(
        list(zip(data["from_window"], data["from_persona"], strict=True)),
        list(zip(data["to_window"], data["to_persona"], strict=True)),
    )
    personas = list(dict.fromkeys(p for _, p in keys))
    colours = colour_map([p for p in personas if p != NO_PERSONA])
    colours[NO_PERSONA] = "#b8c0cc"
    fig = sankey_figure(
        [col_of[w] for w, _ in keys],
        len(windows),
        (src, tgt, data["customers"].astype(int).tolist()),
        order=[(p == NO_PERSONA, str(p).zfill(8)) for _, p in keys],
        node_colours=[colours[p] for _, p in keys],
        link_colours=[  # a link has its source persona's colour, stronger when it moves
            rgba(colours[a], 0.22 if a == b else 0.55)
            for a, b in zip(data["from_persona"], data["to_persona"], strict=True)
        ],
        node={
            "label": [plotly_text(persona_label(p, names)) for _, p in keys],
            "pad": 12,
            "customdata": [plotly_text(_window_text(w)) for w, _ in keys],
            "hovertemplate": "%{label}<br>window %{customdata}<br>%{value:,} customers"
            "<extra></extra>",
        },
        link={
            "hovertemplate": "%{source.label} → %{target.label}<br>%{value:,} customers"
            "<extra></extra>"
        },
    )
    bits = [
        f"{len(windows)} windows: {plotly_text(_window_text(windows[0]))} … "
        f"{plotly_text(_window_text(windows[-1]))}"
        if windows
        else "",
        "link width = customers; pale links = stayed",
    ]
    if data.attrs.get("hidden"):
        bits.append(
            f"{data.attrs['hidden']} links ({data.attrs.get('hidden_customers', 0):,}"
            f" customers) with fewer than {data.attrs.get('k')} customers hidden"
        )
    default = " · ".join(b for b in bits if b)
    finish_figure(fig, title, subtitle, default, height=max(420, 130 + 40 * len(personas)))
    return fig
