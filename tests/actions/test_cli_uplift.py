"""#13: `jm nba` / `jm backtest` with uplift arbitration, a saved UpliftModel, consent
attributes and soft memberships; errors name the CLI options."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from journeymine.actions import Policy, UpliftModel
from journeymine.cli import app
from journeymine.datasets import RandomEligible, make_world, sim_policy, simulate

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli_uplift")
    world = make_world(300, history_days=30, random_state=23)
    pol = sim_policy()
    sim = simulate(
        world, RandomEligible(pol, none_share=0.3, random_state=1), days=6, random_state=2
    )
    sim.events.to_parquet(tmp / "events.parquet")
    (tmp / "policy.json").write_text(json.dumps(_policy_dict(pol)))
    tp = world.true_personas
    pd.DataFrame({"customer_id": tp.index, "persona": tp.to_numpy()}).to_csv(
        tmp / "labels.csv", index=False
    )
    soft = pd.DataFrame(0.0, index=tp.index, columns=range(int(tp.max()) + 1))
    for c in soft.columns:
        soft[c] = (tp == c).astype(float) * 0.8 + 0.2 / len(soft.columns)
    soft.rename_axis("customer_id").to_csv(tmp / "memberships.csv")
    world.attributes[["has_app"]].rename_axis("customer_id").to_csv(tmp / "attrs.csv")
    return tmp


def _policy_dict(pol) -> dict:
    """The simulated retailer's policy as a file, with push reachability from an attribute."""
    consent = [
        {"channel": "email", "opt_in": "email_opt_in", "opt_out": "email_opt_out"},
        {"channel": "sms", "opt_in": "sms_opt_in", "opt_out": "sms_opt_out"},
        {"channel": "push", "attribute": "has_app"},
        {"channel": "push", "opt_in": "push_opt_in", "opt_out": "push_opt_out"},
    ]
    journeys = [
        {"name": j.name, "channel": j.channel, "activity": j.activity, "cost": j.cost}
        for j in pol.journeys
    ]
    return {
        "journeys": journeys,
        "consent": consent,
        "response_window": "20h",
        "outcome_activities": ["purchase"],
        "response_activities": ["purchase"],
    }


def _run(files: Path, *args: str):
    common = ["--policy", str(files / "policy.json"), "--personas", str(files / "labels.csv")]
    return runner.invoke(app, [args[0], str(files / "events.parquet"), *common, *args[1:]])


def test_nba_with_uplift_saved_model_and_memberships(files):
    out = files / "uplift.skops"
    res = _run(files, "nba", "--arbitration", "uplift", "--attributes", str(files / "attrs.csv"),
               "--uplift-out", str(out), "--out", str(files / "a.csv"))  # fmt: skip
    assert res.exit_code == 0, res.output
    assert out.is_file() and out.with_suffix(".json").is_file()
    # how sure the fitted uplift is of each persona's best journey, as the library says
    said = " ".join(res.output.split())
    assert "best journey per persona by expected net value, and the probability it is" in said
    pol = Policy.from_dict(json.loads((files / "policy.json").read_text()))
    sure = UpliftModel.load(out).choice_certainty(pol).set_index("persona")
    p0 = sure.loc[sure.index[sure.index >= 0][0]]
    assert f"{p0['best']} ({p0['probability_best']:.2f}; runner-up {p0['runner_up']}" in said
    first = pd.read_csv(files / "a.csv", dtype={"customer_id": str})
    res = _run(files, "nba", "--arbitration", "uplift", "--attributes", str(files / "attrs.csv"),
               "--uplift-model", str(out), "--out", str(files / "b.csv"))  # fmt: skip
    assert res.exit_code == 0, res.output
    again = pd.read_csv(files / "b.csv", dtype={"customer_id": str})
    pd.testing.assert_frame_equal(first, again)  # the saved model decides as the fitted one
    # push only to customers with the app (the attribute gate)
    attrs = pd.read_csv(files / "attrs.csv", dtype={"customer_id": str}).set_index("customer_id")
    pushed = first.loc[first["action"] == "flash_sale", "customer_id"]
    assert attrs.loc[pushed, "has_app"].all()
    res = _run(files, "nba", "--arbitration", "uplift", "--attributes", str(files / "attrs.csv"),
               "--memberships", str(files / "memberships.csv"), "--out",
               str(files / "c.csv"))  # fmt: skip
    assert res.exit_code == 0, res.output
    res = _run(files, "backtest", "--arbitration", "uplift", "--attributes",
               str(files / "attrs.csv"))  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "agree_share" in res.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nba"], "--attributes"),
        (["nba", "--attributes", "ATTRS", "--arbitration", "best"], "--arbitration must be"),
        (["nba", "--attributes", "ATTRS", "--memberships", "MEMB"], "--arbitration uplift"),
        (["nba", "--attributes", "ATTRS", "--uplift-out", "U"], "--arbitration uplift"),
        (
            ["nba", "--attributes", "ATTRS", "--arbitration", "uplift", "--responses-out", "R"],
            "--uplift-out",
        ),
        (["nba", "--attributes", "NOPE", "--arbitration", "uplift"], "no --attributes file"),
    ],
)
def test_errors_name_the_options(files, args, message):
    subst = {
        "ATTRS": str(files / "attrs.csv"),
        "MEMB": str(files / "memberships.csv"),
        "NOPE": str(files / "missing.csv"),
        "U": str(files / "u.skops"),
        "R": str(files / "r.json"),
    }
    res = _run(files, *[subst.get(a, a) for a in args])
    assert res.exit_code == 2, res.output
    assert message in res.output
