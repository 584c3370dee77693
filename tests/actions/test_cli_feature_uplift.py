"""#13: `jm nba --feature-uplift MODEL` fits a FeatureUplift on the persona model's probabilities
and features, decides with it, and `--uplift-out` saves the file `jm serve --responses`
serves with that persona model; `jm backtest --feature-uplift MODEL` replays the log with it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _uplift_world import live_policy_spec, uplift_world
from typer.testing import CliRunner

from journeymine.actions import FeatureUplift, Policy, next_best_action
from journeymine.assignment import PersonaModel, load_model
from journeymine.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cli_feature_uplift")
    log, personas = uplift_world(300, days=8)
    log.to_parquet(tmp / "events.parquet")
    # sigmoid: on this small world temperature scaling finds no temperature on some fits
    model = PersonaModel(cv=3, random_state=0, calibration="sigmoid")
    model.fit(log, personas).save(tmp / "persona.skops")
    pd.DataFrame({"customer_id": personas.index, "persona": personas.to_numpy()}).to_csv(
        tmp / "labels.csv", index=False
    )
    (tmp / "policy.json").write_text(json.dumps(live_policy_spec("response")))
    return tmp


def run(command: str, files: Path, *args: str):
    return runner.invoke(app, [command, str(files / "events.parquet"), "--policy",
                               str(files / "policy.json"), "--personas",
                               str(files / "labels.csv"), *args])  # fmt: skip


def nba(files: Path, *args: str):
    return run("nba", files, *args)


def test_nba_fits_saves_and_decides_with_a_feature_uplift(files: Path) -> None:
    out = files / "fu.skops"
    res = nba(files, "--arbitration", "uplift", "--feature-uplift", str(files / "persona.skops"),
              "--uplift-out", str(out), "--out", str(files / "a.csv"))  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "FeatureUplift: blend" in res.output
    fu = FeatureUplift.load(out)  # the pair and the cells' pair, every check passed
    model = load_model(files / "persona.skops")
    assert fu.persona_ids_ == [int(c) for c in model.classes_]
    # the decisions written are next_best_action's with the saved model and the persona
    # model's probabilities as memberships
    log = pd.read_parquet(files / "events.parquet")
    policy = Policy.from_dict(policy_spec_of(files))
    labels = pd.read_csv(files / "labels.csv", dtype={"customer_id": str})
    want = next_best_action(log, policy, fu, labels.set_index("customer_id")["persona"],
                            check="off", memberships=model.predict_proba(log))  # fmt: skip
    got = pd.read_csv(files / "a.csv", dtype={"customer_id": str})
    assert got["action"].fillna("").tolist() == want.actions["action"].fillna("").tolist()
    pd.testing.assert_series_equal(got["expected_response"], want.actions["expected_response"],
                                   check_names=False, rtol=1e-9)  # fmt: skip
    # the file the service loads, with the same persona model
    from journeymine.service import create_app
    from journeymine.service.rates import load_responses

    assert isinstance(load_responses(out), FeatureUplift)
    (files / "uplift_policy.json").write_text(json.dumps(policy_spec_of(files)))
    served = create_app(files / "persona.skops", api_key="k", responses_path=out,
                        policy_path=files / "uplift_policy.json")  # fmt: skip
    assert served.state.next_best_action


def policy_spec_of(files: Path) -> dict:
    return {**json.loads((files / "policy.json").read_text()), "arbitration": "uplift"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--feature-uplift", "MODEL"], "--feature-uplift needs uplift arbitration"),
        (["--arbitration", "uplift", "--feature-uplift", "MODEL", "--memberships", "MODEL"],
         "drop --memberships"),
        (["--arbitration", "uplift", "--feature-uplift", "NOPE"], "no such file"),
        (["--memberships", "MODEL"], "--memberships needs uplift arbitration"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("command", ["nba", "backtest"])
def test_errors_name_the_options(files: Path, command: str, args: list[str], message: str) -> None:
    subst = {"MODEL": str(files / "persona.skops"), "NOPE": str(files / "none.skops")}
    res = run(command, files, *[subst.get(a, a) for a in args])
    assert res.exit_code == 2, res.output
    assert message in res.output


def test_backtest_replays_the_log_with_a_feature_uplift(files: Path) -> None:
    res = run("backtest", files, "--arbitration", "uplift", "--feature-uplift",
                   str(files / "persona.skops"), "--out", str(files / "bt.csv"))  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "FeatureUplift: blend" in res.output
    assert "backtest (one row per journey sent; * = all):" in res.output
    # the touches written are backtest's with the FeatureUplift the command fits (the same
    # fit on the log as the command reads it: the folds of its cross-validation follow the
    # log's row order) and the persona model's probabilities as memberships
    from journeymine.actions import backtest as run_backtest
    from journeymine.io import read_events

    log = read_events(files / "events.parquet")
    policy = Policy.from_dict(policy_spec_of(files))
    model = load_model(files / "persona.skops")
    soft = model.predict_proba(log)
    fu = FeatureUplift().fit(log, soft, model.features(log), policy)
    labels = pd.read_csv(files / "labels.csv", dtype={"customer_id": str})
    want = run_backtest(log, policy, fu, labels.set_index("customer_id")["persona"],
                        check="off", memberships=soft).points  # fmt: skip
    got = pd.read_csv(files / "bt.csv", dtype={"customer_id": str})
    assert got["policy_action"].fillna("").tolist() == want["policy_action"].fillna("").tolist()
    np.testing.assert_allclose(got["expected_sent"], want["expected_sent"], rtol=1e-9)
    table = res.output.split("* = all):")[1].splitlines()
    total = next(line.split() for line in table if line.startswith("*"))
    assert total[1] == str(len(want))  # the total row counts every touch


def test_a_saved_feature_uplift_is_used_not_refitted(files: Path) -> None:
    """`--uplift-model` with a saved FeatureUplift and `--feature-uplift` with the persona model
    it was fitted with: the saved model decides (the same decisions as the run that saved it),
    nothing is refitted; the wrong combinations are refused naming the options."""
    saved, first = files / "fu_saved.skops", files / "first.csv"
    res = nba(files, "--arbitration", "uplift", "--feature-uplift", str(files / "persona.skops"),
              "--uplift-out", str(saved), "--out", str(first))  # fmt: skip
    assert res.exit_code == 0, res.output
    again = files / "again.csv"
    res = nba(files, "--arbitration", "uplift", "--feature-uplift", str(files / "persona.skops"),
              "--uplift-model", str(saved), "--out", str(again))  # fmt: skip
    assert res.exit_code == 0, res.output
    assert f"loaded from {saved}" in res.output and "cross-validation" not in res.output
    pd.testing.assert_frame_equal(pd.read_csv(again), pd.read_csv(first))
    # a FeatureUplift without the persona model whose probabilities it reads
    res = nba(files, "--arbitration", "uplift", "--uplift-model", str(saved))
    assert res.exit_code == 2 and "--feature-uplift PERSONA_MODEL" in res.output
    # the cells' UpliftModel together with --feature-uplift (which would fit another model)
    cells = files / "cells.skops"
    assert nba(files, "--arbitration", "uplift", "--uplift-out", str(cells)).exit_code == 0
    res = nba(files, "--arbitration", "uplift", "--uplift-model", str(cells),
              "--feature-uplift", str(files / "persona.skops"))  # fmt: skip
    assert res.exit_code == 2 and "is an UpliftModel (persona cells)" in res.output
    # response rates are not uplift
    rates = files / "rates.json"
    assert nba(files, "--responses-out", str(rates)).exit_code == 0
    res = nba(files, "--arbitration", "uplift", "--uplift-model", str(rates))
    assert res.exit_code == 2 and "holds response rates" in res.output
