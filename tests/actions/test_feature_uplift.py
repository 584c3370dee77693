"""FeatureUplift (#13 item 3): per-customer uplift from memberships and features, beside the
persona cells; its settings chosen by cross-validation on the log; save and load."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from journeymine.actions import FeatureUplift, Policy, UpliftModel
from journeymine.actions.feature_uplift import BLEND_GRID, C_GRID
from journeymine.exceptions import ConfigError, ModelError, NotFittedError

POLICY = Policy.from_dict(
    {
        "journeys": [
            {"name": "a", "channel": "email", "activity": "email_sent"},
            {"name": "b", "channel": "sms", "activity": "sms_sent"},
        ],
        "response_window": "24h",
        "arbitration": "uplift",
    }
)


def merged_cell(n: int = 1_200, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Two kinds of customer in one persona cell: kind 0 buys after journey a, kind 1 after
    journey b; a feature (with noise) says the kind. Each customer is touched by a or b or held
    out of one of them once."""
    rng = np.random.default_rng(seed)
    ids = [f"c{i}" for i in range(n)]
    kind = np.arange(n) % 2
    rows = []
    for i, c in enumerate(ids):
        journey = "ab"[rng.integers(2)]
        touched = rng.random() < 0.6
        act = {"a": "email_sent", "b": "sms_sent"}[journey] if touched else "holdout"
        rows.append((c, "2025-01-01 09:00", act, journey))
        lift = 0.35 if touched and journey == "ab"[kind[i]] else 0.0
        if rng.random() < 0.05 + lift:
            rows.append((c, "2025-01-01 12:00", "purchase", None))
    log = pd.DataFrame(rows, columns=["customer_id", "timestamp", "activity", "journey_id"])
    memberships = pd.DataFrame({0: np.ones(n)}, index=ids)
    features = pd.DataFrame(
        {"kind": kind + rng.normal(0, 0.3, n), "noise": rng.normal(0, 1, n)}, index=ids
    )
    return log, memberships, features


def no_signal(n: int = 1_200, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """One persona cell whose customers all respond alike (journey a lifts by 0.2 for everyone,
    b not at all); the four features are noise."""
    rng = np.random.default_rng(seed)
    ids = [f"c{i}" for i in range(n)]
    rows = []
    for c in ids:
        journey = "ab"[rng.integers(2)]
        touched = rng.random() < 0.6
        act = {"a": "email_sent", "b": "sms_sent"}[journey] if touched else "holdout"
        rows.append((c, "2025-01-01 09:00", act, journey))
        if rng.random() < 0.05 + (0.2 if touched and journey == "a" else 0.0):
            rows.append((c, "2025-01-01 12:00", "purchase", None))
    log = pd.DataFrame(rows, columns=["customer_id", "timestamp", "activity", "journey_id"])
    memberships = pd.DataFrame({0: np.ones(n)}, index=ids)
    features = pd.DataFrame(rng.normal(0, 1, (n, 4)), index=ids, columns=list("wxyz"))
    return log, memberships, features


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_cross_validation_keeps_the_cells_when_features_say_nothing(seed: int) -> None:
    log, memberships, features = no_signal(seed=seed)
    m = FeatureUplift(n_components=2).fit(log, memberships, features, POLICY)
    assert m.blend_ == 0.0
    cell = UpliftModel().fit(log, memberships, POLICY)
    np.testing.assert_allclose(m.rates(memberships), cell.rates(memberships))
    # every (C, blend) of the grids was scored, one row chosen: the cells at the least-loss C
    assert len(m.cv_) == len(C_GRID) * len(BLEND_GRID) and m.cv_["chosen"].sum() == 1
    chosen = m.cv_[m.cv_["chosen"]].iloc[0]
    assert chosen["blend"] == 0.0 and chosen["C"] == m.C_ in C_GRID
    assert chosen["excess"] <= chosen["se"]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cross_validation_trusts_features_that_separate_a_cell(seed: int) -> None:
    log, memberships, features = merged_cell(seed=seed)
    m = FeatureUplift(n_components=2).fit(log, memberships, features, POLICY)
    assert m.blend_ >= 0.75
    at_c = m.cv_[m.cv_["C"] == m.C_].set_index("blend")
    # the cells lose by more than the noise of the comparison, the chosen blend does not
    assert at_c.loc[0.0, "excess"] > at_c.loc[0.0, "se"]
    assert at_c.loc[m.blend_, "excess"] <= at_c.loc[m.blend_, "se"]
    # and the chosen blend's uplift is nearer the transformed outcome than the cells'
    assert at_c.loc[m.blend_, "uplift_mse"] < at_c.loc[0.0, "uplift_mse"]


def test_numbers_are_used_as_given_and_a_fixed_c_still_chooses_the_blend() -> None:
    log, memberships, features = merged_cell(400)
    fixed = FeatureUplift(C=0.03, blend=0.75).fit(log, memberships, features, POLICY)
    assert (fixed.C_, fixed.blend_) == (0.03, 0.75) and fixed.cv_.empty
    assert fixed.models_[0] is not None and fixed.models_[0].C == 0.03
    half = FeatureUplift(C=0.03).fit(log, memberships, features, POLICY)
    assert half.C_ == 0.03 and list(half.cv_["blend"]) == list(BLEND_GRID)
    assert half.blend_ in BLEND_GRID


def test_features_separate_personas_that_share_a_cell() -> None:
    log, memberships, features = merged_cell()
    kind = np.arange(len(memberships)) % 2
    cell = UpliftModel().fit(log, memberships, POLICY).rates(memberships)
    assert len(np.unique(cell.argmax(1))) == 1  # one cell: the same best journey for everyone
    m = FeatureUplift(n_components=2).fit(log, memberships, features, POLICY)
    best = m.rates(memberships).argmax(1)
    assert (best == kind).mean() > 0.9  # journey a for kind 0, b for kind 1
    up = m.feature_rates(memberships)
    # the penalty shrinks the uplifts (true: 0.35 and 0), not their order
    assert up[kind == 0, 0].mean() > 4 * up[kind == 1, 0].mean()
    assert up[kind == 1, 1].mean() > 4 * up[kind == 0, 1].mean()


def test_blend_zero_is_the_cell_model_and_update_feeds_it() -> None:
    log, memberships, features = merged_cell(400)
    m = FeatureUplift(blend=0.0).fit(log, memberships, features, POLICY)
    cell = UpliftModel().fit(log, memberships, POLICY)
    np.testing.assert_allclose(m.rates(memberships), cell.rates(memberships))
    before = m.evidence(memberships)[0].copy()
    x = memberships.iloc[:10]
    m.update(x, np.zeros(10, int), np.zeros(10, bool), np.ones(10, bool))
    np.testing.assert_allclose(m.evidence(memberships)[0][:, 0], before[:, 0] + 10)
    assert m.weights(x).shape == (10, len(m.base_.personas_))
    draw = m.sample(x, np.random.default_rng(0))
    assert draw.shape == (10, 2) and np.isfinite(draw).all()


def test_a_journey_without_holdouts_keeps_the_cell_uplift() -> None:
    log, memberships, features = merged_cell(400)
    held_b = (log["activity"] == "holdout") & (log["journey_id"] == "b")
    log = log[~held_b]
    m = FeatureUplift().fit(log, memberships, features, POLICY)
    assert m.models_[0] is not None and m.models_[1] is None
    np.testing.assert_allclose(m.feature_rates(memberships)[:, 1], m.base_.rates(memberships)[:, 1])


def test_a_cold_start_is_the_cell_model() -> None:
    _, memberships, features = merged_cell(100)
    m = FeatureUplift().fit(None, memberships, features, POLICY)
    assert m.models_ == [None, None]
    cell = UpliftModel().fit(None, memberships, POLICY)
    np.testing.assert_allclose(m.rates(memberships), cell.rates(memberships))


def test_customers_without_features_get_the_mean_components() -> None:
    log, memberships, features = merged_cell(400)
    m = FeatureUplift().fit(log, memberships, features.iloc[:300], POLICY)
    stranger = pd.DataFrame({0: [1.0]}, index=["nobody"])
    assert m.rates(stranger).shape == (1, 2)
    assert np.allclose(m.components_.mean(), 0.0)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"n_components": 0}, "n_components"),
        ({"C": 0}, "C must be 'auto' .* or a number > 0"),
        ({"C": "fast"}, "C must be 'auto'"),
        ({"C": True}, "C must be 'auto'"),
        ({"blend": 1.5}, r"blend must be 'auto' .* or a number in \[0, 1\]"),
        ({"blend": "high"}, "blend must be 'auto'"),
        ({"random_state": -1}, "random_state must be an integer >= 0"),
        ({"max_iter": 0}, "max_iter"),
        ({"base": "cells"}, "base must be an UpliftModel"),
    ],
)
def test_bad_parameters_say_what_is_allowed(params: dict, match: str) -> None:
    log, memberships, features = merged_cell(100)
    with pytest.raises(ConfigError, match=match):
        FeatureUplift(**params).fit(log, memberships, features, POLICY)


def test_bad_inputs_say_how_to_fix_them() -> None:
    log, memberships, features = merged_cell(100)
    with pytest.raises(NotFittedError, match="fit"):
        FeatureUplift().rates(memberships)
    with pytest.raises(ConfigError, match="soft memberships"):
        FeatureUplift().fit(log, memberships[0], features, POLICY)
    with pytest.raises(ConfigError, match="numeric"):
        FeatureUplift().fit(log, memberships, features.assign(city="x"), POLICY)
    with pytest.raises(ConfigError, match="at least one numeric column"):
        FeatureUplift().fit(log, memberships, features[[]], POLICY)
    with pytest.raises(ConfigError, match="finite"):
        FeatureUplift().fit(log, memberships, features.assign(kind=np.inf), POLICY)
    with pytest.raises(ConfigError, match="Policy"):
        FeatureUplift().fit(log, memberships, features, {"journeys": []})
    m = FeatureUplift().fit(log, memberships, features, POLICY)
    with pytest.raises(ConfigError, match="indexed by customer_id"):
        m.rates(np.zeros(3, dtype=int))


def test_policy_decider_decides_and_learns_with_it() -> None:
    from journeymine.datasets import PolicyDecider, RandomEligible, make_world, sim_policy, simulate

    w = make_world(300, history_days=30, random_state=0)
    pol = sim_policy()
    pilot = simulate(w, RandomEligible(pol, none_share=0.3, random_state=1), days=7, random_state=1)
    one_cell = pd.DataFrame({0: np.ones(len(w.ids))}, index=w.ids)  # every customer in one cell
    feats = pd.get_dummies(w.true_personas, prefix="p").astype(float)
    share = {}
    for blend in (0.0, 0.75):
        model = FeatureUplift(n_components=3, C=0.03, blend=blend)
        model = model.fit(pilot.events, one_cell, feats, pol)
        touches = model.base_.counts_[..., 0].sum()
        run = simulate(w, PolicyDecider(pol, model, one_cell), days=5, random_state=2)
        assert len(run.decisions) == 5 * len(w.ids)
        s = run.summary
        assert s["unconsented"] == s["unreachable"] == s["over_cap"] == 0
        assert model.base_.counts_[..., 0].sum() > touches  # the cell part learns in the loop
        birthday = run.decisions[run.decisions["action"] == "birthday"]
        share[blend] = (birthday["persona"] == 2).mean()
    # the birthday SMS works on persona 2 (store-first) most: with the features it goes to them,
    # with the one cell alone to everyone eligible
    assert share[0.75] > 2 * share[0.0]


def test_next_best_action_decides_with_it() -> None:
    from journeymine.actions import next_best_action

    log, memberships, features = merged_cell()
    kind = np.arange(len(memberships)) % 2
    m = FeatureUplift(n_components=2).fit(log, memberships, features, POLICY)
    personas = pd.Series(0, index=memberships.index)
    d = next_best_action(log, POLICY, m, personas, memberships=memberships, check="off")
    chosen = d.actions.set_index("customer_id").reindex(memberships.index)["action"]
    assert (chosen.to_numpy() == np.where(kind == 0, "a", "b")).mean() > 0.9
    with pytest.raises(ConfigError, match="memberships="):
        next_best_action(log, POLICY, m, personas, check="off")


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[FeatureUplift, pd.DataFrame, object]:
    log, memberships, features = merged_cell(600)
    base = UpliftModel(prior_strength=5)
    m = FeatureUplift(base=base, n_components=2).fit(log, memberships, features, POLICY)
    path = m.save(tmp_path_factory.mktemp("fu") / "fu.skops")
    return m, memberships, path


def test_save_and_load_give_the_same_uplifts(saved, tmp_path) -> None:
    m, memberships, path = saved
    again = FeatureUplift.load(path)
    stranger = pd.DataFrame({0: [1.0]}, index=["nobody"])
    for x in (memberships, stranger):
        np.testing.assert_array_equal(again.rates(x), m.rates(x))
        np.testing.assert_array_equal(again.feature_rates(x), m.feature_rates(x))
    np.testing.assert_array_equal(
        again.sample(memberships, np.random.default_rng(1)),
        m.sample(memberships, np.random.default_rng(1)),
    )
    assert (again.C_, again.blend_) == (m.C_, m.blend_) and again.blend_ > 0
    assert again.get_params()["base"].get_params() == m.base.get_params()
    assert again.get_params(deep=False)["C"] == "auto"
    assert len(again.cv_) == len(m.cv_)
    X = features_of(memberships)
    np.testing.assert_allclose(
        again.pca_.transform(again.scaler_.transform(X)), m.pca_.transform(m.scaler_.transform(X))
    )
    # the cells go on learning from the loaded counts
    upd = (memberships.iloc[:5], np.zeros(5, int), np.zeros(5, bool), np.ones(5, bool))
    np.testing.assert_array_equal(
        again.update(*upd).base_.counts_, FeatureUplift.load(path).update(*upd).base_.counts_
    )
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["kind"] == "journeymine.FeatureUplift" and card["chosen"]["C"] == m.C_
    assert card["cells"]["file"] == "fu-cells.skops"


def features_of(memberships: pd.DataFrame) -> np.ndarray:
    _, _, features = merged_cell(600)
    return features.reindex(memberships.index).to_numpy()


def copy_model(path, tmp_path):
    """The four files of a saved FeatureUplift copied to ``tmp_path``."""
    import shutil

    for f in path.parent.iterdir():
        shutil.copy(f, tmp_path / f.name)
    return tmp_path / path.name


def test_load_refuses_an_edited_card_or_skops_file(saved, tmp_path) -> None:
    _, _, original = saved
    path = copy_model(original, tmp_path)
    card_path = path.with_suffix(".json")
    card = json.loads(card_path.read_text())
    for edit in ({"chosen": {**card["chosen"], "blend": 0.0}}, {"journeys": ["b", "a"]}):
        card_path.write_text(json.dumps({**card, **edit}))
        with pytest.raises(ModelError, match="changed after saving"):
            FeatureUplift.load(path)
    card_path.write_text(json.dumps({**card, "kind": "journeymine.UpliftModel"}))
    with pytest.raises(ModelError, match="not a FeatureUplift card"):
        FeatureUplift.load(path)
    card_path.write_text(json.dumps(card))
    # a FeatureUplift given where an UpliftModel is read: the error names its loader and the
    # command-line options that take it
    with pytest.raises(ModelError, match=r"FeatureUplift\.load .*--feature-uplift"):
        UpliftModel.load(path)
    data = path.read_bytes()
    path.write_bytes(data[:-10])
    with pytest.raises(ModelError, match="checksum mismatch"):
        FeatureUplift.load(path)
    path.write_bytes(data)
    # another model's cells in place of this one's, each pair valid on its own
    log, memberships, _ = merged_cell(300, seed=5)
    UpliftModel().fit(log, memberships, POLICY).save(tmp_path / "fu-cells.skops")
    with pytest.raises(ModelError, match="not the one saved with this FeatureUplift"):
        FeatureUplift.load(path)
    path.with_suffix(".json").unlink()
    with pytest.raises(ModelError, match=r"FeatureUplift\.save"):
        FeatureUplift.load(path)
    with pytest.raises(NotFittedError):
        FeatureUplift().save(tmp_path / "x.skops")
    with pytest.raises(ConfigError, match=r"\.json"):
        saved[0].save(tmp_path / "x.json")


def test_load_refuses_types_outside_the_trusted_list(saved, tmp_path) -> None:
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    from journeymine.io import cards

    _, _, original = saved
    path = copy_model(original, tmp_path)
    with pytest.raises(ConfigError, match="may only narrow"):
        FeatureUplift.load(path, trusted=["sklearn.linear_model._logistic.LogisticRegression"])
    with pytest.raises(ConfigError, match="list of type names"):
        FeatureUplift.load(path, trusted="numpy.ndarray")
    with pytest.raises(ModelError, match="outside the allowlist"):
        FeatureUplift.load(path, trusted=["builtins.dict", "builtins.list", "builtins.str"])
    # a crafted file whose card an attacker recomputed: the checksums pass, the types do not
    data = sio.dumps({"coef": LogisticRegression()})
    card = json.loads(path.with_suffix(".json").read_text())
    card["artifact"] = {**card["artifact"], "sha256": cards.sha256(data)}
    fields = tuple(card["integrity"]["covers"][:-1])
    card["integrity"] = cards.integrity(card, data, kind=card["kind"], fields=fields)
    path.write_bytes(data)
    path.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(ModelError, match="outside the allowlist"):
        FeatureUplift.load(path)


def test_customer_rates_is_rates_of_one_row(saved) -> None:
    """The service's path: one customer's memberships as a numpy row and their id give the
    rates() of a one-row table, for known customers, a stranger (zero components), personas in
    another order and weight left unplaced; after fit, after load and after update."""
    _, _, path = saved
    log, _, features = merged_cell(600)
    rng = np.random.default_rng(3)
    soft = pd.DataFrame(rng.dirichlet([1, 1, 1], 600)[:, :2], index=features.index, columns=[2, 0])
    fu = FeatureUplift(n_components=2, C=0.3, blend=0.7).fit(log, soft, features, POLICY)
    assert fu.persona_ids_ == [0, 2] and all(clf is not None for clf in fu.models_)
    loaded = FeatureUplift.load(fu.save(path.parent / "two.skops"))
    stranger = pd.DataFrame({2: [0.3], 0: [0.5]}, index=["nobody"])
    for model in (fu, loaded):
        for x in (soft.iloc[:50], stranger):
            want = model.rates(x)
            for i, cid in enumerate(x.index):
                row = x.iloc[i].to_numpy()
                np.testing.assert_allclose(model.customer_rates(row, cid, [2, 0]), want[i],
                                           rtol=1e-12, atol=1e-15)  # fmt: skip
                np.testing.assert_allclose(model.customer_rates(row[::-1], cid), want[i],
                                           rtol=1e-12, atol=1e-15)  # fmt: skip
    # the components matter: the same memberships, another customer, other rates
    row = soft.iloc[0].to_numpy()
    assert not np.allclose(fu.customer_rates(row, soft.index[0], [2, 0]),
                           fu.customer_rates(row, "nobody", [2, 0]))  # fmt: skip
    # update() moves the cells, and the one-row rates follow
    fu.update(soft.iloc[:40], np.zeros(40, int), np.zeros(40, bool), np.ones(40, bool))
    np.testing.assert_allclose(fu.customer_rates(row, soft.index[0], [2, 0]),
                               fu.rates(soft.iloc[:1])[0], rtol=1e-12)  # fmt: skip
    for bad in ([0.5], [0.9, 0.9], [np.nan, 0.1], [-0.1, 0.5]):
        with pytest.raises(ConfigError, match="memberships must be 2 probabilities"):
            fu.customer_rates(bad, "c1")
    with pytest.raises(ConfigError, match="distinct persona ids >= 0"):
        fu.customer_rates([0.5, 0.5], "c1", [0, 0])
