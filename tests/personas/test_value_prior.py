"""The persona view's order-value prior: predicted from behaviour, not one global number."""

from __future__ import annotations

import numpy as np
import pytest

from journeymine.datasets import make_journeys
from journeymine.personas import CustomerFeaturizer, PersonaMiner
from journeymine.personas.value_prior import valued_purchases, with_value_prior


@pytest.fixture(scope="module")
def log():
    return make_journeys(n_customers=1200, days=120, random_state=105).events


def test_valued_purchases_are_read_back_exactly(log) -> None:
    fz = CustomerFeaturizer()
    X = fz.fit_transform(log)
    n = valued_purchases(X, fz.spec_)
    truth = fz.aggregate(log)["n_valued_purchases"].loc[X.index].to_numpy()
    np.testing.assert_array_equal(n, truth)


def test_customers_without_a_purchase_get_the_value_of_look_alikes(log) -> None:
    miner = PersonaMiner(n_bootstrap=0, random_state=0).fit(log)
    assert miner.value_prior_ is not None
    feats = miner.features_
    spec = miner.featurizer_.spec_
    none = valued_purchases(feats, spec) == 0
    assert none.sum() > 20
    # the featurizer's prior is one number for all of them ...
    assert feats.loc[none, "order_value_log"].nunique() == 1
    # ... the view's depends on how they behave, and follows their persona's buyers
    Z = miner.scaler_.transform(feats)
    shrunk = with_value_prior(feats, Z, miner.scaler_.columns_, miner.value_prior_, spec)
    ov = shrunk["order_value_log"]
    assert ov[none].std() > 0.05
    lab = miner.labels_
    buyers = ~none & (lab >= 0).to_numpy()
    by_persona = feats.loc[buyers, "order_value_log"].groupby(lab[buyers]).mean()
    thin = ov[none & (lab >= 0).to_numpy()].groupby(lab[none & (lab >= 0).to_numpy()]).mean()
    common = thin.index.intersection(by_persona.index)
    assert np.corrcoef(thin[common], by_persona[common])[0, 1] > 0.5
    # and only the view sees it: the miner's features and profiles keep the measured value
    assert (miner.features_["order_value_log"] == feats["order_value_log"]).all()


def test_no_value_column_no_prior(log) -> None:
    no_value = log.drop(columns=["value"])
    miner = PersonaMiner(n_bootstrap=0, random_state=0).fit(no_value)
    assert miner.value_prior_ is None
