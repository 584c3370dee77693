"""Property: every reader returns a valid canonical log or raises a JourneymineError.

Small generated tables (random column names and types, missing values, odd timestamps, huge and
infinite numbers, lists, dicts, unicode, repeated column names) are read as a DataFrame, CSV,
Parquet, JSON Lines and XES. Whatever the input, the reader either returns a log that passes
:func:`journeymine.schema.validate` (canonical dtypes, no nulls in required columns, plausible
timestamps, finite values) or raises a :class:`JourneymineError`; never another exception, never
a warning other than ours.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import warnings
from pathlib import Path
from xml.sax.saxutils import quoteattr

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings

import journeymine as jm
from journeymine import schema
from journeymine.exceptions import DataQualityWarning, JourneymineError, RowsDroppedWarning

_NAMES = [
    *schema.CANONICAL_COLUMNS,
    "user",
    "ts",
    "event",
    "activity.1",
    "événement",
    "x",
    "",
    "0",
]
_TIMESTAMPS = [
    "2025-01-01T10:00:00Z",
    "2025-01-02 11:30",
    "2025-01-03T10:00:00+05:30",
    "2025-03-30 02:30",  # in the DST gap of Europe/Paris
    "01/02/2025",
    "13/01/2025 10:00",
    "01-13-2025",
    "1.2.25",
    "2150-06-01",
    "0001-01-01",
    "9999-12-31T23:59:59",
    "1970-01-01",
    "now",
    "today",
    "yesterday",
    "",
    " ",
    "2025-02-30",
]
_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6
)  # any unicode but lone surrogates (which no file can hold)
_scalar = st.one_of(
    st.none(),
    _text,
    st.sampled_from(["view", "buy", "web", "app", "NA", "None", "007", "é", "[1 2]"]),
    st.sampled_from(_TIMESTAMPS),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([1735725600, 1735725600123, 1735725600123456, 1735725600123456789, 0, -1]),
    st.floats(),
    st.sampled_from([math.inf, -math.inf, math.nan, 1e308, -1e16, 1e15, 0.1]),
    st.booleans(),
    st.datetimes(
        min_value=dt.datetime(1, 1, 1),
        max_value=dt.datetime(9999, 12, 31),
        timezones=st.one_of(st.none(), st.just(dt.UTC)),
    ),
)
_cell = st.one_of(
    _scalar,
    st.lists(st.integers(0, 3), max_size=3),
    st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 3), max_size=2),
)
# homogeneous columns, so that valid logs are common too
_column_kinds = {
    "ids": st.sampled_from(["c1", "c2", "007", "ü"]),
    "timestamps": st.sampled_from(["2025-01-01T10:00:00Z", "2025-01-02T11:30:00Z"]),
    "epochs": st.sampled_from([1735725600, 1735812000, 1735898400]),
    "activities": st.sampled_from(["view", "cart", "buy"]),
    "numbers": st.one_of(st.none(), st.floats(-1e6, 1e6)),
    "anything": _cell,
}


@st.composite
def tables(draw) -> pd.DataFrame:
    n = draw(st.integers(0, 5))
    extras = draw(st.lists(st.one_of(st.sampled_from(_NAMES), _text), max_size=4))
    if draw(st.integers(0, 3)):  # near-valid: the required columns, mostly of the right kind
        names = list(draw(st.permutations(schema.REQUIRED_COLUMNS))) + extras[:2]
        n = max(n, 1)
    else:
        required = list(draw(st.permutations(schema.REQUIRED_COLUMNS)))
        names = required[: draw(st.integers(0, 3))] + extras
    kinds = {
        "customer_id": "ids",
        "timestamp": draw(st.sampled_from(["timestamps", "epochs"])),
        "activity": "activities",
        "value": "numbers",
    }
    columns = []
    for name in names:
        kind = kinds.get(name, "anything") if draw(st.integers(0, 3)) else "anything"
        columns.append(draw(st.lists(_column_kinds[kind], min_size=n, max_size=n)))
    frame = pd.DataFrame(dict(enumerate(columns)), index=range(n), dtype=object)
    if draw(st.booleans()):
        frame = frame.infer_objects()
    frame.columns = names
    return frame


@st.composite
def options(draw) -> dict:
    return {
        "drop_invalid": draw(st.booleans()),
        "duplicates": draw(st.sampled_from(["warn", "drop", "keep", "raise"])),
        "timestamp_unit": draw(st.sampled_from([None, "s", "ms", "us", "sec"])),
        "timestamp_format": draw(st.sampled_from([None] * 8 + ["%d/%m/%Y", "%Y-%m-%d %H:%M"])),
        "tz": draw(st.sampled_from(["UTC", "UTC", "Europe/Paris", "+02:00", "Mars/Phobos", ""])),
        "coerce_ids": draw(st.booleans()),
        "plausible_range": draw(
            st.sampled_from(
                [
                    schema.PLAUSIBLE_RANGE,
                    schema.PLAUSIBLE_RANGE,
                    None,
                    ("1969-12-31", "2030-01-01"),
                    ("2100-01-01", "1990-01-01"),
                ]
            )
        ),
    }


def _json_default(value: object) -> object:
    return value.isoformat() if isinstance(value, dt.datetime) else str(value)


def _write(frame: pd.DataFrame, fmt: str, path: Path) -> Path | None:
    """``frame`` as a file of format ``fmt``; None when the format cannot hold it."""
    if fmt == "csv":
        frame.to_csv(path, index=False)
    elif fmt == "jsonl":
        with open(path, "w", encoding="utf-8") as fh:
            for row in frame.itertuples(index=False):
                pairs = ", ".join(
                    f"{json.dumps(str(k))}: {json.dumps(v, default=_json_default)}"
                    for k, v in zip(frame.columns, row, strict=True)
                )  # written by hand: a repeated column name stays a repeated key
                fh.write("{" + pairs + "}\n")
    elif fmt == "parquet":
        try:
            frame.to_parquet(path, index=False)
        except (ValueError, TypeError, OverflowError, NotImplementedError):  # mixed objects
            return None
    else:
        _write_xes(frame, path)
    return path


def _write_xes(frame: pd.DataFrame, path: Path) -> None:
    keys = {"activity": "concept:name", "timestamp": "time:timestamp"}
    traces = []
    cust = [str(c) for c in frame.columns].index("customer_id") if "customer_id" in frame else -1
    for row in frame.itertuples(index=False):
        attrs = []
        for name, value in zip(frame.columns, row, strict=True):
            if name == "customer_id" or value is None:
                continue
            tag = "date" if name == "timestamp" else "string"
            text = value.isoformat() if isinstance(value, dt.datetime) else str(value)
            attrs.append(
                f"<{tag} key={quoteattr(keys.get(name, str(name)))} value={quoteattr(text)}/>"
            )
        case = (
            ""
            if cust < 0 or row[cust] is None
            else f'<string key="concept:name" value={quoteattr(str(row[cust]))}/>'
        )
        traces.append(f"<trace>{case}<event>{''.join(attrs)}</event></trace>")
    with open(path, "w", encoding="utf-8", errors="replace") as fh:
        fh.write(f'<log xmlns="http://www.xes-standard.org/">{"".join(traces)}</log>')


def _check_result(log: pd.DataFrame, opts: dict) -> None:
    """The reader's output is a canonical log: validate accepts it and keeps it as it is."""
    assert isinstance(log, pd.DataFrame) and len(log) > 0
    assert list(log.columns[:3]) == list(schema.REQUIRED_COLUMNS)
    assert log["customer_id"].dtype == "str" and not log["customer_id"].isna().any()
    assert log["timestamp"].dtype == schema.TIMESTAMP_DTYPE and not log["timestamp"].isna().any()
    assert isinstance(log["activity"].dtype, pd.CategoricalDtype)
    assert not log["activity"].isna().any()
    assert not schema.implausible_timestamps(log["timestamp"], opts["plausible_range"]).any()
    if "value" in log.columns:
        values = log["value"].to_numpy(dtype=float)
        assert not np.isinf(values).any()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        again = schema.validate(
            log, duplicates="keep", plausible_range=opts["plausible_range"], coerce_ids=False
        )
    pd.testing.assert_frame_equal(again, log)


def _read_or_our_error(source, opts: dict) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning but ours is a failure
        warnings.simplefilter("ignore", DataQualityWarning)
        warnings.simplefilter("ignore", RowsDroppedWarning)
        try:
            log = jm.read_events(source, **opts)
        except JourneymineError as exc:
            event(f"refused: {type(exc).__name__}")
            return
    event("read")
    _check_result(log, opts)


@settings(
    max_examples=150,
    deadline=None,
    derandomize=not os.environ.get("JM_FUZZ_RANDOM"),  # deterministic in CI; =1 to explore
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    frame=tables(), opts=options(), fmt=st.sampled_from(["frame", "csv", "jsonl", "parquet", "xes"])
)
def test_every_reader_returns_a_valid_log_or_raises_our_error(tmp_path, frame, opts, fmt):
    if fmt == "frame":
        source: object = frame
    else:
        source = _write(frame, fmt, tmp_path / f"events.{fmt}")
        if source is None:
            event("parquet cannot hold these values")
            return
    _read_or_our_error(source, opts)


_csv_field = st.one_of(
    _text.map(lambda t: t.replace("\r", " ")),
    st.sampled_from(_TIMESTAMPS),
    st.sampled_from(["inf", "1e999", "-0", "NaN", '"', ",", '"a,b"', "c1", "view", "1735725600"]),
)


@st.composite
def csv_texts(draw) -> str:
    if draw(st.integers(0, 3)):  # near-valid: the canonical header, three fields a row
        header = "customer_id,timestamp,activity"
        row = st.tuples(
            st.one_of(st.sampled_from(["c1", "c2", "007", ""]), _csv_field),
            st.one_of(st.sampled_from(["2025-01-01T10:00:00Z", "2025-01-02 11:30"]), _csv_field),
            st.one_of(st.sampled_from(["view", "buy", ""]), _csv_field),
        ).map(",".join)
    else:
        names = draw(st.lists(st.one_of(st.sampled_from(_NAMES), _text), max_size=5))
        header = ",".join(n.replace("\n", " ").replace("\r", " ") for n in names)
        row = st.lists(_csv_field, max_size=5).map(",".join)
    return "\n".join([header, *draw(st.lists(row, max_size=5))])


@settings(
    max_examples=100,
    deadline=None,
    derandomize=not os.environ.get("JM_FUZZ_RANDOM"),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=csv_texts(), opts=options())
def test_csv_text_returns_a_valid_log_or_raises_our_error(tmp_path, text, opts):
    path = tmp_path / "events.csv"
    path.write_text(text, encoding="utf-8")
    _read_or_our_error(path, opts)


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet", "xes"])
def test_a_valid_table_is_read_by_every_reader(tmp_path, fmt):
    # the property above must not pass only because everything is refused
    frame = pd.DataFrame(
        {
            "customer_id": ["c1", "c1", "c2"],
            "timestamp": ["2025-01-01T10:00:00Z", "2025-01-01T11:00:00Z", "2025-01-02T09:00:00Z"],
            "activity": ["view", "buy", "view"],
        }
    )
    opts = {
        "drop_invalid": False,
        "duplicates": "raise",
        "timestamp_unit": None,
        "timestamp_format": None,
        "tz": "UTC",
        "coerce_ids": False,
        "plausible_range": schema.PLAUSIBLE_RANGE,
    }
    path = _write(frame, fmt, tmp_path / f"events.{fmt}")
    log = jm.read_events(path, **opts)
    _check_result(log, opts)
    assert log["activity"].tolist() == ["view", "buy", "view"]
