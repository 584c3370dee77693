"""DuckDB helpers: connection, file reading with validation, grouped edge statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from journeymine.engine import connect, edge_statistics, encode, file_columns, read_file_columns
from journeymine.exceptions import (
    ConfigError,
    EmptyLogError,
    EventLogError,
    MissingColumnError,
)


def _log() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["b", "a", "b", "a"],
            "timestamp": pd.to_datetime(
                ["2025-01-02 10:00", "2025-01-01 09:00", "2025-01-01 08:00", "2025-01-01 09:30"],
                utc=True,
            ),
            "activity": ["buy", "view", "view", "cart"],
            "channel": ["app", "web", "app", "web"],
        }
    )


def test_connect_settings_and_errors() -> None:
    with connect(threads=1, memory_limit="256MB") as con:
        assert con.sql("SELECT current_setting('threads')").fetchall() == [(1,)]
        assert con.sql("SELECT current_setting('TimeZone')").fetchall() == [("UTC",)]
    with pytest.raises(ConfigError, match="threads"):
        connect(threads=0)
    with pytest.raises(ConfigError, match="memory_limit"):
        connect(memory_limit="lots; DROP TABLE x")


@pytest.mark.parametrize("n", [5_000, 1_200_000])  # the larger counts cases on a second thread
def test_edge_statistics_matches_numpy(n: int) -> None:
    rng = np.random.default_rng(0)
    edge = rng.integers(0, 7, n)
    case = np.sort(rng.integers(0, 300, n)).astype(np.int32)  # edges come in case order
    micros = rng.integers(0, 10**9, n)
    got = edge_statistics({"edge": edge}, case, micros).sort_values("edge", ignore_index=True)
    for row in got.itertuples(index=False):
        sel = edge == row.edge
        secs = micros[sel] / 1e6
        assert row.count == sel.sum()
        assert row.cases == len(np.unique(case[sel]))
        assert row.mean_seconds == pytest.approx(secs.mean())
        assert row.median_seconds == pytest.approx(np.median(secs))
        assert row.p90_seconds == pytest.approx(np.quantile(secs, 0.9))


@pytest.mark.parametrize("n", [5_000, 2_500_000])  # the larger spans several blocks
def test_edge_statistics_overwrite_gives_the_same_frame(n: int) -> None:
    rng = np.random.default_rng(3)
    edge = rng.integers(0, 40, n)
    case = np.sort(rng.integers(0, 9_000, n)).astype(np.int32)
    micros = rng.integers(0, 10**11, n)
    kept = micros.copy()
    want = edge_statistics({"edge": edge}, case, micros)
    assert np.array_equal(micros, kept)  # by default the input is left as it was
    got = edge_statistics({"edge": edge}, case, micros, overwrite=True)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert not np.array_equal(micros, kept)  # it was the sort's buffer


@pytest.mark.parametrize(
    ("n_cases", "n_edges"),
    [
        (500, 7),  # a (case x edge) bitmap
        (500, 70_000),  # a bitmap of 500 cases x ~53,000 edges
        (20_000_000, 7),  # too many cases x edges for the bitmap (2**27): a 16-bit radix sort
        (5_000, 200_000),  # too many for the bitmap, over 2**16 edges (~79,000): the general sort
    ],
)
def test_distinct_cases_per_edge_by_bitmap_and_by_sort(n_cases: int, n_edges: int) -> None:
    rng = np.random.default_rng(2)
    n = 100_000
    case = np.sort(rng.integers(0, n_cases, n)).astype(np.int32)
    edge = rng.integers(0, n_edges, n)
    got = edge_statistics({"edge": edge}, case, np.zeros(n, dtype=np.int64))
    want = pd.Series(case).groupby(edge).nunique()
    assert got["edge"].tolist() == want.index.tolist()
    assert got["cases"].tolist() == want.tolist()


def test_edge_statistics_with_two_keys_and_many_groups() -> None:
    rng = np.random.default_rng(1)
    n = 200_000
    seg = rng.integers(0, 3, n)
    edge = rng.integers(0, 30_000, n)  # more than 2**16 groups: the non-radix path
    case = np.zeros(n, dtype=np.int32)
    micros = rng.integers(0, 10**6, n)
    got = edge_statistics({"seg": seg, "edge": edge}, case, micros)
    want = (
        pd.DataFrame({"seg": seg, "edge": edge, "s": micros / 1e6})
        .groupby(["seg", "edge"])["s"]
        .agg(["size", "mean", "median"])
        .reset_index()
    )
    assert len(got) == len(want) > 2**16
    assert got[["seg", "edge"]].values.tolist() == want[["seg", "edge"]].values.tolist()
    assert got["count"].tolist() == want["size"].tolist()
    assert (got["cases"] == 1).all()
    np.testing.assert_allclose(got["mean_seconds"], want["mean"])
    np.testing.assert_allclose(got["median_seconds"], want["median"])
    assert edge_statistics({"e": edge[:0]}, case[:0], micros[:0]).empty


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_file_input_equals_frame(tmp_path, suffix: str) -> None:
    log = _log()
    path = tmp_path / f"events{suffix}"
    if suffix == ".csv":
        log.to_csv(path, index=False)
    else:
        log.to_parquet(path, index=False)
    assert set(file_columns(path)) == set(log.columns)
    a, b = encode(path), encode(log)
    np.testing.assert_array_equal(a.timestamps, b.timestamps)
    pd.testing.assert_frame_equal(a.to_frame().astype(str), b.to_frame().astype(str))


def test_csv_ids_are_text_and_naive_times_utc(tmp_path) -> None:
    path = tmp_path / "e.csv"
    path.write_text(
        "customer_id,timestamp,activity\n007,2025-01-01 10:00:00,view\n7,2025-01-01 11:00:00,view\n"
    )
    enc = encode(path)
    assert sorted(enc.case_ids.tolist()) == ["007", "7"]
    assert enc.timestamps.min() == pd.Timestamp("2025-01-01 10:00", tz="UTC").value // 1000


def test_file_errors(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="no such event file"):
        encode(tmp_path / "missing.parquet")
    with pytest.raises(ConfigError, match=r"\.parquet or \.csv"):
        encode(tmp_path / "events.xlsx")
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,timestamp,activty\na,2025-01-01T00:00:00Z,view\n")
    with pytest.raises(MissingColumnError, match="Did you mean 'activty'"):
        encode(bad)
    unparseable = tmp_path / "unparseable.csv"
    unparseable.write_text(
        "customer_id,timestamp,activity\na,2025-01-01T00:00:00Z,view\na,yesterday,view\nb,,view\n"
    )
    with pytest.raises(
        EventLogError,
        match=r"1 rows have an unparseable 'timestamp', e\.g\. "
        r"'yesterday'",
    ) as err:
        encode(unparseable)
    assert any("null 'timestamp'" in p for p in err.value.problems)
    epoch = tmp_path / "epoch.csv"
    epoch.write_text("customer_id,timestamp,activity\na,1735689600,view\n")
    with pytest.raises(EventLogError, match="timestamp_unit"):
        encode(epoch)
    empty = tmp_path / "empty.parquet"
    _log().iloc[:0].to_parquet(empty)
    with pytest.raises(EmptyLogError):
        encode(empty)
    nulls = tmp_path / "nulls.csv"
    nulls.write_text("customer_id,timestamp,activity\n,2025-01-01T00:00:00Z,view\n")
    with pytest.raises(EventLogError, match="null 'customer_id'"):
        encode(nulls)


def test_read_file_columns_reads_only_what_is_asked(tmp_path) -> None:
    path = tmp_path / "e.parquet"
    _log().assign(extra=1.5).to_parquet(path)
    table, more = read_file_columns(
        path,
        case="customer_id",
        timestamp="timestamp",
        activity="activity",
        optional=["channel", "nope"],
    )
    assert more == ["channel"]
    assert table.column_names == ["case", "timestamp", "activity", "channel"]
