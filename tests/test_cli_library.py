"""The CLI can do what the library does (#11 class 7): every item with its exit code and effect."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from journeymine.actions import Policy
from journeymine.cli import app
from journeymine.datasets import make_journeys, sample_policy, save_journeys

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated sample folder (events.parquet + ground truth): 400 customers, 60 days."""
    folder = tmp_path_factory.mktemp("sample")
    save_journeys(make_journeys(400, days=60, random_state=2), folder)
    return folder


def _help_texts() -> dict[str, str]:
    """The help of every command: its text and every parameter's help, unwrapped."""
    group = typer.main.get_command(app)
    texts = {}
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        parts = [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]
        texts[name] = " ".join(parts)
    return texts


def test_examples_policy_is_the_sample_policy() -> None:
    assert Policy.from_file(ROOT / "examples" / "policy.yaml") == sample_policy()


def test_every_path_named_in_help_texts_exists() -> None:
    named = {
        (command, m)
        for command, text in _help_texts().items()
        for m in re.findall(r"examples/[\w./-]*\w", text)
    }
    assert named, "no help text names a file under examples/"
    missing = sorted((c, p) for c, p in named if not (ROOT / p).exists())
    assert not missing, f"help texts name files that do not exist: {missing}"
    # the rendered help too (what a user reads)
    res = runner.invoke(app, ["nba", "--help"], terminal_width=200)
    assert res.exit_code == 0 and "examples/policy.yaml" in res.output


def test_personas_incomplete_windows_hint_and_fix_and_report(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    save_journeys(make_journeys(500, days=100, random_state=3), tmp_path / "d")
    events = str(tmp_path / "d" / "events.parquet")
    with caplog.at_level("WARNING"):
        res = runner.invoke(
            app, ["personas", events, "--out", str(tmp_path / "p"), "--windows", "60D"]
        )
    assert res.exit_code == 0, res.output
    dropped = [r.getMessage() for r in caplog.records if "would be incomplete" in r.getMessage()]
    assert len(dropped) == 1 and "--incomplete keep" in dropped[0], dropped  # the CLI option
    assert "incomplete='keep'" not in dropped[0]
    assert "Tracked over 1 window:" in res.output
    caplog.clear()
    report = tmp_path / "p" / "personas.html"
    with caplog.at_level("WARNING"):
        res = runner.invoke(
            app,
            ["personas", events, "--out", str(tmp_path / "p"), "--windows", "60D",
             "--incomplete", "keep", "--report", str(report)],
        )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert not [r for r in caplog.records if "would be incomplete" in r.getMessage()]
    assert "Tracked over 2 windows" in res.output
    # one line per pair of windows: who changed persona, all and confident
    assert res.output.count("with a persona in both windows changed persona") == 1
    assert "with a persona probability of at least 0.9 in both" in res.output
    assert "expected share of movers" in res.output  # --smoothing hmm, the default
    sizes = pd.read_csv(tmp_path / "p" / "persona_sizes.csv")
    assert len(sizes) == 2
    # who moved: the customers holding 95% of the expected movers, most probable first
    assert "expected to hold 95% of the" in res.output and "--movers-recall 0.95" in res.output
    movers = pd.read_csv(tmp_path / "p" / "movers.csv")
    assert list(movers.columns) == [
        "customer_id",
        "move_probability",
        "from_persona",
        "to_persona",
        "window",
    ]
    assert len(movers) > 0 and movers["move_probability"].is_monotonic_decreasing
    assert movers["move_probability"].between(0, 1).all()
    html = report.read_text(encoding="utf-8")
    assert f"wrote {report}" in res.output and "Plotly.newPlot" in html
    assert "<script src=" not in html and "over time" in html
    # a lower --movers-recall lists the most probable of the same customers, fewer of them
    res = runner.invoke(
        app,
        ["personas", events, "--out", str(tmp_path / "q"), "--windows", "60D",
         "--incomplete", "keep", "--movers-recall", "0.5"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    fewer = pd.read_csv(tmp_path / "q" / "movers.csv")
    assert 0 < len(fewer) < len(movers)
    assert fewer["customer_id"].tolist() == movers["customer_id"].tolist()[: len(fewer)]
    # --refine: the windows smoothed again with a classifier's evidence (logged)
    with caplog.at_level("INFO", logger="journeymine.personas.window_refine"):
        res = runner.invoke(
            app,
            ["personas", events, "--out", str(tmp_path / "r"), "--windows", "60D",
             "--incomplete", "keep", "--refine"],
        )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "window evidence refined" in caplog.text or "not refined" in caplog.text
    refined = pd.read_csv(tmp_path / "r" / "movers.csv")
    assert refined["move_probability"].between(0, 1).all()
    res = runner.invoke(app, ["personas", events, "--refine", "--smoothing", "margin"])
    assert res.exit_code != 0 and "--smoothing hmm" in res.output, res.output
    res = runner.invoke(app, ["personas", events, "--windows", "60D", "--movers-recall", "0"])
    assert res.exit_code == 2 and "(0, 1]" in res.output and "--movers-recall 0.9" in res.output
    # bad values: usage errors before any work
    res = runner.invoke(app, ["personas", events, "--incomplete", "maybe"])
    assert res.exit_code == 2 and "drop or keep" in res.output
    res = runner.invoke(app, ["personas", events, "--smoothing", "viterbi"])
    assert res.exit_code == 2 and "hmm or margin" in res.output
    res = runner.invoke(app, ["personas", events, "--report", str(tmp_path / "no" / "r.html")])
    assert res.exit_code == 2 and "--report" in res.output and "does not exist" in res.output


def test_report_by_segment_and_funnel(sample: Path, tmp_path: Path) -> None:
    log = pd.read_parquet(sample / "events.parquet")
    customers = pd.read_parquet(sample / "customers.parquet")
    tier = customers.set_index("customer_id")["has_app"].map({True: "app", False: "web only"})
    segmented = tmp_path / "events.parquet"
    log.assign(tier=log["customer_id"].map(tier)).to_parquet(segmented)
    out = tmp_path / "r"
    res = runner.invoke(
        app,
        ["report", str(segmented), "--out", str(out), "--segment", "tier",
         "--funnel", "visit,add_to_cart,purchase"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    html = (out / "journeys.html").read_text(encoding="utf-8")
    assert "Funnel by tier" in html and "How each tier moves" in html
    assert "Process map: app" in html and "Process map: web only" in html
    # the funnel has the given steps (in the summary: visit ... go on to purchase)
    assert "who visit go on to purchase" in html
    # a misspelt step or column: usage error naming the fix, before the reports
    res = runner.invoke(
        app, ["report", str(segmented), "--out", str(tmp_path / "x"), "--funnel", "visit,purchse"]
    )
    assert res.exit_code == 2 and "Did you mean 'purchase'" in res.output
    assert not (tmp_path / "x" / "journeys.html").exists()
    res = runner.invoke(
        app, ["report", str(segmented), "--out", str(tmp_path / "x"), "--segment", "tie"]
    )
    assert res.exit_code == 2 and "--segment 'tie'" in res.output
    assert "Did you mean 'tier'" in res.output
    # --by, the old name of --segment, still works for one minor release (hidden from --help)
    old = tmp_path / "old"
    res = runner.invoke(app, ["report", str(segmented), "--out", str(old), "--by", "tier",
                              "--funnel", "visit,add_to_cart,purchase"])  # fmt: skip
    assert res.exit_code == 0, res.output
    old_html = (old / "journeys.html").read_text(encoding="utf-8")
    assert "Funnel by tier" in old_html and "Process map: web only" in old_html
    help_text = runner.invoke(app, ["report", "--help"]).output
    assert "--segment" in help_text and "--by" not in help_text
    res = runner.invoke(
        app, ["report", str(segmented), "--out", str(old), "--by", "tier", "--segment", "channel"]
    )
    assert res.exit_code == 2 and "pass --segment only" in res.output
    res = runner.invoke(app, ["report", str(segmented), "--funnel", "visit"])
    assert res.exit_code == 2 and "at least two" in res.output


def test_journey_report_by_column_refuses_both_and_unknown(sample: Path, tmp_path: Path) -> None:
    from journeymine.exceptions import ConfigError
    from journeymine.io import read_events
    from journeymine.report import journey_report

    log = read_events(sample / "events.parquet")
    with pytest.raises(ConfigError, match="not both"):
        journey_report(log, tmp_path / "j.html", segment="channel", personas={"C1": 1})
    with pytest.raises(ConfigError, match=r"segment='chanel'.*Did you mean 'channel'"):
        journey_report(log, tmp_path / "j.html", segment="chanel")


def test_journey_report_by_is_the_old_name_of_segment(sample: Path, tmp_path: Path) -> None:
    """by= (journey_report, journey_report_data) and JourneyReportData.by keep working for one
    minor release with a FutureWarning naming segment, and give the same result."""
    from journeymine.io import read_events
    from journeymine.report import journey_report, journey_report_data

    log = read_events(sample / "events.parquet")
    new = journey_report_data(log, segment="channel", top_k=8)
    with pytest.warns(FutureWarning, match=r"journey_report_data\(by=...\) is renamed"):
        old = journey_report_data(log, by="channel", top_k=8)
    assert old.group == new.group == "channel" and old.segment == "channel"
    pd.testing.assert_frame_equal(old.funnel_by_group, new.funnel_by_group)
    assert [n for n, _ in old.group_maps] == [n for n, _ in new.group_maps]
    with pytest.warns(FutureWarning, match=r"JourneyReportData.by is renamed"):
        assert new.by == "channel"
    with pytest.warns(FutureWarning, match=r"journey_report\(by=...\) is renamed"):
        page = journey_report(log, tmp_path / "old.html", by="channel", top_k=8)
    assert "Funnel by channel" in page.read_text(encoding="utf-8")


def test_demo_uses_the_given_policy(tmp_path: Path) -> None:
    import yaml

    sample = tmp_path / "data"
    save_journeys(make_journeys(300, days=60, random_state=0), sample)

    doc = yaml.safe_load((ROOT / "examples" / "policy.yaml").read_text())
    doc["journeys"] = [
        j for j in doc["journeys"] if j["name"] in ("cart_abandonment", "flash_sale")
    ]
    policy = tmp_path / "two.yaml"
    policy.write_text(yaml.safe_dump(doc))
    res = runner.invoke(
        app, ["demo", str(sample), "--out", str(tmp_path / "out"), "--policy", str(policy)]
    )
    assert res.exit_code == 0, res.output
    actions = pd.read_csv(tmp_path / "out" / "next_best_actions.csv")
    assert set(actions["action"].dropna()) <= {"cart_abandonment", "flash_sale"}
    assert set(actions["action"].dropna())  # it decided something
    # a policy whose journeys the log never sends: refused before any work, naming it
    doc["journeys"] = [{"name": "sms_promo", "channel": "sms", "activity": "sms_sent"}]
    doc.pop("caps")
    policy.write_text(yaml.safe_dump(doc))
    res = runner.invoke(
        app, ["demo", str(sample), "--out", str(tmp_path / "o2"), "--policy", str(policy)]
    )
    assert res.exit_code == 1 and "no touch of the policy's journeys" in res.output
    assert not (tmp_path / "o2" / "personas.csv").exists()
    res = runner.invoke(app, ["demo", str(sample), "--policy", str(tmp_path / "none.yaml")])
    assert res.exit_code == 2 and "no policy file" in res.output


def _cold_start(sample: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """The sample's log without its touches, persona labels, and a policy with priors."""
    import yaml

    log = pd.read_parquet(sample / "events.parquet")
    policy = sample_policy()
    cold = log[~log["activity"].astype(str).isin(policy.touch_activities)]
    assert len(cold) < len(log)
    events = tmp_path / "cold.parquet"
    cold.to_parquet(events)
    customers = pd.read_parquet(sample / "customers.parquet")
    names = sorted(customers["persona"].unique())
    labels = customers.assign(persona=customers["persona"].map(names.index))
    labels[["customer_id", "persona"]].to_csv(tmp_path / "labels.csv", index=False)
    doc = yaml.safe_load((ROOT / "examples" / "policy.yaml").read_text())
    doc["prior_rate"] = 0.05
    for j in doc["journeys"]:
        if j["name"] == "cart_abandonment":
            j["prior_rate"] = 0.3
        if j["name"] == "flash_sale":
            j["prior_rate"] = 0.01  # below min_expected_response 0.02: never sent
    priors = tmp_path / "priors.yaml"
    priors.write_text(yaml.safe_dump(doc))
    return events, tmp_path / "labels.csv", priors


def test_nba_cold_start_uses_priors_through_every_gate(sample: Path, tmp_path: Path) -> None:
    events, labels, priors = _cold_start(sample, tmp_path)
    args = ["nba", str(events), "--personas", str(labels)]
    # without priors: refused, naming the fix
    res = runner.invoke(app, [*args, "--policy", str(ROOT / "examples" / "policy.yaml")])
    assert res.exit_code == 2 and "no touch of the policy's journeys" in res.output
    assert "prior_rate" in res.output
    out, why = tmp_path / "a.csv", tmp_path / "w.csv"
    res = runner.invoke(
        app, [*args, "--policy", str(priors), "--out", str(out), "--why-not", str(why), "--strict"]
    )
    assert res.exit_code == 0, res.output
    assert "response rates are PRIORS from the policy" in res.output and "cold start" in res.output
    assert "cart_abandonment 0.300" in res.output and "win_back 0.050" in res.output
    actions = pd.read_csv(out)
    chosen = set(actions["action"].dropna())
    assert "cart_abandonment" in chosen and "flash_sale" not in chosen
    assert set(actions.loc[actions["action"].notna(), "rate_source"]) == {"prior"}
    # the decision went through the gates: eligibility, the threshold, and the arbitration
    reasons = pd.read_csv(why)
    got = set(reasons["reason"])
    assert {"not_eligible", "below_threshold", "outranked"} <= got, got
    flash = reasons[reasons["journey"] == "flash_sale"]
    assert set(flash["reason"]) <= {"not_eligible", "below_threshold"}
    picked = actions[actions["action"] == "cart_abandonment"]
    assert (picked["expected_response"] == 0.3).all()


def test_response_model_priors(tmp_path: Path) -> None:
    from journeymine.actions import ResponseModel
    from journeymine.exceptions import ConfigError

    data = make_journeys(300, days=60, random_state=0)
    base = {"name": "flash_sale", "channel": "push", "activity": "push_sent"}
    other = {"name": "promo", "channel": "sms", "activity": "sms_promo", "prior_rate": 0.2}
    policy = Policy.from_dict({"journeys": [base, other], "prior_rate": 0.1})
    personas = data.customers.set_index("customer_id")["persona"].astype("category").cat.codes
    m = ResponseModel(prior_strength=20).fit(data.events, personas, policy)
    assert m.sources_ == {"flash_sale": "log+prior", "promo": "prior"}
    overall = m.table_[m.table_["persona"] == -1].set_index("journey")
    n, r = overall.loc["flash_sale", ["touches", "responses"]]
    assert overall.loc["flash_sale", "rate"] == pytest.approx((r + 20 * 0.1) / (n + 20))
    assert overall.loc["promo", "rate"] == 0.2 and not m.cold_start
    # saved and loaded with its sources
    assert ResponseModel.load(m.save(tmp_path / "rates.json")).sources_ == m.sources_
    for bad in (-0.1, 1.5, "lots", True):
        with pytest.raises(ConfigError, match=r"prior_rate must be a response rate in \[0, 1\]"):
            Policy.from_dict({"journeys": [base], "prior_rate": bad})
    # a journey never sent with a prior is not "a policy that silently does nothing"
    assert Policy.from_dict({"journeys": [other]}).check_against(["visit"]) == []


def _exported(sample: Path, folder: Path) -> Path:
    """The sample's log as a CSV export with the columns named differently."""
    folder.mkdir(parents=True, exist_ok=True)
    log = pd.read_parquet(sample / "events.parquet")
    export = folder / "export.csv"
    log.rename(columns={"customer_id": "user", "timestamp": "ts", "activity": "event"}).to_csv(
        export, index=False
    )
    return export


CONFIG = """# the project's read settings
tz = "UTC"
plausible_range = ["2020-01-01", "2030-01-01"]

[columns]
user = "customer_id"
ts = "timestamp"
event = "activity"
"""


def test_config_file_mapping_used_by_two_commands_without_map(
    sample: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    export = _exported(sample, project)
    monkeypatch.chdir(project)
    res = runner.invoke(app, ["validate", "export.csv"])
    assert res.exit_code == 1 and "missing columns" in res.output  # no config yet
    (project / "journeymine.toml").write_text(CONFIG)
    res = runner.invoke(app, ["validate", "export.csv", "--json"])
    assert res.exit_code == 0, res.output
    n = pd.read_parquet(sample / "events.parquet")["customer_id"].nunique()
    assert f'"customers": {n}' in res.output
    res = runner.invoke(app, ["mine", "export.csv", "--out", "m", "--funnel", "visit,purchase"])
    assert res.exit_code == 0, res.output
    assert pd.read_csv(project / "m" / "funnel.csv")["cases"].iloc[0] > 0
    # options on the command line win over the file
    res = runner.invoke(
        app, ["validate", str(export), "--plausible-range", "2026-01-01,2030-01-01"]
    )
    assert res.exit_code == 1 and "2026" in res.output
    # --config / JM_CONFIG from anywhere; --map adds to (or replaces) the file's columns
    monkeypatch.chdir(tmp_path)
    cfg = str(project / "journeymine.toml")
    res = runner.invoke(app, ["validate", str(export), "--config", cfg])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["validate", str(export)], env={"JM_CONFIG": cfg})
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["validate", str(export), "--config", cfg, "--map", "user=session_id"])
    assert res.exit_code == 1  # user is now the session; no customer_id column left


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('timezone = "UTC"\n', "unknown key 'timezone'"),
        ('tz = "UTC"\ntimestamp_formt = "%d/%m/%Y"\n', "Did you mean 'timestamp_format'?"),
        ('tz = "Europ/Paris"\n', "Did you mean 'Europe/Paris'?"),
        ('timestamp_unit = "sec"\n', "Use s, ms, us or ns"),
        ('[columns]\nuser = "customer"\n', "Did you mean 'customer_id'?"),
        ('[columns]\nuser = "customer_id"\ntz = "UTC"\n', "write it above [columns]"),
        ("tz = \n", "is not valid TOML"),
        ('plausible_range = "2030-01-01,2020-01-01"\n', "START before END"),
    ],
)
def test_config_file_refuses_unknown_keys_and_bad_values(
    tmp_path: Path, text: str, expected: str
) -> None:
    cfg = tmp_path / "journeymine.toml"
    cfg.write_text(text)
    res = runner.invoke(app, ["validate", str(tmp_path / "e.csv"), "--config", str(cfg)])
    assert res.exit_code == 2, res.output
    assert str(cfg) in res.output and expected in res.output, res.output


def test_config_missing_file_and_serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    res = runner.invoke(app, ["validate", "x.csv", "--config", str(tmp_path / "no.toml")])
    assert res.exit_code == 2 and "--config" in res.output and "no such file" in res.output
    seen: dict = {}
    monkeypatch.setattr("journeymine.assignment.service.serve", lambda model, **kw: seen.update(kw))
    model = tmp_path / "m.skops"
    model.write_bytes(b"")
    (tmp_path / "journeymine.toml").write_text('plausible_range = "none"\n')
    monkeypatch.chdir(tmp_path)
    assert runner.invoke(app, ["serve", "--model", str(model)]).exit_code == 0
    assert seen["plausible_range"] is None
    res = runner.invoke(
        app, ["serve", "--model", str(model), "--plausible-range", "2000-01-01,2001-01-01"]
    )
    assert res.exit_code == 0 and seen["plausible_range"] == ("2000-01-01", "2001-01-01")


def test_personas_window_without_a_persona_says_what_to_change(tmp_path: Path) -> None:
    """A window in which no customer reaches --min-events events (a process log's short
    cases; here the second 50 days keep one event a customer) is refused with the reason and
    the option to change, in the CLI's terms; with a lower --min-events it runs."""
    log = make_journeys(400, days=100, random_state=3).events
    late = log["timestamp"] >= log["timestamp"].min().normalize() + pd.Timedelta(days=50)
    thin = pd.concat([log[~late], log[late].groupby("customer_id", observed=True).head(1)])
    path = tmp_path / "thin.parquet"
    thin.to_parquet(path)
    args = ["personas", str(path), "--out", str(tmp_path / "p"), "--windows", "50D"]
    res = runner.invoke(app, [*args, "--incomplete", "keep", "--min-events", "10"])
    assert res.exit_code != 0
    said = " ".join(res.output.split())
    assert "window 1 [" in said and "no customer has a persona in it" in said
    assert "with fewer than --min-events 10 events in the window" in said
    assert "Lower --min-events (e.g. --min-events 3 for short cases)" in said
    assert "min_events" not in said and not (tmp_path / "p" / "labels.csv").exists()
    # at 3 (where --min-events auto lands on this log) the hint proposes less than 3
    res = runner.invoke(app, [*args, "--incomplete", "keep", "--min-events", "3"])
    said = " ".join(res.output.split())
    assert res.exit_code != 0 and "(e.g. --min-events 2 for short cases)" in said, said
    res = runner.invoke(app, [*args, "--incomplete", "keep", "--min-events", "1"])
    assert res.exit_code == 0, res.output


def test_personas_too_few_customers_names_only_cli_options(tmp_path: Path) -> None:
    """Too few customers with --min-events events to cluster (none of 30 has 500 events;
    a short process log hits the same with the default) is refused with a hint that names
    options `jm personas` has, not the library's min_cluster_size; the hint's fix, a lower
    --min-events, lets it run."""
    log = make_journeys(30, days=30, random_state=2).events
    path = tmp_path / "few.parquet"
    log.to_parquet(path)
    args = ["personas", str(path), "--out", str(tmp_path / "p")]
    res = runner.invoke(app, [*args, "--min-events", "500"])
    said = " ".join(res.output.split())
    assert res.exit_code != 0 and "too few customers to cluster" in said, said
    assert "Lower --min-events, or use a longer time window" in said
    assert "min_cluster_size" not in said and not (tmp_path / "p").exists()
    res = runner.invoke(app, [*args, "--min-events", "5"])
    assert res.exit_code == 0, res.output


def test_personas_hint_lowers_min_events_below_what_auto_chose(tmp_path: Path) -> None:
    """A log where most customers have two events: --min-events auto resolves to its floor, 3,
    fewer than half the customers reach it, and the hint proposes a lower value than the one
    used (not 3 again)."""
    log = make_journeys(800, days=60, random_state=5).events
    rank = log.groupby("customer_id").cumcount()
    keep_all = log["customer_id"].str[-1].isin(list("012"))  # 30% keep their history
    cut = log[keep_all | (rank < 2)]
    path = tmp_path / "short.parquet"
    cut.to_parquet(path)
    res = runner.invoke(app, ["personas", str(path), "--out", str(tmp_path / "p")])
    said = " ".join(res.output.split())
    assert res.exit_code == 0, said
    assert "have at least --min-events 3 events" in said, said
    assert "lower it, e.g. --min-events 2." in said, said
