"""Next-best-action figures: what a policy would change in the logged touches, the response
rates that arbitrate between journeys, what a candidate policy is worth off-policy (IPS, SNIPS,
doubly robust) and the impact experiment (the policy against random-eligible, fixed priority
and response-only arbitration). Each ``*_data`` function returns a DataFrame (the figure's
numbers) and each ``*_figure`` draws it; :func:`value_sections` puts the last two in report
sections.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from journeymine.compat import renamed_keywords
from journeymine.report._common import (
    MUTED,
    PALETTE,
    check_frame,
    check_k,
    finish_figure,
    heatmap_figure,
    hidden_subtitle,
    plotly_text,
    style_axes,
    suppress_small,
)

__all__ = [
    "backtest_data",
    "backtest_figure",
    "impact_data",
    "impact_figure",
    "ope_data",
    "ope_figure",
    "response_rates_data",
    "response_rates_figure",
    "value_sections",
]

BACKTEST_COLUMNS = ["journey", "outcome", "touches", "share"]
RATE_COLUMNS = ["persona", "name", "journey", "touches", "rate"]
# what the policy says of a logged touch, in the order the backtest bars stack them
_OUTCOME_LABEL = {
    "agree": "policy agrees",
    "outranked": "another journey ranks higher",
    "not_eligible": "not eligible",
    "suppressed": "suppressed",
    "min_gap": "sent too recently",
    "capped": "over the frequency cap",
    "below_threshold": "expected response too low",
}
OUTCOMES = tuple(_OUTCOME_LABEL)


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

    Parameters
    ----------
    data : DataFrame
        What :func:`backtest_data` returns: ``journey, outcome, touches, share``. Outcomes
        are stacked in the order of the policy's gates, the agreeing touches first, in green.
    title : str, default "What the policy would have done with the logged touches"
    subtitle : str, optional
        Replaces the note on how the touches were replayed.

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
    finish_figure(
        fig,
        title,
        subtitle,
        "each logged touch replayed as a decision on the events before it · "
        "green = the policy sends the same journey",
        barmode="stack",
        height=max(320, 170 + 42 * len(journeys)),
        legend={"orientation": "h", "y": -0.2},
        yaxis={"autorange": "reversed"},
    )
    fig.update_xaxes(title_text="logged touches")
    return style_axes(fig)


@renamed_keywords(names="persona_names")
def response_rates_data(
    table: pd.DataFrame, persona_names: Mapping[int, str] | None = None, *, k: int = 10
) -> pd.DataFrame:
    """Response rate per persona x journey, cells with fewer than ``k`` touches hidden.

    Parameters
    ----------
    table : DataFrame
        ``ResponseModel.table_``.
    persona_names : dict, optional
        Persona id -> readable name, as ``persona_names`` of :func:`actions_report`. Renamed
        from ``names`` (which still works, with a ``FutureWarning``, until the next minor
        release).
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
    kept, hidden = suppress_small(table, "touches", k)
    names = persona_names or {}
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
    out.attrs.update(hidden=hidden, k=k)
    return out


def response_rates_figure(
    data: pd.DataFrame,
    *,
    title: str = "Response rate per persona and journey",
    subtitle: str | None = None,
) -> go.Figure:
    """Heatmap of the rates that arbitrate between journeys.

    Rows are personas ("all customers" first), columns journeys; a cell is the share of the
    touches that got a response.

    Parameters
    ----------
    data : DataFrame
        What :func:`response_rates_data` returns: ``persona, name, journey, touches, rate``,
        one row per persona (by ``name``, "all customers" on top) and journey; cells it hid
        (fewer than ``k`` touches) stay blank and are counted in the subtitle.
    title : str, default "Response rate per persona and journey"
    subtitle : str, optional
        Replaces the note on what a rate is (responses within the window, shrunk to the
        journey's rate).

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
    fig = heatmap_figure(
        z,
        [plotly_text(j) for j in journeys],
        [plotly_text(r) for r in rows],
        text,
        colorbar={"title": {"text": "response"}, "tickformat": ".0%"},
        customdata=n,
        colorscale="Blues",
        zmin=0,
        hovertemplate="%{y} · %{x}: %{z:.1%} of %{customdata:,} touches<extra></extra>",
    )
    finish_figure(
        fig,
        title,
        subtitle,
        hidden_subtitle(
            "share of touches answered within the response window, shrunk to the journey's rate",
            data.attrs,
            "cells",
            counting="touches",
        ),
        height=max(320, 170 + 40 * len(rows)),
        yaxis={"autorange": "reversed"},
    )
    fig.update_xaxes(showgrid=False, title_text="journey")
    fig.update_yaxes(showgrid=False, title_text="persona", color=MUTED)
    return fig


OPE_COLUMNS = ["estimator", "estimate", "lo", "hi", "matches"]
IMPACT_COLUMNS = ["arm", "customers", "value_per_customer", "lo", "hi", "vs_baseline"]
_ESTIMATOR_LABEL = {
    "logged": "logging policy (observed)",
    "ips": "inverse propensity (IPS)",
    "snips": "self-normalised IPS",
    "dr": "doubly robust",
}


def ope_data(estimates: pd.DataFrame) -> pd.DataFrame:
    """The off-policy estimates of a candidate policy, one row per estimator.

    Parameters
    ----------
    estimates : DataFrame
        ``journeymine.actions.evaluate_policy(log, candidate)`` (index ``ips``, ``snips``,
        ``dr``, ``logged``; columns ``estimate``, ``lo``, ``hi``, ``matches``).

    Returns
    -------
    DataFrame
        ``estimator`` (readable), ``estimate``, ``lo``, ``hi`` (95%), ``matches`` (logged
        decisions the candidate agrees with); the logging policy first.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeymine.actions import evaluate_policy
    >>> log = pd.DataFrame({"action": ["a", None, "a", None], "propensity": 0.5,
    ...                     "reward": [1.0, 0.0, 1.0, 1.0], "persona": 0})
    >>> ope_data(evaluate_policy(log, ["a"] * 4))["estimator"].tolist()[:2]
    ['logging policy (observed)', 'inverse propensity (IPS)']
    """
    check_frame(
        estimates.reset_index() if isinstance(estimates, pd.DataFrame) else estimates,
        ["estimate", "lo", "hi", "matches"],
        what="off-policy estimates",
        hint="Pass journeymine.actions.evaluate_policy(log, candidate).",
    )
    order = [k for k in _ESTIMATOR_LABEL if k in estimates.index]
    if not order:
        raise ValueError(
            f"off-policy estimates need rows {list(_ESTIMATOR_LABEL)}, got "
            f"{list(estimates.index)}; pass evaluate_policy(...) output."
        )
    e = estimates.loc[order]
    return pd.DataFrame(
        {
            "estimator": [_ESTIMATOR_LABEL[k] for k in order],
            "estimate": e["estimate"].to_numpy(float),
            "lo": e["lo"].to_numpy(float),
            "hi": e["hi"].to_numpy(float),
            "matches": e["matches"].to_numpy(np.int64),
        }
    )


def ope_figure(
    data: pd.DataFrame,
    *,
    title: str = "What the candidate policy would earn, estimated from the log",
    subtitle: str | None = None,
) -> go.Figure:
    """Points with 95% intervals: the logging policy's observed mean reward per decision and
    the candidate's IPS, SNIPS and doubly robust estimates.

    Parameters
    ----------
    data : DataFrame
        What :func:`ope_data` returns: ``estimator, estimate, lo, hi, matches``, one point
        per row, top to bottom; the first row (the logging policy) is drawn in grey.
    title : str, default "What the candidate policy would earn, estimated from the log"
    subtitle : str, optional
        Replaces the reading note (mean reward per decision, grey = what the log earned).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"estimator": ["doubly robust"], "estimate": [0.05], "lo": [0.04],
    ...                   "hi": [0.06], "matches": [10]})
    >>> ope_figure(d).data[0].type
    'scatter'
    """
    check_frame(data, OPE_COLUMNS, what="off-policy data", hint="Pass ope_data() output.")
    fig = go.Figure()
    fig.add_scatter(
        x=data["estimate"],
        y=[plotly_text(x) for x in data["estimator"]],
        mode="markers",
        marker={"size": 11, "color": [MUTED if i == 0 else PALETTE[0] for i in range(len(data))]},
        error_x={
            "type": "data",
            "symmetric": False,
            "array": (data["hi"] - data["estimate"]).to_numpy(),
            "arrayminus": (data["estimate"] - data["lo"]).to_numpy(),
        },
        customdata=data["matches"],
        hovertemplate="%{y}: %{x:.4f} per decision<extra>%{customdata:,} matching "
        "decisions</extra>",
    )
    finish_figure(
        fig,
        title,
        subtitle,
        "mean reward per decision, 95% intervals · grey = what the log earned",
        showlegend=False,
        height=320,
        yaxis={"autorange": "reversed"},
    )
    fig.update_xaxes(title_text="mean reward per decision")
    return style_axes(fig)


def impact_data(table: pd.DataFrame) -> pd.DataFrame:
    """The arms of an impact experiment, best first.

    Parameters
    ----------
    table : DataFrame
        ``journeymine.datasets.impact_experiment(...)`` (index ``arm``) or any table with
        ``customers``, ``value_per_customer``, ``lo``, ``hi`` and ``vs_baseline`` per arm.

    Returns
    -------
    DataFrame
        ``arm``, ``customers``, ``value_per_customer``, ``lo``, ``hi``, ``vs_baseline``; the
        baseline's name in ``attrs["baseline"]``.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"customers": [10, 10], "value_per_customer": [0.1, 0.2],
    ...                   "lo": [0.0, 0.1], "hi": [0.2, 0.3], "vs_baseline": [1.0, 2.0]},
    ...                  index=pd.Index(["fixed", "policy"], name="arm"))
    >>> impact_data(t)["arm"].tolist()
    ['policy', 'fixed']
    """
    frame = table.reset_index() if "arm" not in table.columns else table
    check_frame(
        frame,
        IMPACT_COLUMNS,
        what="impact experiment",
        hint="Pass journeymine.datasets.impact_experiment(...) output.",
    )
    out = (
        frame[IMPACT_COLUMNS]
        .sort_values("value_per_customer", ascending=False)
        .reset_index(drop=True)
    )
    out.attrs["baseline"] = table.attrs.get("baseline")
    return out


def impact_figure(
    data: pd.DataFrame,
    *,
    title: str = "Impact experiment: true value per customer, by arm",
    subtitle: str | None = None,
) -> go.Figure:
    """Horizontal bars with 95% intervals: value per customer of each arm of an impact
    experiment, labelled with the ratio to the baseline arm.

    Parameters
    ----------
    data : DataFrame
        What :func:`impact_data` returns: ``arm, customers, value_per_customer, lo, hi,
        vs_baseline``, best arm on top; ``attrs["baseline"]`` names the arm of the ratios.
    title : str, default "Impact experiment: true value per customer, by arm"
    subtitle : str, optional
        Replaces the note on the design (arms split at random over the same period).

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"arm": ["policy"], "customers": [10], "value_per_customer": [0.2],
    ...                   "lo": [0.1], "hi": [0.3], "vs_baseline": [1.3]})
    >>> impact_figure(d).data[0].type
    'bar'
    """
    check_frame(data, IMPACT_COLUMNS, what="impact data", hint="Pass impact_data() output.")
    fig = go.Figure()
    fig.add_bar(
        y=[plotly_text(a) for a in data["arm"]],
        x=data["value_per_customer"],
        orientation="h",
        marker_color=PALETTE[0],
        error_x={
            "type": "data",
            "symmetric": False,
            "array": (data["hi"] - data["value_per_customer"]).to_numpy(),
            "arrayminus": (data["value_per_customer"] - data["lo"]).to_numpy(),
        },
        text=[f"{r:.2f}x" for r in data["vs_baseline"]],
        textposition="inside",
        customdata=data["customers"],
        hovertemplate="%{y}: %{x:.3f} per customer<extra>%{customdata:,} customers</extra>",
    )
    base = data.attrs.get("baseline")
    finish_figure(
        fig,
        title,
        subtitle,
        "customers split at random into arms, same period · 95% intervals"
        + (f" · ratio to {base}" if base else ""),
        showlegend=False,
        height=max(300, 150 + 45 * len(data)),
        yaxis={"autorange": "reversed"},
    )
    fig.update_xaxes(title_text="true incremental value per customer")
    return style_axes(fig)


def value_sections(
    *, ope: pd.DataFrame | None = None, impact: pd.DataFrame | None = None
) -> list[Any]:
    """Report sections for what a policy is worth: the off-policy estimates (next to the
    backtest counts of the actions report) and the impact experiment.

    Parameters
    ----------
    ope : DataFrame, optional
        ``evaluate_policy(log, candidate)``.
    impact : DataFrame, optional
        ``journeymine.datasets.impact_experiment(...)``.

    Returns
    -------
    list of Section

    Examples
    --------
    >>> value_sections()
    []
    """
    from journeymine.report.html import Section

    sections = []
    if ope is not None:
        d = ope_data(ope)
        sections.append(
            Section(
                "What the candidate policy is worth, off-policy",
                [ope_figure(d)],
                text="From the logged decisions and the probability with which each was taken: "
                "inverse propensity weighting, its self-normalised form and the doubly robust "
                "estimate (a reward model corrected by the weighted residuals), with 95% "
                "intervals, next to what the logging policy earned.",
                table=d.round(4),
            )
        )
    if impact is not None:
        d = impact_data(impact)
        sections.append(
            Section(
                "Impact experiment",
                [impact_figure(d)],
                text="Customers split at random into arms over the same days, each arm decided "
                "by one decider; the value is the true expected incremental value of the "
                "decisions (the simulator knows it).",
                table=impact.reset_index().round(4),
            )
        )
    return sections
