"""The CLI can do what the library does (#11 class 7): every item with its exit code and effect."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from journeymine.actions import Policy
from journeymine.cli import app
from journeymine.datasets import make_journeys, sample_policy, save_journeys

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated sample folder (events.parquet + ground truth): 400 customers, 60 days."""
    folder = tmp_path_factory.mktemp("sample")
    save_journeys(make_journeys(400, days=60, random_state=2), folder)
    return folder


def _help_texts() -> dict[str, str]:
    """The help of every command: its text and every parameter's help, unwrapped."""
    group = typer.main.get_command(app)
    texts = {}
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        parts = [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]
        texts[name] = " ".join(parts)
    return texts


def test_examples_policy_is_the_sample_policy() -> None:
    assert Policy.from_file(ROOT / "examples" / "policy.yaml") == sample_policy()


def test_every_path_named_in_help_texts_exists() -> None:
    named = {
        (command, m)
        for command, text in _help_texts().items()
        for m in re.findall(r"examples/[\w./-]*\w", text)
    }
    assert named, "no help text names a file under examples/"
    missing = sorted((c, p) for c, p in named if not (ROOT / p).exists())
    assert not missing, f"help texts name files that do not exist: {missing}"
    # the rendered help too (what a user reads)
    res = runner.invoke(app, ["nba", "--help"], terminal_width=200)
    assert res.exit_code == 0 and "examples/policy.yaml" in res.output


def test_personas_incomplete_windows_hint_and_fix_and_report(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    save_journeys(make_journeys(500, days=100, random_state=3), tmp_path / "d")
    events = str(tmp_path / "d" / "events.parquet")
    with caplog.at_level("WARNING"):
        res = runner.invoke(
            app, ["personas", events, "--out", str(tmp_path / "p"), "--windows", "60D"]
        )
    assert res.exit_code == 0, res.output
    dropped = [r.getMessage() for r in caplog.records if "would be incomplete" in r.getMessage()]
    assert len(dropped) == 1 and "--incomplete keep" in dropped[0], dropped  # the CLI option
    assert "incomplete='keep'" not in dropped[0]
    assert "Tracked over 1 windows" in res.output
    caplog.clear()
    report = tmp_path / "p" / "personas.html"
    with caplog.at_level("WARNING"):
        res = runner.invoke(
            app,
            ["personas", events, "--out", str(tmp_path / "p"), "--windows", "60D",
             "--incomplete", "keep", "--report", str(report)],
        )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert not [r for r in caplog.records if "would be incomplete" in r.getMessage()]
    assert "Tracked over 2 windows" in res.output
    sizes = pd.read_csv(tmp_path / "p" / "persona_sizes.csv")
    assert len(sizes) == 2
    html = report.read_text(encoding="utf-8")
    assert f"wrote {report}" in res.output and "Plotly.newPlot" in html
    assert "<script src=" not in html and "over time" in html
    # bad values: usage errors before any work
    res = runner.invoke(app, ["personas", events, "--incomplete", "maybe"])
    assert res.exit_code == 2 and "drop or keep" in res.output
    res = runner.invoke(app, ["personas", events, "--report", str(tmp_path / "no" / "r.html")])
    assert res.exit_code == 2 and "--report" in res.output and "does not exist" in res.output
