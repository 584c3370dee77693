"""Issue #11, classes 1 and 3: the CLI never loses a user's data and never shows a traceback.

Class 1: every output path is checked before any work (an output that is the input, through a
hard or a symbolic link too; a missing or unwritable folder; a file where a folder is expected
and the reverse), and the input stays byte-identical. Class 3: every failure is one line that
says what was wrong and how to fix it, exit code 2 for usage errors and 1 for data errors, with
CLI options (not Python keywords) in the hints.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from journeymine.cli import app
from journeymine.cli_errors import cli_hint, describe, exit_code
from journeymine.datasets import make_journeys, save_journeys
from journeymine.exceptions import ConfigError, EmptyLogError, ModelError

runner = CliRunner()
JM = Path(sys.executable).parent / "jm"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fails(args: list[str], code: int, *needles: str) -> str:
    """Run `jm args`; assert the exit code, one error line naming every needle, no traceback."""
    started = time.perf_counter()
    res = runner.invoke(app, [str(a) for a in args])
    elapsed = time.perf_counter() - started
    assert res.exit_code == code, res.output
    assert "Traceback" not in res.output, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.output
    errors = [line for line in res.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, res.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]
    assert elapsed < 20, f"the error came after {elapsed:.1f} s: after the work, not before"
    return errors[0]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sample")
    save_journeys(make_journeys(300, days=30, random_state=1), folder)
    return folder


@pytest.fixture
def events(sample: Path, tmp_path: Path) -> Path:
    """A private copy of the sample's Parquet log (tests may try to overwrite it)."""
    path = tmp_path / "events.parquet"
    path.write_bytes((sample / "events.parquet").read_bytes())
    return path


# ------------------------------------------------------------------ class 1: data loss
@pytest.mark.parametrize("link", ["same", "hard", "symbolic"])
@pytest.mark.parametrize(
    ("command", "option"),
    [
        (["changes"], "--out"),
        (["assign", "--model", "no_model.skops"], "--out"),
        (["nba", "--policy", "p.yaml", "--personas", "l.csv"], "--why-not"),
        (["backtest", "--policy", "p.yaml", "--personas", "l.csv"], "--out"),
        (["train", "--labels", "l.csv"], "--model"),
    ],
)
def test_output_pointing_at_the_input_leaves_it_byte_identical(
    events: Path, tmp_path: Path, command: list[str], option: str, link: str
) -> None:
    before = _digest(events)
    target = events
    if link == "hard":
        target = tmp_path / "hard_link.csv"
        os.link(events, target)
    elif link == "symbolic":
        target = tmp_path / "symlink.csv"
        target.symlink_to(events)
    args = [command[0], str(events), *command[1:], option, str(target)]
    _fails(args, 2, option, "points at the input file events.parquet", "choose another path")
    assert _digest(events) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        {"events.parquet", target.name}
    )  # nothing else written, no temporary file left


def test_output_folder_holding_the_input_under_an_output_name(tmp_path: Path) -> None:
    log = tmp_path / "dfg.csv"  # `jm mine --out DIR` writes DIR/dfg.csv
    log.write_text("customer_id,timestamp,activity\nc1,2025-01-01 10:00,visit\n")
    before = _digest(log)
    _fails(["mine", log, "--out", tmp_path], 2, "--out", "points at the input file dfg.csv")
    assert _digest(log) == before


def test_missing_folder_fails_before_any_work(tmp_path: Path) -> None:
    garbage = tmp_path / "events.csv"
    garbage.write_text("not,an\nevent,log\n")  # reading it first would give another error
    _fails(
        ["changes", garbage, "--out", tmp_path / "missing" / "changes.csv"],
        2,
        "--out",
        "does not exist",
        "mkdir -p",
    )
    assert not (tmp_path / "missing").exists()


def test_folder_that_is_a_file_fails_before_training(tmp_path: Path) -> None:
    garbage = tmp_path / "events.csv"
    garbage.write_text("not,an\nevent,log\n")
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    _fails(
        ["train", garbage, "--labels", tmp_path / "missing.csv", "--model", a_file / "m.skops"],
        2,
        "--model",
        "is a file, not a folder",
    )
    _fails(["report", garbage, "--out", a_file / "reports"], 2, "--out", "is a file, not a folder")
    _fails(["generate", a_file / "sample"], 2, "OUT", "is a file, not a folder")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "events.csv"]


def test_file_where_a_folder_is_expected_and_the_reverse(tmp_path: Path) -> None:
    garbage = tmp_path / "events.csv"
    garbage.write_text("not,an\nevent,log\n")
    _fails(["changes", garbage, "--out", tmp_path], 2, "is a folder, but a file is expected")
    _fails(["mine", garbage, "--out", garbage], 2, "is a file, but a folder is expected")
    (tmp_path / "out" / "dfg.csv").mkdir(parents=True)  # a folder where mine writes a file
    _fails(["mine", garbage, "--out", tmp_path / "out"], 2, "dfg.csv is a folder")
    _fails(
        ["nba", garbage, "--policy", "p.yaml", "--personas", "l.csv", "--out",
         tmp_path / "a.csv", "--why-not", tmp_path / "a.csv"],
        2, "--out and --why-not both write",
    )  # fmt: skip


def test_unwritable_folder_fails_before_any_work(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        if os.access(locked, os.W_OK):  # root ignores permissions: use a read-only mount
            locked = Path("/proc/sys")
            if os.access(locked, os.W_OK):
                pytest.skip("no unwritable folder for this user")
        garbage = tmp_path / "events.csv"
        garbage.write_text("not,an\nevent,log\n")
        _fails(["changes", garbage, "--out", locked / "c.csv"], 2, "--out", "not writable")
        _fails(["report", garbage, "--out", locked / "r"], 2, "--out", "not writable")
    finally:
        (tmp_path / "locked").chmod(0o755)


def test_a_folder_given_as_the_event_file(tmp_path: Path) -> None:
    _fails(["mine", tmp_path], 2, "is a folder", "give the event file")


def test_successful_outputs_leave_no_temporary_files(events: Path, tmp_path: Path) -> None:
    res = runner.invoke(app, ["mine", str(events), "--out", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    names = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert names == ["dfg.csv", "end_activities.csv", "start_activities.csv", "variants.csv"]


# ------------------------------------------------------------------ class 3: tracebacks
def _csv(tmp_path: Path, rows: str, name: str = "log.csv") -> Path:
    path = tmp_path / name
    path.write_text("customer_id,timestamp,activity,channel\n" + rows)
    return path


def test_unknown_timestamp_unit_and_timezone(tmp_path: Path) -> None:
    log = _csv(tmp_path, "c1,1735725600,visit,web\n")
    _fails(["validate", log, "--timestamp-unit", "xx"], 2, "--timestamp-unit", "s, ms, us or ns")
    _fails(["mine", log, "--tz", "Europe/Pari"], 2, "--tz", "Did you mean 'Europe/Paris'")


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("journeys: !!python/object/apply:os.system ['touch PWNED']\n", ("tags", "not allowed")),
        ("journeys: [1, 2\n", ("line 2", "YAML syntax")),
        ("{journeys: []}", ("not valid JSON at line 1, column 2", "double-quoted")),
    ],
)
def test_broken_or_hostile_policy(
    events: Path, tmp_path: Path, text: str, needles: tuple[str, ...]
) -> None:
    policy = tmp_path / ("policy.json" if text.startswith("{") else "policy.yaml")
    policy.write_text(text)
    labels = tmp_path / "labels.csv"
    labels.write_text("customer_id,persona\nC1,0\n")
    args = ["nba", events, "--policy", policy, "--personas", labels]
    _fails(args, 2, "--policy", policy.name, *needles)
    assert not Path("PWNED").exists() and not (tmp_path / "PWNED").exists()


def test_out_of_range_numbers_are_usage_errors(events: Path, tmp_path: Path) -> None:
    _fails(["mine", events, "--max-steps", "0"], 2, "--max-steps")
    _fails(["generate", tmp_path / "g", "--customers", "-1"], 2, "--customers")
    _fails(["generate", tmp_path / "g", "--customers", str(10**12)], 2, "--customers", "or fewer")
    assert not (tmp_path / "g").exists()


def test_one_day_log_in_report_is_a_data_error(tmp_path: Path) -> None:
    log = _csv(tmp_path, "c1,2025-01-01 10:00,visit,web\nc1,2025-01-01 11:00,purchase,web\n")
    _fails(["report", log, "--out", tmp_path / "r"], 1, "spans 1 day", "more days")
    assert not (tmp_path / "r").exists()


def test_report_on_a_log_without_channel(events: Path, tmp_path: Path) -> None:
    log = pd.read_parquet(events).drop(columns=["channel"])
    log.to_parquet(tmp_path / "no_channel.parquet", index=False)
    res = runner.invoke(app, ["report", str(tmp_path / "no_channel.parquet"), "--out",
                              str(tmp_path / "r")])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert (tmp_path / "r" / "changes.html").exists()


def test_demo_on_a_log_without_visit_and_purchase(sample: Path, tmp_path: Path) -> None:
    log = pd.read_parquet(sample / "events.parquet")
    log["activity"] = log["activity"].astype(str).replace({"visit": "open", "purchase": "buy"})
    (tmp_path / "data").mkdir()
    log.to_parquet(tmp_path / "data" / "events.parquet", index=False)
    _fails(["demo", tmp_path / "data", "--out", tmp_path / "out"], 1, "'visit' or 'purchase'",
           "jm generate")  # fmt: skip
    assert not any((tmp_path / "out").glob("*"))


def test_library_hints_name_cli_options(tmp_path: Path) -> None:
    no_customer = tmp_path / "users.csv"
    no_customer.write_text("user,timestamp,activity\nu1,2025-01-01 10:00,visit\n")
    line = _fails(["mine", no_customer], 1, "missing column 'customer_id'", "--map")
    assert "columns=" not in line
    unknown = tmp_path / "log.txt"
    unknown.write_text("x")
    line = _fails(["validate", unknown], 2, "--format")
    assert "format=" not in line
    millis = _csv(tmp_path, "c1,1735725600000,visit,web\nc1,1735729200000,buy,web\n")
    line = _fails(["mine", millis], 1, "--timestamp-unit")
    assert "timestamp_unit=" not in line


def test_cli_hint_rewrites_keywords_of_the_command_only() -> None:
    from typer.main import get_command

    mine = get_command(app).commands["mine"]  # type: ignore[attr-defined]
    assert cli_hint("max_steps=0 is not allowed", mine) == "--max-steps 0 is not allowed"
    assert cli_hint("pass timestamp_unit='ms' (CLI --timestamp-unit).", mine) == (
        "pass --timestamp-unit ms."
    )
    assert cli_hint("or pass drop_invalid=True to drop them", mine) == (
        "or pass --drop-invalid to drop them"
    )
    assert cli_hint("Lower max_steps or min_cluster_size.", mine) == (
        "Lower --max-steps or min_cluster_size."  # bare keywords with an underscore too
    )
    assert cli_hint("Pass by=() or use min_duration='1D'.", mine) == (
        "Pass by=() or use min_duration='1D'."  # mine has neither option
    )
    changes = get_command(app).commands["changes"]  # type: ignore[attr-defined]
    assert cli_hint("Pass by=() to analyse", changes) == "Pass --by '' to analyse"
    assert cli_hint("detect_changes(by=['x']) failed", changes) == "detect_changes(by=['x']) failed"


def test_exit_codes_and_internal_errors() -> None:
    assert exit_code(ConfigError("x")) == 2 and exit_code(ModelError("x")) == 2
    assert exit_code(EmptyLogError("x")) == 1 and exit_code(FileNotFoundError("x")) == 2
    line = describe(KeyError("oops"))
    assert line.startswith("internal error: KeyError") and "--debug" in line
    assert "JM_DEBUG=1" in line


def test_console_script_runs_main_one_line_no_traceback(tmp_path: Path) -> None:
    dup = _csv(tmp_path, "c1,2025-01-01 10:00,visit,web\n" * 2 + "c2,2025-01-02 10:00,visit,web\n")
    out = subprocess.run([str(JM), "mine", str(dup)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    warnings = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1 and warnings[0].startswith("WARNING: 1 duplicate events")
    assert "--duplicates drop" in warnings[0] and ".py" not in out.stderr
    out = subprocess.run(
        [sys.executable, "-m", "journeymine", "validate", str(tmp_path / "nope.csv")],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert "nope.csv" in out.stderr and "Traceback" not in out.stderr


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.csv")
    plain = subprocess.run([str(JM), "mine", missing], capture_output=True, text=True)
    debug = subprocess.run([str(JM), "--debug", "mine", missing], capture_output=True, text=True)
    env = subprocess.run(
        [str(JM), "mine", missing],
        capture_output=True,
        text=True,
        env=os.environ | {"JM_DEBUG": "1"},
    )
    assert plain.returncode == debug.returncode == env.returncode == 2
    assert "Traceback" not in plain.stderr
    assert "Traceback" in debug.stderr and "Traceback" in env.stderr
    assert debug.stderr.rstrip().splitlines()[-1].startswith("error: event log file")


# ------------------------------------------------------------------ read options of the library
def test_timestamp_format_reads_day_first_dates(tmp_path: Path) -> None:
    log = _csv(tmp_path, "c1,13/01/2025,visit,web\nc1,01/02/2025,buy,web\n")
    line = _fails(["mine", log], 1, "--timestamp-format %d/%m/%Y if the day comes first")
    assert "timestamp_format=" not in line
    res = runner.invoke(app, ["validate", str(log), "--timestamp-format", "%d/%m/%Y"])
    assert res.exit_code == 0, res.output
    assert "2025-02-01" in res.output  # 01/02 read day first, not as January 2
    _fails(["validate", log, "--timestamp-format", "dd/mm/yyyy"], 2, "--timestamp-format")


def test_cli_hint_quotes_values_with_spaces() -> None:
    from typer.main import get_command

    mine = get_command(app).commands["mine"]  # type: ignore[attr-defined]
    hint = "pass timestamp_format='%d/%m/%Y %H:%M' (CLI --timestamp-format)."
    assert cli_hint(hint, mine) == "pass --timestamp-format '%d/%m/%Y %H:%M'."
    hint = "change plausible_range=(start, end) (None accepts any date; CLI --plausible-range)."
    assert cli_hint(hint, mine) == "change --plausible-range START,END (or none for any date)."


def test_plausible_range_option(tmp_path: Path) -> None:
    log = _csv(tmp_path, "c1,1975-01-13 10:00,visit,web\nc1,1975-02-01 11:00,buy,web\n")
    line = _fails(["mine", log], 1, "plausible range", "--plausible-range START,END")
    assert "plausible_range=" not in line and "CLI --" not in line
    for value in ("none", "1970-01-01,2000-01-01"):
        res = runner.invoke(app, ["validate", str(log), "--plausible-range", value])
        assert res.exit_code == 0, res.output
    _fails(["mine", log, "--plausible-range", "1980-01-01,2000-01-01"], 1, "[1980-01-01")
    for bad in ("foo", "2000-01-01", "2000-01-01,1990-01-01", "a,b,c"):
        _fails(["mine", log, "--plausible-range", bad], 2, "--plausible-range", "START,END", "none")
    # a stored time is quoted as its text: a Timestamp's repr carried tz='UTC', which the CLI
    # message turned into "--tz UTC" (teleclaims.xes.gz)
    typed = tmp_path / "typed.parquet"
    pd.read_csv(log).assign(
        timestamp=lambda d: pd.to_datetime(d["timestamp"], utc=True)
    ).to_parquet(typed)
    line = _fails(["mine", typed], 1, "e.g. '1975-01-13 10:00:00+00:00' read as 1975-01-13")
    assert "--tz" not in line and "Timestamp(" not in line


def test_serve_options(tmp_path: Path) -> None:
    res = runner.invoke(app, ["serve", "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    assert "--request-timeout" in res.output and "--plausible-range" in res.output
    model = tmp_path / "model.skops"
    model.write_bytes(b"")
    _fails(["serve", "--model", model, "--request-timeout", "0"], 2, "--request-timeout")
    _fails(["serve", "--model", model, "--plausible-range", "foo"], 2, "--plausible-range")


# ------------------------------------------------------------------ --sep and --encoding (#11)
_TEXT = (
    "customer_id{s}activity{s}timestamp\n"
    "c1{s}Café{s}2025-01-01 10:00\n"
    "c2{s}Prüfung{s}2025-01-02 10:00\n"
)


def _validate(*args: object) -> tuple[int, str]:
    res = runner.invoke(app, ["validate", *(str(a) for a in args)])
    assert "Traceback" not in res.output, res.output
    return res.exit_code, res.output


def test_validate_semicolon_csv_sniffed_given_and_hinted(tmp_path: Path) -> None:
    path = tmp_path / "semi.csv"
    path.write_text(_TEXT.format(s=";"), encoding="utf-8")
    for extra in ([], ["--sep", ";"]):
        code, out = _validate(path, *extra)
        assert code == 0 and "VALID" in out and "customers   2" in out, out
    code, out = _validate(path, "--sep", ",")
    assert code == 1 and "--sep ';'" in out and "sep=" not in out, out
    tabbed = tmp_path / "tabbed.csv"
    tabbed.write_text(_TEXT.format(s="\t"), encoding="utf-8")
    assert _validate(tabbed, "--sep", "tab")[0] == 0
    _fails(["validate", path, "--sep", ";;"], 2, "--sep")


def test_validate_latin1_csv_names_encoding_option(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_text(_TEXT.format(s=","), encoding="latin-1")
    code, out = _validate(path)
    assert code == 1 and "--encoding latin-1" in out and "encoding=" not in out, out
    code, out = _validate(path, "--encoding", "latin-1", "--json")
    assert code == 0 and '"activities": 2' in out, out
    # the same hint from a command that reads through ReadOptions.load
    _fails(["personas", path, "--out", tmp_path / "out"], 1, "--encoding latin-1")
    _fails(["validate", path, "--encoding", "klingon"], 2, "--encoding")
    # and from the project config file
    (tmp_path / "journeymine.toml").write_text('encoding = "latin-1"\nsep = ","\n')
    code, out = _validate(path, "--config", tmp_path / "journeymine.toml")
    assert code == 0, out


def test_a_log_with_its_own_column_names_gets_the_map_flags_that_read_it(
    eventlogs_dir: Path, tmp_path: Path
) -> None:
    """tax_helpdesk.csv names its columns CaseID, ActivityID, CompleteTimestamp: the error
    spells the --map flags, and those flags read the log."""
    log = eventlogs_dir / "tax_helpdesk.csv"
    line = _fails(
        ["mine", log, "--out", tmp_path / "m"], 1, "'customer_id' (Did you mean 'CaseID'?)"
    )
    flags = line.split("e.g. ", 1)[1].rstrip(".").split()
    assert flags == [
        "--map", "CaseID=customer_id",
        "--map", "CompleteTimestamp=timestamp",
        "--map", "ActivityID=activity",
    ]  # fmt: skip
    res = runner.invoke(app, ["mine", str(log), *flags, "--out", str(tmp_path / "m")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "m" / "dfg.csv").stat().st_size > 0


def test_the_duplicates_warning_names_both_cli_choices(eventlogs_dir: Path) -> None:
    """helpdesk.xes.gz holds 127 exact duplicate events: the warning names --duplicates for
    both ways out, not a bare Python value."""
    res = runner.invoke(app, ["validate", str(eventlogs_dir / "helpdesk.xes.gz")])
    assert res.exit_code == 0, res.output
    assert "Pass --duplicates drop to remove them or --duplicates keep to silence" in res.output
