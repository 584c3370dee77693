"""The pm4py adapter: conversion, discovery, BPMN/PNML files, conformance on models."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

import journeymine as jm
from journeymine import _pm4py
from journeymine.exceptions import ConfigError, EventLogError, MissingColumnError
from journeymine.journeys.conformance import check_conformance

DESIGN = [
    "email_sent",
    "email_open",
    "visit",
    "view_product",
    "add_to_cart",
    "checkout",
    "purchase",
]


def _log(traces: dict[str, list[str]]) -> pd.DataFrame:
    rows = []
    t0 = pd.Timestamp("2025-01-01", tz="UTC")
    for cust, acts in traces.items():
        for i, a in enumerate(acts):
            rows.append((cust, t0 + pd.Timedelta(minutes=5 * i), a, "web"))
    return pd.DataFrame(rows, columns=["customer_id", "timestamp", "activity", "channel"])


@pytest.fixture(scope="module")
def designed_model() -> _pm4py.ProcessModel:
    return _pm4py.discover_process(_log({f"c{i}": DESIGN for i in range(3)}))


# --- conversion -------------------------------------------------------------------------------
def test_to_pm4py_sorts_and_renames_and_back() -> None:
    log = jm.validate(_log({"b": ["x", "y"], "a": ["x", "y", "z"]}))
    shuffled = log.sample(frac=1.0, random_state=0)
    frame = _pm4py.to_pm4py(shuffled)
    assert list(frame.columns[:3]) == ["case:concept:name", "concept:name", "time:timestamp"]
    assert frame["case:concept:name"].tolist() == ["a", "a", "a", "b", "b"]
    assert frame["concept:name"].tolist() == ["x", "y", "z", "x", "y"]
    assert "channel" in frame.columns
    back = _pm4py.from_pm4py(frame)
    pd.testing.assert_frame_equal(back, log)


def test_to_pm4py_refuses_bad_input() -> None:
    with pytest.raises(MissingColumnError, match="activity"):
        _pm4py.to_pm4py(pd.DataFrame({"customer_id": ["a"], "timestamp": [pd.Timestamp(0)]}))
    log = _log({"a": ["x"]})
    log.loc[0, "activity"] = None
    with pytest.raises(EventLogError, match="nulls"):
        _pm4py.to_pm4py(log)
    log = _log({"a": ["x", "y", "z"]})
    log.loc[2, "activity"] = None  # not in the first row
    with pytest.raises(EventLogError, match="1 nulls"):
        _pm4py.discover_process(log)


# --- discovery --------------------------------------------------------------------------------
@pytest.mark.eventlogs
@pytest.mark.parametrize("algorithm", ["inductive", "heuristics"])
def test_discovery_on_running_example(eventlogs_dir, algorithm) -> None:
    log = jm.read_xes(eventlogs_dir / "running-example.xes")
    model = _pm4py.discover_process(log, algorithm=algorithm)
    assert set(model.activities) == set(log["activity"].astype(str).unique())
    assert len(model.activities) == 8
    assert model.n_cases == 6 and model.coverage == 1.0
    assert model.bpmn is not None
    assert (model.process_tree is not None) == (algorithm == "inductive")
    # the discovered inductive model replays its own log perfectly
    if algorithm == "inductive":
        res = check_conformance(log, model)
        assert res.cases["fitness"].tolist() == [1.0] * 6
        assert res.method == "pm4py_alignments"


@pytest.mark.eventlogs
def test_discovery_on_receipt_top_variants(eventlogs_dir) -> None:
    log = jm.read_xes(eventlogs_dir / "receipt.xes.gz")
    full = _pm4py.discover_process(log, noise_threshold=0.2)
    assert set(full.activities) <= set(log["activity"].astype(str).unique())
    assert full.n_cases == log["customer_id"].nunique() == 1434
    top = _pm4py.discover_process(log, top_variants=5)
    assert top.n_variants_used == 5 and top.n_variants == full.n_variants
    assert 0.5 < top.coverage < 1.0
    # the top variants use only some activities; they are exactly the model's
    frame = _pm4py.to_pm4py(log)
    variants = frame.groupby("case:concept:name", sort=False)["concept:name"].agg(tuple)
    top5 = variants.value_counts().head(5)
    assert top.n_cases_used == int(top5.sum())
    assert set(top.activities) == {a for v in top5.index for a in v}


@pytest.mark.eventlogs
@pytest.mark.parametrize(("top", "noise"), [(None, 0.0), (5, 0.0), (None, 0.2), (30, 0.1)])
def test_inductive_on_variants_equals_pm4py_on_the_log(eventlogs_dir, top, noise) -> None:
    import pm4py

    log = jm.read_xes(eventlogs_dir / "receipt.xes.gz")
    model = _pm4py.discover_process(log, top_variants=top, noise_threshold=noise)
    frame = _pm4py.to_pm4py(log)
    if top is not None:  # the reduced log pm4py would have to be given
        variants = frame.groupby("case:concept:name", sort=True)["concept:name"].agg(tuple)
        keep = set(variants.value_counts(sort=True).head(top).index)
        cases = set(variants[variants.isin(keep)].index)
        frame = frame[frame["case:concept:name"].isin(cases)]
    expected = pm4py.discover_process_tree_inductive(frame, noise_threshold=noise)
    assert str(model.process_tree) == str(expected)


def test_variant_counting_ignores_row_order() -> None:
    log = _log({"a": ["x", "y"], "b": ["x", "y"], "c": ["y", "x"], "d": ["x"]})
    shuffled = log.sample(frac=1.0, random_state=3)
    m1 = _pm4py.discover_process(log, top_variants=1)
    m2 = _pm4py.discover_process(shuffled, top_variants=1)
    assert (m1.n_variants, m1.n_cases_used, m1.activities) == (3, 2, ("x", "y"))
    assert (m2.n_variants, m2.n_cases_used, m2.activities) == (3, 2, ("x", "y"))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"algorithm": "alpha"}, "inductive"),
        ({"top_variants": 0}, "top_variants"),
        ({"noise_threshold": 1.5}, "noise_threshold"),
        ({"algorithm": "heuristics", "noise_threshold": 0.2}, "dependency_threshold"),
        ({"dependency_threshold": -1}, "dependency_threshold"),
    ],
)
def test_discovery_argument_errors(kwargs, match) -> None:
    with pytest.raises(ConfigError, match=match):
        _pm4py.discover_process(_log({"a": ["x"]}), **kwargs)


# --- files ------------------------------------------------------------------------------------
def test_bpmn_round_trip(tmp_path, designed_model) -> None:
    path = _pm4py.export_bpmn(designed_model, tmp_path / "journey")
    assert path.suffix == ".bpmn" and path.exists()
    assert "bpmn" in path.read_text()[:500].lower()
    back = _pm4py.read_bpmn(path)
    assert back.activities == designed_model.activities == tuple(sorted(DESIGN))
    assert back.algorithm == "bpmn"
    log = _log(
        {
            "fit": DESIGN,
            "short": DESIGN[:3],
            "swap": [*DESIGN[:3], "view_product", "visit", *DESIGN[4:]],
        }
    )
    a = check_conformance(log, designed_model)
    b = check_conformance(log, path)
    pd.testing.assert_frame_equal(a.cases, b.cases)


def test_pnml_round_trip(tmp_path, designed_model) -> None:
    path = _pm4py.export_pnml(designed_model, tmp_path / "journey.pnml")
    back = _pm4py.read_pnml(path)
    assert back.activities == designed_model.activities
    res = check_conformance(_log({"a": DESIGN}), path)
    assert res.cases["fitness"].tolist() == [1.0]


def test_reading_missing_or_broken_files(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="no BPMN file"):
        _pm4py.read_bpmn(tmp_path / "nope.bpmn")
    bad = tmp_path / "bad.bpmn"
    bad.write_text("this is not xml")
    with pytest.raises(ConfigError, match="not XML"):
        _pm4py.read_bpmn(bad)
    other = tmp_path / "other.bpmn"
    other.write_text("<html><body/></html>")
    with pytest.raises(ConfigError, match=r"not a BPMN 2\.0 diagram"):
        _pm4py.read_bpmn(other)
    with pytest.raises(ConfigError, match="ProcessModel"):
        _pm4py.export_bpmn("model", tmp_path / "x.bpmn")


# --- conformance on models --------------------------------------------------------------------
def test_model_conformance_perfect_and_deviating(designed_model) -> None:
    skipped = [a for a in DESIGN if a != "add_to_cart"]
    extra = [*DESIGN[:3], "email_sent", *DESIGN[3:]]
    swapped = [*DESIGN[:4], "checkout", "add_to_cart", "purchase"]
    log = _log({"fit": DESIGN, "skip": skipped, "extra": extra, "swap": swapped})
    res = check_conformance(log, designed_model)
    fit = res.cases.set_index("case")["fitness"]
    assert fit["fit"] == 1.0
    assert (fit.drop("fit") < 1.0).all()
    dev = res.deviations
    assert dev.loc[dev["case"] == "skip", ["type", "activity"]].values.tolist() == [
        ["skipped", "add_to_cart"]
    ]
    assert dev.loc[dev["case"] == "extra", ["type", "activity"]].values.tolist() == [
        ["unexpected", "email_sent"]
    ]
    swap = dev.loc[dev["case"] == "swap"]
    assert swap["type"].tolist() == ["wrong_order"]
    assert swap["activity"].iloc[0] in {"checkout", "add_to_cart"}
    # same fitness as our own alignments on the equivalent sequence design
    own = check_conformance(log, DESIGN).cases.set_index("case")["fitness"]
    pd.testing.assert_series_equal(fit.sort_index(), own.sort_index(), atol=1e-9)


def test_token_replay(designed_model) -> None:
    log = _log({"fit": DESIGN, "short": DESIGN[:4]})
    res = check_conformance(log, designed_model, method="token_replay")
    fit = res.cases.set_index("case")["fitness"]
    assert fit["fit"] == 1.0 and fit["short"] < 1.0
    assert res.method == "pm4py_token_replay"
    assert "incomplete" in set(res.deviations.loc[res.deviations["case"] == "short", "type"])


def test_model_design_with_absent_activity(designed_model) -> None:
    log = _log({"a": ["email_sent", "visit"]})
    with pytest.raises(jm.UnknownActivityError, match="'purchase' is not in the log"):
        check_conformance(log, designed_model)


def test_journey_instances_start_at_model_start(designed_model) -> None:
    log = _log({"a": DESIGN, "b": DESIGN[:2]}).assign(journey_id=None)
    log.loc[log["activity"].isin(["email_sent", "email_open"]), "journey_id"] = "welcome"
    res = check_conformance(log, designed_model, journey="welcome")
    assert res.cases["case"].tolist() == ["a#1", "b#1"]
    assert res.cases["fitness"].iloc[0] == 1.0


# --- packaging --------------------------------------------------------------------------------
def test_missing_pm4py_gives_install_hint(monkeypatch, designed_model) -> None:
    monkeypatch.setitem(sys.modules, "pm4py", None)  # makes `import pm4py` fail
    with pytest.raises(ImportError, match=r"pip install 'journeymine\[pm4py\]'"):
        _pm4py.discover_process(_log({"a": ["x", "y"]}))
    with pytest.raises(ImportError, match="optional dependency"):
        check_conformance(_log({"a": DESIGN}), designed_model)


def test_import_does_not_load_pm4py() -> None:
    code = (
        "import sys, journeymine as jm\n"
        "fns = [jm.discover_process, jm.check_conformance, jm.detect_changes, "
        "jm.compare_periods, jm.compare_segments]\n"
        "assert 'pm4py' not in sys.modules, 'pm4py was imported'\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
