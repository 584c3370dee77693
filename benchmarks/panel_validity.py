"""persona_validity against demographics on a store-panel-shaped log (not our generator).

A plain numpy simulation shaped like a household purchase panel: 2,500 households over 360
days, store baskets of department lines (44 departments, one time per basket, a value per
line), 24 mailed campaigns (``campaign_mailed`` with a ``journey_id``) and coupon redemptions
(``coupon_redeemed``). Five household segments differ in department mix, trip rate, basket
size, price level and coupon proneness; demographics (age band, income band, household size)
are tied loosely to the segment. Personas are mined on the nine months before the cutoff and
checked on "a coupon redeemed in the next 90 days" against RFV and against the demographics
of a sample of households (as real panels have demographics for a part of them only).

The segments are well separated by department mix, so this shows the mechanics of the check
on a panel's shape (one channel, no activity named ``purchase``, lines sharing a time), not
how personas fare on a real panel.

    python -m benchmarks.panel_validity --seeds 0 1 2 [--blend 0.5] [--labels soft]

``--labels soft`` scores the miner's soft memberships (``miner.membership(...)``) instead of
its hard labels.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd

N_HOUSEHOLDS, N_DEPARTMENTS, N_SEGMENTS, DAYS = 2_500, 44, 5, 360
TRIPS_PER_WEEK = np.array([2.5, 1.2, 0.6, 1.8, 0.9])
LINES_PER_BASKET = np.array([6, 14, 9, 4, 20])
PRICE = np.array([2.5, 3.5, 4.5, 2.0, 3.0])
COUPON = np.array([0.02, 0.10, 0.01, 0.04, 0.15])
SEGMENT_SHARE = [0.25, 0.2, 0.2, 0.2, 0.15]
CUTOFF = pd.Timestamp("2023-10-01", tz="UTC")


def make_panel(seed: int, blend: float = 0.0) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """(events, demographics indexed by customer_id, true segment per customer_id).

    ``blend`` > 0 makes the segments a continuum: each household takes a share ``w ~ U(0,
    blend)`` of a second segment's department mix, trip rate, basket size, price level and coupon
    proneness (its demographics and its "true segment" stay the first one's).
    """
    rng = np.random.default_rng(seed)
    depts = [f"DEPT_{i:02d}" for i in range(N_DEPARTMENTS)]
    base = rng.dirichlet(np.full(N_DEPARTMENTS, 0.6))
    seg_mix = np.array([rng.dirichlet(base * 40 + 0.05) for _ in range(N_SEGMENTS)])
    seg = rng.choice(N_SEGMENTS, N_HOUSEHOLDS, p=SEGMENT_SHARE)
    other, w = seg, np.zeros(N_HOUSEHOLDS)  # blend 0: the draws of the separable panel
    if blend > 0:
        other = (seg + rng.integers(1, N_SEGMENTS, N_HOUSEHOLDS)) % N_SEGMENTS
        w = rng.uniform(0, blend, N_HOUSEHOLDS)

    def mixed(per_segment: np.ndarray) -> np.ndarray:
        return (1 - w) * per_segment[seg] + w * per_segment[other]

    age = np.clip(seg + rng.integers(-2, 3, N_HOUSEHOLDS), 0, 5)
    income = np.clip((seg * 7) % 5 + rng.integers(-1, 2, N_HOUSEHOLDS), 0, 4)
    size = np.clip(np.round(LINES_PER_BASKET[seg] / 5 + rng.normal(0, 1, N_HOUSEHOLDS)), 1, 5)
    rate = mixed(TRIPS_PER_WEEK) * rng.lognormal(0, 0.4, N_HOUSEHOLDS) / 7
    lines_per_basket, price = mixed(LINES_PER_BASKET), mixed(PRICE)
    mix = np.array(
        [
            rng.dirichlet(((1 - w[h]) * seg_mix[seg[h]] + w[h] * seg_mix[other[h]]) * 60 + 0.01)
            for h in range(N_HOUSEHOLDS)
        ]
    )
    prone = mixed(COUPON) * rng.lognormal(0, 0.5, N_HOUSEHOLDS)
    start = np.datetime64("2023-01-01T00:00:00", "s")
    rows: list[tuple] = []
    for h in range(N_HOUSEHOLDS):
        for d in np.sort(rng.integers(0, DAYS, rng.poisson(rate[h] * DAYS))):
            hour = int(np.clip(rng.normal(14 + (seg[h] - 2), 3), 7, 22))
            t = start + np.timedelta64(int(d) * 86_400 + hour * 3_600 + int(rng.integers(3_600)))
            k = max(1, rng.poisson(lines_per_basket[h]))
            lines = rng.choice(N_DEPARTMENTS, k, p=mix[h])
            values = np.round(rng.gamma(2, price[h] / 2, k), 2)
            rows += [
                (h, t, depts[a], "store", float(v), None)
                for a, v in zip(lines, values, strict=True)
            ]
    for c, day in enumerate(np.sort(rng.choice(np.arange(5, DAYS - 10), 24, replace=False))):
        t = start + np.timedelta64(int(day) * 86_400 + 8 * 3_600)
        for h in np.flatnonzero(rng.random(N_HOUSEHOLDS) < 0.35):
            rows.append((h, t, "campaign_mailed", "mail", np.nan, f"C{c}"))
            if rng.random() < min(0.9, prone[h] * 4):
                later = t + np.timedelta64(int(rng.integers(1, 30)) * 86_400 + 12 * 3_600)
                rows.append((h, later, "coupon_redeemed", "store", np.nan, f"C{c}"))
    cols = ["customer_id", "timestamp", "activity", "channel", "value", "journey_id"]
    log = pd.DataFrame(rows, columns=cols)
    log["customer_id"] = "HH" + log["customer_id"].astype(str).str.zfill(4)
    log["timestamp"] = pd.to_datetime(log["timestamp"]).dt.tz_localize("UTC")
    ids = pd.Index([f"HH{h:04d}" for h in range(N_HOUSEHOLDS)], name="customer_id")
    demo = pd.DataFrame({"age_band": age, "income_band": income, "household_size": size}, index=ids)
    return log, demo, pd.Series(seg, index=ids, name="segment")


def check(
    seed: int, with_demographics: int = 900, blend: float = 0.0, labels: str = "hard"
) -> dict[str, float]:
    """Mine, then persona_validity with demographics for ``with_demographics`` households, of
    the hard labels or (``labels="soft"``) the soft memberships."""
    from sklearn.metrics import adjusted_rand_score

    import journeymine as jm

    log, demo, truth = make_panel(seed, blend)
    log = jm.validate(log, duplicates="keep")  # a basket repeats a department line
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        miner = jm.PersonaMiner(random_state=0).fit(log[log["timestamp"] < CUTOFF])
    sample = demo.astype({"age_band": str, "income_band": str}).sample(
        with_demographics, random_state=seed
    )
    scored = miner.labels_ if labels == "hard" else miner.membership(miner.features_)[2]
    v = jm.persona_validity(
        log,
        scored,
        outcome="activity:coupon_redeemed",
        cutoff=CUTOFF,
        horizon="90D",
        attributes=sample,
    )
    auc = v.auc.set_index("feature_set")["auc"]
    lo, hi = v.added_to_attributes_ci or (np.nan, np.nan)
    return {
        "seed": seed,
        "blend": blend,
        "labels": labels,
        "personas": int(miner.quality_["n_personas"]),
        "ari": adjusted_rand_score(truth.reindex(miner.labels_.index), miner.labels_),
        **{f"auc {k}": float(x) for k, x in auc.items()},
        "gain over demographics": float(v.added_to_attributes or np.nan),
        "gain low": lo,
        "gain high": hi,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--blend", type=float, nargs="+", default=[0.0])
    ap.add_argument("--labels", choices=("hard", "soft"), nargs="+", default=["hard"])
    args = ap.parse_args()
    table = pd.DataFrame(
        [check(s, blend=b, labels=k) for b in args.blend for k in args.labels for s in args.seeds]
    )
    print(table.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
