"""Open the reports in a real headless Chromium: every figure renders, no console error, no
network request, user strings show as text and run nothing, small groups stay hidden."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import journeymine as jm

XSS_SCRIPT = "<script>alert(1)</script>"
XSS_IMG = '"><img src=x onerror=alert(1)>'
RARE = "rare_secret_step"


@pytest.fixture(scope="module")
def hostile_log(small_log: pd.DataFrame) -> pd.DataFrame:
    """The small log with two hostile activity names (many customers) and a rare step taken by
    three customers right after their first visit."""
    ids = small_log["customer_id"].unique()
    log = small_log.copy()
    act = log["activity"].astype(str)
    a = log["customer_id"].isin(ids[:300]) & (act == "read_reviews")
    b = log["customer_id"].isin(ids[300:600]) & (act == "view_promotions")
    log["activity"] = act.mask(a, XSS_SCRIPT).mask(b, XSS_IMG)
    first_visit = (
        log[log["activity"] == "visit"]
        .sort_values("timestamp", kind="stable")
        .drop_duplicates("customer_id")
        .head(3)
    )
    rare = first_visit.assign(
        timestamp=first_visit["timestamp"] + pd.Timedelta(microseconds=1), activity=RARE
    )
    return jm.validate(pd.concat([log, rare], ignore_index=True), duplicates="keep")


def _check_rendered(seen, html: str) -> None:
    n = html.count("data-figure=")
    assert n >= 1
    assert seen.n_plots == n
    assert seen.plots_with_svg == n
    assert seen.console_errors == []
    assert seen.page_errors == []
    assert seen.requests == []
    assert seen.dialogs == []
    assert seen.screenshot.stat().st_size > 10_000


def test_journey_report_in_chromium(browser, hostile_log: pd.DataFrame, tmp_path: Path) -> None:
    out = jm.journey_report(
        hostile_log,
        tmp_path / "journeys.html",
        k=10,
        funnel_steps=["visit", XSS_SCRIPT],
        paths_from=XSS_IMG,
    )
    html = out.read_text(encoding="utf-8")
    seen = browser.open(out, "journey_report")
    _check_rendered(seen, html)
    # hostile names are shown as text, in the page and inside the plotly figures
    assert XSS_IMG in seen.body_text
    assert any(XSS_SCRIPT in t for t in seen.svg_texts)
    assert any(XSS_IMG in t for t in seen.svg_texts)
    # the step taken by 3 customers (< k) appears nowhere: not in the page, not in the data
    assert RARE not in html
    assert RARE not in seen.body_text
    assert all(RARE not in t for t in seen.svg_texts)
    assert "Privacy: groups of fewer than 10 customers are not shown" in seen.body_text


def test_persona_report_in_chromium(browser, tmp_path: Path) -> None:
    profiles = pd.DataFrame(
        {
            "persona": [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3,
            "name": ["App loyalists"] * 3
            + [XSS_SCRIPT] * 3
            + [XSS_IMG] * 3
            + ["Tinyxyzpersona"] * 3,
            "size": [400] * 3 + [300] * 3 + [250] * 3 + [4] * 3,
            "feature": ["app_share", "store_share", "evening_share"] * 4,
            "effect": [2.1, -0.6, 1.2, -0.9, 2.5, -0.4, 0.1, 0.2, -1.5, 3.0, 3.0, 3.0],
        }
    )
    sizes = pd.DataFrame(
        {0: [400, 380, 350], 1: [300, 310, 330], 2: [250, 240, 260], -1: [50, 40, 30]},
        index=["2025-01", "2025-02", "2025-03"],
    )
    migration = pd.DataFrame(
        {
            "from_window": ["2025-01"] * 4 + ["2025-02"] * 4,
            "from_persona": [0, 0, 1, 2, 0, 1, 2, 1],
            "to_window": ["2025-02"] * 4 + ["2025-03"] * 4,
            "to_persona": [0, 1, 1, 2, 0, 1, 2, 0],
            "customers": [350, 30, 280, 230, 340, 300, 240, 3],
        }
    )
    tracking = {
        "sizes": sizes,
        "migration": migration,
        "names": {0: "App loyalists", 1: XSS_SCRIPT, 2: XSS_IMG},
    }
    card = {
        "accuracy_by_events": {3: 0.61, 5: 0.72, 10: 0.85, "all": 0.93},
        "calibration": pd.DataFrame(
            {
                "bin": range(4),
                "mean_predicted": [0.2, 0.4, 0.6, 0.9],
                "fraction_positive": [0.25, 0.38, 0.63, 0.88],
                "count": [40, 90, 200, 600],
            }
        ),
    }
    out = jm.persona_report(
        profiles, tmp_path / "personas.html", tracking=tracking, model_card=card, k=10
    )
    html = out.read_text(encoding="utf-8")
    seen = browser.open(out, "persona_report")
    _check_rendered(seen, html)
    assert XSS_SCRIPT in seen.body_text and XSS_IMG in seen.body_text
    assert any(XSS_SCRIPT in t for t in seen.svg_texts)
    assert "Tinyxyzpersona" not in html  # a persona of 4 customers (< k) is not shown
    assert "93% on full histories" in seen.body_text


def test_change_report_in_chromium(browser, tmp_path: Path) -> None:
    changes = pd.DataFrame(
        {
            "metric": ["edge", "volume"],
            "channel": ["app", XSS_IMG],
            "what": ["checkout -> purchase", XSS_SCRIPT],
            "start": pd.to_datetime(["2025-02-05", "2025-03-01"], utc=True),
            "end": pd.to_datetime(["2025-02-19", "2025-03-06"], utc=True),
            "baseline": [0.81, 1.2],
            "changed": [0.08, 0.5],
            "effect": [-1.9, -0.9],
            "q_value": [1e-12, 1e-4],
        }
    )
    out = jm.change_report(None, tmp_path / "changes.html", changes=changes)
    html = out.read_text(encoding="utf-8")
    # the Content-Security-Policy forbids connections and injected inline scripts
    probe = """() => new Promise(resolve => {
        const seen = [];
        document.addEventListener("securitypolicyviolation",
            e => { seen.push(e.violatedDirective); if (seen.length === 2) resolve(seen); });
        fetch("http://127.0.0.1:9/x").catch(() => {});
        const s = document.createElement("script");
        s.textContent = "window.injected = 1";
        document.body.appendChild(s);
        setTimeout(() => resolve(seen), 2000);
    })"""
    seen = browser.open(out, "change_report", probe=probe)
    assert sorted(d.split(" ")[0] for d in seen.extra["probe"]) == [
        "connect-src",
        "script-src-elem",
    ]
    _check_rendered(seen, html)
    assert (
        "App checkout -> purchase (step probability) fell from 81% to 8.0% between 2025-02-05 "
        "and 2025-02-19"
    ) in seen.body_text
    assert XSS_SCRIPT in seen.body_text and XSS_IMG in seen.body_text


def test_change_report_on_generated_incidents(browser, tmp_path: Path) -> None:
    data = jm.datasets.make_journeys(n_customers=4000, days=90, random_state=0)
    log = jm.validate(data.events)
    out = jm.change_report(log, tmp_path / "incidents.html")
    html = out.read_text(encoding="utf-8")
    seen = browser.open(out, "change_report_incidents")
    _check_rendered(seen, html)
    for inc in data.incidents.itertuples():
        subject = f"{inc.channel} {inc.source} -> {inc.target} (step probability) fell"
        assert subject.capitalize() in seen.body_text, subject


@pytest.mark.eventlogs
def test_journey_report_on_a_public_process_log(
    browser, eventlogs_dir: Path, tmp_path: Path
) -> None:
    path = eventlogs_dir / "helpdesk.xes.gz"
    if not path.exists():
        pytest.skip(f"{path} is missing")
    log = jm.read_xes(path, duplicates="keep")
    assert "channel" not in log.columns  # a process log: no channel section
    out = jm.journey_report(log, tmp_path / "helpdesk.html", title="Helpdesk process")
    html = out.read_text(encoding="utf-8")
    seen = browser.open(out, "journey_report_helpdesk")
    _check_rendered(seen, html)
    assert html.count("data-figure=") == 4
    top = jm.dfg(log).iloc[0]
    assert f"The most frequent step is {top['source']} → {top['target']}" in seen.body_text


def test_persona_report_from_a_fitted_miner(browser, tmp_path: Path) -> None:
    from journeymine.personas import PersonaMiner, track_personas

    log = jm.validate(jm.datasets.make_journeys(n_customers=1500, days=90, random_state=0).events)
    miner = PersonaMiner(n_bootstrap=0, random_state=0).fit(log)
    tracks = track_personas(log, windows="30D")
    out = jm.persona_report(miner, tmp_path / "miner.html", tracking=tracks)
    html = out.read_text(encoding="utf-8")
    seen = browser.open(out, "persona_report_miner")
    _check_rendered(seen, html)
    for name, size in zip(miner.profiles_["name"], miner.profiles_["size"], strict=True):
        if size >= 10:
            assert str(name) in seen.body_text
    assert html.count("data-figure=") == 3  # profiles, sizes over time, migration
    # every migration link shown is supported by at least k = 10 customers
    moved = tracks.migration[tracks.migration["customers"] < 10]
    assert f"{len(moved)} links with fewer than 10 customers" in seen.body_text
    assert "Persona lifecycle:" in seen.body_text
    heat = next(t for t in seen.svg_texts if t.startswith("0: "))
    assert heat.startswith(f"0: {miner.profiles_['name'].iloc[0]}")


def test_actions_report_in_chromium(browser, tmp_path: Path) -> None:
    """Backtest, response-rate heatmap and decisions: rendered, hostile persona names as text,
    response cells with fewer than k touches hidden."""
    from journeymine.actions import ResponseModel, backtest, next_best_action

    data = jm.datasets.make_journeys(n_customers=800, days=90, random_state=8)
    names = sorted(data.customers["persona"].unique())
    personas = data.customers.set_index("customer_id")["persona"].map(names.index).astype("int64")
    policy = jm.datasets.sample_policy()
    responses = ResponseModel().fit(data.events, personas, policy)
    bt = backtest(data.events, policy, responses, personas)
    decisions = next_best_action(data.events, policy, responses, personas)
    hostile = {0: XSS_SCRIPT, 1: XSS_IMG}
    out = jm.actions_report(
        bt, tmp_path / "actions.html", responses=responses, decisions=decisions,
        persona_names=hostile, k=40,
    )  # fmt: skip
    html = out.read_text(encoding="utf-8")
    seen = browser.open(out, "actions_report")
    _check_rendered(seen, html)
    assert html.count("data-figure=") == 2
    assert "touches replayed" in seen.body_text and "Observed response" in seen.body_text
    assert any(XSS_SCRIPT in t for t in seen.svg_texts)
    assert any(XSS_IMG in t for t in seen.svg_texts)
    small = int((responses.table_["touches"] < 40).sum())
    assert small > 0 and f"{small} cells with fewer than 40 touches hidden" in seen.body_text
