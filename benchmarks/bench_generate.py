"""Synthetic data generation at scale (foundation issue: 10 million events must fit)."""

from __future__ import annotations

from benchmarks._harness import Measurement, measure

NOTES = """
`make_journeys(n_customers, days=180)` in memory, then `validate()` of the result. About 52 events
per customer, so 200,000 customers make about 10 million events. No peer generates comparable
data; the rows are here to show time and peak memory at 10M events. `sessionize` runs on the
generated events (data generation not timed).
"""


def _setup_n(n: int) -> int:
    return n


def _generate(n: int) -> int:
    from journeymine.datasets import make_journeys

    return len(make_journeys(n, random_state=0).events)


def _generate_validate(n: int) -> int:
    from journeymine import validate
    from journeymine.datasets import make_journeys

    return len(validate(make_journeys(n, random_state=0).events, duplicates="keep"))


def _events(n: int):
    from journeymine.datasets import make_journeys

    return make_journeys(n, random_state=0).events


def _sessionize(log) -> int:
    from journeymine import sessionize

    return int(sessionize(log)["session_id"].nunique())


def _ev20k():
    return _events(20_000)


def _ev200k():
    return _events(200_000)


def _s20k() -> int:
    return _setup_n(20_000)


def _s200k() -> int:
    return _setup_n(200_000)


def run(quick: bool) -> list[Measurement]:
    sizes = [("1M", _s20k)] if quick else [("1M", _s20k), ("10M", _s200k)]
    rows = []
    for label, setup in sizes:
        m = measure("generate", "journeymine make_journeys", label, setup, _generate)
        m.size = f"{label} ({m.result:,} ev)" if m.result else label
        rows.append(m)
        m = measure("generate + validate", "journeymine", label, setup, _generate_validate)
        rows.append(m)
        events = _ev20k if label == "1M" else _ev200k
        rows.append(measure("sessionize (30 min gap)", "journeymine", label, events, _sessionize))
    return rows
