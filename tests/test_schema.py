"""schema.validate: every bad input named, nothing dropped silently, input untouched."""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import pandas as pd
import pytest

import journeymine as jm
from journeymine import schema
from journeymine.exceptions import (
    ConfigError,
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


# ---- implausible input (issue #11, class 2): refused with a count, an example and the fix ----


def _refused(raw, **kw):
    """The EventLogError (exactly that class) validate raises, as text."""
    with pytest.raises(EventLogError) as info:
        schema.validate(raw, **kw)
    assert info.type is EventLogError
    return str(info.value)


def test_mixed_day_month_order_is_refused_with_the_format_to_pass():
    text = _refused(_raw(timestamp=["01/02/2025", "13/01/2025", "02/03/2025 10:00"]))
    assert "mixes day-first and month-first dates" in text
    assert "1 date can only be day first (e.g. '13/01/2025' in row 1)" in text
    assert "2 dates could be either" in text
    assert "timestamp_format='%d/%m/%Y'" in text and "'%m/%d/%Y'" in text
    assert "--timestamp-format" in text
    log = schema.validate(
        _raw(timestamp=["01/02/2025", "13/01/2025", "02/03/2025"]), timestamp_format="%d/%m/%Y"
    )
    assert sorted(log["timestamp"].dt.strftime("%Y-%m-%d")) == [
        "2025-01-13",
        "2025-02-01",
        "2025-03-02",
    ]


def test_day_first_next_to_month_first_and_ambiguous_only_are_refused():
    text = _refused(_raw(timestamp=["13/01/2025", "01/13/2025", "14/01/2025"]))
    assert "2 dates can only be day first" in text and "1 date can only be month first" in text
    text = _refused(_raw(timestamp=["01/02/2025 10:00", "03/04/2025 11:00", "05/06/2025 12:00"]))
    assert "ambiguous dates: 3 dates could be day first or month first" in text
    assert "timestamp_format='%d/%m/%Y %H:%M'" in text


def test_day_month_dates_in_one_known_order_are_read():
    log = schema.validate(_raw(timestamp=["01/02/2025", "01/13/2025", "12/31/2025"]))
    assert sorted(log["timestamp"].dt.month) == [1, 1, 12]  # month first, as the data says
    log = schema.validate(_raw(timestamp=["13.01.2025", "25.02.2025", "31.12.2025"]))
    assert sorted(log["timestamp"].dt.day) == [13, 25, 31]  # day first, never ambiguous


def test_timestamp_format_mismatch_and_bad_format():
    text = _refused(
        _raw(timestamp=["31/01/2025", "2025-01-31", "01/02/2025"]), timestamp_format="%d/%m/%Y"
    )
    assert "timestamp does not match timestamp_format='%d/%m/%Y' in row 1" in text
    with pytest.raises(ConfigError, match="timestamp_format must be a strftime format"):
        schema.validate(_raw(), timestamp_format=5)  # type: ignore[arg-type]
    log = schema.validate(_raw(timestamp=[20250131, 20250201, 20250202]), timestamp_format="%Y%m%d")
    assert log["timestamp"].min() == pd.Timestamp("2025-01-31", tz="UTC")
    aware = schema.validate(
        _raw(timestamp=["31/01/2025 10:00 +0100"] * 3),
        timestamp_format="%d/%m/%Y %H:%M %z",
        duplicates="keep",
    )
    assert aware["timestamp"][0] == pd.Timestamp("2025-01-31 09:00", tz="UTC")


def test_milliseconds_read_as_seconds_are_refused_with_the_unit():
    ms = [1735725600000, 1735725601000, 1735725602000]
    text = _refused(_raw(timestamp=ms), timestamp_unit="s")
    assert "3 timestamps outside the plausible range [1990-01-01, 2100-01-01)" in text
    assert "e.g. 1735725600000 read as 56972-" in text
    assert "look like milliseconds, not seconds: pass timestamp_unit='ms'" in text
    log = schema.validate(_raw(timestamp=ms), timestamp_unit="ms")
    assert log["timestamp"].min() == pd.Timestamp("2025-01-01 10:00", tz="UTC")
    text = _refused(_raw(timestamp=ms))
    assert "no unit was given" in text and "these values look like milliseconds ('ms')" in text


def test_mixed_epoch_units_are_refused_with_counts():
    raw = _raw(timestamp=[1735725600, 1735725601000, 1735725602])
    for unit in (None, "s", "ms"):
        text = _refused(raw, timestamp_unit=unit)
        assert "timestamp mixes epoch units: 2 values look like seconds" in text
        assert "1 value looks like milliseconds (~1e12, e.g. 1735725601000 in row 1)" in text
        assert "milliseconds / 1000 gives seconds" in text and "timestamp_unit='s'" in text


@pytest.mark.parametrize("year", ["0001-01-01", "1900-01-01", "2150-06-01", "9999-12-31"])
def test_timestamps_outside_the_plausible_range_are_refused(year):
    raw = _raw(timestamp=["2025-01-01", year, year])
    text = _refused(raw)
    assert "2 timestamps outside the plausible range [1990-01-01, 2100-01-01) in rows 1, 2" in text
    assert f"e.g. '{year}' read as {year[:4]}" in text
    assert "plausible_range=(start, end)" in text and "drop_invalid=True" in text
    assert len(schema.validate(raw, plausible_range=None, duplicates="keep")) == 3
    with pytest.warns(RowsDroppedWarning, match=r"2 with timestamp outside the plausible range"):
        assert len(schema.validate(raw, drop_invalid=True)) == 1


def test_plausible_range_is_one_overridable_setting():
    assert schema.PLAUSIBLE_RANGE == ("1990-01-01", "2100-01-01")
    raw = _raw(timestamp=["1985-01-01", "2025-01-01", "2099-12-31T23:59:59"])
    assert "1 timestamp outside" in _refused(raw)
    assert len(schema.validate(raw, plausible_range=("1980-01-01", "2100-01-01"))) == 3
    text = _refused(raw, plausible_range=("2020-01-01", "2030-01-01"))
    assert "2 timestamps outside the plausible range [2020-01-01, 2030-01-01)" in text
    datetimes = _raw(
        timestamp=[dt.datetime(1, 1, 1), dt.datetime(2025, 1, 1), dt.datetime(9999, 1, 1)]
    )
    assert "2 timestamps outside" in _refused(datetimes)
    mask = schema.implausible_timestamps(
        pd.to_datetime(["2025-01-01", "2150-01-01", None], utc=True)
    )
    assert mask.tolist() == [False, True, False]
    for bad in ["1990", ("2100-01-01", "1990-01-01"), ("x", "2100-01-01"), (1, 2, 3)]:
        with pytest.raises(ConfigError, match=r"plausible_range=.*\('1990-01-01', '2100-01-01'\)"):
            schema.validate(_raw(), plausible_range=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [np.inf, -np.inf, 1e308, -2e15, "inf", "1e999"])
def test_infinite_and_huge_values_are_refused(bad):
    raw = _raw(value=[1.5, bad, np.nan])
    text = _refused(raw)
    assert "value is infinite or beyond ±1e15 in 1 row: row 1" in text
    assert "Allowed: finite numbers with abs(value) <= 1e15" in text
    assert "drop_invalid=True" in text
    with pytest.warns(RowsDroppedWarning, match=r"1 with value infinite or beyond ±1e15"):
        log = schema.validate(raw, drop_invalid=True)
    assert log["value"].isna().sum() == 1 and np.isfinite(log["value"].dropna()).all()
    assert schema.validate(_raw(value=[1e15, -1e15, 0.0]))["value"].abs().max() == 1e15


@pytest.mark.parametrize("column", ["activity", "channel", "customer_id", "session_id", "value"])
@pytest.mark.parametrize("item", [[1, 2], np.array([1, 2]), {"a": 1}, ("x", "y")])
def test_lists_in_canonical_columns_are_refused(column, item):
    values = ["x", None, "y"] if column != "value" else [1.0, None, 2.0]
    values[1] = item
    raw = _raw(**{column: pd.Series(values, dtype=object)})
    for coerce in (False, True):
        text = _refused(raw, coerce_ids=coerce)
        assert f"{column} holds 1 non-scalar value ({type(item).__name__}) in row 1" in text
        assert f"df.explode({column!r})" in text and "--map" in text
        assert "[1 2]" not in text.split("e.g.")[0]


def test_lists_in_extra_columns_are_kept_and_duplicates_still_found():
    raw = pd.concat([_raw(), _raw().iloc[[0]]], ignore_index=True)
    raw["tags"] = pd.Series([[1, 2], [3], {"a": 1}, [1, 2]], dtype=object)
    with pytest.warns(DataQualityWarning, match="1 duplicate events"):
        log = schema.validate(raw)
    assert sorted(map(str, log["tags"])) == ["[1, 2]", "[1, 2]", "[3]", "{'a': 1}"]


@pytest.mark.parametrize("column", ["activity", "channel"])
@pytest.mark.parametrize("blank", ["", "  "])
def test_blank_activity_or_channel_is_refused_like_a_null(column, blank):
    text = _refused(_raw(**{column: ["x", blank, None]}))
    assert f"null or empty {column} in rows 1, 2" in text and "drop_invalid=True" in text


@pytest.mark.parametrize("word", ["now", "today"])
def test_now_and_today_are_not_event_times(word):
    text = _refused(_raw(timestamp=["2025-01-01", word, "2025-01-02"]))
    assert "timestamp holds 'now' or 'today' in row 1" in text
    assert "Give the time the event happened" in text


def test_duplicate_column_names_name_the_fix():
    raw = pd.concat([_raw(), _raw()[["activity"]]], axis=1)
    with pytest.raises(EventLogError) as info:
        schema.validate(raw)
    assert info.type is EventLogError
    text = str(info.value)
    assert "(2 named 'activity')" in text and "'activity.1'" in text
    assert "columns={'your_name': 'activity'}" in text and "--map your_name=activity" in text


def test_text_next_to_datetime_objects_follows_the_text_rules():
    raw = _raw(timestamp=["2025-01-01 10:00", dt.datetime(2025, 1, 2, 9), "2025-01-03"])
    assert schema.validate(raw)["timestamp"].min() == pd.Timestamp("2025-01-01 10:00", tz="UTC")
    text = _refused(_raw(timestamp=["0", dt.datetime(2025, 1, 2), "2025-01-03"]))
    assert "could not be parsed in row 0" in text


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"tz": "Mars/Phobos"}, "tz='Mars/Phobos' is not a known timezone"),
        ({"tz": ""}, "tz='' is not a timezone"),
        ({"tz": 5}, "tz=5 is not a timezone"),
        ({"timestamp_unit": "sec"}, "timestamp_unit='sec' is not a unit of epoch timestamps"),
    ],
)
def test_unknown_timezone_or_unit_is_a_config_error(kw, words):
    with pytest.raises(ConfigError) as info:
        schema.validate(_raw(), **kw)
    assert info.type is ConfigError
    assert words in str(info.value)
    assert "--tz" in str(info.value) or "'s', 'ms', 'us' or 'ns'" in str(info.value)


def _shuffled(n_customers: int, per: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_customers * per
    t = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(
        rng.integers(0, 5, size=n), unit="s"
    )  # few distinct times: many (customer, time) ties
    raw = pd.DataFrame(
        {
            "customer_id": pd.array(
                [f"c{i}" for i in rng.integers(0, n_customers, size=n)], dtype="str"
            ),
            "timestamp": t,
            "activity": rng.choice(["view", "buy", "cart"], size=n),
            "channel": rng.choice(["web", "app"], size=n),
        }
    )
    raw["n"] = np.arange(n)  # input position, to check the order among ties
    return raw


def _reference_order(raw: pd.DataFrame) -> pd.DataFrame:
    return raw.sort_values(["customer_id", "timestamp", "n"], kind="stable")


@pytest.mark.parametrize("span", ["seconds", "coarsened"])
def test_shuffled_rows_are_sorted_stably_with_exact_ties(span):
    raw = _shuffled(40 if span == "seconds" else 3000, 5, seed=3)
    if span == "coarsened":
        # 3000 customers times 600 years in microseconds do not fit one int64 key: the time
        # is coarsened and the rows of equal keys are ordered exactly
        raw.loc[0, "timestamp"] = pd.Timestamp("1700-01-01 00:00:00.000001", tz="UTC")
        raw.loc[1, "timestamp"] = pd.Timestamp("2299-12-31 23:59:59.999999", tz="UTC")
        raw.loc[2, "timestamp"] = raw.loc[3, "timestamp"] + pd.Timedelta(1, "us")
        raw.loc[2, "customer_id"] = raw.loc[3, "customer_id"]
    log = schema.validate(raw, duplicates="keep", plausible_range=None)
    expected = _reference_order(raw)
    assert log["n"].tolist() == expected["n"].tolist()


@pytest.mark.parametrize("coarsened", [False, True])
def test_duplicates_found_among_ties_of_a_shuffled_log(coarsened):
    raw = _shuffled(3000 if coarsened else 30, 20 if not coarsened else 3, seed=5)
    raw = raw.drop(columns="n")
    if coarsened:  # a key that does not fit int64 (see above): ties re-checked on the time
        raw.loc[0, "timestamp"] = pd.Timestamp("1700-01-01", tz="UTC")
        raw.loc[1, "timestamp"] = pd.Timestamp("2299-12-31", tz="UTC")
        raw = pd.concat(
            [
                raw,
                raw.iloc[[5, 6]].assign(timestamp=lambda d: d["timestamp"] + pd.Timedelta(1, "us")),
            ]
        )
        raw = raw.reset_index(drop=True)
    expected = raw.duplicated(keep="first")
    assert expected.any()  # the fixture has exact duplicate rows
    with pytest.warns(RowsDroppedWarning, match=f"dropped {int(expected.sum())} duplicate"):
        log = schema.validate(raw, duplicates="drop", plausible_range=None)
    kept = raw[~expected]
    assert len(log) == len(kept)
    pd.testing.assert_frame_equal(
        log.reset_index(drop=True),
        schema.validate(kept, duplicates="keep", plausible_range=None).reset_index(drop=True),
    )


def test_blank_customer_ids_are_refused_among_many_rows():
    raw = _shuffled(10, 10, seed=1).drop(columns="n")
    raw["customer_id"] = raw["customer_id"].astype(object)
    raw.loc[[7, 42], "customer_id"] = ["  ", ""]
    with pytest.raises(EventLogError, match=r"null or empty customer_id in rows 7, 42"):
        schema.validate(raw)
    with pytest.warns(RowsDroppedWarning, match="2 with null or empty customer_id"):
        log = schema.validate(raw, drop_invalid=True, duplicates="keep")
    assert len(log) == len(raw) - 2 and (log["customer_id"].str.strip() != "").all()


def test_unused_categories_are_dropped_and_their_order_kept():
    raw = _raw()
    raw["activity"] = pd.Categorical(
        raw["activity"], categories=["zoom", "view", "buy", "never"], ordered=True
    )
    log = schema.validate(raw)
    assert log["activity"].cat.categories.tolist() == ["view", "buy"]
    assert log["activity"].cat.ordered
    assert log["activity"].tolist() == ["view", "buy", "view"]


def test_customer_codes_kept_on_the_sorted_column_and_forgotten_after_a_change():
    raw = _shuffled(20, 10, seed=2).drop(columns="n")
    log = schema.validate(raw, duplicates="keep")
    kept = schema.cached_codes(log["customer_id"])
    assert kept is not None
    codes, labels = kept
    factorized, uniques = pd.factorize(log["customer_id"])
    np.testing.assert_array_equal(codes, factorized)
    assert labels.tolist() == list(uniques)
    log.loc[0, "customer_id"] = "changed"
    assert schema.cached_codes(log["customer_id"]) is None
    assert schema.cached_codes(log["customer_id"].copy()) is None


def test_time_arguments_read_once_for_every_package():
    # naive = UTC, an offset is converted, None is an open bound
    assert schema.to_micros("1970-01-01 00:00:01", "start") == 1_000_000
    assert schema.to_micros("1970-01-01T01:00:01+01:00", "start") == 1_000_000
    assert schema.to_micros(np.datetime64("1970-01-01T00:00:02"), "start") == 2_000_000
    assert schema.to_micros(dt.date(1970, 1, 2), "start") == 86_400_000_000
    assert schema.to_micros(None, "start") is None
    assert schema.to_timestamp("2025-03-01", "end") == pd.Timestamp("2025-03-01", tz="UTC")
    with pytest.raises(ConfigError, match=r"start='soon' is not a time"):
        schema.to_micros("soon", "start")
    with pytest.raises(ConfigError, match="end is NaT"):
        schema.to_timestamp(pd.NaT, "end")
    # the report filters read times through it
    log = schema.validate(_raw())
    from journeymine.report import paths_data

    with pytest.raises(ConfigError, match=r"time_range\[1\]='later' is not a time"):
        paths_data(log, "view", time_range=("2025-01-01", "later"))


def test_time_ranges_read_once_for_every_package():
    start, end = schema.to_time_range(("2025-03-01", None))
    assert start == pd.Timestamp("2025-03-01", tz="UTC") and end is None
    with pytest.raises(ConfigError, match=r"period='2025' is not a \(start, end\) pair"):
        schema.to_time_range("2025", "period")
    with pytest.raises(ConfigError, match=r"period\[1\] is missing"):
        schema.to_time_range(("2025-03-01", None), "period", open_ends=False)
    with pytest.raises(ConfigError, match="time_range ends before it starts"):
        schema.to_time_range(("2025-03-02", "2025-03-01"))
    # the same checks in the journey statistics, the report filters and compare_periods
    import journeymine as jm

    log = schema.validate(_raw())
    backwards = ("2025-01-02", "2025-01-01")
    for call in (
        lambda: jm.dfg(log, time_range=backwards),
        lambda: jm.report.paths_data(log, "view", time_range=backwards),
        lambda: jm.compare_periods(log, backwards, ("2025-01-02", "2025-01-03")),
    ):
        with pytest.raises(ConfigError, match="ends before it starts"):
            call()


@pytest.mark.parametrize(("column", "bad"), [("customer_id", " "), ("activity", "")])
def test_canonical_dtypes_do_not_vouch_for_blank_values(column, bad):
    # a log in canonical dtypes with a blank id or activity gets validate's error from the gate
    # every entry point uses, instead of passing through as already checked (a null channel
    # is canonical: "other")
    good = schema.validate(
        pd.DataFrame(
            {
                "customer_id": ["a", "b", "c"],
                "timestamp": ["2025-01-01", "2025-01-02", "2025-01-03"],
                "activity": ["x", "y", "z"],
                "channel": ["web", "app", "web"],
            }
        )
    )
    assert schema.canonical_log(good) is good
    log = good.copy()
    if column == "customer_id":
        log[column] = pd.array(["a", bad, "c"], dtype=log[column].dtype)
    else:
        log[column] = pd.Categorical(["x", bad, "z"])
    with pytest.raises(EventLogError, match=f"null or empty {column} in row 1"):
        schema.canonical_log(log)
    with pytest.raises(EventLogError, match=f"null or empty {column} in row 1"):
        jm.dfg(log)


# ---- a log with its own column names: the error says the whole mapping to pass ----


def test_missing_columns_name_the_usual_source_names_and_the_whole_mapping():
    raw = pd.DataFrame(
        {"CaseID": ["1"], "ActivityID": ["a"], "CompleteTimestamp": ["2025-01-01 10:00:00"]}
    )
    with pytest.raises(MissingColumnError) as info:
        schema.require_columns(raw, ["customer_id", "timestamp", "activity"])
    msg = str(info.value)
    assert "'customer_id' (Did you mean 'CaseID'?)" in msg
    assert "'timestamp' (Did you mean 'CompleteTimestamp'?)" in msg
    mapping = {"CaseID": "customer_id", "CompleteTimestamp": "timestamp", "ActivityID": "activity"}
    assert f"columns={mapping!r}" in msg
    # the mapping it names is one that reads the log
    log = schema.validate(raw.rename(columns=mapping))
    assert log["customer_id"].tolist() == ["1"]


@pytest.mark.parametrize(
    ("available", "expected"),
    [
        (
            ["user_id", "event_name", "event_time"],
            {"user_id": "customer_id", "event_time": "timestamp", "event_name": "activity"},
        ),
        (["household_key", "DAY", "department"], {"household_key": "customer_id"}),
        (["custmer_id", "activity"], {"custmer_id": "customer_id"}),
        (["colour", "size"], {}),
        # a canonical column is never proposed as another one
        (["activity", "channel"], {}),
    ],
)
def test_suggest_columns(available, expected):
    missing = [c for c in ("customer_id", "timestamp", "activity") if c not in available]
    assert schema.suggest_columns(missing, available) == expected


def test_a_column_that_is_not_canonical_still_gets_the_closest_name():
    with pytest.raises(MissingColumnError, match="Did you mean 'segment'"):
        schema.require_columns(pd.DataFrame({"segment": [1]}), ["segmnt"])


def test_suggest_columns_refuses_a_string_for_a_list():
    with pytest.raises(
        ConfigError, match=r"missing must be a list of column names.*\['customer_id'\]"
    ):
        schema.suggest_columns("customer_id", ["CaseID"])
    with pytest.raises(ConfigError, match="available must be a list"):
        schema.suggest_columns(["customer_id"], "CaseID")


def test_isin_values_and_used_values_match_pandas_on_categorical_and_text_columns():
    """The code-based helpers the featurizer and the outcomes use give what the slow pandas
    spelling gives: unused categories are not values, a null is in no set, text compares as
    text (a categorical of numbers too)."""
    from journeymine.schema import isin_values, used_values

    rng = np.random.default_rng(0)
    raw = rng.choice(["buy", "view", "return", None], size=500)
    cat = pd.Series(raw, dtype="category").iloc[:200]  # a window: some categories unused
    cat = cat[cat.astype(str) != "return"]
    for s in (cat, cat.astype(object), cat.astype("string")):
        want = s.astype(str).isin({"buy", "return"}) & s.notna()
        assert isin_values(s, ["buy", "return"]).tolist() == want.tolist()
        assert sorted(used_values(s)) == sorted(str(v) for v in pd.unique(s.dropna()))
    assert "return" in list(cat.cat.categories) and "return" not in set(used_values(cat))
    nums = pd.Series([1, 2, 2], dtype="category")
    assert isin_values(nums, ["2"]).tolist() == [False, True, True]
