"""Persona-assignment model card: accuracy by number of events seen and calibration curve."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from journeymine.exceptions import ConfigError
from journeymine.report._common import INK, MUTED, check_frame, finish_figure, style_axes

__all__ = ["model_card_data", "model_card_figure"]

CALIBRATION_COLUMNS = ("bin", "mean_predicted", "fraction_positive", "count")
CARD_COLUMNS = ("panel", "label", "x", "y", "count")
_KEYS = {"accuracy_by_events", "calibration", "by_events_seen", "reliability"}


def _events_key(key: Any) -> tuple[int, float]:
    if isinstance(key, str) and key.strip().lower() == "all":
        return (1, np.inf)
    try:
        return (0, float(key))
    except (TypeError, ValueError):
        raise ConfigError(
            f"accuracy_by_events has key {key!r}; keys must be numbers of events seen "
            f"(3, 5, 10...) or 'all'."
        ) from None


def model_card_data(card: Mapping[str, Any]) -> pd.DataFrame:
    """Tidy the metrics of a model card for plotting.

    Parameters
    ----------
    card : mapping or PersonaModel
        A model card (or its ``"metrics"`` entry, or a fitted ``PersonaModel``: its
        ``card_``) with ``accuracy_by_events``: a mapping number of events seen -> accuracy
        (the key ``"all"`` for full histories), and ``calibration``: a DataFrame (or records)
        with ``bin, mean_predicted, fraction_positive, count``. Either may be absent, not
        both. The PersonaModel card's ``by_events_seen`` and ``reliability`` lists are read as
        well.

    Returns
    -------
    DataFrame
        ``panel`` ("accuracy_by_events" or "calibration"), ``label``, ``x``, ``y``, ``count``.

    Examples
    --------
    >>> import pandas as pd
    >>> card = {"accuracy_by_events": {3: 0.61, 5: 0.72, 10: 0.85, "all": 0.93},
    ...         "calibration": pd.DataFrame({"bin": [0, 1], "mean_predicted": [0.3, 0.8],
    ...             "fraction_positive": [0.25, 0.82], "count": [40, 160]})}
    >>> model_card_data(card)["label"].tolist()
    ['3', '5', '10', 'all', '0', '1']
    """
    card = getattr(card, "card_", card)  # a fitted PersonaModel
    if not isinstance(card, Mapping):
        raise ConfigError(
            f"card must be a mapping like a model card, got {type(card).__name__}. Expected "
            f"keys 'accuracy_by_events' and/or 'calibration'."
        )
    src: Mapping[str, Any] = card
    if not _KEYS & set(src):
        metrics = card.get("metrics")
        if isinstance(metrics, Mapping):
            src = metrics
    acc = src.get("accuracy_by_events")
    if acc is None and isinstance(src.get("by_events_seen"), list):
        # PersonaModel card: [{"events": 3 | "all", "accuracy": ..., "n": ...}, ...]
        acc = {row["events"]: row["accuracy"] for row in src["by_events_seen"]}
    cal = src.get("calibration")
    if cal is None and isinstance(src.get("reliability"), list):
        # PersonaModel card: [{"bin", "count", "mean_confidence", "accuracy"}, ...]
        cal = pd.DataFrame(
            [
                {
                    "bin": r["bin"],
                    "mean_predicted": r["mean_confidence"],
                    "fraction_positive": r["accuracy"],
                    "count": r["count"],
                }
                for r in src["reliability"]
                if r.get("count")
            ],
            columns=list(CALIBRATION_COLUMNS),
        )
    if acc is None and cal is None:
        raise ConfigError(
            f"the model card has neither 'accuracy_by_events' nor 'calibration' (keys: "
            f"{sorted(map(str, card))}). Pass model.card_ or a dict with those keys."
        )
    rows: list[dict[str, Any]] = []
    if acc is not None:
        items = acc.items() if isinstance(acc, Mapping) else pd.Series(acc).items()
        for i, (key, value) in enumerate(sorted(items, key=lambda kv: _events_key(kv[0]))):
            v = float(value)
            if not 0.0 <= v <= 1.0:
                raise ConfigError(f"accuracy for {key!r} is {v}; accuracies lie in [0, 1].")
            rows.append(
                {
                    "panel": "accuracy_by_events",
                    "label": str(key),
                    "x": float(i),
                    "y": v,
                    "count": np.nan,
                }
            )
    if cal is not None:
        frame = cal if isinstance(cal, pd.DataFrame) else pd.DataFrame(cal)
        check_frame(
            frame,
            CALIBRATION_COLUMNS,
            what="calibration",
            hint="It should come from the model card (one row per probability bin).",
        )
        for r in frame.itertuples(index=False):
            rows.append(
                {
                    "panel": "calibration",
                    "label": str(r.bin),
                    "x": float(r.mean_predicted),
                    "y": float(r.fraction_positive),
                    "count": float(r.count),
                }
            )
    out = pd.DataFrame(rows, columns=list(CARD_COLUMNS))
    return out


def model_card_figure(
    data: pd.DataFrame, *, title: str = "Persona assignment model", subtitle: str | None = None
) -> go.Figure:
    """Two panels: accuracy by number of events seen (bars) and a reliability diagram.

    They tell how early an assignment can be trusted (accuracy after a customer's first
    events) and whether its probabilities mean what they say (predicted 80% right 80% of the
    time: on the diagonal).

    Parameters
    ----------
    data : DataFrame
        What :func:`model_card_data` returns: rows of panel ``"accuracy_by_events"`` draw the
        bars, rows of panel ``"calibration"`` the reliability curve (marker size =
        predictions in the bin); a card without calibration leaves that panel with the
        diagonal only.
    title : str, default "Persona assignment model"
    subtitle : str, optional
        Replaces the explanation of the two panels.

    Examples
    --------
    >>> from journeymine.report import model_card_data, model_card_figure
    >>> fig = model_card_figure(model_card_data({"accuracy_by_events": {3: 0.6, "all": 0.9}}))
    >>> fig.data[0].type
    'bar'
    """
    check_frame(data, CARD_COLUMNS, what="model card data", hint="Pass model_card_data() output.")
    acc = data[data["panel"] == "accuracy_by_events"]
    cal = data[data["panel"] == "calibration"]
    fig = make_subplots(
        rows=1,
        cols=2,
        horizontal_spacing=0.12,
        subplot_titles=("Accuracy by events seen", "Calibration (reliability)"),
    )
    labels = [("all events" if lab == "all" else f"{lab} events") for lab in acc["label"]]
    fig.add_trace(
        go.Bar(
            x=labels,
            y=acc["y"],
            text=[f"{v:.0%}" for v in acc["y"]],
            textposition="outside",
            marker={"color": "#0072B2"},
            name="accuracy",
            cliponaxis=False,
            hovertemplate="%{x}: %{y:.1%} accuracy<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            line={"color": MUTED, "dash": "dash", "width": 1},
            name="perfect calibration",
            hoverinfo="skip",
        ),
        row=1,
        col=2,
    )
    if len(cal):
        size = cal["count"].to_numpy(dtype=float)
        size = 7 + 14 * np.sqrt(size / size.max()) if size.max() > 0 else np.full(len(cal), 8)
        fig.add_trace(
            go.Scatter(
                x=cal["x"],
                y=cal["y"],
                mode="lines+markers",
                name="model",
                line={"color": "#D55E00", "width": 2},
                marker={"size": size, "color": "#D55E00", "line": {"color": "white", "width": 1}},
                customdata=cal["count"],
                hovertemplate="predicted %{x:.0%} → observed %{y:.0%}<br>%{customdata:,.0f} "
                "predictions<extra></extra>",
            ),
            row=1,
            col=2,
        )
    fig.update_yaxes(title_text="accuracy", range=[0, 1.08], tickformat=".0%", row=1, col=1)
    fig.update_xaxes(title_text="events seen for the customer", row=1, col=1)
    fig.update_xaxes(
        title_text="mean predicted probability", range=[0, 1], tickformat=".0%", row=1, col=2
    )
    fig.update_yaxes(
        title_text="observed fraction correct", range=[0, 1], tickformat=".0%", row=1, col=2
    )
    finish_figure(
        fig,
        title,
        subtitle,
        "how often the predicted persona is right after a customer's first n events;"
        " marker size = predictions per bin",
        height=440,
        legend={"orientation": "h", "y": -0.22, "x": 0.55},
        showlegend=len(cal) > 0,
    )
    fig.update_annotations(font={"size": 13, "color": INK})
    style_axes(fig)
    return fig
