"""#13: the shipped reachability- and consent-aware sample policy on generated journeys (the
issue counted 40% of the sample policy's push decisions going to customers without the app)."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest
from typer.testing import CliRunner

from journeymine.actions import ResponseModel, next_best_action
from journeymine.cli import app
from journeymine.datasets import make_journeys, sample_policy, sample_policy_path, save_journeys
from journeymine.exceptions import ConfigError


@pytest.fixture(scope="module")
def data():
    return make_journeys(800, days=90, random_state=23)


def _decide(data, policy, attributes=None):
    personas = data.customers.set_index("customer_id")["persona"].astype("category").cat.codes
    model = ResponseModel().fit(data.events, personas, policy)
    return next_best_action(data.events, policy, model, personas, attributes=attributes)


def test_the_reachable_policy_sends_only_where_it_may(data):
    attrs = data.customers.set_index("customer_id")[["has_app", "push_opt_in", "email_opt_in"]]
    open_policy = _decide(data, sample_policy()).actions.set_index("customer_id")
    pushed_anyway = open_policy.index[open_policy["channel"] == "push"]
    assert (~attrs.loc[pushed_anyway, "has_app"]).any()  # what the gates are for

    d = _decide(data, sample_policy(reachable=True), attributes=attrs)
    acts = d.actions.set_index("customer_id")
    push = acts.index[acts["channel"] == "push"]
    email = acts.index[acts["channel"] == "email"]
    assert len(push) and len(email)
    assert attrs.loc[push, "has_app"].all() and attrs.loc[push, "push_opt_in"].all()
    assert attrs.loc[email, "email_opt_in"].all()
    why = d.why_not[d.why_not["journey"] == "flash_sale"]
    no_app = set(attrs.index[~attrs["has_app"]])
    unreachable = why.loc[why["reason"] == "unreachable", "customer_id"]
    assert len(unreachable) and set(unreachable) <= no_app
    no_consent = set(why.loc[why["reason"] == "no_consent", "customer_id"])
    assert no_consent and all(attrs.loc[c, "has_app"] for c in no_consent)
    assert not any(attrs.loc[c, "push_opt_in"] for c in no_consent)


def test_the_reachable_policy_is_the_sample_policy_plus_consent():
    """policy_reachable.yaml is a copy of policy.yaml with a consent block: they must not drift."""
    plain, reachable = sample_policy(), sample_policy(reachable=True)
    assert not plain.consent and reachable.consent
    assert dataclasses.replace(reachable, consent=plain.consent) == plain


def test_the_reachable_policy_needs_the_attributes(data):
    with pytest.raises(ConfigError, match="attributes"):
        _decide(data, sample_policy(reachable=True))
    with pytest.raises(ConfigError, match="reachable must be True or False"):
        sample_policy_path(reachable="yes")  # type: ignore[arg-type]


def test_jm_nba_with_the_reachable_policy_and_the_generated_customers(data, tmp_path):
    save_journeys(data, tmp_path)
    labels = data.customers[["customer_id"]].assign(
        persona=data.customers["persona"].astype("category").cat.codes
    )
    labels.to_csv(tmp_path / "labels.csv", index=False)
    out = tmp_path / "nba.csv"
    args = ["nba", str(tmp_path / "events.parquet"), "--personas", str(tmp_path / "labels.csv"),
            "--policy", str(sample_policy_path(reachable=True)), "--out", str(out)]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code != 0 and "--attributes" in " ".join(res.output.split())
    res = CliRunner().invoke(app, [*args, "--attributes", str(tmp_path / "customers.parquet")])
    assert res.exit_code == 0, res.output
    acts = pd.read_csv(out, dtype={"customer_id": str}).set_index("customer_id")
    attrs = data.customers.set_index("customer_id")
    push = acts.index[acts["channel"] == "push"]
    assert len(push) and attrs.loc[push, "has_app"].all() and attrs.loc[push, "push_opt_in"].all()
