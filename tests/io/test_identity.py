"""stitch_identities: devices joined to customers, id maps, over-merge reporting."""

from __future__ import annotations

import logging

import pandas as pd
import pytest

import journeymine as jm
from journeymine.exceptions import ConfigError, EventLogError, MissingColumnError
from journeymine.io import StitchReport


def _log(rows):
    customers, devices = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "customer_id": list(customers),
            "device_id": list(devices),
            "timestamp": pd.date_range("2025-01-01", periods=len(rows), freq="h", tz="UTC"),
            "activity": ["x"] * len(rows),
        }
    )


def test_anonymous_device_events_join_the_customer():
    log = _log([("d1", "d1"), ("alice", "d1"), ("d2", "d2"), ("bob", None)])
    before = log.copy()
    out, report = jm.stitch_identities(log)
    assert dict(zip(out["timestamp"], out["customer_id"], strict=True)) == dict(
        zip(log["timestamp"], ["alice", "alice", "d2", "bob"], strict=True)
    )
    assert report == StitchReport(
        components=3, ids_merged=1, customers_merged=0, events_rekeyed=1, merged_examples=()
    )
    pd.testing.assert_frame_equal(log, before)
    assert out["customer_id"].dtype == "str"
    assert out["customer_id"].is_monotonic_increasing


def test_shared_device_merges_customers_and_reports_it(caplog):
    log = _log([("bob", "tablet"), ("alice", "tablet"), ("carol", "phone")])
    with caplog.at_level(logging.INFO, logger="journeymine.io.identity"):
        out, report = jm.stitch_identities(log)
    assert sorted(out["customer_id"]) == ["alice", "alice", "carol"]
    assert report.customers_merged == 1
    assert report.merged_examples == (("alice", "bob"),)
    assert "possible over-merge" in caplog.text


def test_id_map_links_devices_never_logged_in():
    log = _log([("d9", "d9"), ("d8", "d8"), ("zed", "d7")])
    id_map = pd.DataFrame({"device_id": ["d9", "d8"], "customer_id": ["amy", "amy"]})
    out, report = jm.stitch_identities(log, id_map)
    assert sorted(out["customer_id"]) == ["amy", "amy", "zed"]
    assert report.events_rekeyed == 2 and report.ids_merged == 2 and report.components == 2


def test_anonymous_group_keeps_smallest_device_id_and_several_keys():
    log = _log([("d2", "d2"), ("d1", "d1")])
    log["email_hash"] = ["h", "h"]
    out, report = jm.stitch_identities(log, keys=("device_id", "email_hash"))
    assert out["customer_id"].tolist() == ["d1", "d1"]
    assert report.components == 1 and report.customers_merged == 0


def test_same_text_as_customer_and_device_of_someone_else_is_not_confused():
    # 'x' is a customer on one event and a device id on another: namespaces stay apart
    log = _log([("x", "dev"), ("y", "x")])
    out, _ = jm.stitch_identities(log)
    assert sorted(out["customer_id"]) == ["x", "y"]


def test_deterministic_under_row_order():
    log = _log([("d1", "d1"), ("c2", "d1"), ("c1", "d1"), ("d3", "d3")])
    a, ra = jm.stitch_identities(log)
    b, rb = jm.stitch_identities(log.iloc[::-1].reset_index(drop=True))
    assert sorted(a["customer_id"]) == sorted(b["customer_id"]) == ["c1", "c1", "c1", "d3"]
    assert ra == rb


def test_errors():
    log = _log([("a", "d")])
    with pytest.raises(MissingColumnError, match="cookie"):
        jm.stitch_identities(log, keys=("cookie",))
    with pytest.raises(ConfigError, match="at least one"):
        jm.stitch_identities(log, keys=())
    with pytest.raises(ConfigError, match="other than customer_id"):
        jm.stitch_identities(log, keys=("customer_id",))
    with pytest.raises(MissingColumnError, match=r"id_map needs .*Did you mean 'customerid'"):
        jm.stitch_identities(log, pd.DataFrame({"device_id": ["d"], "customerid": ["a"]}))
    with pytest.raises(EventLogError, match="nulls"):
        jm.stitch_identities(_log([(None, "d")]))
