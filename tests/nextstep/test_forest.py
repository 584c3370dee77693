"""The numpy forests equal scikit-learn's predictions (categorical splits, unseen categories,
missing values, multiclass/binary/Poisson)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from journeymine.nextstep._forest import Ensemble, Forest, compile_forest


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    # OpenMP threads spin on a shared machine: scikit-learn's fit is many times slower
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="openmp"):
        yield


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    n = 3000
    cat1 = rng.choice([0, 1, 2, 5, 9, 200], n).astype(float)  # sparse codes, one >= 128
    cat2 = rng.integers(0, 4, n).astype(float)
    cat2[rng.random(n) < 0.2] = np.nan
    num = rng.normal(size=(n, 3))
    num[rng.random((n, 3)) < 0.1] = np.nan
    X = np.column_stack([cat1, cat2, num])
    y = (cat1 % 3 + (np.nan_to_num(num[:, 0]) > 0) + (cat2 == 1)).astype(int)
    return X, y, rng.poisson(np.exp(1 + np.nan_to_num(num[:, 1]))).astype(float)


def _scoring_rows(X: np.ndarray) -> np.ndarray:
    Z = X.copy()
    Z[:50, 0] = 7  # a category never seen in training
    Z[50:100, 0] = 300  # beyond the bitset range
    Z[100:150, 1] = -1  # negative: missing
    Z[150:200, :] = np.nan
    return Z


def test_classifiers_equal_scikit_learn(data: tuple) -> None:
    X, y, _ = data
    mask = [True, True, False, False, False]
    for target in (y, (y == 1).astype(int)):
        est = HistGradientBoostingClassifier(
            max_iter=40, categorical_features=mask, random_state=0
        ).fit(X, target)
        forest = compile_forest(est)
        Z = _scoring_rows(X)
        np.testing.assert_allclose(forest.predict(Z), est.predict_proba(Z), rtol=0, atol=1e-12)
        # one row at a time equals the batch
        np.testing.assert_array_equal(forest.predict(Z[3:4]), forest.predict(Z)[3:4])


def test_poisson_regressor_equals_scikit_learn(data: tuple) -> None:
    X, _, counts = data
    est = HistGradientBoostingRegressor(
        loss="poisson", max_iter=40, categorical_features=[True, True, False, False, False]
    ).fit(X, counts)
    forest = compile_forest(est)
    np.testing.assert_allclose(forest.predict(_scoring_rows(X)), est.predict(_scoring_rows(X)))


def test_ensemble_walks_several_forests_at_once(data: tuple) -> None:
    X, y, counts = data
    mask = [True, True, False, False, False]
    a = compile_forest(
        HistGradientBoostingClassifier(max_iter=20, categorical_features=mask).fit(X, y)
    )
    b = compile_forest(
        HistGradientBoostingRegressor(loss="poisson", max_iter=20, categorical_features=mask).fit(
            X, counts
        )
    )
    raw = Ensemble({"a": a, "b": b}).raw(X)
    np.testing.assert_array_equal(raw["a"], a.raw(X))
    np.testing.assert_array_equal(raw["b"], b.raw(X))


def test_damaged_state_is_refused(data: tuple) -> None:
    X, y, _ = data
    state = compile_forest(HistGradientBoostingClassifier(max_iter=5).fit(X, y)).to_state()
    state["feature"] = state["feature"] + 100
    with pytest.raises(ValueError, match="out of range"):
        Forest.from_state(state)


def test_one_row_path_reaches_the_same_leaves_as_the_level_walk(data: tuple) -> None:
    # a live customer is scored by _RowScorer (every split decided at once), batches by the
    # level walk: both must land in the same leaf of every tree, for any row
    X, y, counts = data
    mask = [True, True, False, False, False]
    heads = {
        "multi": HistGradientBoostingClassifier(
            max_iter=30, max_leaf_nodes=63, categorical_features=mask, random_state=0
        ).fit(X, y),
        "binary": HistGradientBoostingClassifier(max_iter=20, categorical_features=mask).fit(
            X, (y == 1).astype(int)
        ),
        "poisson": HistGradientBoostingRegressor(
            loss="poisson", max_iter=20, categorical_features=mask
        ).fit(X, counts),
    }
    ens = Ensemble({k: compile_forest(v) for k, v in heads.items()})
    rng = np.random.default_rng(1)
    Z = _scoring_rows(X)[rng.permutation(len(X))[:400]]
    Z[rng.random(Z.shape) < 0.1] = np.nan
    Z[rng.random(Z.shape) < 0.03] = np.inf
    Z[rng.random(Z.shape) < 0.03] = -np.inf
    Z[:20, 0] = 2.5  # a fractional category: truncated, as the walk does
    walked = ens._walk(Z)
    one_by_one = np.stack([ens._leaves(Z[i : i + 1])[0] for i in range(len(Z))])
    np.testing.assert_array_equal(one_by_one, walked)
    raw_one = ens.raw(Z[:1])
    for name in heads:
        np.testing.assert_array_equal(raw_one[name], ens.raw(Z)[name][:1])
