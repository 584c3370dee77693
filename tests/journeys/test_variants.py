"""variants against a tuple-based pandas reference; exact grouping despite hash collisions."""

from __future__ import annotations

import logging

import pandas as pd
import pytest
from _journeys_reference import ref_variants, synthetic

import journeymine as jm
from journeymine.exceptions import ConfigError


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    return synthetic()


def _as_dict(v: pd.DataFrame) -> dict[tuple[str, ...], int]:
    return {tuple(s.split(" > ")): int(c) for s, c in zip(v["variant"], v["cases"], strict=True)}


def test_variants_match_reference(log: pd.DataFrame) -> None:
    got = jm.variants(log)
    assert list(got.columns) == ["variant", "length", "cases", "share"]
    assert _as_dict(got) == ref_variants(log)
    assert got["length"].tolist() == [len(s.split(" > ")) for s in got["variant"]]
    assert int(got["cases"].sum()) == log["customer_id"].nunique()
    assert got["share"].sum() == pytest.approx(1.0)
    # sorted by cases descending, then variant text
    keys = list(zip(-got["cases"], got["variant"], strict=True))
    assert keys == sorted(keys)


@pytest.mark.parametrize("from_end", [False, True])
def test_max_steps_truncates(log: pd.DataFrame, from_end: bool) -> None:
    k = 3
    got = jm.variants(log, max_steps=k, from_end=from_end)
    full = ref_variants(log)
    want: dict[tuple[str, ...], int] = {}
    for seq, n in full.items():
        cut = seq[-k:] if from_end else seq[:k]
        want[cut] = want.get(cut, 0) + n
    assert _as_dict(got) == want
    assert got["length"].max() <= k


def test_top_k_breaks_ties_by_text(log: pd.DataFrame) -> None:
    full = jm.variants(log, max_steps=2)
    for k in (1, 3, 7, len(full) + 5):
        top = jm.variants(log, max_steps=2, top_k=k)
        pd.testing.assert_frame_equal(top, full.head(k))
    # a cut inside a tie: the tied variants are ordered by text
    ones = jm.variants(log)
    n_big = int((ones["cases"] > 1).sum())
    top = jm.variants(log, top_k=n_big + 2)
    pd.testing.assert_frame_equal(top, ones.head(n_big + 2))


def test_from_end_must_be_bool(log: pd.DataFrame) -> None:
    with pytest.raises(ConfigError, match="from_end"):
        jm.variants(log, from_end="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="max_steps"):
        jm.variants(log, max_steps=0)


def _thue_morse(n: int) -> list[int]:
    return [bin(i).count("1") % 2 for i in range(n)]


def test_hash_collisions_are_detected_and_grouping_stays_exact(caplog) -> None:
    # A Thue-Morse sequence and its complement collide under any polynomial hash modulo 2**64
    # with an odd base once they are 1024 long: the grouping must still tell them apart.
    tm = _thue_morse(1024)
    t0 = pd.Timestamp("2025-01-01", tz="UTC")
    rows = [
        (case, t0 + pd.Timedelta(seconds=i), "ab"[v])
        for case, seq in (("c1", tm), ("c2", [1 - v for v in tm]), ("c3", tm))
        for i, v in enumerate(seq)
    ]
    log = pd.DataFrame(rows, columns=["customer_id", "timestamp", "activity"])
    with caplog.at_level(logging.INFO, logger="journeymine"):
        got = jm.variants(log)
    assert "collision" in caplog.text
    assert got["cases"].tolist() == [2, 1]
    assert got["length"].tolist() == [1024, 1024]
    assert got["variant"].tolist() == [
        " > ".join("ab"[v] for v in tm),
        " > ".join("ba"[v] for v in tm),
    ]


def test_no_collision_fallback_on_ordinary_logs(log: pd.DataFrame, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="journeymine"):
        jm.variants(log)
    assert "collision" not in caplog.text


def test_non_text_activities_are_reported_as_text() -> None:
    log = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "activity": [1, 2, 1],
            "timestamp": pd.to_datetime(["2025-01-01", "2025-01-02", "2025-01-01"], utc=True),
        }
    )
    got = jm.variants(log)
    assert got["variant"].tolist() == ["1", "1 > 2"]


@pytest.mark.parametrize(
    "labels",
    [
        ["b", "a", "c2", "c1"],  # no label begins another: ordered from one byte per step
        ["view", "view_item", "view item", "v", "buy", "a > b", "a"],  # some begin others
    ],
)
def test_order_is_cases_then_text_whatever_the_labels(labels: list[str]) -> None:
    import numpy as np

    rng = np.random.default_rng(7)
    rows = []
    for c in range(400):
        n = int(rng.integers(1, 5))
        for i, a in enumerate(rng.choice(labels, size=n)):
            rows.append(
                (f"c{c:03d}", pd.Timestamp("2025-01-01", tz="UTC") + pd.Timedelta(i, "h"), a)
            )
    log = pd.DataFrame(rows, columns=["customer_id", "timestamp", "activity"])
    got = jm.variants(log)
    keys = list(zip(-got["cases"], got["variant"], strict=True))
    assert keys == sorted(keys)
    assert len(set(got["variant"])) <= len(got)  # a text may stand for two sequences ("a > b")
    per_case = log.groupby("customer_id")["activity"].agg(" > ".join)
    want = per_case.value_counts()
    assert got.groupby("variant")["cases"].sum().sort_index().to_dict() == (
        want.sort_index().to_dict()
    )
