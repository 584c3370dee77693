"""Run every benchmark (`make bench`) and rewrite benchmarks/RESULTS.md.

Each ``benchmarks/bench_*.py`` module exposes ``run(quick: bool) -> list[Measurement]`` and a
``NOTES`` string. ``python -m benchmarks.run --quick`` uses small sizes for a smoke run;
``python -m benchmarks.run bench_xes`` runs one module.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import math
import pkgutil
from pathlib import Path

from benchmarks._harness import Measurement, machine

HERE = Path(__file__).parent
ON_REQUEST = {"bench_scale"}  # long (100M events): `make bench-scale` runs it by name


def _fmt(x: float, nd: int = 2) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{nd}f}"


def table(rows: list[Measurement]) -> str:
    out = [
        "| task | size | contender | time (s) | peak RSS (MB) | RSS before run (MB) | "
        "time vs journeymine |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    # the reference is the plain "journeymine" row of a task and size, else its first ours
    ref: dict[tuple[str, str], float] = {}
    for m in rows:
        if m.contender.startswith("journeymine") and (
            m.contender == "journeymine" or (m.task, m.size) not in ref
        ):
            ref[(m.task, m.size)] = m.seconds
    for m in rows:
        r = ref.get((m.task, m.size))
        ratio = m.seconds / r if r and not math.isnan(m.seconds) else float("nan")
        err = f" ({m.error[:80]})" if m.error else ""
        out.append(
            f"| {m.task} | {m.size} | {m.contender}{err} | {_fmt(m.seconds)} | "
            f"{_fmt(m.peak_mb, 0)} | {_fmt(m.base_mb, 0)} | {_fmt(ratio, 1)}x |"
        )
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("modules", nargs="*", help="bench_* module names (default: all)")
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    args = ap.parse_args()
    names = args.modules or sorted(
        m.name
        for m in pkgutil.iter_modules([str(HERE)])
        if m.name.startswith("bench_") and m.name not in ON_REQUEST
    )
    sections = []
    for name in names:
        mod = importlib.import_module(f"benchmarks.{name}")
        print(f"== {name}", flush=True)
        rows = mod.run(quick=args.quick)
        sections.append(f"## {name}\n\n{mod.NOTES.strip()}\n\n{table(rows)}\n")
    if not args.quick:
        # each module's section is kept in out/, so a partial run updates only its own
        out = HERE / "out"
        out.mkdir(exist_ok=True)
        for name, sec in zip(names, sections, strict=True):
            (out / f"{name}.md").write_text(sec)
        parts = sorted(out.glob("bench_*.md"))
        header = (
            "# Benchmark results\n\n"
            f"Machine: {machine()}. Updated {dt.date.today().isoformat()} by `make bench`.\n"
            "Every contender runs in its own fresh process on the same data; peak RSS is the "
            "process's maximum resident memory (includes the data it was given and its "
            "imports).\n\n"
        )
        (HERE / "RESULTS.md").write_text(header + "\n".join(p.read_text() for p in parts))
        print(f"wrote {HERE / 'RESULTS.md'}")


if __name__ == "__main__":
    main()
