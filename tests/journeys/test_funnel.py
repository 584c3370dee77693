"""funnel against a per-case Python reference."""

from __future__ import annotations

import pandas as pd
import pytest
from _journeys_reference import ref_funnel, sort_like_spec, synthetic

import journeymine as jm
from journeymine.exceptions import ConfigError, UnknownActivityError

STEPS = ["visit", "view_product", "add_to_cart", "checkout", "purchase"]


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    return synthetic()


@pytest.mark.parametrize("within", [None, "2h", "7D"])
def test_funnel_matches_reference(log: pd.DataFrame, within: str | None) -> None:
    got = jm.funnel(log, STEPS, within=within)
    want = ref_funnel(log, STEPS, None if within is None else pd.Timedelta(within))
    assert got["cases"].tolist() == want
    assert got["step"].tolist() == [1, 2, 3, 4, 5]
    assert got["activity"].tolist() == STEPS
    assert got["conversion"].tolist() == pytest.approx([n / want[0] for n in want])
    prev = [want[0], *want[:-1]]
    assert got["step_conversion"].tolist() == pytest.approx(
        [n / p for n, p in zip(want, prev, strict=True)]
    )
    assert got["drop_off"].tolist() == [p - n for n, p in zip(want, prev, strict=True)]


def test_repeated_steps_need_later_events(log: pd.DataFrame) -> None:
    steps = ["view_product", "view_product", "view_product"]
    assert jm.funnel(log, steps)["cases"].tolist() == ref_funnel(log, steps)


def test_within_is_measured_from_the_entry_event() -> None:
    t = pd.to_datetime(["2025-01-01", "2025-01-05", "2025-01-09"], utc=True)
    log = pd.DataFrame(
        {"customer_id": ["a"] * 3, "timestamp": t, "activity": ["view", "cart", "buy"]}
    )
    assert jm.funnel(log, ["view", "cart", "buy"], within="7D")["cases"].tolist() == [1, 1, 0]
    assert jm.funnel(log, ["view", "cart", "buy"], within="8D")["cases"].tolist() == [1, 1, 1]


def test_segment_column_uses_the_entry_event(log: pd.DataFrame) -> None:
    got = jm.funnel(log, STEPS[:3], segment="channel")
    assert list(got.columns) == [
        "channel",
        "step",
        "activity",
        "cases",
        "conversion",
        "step_conversion",
        "drop_off",
    ]
    s = sort_like_spec(log)
    entry = s[s["activity"] == STEPS[0]].groupby("customer_id", observed=True).head(1)
    for ch, part in got.groupby("channel", sort=False):
        members = set(entry.loc[entry["channel"] == ch, "customer_id"])
        want = ref_funnel(log[log["customer_id"].isin(members)], STEPS[:3])
        assert part["cases"].tolist() == want, ch
    assert (
        got.groupby("channel")["cases"].first().sum() == jm.funnel(log, STEPS[:1])["cases"].item()
    )


def test_segment_mapping_named_after_the_series(log: pd.DataFrame) -> None:
    ids = sorted(log["customer_id"].unique())
    persona = pd.Series(
        ["p1" if i % 2 else "p0" for i in range(len(ids))], index=ids, name="persona"
    )
    got = jm.funnel(log, STEPS, segment=persona)
    assert got.columns[0] == "persona"
    for label, part in got.groupby("persona"):
        members = persona.index[persona == label]
        assert part["cases"].tolist() == ref_funnel(log[log["customer_id"].isin(members)], STEPS)
    unnamed = jm.funnel(log, STEPS, segment=persona.to_dict())
    assert unnamed.columns[0] == "segment"


def test_by_is_the_old_name_of_segment(log: pd.DataFrame) -> None:
    """funnel(by=) works for one more minor release, warns naming segment=, same result."""
    with pytest.warns(FutureWarning, match=r"funnel\(by=...\) is renamed funnel\(segment=...\)"):
        old = jm.funnel(log, STEPS[:3], by="channel")
    pd.testing.assert_frame_equal(old, jm.funnel(log, STEPS[:3], segment="channel"))
    assert old.columns[0] == "channel"
    with pytest.raises(TypeError, match="pass segment= only"):
        jm.funnel(log, STEPS[:3], by="channel", segment="channel")


def test_unknown_step_names_it_with_did_you_mean(log: pd.DataFrame) -> None:
    with pytest.raises(UnknownActivityError, match=r"'purchse'.*Did you mean 'purchase'"):
        jm.funnel(log, ["visit", "purchse"])
    with pytest.raises(KeyError):  # also a KeyError for callers catching built-ins
        jm.funnel(log, ["nothing_like_it"])


@pytest.mark.parametrize("steps", [[], "visit", None])
def test_bad_steps(log: pd.DataFrame, steps: object) -> None:
    with pytest.raises(ConfigError, match="steps"):
        jm.funnel(log, steps)  # type: ignore[arg-type]


@pytest.mark.parametrize("within", ["soon", "-1D", "0s"])
def test_bad_within(log: pd.DataFrame, within: str) -> None:
    with pytest.raises(ConfigError, match="within"):
        jm.funnel(log, STEPS, within=within)
