"""Benchmark data: synthetic event logs generated once and cached as Parquet under ``out/``."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

OUT = Path(__file__).parent / "out"


def _generate(n_customers: int, seed: int, path: str) -> None:
    from journeymine.datasets import make_journeys

    events = make_journeys(n_customers, random_state=seed).events
    tmp = Path(path).with_suffix(".tmp")
    events.to_parquet(tmp, index=False)
    tmp.replace(path)


def events_path(n_customers: int, seed: int = 0) -> Path:
    """Parquet cache of ``make_journeys(n_customers, random_state=seed).events``, generated in
    a child process so that the calling process stays small: a spawned child's peak RSS
    starts from its parent's resident size."""
    path = OUT / f"journeys_c{n_customers}_s{seed}.parquet"
    if not path.exists():
        OUT.mkdir(exist_ok=True)
        proc = mp.get_context("spawn").Process(
            target=_generate, args=(n_customers, seed, str(path))
        )
        proc.start()
        proc.join()
        if proc.exitcode != 0 or not path.exists():
            raise RuntimeError(f"generating {path.name} failed (exit code {proc.exitcode})")
    return path
