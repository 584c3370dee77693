"""Next best action: response model, decisions for every customer, backtest of logged touches."""

from __future__ import annotations

from typing import Any

from benchmarks._data import events_path
from benchmarks._harness import Measurement, measure

NOTES = """
Data: `make_journeys(n, random_state=0).events` (cached Parquet; 1M events = 20,000 customers,
10M = 200,000; about 17 logged touches of the sample policy's journeys per 100 events).
Policy: `jm.datasets.sample_policy()` (5 journeys, eligibility rules, a product suppression,
minimum gaps, 2 caps). Personas: customer code mod 6 (the timing does not depend on them).
*fit + decide*: `ResponseModel().fit` then `next_best_action` for every customer;
*backtest*: `ResponseModel().fit` then `backtest` (every logged touch is a decision point).
No persona/journey library we know replays a policy, so the peer row is one gate done the
obvious way in pandas: the email cap (touches in the 7 days before each logged touch) with
`groupby(...).rolling("7D", closed="left")` — one of the ~15 as-of questions the backtest asks.
"""


def _setup(n_customers: int) -> Any:
    import numpy as np
    import pandas as pd

    from journeymine.datasets import sample_policy

    log = pd.read_parquet(events_path(n_customers))
    _, ids = pd.factorize(log["customer_id"], sort=True)
    personas = pd.Series(np.arange(len(ids)) % 6, index=ids)
    return log, sample_policy(), personas


def _s1m() -> Any:
    return _setup(20_000)


def _s10m() -> Any:
    return _setup(200_000)


def _decide(data: Any) -> int:
    from journeymine.actions import ResponseModel, next_best_action

    log, policy, personas = data
    rm = ResponseModel().fit(log, personas, policy)
    return len(next_best_action(log, policy, rm, personas).actions)


def _backtest(data: Any) -> int:
    from journeymine.actions import ResponseModel, backtest

    log, policy, personas = data
    rm = ResponseModel().fit(log, personas, policy)
    return len(backtest(log, policy, rm, personas).points)


def _pandas_cap(data: Any) -> int:
    log, policy, _ = data
    touches = log[log["activity"].isin(policy.touch_activities)]
    email = touches.assign(one=(touches["channel"] == "email").astype("int64"))
    email = email.sort_values(["customer_id", "timestamp"])
    counts = (
        email.groupby("customer_id", observed=True)
        .rolling("7D", on="timestamp", closed="left")["one"]
        .sum()
    )
    return len(counts)


def run(quick: bool) -> list[Measurement]:
    sizes = [("1M", _s1m)] if quick else [("1M", _s1m), ("10M", _s10m)]
    rows: list[Measurement] = []
    for label, setup in sizes:
        rows.append(measure("fit + decide (all customers)", "journeymine", label, setup, _decide))
        m = measure("backtest (all logged touches)", "journeymine", label, setup, _backtest)
        if m.result:
            m.contender = f"journeymine ({m.result:,} touches)"
        rows.append(m)
        rows.append(
            measure(
                "backtest (all logged touches)",
                "pandas: the email cap gate alone",
                label,
                setup,
                _pandas_cap,
            )
        )
    return rows
