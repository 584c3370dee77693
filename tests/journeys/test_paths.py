"""paths, channel_switches and durations against plain pandas/Python references."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from _journeys_reference import ref_case_sequences, ref_channel_switches, sort_like_spec, synthetic

import journeymine as jm
from journeymine.exceptions import ConfigError, MissingColumnError, UnknownActivityError


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    return synthetic()


def _ref_paths(log: pd.DataFrame, activity: str, direction: str, max_steps: int) -> Counter:
    out: Counter = Counter()
    for g in ref_case_sequences(log).values():
        acts = g["activity"].astype(str).tolist()
        if activity not in acts:
            continue
        i = acts.index(activity)
        for s in range(1, max_steps + 1):
            if direction == "after" and i + s < len(acts):
                out[(s, acts[i + s - 1], acts[i + s])] += 1
            if direction == "before" and i - s >= 0:
                out[(-s, acts[i - s], acts[i - s + 1])] += 1
    return out


@pytest.mark.parametrize("direction", ["after", "before"])
def test_paths_match_reference(log: pd.DataFrame, direction: str) -> None:
    got = jm.paths(log, "add_to_cart", direction=direction, max_steps=3)
    assert list(got.columns) == ["step", "source", "target", "cases"]
    want = _ref_paths(log, "add_to_cart", direction, 3)
    assert {(s, a, b): n for s, a, b, n in got.itertuples(index=False)} == dict(want)
    assert got["step"].is_monotonic_increasing
    anchor = "source" if direction == "after" else "target"
    first = got[got["step"] == (1 if direction == "after" else -1)]
    assert set(first[anchor]) == {"add_to_cart"}


def test_paths_top_k_per_step(log: pd.DataFrame) -> None:
    full = jm.paths(log, "visit", max_steps=2)
    top = jm.paths(log, "visit", max_steps=2, top_k=2)
    want = full.groupby("step").head(2).reset_index(drop=True)
    pd.testing.assert_frame_equal(top, want)


def test_paths_errors(log: pd.DataFrame) -> None:
    with pytest.raises(UnknownActivityError, match="Did you mean 'checkout'"):
        jm.paths(log, "chekout")
    with pytest.raises(ConfigError, match="direction"):
        jm.paths(log, "visit", direction="sideways")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="max_steps"):
        jm.paths(log, "visit", max_steps=0)


def test_channel_switches_match_reference(log: pd.DataFrame) -> None:
    got = jm.channel_switches(log)
    want = ref_channel_switches(log)
    assert {
        (a, b): n
        for a, b, n in zip(got["from_channel"], got["to_channel"], got["count"], strict=True)
    } == want
    np.testing.assert_allclose(got.groupby("from_channel")["share"].sum(), 1.0)
    assert got["count"].is_monotonic_decreasing
    with pytest.raises(MissingColumnError, match="channel"):
        jm.channel_switches(log.drop(columns="channel"))


def test_durations_match_groupby(log: pd.DataFrame) -> None:
    got = jm.durations(log)
    g = sort_like_spec(log).groupby("customer_id", observed=True)["timestamp"]
    assert got["case"].tolist() == sorted(log["customer_id"].unique())
    assert got["start"].tolist() == g.min().tolist()
    assert got["end"].tolist() == g.max().tolist()
    np.testing.assert_allclose(
        got["duration_seconds"], (g.max() - g.min()).dt.total_seconds().to_numpy()
    )
    assert got["events"].tolist() == g.size().tolist()
    assert str(got["start"].dtype) == "datetime64[us, UTC]"
