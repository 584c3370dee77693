"""Change detection over time and comparisons of periods and segments."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from journeymine.datasets import Incident, make_journeys
from journeymine.exceptions import (
    ConfigError,
    DataQualityWarning,
    EmptyLogError,
    MissingColumnError,
    UnknownActivityError,
)
from journeymine.journeys.change import compare_periods, compare_segments, detect_changes

N_CUSTOMERS = 6_000
NO_INCIDENT_SEEDS = (11, 12, 13, 14)
TOLERANCE = pd.Timedelta(days=2)


@functools.cache
def _data(seed: int, incidents: str | None = "default"):
    return make_journeys(n_customers=N_CUSTOMERS, random_state=seed, incidents=incidents)


@functools.cache
def _changes(seed: int, incidents: str | None = "default") -> pd.DataFrame:
    return detect_changes(_data(seed, incidents).events, conversions=[("checkout", "purchase")])


@pytest.fixture(scope="module")
def incident_data():
    return _data(0)


@pytest.fixture(scope="module")
def changes() -> pd.DataFrame:
    return _changes(0)


# --- detect_changes on the generator's incidents ------------------------------------------------
@pytest.mark.parametrize("which", [0, 1])
def test_every_default_incident_is_found(incident_data, changes, which) -> None:
    truth = incident_data.incidents.iloc[which]
    hit = changes[
        (changes["metric"] == "edges")
        & (changes["channel"] == truth["channel"])
        & (changes["source"] == truth["source"])
        & (changes["target"] == truth["target"])
    ]
    assert len(hit) == 1, changes
    row = hit.iloc[0]
    assert row["where"] == truth["channel"]
    assert abs(row["start"] - truth["start"]) <= TOLERANCE
    assert abs(row["end"] - truth["end"]) <= TOLERANCE
    assert row["direction"] == "drop"
    assert row["changed"] < row["baseline"] * 0.3
    assert row["effect"] < -1.0 and row["effect_measure"] == "cohen_h"
    assert row["q_value"] < 1e-10 and not row["ongoing"]
    # every detection of that incident is on the affected channel, at the same time
    same = changes[changes["incident"] == row["incident"]]
    assert set(same["channel"]) == {truth["channel"]}
    assert (abs(same["start"] - truth["start"]) <= TOLERANCE).all()
    assert (abs(same["end"] - truth["end"]) <= TOLERANCE).all()


def test_only_the_incidents_are_reported(incident_data, changes) -> None:
    assert changes["incident"].nunique() == len(incident_data.incidents)
    assert set(changes["channel"]) == set(incident_data.incidents["channel"])
    # the strongest incident comes first; rows are ranked by evidence inside an incident
    assert changes["incident"].is_monotonic_increasing
    for _, grp in changes.groupby("incident"):
        assert grp["deviance"].is_monotonic_decreasing
    # the app failure is also seen in the checkout => purchase conversion and purchase volume
    app = changes[changes["channel"] == "app"]
    assert {"edges", "conversions", "volumes"} <= set(app["metric"])
    vol = app[app["metric"] == "volumes"]
    assert "purchase" in set(vol["what"])
    assert (vol.loc[vol["what"] == "purchase", "effect_measure"] == "log_rate_ratio").all()


@pytest.mark.parametrize("seed", NO_INCIDENT_SEEDS)
def test_no_false_alarms_without_incidents(seed) -> None:
    got = _changes(seed, None)
    assert got.empty, got[["metric", "channel", "what", "start", "end", "q_value"]]
    assert "incident" in got.columns and "q_value" in got.columns


def test_shuffled_log_gives_the_same_detections(incident_data, changes) -> None:
    shuffled = incident_data.events.sample(frac=1.0, random_state=7).reset_index(drop=True)
    before = shuffled.copy()
    got = detect_changes(shuffled, conversions=[("checkout", "purchase")])
    assert shuffled.equals(before)  # input untouched
    pd.testing.assert_frame_equal(got, changes)


def test_an_incident_of_our_own() -> None:
    inc = Incident("web_cart_bug", "web", 40, 47, "add_to_cart", "checkout", 0.15)
    data = make_journeys(n_customers=5_000, days=120, incidents=[inc], random_state=5)
    got = detect_changes(data.events, metrics=["edges"])
    assert got["incident"].nunique() == 1
    row = got.iloc[0]
    assert (row["channel"], row["what"], row["direction"]) == (
        "web",
        "add_to_cart -> checkout",
        "drop",
    )
    start = pd.Timestamp("2025-01-01", tz="UTC") + pd.Timedelta(days=40)
    assert abs(row["start"] - start) <= TOLERANCE
    assert abs(row["end"] - start - pd.Timedelta(days=7)) <= TOLERANCE


def test_segment_splits_the_series(incident_data) -> None:
    persona = incident_data.customers.set_index("customer_id")["persona"]
    got = detect_changes(incident_data.events, segment=persona, metrics=["edges"])
    assert "segment" in got.columns
    app = got[(got["channel"] == "app") & (got["what"] == "checkout -> purchase")]
    # the app buyers make most app checkouts: their series shows the failure
    assert "loyal_app_buyer" in set(app["segment"])
    truth = incident_data.incidents.iloc[0]
    row = app[app["segment"] == "loyal_app_buyer"].iloc[0]
    assert row["where"] == "app / loyal_app_buyer"
    assert abs(row["start"] - truth["start"]) <= TOLERANCE
    assert abs(row["end"] - truth["end"]) <= TOLERANCE


# --- detect_changes on small hand-made series ---------------------------------------------------
def _daily(rates: list[float], *, n: int = 80, channel: str = "app", seed: int = 0) -> pd.DataFrame:
    """Per day ``n`` checkouts; each is followed by a purchase with the day's rate."""
    rng = np.random.default_rng(seed)
    rows = []
    day0 = pd.Timestamp("2025-01-01", tz="UTC")
    for d, p in enumerate(rates):
        for i in range(n):
            t = day0 + pd.Timedelta(days=d, hours=10, seconds=30 * i)
            cust = f"c{d}_{i}"
            rows.append((cust, t, "checkout", channel))
            if rng.random() < p:
                rows.append((cust, t + pd.Timedelta(seconds=20), "purchase", channel))
    return pd.DataFrame(rows, columns=["customer_id", "timestamp", "activity", "channel"])


def test_a_log_without_channels_is_scanned_as_a_whole(caplog: pytest.LogCaptureFixture) -> None:
    """The default ``by``: per channel when the log has channels, else the log as a whole
    (said in the log), so a process log needs no option; an explicit column must exist."""
    inc = Incident("web_cart_bug", "web", 40, 54, "add_to_cart", "checkout", 0.05)
    data = make_journeys(n_customers=3_000, days=120, incidents=[inc], random_state=5)
    log = data.events.drop(columns="channel")
    with caplog.at_level("INFO", logger="journeymine.journeys.change._log"):
        got = detect_changes(log, metrics=["edges"])
    assert "no 'channel' column; analysed as a whole" in caplog.text
    assert "channel" not in got.columns and "add_to_cart -> checkout" in set(got["what"])
    with pytest.raises(MissingColumnError, match=r"Pass by=\(\) to analyse"):
        detect_changes(log, by=["channel"])


def test_one_day_spikes_need_min_duration_one_day() -> None:
    rates = [0.8] * 40
    rates[20] = 0.1
    log = _daily(rates)
    assert detect_changes(log, metrics=["edges"], min_support=50).empty
    got = detect_changes(log, metrics=["edges"], min_support=50, min_duration="1D")
    assert len(got) == 1 and got.iloc[0]["bins"] == 1
    assert got.iloc[0]["start"] == pd.Timestamp("2025-01-21", tz="UTC")


def test_a_spike_does_not_drag_its_neighbour_in() -> None:
    rates = [0.8] * 40
    rates[20] = 0.0  # one extreme day next to a slightly low one
    rates[21] = 0.65
    got = detect_changes(_daily(rates), metrics=["edges"], min_support=50)
    assert got.empty


def test_changes_at_the_edges_need_open_ended() -> None:
    rates = [0.8] * 30 + [0.3] * 10  # still broken when the log ends
    log = _daily(rates)
    assert detect_changes(log, metrics=["edges"], min_support=50).empty
    got = detect_changes(log, metrics=["edges"], min_support=50, open_ended=True)
    assert len(got) == 1
    row = got.iloc[0]
    assert bool(row["ongoing"]) and row["start"] == pd.Timestamp("2025-01-31", tz="UTC")
    assert row["end"] == pd.Timestamp("2025-02-10", tz="UTC")


def test_two_changes_in_one_series() -> None:
    rates = [0.8] * 60
    rates[10:15] = [0.2] * 5
    rates[40:44] = [0.99] * 4
    got = detect_changes(_daily(rates), metrics=["edges"], min_support=50)
    got = got.sort_values("start")
    assert got["direction"].tolist() == ["drop", "rise"]
    assert got["start"].dt.day.tolist() == [11, 10]  # 2025-01-11 and 2025-02-10
    assert got["bins"].tolist() == [5, 4]
    assert got["incident"].nunique() == 2


def test_small_changes_are_not_reported() -> None:
    rates = [0.8] * 40
    rates[15:25] = [0.76] * 10  # real but tiny (Cohen's h about 0.1)
    log = _daily(rates, n=400)
    assert detect_changes(log, metrics=["edges"], min_support=50).empty
    got = detect_changes(log, metrics=["edges"], min_support=50, min_effect=0.05, alpha=0.05)
    assert len(got) <= 1


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"metrics": ["edgse"]}, ConfigError, "Did you mean 'edges'"),
        ({"metrics": ["conversions"]}, ConfigError, "conversions="),
        ({"conversions": [("checkout", "purchse")]}, UnknownActivityError, "'purchase'"),
        ({"freq": "W"}, ConfigError, "fixed"),
        ({"by": ["device"]}, MissingColumnError, "by=()"),
        ({"min_support": 0}, ConfigError, "min_support"),
        ({"alpha": 1.5}, ConfigError, "alpha"),
        ({"min_ratio": 0.5}, ConfigError, "min_ratio"),
        ({"min_duration": "30D"}, ConfigError, "too short"),
        ({"session_gap": "later"}, ConfigError, "duration"),
    ],
)
def test_detect_changes_argument_errors(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        detect_changes(_daily([0.8] * 20, n=10), **kwargs)


def test_empty_log_is_refused() -> None:
    with pytest.raises(EmptyLogError):
        detect_changes(_daily([0.8] * 3, n=1).iloc[:0])


# --- compare_periods / compare_segments ---------------------------------------------------------
def test_compare_periods_sees_the_app_failure(incident_data) -> None:
    truth = incident_data.incidents.iloc[0]
    during = (truth["start"], truth["end"])
    before = (truth["start"] - pd.Timedelta(days=28), truth["start"] - pd.Timedelta(days=14))
    steps = ["view_product", "add_to_cart", "checkout", "purchase"]
    res = compare_periods(incident_data.events, before, during, funnel=steps)
    assert set(res["metric"]) == {"edges", "activities", "funnel", "durations"}
    edge = res[(res["metric"] == "edges") & (res["what"] == "checkout -> purchase")]
    app, web = edge[edge["channel"] == "app"].iloc[0], edge[edge["channel"] == "web"].iloc[0]
    assert app["significant"] and app["effect"] < -1.0 and app["value_b"] < 0.3
    assert not web["significant"] and abs(web["effect"]) < 0.2
    assert app["difference"] == pytest.approx(app["value_b"] - app["value_a"])
    assert app["ratio"] == pytest.approx(app["value_b"] / app["value_a"])
    buy = res[
        (res["metric"] == "activities") & (res["channel"] == "app") & (res["what"] == "purchase")
    ].iloc[0]
    assert buy["significant"] and buy["value_b"] < buy["value_a"]
    assert buy["effect_measure"] == "rank_biserial" and buy["effect"] < 0
    funnel = res[res["metric"] == "funnel"].set_index("what")
    assert funnel.loc["checkout => purchase", "significant"]
    assert (
        funnel.loc["checkout => purchase", "value_b"]
        < funnel.loc["checkout => purchase", "value_a"]
    )
    assert "view_product => purchase (overall)" in funnel.index
    assert set(funnel["where"]) == {"all"}  # the funnel runs across channels
    assert not funnel.loc["view_product => add_to_cart", "significant"]
    # q-values are Benjamini-Hochberg over all rows
    p = res["p_value"].to_numpy()
    order = np.argsort(p)
    m = len(p)
    q = np.minimum.accumulate((p[order] * m / np.arange(1, m + 1))[::-1])[::-1]
    np.testing.assert_allclose(np.sort(res["q_value"].to_numpy()), np.minimum(q, 1.0))
    assert (res["significant"] == (res["q_value"] <= 0.05)).all()


def test_compare_periods_edges_match_a_chi_square_test() -> None:
    t0 = pd.Timestamp("2025-01-01", tz="UTC")
    rows = []
    # period a: 60 of 100 checkouts -> purchase; period b: 35 of 100
    for period, k in ((0, 60), (1, 35)):
        for i in range(100):
            t = t0 + pd.Timedelta(days=10 * period, minutes=i)
            rows.append((f"p{period}_{i}", t, "checkout", "web"))
            nxt = "purchase" if i < k else "exit"
            rows.append((f"p{period}_{i}", t + pd.Timedelta(seconds=5), nxt, "web"))
    log = pd.DataFrame(rows, columns=["customer_id", "timestamp", "activity", "channel"])
    res = compare_periods(
        log,
        ("2025-01-01", "2025-01-05"),
        ("2025-01-11", "2025-01-15"),
        metrics=["edges"],
        min_support=1,
    )
    row = res[res["what"] == "checkout -> purchase"].iloc[0]
    assert (row["value_a"], row["value_b"], row["n_a"], row["n_b"]) == (0.6, 0.35, 100, 100)
    chi2 = stats.chi2_contingency([[60, 40], [35, 65]], correction=False)
    assert row["p_value"] == pytest.approx(chi2.pvalue, rel=1e-9)
    h = 2 * np.arcsin(np.sqrt(0.35)) - 2 * np.arcsin(np.sqrt(0.6))
    assert row["effect"] == pytest.approx(h)


def test_activities_need_periods_of_equal_length() -> None:
    # one event per case, as in a process log: per-day rates would differ by the length ratio
    t0 = pd.Timestamp("2025-01-01", tz="UTC")
    ts = [t0 + pd.Timedelta(hours=6 * i) for i in range(160)]
    log = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(160)],
            "timestamp": ts,
            "activity": "submit",
            "channel": "web",
        }
    )
    with pytest.warns(DataQualityWarning, match="equal"):
        res = compare_periods(
            log,
            ("2025-01-01", "2025-01-21"),
            ("2025-01-21", "2025-02-11"),
            metrics=["activities"],
            min_support=1,
        )
    row = res.iloc[0]
    assert (row["value_a"], row["value_b"]) == (1.0, 1.0)
    assert row["p_value"] == 1.0 and not row["significant"]


def test_compare_segments_funnel_counts(incident_data) -> None:
    persona = incident_data.customers.set_index("customer_id")["persona"]
    steps = ["add_to_cart", "checkout", "purchase"]
    res = compare_segments(
        incident_data.events,
        persona,
        "loyal_app_buyer",
        "researcher",
        metrics=["funnel"],
        funnel=steps,
    )
    ev = incident_data.events
    # independent count: customers of the segment reaching each step in order
    for seg, col in (("loyal_app_buyer", "n_a"), ("researcher", "n_b")):
        custs = set(persona[persona == seg].index)
        sub = ev[ev["customer_id"].isin(custs)]
        reached = {s: 0 for s in steps}
        for _, acts in sub.groupby("customer_id")["activity"]:
            k = 0
            for a in acts.astype(str):
                if k < len(steps) and a == steps[k]:
                    reached[steps[k]] += 1
                    k += 1
        first = res[res["what"] == "add_to_cart => checkout"].iloc[0]
        assert first[col] == reached["add_to_cart"]
        second = res[res["what"] == "checkout => purchase"].iloc[0]
        assert second[col] == reached["checkout"]
    overall = res[res["what"] == "add_to_cart => purchase (overall)"].iloc[0]
    assert overall["value_a"] > overall["value_b"]  # app buyers convert better
    assert overall["significant"]


def test_compare_segments_durations_and_activities(incident_data) -> None:
    persona = incident_data.customers.set_index("customer_id")["persona"]
    res = compare_segments(
        incident_data.events,
        persona,
        "loyal_app_buyer",
        "researcher",
        metrics=["durations", "activities"],
    )
    web = res[(res["metric"] == "durations") & (res["channel"] == "web")].iloc[0]
    # researchers browse longer (150 s between events vs 30 s)
    assert web["value_b"] > web["value_a"] and web["significant"] and web["effect"] > 0.3
    reviews = res[
        (res["metric"] == "activities")
        & (res["what"] == "read_reviews")
        & (res["channel"] == "web")
    ].iloc[0]
    assert reviews["value_b"] > reviews["value_a"] and reviews["significant"]


def test_compare_periods_per_segment(incident_data) -> None:
    truth = incident_data.incidents.iloc[0]
    tier = pd.Series(
        np.where(incident_data.customers["has_app"], "app_user", "no_app"),
        index=incident_data.customers["customer_id"],
    )
    res = compare_periods(
        incident_data.events,
        (truth["start"] - pd.Timedelta(days=14), truth["start"]),
        (truth["start"], truth["end"]),
        metrics=["edges"],
        segment=tier,
    )
    assert set(res["segment"]) == {"app_user", "no_app"}
    hit = res[
        (res["channel"] == "app")
        & (res["what"] == "checkout -> purchase")
        & (res["segment"] == "app_user")
    ].iloc[0]
    assert hit["significant"] and hit["effect"] < -1.0


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        ((("2025-01-01", "2025-01-10"), ("2025-01-05", "2025-01-20")), {}, ConfigError, "overlap"),
        (
            (("2025-01-10", "2025-01-01"), ("2025-02-01", "2025-02-10")),
            {},
            ConfigError,
            "ends before",
        ),
        (("2025-01", ("2025-02-01", "2025-02-10")), {}, ConfigError, "pair"),
        (
            (("2024-01-01", "2024-01-16"), ("2025-01-05", "2025-01-20")),
            {},
            EmptyLogError,
            "slice a",
        ),
        (
            (("2025-01-01", "2025-01-10"), ("2025-01-10", "2025-01-19")),
            {"funnel": ["checkout", "purchse"]},
            UnknownActivityError,
            "Did you mean 'purchase'",
        ),
        (
            (("2025-01-01", "2025-01-10"), ("2025-01-10", "2025-01-20")),
            {"metrics": ["edge"]},
            ConfigError,
            "Did you mean 'edges'",
        ),
    ],
)
def test_compare_periods_errors(args, kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        compare_periods(_daily([0.8] * 20, n=10), *args, **kwargs)


def test_compare_segments_errors(incident_data) -> None:
    persona = incident_data.customers.set_index("customer_id")["persona"]
    with pytest.raises(ConfigError, match="Did you mean 'researcher'"):
        compare_segments(incident_data.events, persona, "loyal_app_buyer", "reseacher")
    with pytest.raises(ConfigError, match="same segment"):
        compare_segments(incident_data.events, persona, "researcher", "researcher")
