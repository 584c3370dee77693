"""The persona report's validity section ("Do these personas mean something?")."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import journeymine as jm
from journeymine.exceptions import ConfigError
from journeymine.personas.validity import PersonaValidity
from journeymine.report import persona_validity_findings, persona_validity_tables

XSS = "<script>alert(1)</script>"


def _validity(outcome: str = "purchase in the next 30 days") -> PersonaValidity:
    return PersonaValidity(
        auc=pd.DataFrame(
            {
                "feature_set": ["personas", "rfv", "personas+rfv"],
                "auc": [0.612, 0.701, 0.734],
                "ci_low": [0.581, 0.672, 0.706],
                "ci_high": [0.644, 0.729, 0.761],
            }
        ),
        added_auc=0.033,
        added_auc_ci=(0.012, 0.055),
        by_persona=pd.DataFrame(
            {
                "persona": [-1, 0, 1, 2],
                "size": [100, 400, 300, 4],
                "n_positive": [10, 120, 30, 4],
                "outcome_rate": [0.1, 0.3, 0.1, 1.0],
                "lift": [0.6, 1.8, 0.6, 6.0],
            }
        ),
        stability_ari=None,
        n_customers=804,
        n_positive=164,
        outcome=outcome,
        params={"persona_weights": [1.0, 0.5, 1.0, 1.0, 1.0]},
    )


def _profiles() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "persona": [0, 0, 1, 1],
            "name": ["App loyalists"] * 2 + ["Store browsers"] * 2,
            "size": [400, 400, 300, 300],
            "feature": ["app_share", "store_share"] * 2,
            "effect": [2.1, -0.6, -0.9, 2.5],
        }
    )


def test_findings_are_the_summary_without_small_personas() -> None:
    v = _validity()
    lines = persona_validity_findings(v, k=10)
    assert lines[0] == "Outcome: purchase in the next 30 days: 164 of 804 customers (20.4%)."
    assert "Personas predict it with AUC 0.61 [0.58, 0.64]" in lines[1]
    assert "together 0.73 (+0.03 [+0.01, +0.06])" in lines[1]
    assert any("The personas add to recency/frequency/value" in x for x in lines)
    # persona 2 (4 customers < k) has the highest lift but is hidden: persona 0 leads
    rate = next(x for x in lines if x.startswith("Highest rate:"))
    assert rate == (
        "Highest rate: persona 0 (30.0%, lift 1.80); lowest: persona -1 (10.0%, lift 0.60)."
    )
    assert "persona 2" in next(x for x in v.summary().splitlines() if x.startswith("Highest"))
    assert any(x.startswith("Stability under resampling not measured") for x in lines)
    # with k=1 nothing is hidden
    assert "persona 2 (100.0%, lift 6.00)" in " ".join(persona_validity_findings(v, k=1))


def test_tables() -> None:
    auc, by = persona_validity_tables(_validity(), k=10, persona_names={0: "App loyalists"})
    with pytest.warns(FutureWarning, match=r"persona_validity_tables\(names=...\) is renamed"):
        _, old_by = persona_validity_tables(_validity(), k=10, names={0: "App loyalists"})
    pd.testing.assert_frame_equal(old_by, by)
    assert auc["AUC"].tolist() == ["0.612", "0.701", "0.734", "+0.033"]
    assert auc["95% interval"].tolist()[-1] == "[+0.012, +0.055]"
    assert by["persona"].tolist() == ["no persona", "0: App loyalists", "1"]
    assert by["outcome rate"].tolist() == ["10.0%", "30.0%", "10.0%"]
    assert by.attrs["hidden"] == 1


def test_persona_report_with_validity(tmp_path: Path) -> None:
    out = jm.persona_report(_profiles(), tmp_path / "p.html", validity=_validity(outcome=XSS), k=10)
    html = out.read_text(encoding="utf-8")
    assert "Do these personas mean something?" in html
    assert "Outcome rate by persona" in html
    for text in ("0.612", "[0.581, 0.644]", "0.701", "0.734", "+0.033", "[+0.012, +0.055]"):
        assert text in html
    assert "30.0%" in html and "1.80" in html and "0: App loyalists" in html
    assert "6.00" not in html  # persona 2 has 4 customers < k
    assert "1 personas with fewer than 10 customers hidden." in html
    assert XSS not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # without validity there is no such section
    plain = jm.persona_report(_profiles(), tmp_path / "q.html").read_text(encoding="utf-8")
    assert "Do these personas mean something?" not in plain
    with pytest.raises(ConfigError, match="PersonaValidity"):
        jm.persona_report(_profiles(), tmp_path / "r.html", validity={"auc": 1})


def test_cli_personas_report_with_validity(tmp_path: Path) -> None:
    from journeymine.cli import app
    from journeymine.datasets import make_journeys, save_journeys

    save_journeys(make_journeys(800, days=60, random_state=1), tmp_path / "data")
    events = tmp_path / "data" / "events.parquet"
    report = tmp_path / "personas.html"
    runner = CliRunner()
    args = ["personas", str(events), "--out", str(tmp_path / "p"), "--report", str(report)]
    res = runner.invoke(
        app,
        [*args, "--validity-outcome", "activity:purchase", "--validity-cutoff", "2025-01-31"],
    )
    assert res.exit_code == 0, res.output
    assert "Personas predict it with AUC" in res.output
    # honest: the check's personas are mined again on the events before the cutoff only
    log = pd.read_parquet(events)
    n_before = int((log["timestamp"] < pd.Timestamp("2025-01-31", tz="UTC")).sum())
    assert f"personas mined again on the {n_before:,} events before 2025-01-31" in res.output
    html = report.read_text(encoding="utf-8")
    assert "Do these personas mean something?" in html
    assert "recency/frequency/value" in html and "added by the personas" in html
    # only one of the two options: a usage error through the CLI error wrapper
    res = runner.invoke(app, [*args, "--validity-outcome", "activity:purchase"])
    assert res.exit_code != 0 and "--validity-cutoff" in res.output
    res = runner.invoke(
        app,
        [*args, "--validity-outcome", "activity:nosuch", "--validity-cutoff", "2025-01-31"],
    )
    assert res.exit_code != 0 and "Traceback" not in res.output
    # customer attributes (demographics) to compare with: two more rows and a finding
    customers = pd.read_parquet(tmp_path / "data" / "customers.parquet")
    attrs = customers[["customer_id", "has_app"]].assign(
        band=pd.Series(range(len(customers))).mod(3).astype(str)
    )
    attrs.to_csv(tmp_path / "attrs.csv", index=False)
    cut = ["--validity-outcome", "activity:purchase", "--validity-cutoff", "2025-01-31"]
    res = runner.invoke(app, [*args, *cut, "--validity-attributes", str(tmp_path / "attrs.csv")])
    assert res.exit_code == 0, res.output
    assert "Your attributes (has_app, band) alone" in res.output
    html = report.read_text(encoding="utf-8")
    assert "personas + your attributes" in html and "added by the personas to your" in html
    # the option needs the check it belongs to; a file without customer_id is refused
    res = runner.invoke(app, [*args, "--validity-attributes", str(tmp_path / "attrs.csv")])
    assert res.exit_code != 0 and "--validity-outcome" in res.output
    attrs.drop(columns="customer_id").to_csv(tmp_path / "bad.csv", index=False)
    res = runner.invoke(app, [*args, *cut, "--validity-attributes", str(tmp_path / "bad.csv")])
    assert res.exit_code != 0 and "needs a customer_id column" in res.output
    assert "personas among" not in res.output  # refused before any mining
    # a cutoff before the first event: nothing to mine the check's personas on
    early = ["--validity-outcome", "activity:purchase", "--validity-cutoff", "2020-01-01"]
    res = runner.invoke(app, [*args, *early])
    assert res.exit_code != 0 and "--validity-cutoff 2020-01-01: no event before it" in res.output
    # a cutoff one day in, with 10 events a customer asked for: too few customers before it
    # to mine the check's personas (--min-events auto would mine the day's short histories)
    early = ["--validity-outcome", "activity:purchase", "--validity-cutoff", "2025-01-02"]
    res = runner.invoke(app, [*args, *early, "--min-events", "10"])
    assert res.exit_code != 0 and "--validity-cutoff 2025-01-02: the" in res.output
    assert "--min-events" in res.output and "Traceback" not in res.output


def test_the_check_names_its_own_personas(tmp_path: Path) -> None:
    """A validity result made with a miner carries that miner's persona names, and the report's
    per-persona table uses them (the check's personas may be mined before its cutoff)."""
    from journeymine.datasets import make_journeys

    log = make_journeys(600, days=90, random_state=0).events
    miner = jm.PersonaMiner(n_bootstrap=0, random_state=0).fit(log[log["timestamp"] < "2025-03-02"])
    _, _, soft = miner.membership(miner.features_)
    v = jm.persona_validity(
        log,
        soft,
        outcome="purchase",
        cutoff="2025-03-02",
        horizon="14D",
        n_bootstrap=20,
        miner=miner,
        stability_runs=1,
    )
    assert v.persona_names == miner.profiles_["name"].to_dict()
    assert v.to_dict()["persona_names"] == {str(p): n for p, n in v.persona_names.items()}
    # the report's profiles name persona 0 otherwise: the check's own names win in its table
    html = jm.persona_report(_profiles(), tmp_path / "v.html", validity=v).read_text("utf-8")
    table = html[html.index("Outcome rate by persona") :]
    assert miner.profiles_["name"].iloc[0] in table
