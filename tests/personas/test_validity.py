"""persona_validity on the generator: true personas predict the response to a journey better
than recency/frequency/value, random labels do not, every refusal names its problem, soft
memberships, stability of a miner, and a log whose activity names journeymine has never seen."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import journeymine as jm
from journeymine.datasets import SyntheticJourneys, make_journeys
from journeymine.exceptions import ConfigError
from journeymine.personas import PersonaMiner, PersonaValidity, persona_validity
from journeymine.personas.validity import FEATURE_SETS

CUTOFF = "2025-04-01"  # day 90 of 180


@pytest.fixture(scope="module")
def data() -> SyntheticJourneys:
    return make_journeys(n_customers=3000, random_state=3)


@pytest.fixture(scope="module")
def truth(data: SyntheticJourneys) -> pd.Series:
    """True persona at the cutoff of every customer with an event before it."""
    return data.persona_at(CUTOFF)


@pytest.fixture(scope="module")
def journey(data: SyntheticJourneys) -> str:
    """The journey whose true response probability differs most between personas."""
    spread = data.response.max() - data.response.min()
    return str(spread.idxmax())


# what the generator counts as a response (an email opened without a click is not one)
RESPONSES = ["email_click", "sms_click", "push_open"]


@pytest.fixture(scope="module")
def true_result(data: SyntheticJourneys, truth: pd.Series, journey: str) -> PersonaValidity:
    return persona_validity(
        data.events,
        truth,
        outcome=f"response:{journey}",
        response_activities=RESPONSES,
        cutoff=CUTOFF,
    )


def _auc(v: PersonaValidity) -> pd.Series:
    return v.auc.set_index("feature_set")["auc"]


def test_true_personas_predict_response_better_than_rfv(
    data: SyntheticJourneys, true_result: PersonaValidity, journey: str
) -> None:
    v = true_result
    auc = _auc(v)
    # measured (seed 3, flash_sale): personas 0.81, rfv 0.62, together 0.81, +0.20 [+0.17, +0.23]
    assert auc["personas"] > auc["rfv"]
    assert auc["personas"] > 0.6
    assert v.added_auc_ci[0] > 0
    assert v.added_auc == pytest.approx(auc["personas+rfv"] - auc["rfv"])
    assert list(v.auc.columns) == ["feature_set", "auc", "ci_low", "ci_high"]
    assert (v.auc["ci_low"] <= v.auc["auc"]).all() and (v.auc["auc"] <= v.auc["ci_high"]).all()
    # the per-persona rates follow the generator's true response probabilities
    table = v.by_persona.set_index("persona")
    true_p = data.response[journey].reindex(table.index)
    # (a customer counts once however many touches it got, so rates are not the probabilities)
    assert table["outcome_rate"].corr(true_p, method="spearman") > 0.8
    assert table["lift"].idxmax() == true_p.idxmax()
    assert int(table["size"].sum()) == v.n_customers
    assert int(table["n_positive"].sum()) == v.n_positive
    assert v.stability_ari is None
    text = v.summary()
    assert f"to journey '{journey}'" in text
    assert "Personas predict it with AUC" in text
    assert "add to recency/frequency/value" in text
    assert "pass miner=" in text
    doc = json.loads(json.dumps(v.to_dict()))
    assert doc["n_customers"] == v.n_customers and len(doc["auc"]) == 3


def test_random_labels_predict_nothing(
    data: SyntheticJourneys, truth: pd.Series, journey: str
) -> None:
    # Over 40 random labelings (seeds 100-139) the personas' interval covered 0.5 in 32 and
    # the added AUC's covered 0 in all 40 (the intervals resample the held-out predictions
    # without refitting, so they are narrower than the fits' own variation): five labelings,
    # most (not all) must cover 0.5.
    aucs, covers = [], 0
    for seed in range(5):
        rng = np.random.default_rng(seed)
        fake = pd.Series(rng.integers(-1, 5, size=len(truth)), index=truth.index)
        v = persona_validity(
            data.events, fake, outcome=f"response:{journey}", cutoff=CUTOFF, n_bootstrap=100
        )
        row = v.auc.set_index("feature_set").loc["personas"]
        aucs.append(row["auc"])
        covers += int(row["ci_low"] <= 0.5 <= row["ci_high"])
        assert v.added_auc_ci[0] <= 0 <= v.added_auc_ci[1]
        assert abs(v.added_auc) < 0.01
        assert "add nothing" in v.summary()
    assert covers >= 3  # measured: 4 of these 5
    assert abs(np.mean(aucs) - 0.5) < 0.02


def test_same_result_from_string_callable_and_series_outcomes(
    data: SyntheticJourneys, truth: pd.Series
) -> None:
    kw = {"cutoff": CUTOFF, "n_bootstrap": 20}
    by_name = persona_validity(data.events, truth, outcome="churn", **kw)

    def churn(after: pd.DataFrame, customers: pd.Index) -> pd.Series:
        return pd.Series(~customers.isin(after["customer_id"]), index=customers)

    by_call = persona_validity(data.events, truth, outcome=churn, **kw)
    before = data.events[data.events["timestamp"] < CUTOFF]
    customers = pd.Index(before["customer_id"].unique())
    later = data.events.loc[data.events["timestamp"] >= CUTOFF, "customer_id"]
    given = pd.Series(~customers.isin(later), index=customers)
    by_series = persona_validity(data.events, truth, outcome=given, **kw)
    for other in (by_call, by_series):
        pd.testing.assert_frame_equal(other.auc, by_name.auc)
        assert other.n_positive == by_name.n_positive
    assert by_name.n_customers == len(customers)
    assert by_name.outcome.startswith("churn")


def test_soft_memberships(data: SyntheticJourneys, truth: pd.Series, journey: str) -> None:
    rng = np.random.default_rng(1)
    onehot = pd.get_dummies(truth, dtype=float)
    noisy = 0.7 * onehot + 0.3 * rng.dirichlet(np.ones(onehot.shape[1]), size=len(onehot))
    v = persona_validity(
        data.events, noisy, outcome=f"response:{journey}", cutoff=CUTOFF, n_bootstrap=50
    )
    assert v.params["labels"] == "soft"
    assert _auc(v)["personas"] > _auc(v)["rfv"]
    assert v.by_persona["persona"].tolist() == list(onehot.columns)
    assert v.by_persona["size"].sum() == pytest.approx(v.n_customers)


def test_stability_with_a_miner(data: SyntheticJourneys) -> None:
    # a third of the customers: what is checked here does not depend on the size
    events = data.events[data.events["customer_id"] < "C0001000"]
    before = events[events["timestamp"] < CUTOFF]
    miner = PersonaMiner(n_bootstrap=0, random_state=0).fit(before)
    v = jm.persona_validity(
        events, miner.labels_, outcome="purchase", cutoff=CUTOFF, n_bootstrap=50, miner=miner
    )
    assert v.stability_ari is not None and 0.0 <= v.stability_ari <= 1.0
    assert len(v.stability_runs) == 3
    assert "Stability under resampling: mean ARI" in v.summary()
    assert -1 in v.by_persona["persona"].tolist()  # no persona: its own category
    top = v.by_persona.loc[v.by_persona["lift"].idxmax(), "persona"]
    assert f"Highest rate: persona {top} (" in v.summary()  # 3, not 3.0


def test_unfamiliar_activity_names(data: SyntheticJourneys, truth: pd.Series) -> None:
    rename = {
        "purchase": "ORDER_PLACED",
        "view_product": "PDP_VIEW",
        "add_to_cart": "BASKET_ADD",
        "visit": "SESSION_START",
        "checkout": "PAY_START",
        "return_product": "RMA_OPENED",
    }
    log = data.events.copy()
    log["activity"] = log["activity"].cat.rename_categories(lambda a: rename.get(a, a.upper()))
    v = persona_validity(log, truth, outcome="activity:ORDER_PLACED", cutoff=CUTOFF, n_bootstrap=20)
    same = persona_validity(data.events, truth, outcome="purchase", cutoff=CUTOFF, n_bootstrap=20)
    pd.testing.assert_frame_equal(v.auc, same.auc)
    assert "'ORDER_PLACED'" in v.outcome
    listed = persona_validity(
        log,
        truth,
        outcome="purchase",
        outcome_activities=["ORDER_PLACED"],
        cutoff=CUTOFF,
        n_bootstrap=20,
    )
    pd.testing.assert_frame_equal(listed.auc, same.auc)
    # no activity named 'purchase': refused with the log's own names
    with pytest.raises(ConfigError, match=r"no activity named 'purchase'.*ORDER_PLACED"):
        persona_validity(log, truth, outcome="purchase", cutoff=CUTOFF)
    # a journey response with other touch names
    touches = ["EMAIL_SENT", "PUSH_SENT", "SMS_SENT"]
    r = persona_validity(
        log,
        truth,
        outcome="response:flash_sale",
        touch_activities=touches,
        cutoff=CUTOFF,
        n_bootstrap=20,
    )
    assert r.n_customers > 1000


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cutoff": "2024-06-01"}, r"cutoff 2024-06-01 .* is outside the log, which spans"),
        ({"cutoff": "2026-01-01"}, r"outside the log.*Pick a time inside the log"),
        ({"cutoff": "not a time"}, r"cutoff='not a time' is not a time"),
        ({"outcome": "purchases"}, r"outcome='purchases' is not allowed.*'purchase'"),
        ({"outcome": 3}, r"outcome=3 is not allowed"),
        ({"outcome": "activity:ORDER"}, r"not in the log: \['ORDER'\]"),
        ({"outcome": "response:flash"}, r"journey 'flash' is not in the log.*'flash_sale'"),
        ({"outcome": "response:flash_sale", "touch_activities": ["visit"]}, r"no touch of"),
        ({"outcome": "activity:return_product", "horizon": "1D"}, r"at least 10 of each"),
        ({"horizon": "-3D"}, r"horizon must be a positive duration"),
        ({"cv": 1}, r"cv must be an integer >= 2"),
        ({"n_bootstrap": -1}, r"n_bootstrap must be an integer >= 0"),
        ({"miner": "m"}, r"miner must be the fitted PersonaMiner"),
        ({"outcome": "churn", "outcome_activities": ["purchase"]}, r"only used with outcome="),
        ({"touch_activities": ["email_sent"]}, r"touch_activities is only used with outcome="),
        ({"response_activities": ["email_click"]}, r"response_activities is only used with"),
        (
            {"outcome": "response:flash_sale", "response_activities": ["clicked"]},
            r"response_activities names activities not in the log: \['clicked'\]",
        ),
    ],
)
def test_refusals_name_the_problem(
    data: SyntheticJourneys, truth: pd.Series, kwargs: dict, match: str
) -> None:
    call = {"outcome": "purchase", "cutoff": CUTOFF, "n_bootstrap": 0, **kwargs}
    with pytest.raises(ConfigError, match=match):
        persona_validity(data.events, truth, **call)


def test_refuses_labels_that_do_not_cover_the_customers(
    data: SyntheticJourneys, truth: pd.Series
) -> None:
    before = data.events[data.events["timestamp"] < CUTOFF]
    customers = pd.Index(before["customer_id"].unique())
    partial = truth.drop(customers[:7])
    match = rf"labels do not cover the customers: 7 of {len(customers):,} customers"
    with pytest.raises(ConfigError, match=match):
        persona_validity(data.events, partial, outcome="purchase", cutoff=CUTOFF)
    with pytest.raises(ConfigError, match="labels must be a Series of personas"):
        persona_validity(data.events, truth.to_numpy(), outcome="purchase", cutoff=CUTOFF)
    few = pd.Series(False, index=truth.index)
    few.iloc[:5] = True
    with pytest.raises(ConfigError, match=r"has 5 positive .*too few positive"):
        persona_validity(data.events, truth, outcome=few, cutoff=CUTOFF)
    no_journeys = data.events.drop(columns="journey_id")
    with pytest.raises(ConfigError, match="needs a 'journey_id' column"):
        persona_validity(no_journeys, truth, outcome="response:flash_sale", cutoff=CUTOFF)


def test_personas_compared_with_the_users_attributes(
    data: SyntheticJourneys, truth: pd.Series, journey: str
) -> None:
    """``attributes=`` (e.g. demographics): noise attributes predict nothing and the true
    personas add to them; attributes that *are* the personas leave the personas nothing to
    add; only the customers with attributes are scored, by every feature set (said)."""
    rng = np.random.default_rng(0)
    call = {"outcome": f"response:{journey}", "response_activities": RESPONSES, "cutoff": CUTOFF}
    noise = pd.DataFrame(
        {
            "age": rng.integers(18, 80, len(truth)),
            "region": rng.choice(["N", "S", None], len(truth)),
        },
        index=truth.index,
    ).iloc[: len(truth) * 2 // 3]  # a third of the customers have no attributes
    v = persona_validity(data.events, truth, attributes=noise, n_bootstrap=100, **call)
    auc = _auc(v)
    assert list(auc.index) == [*FEATURE_SETS, "attributes", "personas+attributes"]
    assert abs(auc["attributes"] - 0.5) < 0.05 and auc["personas"] > auc["attributes"] + 0.1
    assert v.added_to_attributes is not None and v.added_to_attributes_ci is not None
    assert v.added_to_attributes_ci[0] > 0
    assert v.added_to_attributes == pytest.approx(auc["personas+attributes"] - auc["attributes"])
    touched = persona_validity(data.events, truth, n_bootstrap=0, **call).n_customers
    assert v.n_customers < touched and any("that have attributes" in n for n in v.notes)
    assert v.params["attributes"] == ["age", "region"]
    text = v.summary()
    assert "Your attributes (age, region) alone" in text and "better than them" in text
    doc = json.loads(json.dumps(v.to_dict()))
    assert doc["added_to_attributes"] == pytest.approx(v.added_to_attributes)
    # the personas themselves as an attribute (with a customer_id column): nothing to add
    same = truth.astype(str).rename("segment").rename_axis("customer_id").reset_index()
    w = persona_validity(data.events, truth, attributes=same, n_bootstrap=100, **call)
    assert w.added_to_attributes_ci is not None and w.added_to_attributes_ci[0] <= 0
    assert abs(_auc(w)["attributes"] - _auc(w)["personas"]) < 0.01
    assert "add nothing measurable to them" in w.summary()


def test_refuses_attributes_it_cannot_use(data: SyntheticJourneys, truth: pd.Series) -> None:
    call = {"outcome": "purchase", "cutoff": CUTOFF, "n_bootstrap": 0}
    age = pd.DataFrame({"age": np.arange(len(truth), dtype=float)}, index=truth.index)
    gaps = age.copy()
    gaps.iloc[:4, 0] = np.nan
    with pytest.raises(ConfigError, match=r"'age' is numeric with 4 missing .*fillna"):
        persona_validity(data.events, truth, attributes=gaps, **call)
    with pytest.raises(ConfigError, match="repeated customer_id"):
        persona_validity(data.events, truth, attributes=pd.concat([age, age.iloc[:2]]), **call)
    with pytest.raises(ConfigError, match="share no customer_id"):
        persona_validity(data.events, truth, attributes=age.set_axis(age.index + "x"), **call)
    with pytest.raises(ConfigError, match="attributes must be a DataFrame"):
        persona_validity(data.events, truth, attributes=age["age"], **call)
