"""#16 part 4 on the command line: `jm nba --next-step-model` feeds a saved NextStepModel's
predictions to the policy's next_step options, with the same decisions as the library call;
errors name the option."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from journeymine import NextStepModel
from journeymine.actions import Policy, ResponseModel, next_best_action
from journeymine.cli import app
from journeymine.datasets import make_journeys

runner = CliRunner()

POLICY = {
    "journeys": [
        {
            "name": "flash_sale",
            "channel": "email",
            "activity": "email_sent",
            "alternatives": {"push": "push_sent"},
        },
        {
            "name": "cart_abandonment",
            "channel": "email",
            "activity": "email_sent",
            "skip_if_likely": True,
        },
    ],
    "prior_rate": 0.05,
    "next_step": {"channels": {"app": "push", "web": "email"}, "skip_outcome_above": 0.5},
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cli_next_step")
    log = make_journeys(n_customers=300, days=60, random_state=31).events
    log.to_parquet(tmp / "events.parquet")
    (tmp / "policy.json").write_text(json.dumps(POLICY))
    plain = {k: v for k, v in POLICY.items() if k != "next_step"}
    (tmp / "plain.json").write_text(json.dumps(plain))
    ids = log["customer_id"].astype(str).unique()
    pd.DataFrame({"customer_id": ids, "persona": 0}).to_csv(tmp / "labels.csv", index=False)
    # 20 boosting rounds: the tests compare the CLI with the library on the same saved model
    NextStepModel(outcome="purchase", horizon="7D", max_iter=20, random_state=0).fit(log).save(
        tmp / "next.skops"
    )
    return tmp


def _nba(files: Path, policy: str, *extra: str):
    args = ["nba", str(files / "events.parquet"), "--policy", str(files / policy)]
    args += ["--personas", str(files / "labels.csv"), *extra]
    return runner.invoke(app, args)


def test_nba_uses_the_saved_next_step_model(files: Path) -> None:
    out = files / "actions.csv"
    res = _nba(files, "policy.json", "--next-step-model", str(files / "next.skops"),
               "--out", str(out))  # fmt: skip
    assert res.exit_code == 0, res.output
    log = pd.read_parquet(files / "events.parquet")
    assert f"next steps predicted for {log['customer_id'].nunique()} customers" in res.output
    got = pd.read_csv(out)
    # the same decisions as the library with the model's predictions
    pol = Policy.from_dict(POLICY)
    labels = pd.Series(0, index=log["customer_id"].astype(str).unique())
    rates = ResponseModel().fit(log, labels, pol)
    steps = NextStepModel.load(files / "next.skops").predict(log)
    d = next_best_action(log, pol, rates, labels, next_step=steps, check="off")
    want = d.actions.reset_index(drop=True)
    assert got["action"].fillna("").tolist() == want["action"].fillna("").tolist()
    # the options did something: without the model the decisions differ
    res2 = _nba(files, "policy.json", "--out", str(files / "plain.csv"))
    assert res2.exit_code == 0, res2.output
    assert (
        pd.read_csv(files / "plain.csv")
        .drop(columns=["rate_source"])
        .equals(got.drop(columns=["rate_source"]))
        is False
    )


def test_next_step_model_errors_name_the_option(files: Path) -> None:
    res = _nba(files, "plain.json", "--next-step-model", str(files / "next.skops"))
    assert res.exit_code != 0
    assert "--next-step-model needs a policy with a next_step block" in res.output
    res = _nba(files, "policy.json", "--next-step-model", str(files / "missing.skops"))
    assert res.exit_code != 0 and "--next-step-model" in res.output
