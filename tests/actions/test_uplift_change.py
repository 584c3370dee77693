"""UpliftModel(change_alpha=): a per-cell change test that drops a cell's evidence from
before a change in its outcome rate, and only that cell's (#13). In the closed loop:
test_nba_simulator.test_the_change_test_recovers_the_exploring_decider."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from journeymine.actions import Policy, UpliftModel
from journeymine.exceptions import ConfigError

POLICY = Policy.from_dict(
    {
        "journeys": [
            {"name": "offer", "channel": "email", "activity": "email_sent"},
            {"name": "tips", "channel": "email", "activity": "email_sent"},
        ],
        "response_window": "24h",
    }
)
PERSONAS = pd.Series([0, 1], index=["a", "b"])


def _stream(model: UpliftModel, rates: np.ndarray, days: int, rng: np.random.Generator) -> None:
    """``days`` updates of 100 touches and 40 holdouts per persona x journey; ``rates`` is
    (day, persona, journey) -> treated rate; the holdout rate is 0.05 throughout."""
    for day in range(days):
        persona, journey, held, y = [], [], [], []
        for p in (0, 1):
            for j in (0, 1):
                for h, n, rate in ((False, 100, rates[day, p, j]), (True, 40, 0.05)):
                    persona += [p] * n
                    journey += [j] * n
                    held += [h] * n
                    y += list(rng.random(n) < rate)
        model.update(np.array(persona), np.array(journey), np.array(held), np.array(y))


def _fitted(alpha: float | None) -> UpliftModel:
    return UpliftModel(prior_strength=0, change_alpha=alpha).fit(None, PERSONAS, POLICY)


def test_a_changed_cell_keeps_only_its_evidence_after_the_change():
    rates = np.full((30, 2, 2), 0.1)
    rates[15:, 0, 0] = 0.4  # persona 0's offer works four times as well from day 15 on
    tested, plain = _fitted(0.01), _fitted(None)
    _stream(tested, rates, 30, np.random.default_rng(0))
    _stream(plain, rates, 30, np.random.default_rng(0))

    found = {(c["persona"], c["journey"], c["arm"]) for c in tested.changes_}
    # the cell and the pooled row (persona -1, whose offer rate rose too); nothing else
    assert found == {(0, "offer", "treated"), (-1, "offer", "treated")}
    first = min(c["update"] for c in tested.changes_ if c["persona"] == 0)
    assert 15 <= first <= 17  # found within two days of the change
    last = [c for c in tested.changes_ if c["update"] == 29 and c["persona"] == 0]
    assert not last or last[0]["batches_dropped"] == 15

    t, p = (
        tested.table_.set_index(["persona", "journey"]),
        plain.table_.set_index(["persona", "journey"]),
    )
    assert t.loc[(0, "offer"), "touches"] == 1500  # the 15 days since the change
    assert abs(t.loc[(0, "offer"), "rate_treated"] - 0.4) < 0.03
    assert p.loc[(0, "offer"), "rate_treated"] < 0.3  # all 30 days mixed together
    # every other cell, and the holdouts of the changed one, keep all of their evidence
    for key in [(0, "tips"), (1, "offer"), (1, "tips")]:
        assert t.loc[key, "touches"] == p.loc[key, "touches"] == 3000
        assert t.loc[key, "responses"] == p.loc[key, "responses"]
    assert t.loc[(0, "offer"), "holdouts"] == 1200


def test_a_stable_world_loses_no_evidence():
    rates = np.full((30, 2, 2), 0.1)
    tested, plain = _fitted(0.01), _fitted(None)
    _stream(tested, rates, 30, np.random.default_rng(1))
    _stream(plain, rates, 30, np.random.default_rng(1))
    assert tested.changes_ == []
    assert np.array_equal(tested.counts_, plain.counts_)


def test_change_alpha_is_checked_and_saved(tmp_path):
    for bad in (0, 1, 1.5, True, -0.1):
        with pytest.raises(ConfigError, match="change_alpha must be a probability"):
            UpliftModel(change_alpha=bad).fit(None, PERSONAS, POLICY)
    model = _fitted(0.05)
    again = UpliftModel.load(model.save(tmp_path / "uplift.skops"))
    assert again.change_alpha == 0.05
    rates = np.full((3, 2, 2), 0.1)
    _stream(again, rates, 3, np.random.default_rng(2))  # a loaded model tests a new history
    assert again.changes_ == [] and len(again.batches_) == 3
