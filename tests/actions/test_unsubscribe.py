"""UnsubscribeRisk (opt-out risk of a touch by channel and recent touches) and the policy's
``unsubscribe_cost`` in uplift arbitration."""

from __future__ import annotations

import pandas as pd
import pytest

from journeymine.actions import Policy, UnsubscribeRisk, UpliftModel, next_best_action
from journeymine.exceptions import ConfigError


def _policy(cost: float | None = 0.5) -> Policy:
    fatigue: dict = {"within": "7D", "factor": 0.9}
    if cost is not None:
        fatigue["unsubscribe_cost"] = cost
    return Policy.from_dict(
        {
            "journeys": [
                {"name": "news", "channel": "email", "activity": "email_sent", "value": 2.0},
                {"name": "promo", "channel": "push", "activity": "push_sent"},
            ],
            "consent": [{"channel": "email", "opt_out": "email_opt_out"}],
            "fatigue": fatigue,
            "arbitration": "uplift",
            "response_window": "24h",
            "prior_rate": 0.05,
        }
    )


def _log(n: int = 400) -> pd.DataFrame:
    """Every customer gets an email on day 0; odd customers another on day 1. A tenth of the
    second emails is followed by an opt-out, none of the first ones."""
    rows = []
    for i in range(n):
        rows.append((f"c{i}", "2025-01-01 09:00", "email_sent", "news"))
        if i % 2:
            rows.append((f"c{i}", "2025-01-02 09:00", "email_sent", "news"))
            if i % 20 == 1:
                rows.append((f"c{i}", "2025-01-02 10:00", "email_opt_out", None))
    return pd.DataFrame(rows, columns=["customer_id", "timestamp", "activity", "journey_id"])


def test_risk_rises_with_recent_touches_and_needs_opt_outs() -> None:
    pol = _policy()
    risk = UnsubscribeRisk().fit(_log(), pol)
    assert risk.channels_ == ["email"]
    assert risk.touches_.sum() == 600 and risk.opt_outs_.sum() == 20
    assert risk.multiplier_[1] > 3 * risk.multiplier_[0]  # 20/200 after one, 0/400 after none
    assert 0.05 < risk.rate_[0] * risk.multiplier_[1] < 0.15
    quiet = _log()
    quiet = quiet[quiet["activity"] != "email_opt_out"]
    assert (UnsubscribeRisk().fit(quiet, pol).rate_ == 0).all()


def test_prior_adds_evidence_and_must_match() -> None:
    pol = _policy()
    first = UnsubscribeRisk().fit(_log(), pol)
    both = UnsubscribeRisk().fit(_log(), pol, prior=first)
    assert both.opt_outs_.sum() == 40 and both.touches_.sum() == 1200
    with pytest.raises(ConfigError, match="fitted UnsubscribeRisk"):
        UnsubscribeRisk().fit(_log(), pol, prior="no")  # type: ignore[arg-type]


def test_unsubscribe_cost_holds_back_a_risky_touch() -> None:
    log = _log()
    personas = pd.Series(0, index=log["customer_id"].unique())
    at = "2025-01-08 10:00"  # the first emails are out of the 7-day window, the second not
    decided = {}
    for cost in (None, 5.0):
        pol = _policy(cost)
        model = UpliftModel().fit(None, personas, pol)
        d = next_best_action(log, pol, model, personas, at=at, check="off").actions
        decided[cost] = d.set_index("customer_id")["action"]
    # without a cost on consent the email (worth more) wins for everyone who still has it;
    # with it, the customers with an email in the last 7 days (high opt-out risk) get the push
    # instead, the others keep the email
    risky = [f"c{i}" for i in range(1, 400, 2) if i % 20 != 1]
    calm = [f"c{i}" for i in range(0, 400, 2)]
    assert (decided[None].loc[risky + calm] == "news").all()
    assert (decided[5.0].loc[risky] == "promo").all()
    assert (decided[5.0].loc[calm] == "news").all()


@pytest.mark.parametrize("bad", [-1, True, "high"])
def test_bad_unsubscribe_cost_is_refused(bad: object) -> None:
    with pytest.raises(ConfigError, match="unsubscribe_cost must be a value >= 0"):
        Policy.from_dict(
            {
                "journeys": [{"name": "n", "channel": "email", "activity": "email_sent"}],
                "fatigue": {"within": "7D", "factor": 0.9, "unsubscribe_cost": bad},
            }
        )
