"""OutOfCoreLog: DFG, variants and customer features from hive folders of Parquet equal the
in-memory results; bad files fail with the local path's errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import journeymine as jm
from journeymine.exceptions import (
    ConfigError,
    EmptyLogError,
    EventLogError,
    MissingColumnError,
)
from journeymine.scale import OutOfCoreLog


def _write_hive(log: pd.DataFrame, folder: Path, *, seed: int = 0) -> list[Path]:
    """One folder per day (``date=YYYY-MM-DD``), rows shuffled inside each file."""
    files = []
    days = log["timestamp"].dt.strftime("%Y-%m-%d")
    for day, part in log.groupby(days):
        sub = folder / f"date={day}"
        sub.mkdir(parents=True)
        path = sub / "part-0.parquet"
        part.sample(frac=1, random_state=seed).to_parquet(path, index=False)
        files.append(path)
    return files


def _in_memory(files: list[Path]) -> pd.DataFrame:
    """The files read one after the other in name order, then the local gate."""
    frames = [pd.read_parquet(f) for f in sorted(files, key=str)]
    return jm.read_events(pd.concat(frames, ignore_index=True), duplicates="keep")


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    log = jm.datasets.make_journeys(n_customers=400, days=45, random_state=3).events
    # a tie across two files: the same customer and instant, read in file order
    first = log.iloc[[0]].copy()
    tie = first.assign(activity=log["activity"].iloc[5])
    folder = tmp_path_factory.mktemp("hive")
    files = _write_hive(log, folder)
    extra = folder / "date=9999-extra"
    extra.mkdir()
    tie.to_parquet(extra / "part-0.parquet", index=False)
    files.append(extra / "part-0.parquet")
    return folder, _in_memory(files)


def test_dfg_and_variants_equal_the_in_memory_results(generated):
    folder, log = generated
    with OutOfCoreLog(folder, memory_limit="512MB", threads=1, progress=False) as big:
        assert big.n_events == len(log)
        pd.testing.assert_frame_equal(big.dfg(), jm.dfg(log))
        pd.testing.assert_frame_equal(big.variants(), jm.variants(log))
        pd.testing.assert_frame_equal(big.variants(top_k=5), jm.variants(log, top_k=5))
        # customers in buckets (one table of pairs, sequences counted per bucket and added)
        pd.testing.assert_frame_equal(big.dfg(events_per_bucket=1_000), jm.dfg(log), rtol=1e-15)
        pd.testing.assert_frame_equal(big.variants(events_per_bucket=1_000), jm.variants(log))


def test_shuffled_random_log_in_one_file_equals_in_memory(tmp_path):
    rng = np.random.default_rng(7)
    n = 20_000
    raw = pd.DataFrame(
        {
            "customer_id": [f"u{i}" for i in rng.integers(0, 800, size=n)],
            "timestamp": pd.Timestamp("2024-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 10**7, size=n), unit="s"),
            "activity": rng.choice([f"act_{k:02d}" for k in range(12)], size=n),
            "channel": rng.choice(["web", "app", "email"], size=n),
        }
    )
    path = tmp_path / "one.parquet"
    raw.to_parquet(path, index=False)
    log = jm.read_events(path, duplicates="keep")
    with OutOfCoreLog(path, memory_limit="512MB", progress=False) as big:
        pd.testing.assert_frame_equal(big.dfg(), jm.dfg(log))
        pd.testing.assert_frame_equal(big.variants(), jm.variants(log))


def test_customer_features_by_bucket_equal_the_whole_log(generated, tmp_path):
    from journeymine.personas import CustomerFeaturizer

    folder, log = generated
    featurizer = CustomerFeaturizer().fit(log)
    spill = tmp_path / "spill"
    with OutOfCoreLog(folder, memory_limit="512MB", temp_directory=spill, progress=False) as big:
        features = big.customer_features(featurizer, events_per_bucket=2_000)
        sample = big.sample_customers(40, seed=1)
    pd.testing.assert_frame_equal(features, featurizer.transform(log))
    assert 0 < sample["customer_id"].nunique() < log["customer_id"].nunique()
    assert spill.is_dir() and not any(spill.rglob("*.parquet"))  # buckets removed


def test_progress_is_shown_per_step(generated, capsys):
    folder, _ = generated
    with OutOfCoreLog(folder, memory_limit="512MB", progress=True) as big:
        big.dfg()
    err = capsys.readouterr().err
    assert "[journeymine] dfg:" in err and "done in" in err


def _raw() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-03"], utc=True),
            "activity": ["view", "buy", "view"],
        }
    )


def _same_error(path: Path, exc_type: type[Exception]) -> None:
    with pytest.raises(exc_type) as local:
        jm.read_events(path)
    with pytest.raises(exc_type) as outside:
        OutOfCoreLog(path, progress=False)
    assert str(outside.value) == str(local.value)


def test_missing_column_gives_the_local_error(tmp_path):
    path = tmp_path / "e.parquet"
    _raw().rename(columns={"activity": "activty"}).to_parquet(path)
    _same_error(path, MissingColumnError)


def test_epoch_numbers_without_a_unit_give_the_local_error(tmp_path):
    path = tmp_path / "e.parquet"
    raw = _raw()
    raw["timestamp"] = raw["timestamp"].astype("int64") // 10**6
    raw.to_parquet(path)
    _same_error(path, EventLogError)


def test_text_timestamps_are_refused_out_of_core_with_the_fix(tmp_path):
    path = tmp_path / "e.parquet"
    raw = _raw()
    raw["timestamp"] = raw["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    raw.to_parquet(path)
    jm.read_events(path)  # fine in memory
    with pytest.raises(EventLogError, match="must be a Parquet timestamp"):
        OutOfCoreLog(path, progress=False)


def test_nulls_beyond_the_first_rows_are_counted(tmp_path):
    n = 3000
    raw = pd.DataFrame(
        {
            "customer_id": [f"c{i % 50}" for i in range(n)],
            "timestamp": pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(np.arange(n), "s"),
            "activity": ["view"] * n,
        }
    )
    raw.loc[[2500, 2600], "activity"] = None
    path = tmp_path / "e.parquet"
    raw.to_parquet(path)
    with pytest.raises(EventLogError, match=r"null or empty activity in 2 rows"):
        OutOfCoreLog(path, progress=False)


def test_bad_arguments_and_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="do not exist"):
        OutOfCoreLog(tmp_path / "nope.parquet")
    with pytest.raises(FileNotFoundError, match="no Parquet files"):
        OutOfCoreLog(tmp_path)
    path = tmp_path / "e.parquet"
    _raw().to_parquet(path)
    with pytest.raises(ConfigError, match="memory_limit='lots' is not allowed"):
        OutOfCoreLog(path, memory_limit="lots")
    empty = tmp_path / "empty.parquet"
    _raw().iloc[:0].to_parquet(empty)
    with pytest.raises(EmptyLogError):
        OutOfCoreLog(empty, progress=False)


def test_pq_files_next_to_other_files_are_read_one_by_one(tmp_path):
    log = jm.read_events(_raw())
    (tmp_path / "a").mkdir()
    log.iloc[:2].to_parquet(tmp_path / "a" / "part.pq", index=False)
    log.iloc[2:].to_parquet(tmp_path / "b.parquet", index=False)
    (tmp_path / "a" / "_SUCCESS").write_text("")  # not Parquet: left out
    with OutOfCoreLog(tmp_path, memory_limit="256MB", progress=False) as big:
        assert big.n_events == 3 and len(big.files) == 2
        pd.testing.assert_frame_equal(big.variants(), jm.variants(log))
