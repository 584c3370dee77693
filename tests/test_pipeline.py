"""The demo pipeline: every step runs, and the numbers are the same on every run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from journeymine.datasets import make_journeys, save_journeys
from journeymine.exceptions import DataQualityWarning
from journeymine.pipeline import run_demo


def test_demo_is_complete_and_reproducible(tmp_path: Path) -> None:
    save_journeys(make_journeys(800, days=120, random_state=5), tmp_path / "data")
    lines: list[str] = []
    first = run_demo(tmp_path / "data", tmp_path / "a", echo=lines.append, show_progress=False)
    second = run_demo(tmp_path / "data", tmp_path / "b", echo=lambda s: None, show_progress=False)
    a = json.loads((tmp_path / "a" / "summary.json").read_text())
    b = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert a == b
    assert set(a) == {"log", "journeys", "changes", "personas", "assignment", "actions"}
    assert a["personas"]["personas"] >= 3
    assert 0 <= a["assignment"]["abstained_share"] <= 1
    for name in (
        "journeys.html",
        "changes.html",
        "personas.html",
        "persona_model.skops",
        "persona_model.json",
        "assignments.csv",
        "personas.csv",
        "next_best_actions.csv",
        "actions.html",
    ):
        assert (tmp_path / "a" / name).exists(), name
    assert set(first.artifacts) == set(second.artifacts)
    assert any(line.startswith("personas:") for line in lines)
    assert any(line.startswith("next best action:") for line in lines)
    assert a["actions"]["decided"] == a["log"]["customers"]
    assert a["actions"]["backtest_suppressed"] > 0  # tips about returned products
    assert any("app" in c for c in a["changes"])  # the scheduled app checkout failure


def test_demo_refuses_a_log_it_cannot_run_on_before_any_work(tmp_path: Path) -> None:
    import pandas as pd
    import pytest

    from journeymine.exceptions import EventLogError

    events = make_journeys(200, days=30, random_state=0).events
    events = events.assign(activity=pd.Series(["open", "close"] * len(events))[: len(events)])
    events.drop(columns=["channel"]).to_parquet(tmp_path / "events.parquet", index=False)
    with pytest.raises(EventLogError) as err:
        run_demo(tmp_path, tmp_path / "out", echo=lambda s: None, show_progress=False)
    message = str(err.value)
    assert "no column 'channel'" in message and "no 'visit' or 'purchase'" in message
    assert "jm generate" in message
    assert not any((tmp_path / "out").glob("*"))  # nothing written


def test_demo_on_a_log_of_one_persona_skips_the_assignment_model(tmp_path: Path) -> None:
    # the app loyalists of a small log alone: the miner finds one persona, so there is no
    # classifier to train; the demo says so and still writes the other outputs
    data = make_journeys(300, days=60, random_state=0)
    one = data.customers.loc[data.customers["persona"] == "loyal_app_buyer", "customer_id"]
    data.events = data.events[data.events["customer_id"].isin(one)]
    data.customers = data.customers[data.customers["customer_id"].isin(one)]
    save_journeys(data, tmp_path / "data")
    said: list[str] = []
    # (the sample policy names an SMS click this persona never makes: said, not hidden)
    with pytest.warns(DataQualityWarning, match="does not fit the log"):
        state = run_demo(tmp_path / "data", tmp_path / "out", echo=said.append, show_progress=False)
    assert state.summary["personas"]["personas"] == 1
    assert "no assignment model to train" in state.summary["assignment"]["skipped"]
    assert any(line.startswith("assignment skipped: ") for line in said)
    assert not (tmp_path / "out" / "persona_model.skops").exists()
    for name in ("next_best_actions.csv", "personas.html", "summary.json"):
        assert (tmp_path / "out" / name).exists()
