"""Models the service tests serve: a persona model trained on the generator's TRUE personas,
saved, and the sample policy's response rates fitted with the same labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from journeymine.actions import ResponseModel
from journeymine.assignment import PersonaModel
from journeymine.datasets import SyntheticJourneys, sample_policy


def true_persona_models(data: SyntheticJourneys, folder: Path) -> dict[str, Any]:
    """``labels`` (persona code per customer), ``model`` and its ``model_path`` in ``folder``,
    the sample ``policy`` and its ``responses``."""
    names = sorted(data.customers["persona"].unique())
    labels: pd.Series = (
        data.customers.set_index("customer_id")["persona"].map(names.index).astype("int64")
    )
    model = PersonaModel(cv=3, random_state=0).fit(
        data.events, labels, names=dict(enumerate(names))
    )
    policy = sample_policy()
    return {
        "labels": labels,
        "model": model,
        "model_path": model.save(folder / "m.skops"),
        "policy": policy,
        "responses": ResponseModel().fit(data.events, labels, policy),
    }


def sample_policy_dict() -> dict[str, Any]:
    """The sample policy file as plain data."""
    import yaml

    from journeymine.datasets import sample_policy_path

    return dict(yaml.safe_load(Path(sample_policy_path()).read_text()))


#: the sample policy's five journeys and five more (ten candidates, as in the service's latency
#: target), with every kind of gate: consent, persona and product rules, suppressions, minimum
#: gaps, caps per channel and over all channels, fatigue
TEN_JOURNEYS: dict[str, Any] = {
    "response_window": "48h",
    "response_activities": ["email_click", "sms_click", "push_open"],
    "min_expected_response": 0.02,
    "fatigue": {"within": "3D", "factor": 0.8},
    "consent": [{"channel": "push", "requires": "push_open"}],
    "journeys": [
        *sample_policy_dict()["journeys"],
        {
            "name": "sms_reminder",
            "channel": "sms",
            "activity": "sms_sent",
            "prior_rate": 0.05,
            "eligible": [
                {"rule": "seen", "activity": "checkout", "within": "3D"},
                {"rule": "not_seen", "activity": "purchase", "within": "3D"},
            ],
            "min_gap": "2D",
        },
        {
            "name": "review_request",
            "channel": "email",
            "activity": "email_sent",
            "prior_rate": 0.04,
            "value": 0.5,
            "product_from": "purchase",
            "eligible": [{"rule": "seen", "activity": "purchase", "within": "30D"}],
            "suppress": [
                {"activity": "return_product", "within": "30D", "same_product": True},
                {"activity": "contact_support", "within": "7D"},
            ],
        },
        {
            "name": "support_followup",
            "channel": "sms",
            "activity": "sms_sent",
            "prior_rate": 0.06,
            "eligible": [
                {"rule": "seen", "activity": "contact_support", "within": "7D"},
                {"rule": "persona", "in": [0, 1, 2]},
            ],
        },
        {
            "name": "promo_push",
            "channel": "push",
            "activity": "push_sent",
            "prior_rate": 0.03,
            "value": 2.0,
            "eligible": [{"rule": "seen", "activity": "view_promotions", "within": "14D"}],
            "min_gap": "3D",
        },
        {
            "name": "browse_abandon",
            "channel": "email",
            "activity": "email_sent",
            "prior_rate": 0.05,
            "eligible": [
                {"rule": "seen", "activity": "view_product", "within": "2D"},
                {"rule": "not_seen", "activity": "add_to_cart", "within": "2D"},
            ],
            "min_gap": "4D",
        },
    ],
    "caps": [
        {"channel": "email", "max": 2, "per": "7D"},
        {"channel": "sms", "max": 1, "per": "3D"},
        {"channel": "*", "max": 4, "per": "7D"},
    ],
}
