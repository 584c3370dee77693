"""#13: UpliftModel.save / load (skops with numpy arrays only + JSON card via io.cards)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from journeymine.actions import Policy, UpliftModel
from journeymine.exceptions import ConfigError, ModelError

POLICY = Policy.from_dict(
    {
        "journeys": [
            {"name": "offer", "channel": "email", "activity": "email_sent", "prior_rate": 0.04},
            {"name": "push", "channel": "push", "activity": "push_sent"},
        ],
        "response_window": "24h",
    }
)


@pytest.fixture(scope="module")
def model():
    rows = []
    for i in range(300):
        act = ("email_sent", "offer") if i % 3 == 0 else ("holdout", "offer")
        if i % 3 == 2:
            act = ("push_sent", "push")
        rows.append((f"c{i}", "2025-01-01 09:00", act[0], act[1]))
        if i % 5 == 0:
            rows.append((f"c{i}", "2025-01-01 12:00", "purchase", None))
    log = pd.DataFrame(rows, columns=["customer_id", "timestamp", "activity", "journey_id"])
    soft = pd.DataFrame(
        {0: [0.7 if i % 2 else 0.1 for i in range(300)], 1: 0.2},
        index=[f"c{i}" for i in range(300)],
    )
    return UpliftModel(prior_strength=3, discount=0.9).fit(log, soft, POLICY)


def test_round_trip_keeps_every_answer(model, tmp_path):
    path = model.save(tmp_path / "uplift.skops")
    assert path.with_suffix(".json").is_file()
    again = UpliftModel.load(path)
    pd.testing.assert_frame_equal(again.table_, model.table_)
    soft = pd.DataFrame({0: [0.3, 0.0], 1: [0.5, 0.0]}, index=["x", "y"])
    np.testing.assert_allclose(again.rates(soft), model.rates(soft))
    assert again.get_params() == model.get_params()
    assert again.missing_control_ == model.missing_control_ == ["push"]
    # learning continues from the loaded counts as from the original ones
    upd = ([0, 1], [0, 0], [False, True], [True, False])
    np.testing.assert_allclose(
        again.update(*upd).counts_, model.__class__.load(path).update(*upd).counts_
    )
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["kind"] == "journeymine.UpliftModel" and card["journeys"] == ["offer", "push"]
    assert card["priors"] == [0.04, None]


def test_load_refuses_edits_corruption_and_other_files(model, tmp_path):
    path = model.save(tmp_path / "m.skops")
    card_path = path.with_suffix(".json")
    card = json.loads(card_path.read_text())
    edited = {**card, "params": {**card["params"], "prior_strength": 100.0}}
    card_path.write_text(json.dumps(edited))
    with pytest.raises(ModelError, match="changed after saving"):
        UpliftModel.load(path)
    card_path.write_text(json.dumps({**card, "kind": "journeymine.NextStepModel"}))
    with pytest.raises(ModelError, match="not an UpliftModel card"):
        UpliftModel.load(path)
    card_path.write_text(json.dumps({**card, "format_version": 99}))
    with pytest.raises(ModelError, match="newer"):
        UpliftModel.load(path)
    card_path.write_text(json.dumps(card))
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    with pytest.raises(ModelError, match="checksum mismatch"):
        UpliftModel.load(path)
    card_path.unlink()
    with pytest.raises(ModelError, match=r"UpliftModel\.save"):
        UpliftModel.load(path)
    with pytest.raises(ConfigError, match=r"\.json"):
        model.save(tmp_path / "m.json")
    from journeymine.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        UpliftModel().save(tmp_path / "x.skops")
