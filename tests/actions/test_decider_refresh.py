"""#13: minimum *recent* evidence (``PolicyDecider(refresh_days=...)``): a persona x journey
cell that the decider stopped sending counts as lacking evidence again once its touches are
older than ``refresh_days``, so the change test keeps seeing fresh outcomes in every cell.

Seeds here (23, 29) are not the ones of the benchmark's tables (401-424)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from journeymine.actions import Policy, UpliftModel
from journeymine.datasets import PolicyDecider, make_world, sim_policy, simulate
from journeymine.exceptions import ConfigError

STALE = "flash_sale"


@pytest.fixture(scope="module")
def world():
    return make_world(400, history_days=30, random_state=23)


def _seeded(world) -> tuple[UpliftModel, int]:
    """A model with one batch of evidence (100 touches, 30 holdouts per persona x journey)
    that makes every journey worth sending except ``STALE`` for the largest persona (it
    lowers the outcome after a touch), so a greedy decider never sends that cell again."""
    pol, tp = sim_policy(), world.true_personas
    model = UpliftModel(prior_strength=5, change_alpha=0.01).fit(None, tp, pol)
    stale_persona = int(tp.value_counts().idxmax())
    stale_j = [j.name for j in pol.journeys].index(STALE)
    persona, journey, held, outcome = [], [], [], []
    for p in sorted(tp.unique()):
        for j in range(len(pol.journeys)):
            bad = (p, j) == (stale_persona, stale_j)
            touched = np.r_[np.ones(30 if not bad else 0), np.zeros(70 if not bad else 100)]
            control = np.r_[np.ones(3), np.zeros(27)]
            persona += [p] * 130
            journey += [j] * 130
            held += [False] * 100 + [True] * 30
            outcome += [*touched, *control]
    model.update(np.array(persona), np.array(journey), np.array(held), np.array(outcome))
    return model, stale_persona


def _stale_sends(world, refresh_days, days=6):
    """Greedy decider with min. 20 touches and 5 holdouts: per day, the sends and holdouts
    of ``STALE`` to customers of the largest persona."""
    model, stale_persona = _seeded(world)
    tp = world.true_personas
    dec = PolicyDecider(
        sim_policy(),
        model,
        tp,
        min_touches=20,
        min_holdouts=5,
        refresh_days=refresh_days,
        random_state=5,
    )
    d = simulate(world, dec, days=days, random_state=29).decisions
    mine = d["customer_id"].map(tp).to_numpy() == stale_persona
    chosen = (d["action"] == STALE) | (d["holdout"] == STALE)
    per_day = d.loc[mine & chosen.to_numpy()].groupby("day").size()
    return per_day.reindex(range(days), fill_value=0), d


def test_a_cell_the_decider_stopped_sending_gets_fresh_evidence_within_refresh_days(world):
    """Without refresh_days the stale cell is never sent (its old evidence suffices); with
    refresh_days=3 it gets nothing while its evidence is recent (days 0-2) and is forced
    again, touches and holdouts, on day 3, the first day its evidence is older than 3 days."""
    never, _ = _stale_sends(world, None)
    assert never.sum() == 0
    fresh, d = _stale_sends(world, 3)
    assert fresh.iloc[:3].sum() == 0
    assert fresh.iloc[3] >= 20
    day3 = d[d["day"] == 3]
    assert (day3["holdout"] == STALE).sum() >= 1
    assert d["propensity"].between(0, 1, inclusive="right").all()


def test_refresh_days_none_or_longer_than_the_run_changes_nothing(world):
    """With all its evidence within refresh_days (here longer than the run) the rule is the
    minimum-evidence rule alone: the same decisions as refresh_days=None."""
    _, none = _stale_sends(world, None, days=4)
    _, long = _stale_sends(world, 30, days=4)
    cols = ["customer_id", "day", "action", "holdout", "propensity"]
    pd.testing.assert_frame_equal(none[cols], long[cols])


def test_evidence_of_the_last_batches_and_bad_settings(world):
    policy = Policy.from_dict(
        {
            "journeys": [{"name": "offer", "channel": "email", "activity": "email_sent"}],
            "prior_rate": 0.05,
        }
    )
    ids = pd.Series([0, 1], index=["a", "b"])
    m = UpliftModel(change_alpha=0.01).fit(None, ids, policy)
    for n in (5, 7):  # persona 0: 5 then 7 touches; persona 1: one holdout a batch
        m.update(
            np.r_[np.zeros(n, int), 1],
            np.zeros(n + 1, int),
            np.r_[[False] * n, True],
            np.zeros(n + 1),
        )
    touches, holds = m.evidence([0, 1], last=1)
    assert touches[:, 0].tolist() == [7.0, 0.0] and holds[:, 0].tolist() == [0.0, 1.0]
    assert m.evidence([0], last=2)[0][0, 0] == m.evidence([0])[0][0, 0] == 12.0
    with pytest.raises(ConfigError, match="change_alpha"):
        UpliftModel().fit(None, ids, policy).evidence([0], last=1)
    with pytest.raises(ConfigError, match="last"):
        m.evidence([0], last=0)
    pol, tp = sim_policy(), world.true_personas
    plain = UpliftModel().fit(None, tp, pol)
    with pytest.raises(ConfigError, match="change_alpha"):
        PolicyDecider(pol, plain, tp, min_touches=20, refresh_days=7)
    tested = UpliftModel(change_alpha=0.01).fit(None, tp, pol)
    with pytest.raises(ConfigError, match="min_touches"):
        PolicyDecider(pol, tested, tp, refresh_days=7)
    with pytest.raises(ConfigError, match="whole number"):
        PolicyDecider(pol, tested, tp, min_touches=20, refresh_days=7.5)
