"""Paths, funnel, variants and channel-switch figures: data twins on real logs, privacy k."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import journeymine as jm
from journeymine.report import (
    channel_switch_data,
    channel_switch_figure,
    funnel_data,
    funnel_figure,
    paths_data,
    paths_figure,
    variants_data,
    variants_figure,
)


def _with_rare_step(log: pd.DataFrame, n_customers: int, name: str) -> pd.DataFrame:
    """Give ``n_customers`` customers an extra activity right after their first visit."""
    first_visit = (
        log[log["activity"] == "visit"]
        .sort_values("timestamp", kind="stable")
        .drop_duplicates("customer_id")
        .head(n_customers)
    )
    extra = first_visit.assign(
        timestamp=first_visit["timestamp"] + pd.Timedelta(microseconds=1),
        activity=name,
    )
    return jm.validate(pd.concat([log, extra], ignore_index=True), duplicates="keep")


def test_paths_hide_links_below_k(small_log: pd.DataFrame) -> None:
    log = _with_rare_step(small_log, 3, "rare_secret_step")
    shown = paths_data(log, "visit", max_steps=2, k=1)
    assert "rare_secret_step" in set(shown["target"])
    private = paths_data(log, "visit", max_steps=2, k=10)
    assert "rare_secret_step" not in set(private["target"]) | set(private["source"])
    assert (private["cases"] >= 10).all()
    raw = jm.paths(log, "visit", max_steps=2)
    assert private.attrs["hidden"] == int((raw["cases"] < 10).sum())
    fig = paths_figure(private)
    assert "rare_secret_step" not in fig.to_json()


def test_paths_before_places_the_anchor_last(small_log: pd.DataFrame) -> None:
    data = paths_data(small_log, "purchase", direction="before", max_steps=2, k=5)
    assert set(data["step"]) <= {-1, -2}
    fig = paths_figure(data)
    sankey = fig.data[0]
    labels = list(sankey.node.label)
    xs = list(sankey.node.x)
    anchor = [x for lab, x in zip(labels, xs, strict=True) if lab == "purchase"]
    assert max(anchor) == pytest.approx(max(xs))


def test_paths_unknown_activity(small_log: pd.DataFrame) -> None:
    with pytest.raises(jm.UnknownActivityError, match="purchase"):
        paths_data(small_log, "purchse")


def test_funnel_data_and_figure(small_log: pd.DataFrame) -> None:
    steps = ["view_product", "add_to_cart", "checkout", "purchase"]
    data = funnel_data(small_log, steps)
    assert data["activity"].tolist() == steps
    assert data["cases"].is_monotonic_decreasing
    fig = funnel_figure(data)
    assert fig.data[0].type == "funnel"
    assert list(fig.data[0].x) == data["cases"].tolist()
    by = funnel_data(small_log, steps[:2], segment="channel", k=10)
    assert "channel" in by.columns and by.attrs["segment"] == "channel"
    assert (by["cases"].eq(0) | by["cases"].ge(10)).all()
    fig_by = funnel_figure(by)
    assert len(fig_by.data) == by["channel"].nunique()
    assert {t.type for t in fig_by.data} == {"bar"}
    # by= is the old name of segment=: it still works for one minor release, with a warning
    with pytest.warns(FutureWarning, match=r"funnel_data\(by=...\) is renamed"):
        old = funnel_data(small_log, steps[:2], by="channel", k=10)
    pd.testing.assert_frame_equal(old, by)


def test_funnel_cuts_steps_below_k(small_log: pd.DataFrame) -> None:
    log = _with_rare_step(small_log, 4, "rare_secret_step")
    data = funnel_data(log, ["visit", "rare_secret_step"], k=10)
    assert data["activity"].tolist() == ["visit"]
    assert data.attrs["hidden"] == 1
    assert len(funnel_data(log, ["visit", "rare_secret_step"], k=2)) == 2


def test_variants_respect_k_and_top(small_log: pd.DataFrame) -> None:
    data = variants_data(small_log, max_steps=3, top_k=10, k=10)
    assert len(data) <= 10 and (data["cases"] >= 10).all()
    raw = jm.variants(small_log, max_steps=3)
    assert data.attrs["hidden"] == int((raw["cases"] < 10).sum())
    assert data.attrs["hidden_customers"] == int(raw.loc[raw["cases"] < 10, "cases"].sum())
    fig = variants_figure(data)
    cells = fig.data[0].cells.values
    assert list(cells[3]) == [f"{c:,}" for c in data["cases"]]
    assert all(" → " in v or v.count(" > ") == 0 for v in cells[1])


def test_channel_switches_count_customers(small_log: pd.DataFrame) -> None:
    data = channel_switch_data(small_log, k=10)
    raw = jm.channel_switches(small_log)
    assert (data["customers"] >= 10).all()
    assert (data["customers"] <= data["count"]).all()
    # an independent count of distinct customers for one cell
    srt = small_log.sort_values(["customer_id", "timestamp"], kind="stable")
    nxt = srt.groupby("customer_id")["channel"].shift(-1)
    mask = (srt["channel"].astype(str) == "web") & (nxt.astype(str) == "app")
    expected = srt.loc[mask, "customer_id"].nunique()
    row = data[(data["from_channel"] == "web") & (data["to_channel"] == "app")]
    assert int(row["customers"].iloc[0]) == expected
    assert len(data) + data.attrs["hidden"] == len(raw)
    fig = channel_switch_figure(data)
    z = np.asarray(fig.data[0].z, dtype=float)
    assert z.shape[0] == z.shape[1]
    assert np.nanmax(z) <= 1.0


def test_figures_escape_user_strings() -> None:
    evil = '"><img src=x onerror=alert(1)>'
    data = pd.DataFrame({"step": [1], "source": ["a"], "target": [evil], "cases": [20]})
    data.attrs.update(activity="a", direction="after")
    text = json.dumps(paths_figure(data).to_plotly_json(), default=str)
    assert "<img" not in text and "&lt;img" in text
