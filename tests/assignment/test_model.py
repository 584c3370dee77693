"""PersonaModel: fit on prefixes, calibrated probabilities, abstention, model card, errors."""

from __future__ import annotations

import copy
import json
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from journeymine.assignment import PersonaModel, reliability_table
from journeymine.assignment._buckets import customer_folds as _customer_folds
from journeymine.exceptions import ConfigError, NotFittedError


def sklearn_proba(model: PersonaModel, log: pd.DataFrame) -> np.ndarray:
    """Probabilities from scikit-learn's own predict_proba of each bucket's estimator."""
    X = model.features(log).to_numpy()
    n_events = np.expm1(model.features(log)["log_events"].to_numpy()).round().astype(int)
    bucket = model.scorer_.bucket(n_events)
    out = np.zeros((len(X), len(model.classes_)))
    for i, est in enumerate(model.estimators_):
        rows = bucket == i
        cols = np.searchsorted(model.classes_, est.classes_)
        if rows.any():
            out[np.ix_(rows, cols)] = est.predict_proba(X[rows])
    return out


def test_card_is_complete_and_json(model: PersonaModel, log: pd.DataFrame) -> None:
    card = json.loads(json.dumps(model.card_, allow_nan=False))
    assert card["format_version"] == 2 and card["kind"] == "journeymine.PersonaModel"
    assert card["journeymine_version"] and card["created_at"].endswith("+00:00")
    assert [c["persona"] for c in card["classes"]] == model.classes_.tolist()
    assert {c["name"] for c in card["classes"]} >= {"bargain_hunter", "researcher"}
    assert card["feature_names"] == model.feature_names_
    assert card["feature_spec"]["as_of_us"] == 0 and card["feature_spec"]["start_us"] is None
    assert len(card["training"]["fingerprint"]) == 64
    assert card["schema"]["required"] == ["customer_id", "timestamp", "activity"]
    assert card["schema"]["version"] == 1
    m = card["metrics"]
    levels = [r["events"] for r in m["by_events_seen"]]
    assert levels == [3, 5, 10, 20, "all"]
    for r in m["by_events_seen"]:
        assert 0 <= r["accuracy"] <= 1 and 0 <= r["abstention_rate"] <= 1 and r["n"] > 0
    assert 0 <= m["ece"] <= 1 and len(m["reliability"]) == 10
    assert sum(b["count"] for b in m["reliability"]) == sum(r["n"] for r in m["by_events_seen"])
    cm = np.array(m["confusion_matrix"]["matrix"])
    assert cm.shape == (len(model.classes_), len(model.classes_) + 1)
    assert cm.sum() == m["n_customers"] == [r for r in m["by_events_seen"]][-1]["n"]
    assert m["confusion_matrix"]["labels"][-1] == -1
    assert (
        sum(b["n_rows"] for b in card["training"]["buckets"]) == card["training"]["n_training_rows"]
    )
    # with all events, the model is much better than after 3 events
    by = {r["events"]: r["accuracy"] for r in m["by_events_seen"]}
    assert by["all"] > by[3] + 0.1


def test_fast_scorer_equals_sklearn_predict_proba(model: PersonaModel, log: pd.DataFrame) -> None:
    ours = model.predict_proba(log).to_numpy()
    np.testing.assert_allclose(ours, sklearn_proba(model, log), rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.sum(axis=1), 1.0, atol=1e-12)


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_other_calibrations(method: str, log: pd.DataFrame, labels: pd.Series) -> None:
    small = log[log["customer_id"] < "C0000300"]
    m = PersonaModel(calibration=method, cv=2, validation_size=0, prefix_cuts=(5, None))
    m.fit(small, labels)
    np.testing.assert_allclose(
        m.predict_proba(small).to_numpy(), sklearn_proba(m, small), rtol=0, atol=1e-12
    )


def test_temperature_that_cannot_be_found_falls_back_to_sigmoid() -> None:
    """Labels the features all but determine (here a model's own predictions, abstentions a
    persona of their own): sklearn's temperature search then returns NaN on some fits and
    raised a RuntimeError from its internals. Which fits fail depends on the floating-point
    noise of the process (memory alignment: in a plain script every other fit failed, in
    another none), so this test cannot force the failure; it checks that six fits in a row
    never raise, that any fallback warns with the option to choose, and that the model scores
    as any other. Such a bucket is calibrated with sigmoid instead."""
    from _uplift_world import uplift_world

    from journeymine.exceptions import DataQualityWarning

    world, personas = uplift_world(400, days=10)
    own = PersonaModel(cv=3, random_state=0).fit(world, personas).predict(world) + 10
    for _ in range(6):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("ignore")  # as a user's script may; the search fails more
            warnings.simplefilter("always", DataQualityWarning)
            m = PersonaModel(cv=3, random_state=0).fit(world, own)
        for w in seen:
            assert issubclass(w.category, DataQualityWarning)
            assert "calibration='sigmoid'" in str(w.message), w.message
        np.testing.assert_allclose(
            m.predict_proba(world).to_numpy(), sklearn_proba(m, world), rtol=0, atol=1e-12
        )


def test_prefix_rows_and_buckets(model: PersonaModel, log: pd.DataFrame, labels: pd.Series) -> None:
    buckets = model.card_["training"]["buckets"]
    assert len(buckets) == len(model.bucket_edges_) + 1 == len(model.estimators_)
    assert model.bucket_edges_ == (3, 5, 10, 20)  # enough customers: nothing merged
    assert [b["events"] for b in buckets] == ["1-3", "4-5", "6-10", "11-20", ">20"]
    np.testing.assert_array_equal(
        model.scorer_.bucket(np.array([1, 3, 4, 5, 6, 20, 21, 500])), [0, 0, 1, 1, 2, 3, 4, 4]
    )
    # every labelled customer with more than k events contributes a k-event prefix
    n = log.groupby("customer_id", observed=True).size()
    n = n[n.index.isin(labels.index[labels >= 0])]
    train = model.card_["training"]
    assert train["n_labelled"] == len(n)
    expected = len(n) + sum(int((n > k).sum()) for k in (3, 5, 10, 20))
    assert train["n_training_rows"] == expected


def test_buckets_merge_when_too_few_customers(log: pd.DataFrame, labels: pd.Series) -> None:
    small = log[log["customer_id"] < "C0000060"]
    m = PersonaModel(cv=3, validation_size=0, prefix_cuts=(3, 50, None)).fit(small, labels)
    # almost nobody has more than 50 events: that bucket is merged into the one below
    assert m.bucket_edges_ == (3,)
    assert [b["events"] for b in m.card_["training"]["buckets"]] == ["1-3", ">3"]


def test_abstain_threshold(model: PersonaModel, log: pd.DataFrame) -> None:
    proba = model.predict_proba(log)
    never = copy.deepcopy(model).set_params(abstain_threshold=0.0)
    assert (never.predict(log) >= 0).all()
    pred = model.predict(log)
    low = proba.max(axis=1) < model.abstain_threshold
    assert (pred[low] == -1).all() and (pred[~low] >= 0).all()
    assert 0 < low.mean() < 0.6


def test_noise_and_unlabelled_customers(log: pd.DataFrame, labels: pd.Series) -> None:
    small = log[log["customer_id"] < "C0000200"]
    y = labels.copy()
    y.iloc[::4] = -1
    y = y.drop(y.index[1::9])
    m = PersonaModel(cv=2, validation_size=0, prefix_cuts=(5, None)).fit(small, y)
    t = m.card_["training"]
    in_log = set(small["customer_id"])
    assert t["n_noise"] == int(((y == -1) & y.index.isin(in_log)).sum()) > 0
    assert t["n_unlabelled"] == len(in_log - set(y.index)) > 0
    assert t["n_labelled"] == int(((y >= 0) & y.index.isin(in_log)).sum())
    assert -1 not in m.classes_


def test_deterministic_and_fingerprint(log: pd.DataFrame, labels: pd.Series) -> None:
    small = log[log["customer_id"] < "C0000150"]
    a = PersonaModel(cv=2, prefix_cuts=(5, None), random_state=3).fit(small, labels)
    again = PersonaModel(cv=2, prefix_cuts=(5, None), random_state=3).fit(small, labels)
    pd.testing.assert_frame_equal(a.predict_proba(small), again.predict_proba(small), rtol=0)
    assert a.card_["metrics"] == again.card_["metrics"]
    # row order: the featurizer's fitted mean order value is a float sum whose last bits
    # depend on it; the optimiser amplifies that to ~1e-9
    shuffled = small.sample(frac=1.0, random_state=1)
    b = PersonaModel(cv=2, prefix_cuts=(5, None), random_state=3).fit(shuffled, labels)
    pd.testing.assert_frame_equal(a.predict_proba(small), b.predict_proba(small), rtol=0, atol=1e-6)
    assert a.card_["training"]["fingerprint"] == b.card_["training"]["fingerprint"]
    changed = small.copy()
    changed.loc[changed.index[0], "activity"] = "purchase"
    c = PersonaModel(cv=2, prefix_cuts=(5, None), random_state=3).fit(changed, labels)
    assert c.card_["training"]["fingerprint"] != a.card_["training"]["fingerprint"]


def test_sklearn_contract(model: PersonaModel) -> None:
    fresh = clone(model)
    assert fresh.get_params() == model.get_params()
    assert not hasattr(fresh, "scorer_")
    with pytest.raises(NotFittedError, match="not fitted"):
        fresh.predict(pd.DataFrame())


def test_customer_folds_are_stratified_and_grouped() -> None:
    groups = np.repeat(np.arange(40), 3)
    y = np.repeat(np.arange(40) % 4, 3)
    folds = _customer_folds(y, groups, 5, random_state=0)
    seen = np.zeros(len(y), dtype=int)
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
        assert set(y[test]) == set(y[train]) == {0, 1, 2, 3}
        seen[test] += 1
    assert (seen == 1).all()


def test_reliability_table() -> None:
    conf = np.array([0.95, 0.95, 0.55, 0.55, 0.55, 0.55])
    ok = np.array([True, True, True, False, True, False])
    ece, table = reliability_table(conf, ok)
    assert ece == pytest.approx((2 * 0.05 + 4 * 0.05) / 6)
    assert [b["count"] for b in table if b["count"]] == [4, 2]


def test_bad_params_and_labels(log: pd.DataFrame, labels: pd.Series) -> None:
    small = log[log["customer_id"] < "C0000100"]
    for params, match in [
        ({"abstain_threshold": 1.5}, "abstain_threshold"),
        ({"calibration": "platt"}, "calibration"),
        ({"prefix_cuts": ()}, "prefix_cuts"),
        ({"prefix_cuts": (3, 3, None)}, "duplicates"),
        ({"prefix_cuts": (0, None)}, "integers >= 1"),
        ({"cv": 1}, "cv"),
        ({"validation_size": 1.0}, "validation_size"),
        ({"C": 0}, "C must be"),
        ({"featurizer": "default"}, "CustomerFeaturizer"),
    ]:
        with pytest.raises(ConfigError, match=match):
            PersonaModel(**params).fit(small, labels)
    for bad, match in [
        ([0, 1, 2], "Series"),
        (labels.astype(float) + 0.5, "integer persona ids"),
        (labels.astype("float").where(labels > 0), "missing values"),
        (labels - 2, ">= -1"),
        (pd.concat([labels, labels.head(1)]), "duplicate"),
        (labels * 0, "at least 2 personas"),
        (labels.where(labels.index != labels.index[0], 9), "fewer than"),
    ]:
        with pytest.raises(ConfigError, match=match):
            PersonaModel(cv=2).fit(small, bad)
    with pytest.raises(ConfigError, match="names"):
        PersonaModel(cv=2, validation_size=0).fit(small, labels, names=["a", "b"])
