"""engine.stable_order: the stable (code, time) order, equal to a lexsort, on every path."""

from __future__ import annotations

import hypothesis.strategies as st
import numpy as np
import pytest
from hypothesis import given, settings

from journeymine.engine import stable_order
from journeymine.schema import row_order


def _lexsort(codes: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.lexsort((np.arange(len(t)), t, codes))


@settings(max_examples=300, deadline=None)
@given(
    data=st.data(),
    n=st.integers(0, 120),
    n_codes=st.integers(1, 10),
    times=st.sampled_from(["small", "wide", "clustered", "sorted"]),
)
def test_equals_a_stable_lexsort(data, n, n_codes, times):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    codes = rng.integers(0, n_codes, n)
    t = {
        "small": lambda: rng.integers(-3, 3, n),  # many exact ties
        "wide": lambda: rng.integers(-(2**62), 2**62, n),  # no room left: coarse times
        # a few far-apart clusters of near-equal times: coarse ties that differ exactly
        "clustered": lambda: rng.integers(0, 4, n) * 2**45 + rng.integers(0, 5, n),
        "sorted": lambda: np.sort(rng.integers(0, 100, n)),
    }[times]()
    got = stable_order(codes, n_codes, t)
    want = _lexsort(codes, t)
    assert np.array_equal(np.arange(n) if got is None else got, want)
    if got is not None:
        assert np.array_equal(got, row_order(codes, n_codes, t))


@pytest.mark.parametrize(
    ("n_codes", "cluster"),
    [
        (2**35, 2**40),  # 2,000 rows and 2**35 codes leave the packed key 18 bits for the time
        (2**37, 2**40),  # 16 bits, the least the packed sort takes (else the argsort path)
        (2**37, 2**55),  # times spanning 2**62: the exact re-sort of the ties needs a lexsort
    ],
)
def test_coarsened_times_keep_the_exact_order(n_codes, cluster):
    # clusters of near-equal times far apart: the time is coarsened to fit, and the rows that
    # share a code and a coarse time are ordered by their exact time afterwards
    rng = np.random.default_rng(n_codes.bit_length() + cluster.bit_length())
    codes = rng.integers(0, 5, 2_000)
    t = rng.integers(0, 200, 2_000) * cluster + rng.integers(0, 50, 2_000)
    assert np.array_equal(stable_order(codes, n_codes, t), _lexsort(codes, t))


def test_in_order_rows_give_none_and_many_codes_use_the_argsort_path():
    assert stable_order(np.array([0, 0, 1]), 2, np.array([1, 2, 0])) is None
    rng = np.random.default_rng(0)
    n = 5_000
    codes = rng.integers(0, 2**40, n)  # 41 + 13 bits leave less than 16 for the time
    t = rng.integers(0, 10, n)
    got = stable_order(codes, 2**41, t)
    assert np.array_equal(got, _lexsort(codes, t))
