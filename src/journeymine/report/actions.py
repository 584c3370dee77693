"""Next-best-action figures: what a policy would change in the logged touches, and the response
rates that arbitrate between journeys. Each ``*_data`` function returns a DataFrame (the figure's
numbers) and each ``*_figure`` draws it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from journeymine.report._common import (
    MUTED,
    PALETTE,
    base_layout,
    check_frame,
    check_k,
    plotly_text,
    style_axes,
)

__all__ = [
    "backtest_data",
    "backtest_figure",
    "response_rates_data",
    "response_rates_figure",
]

OUTCOMES = (
    "agree",
    "outranked",
    "not_eligible",
    "suppressed",
    "min_gap",
    "capped",
    "below_threshold",
)
BACKTEST_COLUMNS = ["journey", "outcome", "touches", "share"]
RATE_COLUMNS = ["persona", "name", "journey", "touches", "rate"]
_OUTCOME_LABEL = {
    "agree": "policy agrees",
    "outranked": "another journey ranks higher",
    "not_eligible": "not eligible",
    "suppressed": "suppressed",
    "min_gap": "sent too recently",
    "capped": "over the frequency cap",
    "below_threshold": "expected response too low",
}


def backtest_data(points: pd.DataFrame) -> pd.DataFrame:
    """Logged touches per journey sent and what the policy says about them.

    Parameters
    ----------
    points : DataFrame
        ``Backtest.points``.

    Returns
    -------
    DataFrame
        ``journey``, ``outcome`` (``agree`` or the gate that blocks the logged journey),
        ``touches``, ``share`` (of the journey's touches).

    Examples
    --------
    >>> import pandas as pd
    >>> pts = pd.DataFrame({"sent": ["tips", "tips", "cart"], "agree": [True, False, True],
    ...                     "sent_reason": [None, "suppressed", None]})
    >>> backtest_data(pts)[["journey", "outcome", "touches"]].values.tolist()
    [['cart', 'agree', 1], ['tips', 'agree', 1], ['tips', 'suppressed', 1]]
    """
    check_frame(
        points,
        ["sent", "agree", "sent_reason"],
        what="backtest points",
        hint="Pass Backtest.points (journeymine.actions.backtest(...).points).",
    )
    outcome = np.where(
        points["agree"].to_numpy(dtype=bool),
        "agree",
        points["sent_reason"].astype(object).fillna("outranked").to_numpy(),
    )
    counts = (
        pd.DataFrame({"journey": points["sent"].astype(str), "outcome": outcome})
        .groupby(["journey", "outcome"], sort=True)
        .size()
        .rename("touches")
        .reset_index()
    )
    order = {o: i for i, o in enumerate(OUTCOMES)}
    counts = counts.sort_values(
        ["journey", "outcome"], key=lambda s: s.map(order) if s.name == "outcome" else s
    ).reset_index(drop=True)
    counts["share"] = counts["touches"] / counts.groupby("journey")["touches"].transform("sum")
    return counts[BACKTEST_COLUMNS]


def backtest_figure(
    data: pd.DataFrame,
    *,
    title: str = "What the policy would have done with the logged touches",
    subtitle: str | None = None,
) -> go.Figure:
    """Stacked bars: per journey sent, the touches the policy agrees with and, for the others,
    the gate that stops them.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"journey": ["tips"], "outcome": ["suppressed"], "touches": [3],
    ...                   "share": [1.0]})
    >>> backtest_figure(d).data[0].type
    'bar'
    """
    check_frame(data, BACKTEST_COLUMNS, what="backtest data", hint="Pass backtest_data() output.")
    journeys = sorted(data["journey"].unique())
    fig = go.Figure()
    for i, outcome in enumerate(OUTCOMES):
        part = data[data["outcome"] == outcome].set_index("journey").reindex(journeys)
        if part["touches"].fillna(0).sum() == 0:
            continue
        fig.add_bar(
            y=[plotly_text(j) for j in journeys],
            x=part["touches"].fillna(0).to_numpy(),
            orientation="h",
            name=_OUTCOME_LABEL[outcome],
            marker_color="#2CA02C" if outcome == "agree" else PALETTE[i % len(PALETTE)],
            customdata=part["share"].fillna(0).to_numpy(),
            hovertemplate="%{y}: %{x:,} touches (%{customdata:.0%})<extra>"
            + _OUTCOME_LABEL[outcome]
            + "</extra>",
        )
    if subtitle is None:
        subtitle = (
            "each logged touch replayed as a decision on the events before it · "
            "green = the policy sends the same journey"
        )
    fig.update_layout(**base_layout(title, subtitle), barmode="stack")
    fig.update_layout(
        height=max(320, 170 + 42 * len(journeys)),
        legend={"orientation": "h", "y": -0.2},
        yaxis={"autorange": "reversed"},
    )
    fig.update_xaxes(title_text="logged touches")
    return style_axes(fig)


def response_rates_data(
    table: pd.DataFrame, names: dict[int, str] | None = None, *, k: int = 10
) -> pd.DataFrame:
    """Response rate per persona x journey, cells with fewer than ``k`` touches hidden.

    Parameters
    ----------
    table : DataFrame
        ``ResponseModel.table_``.
    names : dict, optional
        Persona id -> readable name.
    k : int, default 10

    Returns
    -------
    DataFrame
        ``persona``, ``name``, ``journey``, ``touches``, ``rate``; ``attrs["hidden"]`` counts the
        hidden cells. Persona -1 is every customer (the journey's overall rate).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"persona": [-1, 0, 0], "journey": ["a", "a", "b"],
    ...                   "touches": [50, 40, 3], "responses": [5, 4, 1],
    ...                   "rate": [0.1, 0.1, 0.2]})
    >>> d = response_rates_data(t, {0: "App"})
    >>> d["name"].tolist(), d.attrs["hidden"]
    (['all customers', 'App'], 1)
    """
    k = check_k(k)
    check_frame(
        table,
        ["persona", "journey", "touches", "rate"],
        what="response table",
        hint="Pass ResponseModel.table_ (journeymine.actions.ResponseModel().fit(...)).",
    )
    small = table["touches"].to_numpy() < k
    kept = table[~small].reset_index(drop=True)
    names = names or {}
    label = [
        "all customers" if p < 0 else names.get(int(p), f"persona {int(p)}")
        for p in kept["persona"]
    ]
    out = pd.DataFrame(
        {
            "persona": kept["persona"].astype("int64"),
            "name": label,
            "journey": kept["journey"].astype(str),
            "touches": kept["touches"].astype("int64"),
            "rate": kept["rate"].astype(float),
        }
    )
    out.attrs.update(hidden=int(small.sum()), k=k)
    return out


def response_rates_figure(
    data: pd.DataFrame,
    *,
    title: str = "Response rate per persona and journey",
    subtitle: str | None = None,
) -> go.Figure:
    """Heatmap of the rates that arbitrate between journeys.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"persona": [0], "name": ["App"], "journey": ["a"], "touches": [40],
    ...                   "rate": [0.1]})
    >>> response_rates_figure(d).data[0].type
    'heatmap'
    """
    check_frame(data, RATE_COLUMNS, what="response rates", hint="Pass response_rates_data().")
    rows = list(dict.fromkeys(data.sort_values("persona")["name"]))
    journeys = sorted(data["journey"].unique())
    z = data.pivot_table(index="name", columns="journey", values="rate", aggfunc="first")
    z = z.reindex(index=rows, columns=journeys).to_numpy(dtype=float)
    n = data.pivot_table(index="name", columns="journey", values="touches", aggfunc="first")
    n = n.reindex(index=rows, columns=journeys).to_numpy(dtype=float)
    text = [["" if not np.isfinite(v) else f"{v:.0%}" for v in row] for row in z]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[plotly_text(j) for j in journeys],
            y=[plotly_text(r) for r in rows],
            text=text,
            texttemplate="%{text}",
            customdata=n,
            colorscale="Blues",
            zmin=0,
            xgap=2,
            ygap=2,
            hovertemplate="%{y} · %{x}: %{z:.1%} of %{customdata:,} touches<extra></extra>",
            colorbar={"title": {"text": "response"}, "thickness": 12, "tickformat": ".0%"},
        )
    )
    if subtitle is None:
        subtitle = (
            "share of touches answered within the response window, shrunk to the journey's rate"
        )
        if data.attrs.get("hidden"):
            subtitle += (
                f" · {data.attrs['hidden']} cells with fewer than {data.attrs.get('k')} "
                f"touches hidden"
            )
    fig.update_layout(**base_layout(title, subtitle))
    fig.update_layout(height=max(320, 170 + 40 * len(rows)), yaxis={"autorange": "reversed"})
    fig.update_xaxes(showgrid=False, title_text="journey")
    fig.update_yaxes(showgrid=False, title_text="persona", color=MUTED)
    return fig
