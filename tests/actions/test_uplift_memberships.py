"""#13: per-customer uplift from soft persona memberships (UpliftModel and PolicyDecider)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from journeymine.actions import Policy, UpliftModel
from journeymine.actions.uplift import UNPLACED
from journeymine.datasets import PolicyDecider, RandomEligible, make_world, sim_policy, simulate
from journeymine.exceptions import ConfigError

POLICY = Policy.from_dict(
    {
        "journeys": [{"name": "offer", "channel": "email", "activity": "email_sent"}],
        "response_window": "24h",
    }
)


def _log(groups: dict[str, tuple[int, float, float]]) -> pd.DataFrame:
    """Per customer-id prefix: (customers, treated rate, holdout rate); half touched, half
    held out, outcomes exactly at those rates."""
    rows = []
    for prefix, (n, rt, rc) in groups.items():
        half = n // 2
        for i in range(n):
            held = i >= half
            cid = f"{prefix}{i}"
            rows.append((cid, "2025-01-01 09:00", "holdout" if held else "email_sent", "offer"))
            k = i - half if held else i
            if k < round((rc if held else rt) * half):
                rows.append((cid, "2025-01-01 12:00", "purchase", None))
    return pd.DataFrame(rows, columns=["customer_id", "timestamp", "activity", "journey_id"])


LOG = _log({"a": (400, 0.40, 0.10), "b": (400, 0.10, 0.10), "u": (400, 0.30, 0.0)})
IDS = LOG["customer_id"].unique()
HARD = pd.Series([0 if c[0] == "a" else 1 if c[0] == "b" else -1 for c in IDS], index=IDS)


def _onehot(labels: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({p: (labels == p).astype(float) for p in (0, 1)}, index=labels.index)


def test_one_hot_memberships_count_as_the_hard_labels():
    hard = UpliftModel().fit(LOG, HARD, POLICY)
    soft = UpliftModel().fit(LOG, _onehot(HARD), POLICY)
    h = hard.table_.set_index("persona")
    s = soft.table_.set_index("persona")
    for p in (-1, 0, 1):
        assert s.loc[p, "touches"] == h.loc[p, "touches"]
        assert s.loc[p, "uplift"] == pytest.approx(h.loc[p, "uplift"])
    assert s.loc[0, "uplift"] == pytest.approx(0.3, abs=0.02)
    assert s.loc[1, "uplift"] == pytest.approx(0.0, abs=0.02)


def test_customer_uplift_is_the_membership_weighted_mean():
    m = UpliftModel().fit(LOG, _onehot(HARD), POLICY)
    per = m.table_.set_index("persona")["uplift"]
    mix = pd.DataFrame({0: [0.25, 1.0], 1: [0.75, 0.0]}, index=["x", "y"])
    r = m.rates(mix)[:, 0]
    assert r[0] == pytest.approx(0.25 * per[0] + 0.75 * per[1])
    assert r[1] == pytest.approx(per[0])
    # rows are independent of the order of the columns
    assert m.rates(mix[[1, 0]])[:, 0] == pytest.approx(r)


def test_unplaced_customers_learn_their_own_row():
    # customers "u" have no persona: their uplift (0.3) differs from the pooled one (~0.2)
    m = UpliftModel(prior_strength=0).fit(LOG, _onehot(HARD), POLICY)
    t = m.table_.set_index("persona")
    assert t.loc[UNPLACED, "touches"] == 200
    assert t.loc[UNPLACED, "uplift"] == pytest.approx(0.3, abs=0.01)
    assert t.loc[-1, "uplift"] == pytest.approx(0.2, abs=0.01)
    nobody = pd.DataFrame({0: [0.0], 1: [0.0]}, index=["z"])
    assert m.rates(nobody)[0, 0] == pytest.approx(t.loc[UNPLACED, "uplift"])
    # hard labels keep -1 on the pooled row
    hard = UpliftModel(prior_strength=0).fit(LOG, HARD, POLICY)
    assert hard.rates(np.array([-1]))[0, 0] == pytest.approx(t.loc[-1, "uplift"])


def test_soft_updates_and_draws():
    m = UpliftModel().fit(None, _onehot(HARD), POLICY)
    before = m.counts_.copy()
    w = pd.DataFrame({0: [0.5, 0.5], 1: [0.5, 0.5]}, index=["x", "y"])
    m.update(w, [0, 0], [False, False], [True, False])
    diff = m.counts_ - before
    t = m.table_.set_index("persona")
    assert t.loc[-1, "touches"] == 2  # pooled counts every point once
    assert diff[list(m.personas_).index(0), 0, 0] == pytest.approx(1.0)  # 2 x 0.5
    assert diff[list(m.personas_).index(1), 0, 1] == pytest.approx(0.5)
    # a draw per point; certain memberships draw from that persona only
    rng = np.random.default_rng(0)
    sure = pd.DataFrame({0: np.ones(2000), 1: np.zeros(2000)})
    d = m.sample(sure, rng)
    assert d.shape == (2000, 1)
    a_t, b_t, a_c, b_c = (x[list(m.personas_).index(0), 0] for x in m._posteriors())
    assert d.mean() == pytest.approx(a_t / (a_t + b_t) - a_c / (a_c + b_c), abs=0.01)
    with pytest.raises(ConfigError, match="one persona, journey"):
        m.update(w, [0], [False], [True])


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (pd.DataFrame({"x": [1.0]}, index=["a"]), "one column per persona id"),
        (pd.DataFrame({0: [1.5]}, index=["a"]), "probabilities"),
        (pd.DataFrame({0: [0.7], 1: [0.7]}, index=["a"]), "at most 1"),
        (pd.DataFrame({-1: [0.5]}, index=["a"]), "ids >= 0"),
    ],
)
def test_bad_memberships_are_refused(frame, match):
    with pytest.raises(ConfigError, match=match):
        UpliftModel().fit(LOG, frame, POLICY)


def test_policy_decider_reads_memberships():
    """In the loop: one-hot memberships decide exactly as the hard labels; memberships that
    put every customer on persona 0 decide as the label 0 for everyone; no send breaks a gate."""
    world = make_world(600, history_days=45, random_state=17)
    pol, tp = sim_policy(), world.true_personas
    pilot = simulate(
        world, RandomEligible(pol, none_share=0.3, random_state=2), days=7, random_state=171
    )
    k = int(tp.max()) + 1
    onehot = pd.DataFrame(np.eye(k)[tp.to_numpy()], index=tp.index, columns=pd.RangeIndex(k))
    first = pd.DataFrame(0.0, index=tp.index, columns=pd.RangeIndex(k))
    first[0] = 1.0
    model = UpliftModel().fit(pilot.events, tp, pol)
    soft_model = UpliftModel().fit(pilot.events, onehot, pol)

    def dec(m: UpliftModel, p: pd.Series | pd.DataFrame) -> PolicyDecider:
        return PolicyDecider(pol, m, p, holdout=0.0, learn=False)

    s = simulate(
        world,
        dec(soft_model, onehot),
        days=3,
        random_state=3,
        shadows={
            "hard": dec(model, tp),
            "first": dec(soft_model, first),
            "zero": dec(model, pd.Series(0, index=tp.index)),
        },
    )
    d = s.decisions
    assert (d["action"].fillna("-") == d["shadow_hard"].fillna("-")).all()
    assert (d["shadow_first"].fillna("-") == d["shadow_zero"].fillna("-")).all()
    assert (d["action"].fillna("-") != d["shadow_zero"].fillna("-")).mean() > 0.02
    for key in ("unreachable", "unconsented", "over_cap", "tips_after_return"):
        assert s.summary[key] == 0
    with pytest.raises(ConfigError, match="UpliftModel"):
        from journeymine.actions import ResponseModel

        PolicyDecider(pol, ResponseModel().fit(pilot.events, tp, pol), onehot)


def test_score_prefers_the_segmentation_that_predicts_outcomes():
    """Held-out customers: personas that separate responders score above one pooled group,
    and memberships that swap the two personas score below both."""
    half = np.arange(len(IDS)) % 2 == 0
    train = LOG[LOG["customer_id"].isin(IDS[half])]
    test = LOG[LOG["customer_id"].isin(IDS[~half])]
    pooled = pd.Series(-1, index=IDS)
    swapped = HARD.replace({0: 1, 1: 0})
    scores = {
        name: UpliftModel().fit(train, lab, POLICY).score(test, lab)
        for name, lab in (("personas", HARD), ("pooled", pooled))
    }
    m = UpliftModel().fit(train, HARD, POLICY)
    scores["swapped"] = m.score(test, swapped)
    assert scores["personas"] > scores["pooled"] > scores["swapped"]
    soft = _onehot(HARD)
    assert UpliftModel().fit(train, soft, POLICY).score(test, soft) == pytest.approx(
        scores["personas"], abs=0.02
    )
    with pytest.raises(ConfigError, match="no touch or holdout"):
        m.score(LOG[LOG["activity"] == "purchase"], HARD)


def _two_personas_log() -> tuple[pd.DataFrame, pd.Series]:
    """Persona 0 buys after 50% of its 200 touches, persona 1 after 10%; both buy after 10% of
    their holdouts in truth, and the 60 holdouts drawn give 8/60 and 4/60 (within noise)."""
    rows, personas = [], {}
    for p, (n_t, y_t, n_c, y_c) in enumerate(((200, 100, 60, 8), (200, 20, 60, 4))):
        for i in range(n_t + n_c):
            cid = f"p{p}c{i}"
            personas[cid] = p
            held = i >= n_t
            rows.append((cid, "2025-01-01 09:00", "holdout" if held else "email_sent", "offer"))
            if (not held and i < y_t) or (held and i - n_t < y_c):
                rows.append((cid, "2025-01-01 12:00", "purchase", None))
    log = pd.DataFrame(rows, columns=["customer_id", "timestamp", "activity", "journey_id"])
    return log, pd.Series(personas)


def test_empirical_shrinkage_pools_what_does_not_differ() -> None:
    log, personas = _two_personas_log()
    policy = Policy.from_dict(
        {
            "journeys": [{"name": "offer", "channel": "email", "activity": "email_sent"}],
            "response_window": "24h",
        }
    )
    tables = {
        s: UpliftModel(shrinkage=s).fit(log, personas, policy).table_.set_index("persona")
        for s in ("fixed", "empirical")
    }
    fixed, emp = tables["fixed"], tables["empirical"]
    # the holdout rates differ by no more than their noise: pooled
    gap = lambda t, col: abs(t.loc[0, col] - t.loc[1, col])  # noqa: E731
    assert gap(emp, "rate_control") < gap(fixed, "rate_control") / 2
    # the treated rates differ far beyond it: each persona keeps its own
    assert gap(emp, "rate_treated") > 0.35
    assert emp.loc[0, "uplift"] > 0.35 and abs(emp.loc[1, "uplift"]) < 0.05
    with pytest.raises(ConfigError, match="shrinkage must be"):
        UpliftModel(shrinkage="strong").fit(log, personas, policy)
