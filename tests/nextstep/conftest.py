"""Shared fixtures of the next-step tests: a synthetic multichannel log and a model fitted on it
with a purchase outcome (session-scoped: fitted once)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import journeymine as jm
from journeymine.datasets import SyntheticJourneys, make_journeys


@pytest.fixture(scope="session")
def journeys() -> SyntheticJourneys:
    return make_journeys(n_customers=400, days=60, random_state=0)


@pytest.fixture(scope="session")
def log(journeys: SyntheticJourneys) -> pd.DataFrame:
    return journeys.events


@pytest.fixture(scope="session")
def model(log: pd.DataFrame) -> jm.NextStepModel:
    # 20 boosting rounds (16 s here, 32 s with 40): the tests' accuracy, ranking and
    # calibration thresholds hold with either
    return jm.NextStepModel(outcome="purchase", horizon="7D", max_iter=20).fit(log)


@pytest.fixture(scope="session")
def saved(model: jm.NextStepModel, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return model.save(tmp_path_factory.mktemp("nextstep") / "next.skops")
