"""Report builders: sections, computed findings and argument checks (HTML content only; the
browser tests open them)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import journeymine as jm


def _findings(html: str) -> list[str]:
    block = html.split('id="summary"', 1)[1].split("</ul>", 1)[0]
    return [re.sub(r"\s+", " ", li).strip() for li in re.findall(r"<li>(.*?)</li>", block, re.S)]


def test_journey_report_findings_are_computed(small_log: pd.DataFrame, tmp_path: Path) -> None:
    out = jm.journey_report(
        small_log, tmp_path / "j.html", funnel_steps=["view_product", "add_to_cart"]
    )
    html = out.read_text(encoding="utf-8")
    found = _findings(html)
    n = small_log["customer_id"].nunique()
    assert found[0].startswith(f"{n:,} customers and {len(small_log):,} events")
    fun = jm.funnel(small_log, ["view_product", "add_to_cart"])
    share = fun["conversion"].iloc[1]
    expected = f"{100 * share:.0f}%" if share >= 0.1 else f"{100 * share:.1f}%"
    assert any(
        f.startswith(f"{expected} of customers who view_product go on to add_to_cart")
        for f in found
    )
    top = jm.dfg(small_log).iloc[0]
    assert any(
        f"most frequent step is {top['source']} → {top['target']} ({int(top['count']):,} times" in f
        for f in found
    )
    assert html.count("data-figure=") == 5


def test_journey_report_per_persona(small_log: pd.DataFrame, tmp_path: Path) -> None:
    ids = small_log["customer_id"].unique()
    labels = pd.Series([i % 3 for i in range(len(ids))], index=ids)
    labels.iloc[:20] = -1
    out = jm.journey_report(
        small_log,
        tmp_path / "p.html",
        personas=labels,
        persona_names={0: "Zeroes", 1: "Ones", 2: "Twos"},
    )
    html = out.read_text(encoding="utf-8")
    assert html.count("data-figure=") == 5 + 1 + 3
    for name in ("0: Zeroes", "1: Ones", "2: Twos"):
        assert f"Process map: {name}" in html
    # customers without a label (e.g. below min_events): ids keep reading "0", not "0.0"
    partial = labels.iloc[30:]
    names = {0: "Zeroes", 1: "Ones", 2: "Twos"}
    html = jm.journey_report(
        small_log, tmp_path / "q.html", personas=partial, persona_names=names
    ).read_text(encoding="utf-8")
    assert "Process map: 0: Zeroes" in html and "0.0: Zeroes" not in html
    with pytest.raises(jm.ConfigError, match="none of the log's customers"):
        jm.journey_report(small_log, tmp_path / "x.html", personas=pd.Series({"nobody": 1}))


def test_builders_reject_bad_arguments(small_log: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(jm.ConfigError, match="k=0"):
        jm.journey_report(small_log, tmp_path / "x.html", k=0)
    with pytest.raises(jm.UnknownActivityError):
        jm.journey_report(small_log, tmp_path / "x.html", funnel_steps=["visit", "chekout"])
    with pytest.raises(jm.ConfigError, match="needs a log"):
        jm.change_report(None, tmp_path / "x.html")
    with pytest.raises(jm.ConfigError, match="one or the other"):
        jm.change_report(small_log, tmp_path / "x.html", changes=pd.DataFrame(), freq="D")
    assert not (tmp_path / "x.html").exists()


# ---------------------------------------------------------------------------------------------
# the findings are pure functions of the computed data: asserted without writing HTML
# ---------------------------------------------------------------------------------------------
def test_journey_findings_match_the_report(small_log: pd.DataFrame, tmp_path: Path) -> None:
    from journeymine.report import journey_findings, journey_report_data

    data = journey_report_data(small_log, funnel_steps=["view_product", "add_to_cart"])
    found = journey_findings(data)
    assert found == journey_findings(data)  # pure: same data, same sentences
    n = small_log["customer_id"].nunique()
    assert found[0].startswith(f"{n:,} customers and {len(small_log):,} events")
    assert found[-1].startswith("Privacy: groups of fewer than 10 customers are not shown")
    fun = data.funnel
    assert fun is not None and list(fun["activity"]) == ["view_product", "add_to_cart"]
    assert any(f.endswith("lost).") and "view_product go on to add_to_cart" in f for f in found)
    html = jm.journey_report(
        small_log, tmp_path / "j.html", funnel_steps=["view_product", "add_to_cart"]
    ).read_text(encoding="utf-8")
    assert _findings(html) == [f.replace("&", "&amp;") for f in found]


def test_journey_findings_say_what_was_hidden(small_log: pd.DataFrame) -> None:
    from journeymine.report import journey_findings, journey_report_data

    data = journey_report_data(small_log, k=10_000)  # every group is too small
    last = journey_findings(data)[-1]
    assert last.startswith("Privacy: groups of fewer than 10000 customers are not shown (")
    assert "hidden)." in last and data.hidden["journeys"] > 0


def test_persona_findings() -> None:
    from journeymine.report import persona_findings, persona_report_data

    profiles = pd.DataFrame(
        {
            "persona": [0, 0, 1, 1, 2, 2],
            "name": ["Loyal", "Loyal", "Bargain", "Bargain", "Tiny", "Tiny"],
            "size": [600, 600, 200, 200, 3, 3],
            "feature": ["app_share", "recency", "promotion_share", "app_share", "x", "y"],
            "effect": [2.0, -0.5, 1.5, -1.0, 3.0, 3.0],
        }
    )
    migration = pd.DataFrame(
        {
            "from_window": ["w1", "w1", "w1"],
            "from_persona": [0, 0, 1],
            "to_window": ["w2", "w2", "w2"],
            "to_persona": [0, 1, 1],
            "customers": [500, 100, 200],
        }
    )
    sizes = pd.DataFrame({0: [600, 500], 1: [200, 300]}, index=["w1", "w2"])
    tracking = {"sizes": sizes, "migration": migration, "names": {0: "Loyal", 1: "Bargain"}}
    found = persona_findings(persona_report_data(profiles, tracking=tracking, k=10))
    # customers without a persona in one window (-1) are not persona changes
    gain = pd.DataFrame({"from_window": ["w1", "w1"], "from_persona": [-1, 0],
                         "to_window": ["w2", "w2"], "to_persona": [0, -1],
                         "customers": [80, 30]})  # fmt: skip
    tracking2 = {**tracking, "migration": pd.concat([migration, gain], ignore_index=True)}
    found2 = persona_findings(persona_report_data(profiles, tracking=tracking2, k=10))
    assert found2[3] == found[3] if len(found) > 3 else False
    assert found2[4] == (
        "Besides, 80 customers got a persona from one window to the next and 30 had none in "
        "the next (too few events or outliers there)."
    )
    assert found == [
        "2 personas; the largest is Loyal (75% of assigned customers).",
        "Loyal: app share 2.0 SD more than other customers.",
        "Bargain: share of promotion views 1.5 SD more than other customers.",
        "12% of customers with a persona in consecutive windows changed persona; the largest "
        "move is Loyal → Bargain (100 customers, w1 → w2).",
        "Privacy: groups of fewer than 10 customers are not shown.",
    ]
    # the tracking's move model: the expected share of movers, given every window
    sure = migration.assign(expected_moves=[40.0, 90.0, 10.0])
    found3 = persona_findings(
        persona_report_data(profiles, tracking={**tracking, "migration": sure}, k=10)
    )
    assert found3[3].endswith(
        "Given every window, the expected share of customers who changed persona is 18%."
    )


def test_persona_findings_count_the_likely_movers() -> None:
    """With a real tracking (move probabilities), the summary counts the customers most likely
    to have changed persona, exactly ``tracks.movers(recall=...)`` over the pairs of windows,
    with their expected precision; ``movers_recall`` sets the share and is checked."""
    from journeymine.exceptions import ConfigError
    from journeymine.personas import PersonaMiner, track_personas
    from journeymine.report import persona_findings, persona_report_data

    log = jm.datasets.make_journeys(600, days=90, random_state=0).events
    miner = PersonaMiner(n_bootstrap=0, min_events=5).fit(log)
    tracks = track_personas(log, windows="45D")
    counts = []
    for recall in (0.95, 0.5):
        listed = sum(len(tracks.movers(w, recall=recall)) for w in range(1, len(tracks.windows)))
        counts.append(listed)
        found = persona_findings(
            persona_report_data(miner, tracking=tracks, k=1, movers_recall=recall)
        )
        line = next(f for f in found if "changed persona" in f)
        assert f"The {listed:,} customers most likely to have changed persona" in line, line
        assert f"hold {recall:.0%} of the movers, at an expected precision of" in line, line
    assert counts[0] > counts[1] > 0  # a lower share lists fewer customers
    # the pairs a window tells apart least well, as tracks.confusion() gives them
    hard = tracks.confusion().attrs["hard_pairs"][:3]
    assert hard
    line = next(f for f in found if "tell these personas apart least well" in f)
    a, b, ab, _ = hard[0]
    names = tracks.names.iloc[-1]
    assert f"a window's {names[a]} are {names[b]} with probability {ab:.2f}" in line, line
    with pytest.raises(ConfigError, match=r"movers_recall must be within \(0, 1\]"):
        persona_report_data(miner, tracking=tracks, movers_recall=1.5)


def _changes() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "metric": ["edge", "volume"],
            "channel": ["app", "web"],
            "what": ["checkout -> purchase", "visit"],
            "start": pd.to_datetime(["2025-02-05", "2025-03-01"], utc=True),
            "end": pd.to_datetime(["2025-02-19", "2025-03-06"], utc=True),
            "baseline": [0.81, 1.2],
            "changed": [0.08, 0.5],
            "effect": [-1.9, -0.9],
            "q_value": [1e-12, 1e-4],
        }
    )


def test_change_findings() -> None:
    from journeymine.report import change_findings, change_report_data

    changes = _changes()
    found = change_findings(change_report_data(None, changes=changes))
    assert found[0] == "2 changes detected."
    assert found[1].startswith(
        "App checkout -> purchase (step probability) fell from 81% to 8.0% between 2025-02-05 "
        "and 2025-02-19"
    )
    assert found[1].endswith("(q = 1e-12).")
    none = change_findings(change_report_data(None, changes=changes.iloc[:0]))
    assert none == ["No significant change was detected."]


def test_change_report_top_is_the_old_name_of_top_k(tmp_path: Path) -> None:
    from journeymine.report import change_report

    new = change_report(None, tmp_path / "new.html", changes=_changes(), top_k=1)
    with pytest.warns(FutureWarning, match=r"change_report\(top=...\) is renamed"):
        old = change_report(None, tmp_path / "old.html", changes=_changes(), top=1)
    assert old.read_text(encoding="utf-8") == new.read_text(encoding="utf-8")


def test_actions_findings_need_a_backtest() -> None:
    from journeymine.report import actions_findings

    with pytest.raises(jm.ConfigError, match="needs a Backtest"):
        actions_findings(object())


def test_persona_findings_say_features_in_words() -> None:
    """The strongest trait of a persona reads as what it measures, not as a column name."""
    from journeymine.report import persona_findings, persona_report_data

    profiles = pd.DataFrame(
        {
            "persona": [0, 0, 1, 1],
            "name": ["App loyalists"] * 2 + ["Fading customers"] * 2,
            "size": [300, 300, 100, 100],
            "feature": ["organic_channel_share:app", "bounce_share"] * 2,
            "effect": [3.0, 0.1, 0.2, 0.1],
        }
    )
    profiles.loc[3, ["feature", "effect"]] = ["organic_recency_share", 5.2]
    found = persona_findings(persona_report_data(profiles))
    assert (
        found[1]
        == "App loyalists: share of their own sessions on app 3.0 SD more than other customers."
    )
    assert found[2] == (
        "Fading customers: time since their last own session, as a share of their history "
        "5.2 SD more than other customers."
    )
