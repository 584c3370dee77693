"""The count model and its blend with the trees are chosen on the training log alone: the count
model's order by case-level cross-fitting, the counts alone wherever the blend was less accurate
on held-out cases, and on tiny logs (said in the log)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

import journeymine as jm
from journeymine.nextstep._blend import (
    MIN_HELD_OUT,
    WEIGHT_BUCKETS,
    blend_by_bucket,
    choose_order,
    fit_count_blend,
    fit_weights,
    guarded_weights,
    out_of_fold_counts,
)
from journeymine.nextstep._ngram import NGram

NAN = np.nan


def _lags(rng: np.random.Generator, n: int, n_codes: int) -> np.ndarray:
    lags = rng.integers(0, n_codes, (n, 3)).astype(float)
    lags[rng.random(n) < 0.3, 1:] = NAN  # a third of the rows know one activity only
    return lags


def test_out_of_fold_counts_never_count_the_rows_own_case() -> None:
    rng = np.random.default_rng(0)
    lags = _lags(rng, 400, 4)
    y = rng.integers(0, 3, 400)
    case = np.repeat(np.arange(40), 10)
    p = out_of_fold_counts(lags, y, case, n_classes=3, n_codes=5, order=3, random_state=1)
    assert len(p) == 3 and all(q.shape == (400, 3) for q in p)
    # rebuild the folds: the rows of one case are predicted by counts over the other folds only
    folds = np.random.default_rng(1).permutation(40) % 5
    for f in range(5):
        test = folds[case] == f
        ng = NGram.fit(lags[~test], y[~test], n_classes=3, n_codes=5, order=3)
        for k, q in enumerate(ng.proba_by_order(lags[test])):
            np.testing.assert_allclose(p[k][test], q)
    # proba_by_order's last order is proba
    ng = NGram.fit(lags, y, n_classes=3, n_codes=5, order=3)
    np.testing.assert_array_equal(ng.proba_by_order(lags)[-1], ng.proba(lags))


def test_a_longer_context_must_be_better_beyond_noise() -> None:
    y = np.zeros(400, dtype=int)
    right, wrong = np.array([[0.9, 0.1]] * 400), np.array([[0.1, 0.9]] * 400)
    one_off = right.copy()
    one_off[0] = wrong[0]
    # order 2 right on one more row of 400: noise, order 1
    assert choose_order([one_off, right, right], y) == 1
    # order 2 right on every row, order 1 on half: order 2
    half = np.where((np.arange(400) % 2 == 0)[:, None], right, wrong)
    assert choose_order([half, right, right], y) == 2


def test_the_counts_alone_where_the_blend_is_less_accurate_on_held_out_cases() -> None:
    # buckets 0-1: the trees right, the counts unsure. Buckets 2-3: the counts right on 70% of
    # the rows (p 0.6) but sure and wrong on the others (p 0.001); the trees always a little
    # wrong (p 0.45): by log loss the trees win there, by accuracy the counts do
    n = 4000
    y = np.tile([0, 1], n // 2)
    buckets = np.arange(n) % len(WEIGHT_BUCKETS)
    lags = np.full((n, 5), NAN)
    for b, known in enumerate(WEIGHT_BUCKETS):
        lags[buckets == b, :known] = 0.0
    late = buckets >= 2
    p_right_trees = np.where(late, 0.45, 0.9)
    sure_wrong = (np.arange(n) // len(WEIGHT_BUCKETS)) % 10 < 3
    p_right_counts = np.where(late, np.where(sure_wrong, 0.001, 0.6), 0.5)

    def proba(p_right: np.ndarray) -> np.ndarray:
        out = np.empty((n, 2))
        out[np.arange(n), y] = p_right
        out[np.arange(n), 1 - y] = 1 - p_right
        return out

    trees, counts = proba(p_right_trees), proba(p_right_counts)
    _, by_log_loss = fit_weights(trees, counts, y, buckets)
    assert min(by_log_loss[2:]) > 0.5  # log loss alone would follow the trees late
    weight, weights = guarded_weights(trees, counts, y, buckets)
    assert weights[2] == weights[3] == 0.0 and weights[:2] == by_log_loss[:2]
    assert weights[0] > 0.5 and weights[1] > 0.5 and weight > 0
    for b in range(len(WEIGHT_BUCKETS)):
        rows = buckets == b
        p = blend_by_bucket(trees, counts, weights, buckets)[rows]
        assert (p.argmax(axis=1) == y[rows]).sum() >= (counts[rows].argmax(axis=1) == y[rows]).sum()
    # through fit_count_blend, with a real count model: the held-out accuracy of the blend is
    # never below the counts'
    blend = fit_count_blend(
        lags,
        y,
        np.arange(n),
        (np.ones(n, dtype=bool), trees),
        tree_weight="auto",
        n_classes=2,
        n_codes=2,
        order=5,
    )
    m = blend.metrics
    assert m["activity_validation_accuracy_blend"] >= m["activity_validation_accuracy_counts"]


def test_tiny_logs_use_the_count_model_alone_and_say_so(caplog: pytest.LogCaptureFixture) -> None:
    rows = [
        (f"c{c}", pd.Timestamp("2025-01-01", tz="UTC") + pd.Timedelta(hours=10 * c + k), a)
        for c in range(12)
        for k, a in enumerate(["a", "b", "c" if c % 2 else "d", "e"])
    ]
    log = pd.DataFrame(rows, columns=["customer_id", "timestamp", "activity"])
    with caplog.at_level(logging.INFO, logger="journeymine.nextstep"):
        model = jm.NextStepModel(max_iter=10).fit(log)
    assert model.tree_weights_ == [0.0] * len(WEIGHT_BUCKETS) and model.ngram_ is not None
    assert any("the next activity is the count model's" in r.getMessage() for r in caplog.records)
    # 36 training prefixes, fewer than MIN_HELD_OUT: the first-order Markov model
    assert MIN_HELD_OUT > 36 and model.card_["metrics"]["count_order"] == 1
    assert model.ngram_.order == 1
    after_a = pd.DataFrame(
        {"customer_id": ["z"], "timestamp": [pd.Timestamp("2025-03-01", tz="UTC")], "activity": "a"}
    )
    assert model.predict(after_a)["activity"].iloc[0] == "b"
    # a fixed weight is kept, whatever the log
    assert jm.NextStepModel(tree_weight=0.4, max_iter=10).fit(log).tree_weights_ == [0.4] * 4


def _check_log(n_cases: int, seed: int, noise: float = 0.0) -> pd.DataFrame:
    """s, then three times check -> fix_x or fix_y, decided by the check's `kind` attribute
    (random per check: the activities alone cannot tell) but for a ``noise`` share of the
    checks, then e."""
    rng = np.random.default_rng(seed)
    rows = []
    t0 = pd.Timestamp("2025-01-01", tz="UTC")
    for c in range(n_cases):
        kinds = rng.choice(["x", "y"], size=3)
        fixes = np.where(rng.random(3) < noise, rng.choice(["x", "y"], size=3), kinds)
        acts = ["s"] + [a for k in fixes for a in ("check", f"fix_{k}")] + ["e"]
        kind = ["-"] + [a for k in kinds for a in (k, "-")] + ["-"]
        for j, (a, k) in enumerate(zip(acts, kind, strict=True)):
            rows.append((f"c{c}", t0 + pd.Timedelta(hours=20 * c + j), a, k))
    return pd.DataFrame(rows, columns=["customer_id", "timestamp", "activity", "kind"])


def test_the_weights_are_chosen_on_three_times_the_held_out_cases() -> None:
    # 200 cases of 8 events (7 prefixes with a next event each): 30 held out; the other 170
    # split into groups of 30 or so, two of which are predicted by activity trees refitted
    # without them and join the evidence of the weights
    log = _check_log(200, 0, noise=0.3)
    model = jm.NextStepModel(max_iter=30).fit(log)
    m = model.card_["metrics"]
    held_out = 7 * model.card_["training"]["validation_customers"]
    assert held_out == 7 * 30 and m["activity_crossfit_groups"] == 2
    evidence = sum(m["activity_validation_prefixes_by_bucket"])
    assert 3 * held_out * 0.95 <= evidence <= 3 * held_out
    # the accuracy guard holds on all of it
    assert m["activity_validation_accuracy_blend"] >= m["activity_validation_accuracy_counts"]
    # a fixed weight needs no evidence: no more fits
    fixed = jm.NextStepModel(max_iter=30, tree_weight=0.3).fit(log)
    assert fixed.card_["metrics"]["activity_crossfit_groups"] == 0


def test_the_trees_where_an_attribute_decides_the_next_step() -> None:
    # 300 cases: the blend's evidence is the held-out cases and two cross-fitted groups; the
    # `kind` of a check decides the fix that follows, which the counts cannot know
    model = jm.NextStepModel(max_iter=50).fit(_check_log(300, 0))
    assert model.card_["metrics"]["activity_crossfit_groups"] == 2
    assert model.tree_weights_[1:] == [1.0, 1.0, 1.0]
    test = _check_log(100, 1)
    counts = jm.NextStepModel(max_iter=50, tree_weight=0.0).fit(_check_log(300, 0))
    # every step is then known: the fixes by their check's kind, the rest by the activities
    assert model.score(test) == 1.0 and counts.score(test) < 0.8
