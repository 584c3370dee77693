"""A log with touches and holdouts of the simulated retailer (#13), a persona model's world, and
a policy of its journeys with only the gates live decisions apply: what the FeatureUplift tests
of the CLI and of the service fit and serve."""

from __future__ import annotations

from typing import Any

import pandas as pd

from journeymine.datasets import RandomEligible, make_world, sim_policy, simulate


def uplift_world(n_customers: int, days: int) -> tuple[pd.DataFrame, pd.Series]:
    """The simulated log (a random eligible pilot with holdouts) and the true personas."""
    world = make_world(n_customers, history_days=30, random_state=23)
    decider = RandomEligible(sim_policy(), none_share=0.3, random_state=1)
    sim = simulate(world, decider, days=days, random_state=2)
    return sim.events, world.true_personas


def live_policy_spec(arbitration: str = "uplift") -> dict[str, Any]:
    """The simulated retailer's journeys with the gates the live service applies (no
    attribute consent, no unsubscribe cost)."""
    journeys = [
        {"name": j.name, "channel": j.channel, "activity": j.activity, "cost": j.cost}
        for j in sim_policy().journeys
    ]
    journeys[0]["eligible"] = [{"rule": "seen", "activity": "add_to_cart", "within": "7D"}]
    journeys[0]["min_gap"] = "3D"
    return {
        "journeys": journeys,
        "consent": [
            {"channel": "email", "opt_in": "email_opt_in", "opt_out": "email_opt_out"},
            {"channel": "push", "requires": "app_install"},
        ],
        "caps": [{"channel": "*", "max": 3, "per": "7D"}],
        "response_window": "20h",
        "response_activities": ["purchase"],
        "outcome_activities": ["purchase"],
        "arbitration": arbitration,
    }
