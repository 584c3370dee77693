"""The persona report's "What each persona does next" (#16 item 4): NextStepModel predictions
summarised per persona, the findings line, and the errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import journeymine as jm
from journeymine.datasets import make_journeys
from journeymine.exceptions import ConfigError
from journeymine.report import persona_next_steps_data, persona_report, persona_report_data


@pytest.fixture(scope="module")
def fitted() -> tuple[pd.DataFrame, jm.PersonaMiner, pd.DataFrame]:
    log = make_journeys(n_customers=600, days=90, random_state=5).events
    miner = jm.PersonaMiner(n_bootstrap=0, random_state=0).fit(log)
    # any fitted model serves the per-persona summary; 20 boosting rounds keep the fit short
    steps = jm.NextStepModel(random_state=0, max_iter=20).fit(log).predict(log)
    return log, miner, steps


def test_next_steps_per_persona(fitted: tuple[pd.DataFrame, jm.PersonaMiner, pd.DataFrame]) -> None:
    _, miner, steps = fitted
    names = miner.profiles_["name"].to_dict()
    table = persona_next_steps_data(steps, miner.labels_, names, k=10)
    labelled = miner.labels_[miner.labels_ >= 0]
    sizes = labelled.value_counts()
    # one row per persona with >= 10 customers, their counts, largest first
    assert sorted(table["persona"]) == sorted(int(p) for p in sizes.index[sizes >= 10])
    assert table["customers"].tolist() == sorted(table["customers"], reverse=True)
    for r in table.to_dict("records"):
        assert r["customers"] == int(sizes[r["persona"]])
        # the first listed step is the most frequent most-likely activity of the persona
        members = labelled.index[labelled == r["persona"]]
        top = steps.loc[members, "activity"].astype(str).value_counts().index[0]
        assert str(r["most likely next step"]).startswith(f"{top} ")
    assert {"next channel", "median time to next"} <= set(table.columns)
    # a larger privacy threshold hides small personas and counts them
    big = persona_next_steps_data(steps, miner.labels_, names, k=int(sizes.max()))
    assert len(big) == 1 and big.attrs["hidden"] == len(sizes) - 1


def test_persona_report_section_and_findings(
    fitted: tuple[pd.DataFrame, jm.PersonaMiner, pd.DataFrame], tmp_path: Path
) -> None:
    _, miner, steps = fitted
    data = persona_report_data(miner, next_steps=steps)
    assert data.next_steps is not None and len(data.next_steps)
    findings = jm.report.persona_findings(data)
    assert any(": next, most likely " in f for f in findings)
    out = persona_report(miner, tmp_path / "p.html", next_steps=steps)
    html = out.read_text()
    assert "What each persona does next" in html and "most likely next step" in html


def test_next_steps_errors(fitted: tuple[pd.DataFrame, jm.PersonaMiner, pd.DataFrame]) -> None:
    _, miner, steps = fitted
    with pytest.raises(ConfigError, match=r"next_steps lacks column\(s\) \['probability'\]"):
        persona_next_steps_data(steps.drop(columns=["probability"]), miner.labels_, {})
    with pytest.raises(ConfigError, match="no customer of next_steps has a persona"):
        persona_next_steps_data(steps.set_axis([f"X{i}" for i in range(len(steps))]),
                                miner.labels_, {})  # fmt: skip
    with pytest.raises(ConfigError, match="needs each customer's persona"):
        persona_report_data(miner.profiles_, next_steps=steps)
