"""schema.validate: every bad input named, nothing dropped silently, input untouched."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest

from journeymine import schema
from journeymine.exceptions import (
    DataQualityWarning,
    EmptyLogError,
    EventLogError,
    MissingColumnError,
    RowsDroppedWarning,
)


def _raw(**overrides):
    data = {
        "customer_id": ["b", "a", "a"],
        "timestamp": ["2025-01-02T10:00:00Z", "2025-01-01T09:00:00Z", "2025-01-01T08:00:00Z"],
        "activity": ["view", "buy", "view"],
        "channel": ["web", "app", "web"],
    }
    return pd.DataFrame(data | overrides)


def test_canonical_dtypes_and_order():
    log = schema.validate(_raw(value=["1.5", "2", None], extra=[1, 2, 3]))
    assert list(log.columns) == [
        "customer_id",
        "timestamp",
        "activity",
        "channel",
        "value",
        "extra",
    ]
    assert log["customer_id"].dtype == "str"
    assert log["timestamp"].dtype == schema.TIMESTAMP_DTYPE
    assert isinstance(log["activity"].dtype, pd.CategoricalDtype)
    assert isinstance(log["channel"].dtype, pd.CategoricalDtype)
    assert log["value"].dtype == "float64"
    assert log["customer_id"].tolist() == ["a", "a", "b"]
    assert log["activity"].tolist() == ["view", "buy", "view"]
    assert log.index.equals(pd.RangeIndex(3))


def test_input_is_not_mutated():
    raw = _raw()
    raw.index = [10, 11, 12]
    before = raw.copy()
    schema.validate(raw)
    pd.testing.assert_frame_equal(raw, before)


def test_sort_is_stable_among_equal_timestamps():
    raw = pd.DataFrame(
        {
            "customer_id": ["a", "b", "a", "a", "b"],
            "timestamp": ["2025-01-01T10:00:00Z"] * 5,
            "activity": ["1", "2", "3", "4", "5"],
        }
    )
    log = schema.validate(raw, duplicates="keep")
    assert log["activity"].tolist() == ["1", "3", "4", "2", "5"]
    assert schema.validate(raw, sort=False)["activity"].tolist() == list("12345")


def test_not_a_dataframe():
    with pytest.raises(EventLogError, match="expected a pandas DataFrame of events, got list"):
        schema.validate([1, 2])  # type: ignore[arg-type]


def test_missing_and_misspelled_columns():
    with pytest.raises(
        MissingColumnError, match=r"missing column 'customer_id'.*Did you mean 'customerid'\?"
    ):
        schema.validate(_raw().rename(columns={"customer_id": "customerid"}))
    with pytest.raises(MissingColumnError, match=r"Available columns: \["):
        schema.validate(_raw().drop(columns=["activity"]))
    with pytest.raises(MissingColumnError, match="missing column 'channel'"):
        schema.validate(_raw().drop(columns=["channel"]), require_channel=True)


def test_duplicate_column_names():
    raw = pd.concat([_raw(), _raw()[["activity"]]], axis=1)
    with pytest.raises(EventLogError, match=r"column names appear twice: \['activity'\]"):
        schema.validate(raw)


def test_empty_log():
    with pytest.raises(EmptyLogError, match="0 rows"):
        schema.validate(_raw().iloc[:0])


def test_unparseable_timestamps_name_rows():
    raw = _raw(timestamp=["2025-01-01", "garbage", "2025-02-30"])
    with pytest.raises(EventLogError, match=r"could not be parsed in rows 1, 2 .* 'garbage'"):
        schema.validate(raw)


def test_all_problems_are_collected():
    raw = _raw(timestamp=["2025-01-01", "garbage", "2025-01-01"], customer_id=[None, "a", 3])
    with pytest.raises(EventLogError) as info:
        schema.validate(raw)
    assert len(info.value.problems) == 3
    assert "3 problems" in str(info.value)


def test_mixed_timezones_name_rows():
    raw = _raw(timestamp=["2025-01-01T10:00:00+01:00", "2025-01-01 10:00", "2025-01-01T10:00Z"])
    with pytest.raises(EventLogError, match=r"1 naive in row 1 .*'2025-01-01 10:00'"):
        schema.validate(raw)


def test_mixed_aware_and_naive_datetime_objects():
    raw = _raw(
        timestamp=[
            dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
            dt.datetime(2025, 1, 1),
            dt.datetime(2025, 1, 2, tzinfo=dt.UTC),
        ]
    )
    with pytest.raises(EventLogError, match="mixes timezone-aware and naive"):
        schema.validate(raw)


def test_naive_timestamps_localized_with_tz_and_dst_gap_reported():
    log = schema.validate(
        _raw(timestamp=["2025-07-01 12:00"] * 3), tz="Europe/Paris", duplicates="keep"
    )
    assert log["timestamp"][0] == pd.Timestamp("2025-07-01 10:00", tz="UTC")
    with pytest.raises(EventLogError, match="does not exist in timezone 'Europe/Paris'"):
        schema.validate(
            _raw(timestamp=["2025-03-30 02:30"] * 3), tz="Europe/Paris", duplicates="keep"
        )


def test_epoch_timestamps():
    raw = _raw(timestamp=[1735725600, 1735725601, 1735725602])
    with pytest.raises(EventLogError, match="no unit was given"):
        schema.validate(raw)
    log = schema.validate(raw, timestamp_unit="s")
    assert log["timestamp"].min() == pd.Timestamp("2025-01-01 10:00", tz="UTC")


def test_null_ids_and_drop_invalid_counts():
    raw = _raw(customer_id=["a", None, " "], activity=["x", "y", None])
    with pytest.raises(EventLogError) as info:
        schema.validate(raw)
    text = str(info.value)
    assert "null or empty customer_id in rows 1, 2" in text
    assert "null or empty activity in row 2" in text
    with pytest.warns(
        RowsDroppedWarning,
        match=r"dropped 2 of 3 rows .*2 with null or empty "
        r"customer_id; 1 with null or empty activity",
    ):
        log = schema.validate(raw, drop_invalid=True)
    assert log["customer_id"].tolist() == ["a"]
    assert log["activity"].cat.categories.tolist() == ["x"]


def test_drop_invalid_everything_is_empty():
    with pytest.warns(RowsDroppedWarning), pytest.raises(EmptyLogError, match="every row"):
        schema.validate(_raw(timestamp=[None, None, None]), drop_invalid=True)


def test_non_string_ids_and_coerce_ids():
    raw = _raw(customer_id=[1, 2, 2], session_id=[1.0, np.nan, 3.0])
    with pytest.raises(EventLogError) as info:
        schema.validate(raw)
    assert "customer_id must hold strings, found int" in str(info.value)
    assert "session_id must hold strings, found float" in str(info.value)
    assert "coerce_ids=True" in str(info.value)
    log = schema.validate(raw, coerce_ids=True)
    assert log["customer_id"].tolist() == ["1", "2", "2"]
    assert log["session_id"].isna().sum() == 1


def test_mixed_object_ids():
    with pytest.raises(EventLogError, match=r"found int values in row 2"):
        schema.validate(_raw(customer_id=["a", "b", 3]))


def test_duplicates_warn_drop_raise_keep():
    raw = pd.concat([_raw(), _raw().iloc[[1]]], ignore_index=True)
    with pytest.warns(DataQualityWarning, match="1 duplicate events .*kept"):
        assert len(schema.validate(raw)) == 4
    with pytest.warns(RowsDroppedWarning, match="dropped 1 duplicate events"):
        assert len(schema.validate(raw, duplicates="drop")) == 3
    with pytest.raises(EventLogError, match=r"1 duplicate events .* in row 3"):
        schema.validate(raw, duplicates="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(schema.validate(raw, duplicates="keep")) == 4
    with pytest.raises(EventLogError, match="duplicates='maybe' is not allowed"):
        schema.validate(raw, duplicates="maybe")  # type: ignore[arg-type]


def test_duplicates_by_event_id():
    raw = _raw(event_id=["e1", "e2", "e1"])
    with pytest.warns(DataQualityWarning, match=r"same event_id"):
        schema.validate(raw)


def test_non_numeric_value():
    with pytest.raises(EventLogError, match=r"value must be numeric; row 1 .*'lots'"):
        schema.validate(_raw(value=[1, "lots", 2]))


def test_categorical_input_with_non_string_categories():
    raw = _raw(activity=pd.Categorical([1, 2, 1]))
    assert schema.validate(raw)["activity"].tolist() == ["1", "2", "1"]


def test_require_columns_and_summarize():
    log = schema.validate(_raw())
    schema.require_columns(log, ["customer_id"])
    s = schema.summarize(log)
    assert (s["customers"], s["events"], s["channels"]) == (2, 3, 2)
    assert s["channel_counts"] == {"web": 2, "app": 1}
