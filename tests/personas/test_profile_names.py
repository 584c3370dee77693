"""Persona names in the log's own terms: traits, disambiguation without numbers, and pairs of
personas that nothing tells apart (persona_profiles().attrs["indistinct_pairs"])."""

from __future__ import annotations

import numpy as np
import pandas as pd

from journeymine.personas import persona_profiles
from journeymine.personas.profiles import GENERIC_NAME, indistinct_pairs
from journeymine.personas.traits import describe


def _frame(cols: dict[str, np.ndarray]) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    return pd.DataFrame(cols, index=pd.Index([f"c{i:03d}" for i in range(n)], name="customer_id"))


def test_names_use_the_logs_activities_and_channels() -> None:
    rng = np.random.default_rng(0)
    n = 60
    lab = np.repeat([0, 1, 2], n)
    feats = _frame(
        {
            "activity_share:ORDER_PLACED": np.r_[
                rng.normal(0.6, 0.05, n), rng.normal(0.1, 0.05, 2 * n)
            ],
            "transition_share:CATALOG_VIEW>ORDER_PLACED": np.r_[
                rng.normal(0.1, 0.05, n), rng.normal(0.5, 0.05, n), rng.normal(0.1, 0.05, n)
            ],
            "organic_channel_share:kiosk": np.r_[
                rng.normal(0.1, 0.05, 2 * n), rng.normal(0.8, 0.05, n)
            ],
        }
    )
    prof = persona_profiles(feats, pd.Series(lab, index=feats.index))
    assert prof["name"].tolist() == [
        "ORDER_PLACED customers",
        "CATALOG_VIEW -> ORDER_PLACED customers",
        "Kiosk-first customers",
    ]
    assert prof.attrs["indistinct_pairs"] == []


def test_equal_names_are_extended_by_what_tells_them_apart() -> None:
    rng = np.random.default_rng(1)
    n = 80
    # personas 0 and 1 both buy at the kiosk; 1 spends a little more
    kiosk = np.r_[rng.normal(0.8, 0.05, 2 * n), rng.normal(0.1, 0.05, n)]
    value = np.r_[rng.normal(3.0, 0.3, n), rng.normal(3.2, 0.3, n), rng.normal(3.1, 0.3, n)]
    feats = _frame({"organic_channel_share:kiosk": kiosk, "order_value_log": value})
    prof = persona_profiles(feats, pd.Series(np.repeat([0, 1, 2], n), index=feats.index))
    names = prof["name"].tolist()
    assert names[0] == "Kiosk-first customers, low value"
    assert names[1] == "Kiosk-first customers, high value"
    assert prof["name"].is_unique
    assert not any(name[-1].isdigit() for name in names)


def test_indistinct_personas_keep_their_names_and_are_flagged() -> None:
    rng = np.random.default_rng(2)
    n = 200
    x = np.r_[rng.normal(0, 1, 2 * n), rng.normal(3, 1, n)]
    feats = _frame({"order_value_log": x})
    labels = pd.Series(np.repeat([0, 1, 2], n), index=feats.index)
    prof = persona_profiles(feats, labels)
    pairs = prof.attrs["indistinct_pairs"]
    assert [(r["persona_a"], r["persona_b"]) for r in pairs] == [(0, 1)]
    assert pairs[0]["max_abs_d"] < 0.2 and pairs[0]["feature"] == "order_value_log"
    assert pairs[0]["name_a"] == prof.loc[0, "name"] and pairs[0]["name_b"] == prof.loc[1, "name"]
    assert prof.loc[2, "name"] == "High-value customers"
    assert not any(name[-1].isdigit() for name in prof["name"])
    again = indistinct_pairs(feats, labels)
    assert again[["persona_a", "persona_b"]].values.tolist() == [[0, 1]]
    # attrs survive the copies callers make
    assert prof.copy().attrs["indistinct_pairs"] == pairs


def test_no_trait_is_the_one_generic_name_and_time_of_day_does_not_lead() -> None:
    rng = np.random.default_rng(3)
    n = 100
    feats = _frame(
        {
            "hour_share:20-24": np.r_[rng.normal(0.9, 0.05, n), rng.normal(0.1, 0.05, n)],
            "activity_share:SUBMIT": np.r_[rng.normal(0.5, 0.1, n), rng.normal(0.3, 0.1, n)],
        }
    )
    prof = persona_profiles(feats, pd.Series(np.repeat([0, 1], n), index=feats.index))
    assert prof.loc[0, "name"] == "SUBMIT customers, evenings"
    flat = _frame({"x": rng.normal(size=2 * n)})
    prof = persona_profiles(flat, pd.Series(np.repeat([0, 1], n), index=flat.index))
    assert set(prof["name"]) == {GENERIC_NAME}
    assert describe("hour_share:08-12", -2.0) is None
    assert describe("activity_share:T02 Check receipt", 1.0).head == '"T02 Check receipt" customers'


def test_a_name_never_says_recently_active_and_not_seen_lately() -> None:
    """Two small personas more recently active than a large fading one (activity late in their
    span), told apart by days since their last visit and by tenure: recency and fading are one
    dimension, so the pair is told apart by tenure (an independent log of short bursts named
    one persona "Recently active customers, not seen lately")."""
    rng = np.random.default_rng(1)
    sizes = [400, 40, 40]
    lab = np.repeat([0, 1, 2], sizes)

    def col(means: list[float], sd: float) -> np.ndarray:
        return np.concatenate([rng.normal(m, sd, k) for m, k in zip(means, sizes, strict=True)])

    feats = _frame(
        {
            "organic_centre": col([0.02, 0.2, 0.2], 0.02),
            "recency_days_log": col([4.5, 4.4, 3.9], 0.2),
            "tenure_days_log": col([4.8, 4.8, 4.5], 0.2),
        }
    )
    names = persona_profiles(feats, pd.Series(lab, index=feats.index))["name"].tolist()
    assert len(set(names)) == 3, names
    assert not any("Recently active" in n and "seen lately" in n for n in names), names
    assert names[1:] == [
        "Recently active customers, long-standing",
        "Recently active customers, new",
    ]
