"""Implausible input is refused the same way by every reader (issue #11, class 2).

CSV, Parquet, JSON Lines, XES and DataFrame sources all end in :func:`journeymine.validate`, so
one bad value gets one error, with a count, an example and the fix, whatever the format.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import journeymine as jm
from journeymine.exceptions import EventLogError, RowsDroppedWarning

FORMATS = ["csv", "parquet", "jsonl", "xes", "frame"]


def _rows(**columns):
    """Three events of one customer (so that every format keeps the row order)."""
    base = {
        "customer_id": ["c1", "c1", "c1"],
        "timestamp": ["2025-01-01T10:00:00", "2025-01-02T10:00:00", "2025-01-03T10:00:00"],
        "activity": ["view", "cart", "buy"],
    }
    return base | columns


def _xes(path: Path, rows: dict) -> Path:
    frame = pd.DataFrame(rows)
    events = []
    for _, row in frame.iterrows():
        attrs = [
            f"<string key={quoteattr('concept:name')} value={quoteattr(str(row['activity']))}/>"
        ]
        attrs.append(f'<date key="time:timestamp" value={quoteattr(str(row["timestamp"]))}/>')
        if "value" in row:
            attrs.append(f'<float key="value" value={quoteattr(str(row["value"]))}/>')
        events.append("<event>" + "".join(attrs) + "</event>")
    trace = '<trace><string key="concept:name" value="c1"/>' + "".join(events) + "</trace>"
    path.write_text(f'<log xmlns="http://www.xes-standard.org/">{trace}</log>')
    return path


def _source(tmp_path: Path, fmt: str, rows: dict):
    """The same events as a file of format ``fmt`` (or a DataFrame)."""
    frame = pd.DataFrame(rows)
    if fmt == "frame":
        return frame
    path = tmp_path / f"e.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "parquet":
        frame.to_parquet(path, index=False)
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in frame.to_dict("records")))
    else:
        _xes(path, rows)
    return path


def _refused(source, **kw) -> str:
    with pytest.raises(EventLogError) as info:
        jm.read_events(source, **kw)
    assert info.type is EventLogError
    return str(info.value)


@pytest.mark.parametrize("fmt", FORMATS)
def test_mixed_day_month_order(tmp_path, fmt):
    if fmt == "xes":
        pytest.skip("XES dates are ISO 8601 by definition")
    rows = _rows(timestamp=["01/02/2025", "13/01/2025", "14/01/2025"])
    text = _refused(_source(tmp_path, fmt, rows))
    assert "mixes day-first and month-first dates: 2 dates can only be day first" in text
    assert "1 date could be either and would be read month first (e.g. '01/02/2025'" in text
    assert "timestamp_format='%d/%m/%Y'" in text and "--timestamp-format" in text
    log = jm.read_events(_source(tmp_path, fmt, rows), timestamp_format="%d/%m/%Y")
    assert log["timestamp"].dt.strftime("%d.%m").tolist() == ["13.01", "14.01", "01.02"]


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl", "frame"])
def test_epoch_milliseconds_read_as_seconds_and_mixed_units(tmp_path, fmt):
    ms = [1735725600000, 1735725660000, 1735725720000]
    text = _refused(_source(tmp_path, fmt, _rows(timestamp=ms)), timestamp_unit="s")
    assert "3 timestamps outside the plausible range [1990-01-01, 2100-01-01)" in text
    assert "read as 56972-" in text and "pass timestamp_unit='ms'" in text
    log = jm.read_events(_source(tmp_path, fmt, _rows(timestamp=ms)), timestamp_unit="ms")
    assert log["timestamp"][0] == pd.Timestamp("2025-01-01 10:00", tz="UTC")
    mixed = _rows(timestamp=[1735725600, 1735725660000, 1735725720])
    text = _refused(_source(tmp_path, fmt, mixed), timestamp_unit="ms")
    assert "mixes epoch units: 2 values look like seconds" in text
    assert "1 value looks like milliseconds (~1e12, e.g. 1735725660000 in row 1)" in text
    assert "then pass timestamp_unit='s'" in text


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("year", ["0001", "1900", "2150", "9999"])
def test_years_outside_the_plausible_range(tmp_path, fmt, year):
    rows = _rows(timestamp=["2025-01-01T10:00:00", f"{year}-01-02T10:00:00", "2025-01-03T10:00:00"])
    text = _refused(_source(tmp_path, fmt, rows))
    assert "1 timestamp outside the plausible range [1990-01-01, 2100-01-01) in row 1" in text
    assert f"read as {year}-01-02" in text
    assert "plausible_range=(start, end)" in text and "drop_invalid=True" in text
    assert len(jm.read_events(_source(tmp_path, fmt, rows), plausible_range=None)) == 3
    wide = ("0001-01-01", "9999-12-31T23:59:59")
    assert len(jm.read_events(_source(tmp_path, fmt, rows), plausible_range=wide)) == 3
    with pytest.warns(RowsDroppedWarning, match="1 with timestamp outside the plausible range"):
        assert len(jm.read_events(_source(tmp_path, fmt, rows), drop_invalid=True)) == 2


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("bad", [np.inf, -np.inf, 1e308])
def test_infinite_or_huge_value(tmp_path, fmt, bad):
    text = _refused(_source(tmp_path, fmt, _rows(value=[1.5, bad, 2.0])))
    assert "value is infinite or beyond ±1e15 in 1 row: row 1" in text
    assert "abs(value) <= 1e15" in text and "drop_invalid=True" in text


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("blank", ["", " "])
def test_empty_activity_is_refused_by_every_reader_with_the_same_words(tmp_path, fmt, blank):
    with pytest.raises(EventLogError) as info:
        jm.read_events(_source(tmp_path, fmt, _rows(activity=["view", blank, "buy"])))
    assert info.type is EventLogError
    assert info.value.problems == [
        "null or empty activity in row 1 (0-based positions). Fill them, or pass "
        "drop_invalid=True to drop these rows (the count is reported)."
    ]


@pytest.mark.parametrize("fmt", ["parquet", "jsonl", "frame"])
@pytest.mark.parametrize("column", ["activity", "customer_id"])
def test_list_valued_canonical_column(tmp_path, fmt, column):
    text = _refused(_source(tmp_path, fmt, _rows(**{column: [[1], [1, 2], [3]]})))
    kind = "ndarray" if fmt == "parquet" else "list"
    assert f"{column} holds 3 non-scalar values ({kind}) in rows 0, 1, 2" in text
    assert f"df.explode({column!r})" in text
    assert "'[1 2]'" not in text and "'[1, 2]'" not in text  # never turned into text


def test_duplicate_column_names_in_each_source(tmp_path):
    def check(source, where):
        text = _refused(source)
        assert f"column names appear twice: ['activity']{where} (2 named 'activity')" in text
        assert "columns={'your_name': 'activity'}" in text and "--map your_name=activity" in text

    csv = tmp_path / "e.csv"
    csv.write_text("customer_id,timestamp,activity,activity\nc1,2025-01-01,view,buy\n")
    check(csv, " in the header of 'e.csv'")
    jsonl = tmp_path / "e.jsonl"
    jsonl.write_text(
        '{"customer_id": "c1", "timestamp": "2025-01-01", "activity": "view"}\n'
        '{"customer_id": "c1", "timestamp": "2025-01-02", "activity": "x", "activity": "y"}\n'
    )
    check(jsonl, " in line 2 of 'e.jsonl'")
    table = pa.table(
        [pa.array(["c1"]), pa.array(["2025-01-01"]), pa.array(["view"]), pa.array(["buy"])],
        names=["customer_id", "timestamp", "activity", "activity"],
    )
    pq.write_table(table, tmp_path / "e.parquet")
    check(tmp_path / "e.parquet", " in 'e.parquet'")
    frame = pd.DataFrame([["c1", "2025-01-01", "view", "buy"]])
    frame.columns = ["customer_id", "timestamp", "activity", "activity"]
    check(frame, "")
    with pytest.raises(EventLogError, match="column names appear twice"):
        jm.read_events(frame, validate=False)


def test_a_csv_column_really_named_like_a_renamed_copy_is_fine(tmp_path):
    csv = tmp_path / "e.csv"
    csv.write_text("customer_id,timestamp,activity,activity.1\nc1,2025-01-01,view,x\n")
    assert jm.read_events(csv)["activity.1"].tolist() == ["x"]


def test_read_xes_takes_the_same_settings(tmp_path):
    path = _xes(tmp_path / "e.xes", _rows(timestamp=["2025-01-01", "2150-01-01", "2025-01-03"]))
    with pytest.raises(EventLogError, match=r"1 timestamp outside the plausible range"):
        jm.read_xes(path)
    assert len(jm.read_xes(path, plausible_range=("2000-01-01", "2200-01-01"))) == 3


def test_repeated_xes_attribute_is_refused(tmp_path):
    event = (
        '<event><string key="concept:name" value="a"/><string key="concept:name" value="b"/>'
        '<date key="time:timestamp" value="2025-01-01T10:00:00Z"/></event>'
    )
    other = '<event><date key="time:timestamp" value="2025-01-01T11:00:00Z"/></event>'
    path = tmp_path / "e.xes"
    path.write_text(
        f'<log><trace><string key="concept:name" value="c"/>{event}{other}</trace></log>'
    )
    with pytest.raises(EventLogError) as info:
        jm.read_xes(path)
    assert info.type is EventLogError
    text = str(info.value)
    assert "the attribute 'concept:name' is given twice for 1 event (first: event 0" in text
    assert "Rename or remove the copies in the file" in text
