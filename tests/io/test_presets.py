"""Column presets: GA4, Segment, Amplitude, Mixpanel."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

import journeymine as jm
from journeymine.exceptions import ConfigError, MissingColumnError
from journeymine.io import PRESETS, Preset


def test_presets_are_frozen_and_documented():
    assert set(PRESETS) == {"ga4", "segment", "amplitude", "mixpanel", "xes"}
    for name, preset in PRESETS.items():
        assert isinstance(preset, Preset) and preset.name == name
        assert len(preset.description) > 40
        with pytest.raises(dataclasses.FrozenInstanceError):
            preset.name = "x"  # type: ignore[misc]
        with pytest.raises(TypeError):
            preset.columns["x"] = "activity"  # type: ignore[index]


def test_a_preset_built_from_dicts_keeps_read_only_copies():
    columns = {"uid": "customer_id"}
    preset = Preset(name="mine", description="x", customer_id=("uid",), columns=columns)
    columns["ts"] = "timestamp"  # the caller's dict changes later: the preset does not
    assert dict(preset.columns) == {"uid": "customer_id"}
    with pytest.raises(TypeError):
        preset.channel_values["WEB"] = "web"  # type: ignore[index]


def test_ga4_prefers_user_id_and_maps_platform(tmp_path):
    raw = pd.DataFrame(
        {
            "event_date": ["20250101"] * 3,
            "event_timestamp": [1735725600000000, 1735725660000000, 1735725720000000],
            "event_name": ["page_view", "add_to_cart", "purchase"],
            "user_pseudo_id": ["123.456", "123.456", "999.1"],
            "user_id": [None, "u-7", None],
            "platform": ["WEB", "IOS", "ANDROID"],
            "ga_session_id": [1735725600, 1735725600, 17],
        }
    )
    raw.to_parquet(tmp_path / "ga4.parquet")
    log = jm.read_events(tmp_path / "ga4.parquet", preset="ga4")
    assert log["customer_id"].tolist() == ["123.456", "999.1", "u-7"]
    assert log["device_id"].tolist() == ["123.456", "999.1", "123.456"]
    assert log["channel"].tolist() == ["web", "app", "app"]
    assert log["timestamp"].iloc[0] == pd.Timestamp("2025-01-01 10:00", tz="UTC")
    assert log["session_id"].tolist() == ["1735725600", "17", "1735725600"]
    assert {"user_id", "event_date"} <= set(log.columns)
    stitched, report = jm.stitch_identities(log)
    assert stitched["customer_id"].tolist() == ["999.1", "u-7", "u-7"]
    assert report.events_rekeyed == 1


def test_segment_tracks_csv(tmp_path):
    path = tmp_path / "tracks.csv"
    path.write_text(
        "id,anonymous_id,user_id,timestamp,event,context_library_name,context_page_url\n"
        "m1,anon-1,,2025-01-01T10:00:00.000Z,Product Viewed,analytics.js,https://x/p/1\n"
        "m2,anon-1,007,2025-01-01T10:05:00.000Z,Order Completed,analytics-ios,\n"
    )
    log = jm.read_events(path, preset="segment")
    assert log["customer_id"].tolist() == ["007", "anon-1"]
    assert log["device_id"].tolist() == ["anon-1", "anon-1"]
    assert log["event_id"].tolist() == ["m2", "m1"]
    assert log["channel"].tolist() == ["app", "web"]
    assert "context_page_url" in log.columns


def test_amplitude_jsonl(tmp_path):
    path = tmp_path / "amp.jsonl"
    path.write_text(
        '{"user_id": null, "device_id": "D1", "event_time": "2025-01-01 10:00:00.123000", '
        '"event_type": "open", "platform": "iOS", "session_id": 1735725600000, "uuid": "u1"}\n'
        '{"user_id": "bob", "device_id": "D1", "event_time": "2025-01-01 10:01:00.000000", '
        '"event_type": "buy", "platform": "Web", "session_id": -1, "uuid": "u2"}\n'
    )
    log = jm.read_events(path, preset="amplitude")
    assert log["customer_id"].tolist() == ["D1", "bob"]
    assert log["device_id"].tolist() == ["D1", "D1"]
    assert log["channel"].tolist() == ["app", "web"]
    assert log["session_id"].tolist() == ["1735725600000", "-1"]
    assert log["event_id"].tolist() == ["u1", "u2"]
    stitched, report = jm.stitch_identities(log)
    assert stitched["customer_id"].tolist() == ["bob", "bob"] and report.events_rekeyed == 1


def test_mixpanel_epoch_seconds_and_user_mapping_overrides(tmp_path):
    raw = pd.DataFrame(
        {
            "distinct_id": ["a", "a"],
            "time": [1735725600, 1735725601],
            "event": ["Sign Up", "Login"],
            "mp_lib": ["web", "iphone"],
            "$insert_id": ["i1", "i2"],
            "$os": ["Mac OS X", "iOS"],
        }
    )
    log = jm.read_events(raw, preset="mixpanel")
    assert log["timestamp"].tolist()[1] == pd.Timestamp("2025-01-01 10:00:01", tz="UTC")
    assert log["channel"].tolist() == ["web", "app"]
    assert "$os" in log.columns
    renamed = jm.read_events(raw, preset="mixpanel", columns={"$os": "channel"})
    assert renamed["channel"].tolist() == ["Mac OS X", "iOS"]
    assert "mp_lib" in renamed.columns


def test_unknown_preset_suggests():
    with pytest.raises(ConfigError, match=r"unknown preset 'segmnet'. Did you mean 'segment'\?"):
        jm.read_events(pd.DataFrame({"a": [1]}), preset="segmnet")


def test_preset_missing_columns_are_named():
    raw = pd.DataFrame({"user_pseudo_id": ["x"], "event_timestamp": [1], "eventname": ["v"]})
    with pytest.raises(MissingColumnError, match=r"preset 'ga4' expects .*'event_name'.*Did you"):
        jm.read_events(raw, preset="ga4")
    with pytest.raises(MissingColumnError, match=r"user_id or anonymous_id"):
        jm.read_events(pd.DataFrame({"timestamp": ["2025"], "event": ["x"]}), preset="segment")
