"""Every statistic gives the same result on a shuffled log, an encoded log and a file."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest
from _journeys_reference import shuffle_keeping_ties, sort_like_spec, synthetic

import journeymine as jm

STATS: dict[str, Callable[..., pd.DataFrame]] = {
    "dfg": lambda log: jm.dfg(log),
    "dfg_filtered": lambda log: jm.dfg(
        log, channels=["web"], time_range=("2025-01-15", None), top_k=10
    ),
    "dfg_segment": lambda log: jm.dfg(log, segment="channel", min_count=2),
    "variants": lambda log: jm.variants(log),
    "variants_cut": lambda log: jm.variants(log, max_steps=4, from_end=True, top_k=15),
    "funnel": lambda log: jm.funnel(
        log, ["visit", "view_product", "purchase"], within="3D", segment="channel"
    ),
    "paths": lambda log: jm.paths(log, "view_product", direction="before", max_steps=3),
    "channel_switches": lambda log: jm.channel_switches(log),
    "durations": lambda log: jm.durations(log),
    "bottlenecks": lambda log: jm.bottlenecks(log),
    "start": lambda log: jm.start_activities(log),
    "end": lambda log: jm.end_activities(log),
}


@pytest.fixture(scope="module")
def logs() -> dict[str, pd.DataFrame]:
    log = synthetic(seed=2)
    return {
        "original": log,
        "sorted": sort_like_spec(log),
        "shuffled": shuffle_keeping_ties(log, seed=3),
        "chronological": log.sort_values("timestamp", kind="stable", ignore_index=True),
    }


@pytest.mark.parametrize("name", list(STATS))
def test_shuffled_log_gives_the_same_result(logs: dict[str, pd.DataFrame], name: str) -> None:
    stat = STATS[name]
    want = stat(logs["sorted"])
    assert len(want) > 0
    pd.testing.assert_frame_equal(stat(logs["shuffled"]), want)
    pd.testing.assert_frame_equal(stat(logs["original"]), want)
    pd.testing.assert_frame_equal(stat(logs["chronological"]), want)


def test_encoded_and_file_inputs_give_the_same_result(
    logs: dict[str, pd.DataFrame], tmp_path
) -> None:
    shuffled = logs["shuffled"]
    enc = jm.encode(shuffled)
    path = tmp_path / "shuffled.parquet"
    shuffled.to_parquet(path, index=False)
    from_file = jm.encode(path)
    for name, stat in STATS.items():
        want = stat(logs["sorted"])
        pd.testing.assert_frame_equal(stat(enc), want, obj=f"{name} (encoded)")
        pd.testing.assert_frame_equal(stat(from_file), want, obj=f"{name} (file)")


def test_shuffle_helper_really_shuffles(logs: dict[str, pd.DataFrame]) -> None:
    a, b = logs["original"], logs["shuffled"]
    assert not a["customer_id"].reset_index(drop=True).equals(b["customer_id"])
    assert not b["customer_id"].is_monotonic_increasing
