"""read_events / write_events: formats, column mapping, bad input, exact round trips."""

from __future__ import annotations

import contextlib
import gzip
import warnings

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings

import journeymine as jm
from journeymine import schema
from journeymine.exceptions import (
    ConfigError,
    DataQualityWarning,
    EmptyLogError,
    EventLogError,
    JourneymineError,
    MissingColumnError,
    RowsDroppedWarning,
)
from journeymine.io._parquet import canonical_from_table

TAX = {"CaseID": "customer_id", "ActivityID": "activity", "CompleteTimestamp": "timestamp"}
PM4PY_CSV = {
    "case:concept:name": "customer_id",
    "concept:name": "activity",
    "time:timestamp": "timestamp",
}
CSV_LOGS = [
    # file, mapping, cases, events, activities, duplicates warned
    ("running-example.csv", PM4PY_CSV, 6, 42, 8, 0),
    ("receipt.csv", PM4PY_CSV | {"case:channel": "channel"}, 1434, 8577, 27, 0),
    ("tax_helpdesk.csv", TAX, 3804, 13710, 9, 91),
    ("tax_bpi_12_w.csv", TAX, 9658, 72413, 6, 0),
]


def _raw(**extra):
    data = {
        "customer_id": ["b", "a", "a"],
        "timestamp": ["2025-01-02T10:00:00Z", "2025-01-01T09:00:00Z", "2025-01-01T08:00:00Z"],
        "activity": ["view", "buy", "view"],
        "channel": ["web", "app", "web"],
    }
    return pd.DataFrame(data | extra)


@pytest.fixture
def log():
    return jm.read_events(
        _raw(
            value=[1.5, np.nan, 0.1 + 0.2],
            note=["x", None, "z"],
            n=[1, 2, 3],
            flag=[True, False, True],
        )
    )


# ---- the public CSV logs ---------------------------------------------------------------


@pytest.mark.eventlogs
@pytest.mark.parametrize(("name", "mapping", "cases", "events", "activities", "dups"), CSV_LOGS)
def test_public_csv_logs(eventlogs_dir, name, mapping, cases, events, activities, dups):
    if dups:
        with pytest.warns(DataQualityWarning, match=f"{dups} duplicate events"):
            log = jm.read_events(eventlogs_dir / name, columns=mapping)
    else:
        log = jm.read_events(eventlogs_dir / name, columns=mapping)
    assert (log["customer_id"].nunique(), len(log), log["activity"].nunique()) == (
        cases,
        events,
        activities,
    )
    assert log["customer_id"].dtype == "str"
    assert isinstance(log["activity"].dtype, pd.CategoricalDtype)


@pytest.mark.eventlogs
def test_receipt_csv_channels_match_xes(eventlogs_dir):
    csv = jm.read_events(eventlogs_dir / "receipt.csv", columns=CSV_LOGS[1][1])
    per_case = csv.groupby("customer_id")["channel"].first().value_counts().to_dict()
    assert per_case == {"Internet": 1250, "Desk": 109, "Post": 53, "e-mail": 21, "Intern": 1}


@pytest.mark.eventlogs
def test_pm4py_csv_reads_with_the_xes_preset(eventlogs_dir):
    """receipt.csv has the XES names pm4py writes: refused with the --preset xes hint, read by
    the preset as by the explicit mapping (other XES attributes kept as they are)."""
    path = eventlogs_dir / "receipt.csv"
    with pytest.raises(MissingColumnError, match=r"XES standard's names .*preset='xes'"):
        jm.read_events(path)
    by_preset = jm.read_events(path, preset="xes")
    by_mapping = jm.read_events(path, columns=PM4PY_CSV)
    cols = ["customer_id", "timestamp", "activity"]
    pd.testing.assert_frame_equal(by_preset[cols], by_mapping[cols])
    assert "org:resource" in by_preset.columns and "case:channel" in by_preset.columns


@pytest.mark.eventlogs
def test_tax_helpdesk_duplicates_dropped_with_count(eventlogs_dir):
    with pytest.warns(RowsDroppedWarning, match="dropped 91 duplicate events"):
        log = jm.read_events(eventlogs_dir / "tax_helpdesk.csv", columns=TAX, duplicates="drop")
    assert len(log) == 13710 - 91


# ---- formats and round trips -----------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["log.csv", "log.csv.gz", "log.parquet", "log.pq", "log.jsonl", "log.ndjson.gz"]
)
def test_round_trip_is_exact(tmp_path, log, name):
    path = jm.write_events(log, tmp_path / name)
    assert path == tmp_path / name
    pd.testing.assert_frame_equal(jm.read_events(path), log)


def test_round_trip_keeps_microseconds_and_text_ids(tmp_path):
    log = jm.read_events(
        pd.DataFrame(
            {
                "customer_id": ["007", "NA", "None"],
                "timestamp": [
                    "2025-01-01T00:00:00.000001Z",
                    "1999-12-31T23:59:59.999999-05:00",
                    "2025-06-01T12:00:00+02:00",
                ],
                "activity": ["null", "NaN", "a"],
                "session_id": ["01", "02", None],
            }
        )
    )
    for name in ("a.csv", "a.parquet", "a.jsonl"):
        back = jm.read_events(jm.write_events(log, tmp_path / name))
        pd.testing.assert_frame_equal(back, log)
    assert back["customer_id"].tolist() == ["007", "NA", "None"]


def test_format_argument_overrides_suffix(tmp_path, log):
    path = jm.write_events(log, tmp_path / "events.txt", format="csv")
    pd.testing.assert_frame_equal(jm.read_events(path, format="csv"), log)


@pytest.mark.parametrize("name", ["log.xlsx", "log", "log.parquet.gz", "log.json"])
def test_unknown_suffix_lists_formats(tmp_path, name):
    (tmp_path / name).write_text("x")
    with pytest.raises(ConfigError, match=r"Supported: \['csv', 'parquet', 'jsonl', 'xes'\]"):
        jm.read_events(tmp_path / name)


def test_unknown_format_argument(tmp_path):
    with pytest.raises(ConfigError, match=r"format='cvs' is not supported. Did you mean 'csv'"):
        jm.read_events(tmp_path / "x.csv", format="cvs")


def test_write_xes_is_refused(tmp_path, log):
    with pytest.raises(ConfigError, match="does not write XES"):
        jm.write_events(log, tmp_path / "x.xes")


def test_write_needs_required_columns(tmp_path):
    with pytest.raises(MissingColumnError, match="missing column 'activity'"):
        jm.write_events(pd.DataFrame({"customer_id": ["a"], "timestamp": [1]}), tmp_path / "x.csv")


# ---- column mapping --------------------------------------------------------------------


def test_mapping_renames_and_keeps_ids_as_text(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("user,when,what,n\n007,2025-01-01 10:00,view,1\n7,2025-01-01 11:00,buy,2\n")
    log = jm.read_events(
        path, columns={"user": "customer_id", "when": "timestamp", "what": "activity"}
    )
    assert sorted(log["customer_id"]) == ["007", "7"]
    assert list(log.columns) == ["customer_id", "timestamp", "activity", "n"]
    assert log["n"].dtype == "int64"


def test_ids_in_parquet_and_jsonl_numbers_become_text(tmp_path):
    raw = pd.DataFrame(
        {"customer_id": [7, 8], "timestamp": ["2025-01-01", "2025-01-02"], "activity": ["a", "b"]}
    )
    raw.to_parquet(tmp_path / "e.parquet")
    assert jm.read_events(tmp_path / "e.parquet")["customer_id"].tolist() == ["7", "8"]
    (tmp_path / "e.jsonl").write_text(
        '{"customer_id": 7, "timestamp": "2025-01-01", "activity": "a"}\n'
        '{"customer_id": null, "timestamp": "2025-01-02", "activity": "b"}\n'
    )
    with pytest.warns(RowsDroppedWarning, match="1 with null or empty customer_id"):
        log = jm.read_events(tmp_path / "e.jsonl", drop_invalid=True)
    assert log["customer_id"].tolist() == ["7"]


def test_unknown_canonical_target_suggests():
    with pytest.raises(ConfigError, match=r"not a canonical column. Did you mean 'customer_id'"):
        jm.read_events(_raw(), columns={"customer_id": "customerid"})


def test_missing_source_column_suggests(tmp_path):
    path = tmp_path / "e.csv"
    _raw().rename(columns={"customer_id": "user_id"}).to_csv(path, index=False)
    with pytest.raises(MissingColumnError, match=r"no column 'userid'. Did you mean 'user_id'\?"):
        jm.read_events(path, columns={"userid": "customer_id"})
    with pytest.raises(KeyError):  # also a KeyError
        jm.read_events(path, columns={"userid": "customer_id"})


def test_misspelled_canonical_column_in_file_suggests(tmp_path):
    path = tmp_path / "e.csv"
    _raw().rename(columns={"customer_id": "custmer_id"}).to_csv(path, index=False)
    with pytest.raises(MissingColumnError, match=r"Did you mean 'custmer_id'\?"):
        jm.read_events(path)


def test_two_sources_for_one_target():
    with pytest.raises(ConfigError, match=r"several source columns to \['activity'\]"):
        jm.read_events(_raw(x=1, y=2), columns={"x": "activity", "y": "activity"})


def test_mapping_onto_existing_column_is_refused():
    with pytest.raises(ConfigError, match="already has a column 'activity'"):
        jm.read_events(_raw(what=["a", "b", "c"]), columns={"what": "activity"})


def test_columns_must_be_a_mapping():
    with pytest.raises(ConfigError, match="must be a dict"):
        jm.read_events(_raw(), columns=["customer_id"])  # type: ignore[arg-type]


def test_dataframe_source_is_not_mutated():
    raw = _raw().rename(columns={"customer_id": "user"})
    before = raw.copy()
    jm.read_events(raw, columns={"user": "customer_id"})
    pd.testing.assert_frame_equal(raw, before)


def test_validate_false_only_maps():
    raw = _raw().rename(columns={"customer_id": "user"})
    out = jm.read_events(raw, columns={"user": "customer_id"}, validate=False)
    assert out["timestamp"].tolist() == raw["timestamp"].tolist()


def test_bad_source_type():
    with pytest.raises(ConfigError, match="file path or a pandas DataFrame"):
        jm.read_events(42)  # type: ignore[arg-type]


# ---- bad input -------------------------------------------------------------------------


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"'.*nope.csv' does not exist"):
        jm.read_events(tmp_path / "nope.csv")


def test_directory_is_not_a_file(tmp_path):
    (tmp_path / "d.csv").mkdir()
    with pytest.raises(FileNotFoundError, match="is a directory"):
        jm.read_events(tmp_path / "d.csv")


@pytest.mark.parametrize("name", ["e.csv", "e.jsonl", "e.parquet", "e.csv.gz"])
def test_empty_file(tmp_path, name):
    path = tmp_path / name
    if name.endswith(".gz"):
        path.write_bytes(gzip.compress(b""))
    else:
        path.write_bytes(b"")
    with pytest.raises(EventLogError, match=r"e\.(csv|jsonl|parquet)"):
        jm.read_events(path)


def test_header_only_csv_is_empty_log(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("customer_id,timestamp,activity\n")
    with pytest.raises(EmptyLogError, match="0 rows"):
        jm.read_events(path)


def test_corrupt_parquet_and_jsonl(tmp_path):
    (tmp_path / "e.parquet").write_text("not parquet")
    with pytest.raises(EventLogError, match=r"could not read 'e\.parquet' as parquet"):
        jm.read_events(tmp_path / "e.parquet")
    (tmp_path / "e.jsonl").write_text('{"customer_id": "a", \n')
    with pytest.raises(EventLogError, match=r"line 1 of 'e\.jsonl' is not valid JSON"):
        jm.read_events(tmp_path / "e.jsonl")


def test_unparseable_timestamp_names_rows(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text(
        "customer_id,timestamp,activity\na,2025-01-01 10:00,x\na,not a date,y\nb,2025-13-45,z\n"
    )
    with pytest.raises(EventLogError, match=r"could not be parsed in rows 1, 2 .*'not a date'"):
        jm.read_events(path)


def test_mixed_timezones_name_rows(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text(
        "customer_id,timestamp,activity\n"
        "a,2025-01-01T10:00:00+01:00,x\na,2025-01-01T11:00:00,y\nb,2025-01-01T12:00:00Z,z\n"
    )
    with pytest.raises(EventLogError, match=r"mixes values with a timezone offset.* row 1 "):
        jm.read_events(path)


def test_naive_timestamps_use_tz(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("customer_id,timestamp,activity\na,2025-07-01 12:00,x\n")
    log = jm.read_events(path, tz="Europe/Amsterdam")
    assert log["timestamp"][0] == pd.Timestamp("2025-07-01 10:00", tz="UTC")


def test_null_ids_reported_or_dropped(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("customer_id,timestamp,activity\na,2025-01-01,x\n,2025-01-02,y\n")
    with pytest.raises(EventLogError, match=r"null or empty customer_id in row 1 .*drop_invalid"):
        jm.read_events(path)
    with pytest.warns(RowsDroppedWarning, match=r"dropped 1 of 2 rows"):
        assert len(jm.read_events(path, drop_invalid=True)) == 1


def test_duplicates_warned_dropped_or_raised(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("customer_id,timestamp,activity\na,2025-01-01,x\na,2025-01-01,x\n")
    with pytest.warns(DataQualityWarning, match="1 duplicate events"):
        assert len(jm.read_events(path)) == 2
    with pytest.warns(RowsDroppedWarning, match="dropped 1 duplicate events"):
        assert len(jm.read_events(path, duplicates="drop")) == 1
    with pytest.raises(EventLogError, match="1 duplicate events"):
        jm.read_events(path, duplicates="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(jm.read_events(path, duplicates="keep")) == 2


def test_non_string_ids_in_a_dataframe():
    raw = _raw()
    raw["customer_id"] = [1, 2, 2]
    with pytest.raises(EventLogError, match=r"customer_id must hold strings, found int"):
        jm.read_events(raw)
    assert jm.read_events(raw, coerce_ids=True)["customer_id"].tolist() == ["1", "2", "2"]


def test_epoch_timestamps_need_a_unit(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("customer_id,timestamp,activity\na,1735725600,x\n")
    with pytest.raises(EventLogError, match="no unit was given"):
        jm.read_events(path)
    log = jm.read_events(path, timestamp_unit="s")
    assert log["timestamp"][0] == pd.Timestamp("2025-01-01 10:00", tz="UTC")


# ---- properties ------------------------------------------------------------------------

_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1
).filter(lambda s: s.strip() == s and s != "")


@st.composite
def canonical_logs(draw):
    n = draw(st.integers(1, 12))
    customers = draw(st.lists(_text, min_size=n, max_size=n))
    micros = draw(
        st.lists(
            st.integers(631_152_000 * 10**6, 4_102_444_800 * 10**6 - 1), min_size=n, max_size=n
        )
    )  # the plausible range, 1990-01-01 to 2099-12-31
    activities = draw(
        st.lists(st.sampled_from(["view", "cart", "buy", "NA", "007"]), min_size=n, max_size=n)
    )
    channels = draw(st.lists(st.sampled_from(["web", "app", "e-mail"]), min_size=n, max_size=n))
    values = draw(
        st.lists(
            st.one_of(st.none(), st.floats(min_value=-1e15, max_value=1e15)),
            min_size=n,
            max_size=n,
        )
    )
    counts = draw(st.lists(st.integers(-(2**53), 2**53), min_size=n, max_size=n))
    raw = pd.DataFrame(
        {
            "customer_id": customers,
            "timestamp": pd.to_datetime(micros, unit="us", utc=True),
            "activity": activities,
            "channel": channels,
            "value": pd.array(values, dtype="float64"),
            "count": counts,
            "note": draw(
                st.lists(st.sampled_from(["x y", "z,w", 'q"t', "é"]), min_size=n, max_size=n)
            ),
        }
    )
    return jm.validate(raw, duplicates="keep")


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(log=canonical_logs(), fmt=st.sampled_from(["csv", "parquet", "jsonl"]))
def test_write_read_round_trip_property(tmp_path, log, fmt):
    path = jm.write_events(log, tmp_path / f"log.{fmt}")
    back = jm.read_events(path, duplicates="keep")
    pd.testing.assert_frame_equal(back, log)


_cell = st.one_of(
    st.none(),
    st.text(max_size=8),
    st.integers(-(10**20), 10**20),
    st.floats(),
    st.booleans(),
    st.sampled_from(["2025-01-01", "2025-01-01T10:00:00Z", "2025-01-01T10:00+05:00", "now"]),
)


@st.composite
def messy_frames(draw):
    n = draw(st.integers(0, 6))
    cols = draw(
        st.lists(
            st.sampled_from(
                [
                    "customer_id",
                    "timestamp",
                    "activity",
                    "channel",
                    "value",
                    "event_id",
                    "session_id",
                    "x",
                ]
            ),
            min_size=0,
            max_size=6,
            unique=True,
        )
    )
    return pd.DataFrame(
        {c: draw(st.lists(_cell, min_size=n, max_size=n)) for c in cols}, dtype=object
    )


def _only_our_errors(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", DataQualityWarning)
        warnings.simplefilter("ignore", RowsDroppedWarning)
        with contextlib.suppress(JourneymineError):
            fn()


@settings(max_examples=100, deadline=None)
@given(frame=messy_frames(), drop=st.booleans(), unit=st.sampled_from([None, "s", "ms"]))
def test_messy_frames_raise_only_our_errors(frame, drop, unit):
    _only_our_errors(lambda: jm.read_events(frame, drop_invalid=drop, timestamp_unit=unit))


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.one_of(
        st.text(max_size=200),
        st.lists(
            st.lists(
                st.one_of(st.text(max_size=10), st.sampled_from(["2025-01-01", ","])),
                min_size=3,
                max_size=3,
            ).map(",".join),
            max_size=6,
        ).map(lambda rows: "customer_id,timestamp,activity\n" + "\n".join(rows)),
    ),
    drop=st.booleans(),
)
def test_messy_csv_text_raises_only_our_errors(tmp_path, text, drop):
    path = tmp_path / "e.csv"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    _only_our_errors(lambda: jm.read_events(path, drop_invalid=drop))


# ------------------------------------------------------------------ separators and encodings
_ROWS = [
    ("c1", "Bestellung prüfen", "2025-01-01 10:00"),
    ("c1", "Café", "2025-01-01 11:00"),
    ("c2", "Zahlung bestätigt", "2025-01-02 10:00"),
]


def _csv_text(sep: str) -> str:
    lines = [sep.join(("customer_id", "activity", "timestamp"))]
    lines += [sep.join(row) for row in _ROWS]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("sep", [";", "\t", "|", ","])
def test_separator_sniffed_or_given(tmp_path, sep):
    path = tmp_path / "events.csv"
    path.write_text(_csv_text(sep), encoding="utf-8")
    for log in (jm.read_events(path), jm.read_events(path, sep=sep)):
        assert log[["customer_id", "activity"]].values.tolist() == [list(r[:2]) for r in _ROWS]


def test_semicolon_sniffed_in_gzip_and_commas_inside_quotes(tmp_path):
    path = tmp_path / "events.csv.gz"
    text = _csv_text(";").replace("Café", '"Café, to go"')
    with gzip.open(path, "wt", encoding="utf-8") as fh:
        fh.write(text)
    assert "Café, to go" in jm.read_events(path)["activity"].tolist()


@pytest.mark.parametrize(
    ("sep", "given", "hint"), [(";", ",", 'sep=";"'), ("\t", ",", 'sep="\\t"')]
)
def test_header_of_one_column_names_the_separator(tmp_path, sep, given, hint):
    path = tmp_path / "events.csv"
    path.write_text(_csv_text(sep), encoding="utf-8")
    with pytest.raises(EventLogError, match="reads as one column") as info:
        jm.read_events(path, sep=given)
    assert hint in str(info.value)


def test_latin1_file_names_the_encoding_and_reads_with_it(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(_csv_text(","), encoding="latin-1")
    with pytest.raises(EventLogError, match="not valid utf-8") as info:
        jm.read_events(path)
    assert 'encoding="latin-1"' in str(info.value)
    log = jm.read_events(path, encoding="latin-1")
    assert sorted(log["activity"].unique()) == sorted(r[1] for r in _ROWS)
    semi = tmp_path / "semi.csv"
    semi.write_text(_csv_text(";"), encoding="latin-1")
    assert jm.read_events(semi, encoding="latin-1", sep=";")["activity"].tolist()[1] == "Café"


def test_sep_and_encoding_refused_outside_csv(tmp_path, log):
    path = jm.write_events(log, tmp_path / "log.parquet")
    with pytest.raises(ConfigError, match="CSV files only"):
        jm.read_events(path, sep=";")
    with pytest.raises(ConfigError, match="CSV files only"):
        jm.read_events(path, encoding="latin-1")
    with pytest.raises(ConfigError, match="CSV files only"):
        jm.read_events(log, sep=";")
    assert len(jm.read_events(path, encoding="UTF-8")) == len(log)  # utf-8 is the default
    with pytest.raises(ConfigError, match="not a text encoding"):
        jm.read_events(path, encoding="klingon")
    with pytest.raises(ConfigError, match="not a field separator"):
        jm.read_events(tmp_path / "x.csv", sep=";;")


def _plain_read(path, **kw):
    """What read_events gave before Parquet text was read as dictionaries: every column as
    pandas reads it, then the mapping and the gate."""
    return jm.read_events(pd.read_parquet(path), **kw)


def test_parquet_activity_and_channel_read_as_dictionaries_give_the_same_log(tmp_path):
    rng = np.random.default_rng(0)
    n = 500
    raw = pd.DataFrame(
        {
            "user": [f"u{i:03d}" for i in rng.integers(0, 40, size=n)],
            "ts": pd.Timestamp("2025-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 10**6, size=n), unit="s"),
            "what": rng.choice(["view", "Buy", "cart", "äpfel", "zoom"], size=n),
            "channel": rng.choice(["web", "app", "email"], size=n),
            "note": rng.choice(["x", "y"], size=n),
        }
    )
    path = tmp_path / "e.parquet"
    raw.to_parquet(path, row_group_size=100)  # several dictionaries, one per row group
    cols = {"user": "customer_id", "ts": "timestamp", "what": "activity"}
    log = jm.read_events(path, columns=cols)
    pd.testing.assert_frame_equal(log, _plain_read(path, columns=cols))
    assert log["activity"].cat.categories.tolist() == sorted(set(raw["what"]))


def test_parquet_null_activity_is_still_refused_and_dropped_with_a_count(tmp_path):
    raw = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03"], utc=True),
            "activity": ["view", None, "buy"],
        }
    )
    path = tmp_path / "e.parquet"
    raw.to_parquet(path)
    with pytest.raises(EventLogError, match=r"null or empty activity in row 1 "):
        jm.read_events(path)
    with pytest.warns(RowsDroppedWarning, match="1 with null or empty activity"):
        log = jm.read_events(path, drop_invalid=True)
    assert log["activity"].cat.categories.tolist() == ["buy", "view"]


def test_parquet_preset_channel_values_still_mapped(tmp_path):
    raw = pd.DataFrame(
        {
            "user_pseudo_id": ["p1", "p1", "p2"],
            "event_timestamp": [1735689600000000, 1735689700000000, 1735689800000000],
            "event_name": ["page_view", "purchase", "page_view"],
            "platform": ["WEB", "IOS", "ANDROID"],
        }
    )
    path = tmp_path / "ga4.parquet"
    raw.to_parquet(path)
    log = jm.read_events(path, preset="ga4")
    pd.testing.assert_frame_equal(log, _plain_read(path, preset="ga4"))
    assert set(log["channel"]) == {"web", "app"}


def test_parquet_numeric_activity_reads_as_before(tmp_path):
    raw = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02"], utc=True),
            "activity": [7.0, 8.0],
        }
    )
    path = tmp_path / "e.parquet"
    raw.to_parquet(path)
    log = jm.read_events(path)  # numbers read from a file become text as ids do: 7.0 -> '7'
    assert log["activity"].tolist() == ["7", "8"]
    assert isinstance(log["activity"].dtype, pd.CategoricalDtype)


# ---- the fast Parquet path: the same log as the gate, or the gate's own error ----------


def _gate(path, **kw) -> pd.DataFrame:
    """What the general path gives: pandas' Parquet reader, then schema.validate."""
    return schema.validate(pd.read_parquet(path), **kw)


def _table(n: int, seed: int, *, channel: bool = True, unit: str = "us") -> pa.Table:
    rng = np.random.default_rng(seed)
    cols = {
        "customer_id": pa.array([f"c{i:03d}" for i in rng.integers(0, max(n // 4, 1), n)]),
        "timestamp": pa.array(
            rng.integers(1_700_000_000, 1_700_000_000 + 86_400 * 30, n)
            * {"s": 1, "ms": 1_000, "us": 1_000_000}[unit],
            pa.timestamp(unit, tz="UTC"),
        ),
        "activity": pa.array([f"a{i}" for i in rng.integers(0, 7, n)]),
    }
    if channel:
        cols["channel"] = pa.array(rng.choice(["web", "app", "email"], n))
    return pa.table(cols)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n=st.integers(1, 300),
    seed=st.integers(0, 10_000),
    channel=st.booleans(),
    unit=st.sampled_from(["s", "ms", "us"]),
    coarse=st.booleans(),
)
def test_fast_path_equals_the_gate(tmp_path, n, seed, channel, unit, coarse):
    table = _table(n, seed, channel=channel, unit=unit)
    if coarse:  # many ties in (customer, time): exercises the stable order
        t = table.column("timestamp").cast(pa.int64()).to_numpy()
        table = table.set_column(
            1, "timestamp", pa.array(t - t % (t.max() // 4 + 1), table.schema.field(1).type)
        )
    path = tmp_path / "e.parquet"
    pq.write_table(table, path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        got = jm.read_events(path, duplicates="keep")
        want = _gate(path, duplicates="keep")
    pd.testing.assert_frame_equal(got, want)


def test_shuffled_log_is_sorted_like_the_gate(tmp_path):
    log = jm.datasets.make_journeys(n_customers=300, days=30, random_state=3).events
    raw = log[["customer_id", "timestamp", "activity", "channel"]].sample(frac=1, random_state=0)
    raw.to_parquet(tmp_path / "e.parquet", index=False)
    got = jm.read_events(tmp_path / "e.parquet")
    assert canonical_from_table(pq.read_table(tmp_path / "e.parquet")) is not None
    pd.testing.assert_frame_equal(got, _gate(tmp_path / "e.parquet"))
    assert got["customer_id"].is_monotonic_increasing
    # the customer codes of the read stay on the column, equal to hashing the ids again
    codes, labels = schema.cached_codes(got["customer_id"])
    assert labels.tolist() == sorted(got["customer_id"].unique())
    assert (labels[codes] == got["customer_id"]).all()
    copied = got.assign(customer_id=got["customer_id"].astype(object).astype("string"))
    assert schema.cached_codes(copied["customer_id"]) is None  # a new column: nothing kept
    np.testing.assert_array_equal(jm.encode(got).case_codes, jm.encode(copied).case_codes)


def test_naive_times_and_a_column_mapping(tmp_path):
    raw = pd.DataFrame(
        {
            "user": ["b", "a", "b"],
            "ts": pd.to_datetime(["2025-01-02", "2025-01-01", "2025-01-01"]),
            "what": ["buy", "view", "view"],
        }
    )
    raw.to_parquet(tmp_path / "e.parquet", index=False)
    mapping = {"user": "customer_id", "ts": "timestamp", "what": "activity"}
    got = jm.read_events(tmp_path / "e.parquet", columns=mapping)
    want = schema.validate(raw.rename(columns=mapping))
    pd.testing.assert_frame_equal(got, want)
    # naive times in another zone go through the gate, which localises them
    paris = jm.read_events(tmp_path / "e.parquet", columns=mapping, tz="Europe/Paris")
    assert paris["timestamp"].iloc[0] == pd.Timestamp("2024-12-31 23:00", tz="UTC")


def _write(tmp_path, **cols) -> str:
    base = {
        "customer_id": ["a", "a", "b"],
        "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-01"], utc=True),
        "activity": ["view", "buy", "view"],
    }
    frame = pd.DataFrame(base | cols)
    path = tmp_path / "e.parquet"
    frame.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize(
    ("cols", "message"),
    [
        ({"activity": ["view", " ", "view"]}, "null or empty activity"),
        ({"customer_id": ["a", None, "b"]}, "null or empty customer_id"),
        ({"customer_id": ["a", "", "b"]}, "null or empty customer_id"),
        ({"channel": ["web", None, "app"]}, "null or empty channel"),
        (
            {"timestamp": pd.to_datetime(["2025-01-01", "2150-01-01", "2025-01-01"], utc=True)},
            "outside the plausible range",
        ),
        ({"channel": ["web", "  ", "app"]}, "null or empty channel"),
        (  # the end of the range is excluded, as the gate excludes it
            {"timestamp": pd.to_datetime(["2025-01-01", "2100-01-01", "2025-01-01"], utc=True)},
            "outside the plausible range",
        ),
    ],
)
def test_a_bad_log_gets_the_gates_error(tmp_path, cols, message):
    path = _write(tmp_path, **cols)
    with pytest.raises(EventLogError, match=message) as fast:
        jm.read_events(path)
    with pytest.raises(EventLogError) as gate:
        _gate(path)
    assert str(fast.value) == str(gate.value)


def test_the_start_of_the_plausible_range_is_read_on_the_fast_path(tmp_path):
    t = pd.to_datetime(
        ["1990-01-01", "2099-12-31T23:59:59.999999", "2025-01-01"], format="ISO8601", utc=True
    )
    path = _write(tmp_path, timestamp=t)
    assert canonical_from_table(pq.read_table(path)) is not None
    pd.testing.assert_frame_equal(jm.read_events(path), _gate(path))


def test_duplicates_are_warned_and_dropped_by_the_gate(tmp_path):
    path = _write(
        tmp_path,
        timestamp=pd.to_datetime(["2025-01-01", "2025-01-01", "2025-01-01"], utc=True),
        activity=["view", "view", "view"],
    )
    with pytest.warns(DataQualityWarning, match="1 duplicate events"):
        jm.read_events(path)
    with pytest.warns(RowsDroppedWarning, match="dropped 1 duplicate"):
        assert len(jm.read_events(path, duplicates="drop")) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(jm.read_events(path, duplicates="keep")) == 3


def test_ties_that_are_not_duplicates_keep_input_order(tmp_path):
    path = _write(
        tmp_path,
        timestamp=pd.to_datetime(["2025-01-01", "2025-01-01", "2025-01-01"], utc=True),
        activity=["view", "buy", "view"],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = jm.read_events(path)
    assert got["activity"].tolist() == ["view", "buy", "view"]
    pd.testing.assert_frame_equal(got, _gate(path))


@pytest.mark.parametrize(
    "extra",
    [{"value": [1.0, 2.0, 3.0]}, {"session_id": ["s1", "s1", "s2"]}, {"event_id": ["1", "2", "3"]}],
)
def test_other_canonical_columns_take_the_general_path(tmp_path, extra):
    path = _write(tmp_path, channel=["web", "app", "web"], **extra)
    assert canonical_from_table(pq.read_table(path)) is None
    pd.testing.assert_frame_equal(jm.read_events(path), _gate(path))


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(n=st.integers(1, 200), seed=st.integers(0, 10_000), ties=st.booleans())
def test_columns_that_are_not_canonical_are_carried_like_the_gate(tmp_path, n, seed, ties):
    rng = np.random.default_rng(seed)
    table = _table(n, seed)
    if ties:  # rows sharing customer and time: the gate compares every column
        table = table.set_column(
            1, "timestamp", pa.array(np.full(n, 1_735_689_600_000_000), pa.timestamp("us", "UTC"))
        )
    nulls = rng.random(n) < 0.2
    table = (
        table.append_column("page", pa.array(rng.choice(["/a", "/b", "/c"], n), mask=nulls))
        .append_column("score", pa.array(rng.normal(size=n)))
        .append_column("items", pa.array(rng.integers(0, 5, n), mask=nulls))
        .append_column("flag", pa.array(rng.random(n) < 0.5))
        .append_column("device", pa.array(rng.choice(["ios", "web"], n)).dictionary_encode())
    )
    path = tmp_path / "e.parquet"
    pq.write_table(table, path)
    for dup in ("warn", "keep"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataQualityWarning)
            got = jm.read_events(path, duplicates=dup)
            want = _gate(path, duplicates=dup)
        pd.testing.assert_frame_equal(got, want)


def test_a_stored_pandas_index_takes_the_general_path(tmp_path):
    raw = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02"], utc=True),
            "activity": ["x", "y"],
            "note": ["n1", "n2"],
        },
        index=pd.Index([10, 20], name="row"),
    )
    raw.to_parquet(tmp_path / "e.parquet")  # the index is stored as a column
    assert canonical_from_table(pq.read_table(tmp_path / "e.parquet")) is None
    got = jm.read_events(tmp_path / "e.parquet")
    pd.testing.assert_frame_equal(got, _gate(tmp_path / "e.parquet"))
    assert "row" not in got.columns


def test_nanosecond_and_numeric_columns_take_the_general_path(tmp_path):
    t = pa.table(
        {
            "customer_id": ["a", "b"],
            "timestamp": pa.array([1, 2], pa.timestamp("ns", tz="UTC")),
            "activity": ["x", "y"],
        }
    )
    assert canonical_from_table(t) is None
    ids = t.set_column(0, "customer_id", pa.array([1, 2]))
    assert canonical_from_table(ids) is None
    path = tmp_path / "e.parquet"
    pq.write_table(ids.set_column(1, "timestamp", pa.array([1, 2], pa.timestamp("us"))), path)
    assert jm.read_events(path, plausible_range=None)["customer_id"].tolist() == ["1", "2"]


@pytest.mark.parametrize("dup", ["warn", "keep", "drop"])
@pytest.mark.parametrize("shuffle", [False, True])
def test_pandas_dtypes_of_other_columns_survive_the_fast_path(tmp_path, dup, shuffle):
    raw = pd.DataFrame(
        {
            "user": ["a", "a", "b"],
            "timestamp": pd.to_datetime(["2025-01-01"] * 3, utc=True),
            "activity": ["x", "x", "y"],
            "size": pd.Categorical(["S", "S", "L"], categories=["S", "M", "L"], ordered=True),
            "n": pd.array([1, 1, None], dtype="Int64"),
            "when": pd.to_datetime(["2025-01-01", "2025-01-01", None]),
        }
    )
    raw = raw.iloc[[2, 0, 1]] if shuffle else raw
    raw.to_parquet(tmp_path / "e.parquet", index=False)
    mapping = {"user": "customer_id"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        warnings.simplefilter("ignore", RowsDroppedWarning)
        got = jm.read_events(tmp_path / "e.parquet", columns=mapping, duplicates=dup)
        want = schema.validate(raw.rename(columns=mapping), duplicates=dup)
    pd.testing.assert_frame_equal(got, want)
