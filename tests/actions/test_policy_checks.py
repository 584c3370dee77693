"""Policies that silently do nothing (issue #11, class 4): unsafe/oversize policy files,
rules naming activities the log never has, and backtest gate counts that add up."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pandas as pd
import pytest

from journeymine.actions import Policy, ResponseModel, backtest, next_best_action
from journeymine.actions.policy import MAX_POLICY_BYTES
from journeymine.datasets import (
    SyntheticJourneys,
    make_journeys,
    sample_policy,
    sample_policy_path,
)
from journeymine.exceptions import ConfigError, DataQualityWarning

BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
journeys: *i
"""


def test_yaml_alias_bomb_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "bomb.yaml"
    p.write_text(BOMB)
    with pytest.raises(ConfigError, match=r"line 1: YAML anchors and aliases .* not allowed"):
        Policy.from_file(p)


def test_yaml_alias_alone_and_merge_key_are_refused(tmp_path: Path) -> None:
    p = tmp_path / "merge.yaml"
    p.write_text(
        "base: &base {channel: email, activity: email_sent}\n"
        "journeys:\n  - <<: *base\n    name: x\n"
    )
    with pytest.raises(ConfigError, match="write the repeated part out in full"):
        Policy.from_file(p)


def test_sample_policy_still_loads() -> None:
    assert Policy.from_file(sample_policy_path()).journeys


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_oversize_policy_file_is_refused(tmp_path: Path, suffix: str) -> None:
    p = tmp_path / f"big{suffix}"
    p.write_text(json.dumps({"journeys": [], "pad": "x" * MAX_POLICY_BYTES}))
    with pytest.raises(ConfigError, match="more than the 1,048,576 a policy may have"):
        Policy.from_file(p)


# --- a policy checked against a log ----------------------------------------------------------

TYPO_POLICY = {
    "journeys": [
        {
            "name": "cart",
            "channel": "email",
            "activity": "email_sent",
            "eligible": [{"rule": "seen", "activity": "add_to_crt", "within": "24h"}],
            "suppress": [{"activity": "purchase", "within": "1D"}],
        },
        {
            "name": "sms_push",
            "channel": "sms",
            "activity": "sms_sentt",
            "suppress": [{"activity": "return_prodcut", "within": "30D"}],
        },
    ]
}


@pytest.fixture(scope="module")
def small() -> SyntheticJourneys:
    return make_journeys(n_customers=200, days=30, random_state=1)


def test_check_against_warns_once_with_every_finding(small: SyntheticJourneys) -> None:
    policy = Policy.from_dict(TYPO_POLICY)
    with pytest.warns(DataQualityWarning) as caught:
        found = policy.check_against(small.events)
    assert len(caught) == 1
    assert len(found) == 3
    text = str(caught[0].message)
    assert "'add_to_crt', not in the log. Did you mean 'add_to_cart'?" in text
    assert "journey 'sms_push' sends activity 'sms_sentt', which never occurs" in text
    assert "Did you mean 'sms_sent'?" in text
    assert "suppress[0] names activity 'return_prodcut'" in text
    assert "'purchase'" not in text  # present in the log: no finding


def test_check_against_strict_raises(small: SyntheticJourneys) -> None:
    policy = Policy.from_dict(TYPO_POLICY)
    with pytest.raises(ConfigError, match="3 finding"):
        policy.check_against(small.events, strict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert sample_policy().check_against(small.events, strict=True) == []


def test_engine_and_backtest_check_the_policy(small: SyntheticJourneys) -> None:
    good = sample_policy()
    bad = Policy.from_dict(
        {
            "journeys": [
                {
                    "name": "post_purchase_tips",
                    "channel": "email",
                    "activity": "email_sent",
                    "eligible": [{"rule": "seen", "activity": "purchace", "within": "14D"}],
                }
            ]
        }
    )
    personas = pd.Series(0, index=small.customers["customer_id"])
    rm = ResponseModel().fit(small.events, personas, bad)
    with pytest.warns(DataQualityWarning, match="'purchace'"):
        next_best_action(small.events, bad, rm, personas)
    with pytest.raises(ConfigError, match="'purchace'"):
        next_best_action(small.events, bad, rm, personas, check="strict")
    with pytest.raises(ConfigError, match="'purchace'"):
        backtest(small.events, bad, rm, personas, check="strict")
    with pytest.warns(DataQualityWarning, match="'purchace'"):
        backtest(small.events, bad, rm, personas)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataQualityWarning)
        next_best_action(small.events, bad, rm, personas, check="off")
        rm_good = ResponseModel().fit(small.events, personas, good)
        next_best_action(small.events, good, rm_good, personas, check="strict")
    with pytest.raises(ConfigError, match="check must be one of"):
        next_best_action(small.events, good, rm_good, personas, check="loud")


# --- backtest: every blocked touch is counted under its gate ----------------------------------


def test_backtest_gate_counts_add_up_to_blocked() -> None:
    from journeymine.actions.engine import REASONS

    data = make_journeys(n_customers=600, days=60, random_state=3)
    policy = sample_policy()
    personas = data.customers.set_index("customer_id")["persona"].astype("category").cat.codes
    bt = backtest(data.events, policy, ResponseModel().fit(data.events, personas, policy), personas)
    gates = [f"blocked_{r}" for r in REASONS]
    assert set(gates) <= set(bt.summary.columns)
    per_gate = bt.summary[gates].sum(axis=1)
    assert (per_gate == bt.summary["blocked"]).all(), bt.summary[["blocked", *gates]]
    assert bt.summary.loc["*", "blocked"] > 0
    # more than the two gates the CLI used to show actually block here
    assert (bt.summary.loc["*", gates] > 0).sum() >= 3
    assert set(bt.points["sent_reason"].dropna()) <= set(REASONS)


def test_cli_backtest_shows_every_gate_and_strict_refuses_typos(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from journeymine.cli import app
    from journeymine.datasets import save_journeys

    runner = CliRunner()
    data = make_journeys(300, days=45, random_state=2)
    save_journeys(data, tmp_path)
    names = sorted(data.customers["persona"].unique())
    labels = data.customers.assign(persona=data.customers["persona"].map(names.index))
    labels[["customer_id", "persona"]].to_csv(tmp_path / "labels.csv", index=False)
    events = str(tmp_path / "events.parquet")
    per = ["--personas", str(tmp_path / "labels.csv")]
    res = runner.invoke(app, ["backtest", events, "--policy", str(sample_policy_path()), *per])
    assert res.exit_code == 0, res.output
    assert "blocked_suppressed" in res.output and "blocked_not_eligible" in res.output
    typo = tmp_path / "typo.json"
    typo.write_text(json.dumps(TYPO_POLICY))
    for cmd in ("nba", "backtest"):
        res = runner.invoke(app, [cmd, events, "--policy", str(typo), *per, "--strict"])
        assert res.exit_code == 2, res.output
        assert "add_to_crt" in res.output
