"""The end-to-end pipeline behind ``jm demo``: read, validate and summarise a log, then each
analysis step, writing reports and models to an output folder."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from journeymine.io import read_events
from journeymine.schema import summarize

__all__ = ["run_demo"]

logger = logging.getLogger(__name__)


def run_demo(data_dir: str | Path, out_dir: str | Path,
             echo: Callable[[str], Any] = logger.info) -> dict[str, Any]:
    """Run every step on ``data_dir/events.parquet``; return the summary written to
    ``out_dir/summary.json``.

    Examples
    --------
    >>> import tempfile
    >>> from journeymine.datasets import make_journeys, save_journeys
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = save_journeys(make_journeys(n_customers=300, days=60, random_state=0), d)
    ...     summary = run_demo(d, d, echo=lambda s: None)
    >>> summary["log"]["customers"] <= 300
    True
    """
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    events = data_dir / "events.parquet"
    if not events.exists():
        raise FileNotFoundError(
            f"no events.parquet in {data_dir}. Create the sample with `make sample` or "
            f"`jm generate {data_dir}`."
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    steps = ["read and validate"]
    summary: dict[str, Any] = {}
    bar = tqdm(steps, desc="journeymine demo", unit="step", disable=None)
    for step in bar:
        bar.set_postfix_str(step)
        if step == "read and validate":
            log = read_events(events)
            summary["log"] = summarize(log)
    s = summary["log"]
    echo(f"log: {s['customers']:,} customers, {s['events']:,} events, "
         f"{s['activities']} activities, {s['channels']} channels, "
         f"{s['start']:%Y-%m-%d} to {s['end']:%Y-%m-%d}")
    path = out_dir / "summary.json"
    path.write_text(json.dumps(summary, indent=2, default=str))
    echo(f"summary: {path}")
    return summary
