"""One gate: the same malformed log gives the same exception type and message from every entry
point that takes an event log (issue #14): read_events, dfg, PersonaMiner.fit,
check_conformance, detect_changes and next_best_action all call schema.canonical_log."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

import journeymine as jm
from journeymine import schema
from journeymine.exceptions import JourneymineError


def _good() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "b", "c"],
            "timestamp": pd.to_datetime(
                [
                    "2025-01-01 09:00",
                    "2025-01-01 10:00",
                    "2025-01-02 08:00",
                    "2025-01-03 08:00",
                    "2025-01-04 08:00",
                ],
                utc=True,
            ),
            "activity": ["visit", "purchase", "visit", "visit", "purchase"],
            "channel": ["web", "web", "app", "app", "web"],
        }
    )


def _malformed() -> dict[str, pd.DataFrame]:
    g = _good()
    twice = pd.concat([g, g[["activity"]]], axis=1)
    listed = g.astype({"activity": object})
    listed.at[2, "activity"] = ["visit", "purchase"]
    return {
        "missing column": g.drop(columns="activity"),
        "empty": g.iloc[:0],
        "null activity": g.assign(activity=["visit", None, "visit", "visit", "purchase"]),
        "blank customer": g.assign(customer_id=["a", "a", " ", "b", "c"]),
        "unparseable time": g.assign(timestamp=["2025-01-01", "soon", "2025-01-02"] + ["x"] * 2),
        "implausible time": g.assign(timestamp=["1900-01-01"] + ["2025-01-02"] * 4),
        "list in activity": listed,
        "column twice": twice,
    }


@pytest.fixture(scope="module")
def actions() -> tuple[Any, Any, Any]:
    from journeymine.actions import Policy, ResponseModel

    data = jm.datasets.make_journeys(n_customers=150, days=40, random_state=0)
    policy = Policy.from_dict(
        {
            "journeys": [
                {
                    "name": "cart_abandonment",
                    "channel": "email",
                    "activity": "email_sent",
                    "eligible": [{"rule": "seen", "activity": "add_to_cart", "within": "7D"}],
                }
            ]
        }
    )
    personas = data.customers.set_index("customer_id")["persona"].astype("category").cat.codes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rm = ResponseModel().fit(data.events, personas, policy)
    return policy, rm, personas


def _entry_points(actions: tuple[Any, Any, Any]) -> dict[str, Callable[[pd.DataFrame], Any]]:
    from journeymine.actions import next_best_action

    policy, rm, personas = actions
    return {
        "read_events": lambda log: jm.read_events(log),
        "dfg": lambda log: jm.dfg(log),
        "PersonaMiner.fit": lambda log: jm.PersonaMiner(n_personas=2).fit(log),
        "check_conformance": lambda log: jm.check_conformance(log, ["visit", "purchase"]),
        "detect_changes": lambda log: jm.detect_changes(log),
        "next_best_action": lambda log: next_best_action(log, policy, rm, personas),
    }


def _error(call: Callable[[pd.DataFrame], Any], log: pd.DataFrame) -> tuple[type, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(JourneymineError) as info:
            call(log)
    return type(info.value), str(info.value)


@pytest.mark.parametrize("case", list(_malformed()))
def test_same_malformed_log_same_error_everywhere(case: str, actions: Any) -> None:
    log = _malformed()[case]
    with pytest.raises(JourneymineError) as gate:
        schema.canonical_log(log)
    expected = (type(gate.value), str(gate.value))
    for name, call in _entry_points(actions).items():
        assert _error(call, log.copy()) == expected, name


def test_canonical_log_passes_through() -> None:
    log = jm.read_events(_good())
    assert schema.canonical_log(log) is log
    raw = _good().assign(timestamp=["2025-01-01T09:00:00Z"] * 5)
    pd.testing.assert_frame_equal(
        schema.canonical_log(raw), schema.validate(raw, duplicates="keep", sort=False)
    )
