"""process_map_data / process_map_figure on real generated logs."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import journeymine as jm
from journeymine.report import process_map_data, process_map_figure


def test_privacy_threshold_and_top_k(small_log: pd.DataFrame) -> None:
    full = jm.dfg(small_log)
    data = process_map_data(small_log, top_k=20, k=10)
    edges = data[data["kind"] == "edge"]
    assert len(edges) == 20
    assert (data["cases"] >= 10).all()
    assert data.attrs["hidden_edges"] >= int((full["cases"] < 10).sum())
    # the kept edges are the 20 most frequent among those with enough customers
    eligible = full[full["cases"] >= 10].sort_values("count", ascending=False, kind="stable")
    top = eligible.head(20)
    assert list(zip(edges["source"], edges["target"], strict=True)) == list(
        zip(top["source"].astype(str), top["target"].astype(str), strict=True)
    )
    assert edges["count"].tolist() == eligible["count"].head(20).tolist()


def test_layout_columns_are_consistent(small_log: pd.DataFrame) -> None:
    data = process_map_data(small_log, top_k=15)
    assert (data.loc[data["kind"] == "start", "source_layer"] == 0).all()
    end_layer = data["target_layer"].max()
    assert (data.loc[data["kind"] == "end", "target_layer"] == end_layer).all()
    for row in data.itertuples():
        crossed = abs(row.target_layer - row.source_layer) - 1
        assert len(row.via) == max(crossed, 0) or row.source == row.target


def test_filters_by_channel_period_and_persona(small_log: pd.DataFrame) -> None:
    app = process_map_data(small_log, channels=["app"], k=5)
    app_log = small_log[small_log["channel"] == "app"]
    acts = set(app_log["activity"].astype(str))
    edges = app[app["kind"] == "edge"]
    assert set(edges["source"]) <= acts and set(edges["target"]) <= acts
    assert app.attrs["customers"] == app_log["customer_id"].nunique()

    start = small_log["timestamp"].min() + pd.Timedelta(days=30)
    late = process_map_data(small_log, time_range=(start, None), k=5)
    assert (
        late.attrs["customers"]
        == small_log.loc[small_log["timestamp"] >= start, "customer_id"].nunique()
    )

    ids = small_log["customer_id"].unique()
    labels = pd.Series(["a" if i % 2 else "b" for i in range(len(ids))], index=ids)
    half = process_map_data(small_log, personas=labels, persona="a", k=5)
    assert half.attrs["customers"] == int((labels == "a").sum())


def test_bad_arguments_raise_clear_errors(small_log: pd.DataFrame) -> None:
    with pytest.raises(jm.ConfigError, match="Did you mean 'app'"):
        process_map_data(small_log, channels=["apps"])
    with pytest.raises(jm.ConfigError, match="k=0"):
        process_map_data(small_log, k=0)
    with pytest.raises(jm.ConfigError, match="top_k"):
        process_map_data(small_log, top_k=0)
    with pytest.raises(jm.ConfigError, match="persona= needs personas="):
        process_map_data(small_log, persona="a")
    with pytest.raises(jm.MissingColumnError):
        process_map_data(small_log.drop(columns=["activity"]))
    with pytest.raises(jm.EmptyLogError):
        process_map_data(small_log, time_range=("2030-01-01", None))
    with pytest.raises(jm.EventLogError, match=r"jm\.validate"):
        process_map_data(small_log.assign(timestamp=small_log["timestamp"].astype(str)))


def test_does_not_mutate_input(small_log: pd.DataFrame) -> None:
    before = small_log.copy()
    process_map_data(small_log, channels=["web"], top_k=10)
    pd.testing.assert_frame_equal(small_log, before)


def test_figure_draws_every_node_and_escapes_names(small_log: pd.DataFrame) -> None:
    evil = "<b>boom</b>&"
    log = small_log.assign(
        activity=small_log["activity"].cat.rename_categories({"view_product": evil})
    )
    data = process_map_data(log, top_k=12)
    fig = process_map_figure(data)
    nodes = {*data["source"].dropna(), *data["target"].dropna()}
    texts = [a.text for a in fig.layout.annotations if a.text]
    for n in nodes:
        assert any(
            n.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") in t for t in texts
        ), n
    assert evil not in json.dumps(fig.to_plotly_json(), default=str)
    assert fig.layout.width >= 760 and fig.layout.height > 300
