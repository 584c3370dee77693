"""Next best action: policy checks, every gate of the engine on a hand-built log, response rates
against the generator's truth, and the backtest against an independent count."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from journeymine.actions import Policy, ResponseModel, backtest, next_best_action
from journeymine.datasets import SyntheticJourneys, make_journeys, sample_policy_path
from journeymine.exceptions import ConfigError

EXAMPLE = sample_policy_path()
JOURNEYS = ["cart_abandonment", "post_purchase_tips", "flash_sale", "win_back", "welcome"]

POLICY = {
    "journeys": [
        {
            "name": "cart",
            "channel": "email",
            "activity": "email_sent",
            "eligible": [
                {"rule": "seen", "activity": "add_to_cart", "within": "24h"},
                {"rule": "not_seen", "activity": "purchase", "within": "24h"},
            ],
        },
        {
            "name": "tips",
            "channel": "email",
            "activity": "email_sent",
            "product_from": "purchase",
            "eligible": [{"rule": "seen", "activity": "purchase", "within": "14D"}],
            "suppress": [{"activity": "return_product", "within": "30D", "same_product": True}],
            "min_gap": "5D",
        },
    ],
    "caps": [{"channel": "email", "max": 2, "per": "7D"}],
}


def fixed_rates(policy: Policy, rates: dict[int, list[float]]) -> ResponseModel:
    """A ResponseModel with given rates (persona -> one rate per journey), for engine tests."""
    m = ResponseModel()
    rows = [
        (p, j.name, 100, int(r * 100), r)
        for p, rs in rates.items()
        for j, r in zip(policy.journeys, rs, strict=True)
    ]
    m.table_ = pd.DataFrame(rows, columns=["persona", "journey", "touches", "responses", "rate"])
    m.journeys_ = [j.name for j in policy.journeys]
    return m


def hand_log() -> pd.DataFrame:
    now = pd.Timestamp("2025-03-20 12:00", tz="UTC")
    rows = [
        # A: cart 2h ago, nothing bought -> cart
        ("A", now - pd.Timedelta("2h"), "add_to_cart", "web", None, "shoes"),
        # B: bought shoes 3 days ago, returned them yesterday -> tips suppressed
        ("B", now - pd.Timedelta("3D"), "purchase", "web", None, "shoes"),
        ("B", now - pd.Timedelta("1D"), "return_product", "store", None, "shoes"),
        # C: bought home, returned shoes (another product): tips allowed
        ("C", now - pd.Timedelta("3D"), "purchase", "web", None, "home"),
        ("C", now - pd.Timedelta("2D"), "return_product", "store", None, "shoes"),
        # D: cart 1h ago but two emails this week -> capped
        ("D", now - pd.Timedelta("1h"), "add_to_cart", "web", None, "kids"),
        ("D", now - pd.Timedelta("2D"), "email_sent", "email", "cart", None),
        ("D", now - pd.Timedelta("4D"), "email_sent", "email", "cart", None),
        # E: bought 6 days ago, tips sent 1 day ago -> min_gap
        ("E", now - pd.Timedelta("6D"), "purchase", "app", None, "beauty"),
        ("E", now - pd.Timedelta("1D"), "email_sent", "email", "tips", "beauty"),
        # F: cart 3h ago AND bought something 5 days ago: both eligible, persona decides
        ("F", now - pd.Timedelta("5D"), "purchase", "web", None, "kids"),
        ("F", now - pd.Timedelta("3h"), "add_to_cart", "web", None, "shoes"),
        # G: only old activity
        ("G", now - pd.Timedelta("40D"), "visit", "web", None, None),
    ]
    log = pd.DataFrame(
        rows, columns=["customer_id", "timestamp", "activity", "channel", "journey_id", "product"]
    )
    return log.astype(
        {
            "customer_id": "str",
            "activity": "category",
            "channel": "category",
            "journey_id": "str",
            "product": "category",
        }
    )


def test_every_gate_with_its_reason() -> None:
    policy = Policy.from_dict(POLICY)
    log = hand_log()
    personas = pd.Series({"A": 0, "B": 0, "C": 0, "D": 0, "E": 0, "F": 1, "G": 0})
    model = fixed_rates(policy, {0: [0.30, 0.10], 1: [0.05, 0.25], -1: [0.2, 0.2]})
    d = next_best_action(log, policy, model, personas, at="2025-03-20 12:00")
    act = d.actions.set_index("customer_id")
    why = d.why_not.set_index(["customer_id", "journey"])
    assert act.loc["A", "action"] == "cart"
    assert why.loc[("A", "tips"), "reason"] == "not_eligible"
    assert "purchase in the last 14d" in why.loc[("A", "tips"), "detail"]
    assert pd.isna(act.loc["B", "action"])
    assert why.loc[("B", "tips"), "reason"] == "suppressed"
    assert "return_product of the product it is about" in why.loc[("B", "tips"), "detail"]
    assert act.loc["C", "action"] == "tips" and act.loc["C", "product"] == "home"
    assert pd.isna(act.loc["D", "action"])
    assert why.loc[("D", "cart"), "reason"] == "capped"
    assert "email cap reached: 2" in why.loc[("D", "cart"), "detail"]
    assert why.loc[("E", "tips"), "reason"] == "min_gap"
    assert why.loc[("E", "tips"), "detail"] == "sent 1d ago (min gap 5d)"
    # F: persona 1 responds to tips far more than to cart reminders -> tips wins
    assert act.loc["F", "action"] == "tips"
    assert act.loc["F", "expected_response"] == pytest.approx(0.25)
    assert why.loc[("F", "cart"), "reason"] == "outranked"
    assert why.loc[("F", "cart"), "detail"] == "expected response 0.050 < 0.250 of tips"
    # the same customer with persona 0 prefers the cart reminder: arbitration, not priority
    d0 = next_best_action(log, policy, model, personas.replace({1: 0}), at="2025-03-20 12:00")
    assert d0.actions.set_index("customer_id").loc["F", "action"] == "cart"
    assert pd.isna(act.loc["G", "action"])
    # every losing option of every customer has a reason
    assert len(d.why_not) == len(act) * len(policy.journeys) - act["action"].notna().sum()
    # a decision one day earlier does not see yesterday's return: B gets tips then
    early = next_best_action(log, policy, model, personas, at="2025-03-19 11:00")
    assert early.actions.set_index("customer_id").loc["B", "action"] == "tips"


def test_min_expected_response_threshold_and_unknown_persona() -> None:
    policy = Policy.from_dict({**POLICY, "min_expected_response": 0.15})
    model = fixed_rates(policy, {0: [0.10, 0.10], -1: [0.4, 0.4]})
    d = next_best_action(
        hand_log(), policy, model, pd.Series({"A": 0}), at="2025-03-20 12:00", customers=["A"]
    )
    assert d.actions["action"].isna().all()
    assert d.why_not.set_index("journey").loc["cart", "reason"] == "below_threshold"
    # a customer without a persona gets the journeys' overall rates (0.4): cart goes out
    d = next_best_action(
        hand_log(), policy, model, pd.Series(dtype="int64"), at="2025-03-20 12:00", customers=["A"]
    )
    assert d.actions["action"].tolist() == ["cart"] and d.actions["persona"].tolist() == [-1]


def test_decision_time_is_reported_as_given() -> None:
    """Times before the log or years after it are decided as such (no event before / all
    windows empty) and reported as given, floored to the second: never moved to the index's
    edges (1900 used to become one second before the first event, 2100 about 8.5 years after
    the last)."""
    policy = Policy.from_dict(POLICY)
    model = fixed_rates(policy, {0: [0.30, 0.10], -1: [0.2, 0.2]})
    personas = pd.Series({"A": 0})
    for at in ("1900-01-01", "2100-01-01T00:00:00Z", "2025-03-20T12:00:00.9+01:00"):
        d = next_best_action(hand_log(), policy, model, personas, at=at, customers=["A"])
        want = pd.Timestamp(at)
        want = (want.tz_localize("UTC") if want.tzinfo is None else want).floor("s")
        assert d.actions["at"].tolist() == [want.tz_convert("UTC")]
        assert (d.why_not["at"] == want).all()
    # before the log nothing is seen yet; long after it nothing recent: A gets no cart reminder
    early = next_best_action(hand_log(), policy, model, personas, at="1900-01-01", customers=["A"])
    late = next_best_action(hand_log(), policy, model, personas, at="2100-01-01", customers=["A"])
    assert early.actions["action"].isna().all() and late.actions["action"].isna().all()


def test_policy_errors_are_clear(tmp_path: Path) -> None:
    bad_rule = {"journeys": [{**POLICY["journeys"][0], "eligible": [{"rule": "seeen"}]}]}
    with pytest.raises(ConfigError, match=r"unknown rule 'seeen'\. Did you mean 'seen'"):
        Policy.from_dict(bad_rule)
    bad_time = {
        "journeys": [
            {
                **POLICY["journeys"][0],
                "eligible": [{"rule": "seen", "activity": "x", "within": "soon"}],
            }
        ]
    }
    with pytest.raises(ConfigError, match="'soon' is not a duration"):
        Policy.from_dict(bad_time)
    with pytest.raises(ConfigError, match="unknown key 'chanel'"):
        Policy.from_dict({"journeys": [{"name": "x", "chanel": "email", "activity": "a"}]})
    with pytest.raises(ConfigError, match="same_product needs the journey's product_from"):
        j = {**POLICY["journeys"][1]}
        del j["product_from"]
        Policy.from_dict({"journeys": [j]})
    with pytest.raises(ConfigError, match="unique"):
        Policy.from_dict({"journeys": [POLICY["journeys"][0]] * 2})
    with pytest.raises(ConfigError, match="no journey uses it"):
        Policy.from_dict({**POLICY, "caps": [{"channel": "sms", "max": 1, "per": "1D"}]})
    with pytest.raises(ConfigError, match="at least one journey"):
        Policy.from_dict({"journeys": []})
    path = tmp_path / "p.json"
    path.write_text(json.dumps(POLICY))
    assert Policy.from_file(path) == Policy.from_dict(POLICY)
    (tmp_path / "p.txt").write_text("journeys: []")
    with pytest.raises(ConfigError, match=r"\.yaml, \.yml or \.json"):
        Policy.from_file(tmp_path / "p.txt")
    with pytest.raises(ConfigError, match="no policy file"):
        Policy.from_file(tmp_path / "missing.yaml")
    example = Policy.from_file(EXAMPLE)
    assert [j.name for j in example.journeys] == JOURNEYS


def test_engine_refuses_bad_input() -> None:
    policy = Policy.from_dict(POLICY)
    personas = pd.Series({"A": 0})
    with pytest.raises(ConfigError, match="fitted ResponseModel"):
        next_best_action(hand_log(), policy, ResponseModel(), personas)
    other = Policy.from_dict({"journeys": [POLICY["journeys"][0]]})
    with pytest.raises(ConfigError, match="refit it with this policy"):
        next_best_action(hand_log(), policy, fixed_rates(other, {0: [0.1]}), personas)
    model = fixed_rates(policy, {0: [0.1, 0.1]})
    with pytest.raises(ConfigError, match="is not a time"):
        next_best_action(hand_log(), policy, model, personas, at="tomorrow-ish")
    with pytest.raises(ConfigError, match="no touch of the policy's journeys"):
        ResponseModel().fit(hand_log()[lambda d: d["activity"] != "email_sent"], personas, policy)


@pytest.fixture(scope="module")
def synthetic() -> SyntheticJourneys:
    return make_journeys(n_customers=3_000, days=120, random_state=4)


def true_personas(data: SyntheticJourneys) -> tuple[pd.Series, list[str]]:
    names = sorted(data.customers["persona"].unique())
    codes = {n: i for i, n in enumerate(names)}
    return data.customers.set_index("customer_id")["persona"].map(codes).astype("int64"), names


def test_learned_response_rates_match_the_generator(synthetic: SyntheticJourneys) -> None:
    """Clicks (not opens) as responses: the shrunk rates per persona x journey land within 0.06
    of the generator's true response probabilities wherever there are >= 150 touches."""
    policy = Policy.from_file(EXAMPLE)
    personas, names = true_personas(synthetic)
    changed = set(synthetic.customers.loc[synthetic.customers["changed"], "customer_id"])
    keep = ~synthetic.events["customer_id"].isin(changed)  # their persona moved mid-way
    model = ResponseModel().fit(synthetic.events[keep], personas, policy)
    truth = synthetic.response
    got = model.table_[(model.table_["persona"] >= 0) & (model.table_["touches"] >= 150)]
    assert len(got) >= 20
    diffs = [
        abs(r.rate - truth.loc[names[r.persona], r.journey]) for r in got.itertuples(index=False)
    ]
    assert max(diffs) < 0.06, max(diffs)


def test_backtest_flags_tips_after_returns(synthetic: SyntheticJourneys) -> None:
    """The generator keeps sending tips after the product came back. The backtest must block
    exactly those touches as "suppressed", counted here independently with pandas."""
    policy = Policy.from_file(EXAMPLE)
    personas, _ = true_personas(synthetic)
    log = synthetic.events
    model = ResponseModel().fit(log, personas, policy)
    bt = backtest(log, policy, model, personas)
    ev = log.assign(product=log["product"].astype(str))
    tips = ev[(ev["activity"] == "email_sent") & (ev["journey_id"] == "post_purchase_tips")]
    rets = ev[ev["activity"] == "return_product"]
    pairs = tips.reset_index().merge(rets, on=["customer_id", "product"], suffixes=("", "_r"))
    lag = pairs["timestamp"].dt.floor("s") - pairs["timestamp_r"].dt.floor("s")
    hit = pairs[(lag > pd.Timedelta(0)) & (lag <= pd.Timedelta("30D"))]
    expected = hit.drop_duplicates("index")
    pts = bt.points[bt.points["sent"] == "post_purchase_tips"]
    assert len(expected) > 20
    assert int((pts["sent_reason"] == "suppressed").sum()) == len(expected)
    total = bt.summary.loc["*"]
    assert total["touches"] == len(bt.points) == int(bt.summary.drop(index="*")["touches"].sum())
    # what really happened: logged touches the policy agrees with were answered more often
    assert total["response_rate_agree"] > total["response_rate_blocked"]
    assert (bt.points.loc[bt.points["agree"], "sent_reason"].isna()).all()
    assert set(bt.points["sent_reason"].dropna()) <= {
        "not_eligible",
        "suppressed",
        "min_gap",
        "capped",
        "below_threshold",
        "outranked",
    }
    # deterministic
    again = backtest(log, policy, model, personas)
    pd.testing.assert_frame_equal(again.summary, bt.summary)
    assert np.isfinite(total["expected_policy"])


def test_response_rates_save_and_load(synthetic: SyntheticJourneys, tmp_path: Path) -> None:
    policy = Policy.from_file(EXAMPLE)
    personas, _ = true_personas(synthetic)
    model = ResponseModel().fit(synthetic.events, personas, policy)
    path = model.save(tmp_path / "rates.json")
    back = ResponseModel.load(path)
    pd.testing.assert_frame_equal(back.table_, model.table_)
    np.testing.assert_array_equal(back.rates(np.arange(-1, 7)), model.rates(np.arange(-1, 7)))
    (tmp_path / "other.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ConfigError, match="not a journeymine response-rates file"):
        ResponseModel.load(tmp_path / "other.json")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not JSON"):
        ResponseModel.load(tmp_path / "broken.json")
    with pytest.raises(ConfigError, match="no response-rates file"):
        ResponseModel.load(tmp_path / "missing.json")
