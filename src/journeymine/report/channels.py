"""Channel-switch figures: how customers move from one channel to the next (heatmap), with the
privacy threshold ``k`` applied in :func:`channel_switch_data`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from journeymine.report._common import (
    DEFAULT_K,
    check_frame,
    check_k,
    check_log,
    customer_event_order,
    finish_figure,
    format_share,
    heatmap_figure,
    hidden_subtitle,
    plotly_text,
    style_axes,
    suppress_small,
)
from journeymine.schema import CHANNEL

__all__ = ["SWITCH_COLUMNS", "channel_switch_data", "channel_switch_figure"]

SWITCH_COLUMNS = ("from_channel", "to_channel", "count", "share")


def channel_switch_data(log: pd.DataFrame, *, k: int = DEFAULT_K) -> pd.DataFrame:
    """How customers move between channels: consecutive events, from one channel to the next.

    Cells (channel pairs) taken by fewer than ``k`` distinct customers are removed
    (``attrs["hidden"]``).

    Returns
    -------
    DataFrame
        ``from_channel, to_channel, count, share`` (share of the from_channel row, computed
        before hiding) and ``customers`` (distinct customers with that switch).

    Examples
    --------
    Customers a and b both go from the web to the app; only a then stays on the app, a cell
    of one customer that ``k=2`` hides:

    >>> import pandas as pd
    >>> from journeymine.report import channel_switch_data
    >>> log = pd.DataFrame({"customer_id": ["a", "a", "a", "b", "b"],
    ...     "timestamp": pd.date_range("2025-01-01", periods=5, freq="h", tz="UTC"),
    ...     "activity": "visit", "channel": ["web", "app", "app", "web", "app"]})
    >>> s = channel_switch_data(log, k=2)
    >>> s[["from_channel", "to_channel", "count", "customers"]].values.tolist()
    [['web', 'app', 2, 2]]
    >>> s.attrs["hidden"]
    1
    """
    from journeymine.journeys import channel_switches

    k = check_k(k)
    log = check_log(log, purpose="channel_switch_data", channel=True)
    raw = channel_switches(log)
    check_frame(raw, SWITCH_COLUMNS, what="jm.channel_switches output", hint="")
    raw = raw.assign(
        from_channel=raw["from_channel"].astype(str), to_channel=raw["to_channel"].astype(str)
    )
    # distinct customers behind each cell: the privacy threshold counts people, not events
    cust, order = customer_event_order(log)
    chan, labels = pd.factorize(log[CHANNEL].astype(str), sort=False)
    cust, chan = cust[order].astype(np.int64), chan[order].astype(np.int64)
    same = cust[1:] == cust[:-1]
    n = np.int64(len(labels))
    pair = chan[:-1][same] * n + chan[1:][same]
    per_customer = np.unique(cust[:-1][same] * (n * n) + pair)
    pair_codes, customers = np.unique(per_customer % (n * n), return_counts=True)
    names = np.asarray(labels, dtype=object)
    counts = pd.Series(
        customers,
        index=pd.MultiIndex.from_arrays(
            [names[pair_codes // n], names[pair_codes % n]], names=["from", "to"]
        ),
    )
    raw["customers"] = (
        counts.reindex(pd.MultiIndex.from_frame(raw[["from_channel", "to_channel"]]))
        .fillna(0)
        .astype("int64")
        .to_numpy()
    )
    out, hidden = suppress_small(raw, "customers", k)
    out.attrs.update({"k": k, "hidden": hidden})
    return out


def channel_switch_figure(
    data: pd.DataFrame, *, title: str = "Channel switches", subtitle: str | None = None
) -> go.Figure:
    """Heatmap: row = channel of an event, column = channel of the customer's next event.

    Each cell is the share of the row's transitions (its number below); the busiest channels
    come first.

    Parameters
    ----------
    data : DataFrame
        What :func:`channel_switch_data` returns: ``from_channel, to_channel, count, share``.
        The cells it hid for privacy (``attrs["hidden"]``, ``attrs["k"]``) are counted in the
        subtitle.
    title : str, default "Channel switches"
    subtitle : str, optional
        Replaces the line under the title, which by default says how to read the grid (row =
        from, column = to); ``""`` for none.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeymine.report import channel_switch_figure
    >>> data = pd.DataFrame({"from_channel": ["web", "web", "app"],
    ...     "to_channel": ["web", "app", "app"], "count": [80, 20, 50],
    ...     "share": [0.8, 0.2, 1.0]})
    >>> channel_switch_figure(data).data[0].type
    'heatmap'
    """
    check_frame(
        data, SWITCH_COLUMNS, what="channel switch data", hint="Pass channel_switch_data() output."
    )
    totals = data.groupby("from_channel", observed=True)["count"].sum().sort_values(ascending=False)
    chans = [str(c) for c in totals.index]
    for c in data["to_channel"].astype(str):
        if c not in chans:
            chans.append(c)
    grid = data.assign(
        from_channel=data["from_channel"].astype(str), to_channel=data["to_channel"].astype(str)
    )
    share = grid.pivot_table(
        index="from_channel", columns="to_channel", values="share", aggfunc="sum", observed=True
    ).reindex(index=chans, columns=chans)
    count = grid.pivot_table(
        index="from_channel", columns="to_channel", values="count", aggfunc="sum", observed=True
    ).reindex(index=chans, columns=chans)
    text = [
        [
            (
                ""
                if np.isnan(s)
                else f"{format_share(s)}<br><span style='font-size:10px'>{int(c):,}</span>"
            )
            for s, c in zip(srow, crow, strict=True)
        ]
        for srow, crow in zip(share.to_numpy(), count.to_numpy(), strict=True)
    ]
    esc = [plotly_text(c) for c in chans]
    fig = heatmap_figure(
        share.to_numpy(),
        esc,
        esc,
        text,
        colorbar={"title": {"text": "share of row"}, "tickformat": ".0%"},
        textfont={"size": 13},
        colorscale=[[0, "#f2f6fb"], [1, "#0b4f8a"]],
        zmin=0,
        zmax=1,
        customdata=count.to_numpy(),
        hovertemplate="from %{y} to %{x}<br>%{z:.1%} of transitions from %{y}<br>"
        "%{customdata:,} transitions<extra></extra>",
    )
    finish_figure(
        fig,
        title,
        subtitle,
        hidden_subtitle(
            "consecutive events of a customer: row = from, column = to", data.attrs, "cells"
        ),
        height=max(360, 140 + 62 * len(chans)),
        xaxis={"side": "bottom"},
        yaxis={"autorange": "reversed"},
    )
    fig.update_xaxes(title_text="next event's channel", showgrid=False)
    fig.update_yaxes(title_text="event's channel", showgrid=False)
    style_axes(fig)
    fig.update_xaxes(showgrid=False)
    fig.update_yaxes(showgrid=False)
    return fig
