"""Shared fixtures of the assignment tests: a small synthetic log, true-persona labels, a fitted
and a saved model (session-scoped: fitted once)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from journeymine.assignment import PersonaModel
from journeymine.datasets import SyntheticJourneys, make_journeys


@pytest.fixture(scope="session")
def journeys() -> SyntheticJourneys:
    return make_journeys(n_customers=600, days=90, random_state=0)


@pytest.fixture(scope="session")
def log(journeys: SyntheticJourneys) -> pd.DataFrame:
    return journeys.events


@pytest.fixture(scope="session")
def labels(journeys: SyntheticJourneys) -> pd.Series:
    """True persona (before any scheduled change) as integer ids 0..5."""
    truth = journeys.customers.set_index("customer_id")["persona"]
    codes = {p: i for i, p in enumerate(sorted(truth.unique()))}
    return truth.map(codes).astype("int64")


@pytest.fixture(scope="session")
def persona_names(journeys: SyntheticJourneys) -> dict[int, str]:
    truth = journeys.customers["persona"]
    return dict(enumerate(sorted(truth.unique())))


@pytest.fixture(scope="session")
def model(log: pd.DataFrame, labels: pd.Series, persona_names: dict[int, str]) -> PersonaModel:
    return PersonaModel(cv=3, random_state=0).fit(log, labels, names=persona_names)


@pytest.fixture(scope="session")
def saved_model(model: PersonaModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model.save(tmp_path_factory.mktemp("model") / "persona.skops")
