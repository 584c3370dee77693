"""Reading XES: ``jm.read_xes`` (streaming lxml iterparse) vs ``pm4py.read_xes``."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from benchmarks._harness import Measurement, measure

EVENTLOGS = Path(
    os.environ.get(
        "JOURNEYMINE_EVENTLOGS",
        Path(__file__).resolve().parents[1].parent / "shared/data/eventlogs",
    )
)
FILES = {"quick": ["receipt.xes.gz"], "full": ["receipt.xes.gz", "bpic2012.xes.gz"]}

NOTES = """
Read a gzip-compressed XES file into a pandas DataFrame (one row per event), timed from the
call to the returned frame; imports are done in setup. journeymine streams with
`lxml.etree.iterparse`, clearing each trace, and returns the validated canonical log (UTC
timestamps, categories, sorted). pm4py 2.7 uses its default XES importer (no progress bar).
Data: `../shared/data/eventlogs` (receipt: 8,577 events; BPIC 2012: 262,200 events).
"""


def _setup_jm() -> None:
    import journeymine.io  # noqa: F401


def _setup_pm4py() -> None:
    warnings.filterwarnings("ignore")
    import pm4py  # noqa: F401


def _run_jm(name: str) -> int:
    import journeymine as jm

    return len(jm.read_xes(EVENTLOGS / name))


def _run_pm4py(name: str) -> int:
    import pm4py

    return len(pm4py.read_xes(str(EVENTLOGS / name), show_progress_bar=False))


def _jm_receipt(_: None) -> int:
    return _run_jm("receipt.xes.gz")


def _jm_bpic2012(_: None) -> int:
    return _run_jm("bpic2012.xes.gz")


def _pm4py_receipt(_: None) -> int:
    return _run_pm4py("receipt.xes.gz")


def _pm4py_bpic2012(_: None) -> int:
    return _run_pm4py("bpic2012.xes.gz")


_RUNS = {
    "receipt.xes.gz": (_jm_receipt, _pm4py_receipt),
    "bpic2012.xes.gz": (_jm_bpic2012, _pm4py_bpic2012),
}


def run(quick: bool) -> list[Measurement]:
    if not EVENTLOGS.is_dir():
        print(f"  skipped: no event logs at {EVENTLOGS} (set JOURNEYMINE_EVENTLOGS)")
        return []
    rows = []
    for name in FILES["quick" if quick else "full"]:
        ours, theirs = _RUNS[name]
        size = name.split(".")[0]
        rows.append(measure("read_xes", "journeymine", size, _setup_jm, ours))
        rows.append(measure("read_xes", "pm4py", size, _setup_pm4py, theirs))
    return rows
