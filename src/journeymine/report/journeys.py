"""Journey figures: Sankey of paths around an activity, funnel, variants table (channel
switches: :mod:`journeymine.report.channels`, re-exported here).

Each figure has a ``*_data()`` twin that computes a tidy DataFrame from a log with
:mod:`journeymine.journeys` and applies the privacy threshold ``k`` (rows supported by fewer than
``k`` customers are removed; ``result.attrs["hidden"]`` says how many), and a ``*_figure()`` that
draws such a frame.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from journeymine.compat import renamed_keywords
from journeymine.report._common import (
    DEFAULT_K,
    INK,
    check_frame,
    check_k,
    check_log,
    check_positive_int,
    colour_map,
    filter_log,
    finish_figure,
    format_share,
    hidden_subtitle,
    plotly_text,
    rgba,
    sankey_figure,
    sankey_nodes,
    style_axes,
    suppress_small,
)
from journeymine.report.channels import channel_switch_data, channel_switch_figure

__all__ = [
    "channel_switch_data",
    "channel_switch_figure",
    "funnel_data",
    "funnel_figure",
    "paths_data",
    "paths_figure",
    "variants_data",
    "variants_figure",
]

PATH_COLUMNS = ("step", "source", "target", "cases")
FUNNEL_COLUMNS = ("step", "activity", "cases", "conversion", "step_conversion", "drop_off")
VARIANT_COLUMNS = ("variant", "length", "cases", "share")
VARIANT_SEP = " > "


# ---------------------------------------------------------------- paths (Sankey)
def paths_data(
    log: pd.DataFrame,
    activity: str,
    *,
    direction: Literal["after", "before"] = "after",
    max_steps: int = 3,
    k: int = DEFAULT_K,
    top_k: int | None = None,
    channels: str | Iterable[str] | None = None,
    time_range: tuple[Any, Any] | None = None,
    personas: pd.Series | Mapping[str, Any] | None = None,
    persona: Any = None,
) -> pd.DataFrame:
    """Sankey-ready paths out of (``direction="after"``) or into (``"before"``) an activity.

    Computed by ``jm.paths`` on the (optionally filtered) log; every link taken by fewer than
    ``k`` customers is removed so a shared report cannot single out a customer.

    Returns
    -------
    DataFrame
        ``step, source, target, cases`` (step 1 is next to ``activity``); ``attrs`` holds
        ``activity``, ``direction``, ``k`` and ``hidden`` (links removed).

    Examples
    --------
    >>> import journeymine as jm
    >>> from journeymine.report import paths_data
    >>> log = jm.validate(jm.datasets.make_journeys(n_customers=200, days=60,
    ...                                             random_state=0).events)
    >>> p = paths_data(log, "add_to_cart", max_steps=2, k=10)
    >>> bool((p["cases"] >= 10).all()), p.attrs["direction"]
    (True, 'after')
    """
    from journeymine.journeys import paths

    if direction not in ("after", "before"):
        from journeymine.exceptions import ConfigError

        raise ConfigError(f"direction={direction!r} is not allowed; use 'after' or 'before'.")
    k = check_k(k)
    check_positive_int("max_steps", max_steps)
    top_k = check_positive_int("top_k", top_k, allow_none=True)
    log = filter_log(
        log,
        channels=channels,
        time_range=time_range,
        personas=personas,
        persona=persona,
        purpose="paths_data",
    )
    raw = paths(log, activity, direction=direction, max_steps=max_steps)
    check_frame(raw, PATH_COLUMNS, what="jm.paths output", hint="")
    out, hidden = suppress_small(raw.loc[:, list(PATH_COLUMNS)], "cases", k)
    if top_k is not None:
        out = (
            out.sort_values(["step", "cases"], ascending=[True, False], kind="stable")
            .groupby("step", sort=True)
            .head(top_k)
            .reset_index(drop=True)
        )
    out.attrs.update({"activity": str(activity), "direction": direction, "k": k, "hidden": hidden})
    return out


def paths_figure(
    data: pd.DataFrame, *, title: str | None = None, subtitle: str | None = None
) -> go.Figure:
    """Sankey of :func:`paths_data`: columns are steps, link width is customers.

    Parameters
    ----------
    data : DataFrame
        What :func:`paths_data` returns: ``step, source, target, cases``, with
        ``attrs["activity"]`` and ``attrs["direction"]`` placing the anchor activity at the
        left (``"after"``) or right (``"before"``) edge.
    title : str, optional
        Default: "Paths after <activity>" (or "before"), from ``data.attrs``.
    subtitle : str, optional
        Replaces the note on the number of steps and on the links hidden for privacy; ``""``
        for none.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeymine.report import paths_figure
    >>> data = pd.DataFrame({"step": [1, 1, 2], "source": ["cart", "cart", "checkout"],
    ...                      "target": ["checkout", "view", "purchase"], "cases": [40, 25, 30]})
    >>> data.attrs.update({"activity": "cart", "direction": "after"})
    >>> fig = paths_figure(data)
    >>> len(fig.data[0].node.label)
    4
    """
    check_frame(data, PATH_COLUMNS, what="paths data", hint="Pass the output of paths_data().")
    direction = data.attrs.get("direction", "after")
    activity = data.attrs.get("activity")
    steps = np.abs(data["step"].astype(int).to_numpy())
    max_step = int(steps.max()) if len(steps) else 1
    if direction == "before":  # step -s goes from s places before the anchor to s - 1
        src_col = max_step - steps
        tgt_col = max_step - steps + 1
    else:  # step s goes from s - 1 places after the anchor to s
        src_col = steps - 1
        tgt_col = steps
    keys, src, tgt = sankey_nodes(
        [(int(c), str(n)) for c, n in zip(src_col, data["source"], strict=True)],
        [(int(c), str(n)) for c, n in zip(tgt_col, data["target"], strict=True)],
    )
    names = sorted({n for _, n in keys})
    colours = colour_map([str(activity), *names] if activity is not None else names)
    n_cols = max_step + 1
    link_colour = [
        colours[str(n)] for n in (data["source"] if direction == "after" else data["target"])
    ]
    fig = sankey_figure(
        [c for c, _ in keys],
        n_cols,
        (src, tgt, data["cases"].astype(int).tolist()),
        node_colours=[colours[n] for _, n in keys],
        link_colours=[rgba(c, 0.35) for c in link_colour],
        node={
            "label": [plotly_text(n) for _, n in keys],
            "pad": 14,
            "line": {"color": "white", "width": 0.5},
            "hovertemplate": "%{label}<br>%{value:,} customers<extra></extra>",
        },
        link={
            "customdata": data["step"].astype(int).tolist(),
            "hovertemplate": "%{source.label} → %{target.label}<br>step %{customdata}: "
            "%{value:,} customers<extra></extra>",
        },
    )
    if title is None:
        where = "after" if direction == "after" else "before"
        title = f"Paths {where} {plotly_text(activity)}" if activity is not None else "Paths"
    return finish_figure(
        fig,
        title,
        subtitle,
        hidden_subtitle(
            f"first occurrence per customer, {max_step} step{'s' * (max_step > 1)}"
            " · link width = customers",
            data.attrs,
            "links",
        ),
        height=max(
            420,
            40
            + 26 * max((sum(1 for c, _ in keys if c == col) for col in range(n_cols)), default=1)
            + 160,
        ),
    )


# ---------------------------------------------------------------- funnel
@renamed_keywords(by="segment")
def funnel_data(
    log: pd.DataFrame,
    steps: Sequence[str],
    *,
    within: str | pd.Timedelta | None = None,
    segment: str | pd.Series | Mapping[str, Any] | None = None,
    k: int = DEFAULT_K,
) -> pd.DataFrame:
    """Ordered funnel with conversion and drop-off (``jm.funnel``), one block per segment.

    A step (or segment) reached by fewer than ``k`` customers (but more than zero) is removed
    with the steps after it, since its count could single out a customer.

    Parameters
    ----------
    log : DataFrame
        Canonical event log.
    steps : list of str
        Activities in funnel order.
    within : str or Timedelta, optional
        Time limit from the entry event, as in ``jm.funnel``.
    segment : str, dict or Series, optional
        One funnel per segment, as ``segment`` of ``jm.funnel``: a column name or a mapping
        customer_id -> label. Renamed from ``by`` (which still works, with a
        ``FutureWarning``, until the next minor release).
    k : int, default 10
        Minimum number of customers behind a step.

    Returns
    -------
    DataFrame
        ``step, activity, cases, conversion, step_conversion, drop_off`` (customers lost since
        the previous step) (+ the segment column); ``attrs`` holds ``k``,
        ``hidden`` and ``segment`` (the segment column or None).

    Examples
    --------
    Three customers view a product, two of them add it to the cart and one buys it; with
    ``k=2`` the purchase, reached by a single customer, is not shown:

    >>> import pandas as pd
    >>> from journeymine.report import funnel_data
    >>> log = pd.DataFrame({"customer_id": ["a", "a", "a", "b", "b", "c"],
    ...     "timestamp": pd.date_range("2025-01-01", periods=6, freq="h", tz="UTC"),
    ...     "activity": ["view", "cart", "buy", "view", "cart", "view"]})
    >>> f = funnel_data(log, ["view", "cart", "buy"], k=2)
    >>> f[["activity", "cases", "conversion", "drop_off"]].values.tolist()
    [['view', 3, 1.0, 0], ['cart', 2, 0.6666666666666666, 1]]
    >>> f.attrs["hidden"]
    1
    """
    from journeymine.journeys import funnel

    k = check_k(k)
    log = check_log(log, purpose="funnel_data")
    raw = funnel(log, list(steps), within=within, segment=segment)
    check_frame(raw, FUNNEL_COLUMNS, what="jm.funnel output", hint="")
    return _suppress_funnel(raw, _segment_column(raw), k)


def _segment_column(funnel: pd.DataFrame) -> str | None:
    """The segment column of a funnel frame: its first column beyond ``FUNNEL_COLUMNS``."""
    extra = [c for c in funnel.columns if c not in FUNNEL_COLUMNS]
    return extra[0] if extra else None


def _suppress_funnel(raw: pd.DataFrame, seg: str | None, k: int) -> pd.DataFrame:
    parts = []
    hidden = 0
    groups = raw.groupby(seg, sort=False, observed=True) if seg else [(None, raw)]
    for _, g in groups:
        g = g.sort_values("step", kind="stable")
        small = (g["cases"].to_numpy() < k) & (g["cases"].to_numpy() > 0)
        if small.any():
            cut = int(np.flatnonzero(small)[0])
            hidden += len(g) - cut
            g = g.iloc[:cut]
        parts.append(g)
    out = pd.concat(parts, ignore_index=True) if parts else raw.iloc[:0]
    out.attrs.update({"k": k, "hidden": hidden, "segment": seg})
    return out


def funnel_figure(
    data: pd.DataFrame, *, title: str = "Funnel", subtitle: str | None = None
) -> go.Figure:
    """Funnel bars with conversion from the first step and the drop-off between steps.

    A funnel with a segment column (``attrs["segment"]``, as :func:`funnel_data` sets it with
    ``segment=``) is drawn as grouped bars instead: conversion from step 1, one colour per
    segment.

    Parameters
    ----------
    data : DataFrame
        What :func:`funnel_data` returns: ``step, activity, cases, conversion,
        step_conversion, drop_off`` (+ the segment column).
    title : str, default "Funnel"
    subtitle : str, optional
        Replaces what the bars measure (customers reaching each step, or each segment's share)
        and the count of steps hidden for privacy; ``""`` for none.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeymine.report import funnel_figure
    >>> data = pd.DataFrame({"step": [1, 2, 3], "activity": ["view", "cart", "buy"],
    ...     "cases": [100, 40, 30], "conversion": [1.0, 0.4, 0.3],
    ...     "step_conversion": [1.0, 0.4, 0.75], "drop_off": [0, 60, 10]})
    >>> funnel_figure(data).data[0].type
    'funnel'
    """
    check_frame(data, FUNNEL_COLUMNS, what="funnel data", hint="Pass funnel_data() output.")
    seg = data.attrs.get("segment")
    if seg is None:
        seg = _segment_column(data)
    if seg is not None:
        return _segmented_funnel(data, seg, title, subtitle)
    fig = go.Figure()
    g = data.sort_values("step", kind="stable")
    labels = [f"{int(s)}. {plotly_text(a)}" for s, a in zip(g["step"], g["activity"], strict=True)]
    lost = 1.0 - g["step_conversion"].to_numpy(dtype=float)
    text = [
        f"{int(c):,} · {format_share(conv)}"
        + (
            f"<br><span style='font-size:10px'>−{int(d):,} ({format_share(x)}) from previous</span>"
            if i and d > 0
            else ""
        )
        for i, (c, conv, d, x) in enumerate(
            zip(g["cases"], g["conversion"], g["drop_off"], lost, strict=True)
        )
    ]
    fig.add_trace(
        go.Funnel(
            y=labels,
            x=g["cases"].astype(int).tolist(),
            text=text,
            textinfo="text",
            textposition="inside",
            name="customers",
            marker={"color": "#0072B2"},
            connector={"line": {"color": "#c5ccd6", "width": 1}},
            customdata=np.column_stack([g["step_conversion"], g["drop_off"]]),
            hovertemplate="%{y}<br>%{x:,} customers<br>from previous step: "
            "%{customdata[0]:.1%}<br>lost since previous step: %{customdata[1]:,}"
            "<extra></extra>",
        )
    )
    finish_figure(
        fig,
        title,
        subtitle,
        hidden_subtitle(
            "customers reaching each step in order (share of step 1)", data.attrs, "steps"
        ),
        height=max(320, 150 + 70 * len(g)),
        showlegend=False,
    )
    fig.update_yaxes(title_text="step", automargin=True)
    fig.update_xaxes(title_text="customers")
    return fig


def _segmented_funnel(data: pd.DataFrame, seg: str, title: str, subtitle: str | None) -> go.Figure:
    """Grouped bars: conversion from step 1 per step, one colour per segment."""
    groups = list(data.groupby(seg, sort=True, observed=True))
    colours = colour_map([str(name) for name, _ in groups])
    steps = data.drop_duplicates("step").sort_values("step", kind="stable")
    labels = [
        f"{int(s)}. {plotly_text(a)}" for s, a in zip(steps["step"], steps["activity"], strict=True)
    ]
    fig = go.Figure()
    for name, g in groups:
        g = g.set_index("step").reindex(steps["step"])
        fig.add_trace(
            go.Bar(
                x=labels,
                y=g["conversion"],
                name=plotly_text(name),
                marker={"color": colours[str(name)]},
                text=[format_share(v) if np.isfinite(v) else "" for v in g["conversion"]],
                textposition="outside",
                cliponaxis=False,
                customdata=g["cases"].fillna(0).astype(int),
                hovertemplate="%{x}<br>%{y:.1%} of the segment's step-1 customers "
                "(%{customdata:,})<extra>%{fullData.name}</extra>",
            )
        )
    finish_figure(
        fig,
        title,
        subtitle,
        hidden_subtitle(
            f"share of each {plotly_text(seg)}'s step-1 customers reaching the step",
            data.attrs,
            "steps",
        ),
        height=460,
        barmode="group",
        legend={"title": {"text": plotly_text(seg)}},
        bargap=0.25,
    )
    fig.update_yaxes(title_text="conversion from step 1", tickformat=".0%", range=[0, 1.1])
    fig.update_xaxes(title_text="step")
    style_axes(fig)
    return fig


# ---------------------------------------------------------------- variants
def variants_data(
    log: pd.DataFrame,
    *,
    max_steps: int | None = 6,
    top_k: int = 15,
    k: int = DEFAULT_K,
    from_end: bool = False,
) -> pd.DataFrame:
    """The most common journeys (variants), each followed by at least ``k`` customers.

    Journeys are truncated to their first ``max_steps`` steps (last with ``from_end=True``)
    because full customer journeys are nearly all unique.

    Returns
    -------
    DataFrame
        ``variant, length, cases, share`` sorted by customers; ``attrs`` holds ``k``,
        ``hidden`` (variants removed), ``hidden_customers`` and ``max_steps``.

    Examples
    --------
    On their first two steps, the journeys of customers a and c are the same; b's, followed
    by one customer, is hidden with ``k=2``:

    >>> import pandas as pd
    >>> from journeymine.report import variants_data
    >>> log = pd.DataFrame({"customer_id": ["a", "a", "a", "b", "b", "c", "c"],
    ...     "timestamp": pd.date_range("2025-01-01", periods=7, freq="h", tz="UTC"),
    ...     "activity": ["view", "cart", "buy", "view", "search", "view", "cart"]})
    >>> v = variants_data(log, max_steps=2, k=2)
    >>> v[["variant", "cases"]].values.tolist(), v.attrs["hidden_customers"]
    ([['view > cart', 2]], 1)
    """
    from journeymine.journeys import variants

    k = check_k(k)
    top_k_ = check_positive_int("top_k", top_k)
    max_steps = check_positive_int("max_steps", max_steps, allow_none=True)
    log = check_log(log, purpose="variants_data")
    raw = variants(log, max_steps=max_steps, from_end=from_end)
    check_frame(raw, VARIANT_COLUMNS, what="jm.variants output", hint="")
    small = raw["cases"].to_numpy() < k
    out = raw.loc[~small, list(VARIANT_COLUMNS)].head(top_k_).reset_index(drop=True)
    out.attrs.update(
        {
            "k": k,
            "hidden": int(small.sum()),
            "hidden_customers": int(raw.loc[small, "cases"].sum()),
            "max_steps": max_steps,
            "from_end": from_end,
        }
    )
    return out


def variants_figure(
    data: pd.DataFrame, *, title: str = "Most common journeys", subtitle: str | None = None
) -> go.Figure:
    """A table of variants: rank, the steps, customers and share.

    Each journey is written with arrows between its steps, wrapped when long; the most common
    comes first.

    Parameters
    ----------
    data : DataFrame
        What :func:`variants_data` returns: ``variant`` (steps joined by ``" > "``),
        ``length, cases, share``; its ``attrs`` (``max_steps``, ``from_end``, ``hidden``,
        ``hidden_customers``, ``k``) write the subtitle.
    title : str, default "Most common journeys"
    subtitle : str, optional
        Replaces that subtitle: which steps of each journey are compared and how many rarer
        journeys are not shown.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeymine.report import variants_figure
    >>> data = pd.DataFrame({"variant": ["a > b", "a"], "length": [2, 1], "cases": [30, 12],
    ...                      "share": [0.3, 0.12]})
    >>> variants_figure(data).data[0].type
    'table'
    """
    check_frame(data, VARIANT_COLUMNS, what="variants data", hint="Pass variants_data() output.")
    steps = [" → ".join(plotly_text(s) for s in str(v).split(VARIANT_SEP)) for v in data["variant"]]
    fill = [["#f7f9fc" if i % 2 else "white" for i in range(len(data))]]
    fig = go.Figure(
        go.Table(
            columnwidth=[30, 560, 50, 80, 80],
            header={
                "values": [
                    "<b>#</b>",
                    "<b>journey (steps in order)</b>",
                    "<b>steps</b>",
                    "<b>customers</b>",
                    "<b>share</b>",
                ],
                "fill_color": INK,
                "font": {"color": "white", "size": 12},
                "align": ["right", "left", "right", "right", "right"],
                "height": 30,
            },
            cells={
                "values": [
                    list(range(1, len(data) + 1)),
                    steps,
                    data["length"].astype(int).tolist(),
                    [f"{int(c):,}" for c in data["cases"]],
                    [format_share(s) for s in data["share"]],
                ],
                "fill_color": fill * 5,
                "align": ["right", "left", "right", "right", "right"],
                "font": {"size": 12, "color": INK},
                "height": 26,
            },
        )
    )
    bits = []
    ms = data.attrs.get("max_steps")
    if ms:
        which = "last" if data.attrs.get("from_end") else "first"
        bits.append(f"{which} {ms} steps of each customer's journey")
    hidden = int(data.attrs.get("hidden", 0) or 0)
    if hidden:
        bits.append(
            f"{hidden} rarer journeys ({int(data.attrs.get('hidden_customers', 0)):,}"
            f" customers) with fewer than {data.attrs.get('k')} customers each not shown"
        )
    lines = [max(1, -(-len(str(v)) * 7 // 760)) for v in data["variant"]]
    return finish_figure(
        fig,
        title,
        subtitle,
        " · ".join(bits),
        height=110 + 30 + 26 * sum(lines) + 20,
        margin={"l": 10, "r": 10, "b": 10},
    )
