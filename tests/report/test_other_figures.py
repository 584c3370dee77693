"""Persona, change-timeline and model-card figures; static export with kaleido."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest

import journeymine as jm
from journeymine.report import (
    change_report_data,
    change_timeline_data,
    change_timeline_figure,
    model_card_data,
    model_card_figure,
    persona_migration_data,
    persona_migration_figure,
    persona_next_steps_data,
    persona_profile_data,
    persona_profile_figure,
    persona_sizes_data,
    persona_sizes_figure,
    response_rates_data,
    save_figure,
)
from journeymine.report.export import find_browser


def test_model_card_data_and_figure() -> None:
    card = {
        "metrics": {
            "accuracy_by_events": {"all": 0.93, 10: 0.85, 3: 0.6},
            "calibration": [
                {"bin": 0, "mean_predicted": 0.3, "fraction_positive": 0.25, "count": 40}
            ],
        }
    }
    data = model_card_data(card)
    acc = data[data["panel"] == "accuracy_by_events"]
    assert acc["label"].tolist() == ["3", "10", "all"]
    assert acc["y"].tolist() == [0.6, 0.85, 0.93]
    fig = model_card_figure(data)
    assert list(fig.data[0].y) == [0.6, 0.85, 0.93]
    assert fig.data[2].x == (0.3,)
    with pytest.raises(jm.ConfigError, match="accuracy_by_events"):
        model_card_data({"other": 1})
    with pytest.raises(jm.ConfigError, match=r"\[0, 1\]"):
        model_card_data({"accuracy_by_events": {3: 1.7}})


def test_model_card_reads_the_persona_model_card_layout() -> None:
    card = {
        "metrics": {
            "by_events_seen": [
                {"events": 3, "n": 50, "accuracy": 0.5},
                {"events": "all", "n": 50, "accuracy": 0.9},
            ],
            "reliability": [
                {"bin": "(0.0, 0.1]", "count": 0, "mean_confidence": None, "accuracy": None},
                {"bin": "(0.5, 0.6]", "count": 30, "mean_confidence": 0.55, "accuracy": 0.6},
            ],
        }
    }
    data = model_card_data(card)
    assert data["label"].tolist() == ["3", "all", "(0.5, 0.6]"]
    cal = data[data["panel"] == "calibration"].iloc[0]
    assert (cal["x"], cal["y"], cal["count"]) == (0.55, 0.6, 30)


def test_persona_frames_hide_small_groups() -> None:
    prof = pd.DataFrame(
        {
            "persona": [0, 0, 1, 1, 2, 2],
            "name": ["A", "A", "B", "B", "C", "C"],
            "size": [50, 50, 40, 40, 3, 3],
            "feature": ["f1", "f2"] * 3,
            "effect": [2.0, 0.1, -0.2, 1.5, 4.0, 4.0],
        }
    )
    data = persona_profile_data(prof, top_k=1, k=10)
    assert set(data["persona"]) == {0, 1} and data.attrs["hidden"] == 1
    # the 0.x name top= still works for one minor release, with a FutureWarning
    with pytest.warns(FutureWarning, match=r"persona_profile_data\(top=...\) is renamed"):
        old = persona_profile_data(prof, top=1, k=10)
    pd.testing.assert_frame_equal(old, data)
    with pytest.raises(TypeError, match="pass top_k= only"):
        persona_profile_data(prof, top=1, top_k=1)
    assert set(data["feature"]) == {"f1", "f2"}
    fig = persona_profile_figure(data)
    assert fig.data[0].z.shape == (2, 2)
    sizes = persona_sizes_data(
        {"sizes": pd.DataFrame({0: [100, 5], 1: [80, 90]}, index=["w1", "w2"])}, k=10
    )
    assert sizes.attrs["hidden"] == 1
    assert len(persona_sizes_figure(sizes).data) == 2
    mig = persona_migration_data(
        pd.DataFrame(
            {
                "from_window": ["w1"] * 3,
                "from_persona": [0, 0, 1],
                "to_window": ["w2"] * 3,
                "to_persona": [0, 1, 1],
                "customers": [90, 4, 70],
            }
        ),
        k=10,
    )
    assert mig["customers"].tolist() == [90, 70] and mig.attrs["hidden_customers"] == 4
    assert persona_migration_figure(mig).data[0].type == "sankey"
    with pytest.raises(jm.ConfigError, match="profiles"):
        persona_profile_data(pd.DataFrame({"x": [1]}))


def test_change_timeline_accepts_detect_changes_columns() -> None:
    changes = pd.DataFrame(
        {
            "incident": [1, 2],
            "metric": ["edge", "volume"],
            "channel": ["app", "web"],
            "what": ["checkout -> purchase", "search"],
            "source": ["checkout", None],
            "target": ["purchase", None],
            "start": pd.to_datetime(["2025-02-05", "2025-03-01"], utc=True),
            "end": pd.to_datetime(["2025-02-19", "2025-03-06"], utc=True),
            "baseline": [0.81, 1.2],
            "changed": [0.08, 0.5],
            "effect": [-1.9, -0.9],
            "p_value": [1e-13, 1e-5],
            "q_value": [1e-12, 1e-4],
        }
    )
    data = change_timeline_data(changes)
    assert data["where"].tolist() == ["app", "web"]
    assert data["value"].tolist() == [0.08, 0.5]
    assert data["q_value"].tolist() == [1e-12, 1e-4]
    assert change_timeline_data(changes, top_k=1)["what"].tolist() == ["checkout -> purchase"]
    with pytest.warns(FutureWarning, match=r"change_timeline_data\(top=...\) is renamed"):
        assert len(change_timeline_data(changes, top=1)) == 1
    fig = change_timeline_figure(data)
    assert fig.data[0].name == "fell"
    with pytest.raises(jm.ConfigError, match="start"):
        change_timeline_data(changes.drop(columns=["start"]))
    # change_report_data / change_report: top= is the old name of top_k=
    plain = changes.drop(columns=["incident"])
    new = change_report_data(None, changes=plain, top_k=1)
    with pytest.warns(FutureWarning, match=r"change_report_data\(top=...\) is renamed"):
        old = change_report_data(None, changes=plain, top=1)
    pd.testing.assert_frame_equal(old.timeline, new.timeline)
    assert len(old.timeline) == 1


def test_response_rates_names_is_the_old_name_of_persona_names() -> None:
    table = pd.DataFrame(
        {
            "persona": [-1, 0, 1, 1],
            "journey": ["a", "a", "a", "b"],
            "touches": [50, 40, 30, 3],
            "responses": [5, 4, 6, 1],
            "rate": [0.1, 0.1, 0.2, 0.33],
        }
    )
    new = response_rates_data(table, persona_names={0: "App", 1: "Web"}, k=10)
    assert new["name"].tolist() == ["all customers", "App", "Web"]
    assert new.attrs["hidden"] == 1
    with pytest.warns(FutureWarning, match=r"response_rates_data\(names=...\) is renamed"):
        old = response_rates_data(table, names={0: "App", 1: "Web"}, k=10)
    pd.testing.assert_frame_equal(old, new)
    # positional, as in 0.1, still reads the names
    assert response_rates_data(table, {0: "App"}, k=10)["name"].tolist()[1] == "App"


def test_persona_next_steps_names_is_the_old_name_of_persona_names() -> None:
    steps = pd.DataFrame(
        {
            "activity": ["buy", "buy", "browse", "browse", "browse", "browse"],
            "probability": [0.6, 0.5, 0.7, 0.4, 0.5, 0.6],
        },
        index=pd.Index(list("abcdef"), name="customer_id"),
    )
    labels = pd.Series([0, 0, 1, 1, 1, 1], index=list("abcdef"))
    names = {0: "Buyers", 1: "Browsers"}
    new = persona_next_steps_data(steps, labels, persona_names=names, k=2)
    assert set(new["name"]) == {"Buyers", "Browsers"}
    with pytest.warns(FutureWarning, match=r"persona_next_steps_data\(names=...\) is renamed"):
        old = persona_next_steps_data(steps, labels, names=names, k=2)
    pd.testing.assert_frame_equal(old, new)


@pytest.mark.skipif(
    find_browser() is None or not os.access(find_browser() or "", os.X_OK),
    reason="no Chrome/Chromium for kaleido (apt-get install chromium)",
)
def test_save_figure_png_and_svg(tmp_path: Path) -> None:
    pytest.importorskip("kaleido", reason="kaleido not installed (pip install '.[report]')")
    fig = go.Figure(
        go.Bar(x=["web", "<app>"], y=[3, 5]),
        layout={"title": {"text": "Sizes"}, "width": 500, "height": 300},
    )
    png = save_figure(fig, tmp_path / "fig.png", scale=1)
    raw = png.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(raw[16:20], "big"), int.from_bytes(raw[20:24], "big")
    assert (width, height) == (500, 300)
    svg = save_figure(fig, tmp_path / "fig.svg").read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<svg") and "Sizes" in svg


def test_save_figure_rejects_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(jm.ConfigError, match="gif"):
        save_figure(go.Figure(), tmp_path / "x.gif")
