"""UpliftModel(change_alpha=): a per-cell change test that drops a cell's evidence from
before a change in its outcome rate, and only that cell's (#13); change_scope= widens what a
change drops (the persona's row; every row when two personas change together). In the closed
loop: test_nba_simulator.test_the_change_test_recovers_the_exploring_decider and
test_uplift_scope_loop."""

from __future__ import annotations

import json

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
        for p in range(rates.shape[1]):
            for j in (0, 1):
                for h, n, rate in ((False, 100, rates[day, p, j]), (True, 40, 0.05)):
                    persona += [p] * n
                    journey += [j] * n
                    held += [h] * n
                    y += list(rng.random(n) < rate)
        model.update(np.array(persona), np.array(journey), np.array(held), np.array(y))


def _fitted(alpha: float | None, scope: str = "cell", personas: int = 2) -> UpliftModel:
    model = UpliftModel(prior_strength=0, change_alpha=alpha, change_scope=scope)
    return model.fit(None, pd.Series(range(personas), index=list("abc")[:personas]), POLICY)


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


@pytest.mark.parametrize("scope", ["cell", "persona", "regime"])
def test_a_stable_world_loses_no_evidence(scope):
    rates = np.full((30, 3, 2), 0.1)
    tested, plain = _fitted(0.01, scope, 3), _fitted(None, "cell", 3)
    _stream(tested, rates, 30, np.random.default_rng(1))
    _stream(plain, rates, 30, np.random.default_rng(1))
    assert tested.changes_ == []
    assert np.array_equal(tested.counts_, plain.counts_)


def _touches(scope: str, rates: np.ndarray) -> pd.Series:
    """Touches per (persona, journey) after 30 days of ``rates`` with the change test."""
    model = _fitted(0.01, scope, rates.shape[1])
    _stream(model, rates, 30, np.random.default_rng(3))
    return model.table_.set_index(["persona", "journey"])["touches"]


def test_persona_scope_measures_the_changed_personas_row_again():
    """Persona 0's offer works four times as well from day 15 on: with "persona" its tips
    (unchanged, but measured in the old world) keep only the 15 days since the change too,
    while persona 1 keeps everything; "cell" keeps persona 0's tips."""
    rates = np.full((30, 3, 2), 0.1)
    rates[15:, 0, 0] = 0.4
    cell, persona = _touches("cell", rates), _touches("persona", rates)
    assert cell[(0, "offer")] == persona[(0, "offer")] == 1500
    assert cell[(0, "tips")] == 3000 and persona[(0, "tips")] == 1500
    for key in [(1, "offer"), (1, "tips"), (2, "offer"), (2, "tips")]:
        assert cell[key] == persona[key] == 3000


def test_regime_scope_drops_every_row_when_two_personas_change_together():
    """Persona 0's offer and persona 1's tips change on day 15, persona 2 does not: "regime"
    takes it for a change of the whole market and every row (persona 2 and the pooled row
    too) keeps only the evidence since day 15; "persona" resets the two changed rows only."""
    rates = np.full((30, 3, 2), 0.1)
    rates[15:, 0, 0] = 0.4
    rates[15:, 1, 1] = 0.01
    persona, regime = _touches("persona", rates), _touches("regime", rates)
    for key in [(0, "offer"), (0, "tips"), (1, "offer"), (1, "tips")]:
        assert persona[key] == regime[key] == 1500
    for key in [(2, "offer"), (2, "tips")]:
        assert persona[key] == 3000 and regime[key] == 1500
    # the pooled row: all since the change under "regime", more with its own cell test
    assert regime[(-1, "offer")] == regime[(-1, "tips")] == 3 * 1500 < persona[(-1, "tips")]
    # a single persona's change stays a persona change under "regime"
    one = np.full((30, 3, 2), 0.1)
    one[15:, 0, 0] = 0.4
    assert _touches("regime", one).equals(_touches("persona", one))


def test_change_alpha_is_checked_and_saved(tmp_path):
    for bad in (0, 1, 1.5, True, -0.1):
        with pytest.raises(ConfigError, match="change_alpha must be a probability"):
            UpliftModel(change_alpha=bad).fit(None, PERSONAS, POLICY)
    with pytest.raises(ConfigError, match=r"change_scope must be one of \['cell', 'persona'"):
        UpliftModel(change_alpha=0.01, change_scope="row").fit(None, PERSONAS, POLICY)
    model = _fitted(0.05, "regime")
    again = UpliftModel.load(model.save(tmp_path / "uplift.skops"))
    assert again.change_alpha == 0.05 and again.change_scope == "regime"
    rates = np.full((3, 2, 2), 0.1)
    _stream(again, rates, 3, np.random.default_rng(2))  # a loaded model tests a new history
    assert again.changes_ == [] and len(again.batches_) == 3


def test_a_card_saved_before_change_scope_loads_with_the_cell_scope(tmp_path):
    """Cards written before change_scope existed have no such parameter: they load with the
    behaviour they were saved with (the changed cell only)."""
    from journeymine.actions._uplift_save import CHECKSUMMED_FIELDS, KIND
    from journeymine.io import cards

    path = _fitted(0.05).save(tmp_path / "old.skops")
    card_path = path.with_suffix(".json")
    card = json.loads(card_path.read_text())
    del card["params"]["change_scope"]
    card["integrity"]["sha256"] = cards.card_checksum(
        card, path.read_bytes(), kind=KIND, fields=CHECKSUMMED_FIELDS
    )
    card_path.write_text(json.dumps(card))
    again = UpliftModel.load(path)
    assert again.change_scope == "cell" and again.change_alpha == 0.05
