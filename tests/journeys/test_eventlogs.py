"""On every real public log: DFG, start/end activities and variants equal pm4py's.

pm4py gets a frame we sorted by (case, timestamp, input order) first: its variant functions are
silently wrong on unsorted frames. journeymine gets the log shuffled (ties kept in order).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _journeys_reference import shuffle_keeping_ties, sort_like_spec

import journeymine as jm

pytestmark = pytest.mark.eventlogs

XES = [
    "bpic2012.xes.gz",
    "helpdesk.xes.gz",
    "receipt.xes.gz",
    "repairExample.xes.gz",
    "roadtraffic100traces.xes",
    "running-example.xes",
    "teleclaims.xes.gz",
]
TAX = ["tax_bpi_12_w.csv", "tax_helpdesk.csv"]
TAX_COLUMNS = {"CaseID": "customer_id", "ActivityID": "activity", "CompleteTimestamp": "timestamp"}


def _read(folder: Path, name: str) -> pd.DataFrame:
    path = folder / name
    if not path.exists():
        pytest.skip(f"{name} is not in {folder}")
    if name in TAX:
        return jm.read_events(path, columns=TAX_COLUMNS, coerce_ids=True, duplicates="keep")
    # repairExample and teleclaims are synthetic logs dated from 1970-01-01: outside the default
    # plausible range, so the range check is switched off for the public logs
    return jm.read_xes(path, duplicates="keep", plausible_range=None)


def _pm4py_stats(log: pd.DataFrame) -> tuple[dict, dict, dict, dict]:
    import pm4py

    s = sort_like_spec(log)
    frame = pd.DataFrame(
        {
            "case:concept:name": s["customer_id"].astype(str),
            "concept:name": s["activity"].astype(str),
            "time:timestamp": s["timestamp"],
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = pm4py.format_dataframe(
            frame,
            case_id="case:concept:name",
            activity_key="concept:name",
            timestamp_key="time:timestamp",
        )
        graph, start, end = pm4py.discover_dfg(frame)
        variants = pm4py.get_variants(frame)
    counts = {k: (len(v) if isinstance(v, list) else int(v)) for k, v in variants.items()}
    return dict(graph), dict(start), dict(end), counts


@pytest.mark.parametrize("name", XES + TAX)
def test_statistics_equal_pm4py(eventlogs_dir: Path, name: str) -> None:
    log = _read(eventlogs_dir, name)
    graph, start, end, variants = _pm4py_stats(log)

    enc = jm.encode(shuffle_keeping_ties(log, seed=7))
    d = jm.dfg(enc)
    assert {
        (a, b): int(n) for a, b, n in zip(d["source"], d["target"], d["count"], strict=True)
    } == graph
    s, e = jm.start_activities(enc), jm.end_activities(enc)
    assert dict(zip(s["activity"], s["count"].astype(int), strict=True)) == start
    assert dict(zip(e["activity"], e["count"].astype(int), strict=True)) == end
    v = jm.variants(enc)
    assert {
        tuple(x.split(" > ")): int(n) for x, n in zip(v["variant"], v["cases"], strict=True)
    } == variants
    assert int(v["cases"].sum()) == log["customer_id"].nunique()
    assert np.isfinite(d["median_seconds"]).all()
