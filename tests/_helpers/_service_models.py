"""Models the service tests serve: a persona model trained on the generator's TRUE personas,
saved, and the sample policy's response rates fitted with the same labels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import yaml

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
    from journeymine.datasets import sample_policy_path

    return dict(yaml.safe_load(Path(sample_policy_path()).read_text()))


#: the sample policy's five journeys and five more (ten candidates, as in the service's latency
#: target), with every kind of gate: examples/policy_ten_journeys.yaml
TEN_JOURNEYS: dict[str, Any] = dict(
    yaml.safe_load(
        (Path(__file__).parents[2] / "examples" / "policy_ten_journeys.yaml").read_text()
    )
)
