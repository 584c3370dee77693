"""The `jm` command line: exit codes and what it prints."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
from _uvicorn_server import free_port, wait_for_health
from typer.testing import CliRunner

from journeymine.cli import app
from journeymine.datasets import make_journeys, sample_policy_path, save_journeys

runner = CliRunner()


def test_generate_then_validate(tmp_path: Path) -> None:
    res = runner.invoke(
        app,
        [
            "generate",
            str(tmp_path),
            "--customers",
            "150",
            "--days",
            "30",
            "--random-state",
            "3",
            "--csv-rows",
            "50",
        ],
    )
    assert res.exit_code == 0, res.output
    assert (tmp_path / "events.parquet").exists() and (tmp_path / "events_small.csv").exists()
    events = pd.read_parquet(tmp_path / "events.parquet")
    expected = make_journeys(150, days=30, random_state=3).events
    pd.testing.assert_frame_equal(events, expected)

    res = runner.invoke(app, ["validate", str(tmp_path / "events.parquet"), "--json"])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    assert summary["events"] == len(expected)
    assert summary["customers"] == expected["customer_id"].nunique()


def test_validate_reports_problems_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("user,ts,event\n1,2025-01-01 10:00,a\n2,notadate,b\n,2025-01-02 10:00,c\n")
    res = runner.invoke(app, ["validate", str(bad)])
    assert res.exit_code == 1
    assert "missing columns 'customer_id' (Did you mean 'user'?)" in res.output
    assert "e.g. --map user=customer_id --map ts=timestamp --map event=activity." in res.output
    res = runner.invoke(
        app,
        [
            "validate",
            str(bad),
            "-m",
            "user=customer_id",
            "-m",
            "ts=timestamp",
            "-m",
            "event=activity",
        ],
    )
    assert res.exit_code == 1
    assert "could not be parsed in row 1" in res.output and "'notadate'" in res.output
    assert "null or empty customer_id in row 2" in res.output


def test_validate_bad_arguments(tmp_path: Path) -> None:
    res = runner.invoke(app, ["validate", str(tmp_path / "missing.parquet")])
    assert res.exit_code == 2 and "missing.parquet" in res.output
    res = runner.invoke(app, ["validate", str(tmp_path / "x.csv"), "--map", "nonsense"])
    assert res.exit_code == 2 and "SOURCE=CANONICAL" in res.output
    res = runner.invoke(app, ["generate", str(tmp_path), "--customers", "0"])
    assert res.exit_code == 2 and "--customers" in res.output


def test_demo_writes_summary(tmp_path: Path) -> None:
    save_journeys(make_journeys(300, days=60, random_state=0), tmp_path / "data")
    res = runner.invoke(app, ["demo", str(tmp_path / "data"), "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["log"]["events"] > 0
    # on 270 customers over 60 days the personas may be one group: no classifier to train,
    # said as such, and the rest of the demo still runs
    if summary["personas"]["personas"] < 2:
        assert "skipped" in summary["assignment"] and "assignment skipped" in res.output
        assert not (tmp_path / "out" / "persona_model.skops").exists()
    else:
        assert summary["assignment"]["held_back_customers"] > 0
    assert (tmp_path / "out" / "next_best_actions.csv").exists()
    res = runner.invoke(app, ["demo", str(tmp_path / "nothing")])
    assert res.exit_code == 2 and "jm generate" in res.output


def test_console_script_is_installed() -> None:
    exe = Path(sys.executable).parent / "jm"
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, check=True)
    assert "validate" in out.stdout and "generate" in out.stdout


def _sample(tmp_path: Path, n: int = 400) -> Path:
    save_journeys(make_journeys(n, days=60, random_state=2), tmp_path / "data")
    return tmp_path / "data" / "events.parquet"


def test_mine_prints_and_writes_tables(tmp_path: Path) -> None:
    events = _sample(tmp_path)
    res = runner.invoke(
        app,
        [
            "mine",
            str(events),
            "--out",
            str(tmp_path / "m"),
            "--top-k",
            "3",
            "--funnel",
            "visit,add_to_cart,purchase",
        ],
    )
    assert res.exit_code == 0, res.output
    dfg = pd.read_csv(tmp_path / "m" / "dfg.csv")
    log = pd.read_parquet(events)
    n_edges = len(log) - log["customer_id"].nunique()
    assert dfg["count"].sum() == n_edges  # every directly-follows pair counted once
    funnel = pd.read_csv(tmp_path / "m" / "funnel.csv")
    assert funnel["activity"].tolist() == ["visit", "add_to_cart", "purchase"]
    res = runner.invoke(app, ["mine", str(events), "--funnel", "visit,purchse"])
    assert res.exit_code == 2 and "Did you mean 'purchase'" in res.output


def test_changes_and_report(tmp_path: Path) -> None:
    events = _sample(tmp_path, 1500)
    res = runner.invoke(app, ["changes", str(events), "--out", str(tmp_path / "c.csv")])
    assert res.exit_code == 0, res.output
    found = pd.read_csv(tmp_path / "c.csv")
    assert "app" in set(found["channel"])  # the scheduled app checkout failure
    assert "scanned " in res.output and " series (" in res.output  # what was scanned
    res = runner.invoke(app, ["report", str(events), "--out", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "r" / "journeys.html").read_text()
    assert "<script src=" not in html and "Plotly.newPlot" in html
    assert (tmp_path / "r" / "changes.html").exists()


def test_changes_by_takes_a_comma_list(tmp_path: Path) -> None:
    """--by is a comma-separated list (blanks and empty items dropped); '' scans the whole log."""
    events = _sample(tmp_path, 300)
    per_channel, whole = tmp_path / "c.csv", tmp_path / "w.csv"
    res = runner.invoke(
        app, ["changes", str(events), "--by", " channel, ,", "--out", str(per_channel)]
    )
    assert res.exit_code == 0, res.output
    assert "channel" in pd.read_csv(per_channel).columns
    res = runner.invoke(app, ["changes", str(events), "--by", "", "--out", str(whole)])
    assert res.exit_code == 0, res.output
    assert "channel" not in pd.read_csv(whole).columns


def test_changes_on_a_log_without_channels(tmp_path: Path) -> None:
    """A process log has no channel: jm changes scans it as a whole by default and says so;
    an XES-named CSV gets the --preset xes hint."""
    events = pd.read_parquet(_sample(tmp_path, 300)).drop(columns="channel")
    events.to_parquet(tmp_path / "nochannel.parquet", index=False)
    res = runner.invoke(app, ["changes", str(tmp_path / "nochannel.parquet")])
    assert res.exit_code == 0, res.output
    assert "no channel column: scanning it as a whole" in res.output
    xes = events.rename(
        columns={"customer_id": "case:concept:name", "activity": "concept:name",
                 "timestamp": "time:timestamp"}
    )[["case:concept:name", "concept:name", "time:timestamp"]]  # fmt: skip
    xes.to_csv(tmp_path / "xes.csv", index=False)
    res = runner.invoke(app, ["mine", str(tmp_path / "xes.csv"), "--out", str(tmp_path / "m")])
    assert res.exit_code != 0 and "read the file with --preset xes" in res.output
    res = runner.invoke(
        app, ["mine", str(tmp_path / "xes.csv"), "--out", str(tmp_path / "m"), "--preset", "xes"]
    )
    assert res.exit_code == 0, res.output
    dfg = pd.read_csv(tmp_path / "m" / "dfg.csv")
    assert int(dfg["count"].sum()) == len(events) - events["customer_id"].nunique()


def test_personas_train_assign_serve(tmp_path: Path) -> None:
    import os

    import httpx

    events = _sample(tmp_path, 900)
    # the report may go into the --out folder the command creates (the README's example)
    report = tmp_path / "p" / "personas.html"
    res = runner.invoke(
        app, ["personas", str(events), "--out", str(tmp_path / "p"), "--report", str(report)]
    )
    assert res.exit_code == 0, res.output
    assert report.exists() and "Only " not in res.output  # most customers are eligible
    # the noise share says what noise is: beyond the tail learned from the log
    assert "of eligible, beyond their persona's tail (a t law," in res.output
    res = runner.invoke(app, ["personas", str(events), "--out", str(tmp_path / "q"), "--report",
                              str(tmp_path / "elsewhere" / "r.html")])  # fmt: skip
    assert res.exit_code != 0 and "does not exist; create it first" in res.output
    # a --min-events that leaves most customers out says so, with the fix
    busy = int(pd.read_parquet(events).groupby("customer_id").size().quantile(0.8))
    res = runner.invoke(
        app, ["personas", str(events), "--out", str(tmp_path / "m"), "--min-events", str(busy)]
    )
    assert res.exit_code == 0, res.output
    assert f"have at least --min-events {busy} events" in res.output and "lower it" in res.output
    labels = pd.read_csv(tmp_path / "p" / "labels.csv", dtype={"customer_id": str})
    assert labels["persona"].max() >= 2  # several personas found
    assert set(labels["customer_id"]) == set(pd.read_parquet(events)["customer_id"])

    model = tmp_path / "m.skops"
    res = runner.invoke(
        app,
        [
            "train",
            str(events),
            "--labels",
            str(tmp_path / "p" / "labels.csv"),
            "--model",
            str(model),
        ],
    )
    assert res.exit_code == 0, res.output
    assert model.exists() and model.with_suffix(".json").exists()
    assert "after all events: accuracy" in res.output

    res = runner.invoke(
        app, ["assign", str(events), "--model", str(model), "--out", str(tmp_path / "a.csv")]
    )
    assert res.exit_code == 0, res.output
    scored = pd.read_csv(tmp_path / "a.csv", dtype={"customer_id": str})
    assert len(scored) == labels["customer_id"].nunique()
    res = runner.invoke(app, ["assign", str(events), "--model", str(tmp_path / "p" / "labels.csv")])
    assert res.exit_code == 2 and "card" in res.output

    port = free_port()
    exe = Path(sys.executable).parent / "jm"
    env = os.environ | {"JOURNEYMINE_API_KEY": "k3y"}
    proc = subprocess.Popen(
        [str(exe), "serve", "--model", str(model), "--port", str(port), "--access-log"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        r = wait_for_health(port, proc)
        assert r.status_code == 200
        body = {
            "customer_id": "x",
            "events": [
                {
                    "customer_id": "x",
                    "timestamp": "2025-01-01T10:00:00Z",
                    "activity": "visit",
                    "channel": "web",
                }
            ],
        }
        url = f"http://127.0.0.1:{port}/v1/assign"
        assert httpx.post(url, json=body, timeout=5).status_code == 401
        r = httpx.post(url, json=body, headers={"X-API-Key": "k3y"}, timeout=5)
        assert r.status_code == 200 and r.json()["customer_id"] == "x"
    finally:
        proc.terminate()
        out = proc.communicate(timeout=20)[0].decode()
    # --access-log: uvicorn's line per request (off by default)
    assert '"POST /v1/assign HTTP/1.1" 200' in out, out[-2000:]


def test_nba_and_backtest(tmp_path: Path) -> None:
    data = make_journeys(400, days=60, random_state=2)
    save_journeys(data, tmp_path)
    names = sorted(data.customers["persona"].unique())
    labels = data.customers.assign(persona=data.customers["persona"].map(names.index))
    labels[["customer_id", "persona"]].to_csv(tmp_path / "labels.csv", index=False)
    policy = sample_policy_path()
    events = str(tmp_path / "events.parquet")
    common = ["--policy", str(policy), "--personas", str(tmp_path / "labels.csv")]
    res = runner.invoke(
        app,
        ["nba", events, *common, "--out", str(tmp_path / "a.csv"), "--why-not",
         str(tmp_path / "w.csv"), "--responses-out", str(tmp_path / "rates.json")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "rates.json").read_text())["format"] == (
        "journeymine.response_rates"
    )
    actions = pd.read_csv(tmp_path / "a.csv", dtype={"customer_id": str})
    why = pd.read_csv(tmp_path / "w.csv")
    assert len(actions) == data.events["customer_id"].nunique()
    assert "why not" in res.output and set(why["reason"]) <= {
        "not_eligible", "suppressed", "min_gap", "capped", "below_threshold", "outranked",
    }  # fmt: skip
    res = runner.invoke(app, ["backtest", events, *common, "--out", str(tmp_path / "b.csv")])
    assert res.exit_code == 0, res.output
    assert "agree_share" in res.output
    assert len(pd.read_csv(tmp_path / "b.csv")) > 0
    # bad inputs: exit code 2 and a message that says what to fix
    res = runner.invoke(app, ["nba", events, "--policy", str(tmp_path / "nope.yaml"),
                              "--personas", str(tmp_path / "labels.csv")])  # fmt: skip
    assert res.exit_code == 2 and "no policy file" in res.output
    (tmp_path / "bad.csv").write_text("customer_id,segment\nC1,a\n")
    res = runner.invoke(app, ["nba", events, "--policy", str(policy), "--personas",
                              str(tmp_path / "bad.csv")])  # fmt: skip
    assert res.exit_code == 2 and "lacks columns ['persona']" in res.output
