"""#13: backtest(..., memberships=) replays a log through a policy whose rates are per customer
(a FeatureUplift, or an UpliftModel on soft memberships), deciding each touch as
next_best_action(..., memberships=) decides for that customer at that time."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from journeymine.actions import (
    FeatureUplift,
    ResponseModel,
    UpliftModel,
    backtest,
    next_best_action,
)
from journeymine.assignment import PersonaModel
from journeymine.datasets import RandomEligible, make_world, sim_policy, simulate
from journeymine.exceptions import ConfigError


@pytest.fixture(scope="module")
def world() -> dict:
    """A random-eligible pilot on 200 simulated customers, a persona model's probabilities and
    features on it, and a FeatureUplift that gives the features weight (a fixed blend)."""
    w = make_world(200, history_days=30, random_state=0)
    policy = sim_policy()
    pilot = RandomEligible(policy, none_share=0.3, random_state=1)
    log = simulate(w, pilot, days=7, random_state=1).events
    personas = w.true_personas
    # sigmoid: on a small world temperature scaling finds no temperature on some fits
    model = PersonaModel(cv=3, random_state=0, calibration="sigmoid").fit(log, personas)
    soft, features = model.predict_proba(log), model.features(log)
    fu = FeatureUplift(n_components=3, C=0.03, blend=0.75).fit(log, soft, features, policy)
    return {"log": log, "policy": policy, "personas": personas, "soft": soft, "fu": fu}


def test_every_touch_is_decided_as_next_best_action_decides(world: dict) -> None:
    log, policy, personas, soft, fu = (
        world[k] for k in ("log", "policy", "personas", "soft", "fu")
    )
    bt = backtest(log, policy, fu, personas, memberships=soft, check="off")
    p = bt.points
    assert len(p) > 300
    # next_best_action for the customers touched at each logged time, at that time
    parts = []
    for at, g in p.groupby("at"):
        d = next_best_action(log, policy, fu, personas, at=at, check="off", memberships=soft,
                             customers=g["customer_id"].unique())  # fmt: skip
        parts.append(g.merge(d.actions, on=["customer_id", "at"], how="left"))
    both = pd.concat(parts)
    assert len(both) == len(p)
    assert both["action"].fillna("-").tolist() == both["policy_action"].fillna("-").tolist()
    sent = both["action"].notna()
    assert 0 < sent.sum() < len(both)  # some touches the policy would send, some not
    np.testing.assert_allclose(both.loc[sent, "expected_policy"],
                               both.loc[sent, "expected_response"], rtol=1e-12)  # fmt: skip
    # the logged choice's expected response is the customer's own rate x the journey's value
    names = [j.name for j in policy.journeys]
    values = np.array([j.value for j in policy.journeys])
    own = fu.rates(soft.reindex(p["customer_id"])) * values
    k = np.array([names.index(s) for s in p["sent"]])
    np.testing.assert_allclose(p["expected_sent"], own[np.arange(len(p)), k], rtol=1e-12)
    # and the per-customer rates change decisions against the persona cells on hard labels
    cells = UpliftModel().fit(log, personas, policy)
    hard = backtest(log, policy, cells, personas, check="off").points
    assert (hard["policy_action"].fillna("-") != p["policy_action"].fillna("-")).sum() > 20


def test_one_hot_memberships_replay_as_the_hard_labels(world: dict) -> None:
    log, policy, personas = world["log"], world["policy"], world["personas"]
    cells = UpliftModel().fit(log, personas, policy)
    one_hot = pd.get_dummies(personas).astype(float)
    hard = backtest(log, policy, cells, personas, check="off")
    soft = backtest(log, policy, cells, personas, check="off", memberships=one_hot)
    pd.testing.assert_frame_equal(soft.points, hard.points)
    pd.testing.assert_frame_equal(soft.summary, hard.summary)


def test_errors_say_what_to_pass(world: dict) -> None:
    log, policy, personas, soft, fu = (
        world[k] for k in ("log", "policy", "personas", "soft", "fu")
    )
    with pytest.raises(ConfigError, match=r"FeatureUplift reads .* pass memberships="):
        backtest(log, policy, fu, personas, check="off")
    raw = dataclasses.replace(policy, arbitration="response")
    rm = ResponseModel().fit(log, personas, raw)
    with pytest.raises(ConfigError, match="memberships need an UpliftModel"):
        backtest(log, raw, rm, personas, check="off", memberships=soft)
    with pytest.raises(ConfigError, match="memberships must be a DataFrame"):
        backtest(log, policy, fu, personas, check="off", memberships=soft.to_numpy())
