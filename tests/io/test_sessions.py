"""sessionize: gaps, channel switches, purity, a reference implementation, scale."""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings

import journeymine as jm
from journeymine.exceptions import ConfigError, EventLogError, MissingColumnError


def _log(customers, minutes, channels=None):
    data = {
        "customer_id": customers,
        "timestamp": pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(minutes, unit="min"),
        "activity": ["x"] * len(customers),
    }
    if channels is not None:
        data["channel"] = channels
    return pd.DataFrame(data)


def _reference(log, gap, by_channel):
    """Plain-Python sessionization for comparison."""
    order = sorted(range(len(log)), key=lambda i: (log["customer_id"][i], log["timestamp"][i], i))
    out = [None] * len(log)
    prev = None
    for i in order:
        c, t = log["customer_id"][i], log["timestamp"][i]
        ch = log["channel"][i] if by_channel else None
        if prev is None or prev[0] != c:
            n = 1
        elif t - prev[1] > gap or (by_channel and ch != prev[2]):
            n += 1
        out[i] = f"{c}:{n}"
        prev = (c, t, ch)
    return out


def test_gap_splits_and_equal_gap_does_not():
    log = _log(["a", "a", "a", "a"], [0, 30, 61, 200])
    assert jm.sessionize(log, session_gap="30min")["session_id"].tolist() == [
        "a:1",
        "a:1",
        "a:2",
        "a:3",
    ]


def test_unsorted_input_keeps_row_order_and_is_not_mutated():
    log = _log(["b", "a", "a", "b"], [100, 50, 0, 0])
    before = log.copy()
    out = jm.sessionize(log, session_gap=pd.Timedelta("45min"))
    assert out["session_id"].tolist() == ["b:2", "a:2", "a:1", "b:1"]
    pd.testing.assert_frame_equal(log, before)
    assert out["session_id"].dtype == "str"
    assert list(out.columns) == ["customer_id", "timestamp", "activity", "session_id"]


def test_by_channel_and_overwrite_existing():
    log = _log(["a"] * 4, [0, 1, 2, 3], channels=["web", "web", "app", "web"])
    log["session_id"] = "old"
    out = jm.sessionize(log, by_channel=True)
    assert out["session_id"].tolist() == ["a:1", "a:1", "a:2", "a:3"]
    assert jm.sessionize(log)["session_id"].tolist() == ["a:1"] * 4


@pytest.mark.parametrize("gap", ["soon", "-5min", 0, None, "NaT"])
def test_bad_gap(gap):
    with pytest.raises(ConfigError, match="session_gap"):
        jm.sessionize(_log(["a"], [0]), session_gap=gap)


def test_gap_is_the_old_name_of_session_gap():
    """sessionize(gap=) works for one more minor release, warns naming session_gap=, same
    result."""
    log = _log(["a", "a", "b", "a"], [0, 30, 5, 100], channels=["web", "app", "web", "web"])
    with pytest.warns(
        FutureWarning, match=r"sessionize\(gap=...\) is renamed sessionize\(session_gap"
    ):
        old = jm.sessionize(log, gap="20min", by_channel=True)
    pd.testing.assert_frame_equal(old, jm.sessionize(log, session_gap="20min", by_channel=True))
    assert old["session_id"].tolist() == ["a:1", "a:2", "b:1", "a:3"]
    with pytest.raises(TypeError, match="pass session_gap= only"):
        jm.sessionize(log, gap="20min", session_gap="20min")


def test_needs_columns_and_datetimes():
    with pytest.raises(MissingColumnError, match="channel"):
        jm.sessionize(_log(["a"], [0]), by_channel=True)
    bad = _log(["a"], [0]).assign(timestamp=["2025-01-01"])
    with pytest.raises(EventLogError, match="must be datetimes"):
        jm.sessionize(bad)
    with pytest.raises(EventLogError, match="customer_id has nulls"):
        jm.sessionize(_log([None], [0]))


def test_empty_log():
    out = jm.sessionize(_log([], []))
    assert len(out) == 0 and "session_id" in out.columns


@settings(max_examples=100, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.sampled_from("abc"), st.integers(0, 300), st.sampled_from(["web", "app"])),
        min_size=1,
        max_size=30,
    ),
    gap=st.integers(1, 90),
    by_channel=st.booleans(),
)
def test_matches_reference(rows, gap, by_channel):
    customers, minutes, channels = map(list, zip(*rows, strict=True))
    log = _log(customers, minutes, channels)
    td = pd.Timedelta(minutes=gap)
    got = jm.sessionize(log, session_gap=td, by_channel=by_channel)["session_id"].tolist()
    assert got == _reference(log, td, by_channel)


def test_session_numbers_group_rows_as_sessionize_does_on_a_shuffled_log():
    """The integer sessions (used where only the grouping matters, e.g. persona profiles'
    typical paths) put the same rows together as sessionize's text ids, with and without
    by_channel, whatever the row order."""
    from journeymine.datasets import make_journeys
    from journeymine.io.sessions import session_numbers

    log = make_journeys(300, days=30, random_state=3).events.sample(frac=1.0, random_state=4)
    for by_channel in (False, True):
        text = jm.sessionize(log, session_gap="20min", by_channel=by_channel)["session_id"]
        nums = session_numbers(log, session_gap="20min", by_channel=by_channel)
        pairs = pd.DataFrame({"text": text.to_numpy(), "num": nums})
        assert pairs.groupby("text")["num"].nunique().max() == 1
        assert pairs.groupby("num")["text"].nunique().max() == 1
        assert len(np.unique(nums)) == text.nunique() > 300
