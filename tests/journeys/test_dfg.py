"""dfg, start/end activities and bottlenecks against a naive pandas reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _journeys_reference import ref_dfg, ref_edges, sort_like_spec, synthetic

import journeymine as jm
from journeymine.exceptions import (
    ConfigError,
    EmptyLogError,
    EventLogError,
    MissingColumnError,
)

DFG_COLUMNS = [
    "source",
    "target",
    "count",
    "cases",
    "mean_seconds",
    "median_seconds",
    "p90_seconds",
]


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    return synthetic()


def _assert_dfg_equal(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns[-7:]) == DFG_COLUMNS
    assert len(got) == len(want)
    for col in ("source", "target", "count", "cases"):
        assert got[col].tolist() == want[col].tolist(), col
    for col in ("mean_seconds", "median_seconds", "p90_seconds"):
        np.testing.assert_allclose(
            got[col].to_numpy(), want[col].to_numpy(), rtol=1e-9, atol=1e-6, err_msg=col
        )


def test_dfg_matches_reference(log: pd.DataFrame) -> None:
    got = jm.dfg(log)
    _assert_dfg_equal(got, ref_dfg(log))
    assert str(got["source"].dtype) == "str" and got["count"].dtype == np.int64
    assert int(got["count"].sum()) == len(log) - log["customer_id"].nunique()


def test_dfg_does_not_mutate_its_input(log: pd.DataFrame) -> None:
    before = log.copy()
    jm.dfg(log, segment="channel", time_range=("2025-01-10", None))
    pd.testing.assert_frame_equal(log, before)


def test_min_count_and_top_k(log: pd.DataFrame) -> None:
    full = jm.dfg(log)
    kept = jm.dfg(log, min_count=20)
    assert kept["count"].min() >= 20
    assert len(kept) == int((full["count"] >= 20).sum())
    top = jm.dfg(log, top_k=5)
    pd.testing.assert_frame_equal(top, full.head(5))
    assert len(jm.dfg(log, top_k=10_000)) == len(full)


def test_time_range_filters_events_before_pairing(log: pd.DataFrame) -> None:
    start, end = "2025-01-20", pd.Timestamp("2025-02-10", tz="UTC")
    inside = log[(log["timestamp"] >= pd.Timestamp(start, tz="UTC")) & (log["timestamp"] < end)]
    _assert_dfg_equal(jm.dfg(log, time_range=(start, end)), ref_dfg(inside))
    open_end = log[log["timestamp"] >= pd.Timestamp(start, tz="UTC")]
    _assert_dfg_equal(jm.dfg(log, time_range=(start, None)), ref_dfg(open_end))


def test_channels_filter_and_unknown_channel(log: pd.DataFrame) -> None:
    web = log[log["channel"].isin(["web", "app"])]
    _assert_dfg_equal(jm.dfg(log, channels=["web", "app"]), ref_dfg(web))
    with pytest.raises(ConfigError, match="Did you mean 'email'"):
        jm.dfg(log, channels=["emial"])


def test_segment_by_column_is_the_dfg_of_each_part(log: pd.DataFrame) -> None:
    got = jm.dfg(log, segment="channel")
    assert got.columns[0] == "segment"
    assert got["segment"].tolist() == sorted(got["segment"].tolist())
    for ch, part in got.groupby("segment", sort=False):
        want = ref_dfg(log[log["channel"] == ch])
        _assert_dfg_equal(part.reset_index(drop=True), want)


def test_segment_by_mapping(log: pd.DataFrame) -> None:
    customers = sorted(log["customer_id"].unique())
    persona = pd.Series([i % 3 for i in range(len(customers))], index=customers, name="persona")
    got = jm.dfg(log, segment=persona, top_k=4)
    assert sorted(got["segment"].unique().tolist()) == [0, 1, 2]
    for label, part in got.groupby("segment"):
        members = persona.index[persona == label]
        want = ref_dfg(log[log["customer_id"].isin(members)]).head(4)
        _assert_dfg_equal(part.reset_index(drop=True), want)
    also = jm.dfg(log, segment=persona.to_dict(), top_k=4)
    pd.testing.assert_frame_equal(also, got)


def test_segment_mapping_missing_customers_is_an_error(log: pd.DataFrame) -> None:
    partial = {cid: "a" for cid in log["customer_id"].unique()[:10]}
    with pytest.raises(ConfigError, match=r"have no label in segment"):
        jm.dfg(log, segment=partial)
    with pytest.raises(ConfigError, match="mapping's keys look like"):
        jm.dfg(log, segment=pd.Series({1: "a", 2: "b"}))


def test_start_and_end_activities(log: pd.DataFrame) -> None:
    s = sort_like_spec(log)
    g = s.groupby("customer_id", observed=True)["activity"]
    for got, want in ((jm.start_activities(log), g.first()), (jm.end_activities(log), g.last())):
        counts = want.astype(str).value_counts()
        assert dict(zip(got["activity"], got["count"], strict=True)) == counts.to_dict()
        assert got["count"].is_monotonic_decreasing
        assert int(got["count"].sum()) == log["customer_id"].nunique()


def test_bottlenecks_are_the_slowest_frequent_edges(log: pd.DataFrame) -> None:
    got = jm.bottlenecks(log, top_k=3, min_count=10)
    want = ref_dfg(log)
    want = (
        want[want["count"] >= 10]
        .sort_values(["median_seconds", "count"], ascending=[False, False], kind="stable")
        .head(3)
    )
    assert got[["source", "target"]].values.tolist() == want[["source", "target"]].values.tolist()
    assert (got["count"] >= 10).all()


def test_session_case_and_mean_times() -> None:
    log = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a"],
            "session_id": ["s1", "s1", "s2", "s2"],
            "timestamp": pd.to_datetime(
                [
                    "2025-01-01 10:00:00",
                    "2025-01-01 10:00:30",
                    "2025-01-02 08:00:00",
                    "2025-01-02 08:01:30",
                ],
                utc=True,
            ),
            "activity": ["view", "cart", "view", "cart"],
        }
    )
    by_session = jm.dfg(log, case="session_id")
    assert by_session[["source", "target", "count", "cases"]].values.tolist() == [
        ["view", "cart", 2, 2]
    ]
    assert by_session["mean_seconds"].iloc[0] == 60.0
    by_customer = jm.dfg(log)
    assert sorted(
        zip(by_customer["source"], by_customer["target"], by_customer["count"], strict=True)
    ) == [("cart", "view", 1), ("view", "cart", 2)]
    assert by_customer.loc[by_customer["source"] == "view", "cases"].item() == 1


def test_ties_keep_input_order() -> None:
    same_time = pd.Timestamp("2025-01-01", tz="UTC")
    log = pd.DataFrame(
        {"customer_id": ["a", "a", "a"], "timestamp": [same_time] * 3, "activity": ["x", "y", "z"]}
    )
    got = jm.dfg(log)
    assert got[["source", "target"]].values.tolist() == [["x", "y"], ["y", "z"]]
    assert got["median_seconds"].tolist() == [0.0, 0.0]


def test_file_inputs_equal_dataframe(log: pd.DataFrame, tmp_path) -> None:
    parquet = tmp_path / "events.parquet"
    csv = tmp_path / "events.csv"
    log.to_parquet(parquet, index=False)
    log.to_csv(csv, index=False)
    want = jm.dfg(log)
    pd.testing.assert_frame_equal(jm.dfg(parquet), want)
    pd.testing.assert_frame_equal(jm.dfg(str(csv)), want)
    pd.testing.assert_frame_equal(jm.dfg(parquet, channels=["web"]), jm.dfg(log, channels=["web"]))


def test_single_event_cases_give_an_empty_graph() -> None:
    log = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "activity": ["x", "y"],
            "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02"], utc=True),
        }
    )
    got = jm.dfg(log)
    assert got.empty and list(got.columns) == DFG_COLUMNS


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "3"])
def test_bad_top_k(log: pd.DataFrame, bad: object) -> None:
    with pytest.raises(ConfigError, match="top_k"):
        jm.dfg(log, top_k=bad)  # type: ignore[arg-type]


def test_input_errors(log: pd.DataFrame) -> None:
    with pytest.raises(EmptyLogError):
        jm.dfg(log.iloc[:0])
    with pytest.raises(MissingColumnError, match="Did you mean 'activty'"):
        jm.dfg(log.rename(columns={"activity": "activty"}))
    with pytest.raises(MissingColumnError, match="session_id"):
        jm.dfg(log, case="session_id")
    with pytest.raises(EventLogError, match="timestamp could not be parsed"):
        jm.dfg(log.assign(timestamp="not a date"))  # the one gate's message
    broken = log.copy()
    broken.loc[3, "activity"] = np.nan
    with pytest.raises(EventLogError, match="null"):
        jm.dfg(broken)
    with pytest.raises(ConfigError, match="time_range"):
        jm.dfg(log, time_range=("2025-03-01", "2025-01-01"))
    with pytest.raises(EmptyLogError, match="no events left"):
        jm.dfg(log, time_range=("2030-01-01", None))


def test_edges_reference_is_consistent(log: pd.DataFrame) -> None:
    # guards the reference itself: one edge per consecutive pair inside a customer
    assert len(ref_edges(log)) == len(log) - log["customer_id"].nunique()


def test_segment_mapping_goes_through_the_customer_of_each_session() -> None:
    t = pd.Timestamp("2025-01-01", tz="UTC")
    log = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "b", "b"],
            "session_id": ["s1", "s1", "s2", "s2", "s3", "s3"],
            "timestamp": [t + pd.Timedelta(minutes=m) for m in (0, 1, 60, 62, 0, 5)],
            "activity": ["view", "cart", "view", "buy", "view", "cart"],
        }
    )
    got = jm.dfg(log, case="session_id", segment={"a": "loyal", "b": "new"})
    rows = got[["segment", "source", "target", "count", "cases"]].values.tolist()
    assert rows == [
        ["loyal", "view", "buy", 1, 1],
        ["loyal", "view", "cart", 1, 1],
        ["new", "view", "cart", 1, 1],
    ]
    funnel = jm.funnel(log, ["view", "cart"], segment={"a": "loyal", "b": "new"}, case="session_id")
    assert funnel[["segment", "step", "cases"]].values.tolist() == [
        ["loyal", 1, 2],
        ["loyal", 2, 1],
        ["new", 1, 1],
        ["new", 2, 1],
    ]
