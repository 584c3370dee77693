"""#16 part 4: the policy's next-step options (send on the predicted next channel, skip a
journey whose outcome is likely anyway) in the engine and in the simulator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from journeymine.actions import Policy, ResponseModel, next_best_action
from journeymine.datasets import (
    PolicyDecider,
    RandomEligible,
    make_world,
    sim_policy,
    simulate,
)
from journeymine.exceptions import ConfigError

SPEC = {
    "journeys": [
        {
            "name": "offer",
            "channel": "email",
            "activity": "email_sent",
            "alternatives": {"push": "push_sent"},
        },
        {
            "name": "cart",
            "channel": "email",
            "activity": "email_sent",
            "skip_if_likely": True,
            "value": 2.0,
        },
    ],
    "consent": [{"channel": "push", "requires": "app_install"}],
    "caps": [{"channel": "push", "max": 1, "per": "7D"}],
    "prior_rate": 0.05,
    "next_step": {"channels": {"app": "push", "web": "email"}, "skip_outcome_above": 0.6},
}
LOG = pd.DataFrame(
    {
        "customer_id": ["a", "a", "b", "b", "c", "c", "d"],
        "timestamp": pd.to_datetime(
            [
                "2025-01-01",
                "2025-01-02",
                "2025-01-01",
                "2025-01-02",
                "2025-01-01",
                "2025-01-03",
                "2025-01-02",
            ],
            utc=True,
        ),
        "activity": [
            "app_install",
            "visit",
            "visit",
            "visit",
            "app_install",
            "push_sent",
            "visit",
        ],
        "journey_id": [None, None, None, None, None, "offer", None],
    }
)


def test_policy_parses_and_checks_the_options():
    pol = Policy.from_dict(SPEC)
    assert pol.journeys[0].alternatives == (("push", "push_sent"),)
    assert pol.journeys[1].skip_if_likely and pol.skip_outcome_above == 0.6
    assert "push_sent" in pol.touch_activities and pol.channel_of["push_sent"] == "push"
    assert pol.journeys[0].on("push").activity == "push_sent"
    with pytest.raises(ConfigError, match="not sent on"):
        pol.journeys[1].on("push")
    bad = {**SPEC, "next_step": {"channels": {"app": "fax"}}}
    with pytest.raises(ConfigError, match=r"next_step\.channels"):
        Policy.from_dict(bad)
    bad = {**SPEC, "next_step": {"skip_outcome_above": 1.5}}
    with pytest.raises(ConfigError, match="skip_outcome_above"):
        Policy.from_dict(bad)
    j = dict(SPEC["journeys"][0], alternatives={"email": "email_sent"})
    with pytest.raises(ConfigError, match="own channel"):
        Policy.from_dict({**SPEC, "journeys": [j]})


def test_engine_sends_where_the_customer_will_be_and_skips_likely_outcomes():
    pol = Policy.from_dict(SPEC)
    labels = pd.Series(0, index=["a", "b", "c", "d"])
    rm = ResponseModel().fit(LOG, labels, pol)
    pred = pd.DataFrame(
        {"channel": ["app", "app", "app", "web"], "p_outcome": [0.1, 0.1, 0.1, 0.9]},
        index=pd.Index(["a", "b", "c", "d"], name="customer_id"),
    )
    d = next_best_action(LOG, pol, rm, labels, next_step=pred, check="off")
    act = d.actions.set_index("customer_id")
    # cart (value 2) wins where it is allowed; d's purchase is likely: cart skipped
    why = d.why_not.set_index(["customer_id", "journey"])["reason"]
    assert why[("d", "cart")] == "outcome_likely"
    assert act.loc["d", "action"] == "offer" and act.loc["d", "channel"] == "email"
    # "a" will be in the app and has it: the cart journey has no push alternative -> email
    assert act.loc["a", "action"] == "cart" and act.loc["a", "channel"] == "email"
    # without the cart journey: the offer goes by push to "a" (app), by email to "b" (no app)
    # and to "c" (push cap used this week)
    solo = Policy.from_dict({**SPEC, "journeys": SPEC["journeys"][:1]})
    rm1 = ResponseModel().fit(LOG, labels, solo)
    one = next_best_action(LOG, solo, rm1, labels, next_step=pred, check="off").actions
    ch = one.set_index("customer_id")["channel"]
    assert ch.to_dict() == {"a": "push", "b": "email", "c": "email", "d": "email"}
    plain = next_best_action(LOG, solo, rm1, labels, check="off").actions
    assert set(plain["channel"]) == {"email"}
    with pytest.raises(ConfigError, match="p_outcome"):
        next_best_action(LOG, pol, rm, labels, next_step=pred[["channel"]], check="off")
    no_opts = Policy.from_dict({k: v for k, v in SPEC.items() if k != "next_step"})
    with pytest.raises(ConfigError, match="no next_step options"):
        next_best_action(
            LOG, no_opts, ResponseModel().fit(LOG, labels, no_opts), labels, next_step=pred,
            check="off",
        )  # fmt: skip


def test_simulator_channel_preference_and_the_decider_option():
    """In a world where the channel matters (channel_affinity=1), sending each journey where
    the customer is predicted to be earns more than sending it on its own channel; with
    channel_affinity=0 a touch's value does not depend on its channel."""
    import journeymine as jm
    from journeymine.actions import UpliftModel

    w = make_world(500, history_days=45, random_state=29, channel_affinity=1.0)
    aff = w.affinity
    assert aff.shape == (500, 3) and np.allclose(aff.mean(axis=0), 1.0)
    assert np.corrcoef(aff[:, 2], w.app_share)[0, 1] > 0.99
    flat = make_world(50, history_days=20, random_state=29)
    assert np.allclose(flat.affinity, 1.0)
    with pytest.raises(ConfigError, match="channel_affinity"):
        make_world(50, history_days=20, channel_affinity=2)
    tp = w.true_personas
    base, chan = sim_policy(), sim_policy(next_step_channels=True)
    pilot = simulate(
        w, RandomEligible(base, none_share=0.3, random_state=1), days=10, random_state=2
    )
    assert set(pilot.events["channel"].dropna()) >= {"app", "web", "email"}
    model = jm.NextStepModel(max_iter=20, random_state=0).fit(w.seed_log)
    runs = {}
    for name, pol, nxt in (("plain", base, None), ("channel", chan, model)):
        dec = PolicyDecider(pol, UpliftModel().fit(pilot.events, tp, pol), tp, next_step=nxt)
        runs[name] = simulate(w, dec, days=10, random_state=3)
    sent = runs["channel"].events
    pushed = sent[(sent["activity"] == "push_sent") & (sent["journey_id"] != "flash_sale")]
    assert len(pushed) > 0  # journeys of email went by push to app users
    assert runs["channel"].summary["value"] > runs["plain"].summary["value"]
    for k in ("unreachable", "unconsented", "over_cap", "tips_after_return"):
        assert runs["channel"].summary[k] == 0
    with pytest.raises(ConfigError, match="next_step options"):
        PolicyDecider(base, UpliftModel().fit(None, tp, base), tp, next_step=model)
