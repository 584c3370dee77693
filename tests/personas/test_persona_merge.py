"""merge_personas: two personas of a fitted mixture made one, the others left as they were; and
tracking merges the pair the windows cannot tell apart, not another one."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from journeymine.datasets import make_journeys
from journeymine.exceptions import ConfigError
from journeymine.personas import PersonaMiner, merge_personas, track_personas


@pytest.fixture(scope="module")
def miner() -> PersonaMiner:
    log = make_journeys(n_customers=1200, days=120, random_state=5).events
    return PersonaMiner(n_bootstrap=0, random_state=0).fit(log)


def test_merged_personas_share_one_id_and_the_others_keep_theirs(miner: PersonaMiner) -> None:
    k = int(miner.quality_["n_personas"])
    assert k >= 3
    a, b = 1, 2
    out = merge_personas(miner, a, b)
    assert out.quality_["n_personas"] == k - 1
    old, new = miner.labels_, out.labels_
    # noise and customers with too few events stay -1; everyone else keeps a persona
    assert ((old < 0) == (new < 0)).all()
    pairs = pd.crosstab(old[old >= 0], new[new >= 0])
    # each old persona goes to exactly one new id; only a and b share theirs
    assert ((pairs > 0).sum(axis=1) == 1).all()
    target = pairs.idxmax(axis=1)
    assert target[a] == target[b]
    assert target.drop([a, b]).is_unique and target[a] not in set(target.drop([a, b]))
    # ids are numbered by size, as after a fit
    sizes = new[new >= 0].value_counts().sort_index()
    assert sizes.is_monotonic_decreasing
    # a merged customer's membership is the sum of its two old memberships
    _, _, p_old = miner.membership(miner.features_)
    _, _, p_new = out.membership(out.features_)
    assert np.allclose(p_new[target[a]], p_old[a] + p_old[b])
    assert np.allclose(p_new.sum(axis=1)[new >= 0], 1.0)
    # and membership() labels new customers with the merged ids
    lab, _, _ = out.membership(out.features_)
    assert (lab == new).all()
    assert list(out.profiles_.index) == list(range(k - 1))
    # the original is untouched
    assert miner.quality_["n_personas"] == k and (miner.labels_ == old).all()


def test_bad_pairs_are_refused(miner: PersonaMiner) -> None:
    k = int(miner.quality_["n_personas"])
    with pytest.raises(ConfigError, match=f"two different ids in 0..{k - 1}"):
        merge_personas(miner, 0, 0)
    with pytest.raises(ConfigError, match="two different ids"):
        merge_personas(miner, 0, k)
    with pytest.raises(ConfigError, match=r"got 0 and 1\.5"):
        merge_personas(miner, 0, 1.5)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="two different ids"):
        merge_personas(miner, True, 0)
    with pytest.raises(ConfigError, match="method='mixture'"):
        merge_personas(PersonaMiner(), 0, 1)


def test_tracking_merges_the_unstable_pair_not_a_separated_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Seed 1011: the fading persona looks different in the two windows, so the one model
    over both fits it as two personas whose customers swap between windows. Refitting with a
    persona fewer (the earlier rule) kept those two and merged the support-heavy customers
    into the bargain hunters; merging the pair keeps support-heavy apart."""
    data = make_journeys(3000, random_state=1011)
    with caplog.at_level(logging.INFO, logger="journeymine.personas.window_model"):
        tr = track_personas(data.events)
    assert "merged" in caplog.text
    truth = data.customers.set_index("customer_id")["persona_after_change"]
    lab = tr.miners[-1].labels_
    lab = lab[lab >= 0]
    home = pd.crosstab(lab, truth.loc[lab.index]).idxmax(axis=0)
    assert home["support_heavy"] != home["bargain_hunter"]
    assert home.nunique() >= 5


def test_refined_evidence_finds_more_of_the_scheduled_changes() -> None:
    """refine=True smooths the windows again with evidence from a classifier trained on the
    first pass's labels: more of the scheduled changes are among the customers most likely to
    have moved (a list 1.5x their number; fresh seeds 1101-1108, benchmarks.tracking_evidence:
    0.74-0.84 -> 0.82-0.87), and each window keeps the model's own memberships."""
    data = make_journeys(3000, random_state=1201)
    changed = data.customers.set_index("customer_id")["changed"]
    found, own = {}, {}
    for refine in (False, True):
        tr = track_personas(data.events, refine=refine)
        mp = tr.move_probability.iloc[:, -1].dropna().sort_values(ascending=False)
        n = int(changed.loc[mp.index].sum())
        found[refine] = changed.loc[mp.index[: round(1.5 * n)]].sum() / n
        own[refine] = tr.miners[0].window_membership_
    assert found[True] > found[False] + 0.02, found
    assert own[True].equals(own[False])
    with pytest.raises(ConfigError, match="refine must be True or False"):
        track_personas(data.events, refine="yes")  # type: ignore[arg-type]
    small = make_journeys(300, days=60, random_state=0).events
    with pytest.raises(ConfigError, match="refine=True needs smoothing='hmm'"):
        track_personas(small, refine=True, smoothing="margin")
    with pytest.raises(ConfigError, match="method='mixture' or refine=False"):
        track_personas(small, refine=True, miner=PersonaMiner(method="density"))


def test_too_little_to_refine_from_is_said_and_skipped(
    miner: PersonaMiner, caplog: pytest.LogCaptureFixture
) -> None:
    from journeymine.personas.window_refine import MIN_PER_PERSONA, refined_evidence

    lab = miner.labels_.copy()
    # one persona with fewer customer-windows than folds
    rare = lab.index[lab == 0][: MIN_PER_PERSONA - 1]
    lab[(lab == 0) & ~lab.index.isin(rare)] = 1
    with caplog.at_level(logging.INFO, logger="journeymine.personas.window_refine"):
        assert refined_evidence(miner, [miner.features_], [lab]) is None
    assert "not refined" in caplog.text
