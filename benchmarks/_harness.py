"""Measure a contender in a fresh process: wall time and peak resident memory.

Each contender runs in its own spawned process so that peak memory (``ru_maxrss``) belongs to it
alone and imports of one library do not warm up another. ``setup`` loads the data (not timed),
``run`` is timed; the child reports seconds, peak RSS and the RSS before ``run`` started.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

os.environ.setdefault("RETENTIONEERING_NO_TRACK", "1")


@dataclass
class Measurement:
    task: str
    contender: str
    size: str
    seconds: float
    peak_mb: float
    base_mb: float
    result: Any = None
    error: str | None = None
    cpu_seconds: float = float("nan")  # CPU time of the run (all threads): steadier under load

    def as_row(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("result")
        return d


def _rss_mb() -> float:
    # current RSS from /proc (Linux); ru_maxrss is the peak, in KiB on Linux
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    """This process's peak resident memory. ``VmHWM`` (Linux) belongs to the process image
    alone; ``ru_maxrss`` is kept across ``execve``, so a spawned child would report its
    parent's peak when that is higher (e.g. after the parent generated the data)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(setup: Callable[[], Any], run: Callable[[Any], Any], q: Any) -> None:
    try:
        data = setup()
        base = _rss_mb()
        c0 = time.process_time()
        t0 = time.perf_counter()
        out = run(data)
        dt = time.perf_counter() - t0
        cpu = time.process_time() - c0
        peak = _peak_mb()
        q.put((dt, peak, base, out, None, cpu))
    except Exception as exc:  # report, do not crash the whole benchmark
        nan = float("nan")
        q.put((nan, nan, nan, None, f"{type(exc).__name__}: {exc}", nan))


def measure(
    task: str,
    contender: str,
    size: str,
    setup: Callable[[], Any],
    run: Callable[[Any], Any],
    timeout: float = 3600,
) -> Measurement:
    """Run ``run(setup())`` in a spawned process; ``setup`` and ``run`` must be module-level."""
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(setup, run, q))
    p.start()
    nan = float("nan")
    try:
        dt, peak, base, out, err, cpu = q.get(timeout=timeout)
    except Exception as exc:
        p.kill()
        dt, peak, base, out, err, cpu = nan, nan, nan, None, repr(exc), nan
    p.join()
    m = Measurement(task, contender, size, dt, peak, base, out, err, cpu)
    status = err or f"{dt:8.2f} s  cpu {cpu:7.2f} s  peak {peak:8.0f} MB"
    print(f"  {task:<28} {contender:<24} {size:>6}  {status}", flush=True)
    return m


def machine() -> str:
    import numpy as np
    import pandas as pd

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {mem:.0f} GiB RAM, "
        f"Python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}"
    )


def mark_differences(rows: list[Measurement], reference: str = "journeymine") -> None:
    """Set ``error`` on every contender whose result differs from the ``reference`` row's
    (``None`` items of a result are not compared: a peer that computes less)."""
    ref = next((m.result for m in rows if m.contender == reference and m.result), None)
    if ref is None:
        return
    for m in rows:
        if m.result is None or m.error:
            continue
        pairs = [(a, b) for a, b in zip(m.result, ref, strict=True) if a is not None]
        if any(a != b for a, b in pairs):
            m.error = f"result differs: {m.result} vs {reference} {ref}"
