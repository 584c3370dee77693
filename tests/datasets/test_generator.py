"""The synthetic generator: deterministic, and its ground truth agrees with its events."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import journeymine as jm
from journeymine.datasets import ACTIVITIES, CHANNELS, JOURNEYS, PERSONAS, Incident, make_journeys
from journeymine.exceptions import ConfigError


@pytest.fixture(scope="module")
def data():
    return make_journeys(n_customers=3000, days=120, random_state=3)


def test_same_seed_same_data_other_seed_other_data():
    a = make_journeys(n_customers=300, days=60, random_state=11)
    b = make_journeys(n_customers=300, days=60, random_state=11)
    c = make_journeys(n_customers=300, days=60, random_state=12)
    pd.testing.assert_frame_equal(a.events, b.events)
    pd.testing.assert_frame_equal(a.customers, b.customers)
    pd.testing.assert_frame_equal(a.touches, b.touches)
    assert not a.events.equals(c.events)


def test_events_are_a_valid_canonical_log(data):
    log = jm.validate(data.events, require_channel=True, duplicates="raise")
    pd.testing.assert_frame_equal(log, data.events)  # already canonical and sorted
    assert set(log["activity"].cat.categories) <= set(ACTIVITIES)
    assert set(log["channel"].unique()) == set(CHANNELS)
    start = pd.Timestamp(data.params["start"])
    assert log["timestamp"].min() >= start
    assert log["timestamp"].max() < start + pd.Timedelta(days=data.params["days"])


def test_six_personas_with_distinct_behaviour(data):
    assert set(data.customers["persona"]) == set(PERSONAS)
    truth = data.customers.set_index("customer_id")["persona"]
    ev = data.events.assign(persona=data.events["customer_id"].map(truth))
    organic = ev[ev["journey_id"].isna()]
    mix = pd.crosstab(organic["persona"], organic["channel"], normalize="index")
    assert mix.loc["store_first_omnichannel", "store"] > 0.3
    assert mix.loc["loyal_app_buyer", "app"] > 0.6
    assert mix.loc["support_heavy", "call_centre"] > 0.2
    assert mix.loc["researcher", "web"] > 0.6
    acts = pd.crosstab(organic["persona"], organic["activity"], normalize="index")
    assert acts["view_promotions"].idxmax() == "bargain_hunter"
    assert acts["read_reviews"].idxmax() == "researcher"
    assert acts["contact_support"].idxmax() == "support_heavy"
    per_customer = (
        ev.groupby("customer_id")
        .size()
        .groupby(ev.groupby("customer_id")["persona"].first())
        .median()
    )
    assert per_customer.idxmin() == "lapsing_customer"


def test_persona_periods_agree_with_customers(data):
    p, c = data.personas, data.customers.set_index("customer_id")
    assert (p["valid_from"] < p["valid_to"]).all()
    counts = p.groupby("customer_id").size()
    changed = c.index[c["changed"]]
    assert set(counts[counts == 2].index) <= set(changed)
    assert (counts <= 2).all()
    assert c["changed"].mean() == pytest.approx(0.1, abs=0.03)
    mid = pd.Timestamp(data.params["start"]) + pd.Timedelta(days=60)
    after = data.persona_at(mid + pd.Timedelta(days=1))
    before = data.persona_at(mid - pd.Timedelta(days=1))
    both = after.index.intersection(before.index)  # customers who signed up in between: no
    moved = (after[both] != before[both]).loc[lambda s: s].index
    assert set(moved) <= set(changed)
    assert len(moved) > 0.8 * len(changed)


def test_touches_are_events_and_control_group_gets_none(data):
    ev = data.events
    sent = ev[ev["activity"].astype(str).str.endswith("_sent")]
    assert len(sent) == len(data.touches)
    key = ["customer_id", "timestamp", "journey_id"]
    merged = sent[key].merge(data.touches[key], how="outer", indicator=True)
    assert (merged["_merge"] == "both").all()
    control = set(data.customers.loc[data.customers["control"], "customer_id"])
    assert not set(ev.loc[ev["journey_id"].notna(), "customer_id"]) & control
    assert set(data.touches["journey_id"]) == set(JOURNEYS)


def test_responses_follow_the_response_matrix(data):
    t = data.touches
    observed = t.groupby(["persona", "journey_id"])["responded"].agg(["mean", "size"])
    big = observed[observed["size"] >= 300]
    assert len(big) >= 10
    truth = data.response.stack().rename("truth")
    joined = big.join(truth)
    se = np.sqrt(joined["truth"] * (1 - joined["truth"]) / joined["size"])
    assert ((joined["mean"] - joined["truth"]).abs() < 4 * se + 1e-9).all()
    # every responded touch has a response event of the same journey after it
    ev = data.events
    resp = ev[ev["activity"].isin(["email_click", "sms_click", "push_open"])]
    assert len(resp) == pytest.approx(int(t["responded"].sum()), rel=0.02)


def test_returns_follow_a_purchase_of_the_same_product(data):
    ev = data.events
    buys = ev[ev["activity"] == "purchase"][["customer_id", "timestamp", "product", "value"]]
    rets = ev[ev["activity"] == "return_product"][["customer_id", "timestamp", "product", "value"]]
    assert len(rets) > 0
    m = rets.merge(buys, on=["customer_id", "product", "value"], suffixes=("_ret", "_buy"))
    ok = m[m["timestamp_buy"] < m["timestamp_ret"]].drop_duplicates(
        ["customer_id", "timestamp_ret"]
    )
    assert len(ok) == len(rets.drop_duplicates(["customer_id", "timestamp"]))


def _rate(ev: pd.DataFrame, channel: str, source: str, target: str, lo, hi) -> float:
    ev = ev[(ev["journey_id"].isna()) & (ev["channel"] == channel)]
    nxt = ev.groupby("customer_id")["activity"].shift(-1)
    sel = (ev["activity"] == source) & ev["timestamp"].between(lo, hi, inclusive="left")
    return float((nxt[sel] == target).mean())


def test_incidents_change_behaviour_only_inside_their_window(data):
    inc = data.incidents.set_index("name")
    assert set(inc.index) == {"app_checkout_failure", "web_search_outage"}
    a = inc.loc["app_checkout_failure"]
    start = pd.Timestamp(data.params["start"])
    inside = _rate(data.events, "app", "checkout", "purchase", a["start"], a["end"])
    before = _rate(data.events, "app", "checkout", "purchase", start, a["start"])
    web = _rate(data.events, "web", "checkout", "purchase", a["start"], a["end"])
    assert inside < 0.3 < 0.7 < before
    assert web > 0.7  # other channels unaffected


def test_no_incidents_and_custom_incidents():
    quiet = make_journeys(n_customers=200, days=60, incidents=None, random_state=0)
    assert quiet.incidents.empty
    inc = Incident("store_pos_down", "store", 10, 15, "view_product", "purchase", 0.1)
    data = make_journeys(n_customers=200, days=60, incidents=[inc], random_state=0)
    assert data.incidents["name"].tolist() == ["store_pos_down"]
    assert data.incidents["end"].iloc[0] - data.incidents["start"].iloc[0] == pd.Timedelta(days=5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_customers": 0}, "n_customers"),
        ({"days": 3}, "days"),
        ({"control_share": 1.5}, "control_share"),
        ({"persona_change_day": 500}, "persona_change_day"),
        ({"incidents": [Incident("x", "tv", 1, 2, "search", "purchase", 0.1)]}, "channel"),
        ({"incidents": [Incident("x", "web", 1, 2, "serch", "purchase", 0.1)]}, "unknown state"),
    ],
)
def test_bad_arguments_are_rejected(kwargs, match):
    args = {"n_customers": 10, "days": 30} | kwargs
    with pytest.raises(ConfigError, match=match):
        make_journeys(**args)


def test_save_and_load_round_trip(tmp_path):
    data = make_journeys(n_customers=100, days=30, random_state=5)
    jm.datasets.save_journeys(data, tmp_path, csv_rows=20)
    back = jm.datasets.load_sample(tmp_path)
    pd.testing.assert_frame_equal(back.events, data.events)
    pd.testing.assert_frame_equal(back.personas, data.personas)
    pd.testing.assert_frame_equal(back.response, data.response, check_names=False)
    assert (tmp_path / "events_small.csv").exists()


def test_load_sample_missing_folder_says_how_to_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="jm generate"):
        jm.datasets.load_sample(tmp_path / "nowhere")


@pytest.mark.parametrize("share", [0.0, 1.0])
def test_persona_change_share_extremes(share):
    data = make_journeys(n_customers=200, days=60, persona_change_share=share, random_state=4)
    assert data.customers["changed"].mean() == share
    assert str(data.customers["changed_at"].dtype) == "datetime64[us, UTC]"
    assert data.customers["changed_at"].notna().mean() == share
    n_segments = data.personas.groupby("customer_id").size()
    assert (n_segments == 1).all() if share == 0 else (n_segments <= 2).all()
