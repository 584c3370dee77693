"""detect_changes with its default arguments on logs small and large, ours and independent:
incidents found, no false alarms, and a report of what was scanned (#17)."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from _clickstream import ClickIncident, make_clickstream

from journeymine.datasets import Incident, make_journeys
from journeymine.exceptions import ConfigError, UnknownActivityError
from journeymine.journeys.change import detect_changes, scan_summary

TOLERANCE = pd.Timedelta(days=2)
OUR_NULL_SEEDS = tuple(range(300, 310))  # 10 incident-free logs of make_journeys
CLICK_NULL_SEEDS = tuple(range(100, 110))  # 10 incident-free logs of the clickstream
SMALL = 2_000  # customers of make_journeys in the tests (200,000 in benchmarks/bench_change.py)


@functools.cache
def _ours(seed: int, incidents: str | None = "default"):
    return make_journeys(n_customers=SMALL, random_state=seed, incidents=incidents)


@functools.cache
def _click(seed: int, incidents: tuple[ClickIncident, ...] = (), n_users: int = 600):
    return make_clickstream(n_users, incidents=incidents, seed=seed)


def _utc(t: pd.Timestamp) -> pd.Timestamp:
    return t.tz_localize("UTC") if t.tzinfo is None else t  # naive times are read as UTC


def _matches(found: pd.DataFrame, truth: pd.Series, tol: pd.Timedelta) -> pd.DataFrame:
    truth = truth.copy()
    truth["start"], truth["end"] = _utc(truth["start"]), _utc(truth["end"])
    return found[
        (found["channel"] == truth["channel"])
        & ((found["start"] - truth["start"]).abs() <= tol)
        & ((found["end"] - truth["end"]).abs() <= tol)
    ]


# --- found with the defaults --------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1])
def test_every_incident_of_the_generator_is_found_with_defaults(seed) -> None:
    data = _ours(seed)
    got = detect_changes(data.events)
    for _, truth in data.incidents.iterrows():
        hit = _matches(got, truth, TOLERANCE)
        assert len(hit), (truth["name"], got[["metric", "where", "what", "start", "end"]])
        edge = hit[(hit["metric"] == "edges") & (hit["source"] == truth["source"])]
        assert (edge["target"] == truth["target"]).any()
    # nothing else: one incident per scheduled one, on its channel
    assert got["incident"].nunique() == len(data.incidents)
    assert set(got["channel"]) == set(data.incidents["channel"])


def test_small_log_two_week_incident_found_with_defaults() -> None:
    inc = (ClickIncident("desktop", 60, 14, "site_search", "item_page", 0.2),)
    events, truth = _click(21, inc)
    assert 25_000 <= len(events) <= 36_000 and events["customer_id"].nunique() <= 600
    assert events["timestamp"].dt.tz is None  # naive timestamps, as exported by many tools
    got = detect_changes(events)
    hit = _matches(got, truth.iloc[0], TOLERANCE)
    assert len(hit) and (hit["what"] == "site_search -> item_page").any()
    assert got["incident"].nunique() == 1
    assert got.attrs["settings"]["freq"] == "1D"
    assert got.attrs["settings"]["min_support"] == 30  # 1 in 5,000 events, at least 30


def test_real_looking_log_three_incidents() -> None:
    """600 users, six months, three platforms, incidents of 4, 14 and 30 days: the two that
    the log has the volume to show are found within 3 days; no detection matches none."""
    incs = (
        ClickIncident("desktop", 40, 14, "site_search", "item_page", 0.2),
        ClickIncident("ios", 100, 4, "basket", "checkout_start", 0.15),
        ClickIncident("desktop", 120, 30, "item_page", "basket_add", 0.3),
    )
    events, truth = _click(304, incs)
    got = detect_changes(events)
    tol = pd.Timedelta(days=3)
    found = [len(_matches(got, t, tol)) > 0 for _, t in truth.iterrows()]
    assert sum(found) >= 2, got[["where", "what", "start", "end"]]
    first = got.drop_duplicates("incident")
    unmatched = [
        r
        for _, r in first.iterrows()
        if not any(
            r["channel"] == t["channel"]
            and r["start"] < _utc(t["end"]) + tol
            and r["end"] > _utc(t["start"]) - tol
            for _, t in truth.iterrows()
        )
    ]
    assert len(unmatched) <= 1


# --- no false alarms ----------------------------------------------------------------------------
@pytest.mark.parametrize("seed", OUR_NULL_SEEDS)
def test_no_false_alarm_on_our_generator(seed) -> None:
    got = detect_changes(_ours(seed, None).events)
    assert got.empty, got[["metric", "where", "what", "start", "end", "q_value"]]


@pytest.mark.parametrize("seed", CLICK_NULL_SEEDS)
def test_no_false_alarm_on_an_independent_bursty_weekly_generator(seed) -> None:
    events, _ = _click(seed)
    got = detect_changes(events)
    assert got.empty, got[["metric", "where", "what", "start", "end", "q_value"]]


def test_weekly_rhythm_is_removed_from_daily_series() -> None:
    events, _ = _click(5, n_users=2_000)
    got = detect_changes(events)
    assert got.empty
    scan = got.attrs["scan"]
    on = scan[scan["status"] == "scanned"]
    # the funnel steps carry the weekend effect: their weekly rhythm is recognised
    step = on[on["what"] == "item_page -> basket_add"]
    assert (step["weekday_shrinkage"] > 0.5).all()
    assert got.attrs["settings"]["weekday_adjusted"] > 0
    assert detect_changes(events, weekly=False).attrs["settings"]["weekday_adjusted"] == 0


# --- what was scanned ---------------------------------------------------------------------------
def test_scan_table_says_what_was_scanned_and_why_not() -> None:
    events, _ = _click(3)
    got = detect_changes(events)
    scan = got.attrs["scan"]
    assert {"metric", "where", "channel", "what", "status", "support"} <= set(scan.columns)
    assert {"detectable_effect", "detectable_drop_to", "changes"} <= set(scan.columns)
    assert set(scan["status"]) <= {"scanned", "too little support", "too short"}
    skipped = scan[scan["status"] == "too little support"]
    assert len(skipped) and (skipped["support"] < got.attrs["settings"]["min_support"]).all()
    on = scan[scan["status"] == "scanned"]
    assert (on["support"] >= got.attrs["settings"]["min_support"]).all()
    # power hint: never below the effect floor, and smaller for series with more data
    edges = on[on["metric"] == "edges"].sort_values("support")
    assert (edges["detectable_effect"] >= 0.2).all()
    assert edges["detectable_effect"].iloc[-1] < edges["detectable_effect"].iloc[0]
    assert set(on["metric"]) >= {"edges", "volumes", "journeys", "errors"}
    text = got.attrs["summary"]
    assert text == scan_summary(scan)
    assert f"scanned {len(on)} series" in text and "too little support" in text


def test_a_log_too_short_for_a_series_is_reported() -> None:
    data = _ours(0)
    ev = data.events
    # an activity that only exists for three days
    late = ev[ev["activity"] == "visit"].head(400).copy()
    late["activity"] = "beta_feature"
    late["timestamp"] = pd.Timestamp("2025-03-10", tz="UTC") + pd.to_timedelta(
        np.arange(len(late)) % 3, unit="D"
    )
    got = detect_changes(pd.concat([ev, late], ignore_index=True), metrics=["volumes"])
    scan = got.attrs["scan"]
    assert (scan.loc[scan["what"] == "beta_feature", "status"] == "too short").all()


# --- journey-level metrics ----------------------------------------------------------------------
def test_goal_and_top_paths_are_found_and_scanned() -> None:
    got = detect_changes(_ours(0).events)
    assert got.attrs["settings"]["goal"] == "purchase"
    journeys = got[got["metric"] == "journeys"]
    assert len(journeys) and journeys["what"].str.endswith("> purchase").all()
    assert (journeys["channel"] == "app").all() and (journeys["direction"] == "drop").all()


def test_funnel_given_is_scanned() -> None:
    data = _ours(1)
    got = detect_changes(
        data.events, metrics=["journeys"], funnel=["add_to_cart", "checkout", "purchase"]
    )
    truth = data.incidents.iloc[0]
    hit = _matches(got, truth, TOLERANCE)
    assert set(hit["what"]) >= {"add_to_cart > checkout > purchase", "checkout > purchase"}


def test_error_share_per_session_rises() -> None:
    inc = Incident("web_errors", "web", 50, 60, "visit", "contact_support", 6.0)
    data = make_journeys(n_customers=SMALL, incidents=[inc], random_state=4)
    got = detect_changes(data.events, metrics=["errors"])
    assert len(got) and (got["direction"] == "rise").all()
    assert (got["channel"] == "web").all() and got["what"].str.contains("contact_support").all()


def test_step_times_slowdown() -> None:
    events, _ = _click(8)
    slow = events.copy()
    # from day 80 to 94 every desktop step after an item page takes 10 minutes longer
    slow = slow.sort_values(["customer_id", "timestamp"], kind="stable").reset_index(drop=True)
    prev = slow["activity"].shift(1).eq("item_page") & slow["customer_id"].eq(
        slow["customer_id"].shift(1)
    )
    day = (slow["timestamp"] - slow["timestamp"].min()).dt.days
    hit = prev & day.between(80, 93) & (slow["channel"] == "desktop")
    # shift the rest of each hit session so the order is kept
    bump = hit.astype(int).groupby(slow["customer_id"]).cumsum() * pd.Timedelta(minutes=10)
    same_day = day.between(80, 94)
    slow["timestamp"] = slow["timestamp"] + bump.where(same_day, pd.Timedelta(0))
    got = detect_changes(slow, metrics=["step_times"], session_gap="2h")
    assert len(got)
    assert (got["channel"] == "desktop").all() and (got["direction"] == "rise").all()
    assert got["what"].str.startswith("item_page -> ").all()


# --- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"funnel": "checkout"}, ConfigError, "funnel"),
        ({"funnel": ["checkout", "purchse"]}, UnknownActivityError, "'purchase'"),
        ({"goal": "purchse", "metrics": ["journeys"]}, UnknownActivityError, "'purchase'"),
        ({"goal": 3}, ConfigError, "goal"),
        ({"error_activities": ["oops"], "metrics": ["errors"]}, UnknownActivityError, "oops"),
        ({"weekly": "yes"}, ConfigError, "weekly"),
        ({"min_support": "lots"}, ConfigError, "min_support"),
        ({"freq": "sometimes"}, ConfigError, "freq"),
        ({"metrics": ["journey"]}, ConfigError, "Did you mean 'journeys'"),
    ],
)
def test_new_argument_errors(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        detect_changes(_ours(0).events.head(20_000), **kwargs)


# --- the incident view --------------------------------------------------------------------------
def test_incident_view_of_the_change_report(tmp_path) -> None:
    from journeymine.report import change_incidents_data, change_report

    data = _ours(0)
    got = detect_changes(data.events)
    view = change_incidents_data(got)
    assert len(view) == len(data.incidents) == got["incident"].nunique()
    for _, truth in data.incidents.iterrows():
        row = view[view["where"] == truth["channel"]].iloc[0]
        assert abs(row["start"] - truth["start"]) <= TOLERANCE
        assert abs(row["end"] - truth["end"]) <= TOLERANCE
        assert "fell" in row["headline"] and row["q_value"] < 1e-6
    app = view[view["where"] == "app"].iloc[0]
    assert "checkout > purchase" in app["affected_journeys"]  # the path to the goal fell
    assert view[view["where"] == "web"].iloc[0]["affected_journeys"] == ""
    html = change_report(None, tmp_path / "changes.html", changes=got).read_text()
    assert "Incidents" in html and "What was scanned: scanned" in html
    assert "affected journeys" in html


# --- calibration ----------------------------------------------------------------------------------
def test_scan_p_value_holds_its_level_on_series_without_change() -> None:
    """The simulated null tail gives the level asked for on fresh series (another seed, an
    independent computation of the scan's maximum), where Bonferroni is far too strict."""
    from journeymine.journeys.change.scan import null_tail_constant, scan_p_value

    t_len, lo_len, hi_len = 120, 2, 60
    k = null_tail_constant(t_len, lo_len, hi_len, False)
    rng = np.random.default_rng(12345)
    x = rng.standard_normal((2_000, t_len))
    c = np.concatenate([np.zeros((len(x), 1)), np.cumsum(x, axis=1)], axis=1)
    best = np.zeros(len(x))
    n_intervals = 0
    for n in range(lo_len, hi_len + 1):
        for a in range(1, t_len - 1 - n + 1):
            inside = c[:, a + n] - c[:, a]
            diff = inside / n - (c[:, -1] - inside) / (t_len - n)
            best = np.maximum(best, diff**2 / (1 / n + 1 / (t_len - n)))
            n_intervals += 1
    p = np.array([scan_p_value(d, n_intervals, k) for d in best])
    bonferroni = np.array([scan_p_value(d, n_intervals, None) for d in best])
    for level in (0.05, 0.01):
        assert level * 0.5 <= (p <= level).mean() <= level * 1.6
        assert (bonferroni <= level).mean() < level * 0.5
