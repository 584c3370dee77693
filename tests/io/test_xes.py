"""read_xes: the public logs, typed/nested attributes, namespaces, bad files."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

import journeymine as jm
from journeymine.exceptions import (
    DataQualityWarning,
    EmptyLogError,
    EventLogError,
    MissingColumnError,
)

XES_LOGS = [
    # file, cases, events, activities, duplicate events (rows equal in every column)
    ("running-example.xes", 6, 42, 8, 0),
    ("roadtraffic100traces.xes", 100, 390, 10, 0),
    ("receipt.xes.gz", 1434, 8577, 27, 0),
    ("helpdesk.xes.gz", 4580, 21348, 14, 127),
    ("bpic2012.xes.gz", 13087, 262200, 24, 0),
    ("teleclaims.xes.gz", 3512, 46138, 11, 0),  # start/complete pairs are not duplicates
    ("repairExample.xes.gz", 1104, 11855, 8, 0),
]
# synthetic process-mining logs dated 1970-01-01 onwards: outside the default plausible range
IN_1970 = {"teleclaims.xes.gz", "repairExample.xes.gz"}


def _plausible(name: str) -> dict:
    return {"plausible_range": None} if name in IN_1970 else {}


HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<log xmlns="http://www.xes-standard.org/">\n'


def _write(tmp_path: Path, body: str, name: str = "log.xes", head: str = HEAD) -> Path:
    path = tmp_path / name
    text = head + body + "</log>\n"
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def _event(name: str, ts: str, extra: str = "") -> str:
    return (
        f'<event><string key="concept:name" value="{name}"/>'
        f'<date key="time:timestamp" value="{ts}"/>{extra}</event>\n'
    )


@pytest.mark.eventlogs
@pytest.mark.parametrize(("name", "cases", "events", "activities", "dups"), XES_LOGS)
def test_public_logs_have_published_counts(eventlogs_dir, name, cases, events, activities, dups):
    if dups:
        with pytest.warns(DataQualityWarning, match=f"{dups} duplicate events"):
            log = jm.read_xes(eventlogs_dir / name, **_plausible(name))
    else:
        log = jm.read_xes(eventlogs_dir / name, **_plausible(name))
    if name in IN_1970:
        with pytest.raises(EventLogError, match=r"outside the plausible range .*plausible_range"):
            jm.read_xes(eventlogs_dir / name)
    assert log["customer_id"].nunique() == cases
    assert len(log) == events
    assert log["activity"].nunique() == activities
    assert str(log["timestamp"].dtype) == "datetime64[us, UTC]"
    assert log["customer_id"].dtype == "str"
    assert isinstance(log["activity"].dtype, pd.CategoricalDtype)
    assert "channel" not in log.columns
    assert not any(":" in c for c in log.columns)


@pytest.mark.eventlogs
def test_receipt_channel_is_a_case_attribute(eventlogs_dir):
    log = jm.read_xes(eventlogs_dir / "receipt.xes.gz", channel="case_channel")
    per_case = log.groupby("customer_id")["channel"].first().value_counts().to_dict()
    assert per_case == {"Internet": 1250, "Desk": 109, "Post": 53, "e-mail": 21, "Intern": 1}
    assert isinstance(log["channel"].dtype, pd.CategoricalDtype)
    assert "case_channel" not in log.columns
    assert {"lifecycle_transition", "org_resource", "org_group", "case_department"} <= set(
        log.columns
    )
    assert str(log["case_deadline"].dtype) == "datetime64[us, UTC]"


@pytest.mark.eventlogs
def test_read_events_dispatches_xes_and_maps_columns(eventlogs_dir):
    log = jm.read_events(eventlogs_dir / "receipt.xes.gz", columns={"case_channel": "channel"})
    assert log["channel"].value_counts()["Internet"] == 7478
    assert len(log) == 8577


@pytest.mark.eventlogs
@pytest.mark.filterwarnings("ignore:Install the optional requirement:UserWarning")
@pytest.mark.parametrize("name", ["receipt.xes.gz", "repairExample.xes.gz"])
def test_same_content_as_pm4py(eventlogs_dir, name):
    # BPIC 2012 gives the same answer but takes a minute under pm4py: it is in `make bench`
    pm4py = pytest.importorskip("pm4py")
    ours = jm.read_xes(eventlogs_dir / name, **_plausible(name))
    theirs = pm4py.read_xes(str(eventlogs_dir / name), show_progress_bar=False)
    key = ["customer_id", "timestamp", "activity", "lifecycle_transition"]
    theirs = theirs.rename(
        columns={
            "case:concept:name": "customer_id",
            "time:timestamp": "timestamp",
            "concept:name": "activity",
            "lifecycle:transition": "lifecycle_transition",
        }
    )
    a = ours[key].astype(str).sort_values(key).reset_index(drop=True)
    b = theirs[key].astype(str).sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


def test_typed_attributes_and_missing_values(tmp_path):
    body = (
        '<trace><string key="concept:name" value="c1"/><int key="age" value="41"/>\n'
        + _event(
            "a",
            "2025-01-01T10:00:00.000+01:00",
            '<int key="n" value="3"/><float key="x" value="1.5"/>'
            '<boolean key="ok" value="true"/><id key="ref" value="007"/>'
            '<date key="due" value="2025-02-01T00:00:00Z"/><string key="org:resource" value="R"/>',
        )
        + _event("b", "2025-01-01T11:00:00.000+01:00", '<boolean key="ok" value="FALSE"/>')
        + "</trace>\n"
    )
    log = jm.read_xes(_write(tmp_path, body))
    assert log["n"].dtype == "Int64" and log["n"].tolist()[0] == 3 and log["n"].isna()[1]
    assert log["x"].dtype == "float64" and log["x"].isna()[1]
    assert log["ok"].tolist() == [True, False]
    assert log["ref"].tolist()[0] == "007"
    assert str(log["due"].dtype) == "datetime64[us, UTC]"
    assert log["org_resource"].tolist()[0] == "R"
    assert log["case_age"].dtype == "int64" and log["case_age"].tolist() == [41, 41]
    assert log["timestamp"].tolist()[0] == pd.Timestamp("2025-01-01T09:00:00Z")


def test_nested_list_and_container_attributes_are_skipped(tmp_path):
    body = (
        '<trace><string key="concept:name" value="c1"/>'
        '<list key="tags"><values><string key="t" value="x"/></values></list>\n'
        + _event(
            "a",
            "2025-01-01T10:00:00Z",
            '<string key="parent" value="p"><string key="child" value="ignored"/></string>'
            '<container key="box"><string key="inside" value="ignored"/></container>',
        )
        + "</trace>\n"
    )
    log = jm.read_xes(_write(tmp_path, body))
    assert log["parent"].tolist() == ["p"]
    assert not {"child", "inside", "box", "case_tags", "t"} & set(log.columns)


def test_without_namespace_gzip_and_global_attributes_ignored(tmp_path):
    head = (
        "<log><global scope='event'><string key='concept:name' value='DEFAULT'/></global>"
        "<string key='creator' value='me'/>\n"
    )
    body = (
        '<trace><string key="concept:name" value="c1"/>'
        + _event("a", "2025-01-01T10:00:00Z")
        + "</trace><trace>"
        + '<string key="concept:name" value="c2"/>'
        + _event("b", "2025-01-01T09:00:00Z")
        + _event("c", "2025-01-01T09:30:00Z")
        + "</trace>\n"
    )
    log = jm.read_xes(_write(tmp_path, body, "log.xes.gz", head=head))
    assert log["customer_id"].tolist() == ["c1", "c2", "c2"]
    assert log["activity"].tolist() == ["a", "b", "c"]
    assert "creator" not in log.columns


def test_case_attributes_false_and_validate_false(tmp_path):
    body = (
        '<trace><string key="concept:name" value="c1"/><string key="channel" value="web"/>'
        + _event("b", "2025-01-02T10:00:00Z")
        + _event("a", "2025-01-01T10:00:00Z")
        + "</trace>\n"
    )
    path = _write(tmp_path, body)
    log = jm.read_xes(path, case_attributes=False)
    assert list(log.columns) == ["customer_id", "timestamp", "activity"]
    assert log["activity"].tolist() == ["a", "b"]
    raw = jm.read_xes(path, validate=False)
    assert raw["activity"].tolist() == ["b", "a"]  # file order, unvalidated
    assert raw["case_channel"].tolist() == ["web", "web"]


def test_channel_attribute_missing_suggests(tmp_path):
    body = '<trace><string key="concept:name" value="c1"/><string key="channel" value="w"/>'
    body += _event("a", "2025-01-01T10:00:00Z") + "</trace>"
    with pytest.raises(MissingColumnError, match=r"Did you mean 'case_channel'\?"):
        jm.read_xes(_write(tmp_path, body), channel="channel")


def test_malformed_xes_is_an_eventlog_error(tmp_path):
    path = tmp_path / "bad.xes"
    path.write_text(HEAD + '<trace><string key="concept:name" value="c1"/><event>')
    with pytest.raises(EventLogError, match="not a well-formed XES") as info:
        jm.read_xes(path)
    assert "bad.xes" in str(info.value)


def test_truncated_gzip_is_an_eventlog_error(tmp_path):
    data = gzip.compress((HEAD + "<trace>" * 200).encode())
    path = tmp_path / "cut.xes.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(EventLogError, match=r"cut\.xes\.gz"):
        jm.read_xes(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no XES file at"):
        jm.read_xes(tmp_path / "nope.xes")


def test_log_without_events_is_empty(tmp_path):
    with pytest.raises(EmptyLogError, match="no <event>"):
        jm.read_xes(_write(tmp_path, '<trace><string key="concept:name" value="c"/></trace>'))


def test_unparseable_timestamp_names_rows(tmp_path):
    body = (
        '<trace><string key="concept:name" value="c1"/>'
        + _event("a", "2025-01-01T10:00:00Z")
        + _event("b", "yesterday")
        + "</trace>"
    )
    with pytest.raises(EventLogError, match=r"could not be parsed in row 1 .*'yesterday'"):
        jm.read_xes(_write(tmp_path, body))


def test_trace_without_name_gives_null_ids(tmp_path):
    body = "<trace>" + _event("a", "2025-01-01T10:00:00Z") + "</trace>"
    with pytest.raises(EventLogError, match="null or empty customer_id in row 0"):
        jm.read_xes(_write(tmp_path, body))
