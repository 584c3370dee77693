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
