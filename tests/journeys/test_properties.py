"""Hypothesis properties on random small logs."""

from __future__ import annotations

import pandas as pd
from _journeys_reference import ref_dfg, ref_variants
from hypothesis import given, settings
from hypothesis import strategies as st

import journeymine as jm

_events = st.lists(
    st.tuples(
        st.sampled_from(["c1", "c2", "c3", "c4", "c5"]),
        st.integers(min_value=0, max_value=30),  # few distinct times: plenty of ties
        st.sampled_from(["a", "b", "c", "d"]),
    ),
    min_size=1,
    max_size=60,
)


def _frame(rows: list[tuple[str, int, str]]) -> pd.DataFrame:
    cust, minutes, act = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "customer_id": list(cust),
            "timestamp": pd.Timestamp("2025-01-01", tz="UTC")
            + pd.to_timedelta(minutes, unit="min"),
            "activity": list(act),
        }
    )


@settings(max_examples=60, deadline=None)
@given(_events)
def test_dfg_counts_sum_to_events_minus_cases(rows: list[tuple[str, int, str]]) -> None:
    log = _frame(rows)
    got = jm.dfg(log)
    assert int(got["count"].sum()) == len(log) - log["customer_id"].nunique()
    assert (got["cases"] <= got["count"]).all()
    want = ref_dfg(log)
    assert (
        got[["source", "target", "count", "cases"]].values.tolist()
        == want[["source", "target", "count", "cases"]].values.tolist()
    )


@settings(max_examples=60, deadline=None)
@given(_events, st.integers(min_value=1, max_value=4), st.booleans())
def test_variant_cases_sum_to_cases(
    rows: list[tuple[str, int, str]], k: int, from_end: bool
) -> None:
    log = _frame(rows)
    n_cases = log["customer_id"].nunique()
    full = jm.variants(log)
    assert int(full["cases"].sum()) == n_cases
    assert {
        tuple(v.split(" > ")): c for v, c in zip(full["variant"], full["cases"], strict=True)
    } == ref_variants(log)
    cut = jm.variants(log, max_steps=k, from_end=from_end)
    assert int(cut["cases"].sum()) == n_cases
    assert cut["length"].max() <= k
