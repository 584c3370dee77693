"""Change-detection timeline: when which rate departed from its baseline, where, how sure."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from journeymine.compat import renamed_keywords
from journeymine.exceptions import ConfigError
from journeymine.report._common import (
    INK,
    check_frame,
    finish_figure,
    format_share,
    plotly_text,
    style_axes,
)

__all__ = [
    "change_incidents_data",
    "change_timeline_data",
    "change_timeline_figure",
    "describe_change",
    "metric_label",
]

TIMELINE_COLUMNS = (
    "metric",
    "where",
    "what",
    "start",
    "end",
    "baseline",
    "value",
    "effect",
    "q_value",
)
# accepted spellings in a detect_changes() result, first match wins
_ALIASES: dict[str, Sequence[str]] = {
    "metric": ("metric",),
    "where": ("where", "channel", "segment"),
    "what": ("what", "edge", "activity", "item"),
    "start": ("start", "start_time", "from"),
    "end": ("end", "end_time", "to"),
    "baseline": ("baseline", "baseline_value", "value_a", "before"),
    "value": ("value", "changed_value", "changed", "value_b", "during"),
    "effect": ("effect", "effect_size", "difference"),
    "q_value": ("q_value", "p_value", "qvalue", "pvalue"),
}
_RATE_METRICS = (
    "edge",
    "conversion",
    "probability",
    "share",
    "proportion",
    "journeys",
    "errors",
    "step_times",
)
# readable names of detect_changes() metrics
METRIC_LABELS = {
    "edges": "step probability",
    "edge": "step probability",
    "conversions": "conversion",
    "conversion": "conversion",
    "volumes": "events per active customer",
    "volume": "events per active customer",
    "journeys": "path conversion",
    "errors": "sessions with errors",
    "step_times": "share of slow steps",
}


def metric_label(metric: str) -> str:
    """Readable metric name, e.g. ``'edges'`` -> ``'step probability'``."""
    return METRIC_LABELS.get(metric, metric.replace("_", " "))


def _pick(frame: pd.DataFrame, name: str) -> pd.Series | None:
    for cand in _ALIASES[name]:
        if cand in frame.columns:
            return frame[cand]
    return None


def _check_changes(changes: Any) -> None:
    """Raise :class:`ConfigError` unless ``changes`` is a DataFrame (from jm.detect_changes)."""
    if not isinstance(changes, pd.DataFrame):
        raise ConfigError(
            f"changes must be the DataFrame returned by jm.detect_changes(log), got "
            f"{type(changes).__name__}."
        )


def _text(value: Any) -> str:
    """``value`` as text, ``""`` for a missing one (None, NA, NaN)."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return ""
    return str(value)


@renamed_keywords(top="top_k")
def change_timeline_data(changes: pd.DataFrame, *, top_k: int | None = 20) -> pd.DataFrame:
    """Normalise a ``detect_changes`` result to one row per change for the timeline.

    Parameters
    ----------
    changes : DataFrame
        One row per detected change with a metric, where (channel/segment), what (edge or
        activity), start, end, baseline and changed value, effect and a p/q-value.
    top_k : int or None, default 20
        Keep the ``top_k`` changes with the strongest evidence (smallest q-value).

    Returns
    -------
    DataFrame
        ``metric, where, what, start, end, baseline, value, effect, q_value``, sorted by start.

    Examples
    --------
    >>> import pandas as pd
    >>> ch = pd.DataFrame({"metric": ["edge_probability"], "channel": ["app"],
    ...     "edge": ["checkout -> purchase"], "start": ["2025-02-05"], "end": ["2025-02-19"],
    ...     "baseline": [0.81], "value": [0.08], "effect": [-1.9], "q_value": [1e-12]})
    >>> change_timeline_data(ch)[["where", "what"]].values.tolist()
    [['app', 'checkout -> purchase']]
    """
    _check_changes(changes)
    cols: dict[str, Any] = {}
    for name in TIMELINE_COLUMNS:
        s = _pick(changes, name)
        if s is None and name in ("where", "what", "effect", "q_value"):
            s = pd.Series(
                [np.nan if name in ("effect", "q_value") else ""] * len(changes),
                index=changes.index,
            )
        if s is None:
            raise ConfigError(
                f"the changes frame has no {name!r} column (accepted names: "
                f"{list(_ALIASES[name])}); columns present: {[str(c) for c in changes.columns]}."
            )
        cols[name] = s.to_numpy()
    out = pd.DataFrame(cols)
    for t in ("start", "end"):
        ts = pd.to_datetime(out[t], utc=True)
        out[t] = ts
    for col in ("where", "what"):
        out[col] = out[col].map(_text)
    out["metric"] = out["metric"].astype(str)
    for c in ("baseline", "value", "effect", "q_value"):
        out[c] = pd.to_numeric(out[c], errors="coerce").astype("float64")
    if top_k is not None and len(out) > top_k:
        out = out.sort_values("q_value", kind="stable", na_position="last").head(top_k)
    return out.sort_values(["start", "metric", "where", "what"], kind="stable").reset_index(
        drop=True
    )


def _is_rate(metric: str) -> bool:
    return any(m in metric for m in _RATE_METRICS)


def _fmt_value(metric: str, baseline: float, value: float, v: float) -> str:
    if not np.isfinite(v):
        return "n/a"
    return format_share(v) if _is_rate(metric) else f"{v:,.3g}"


def describe_change(row: Any) -> str:
    """One sentence for a change row, e.g. ``"app checkout -> purchase fell from 81% to 8%
    between 2025-02-05 and 2025-02-19"``.

    Examples
    --------
    >>> import pandas as pd
    >>> row = pd.Series({"metric": "edge_probability", "where": "app",
    ...     "what": "checkout -> purchase", "start": pd.Timestamp("2025-02-05", tz="UTC"),
    ...     "end": pd.Timestamp("2025-02-19", tz="UTC"), "baseline": 0.81, "value": 0.08})
    >>> print(describe_change(row))
    app checkout -> purchase (edge probability) fell from 81% to 8.0%
    between 2025-02-05 and 2025-02-19
    """
    metric, base, val = str(row["metric"]), float(row["baseline"]), float(row["value"])
    verb = "fell" if val < base else "rose"
    subject = " ".join(s for s in (str(row["where"]), str(row["what"])) if s)
    metric_txt = metric_label(metric)
    subject = f"{subject} ({metric_txt})" if subject else metric_txt
    start = pd.Timestamp(row["start"]).strftime("%Y-%m-%d")
    end = pd.Timestamp(row["end"]).strftime("%Y-%m-%d")
    return (
        f"{subject} {verb} from {_fmt_value(metric, base, val, base)} to "
        f"{_fmt_value(metric, base, val, val)} between {start} and {end}"
    )


def change_timeline_figure(
    data: pd.DataFrame,
    *,
    title: str = "Detected changes",
    subtitle: str | None = None,
    period: tuple[Any, Any] | None = None,
) -> go.Figure:
    """Timeline (Gantt-style): one bar per change from its start to its end, coloured by
    direction (red = fell, blue = rose), labelled with baseline -> changed value.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeymine.report import change_timeline_data, change_timeline_figure
    >>> ch = pd.DataFrame({"metric": ["edge_probability"], "channel": ["app"],
    ...     "edge": ["checkout -> purchase"], "start": ["2025-02-05"], "end": ["2025-02-19"],
    ...     "baseline": [0.81], "value": [0.08], "effect": [-1.9], "q_value": [1e-12]})
    >>> len(change_timeline_figure(change_timeline_data(ch)).data)
    1
    """
    check_frame(
        data, TIMELINE_COLUMNS, what="timeline data", hint="Pass change_timeline_data() output."
    )
    labels = []
    for r in data.itertuples(index=False):
        subject = " · ".join(plotly_text(s) for s in (r.where, r.what) if s)
        labels.append(
            f"{subject}<br><span style='font-size:10px'>"
            f"{plotly_text(metric_label(r.metric))}</span>"
            if subject
            else plotly_text(r.metric)
        )
    # unique y labels even if two changes share a subject
    seen: dict[str, int] = {}
    ylab = []
    for lab in labels:
        seen[lab] = seen.get(lab, 0) + 1
        ylab.append(lab if seen[lab] == 1 else f"{lab} ({seen[lab]})")
    fig = go.Figure()
    for fell in (True, False):
        sel = (data["value"] < data["baseline"]).to_numpy() == fell
        if not sel.any():
            continue
        d = data[sel]
        y = [ylab[i] for i in np.flatnonzero(sel)]
        dur_ms = ((d["end"] - d["start"]).dt.total_seconds() * 1000).to_numpy()
        text = [
            f"{_fmt_value(m, b, v, b)} → {_fmt_value(m, b, v, v)}"
            for m, b, v in zip(d["metric"], d["baseline"], d["value"], strict=True)
        ]
        q = d["q_value"].to_numpy()
        fig.add_trace(
            go.Bar(
                base=d["start"].dt.tz_localize(None),
                x=dur_ms,
                y=y,
                orientation="h",
                marker={"color": "#D55E00" if fell else "#0072B2", "line": {"width": 0}},
                text=text,
                textposition="outside",
                cliponaxis=False,
                textfont={"size": 11, "color": INK},
                name="fell" if fell else "rose",
                customdata=np.column_stack(
                    [
                        d["start"].dt.strftime("%Y-%m-%d %H:%M"),
                        d["end"].dt.strftime("%Y-%m-%d %H:%M"),
                        text,
                        [f"{v:.2g}" if np.isfinite(v) else "n/a" for v in q],
                        [f"{v:+.2f}" if np.isfinite(v) else "n/a" for v in d["effect"]],
                    ]
                ),
                hovertemplate="%{y}<br>%{customdata[0]} → %{customdata[1]}<br>%{customdata[2]}"
                "<br>effect %{customdata[4]}, q = %{customdata[3]}<extra></extra>",
            )
        )
    finish_figure(
        fig,
        title,
        subtitle,
        "each bar spans a detected change; label = baseline → value during the change; "
        "ranked by evidence",
        height=max(300, 150 + 48 * len(data)),
        barmode="overlay",
        legend={"title": {"text": "direction"}, "orientation": "h", "y": -0.2},
        margin={"r": 110},
    )
    fig.update_xaxes(type="date", title_text="date")
    if period is not None:
        lo, hi = (pd.Timestamp(t) for t in period)
        lo = lo.tz_convert(None) if lo.tzinfo else lo
        hi = hi.tz_convert(None) if hi.tzinfo else hi
        fig.update_xaxes(range=[lo, hi])
    fig.update_yaxes(autorange="reversed", title_text="")
    style_axes(fig)
    return fig


INCIDENT_COLUMNS = (
    "incident",
    "where",
    "start",
    "end",
    "days",
    "headline",
    "how_much",
    "evidence",
    "q_value",
    "series",
    "metrics",
    "affected_journeys",
)


def change_incidents_data(changes: pd.DataFrame) -> pd.DataFrame:
    """One row per incident of a ``detect_changes`` result: when, where, how much, how sure,
    and which journeys it hurt.

    Parameters
    ----------
    changes : DataFrame
        A ``jm.detect_changes(log)`` result (one row per detected change, with ``incident``,
        ``metric``, ``where``, ``what``, ``start``, ``end``, ``baseline``, ``changed``,
        ``direction``, ``deviance`` and ``q_value``).

    Returns
    -------
    DataFrame
        ``incident`` (1 = most evidence), ``where``, ``start`` and ``end`` (the earliest start
        and latest end of its changes), ``days``, ``headline`` (the change with the most
        evidence, in words), ``how_much`` (its baseline -> changed value), ``evidence``
        (deviance of that change), ``q_value`` (smallest of the incident), ``series`` (how many
        series changed), ``metrics`` (which kinds), ``affected_journeys`` (paths to the goal and
        conversions whose rate fell, ``"; "``-separated; empty when none fell).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.Timestamp("2025-03-04", tz="UTC")
    >>> ch = pd.DataFrame({"incident": [1, 1], "metric": ["edges", "journeys"],
    ...     "where": ["app", "app"], "what": ["checkout -> purchase",
    ...     "add_to_cart > checkout > purchase"], "start": [t, t],
    ...     "end": [t + pd.Timedelta(days=14)] * 2, "baseline": [0.84, 0.51],
    ...     "changed": [0.08, 0.05], "direction": ["drop", "drop"],
    ...     "deviance": [210.0, 75.0], "q_value": [1e-46, 1e-17]})
    >>> row = change_incidents_data(ch).iloc[0]
    >>> print(row["headline"])
    app checkout -> purchase (step probability) fell from 84% to 8.0%
    between 2025-03-04 and 2025-03-18
    >>> row["affected_journeys"], int(row["days"])
    ('add_to_cart > checkout > purchase (51% -> 5.0%)', 14)
    """
    needed = ("incident", "metric", "where", "what", "start", "end", "baseline", "changed")
    _check_changes(changes)
    missing = [c for c in needed if c not in changes.columns]
    if missing:
        raise ConfigError(
            f"the changes frame has no {missing} column(s); pass the result of "
            f"jm.detect_changes(log). Columns present: {[str(c) for c in changes.columns]}."
        )
    if changes.empty:
        return pd.DataFrame(columns=list(INCIDENT_COLUMNS))
    rows = []
    frame = changes.copy()
    frame["start"] = pd.to_datetime(frame["start"], utc=True)
    frame["end"] = pd.to_datetime(frame["end"], utc=True)
    rank = "deviance" if "deviance" in frame.columns else "q_value"
    for number, grp in frame.groupby("incident", sort=True):
        grp = grp.sort_values(rank, ascending=rank == "q_value", kind="stable")
        top = grp.iloc[0]
        metric = str(top["metric"])
        fell = grp["changed"].astype(float) < grp["baseline"].astype(float)
        journeys = grp[grp["metric"].isin(["journeys", "conversions"]) & fell]
        affected = "; ".join(
            f"{r['what']} ({_fmt_value(str(r['metric']), 0, 0, float(r['baseline']))} -> "
            f"{_fmt_value(str(r['metric']), 0, 0, float(r['changed']))})"
            for _, r in journeys.iterrows()
        )
        start, end = grp["start"].min(), grp["end"].max()
        q = pd.to_numeric(grp.get("q_value"), errors="coerce")
        rows.append(
            {
                "incident": int(number),
                "where": str(top["where"]),
                "start": start,
                "end": end,
                "days": (end - start).total_seconds() / 86_400,
                "headline": describe_change(top.rename({"changed": "value"})),
                "how_much": f"{_fmt_value(metric, 0, 0, float(top['baseline']))} -> "
                f"{_fmt_value(metric, 0, 0, float(top['changed']))}",
                "evidence": float(top["deviance"]) if "deviance" in grp else float("nan"),
                "q_value": float(q.min()) if q is not None else float("nan"),
                "series": len(grp),
                "metrics": ", ".join(dict.fromkeys(metric_label(m) for m in grp["metric"])),
                "affected_journeys": affected,
            }
        )
    return pd.DataFrame(rows, columns=list(INCIDENT_COLUMNS))
