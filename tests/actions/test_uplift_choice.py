"""#13: how sure an UpliftModel is of each persona's best journey (choice_certainty)."""

from __future__ import annotations

import pandas as pd
import pytest

from journeymine.actions import Policy, UpliftModel, choice_certainty
from journeymine.actions.uplift_choice import NOTHING
from journeymine.exceptions import ConfigError, NotFittedError


def _policy(cost: float = 0.0) -> Policy:
    return Policy.from_dict(
        {
            "journeys": [
                {
                    "name": "offer",
                    "channel": "email",
                    "activity": "offer_sent",
                    "value": 10,
                    "cost": cost,
                },
                {
                    "name": "tips",
                    "channel": "email",
                    "activity": "tips_sent",
                    "value": 10,
                    "cost": cost,
                },
            ],
            "response_window": "24h",
        }
    )


def _log(n: int, rates: dict[str, tuple[float, float]], prefix: str = "c") -> pd.DataFrame:
    """Per journey (treated rate, holdout rate): n touched and n held-out customers, outcomes
    exactly at those rates."""
    rows = []
    for name, (rt, rc) in rates.items():
        for arm, act, rate in (("t", f"{name}_sent", rt), ("h", "holdout", rc)):
            for i in range(n):
                cid = f"{prefix}{name}{arm}{i}"
                rows.append((cid, "2025-01-01 09:00", act, name))
                if i < round(rate * n):
                    rows.append((cid, "2025-01-01 12:00", "purchase", None))
    return pd.DataFrame(rows, columns=["customer_id", "timestamp", "activity", "journey_id"])


def _fit(log: pd.DataFrame, policy: Policy) -> UpliftModel:
    ids = log["customer_id"].unique()
    return UpliftModel(prior_strength=0).fit(log, pd.Series(0, index=ids), policy)


def test_a_clear_winner_is_certain_and_the_runner_up_is_named():
    model = _fit(_log(400, {"offer": (0.30, 0.10), "tips": (0.12, 0.10)}), _policy())
    row = choice_certainty(model).set_index("persona").loc[0]
    assert row["best"] == "offer" and row["runner_up"] == "tips"
    assert row["probability_best"] > 0.99
    assert row["expected_net"] == pytest.approx(2.0, abs=0.1)  # 0.2 uplift x value 10
    assert row["touches"] == 400 and row["holdouts"] == 400


def test_more_evidence_makes_a_close_choice_surer():
    """Offer 0.16 vs tips 0.13 over the same 0.10 holdout rate: on 60 customers an arm the
    posteriors cannot rank the two, on 3,000 they can."""
    rates = {"offer": (0.16, 0.10), "tips": (0.13, 0.10)}
    thin = choice_certainty(_fit(_log(60, rates), _policy())).set_index("persona").loc[0]
    thick = choice_certainty(_fit(_log(3000, rates), _policy())).set_index("persona").loc[0]
    assert thin["best"] == thick["best"] == "offer"
    assert thin["probability_best"] < 0.8 < 0.95 < thick["probability_best"]
    assert thin["probability_best"] + thin["probability_runner_up"] <= 1.0


def test_nothing_is_the_choice_when_no_journey_pays_its_cost():
    model = _fit(_log(400, {"offer": (0.12, 0.10), "tips": (0.11, 0.10)}), _policy(cost=1.0))
    row = model.choice_certainty().set_index("persona").loc[0]
    assert row["best"] == NOTHING and row["expected_net"] == 0.0
    assert row["touches"] == 0 and row["probability_best"] > 0.9


def test_same_seed_same_answer_and_bad_input():
    model = _fit(_log(60, {"offer": (0.16, 0.10), "tips": (0.13, 0.10)}), _policy())
    pd.testing.assert_frame_equal(
        choice_certainty(model, random_state=3), choice_certainty(model, random_state=3)
    )
    with pytest.raises(ConfigError, match="n_draws must be an integer >= 100"):
        choice_certainty(model, n_draws=10)
    with pytest.raises(NotFittedError):
        choice_certainty(UpliftModel())


def test_a_loaded_model_takes_the_policy(tmp_path):
    pol = _policy()
    model = _fit(_log(400, {"offer": (0.30, 0.10), "tips": (0.12, 0.10)}), pol)
    loaded = UpliftModel.load(model.save(tmp_path / "uplift.skops"))
    with pytest.raises(ConfigError, match="pass the policy it decides for"):
        loaded.choice_certainty()
    pd.testing.assert_frame_equal(loaded.choice_certainty(pol), model.choice_certainty())
    other = Policy.from_dict(
        {"journeys": [{"name": "x", "channel": "email", "activity": "x_sent"}]}
    )
    with pytest.raises(ConfigError, match="not the model's"):
        loaded.choice_certainty(other)
