"""The interpolated count model of the next activity and its blend with the trees: the formula,
the back-off to shorter contexts, the weight learnt on held-out cases, the saved state."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import journeymine as jm
from journeymine.exceptions import ConfigError, ModelError
from journeymine.nextstep._blend import (
    PRIOR_ROWS,
    blend,
    blend_by_bucket,
    context_bucket,
    fit_weight,
    fit_weights,
)
from journeymine.nextstep._ngram import NGram

NAN = np.nan


def test_counts_interpolate_from_the_prior_up() -> None:
    # lags: (lag1, lag2) = (last activity, the one before); classes 0..2, codes 0..3
    lags = np.array([[0, 1], [0, 1], [0, 2], [1, NAN], [1, 0]], dtype=float)
    y = np.array([2, 2, 1, 0, 0])
    ng = NGram.fit(lags, y, n_classes=3, n_codes=4, order=2)
    prior = (np.bincount(y, minlength=3) + 1.0) / (5 + 3)
    np.testing.assert_allclose(ng.prior, prior)
    p1 = (np.array([0, 1, 2]) + prior) / (3 + 1)  # after activity 0: y = 2, 2, 1
    p2 = (np.array([0, 0, 2]) + p1) / (2 + 1)  # after (1, 0): y = 2, 2
    got = ng.proba(np.array([[0, 1], [0, 3], [3, NAN], [NAN, NAN]], dtype=float))
    np.testing.assert_allclose(got[0], p2)
    np.testing.assert_allclose(got[1], p1)  # (3, 0) never seen: order 1 only
    np.testing.assert_allclose(got[2], prior)  # activity 3 never seen: the prior
    np.testing.assert_allclose(got[3], prior)  # no activity at all
    np.testing.assert_allclose(got.sum(axis=1), 1.0)
    # a context seen often speaks for itself
    many = NGram.fit(np.zeros((200, 1)), np.ones(200, dtype=int), n_classes=2, n_codes=1, order=1)
    assert many.proba(np.zeros((1, 1)))[0, 1] > 0.99


def test_state_round_trip_and_damage() -> None:
    rng = np.random.default_rng(0)
    lags = rng.integers(0, 5, (300, 3)).astype(float)
    lags[rng.random((300, 3)) < 0.2] = NAN
    y = rng.integers(0, 4, 300)
    ng = NGram.fit(lags, y, n_classes=4, n_codes=6, order=3)
    again = NGram.from_state(ng.to_state())
    np.testing.assert_array_equal(again.proba(lags), ng.proba(lags))
    state = ng.to_state()
    state["keys"] = [k[::-1] for k in state["keys"]]
    with pytest.raises(ValueError, match="keys not sorted"):
        NGram.from_state(state)


def test_weight_is_learnt_by_log_loss() -> None:
    y = np.array([0, 1, 0, 1])
    good = np.array([[0.9, 0.1], [0.1, 0.9], [0.9, 0.1], [0.1, 0.9]])
    bad = good[:, ::-1]
    assert fit_weight(good, bad, y) == 1.0
    assert fit_weight(bad, good, y) == 0.0
    assert blend(good, bad, 1.0) is good
    np.testing.assert_allclose(blend(good, bad, 0.5), 0.5)


def test_context_bucket_counts_the_known_activities() -> None:
    lags = np.full((6, 5), NAN)
    for i, known in enumerate([1, 2, 3, 4, 5, 5]):
        lags[i, :known] = 1.0
    np.testing.assert_array_equal(context_bucket(lags), [0, 1, 2, 2, 3, 3])
    np.testing.assert_array_equal(context_bucket(lags[:, :2]), [0, 1, 1, 1, 1, 1])  # n_lags=2


def test_weights_per_bucket_follow_the_better_model_of_each_bucket() -> None:
    # the trees are right on bucket 0 (first events), the counts on the others; 500 held-out
    # rows a bucket, several times PRIOR_ROWS
    n = 2000
    y = np.tile([0, 1], n // 2)
    right = np.eye(2)[y] * 0.8 + 0.1
    wrong = right[:, ::-1]
    buckets = np.repeat([0, 1, 2, 3], n // 4)
    trees = np.where((buckets == 0)[:, None], right, wrong)
    counts = np.where((buckets == 0)[:, None], wrong, right)
    weight, weights = fit_weights(trees, counts, y, buckets)
    assert weight == fit_weight(trees, counts, y) and weight < 0.5
    assert weights[0] > 0.5 and weights[1:] == [0.0, 0.0, 0.0]
    p = blend_by_bucket(trees, counts, weights, buckets)
    assert (p.argmax(axis=1) == y).all()  # a single weight gets bucket 0 or the rest wrong
    assert not (blend(trees, counts, weight).argmax(axis=1) == y).all()
    # weight 1 everywhere: the trees' array itself
    assert blend_by_bucket(trees, counts, [1.0] * 4, buckets) is trees


def test_a_bucket_with_few_held_out_prefixes_is_shrunk_to_the_global_weight() -> None:
    n = 1000
    y = np.tile([0, 1], n // 2)
    right = np.eye(2)[y] * 0.8 + 0.1
    wrong = right[:, ::-1]
    few = 10  # far fewer rows than PRIOR_ROWS: the global weight (counts) prevails
    assert few * 10 <= PRIOR_ROWS
    buckets = np.where(np.arange(n) < few, 0, 1)
    trees = np.where((buckets == 0)[:, None], right, wrong)
    counts = np.where((buckets == 0)[:, None], wrong, right)
    weight, weights = fit_weights(trees, counts, y, buckets)
    assert weight == 0.0 and weights[0] < 0.5 and weights[1] == 0.0
    # without shrinkage the ten rows alone would choose the trees
    assert fit_weights(trees, counts, y, buckets, prior_rows=0)[1][0] == 1.0
    # a bucket without held-out rows gets the global weight
    assert weights[2] == weights[3] == weight


def _context_log(n_cases: int, seed: int) -> pd.DataFrame:
    """The next activity after the run of 'm' is 'x' after 'p' and 'y' after 'q': a context
    four events back, which counts read directly."""
    rng = np.random.default_rng(seed)
    rows = []
    t0 = pd.Timestamp("2025-01-01", tz="UTC")
    for c in range(n_cases):
        first = "p" if rng.random() < 0.5 else "q"
        acts = ["s", first, "m", "m", "m", "x" if first == "p" else "y", "e"]
        for k, a in enumerate(acts):
            rows.append((f"c{c}", t0 + pd.Timedelta(hours=c * 10 + k), a))
    return pd.DataFrame(rows, columns=["customer_id", "timestamp", "activity"])


def test_tree_weight_semantics() -> None:
    log = _context_log(60, 0)
    trees = jm.NextStepModel(tree_weight=1.0, max_iter=20).fit(log)
    counts = jm.NextStepModel(tree_weight=0.0, max_iter=20).fit(log)
    auto = jm.NextStepModel(max_iter=20).fit(log)
    assert trees.ngram_ is None and trees.tree_weight_ == 1.0
    assert counts.ngram_ is not None and counts.tree_weight_ == 0.0
    # 60 cases hold out 9 (54 prefixes): too few to tell, the counts alone (and no trees
    # refitted to widen the evidence)
    assert auto.tree_weights_ == [0.0] * 4 and "activity_counts_only" in auto.card_["metrics"]
    assert auto.card_["metrics"]["activity_crossfit_groups"] == 0
    more = jm.NextStepModel(max_iter=20).fit(_context_log(300, 0))
    assert 0.0 <= more.tree_weight_ <= 1.0
    assert "activity_validation_accuracy_blend" in more.card_["metrics"]
    # weight 0: the probabilities are the count model's, computed from the lag features (the
    # codes of the customer's last n_lags activities in the learnt vocabulary, latest first,
    # missing before the journey starts)
    assert counts.ngram_ is not None
    proba = counts.predict_proba(log)
    code = {a: i for i, a in enumerate(counts.spec_.activities)}
    n_lags = counts.spec_.n_lags
    ordered = log.sort_values(["customer_id", "timestamp"], kind="stable")
    latest = ordered.groupby("customer_id")["activity"].agg(lambda a: a.tolist()[::-1][:n_lags])
    lags = np.array(
        [[code[a] for a in latest[c]] + [NAN] * (n_lags - len(latest[c])) for c in proba.index]
    )
    np.testing.assert_allclose(proba.to_numpy(), counts.ngram_.proba(lags))
    # after p m m m (and q m m m) the count model is sure; so is every blend
    test = _context_log(20, 1)
    test = test.groupby("customer_id").head(5)  # ends after the third 'm'
    expected = np.where(test.groupby("customer_id")["activity"].nth(1) == "p", "x", "y")
    for model in (counts, auto):
        assert (model.predict(test)["activity"].to_numpy() == expected).all()
    with pytest.raises(ConfigError, match="tree_weight must be 'auto' or a number"):
        jm.NextStepModel(tree_weight=1.5).fit(log)


def test_saved_count_model_and_its_weight(tmp_path: Path) -> None:
    log = _context_log(60, 0)
    model = jm.NextStepModel(tree_weight=0.3, max_iter=10).fit(log)
    path = model.save(tmp_path / "m.skops")
    again = jm.load_next_step_model(path)
    assert again.tree_weight_ == 0.3 and again.ngram_ is not None
    pd.testing.assert_frame_equal(again.predict_proba(log), model.predict_proba(log))
    # the weight is covered by the checksum
    import json

    card = json.loads(path.with_suffix(".json").read_text())
    card["tree_weight"] = 0.9
    path.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="changed after saving"):
        jm.load_next_step_model(path)


def test_scoring_uses_the_weight_of_each_prefix_length() -> None:
    log = _context_log(200, 0)
    model = jm.NextStepModel(max_iter=20).fit(log)
    assert len(model.tree_weights_) == 4 and all(0 <= w <= 1 for w in model.tree_weights_)
    assert sum(model.card_["metrics"]["activity_validation_prefixes_by_bucket"]) > 0
    trees = jm.NextStepModel(tree_weight=1.0, max_iter=20).fit(log).predict_prefixes(log)
    model.tree_weights_ = [1.0, 0.0, 0.0, 0.0]  # the trees after one event, the counts after
    got = model.predict_prefixes(log)
    first = log.groupby("customer_id").cumcount().to_numpy() == 0
    np.testing.assert_allclose(
        got.loc[first, "probability"].to_numpy(), trees.loc[first, "probability"].to_numpy()
    )
    counts = jm.NextStepModel(tree_weight=0.0, max_iter=20).fit(log).predict_prefixes(log)
    np.testing.assert_allclose(
        got.loc[~first, "probability"].to_numpy(), counts.loc[~first, "probability"].to_numpy()
    )
