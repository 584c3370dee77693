"""#13: a fit is a function of the log's content, not of its row order. FeatureUplift's automatic
settings (C and blend chosen by cross-validation over customers) and UpliftModel's counts come
out the same from a log in file order, shuffled, or sorted by customer (as read_events returns
it), and from the features in any row order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from journeymine.actions import FeatureUplift, UpliftModel
from journeymine.assignment import PersonaModel
from journeymine.datasets import RandomEligible, make_world, sim_policy, simulate


@pytest.fixture(scope="module")
def world() -> dict:
    """A random-eligible pilot on 200 simulated customers, and one persona model's
    probabilities and features on it (computed once: the same inputs for every row order)."""
    w = make_world(200, history_days=30, random_state=0)
    policy = sim_policy()
    pilot = RandomEligible(policy, none_share=0.3, random_state=1)
    log = simulate(w, pilot, days=7, random_state=1).events
    model = PersonaModel(cv=3, random_state=0, calibration="sigmoid").fit(log, w.true_personas)
    return {
        "log": log,
        "policy": policy,
        "soft": model.predict_proba(log),
        "features": model.features(log),
    }


def orders(log: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The log as the simulator wrote it, shuffled, and sorted by customer and time."""
    by_customer = log.sort_values(["customer_id", "timestamp"], kind="stable")
    assert not by_customer.index.equals(log.index)  # the file order is not the sorted one
    return {
        "shuffled": log.sample(frac=1, random_state=1),
        "by_customer": by_customer,
        "reversed": log.iloc[::-1],
    }


def test_feature_uplift_auto_settings_do_not_depend_on_row_order(world: dict) -> None:
    log, policy, soft, features = (world[k] for k in ("log", "policy", "soft", "features"))
    ref = FeatureUplift(n_components=3).fit(log, soft, features, policy)
    assert ref.C_ is not None and not ref.cv_.empty  # the cross-validation ran
    rng = np.random.default_rng(2)
    for name, other in orders(log).items():
        # the features and memberships in another row order too
        feats = features.iloc[rng.permutation(len(features))]
        memb = soft.iloc[rng.permutation(len(soft))]
        m = FeatureUplift(n_components=3).fit(other, memb, feats, policy)
        assert (m.C_, m.blend_) == (ref.C_, ref.blend_), name
        pd.testing.assert_frame_equal(m.cv_, ref.cv_, check_exact=True, obj=name)
        np.testing.assert_array_equal(m.rates(soft), ref.rates(soft), err_msg=name)
        for a, b in zip(m.models_, ref.models_, strict=True):
            assert (a is None) == (b is None), name
            if a is not None and b is not None:
                np.testing.assert_array_equal(a.coef_, b.coef_, err_msg=name)
                np.testing.assert_array_equal(a.intercept_, b.intercept_, err_msg=name)


def test_uplift_model_counts_do_not_depend_on_row_order(world: dict) -> None:
    log, policy, soft = world["log"], world["policy"], world["soft"]
    ref = UpliftModel().fit(log, soft, policy)
    assert ref.table_["touches"].sum() > 0 and ref.table_["holdouts"].sum() > 0
    for name, other in orders(log).items():
        m = UpliftModel().fit(other, soft, policy)
        np.testing.assert_array_equal(m.counts_, ref.counts_, err_msg=name)
        pd.testing.assert_frame_equal(m.table_, ref.table_, check_exact=True, obj=name)
