"""Do mined personas mean something on the generator? The README's persona_validity table.

For seeds 3 and 7 (3,000 customers, 180 days, cutoff on day 90): ``PersonaMiner`` on the events
before the cutoff, then ``persona_validity`` for the response to each journey (clicks as the
generator defines them) and next-period purchase; prints one markdown row per outcome with the
AUC of the mined personas, of recency/frequency/value (RFV) and the gain of adding the personas
to RFV, with 95% intervals.

    python -m benchmarks.persona_validity_table
"""

from __future__ import annotations

import pandas as pd

import journeymine as jm
from journeymine.datasets import make_journeys

JOURNEYS = ("birthday", "holiday", "flash_sale", "cart_abandonment", "post_purchase_tips",
            "win_back")  # fmt: skip
CLICKS = ["email_click", "sms_click", "push_open"]


def _cell(auc: pd.DataFrame, key: str) -> str:
    row = auc.loc[key]
    return f"{row['auc']:.2f} [{row['ci_low']:.2f}, {row['ci_high']:.2f}]"


def main() -> None:
    for seed in (3, 7):
        log = make_journeys(3000, random_state=seed).events
        cutoff = log["timestamp"].min().normalize() + pd.Timedelta(days=90)
        miner = jm.PersonaMiner(random_state=0).fit(log[log["timestamp"] < cutoff])
        print(f"seed {seed}: {miner.quality_['n_personas']} personas", flush=True)
        outcomes = [(f"response:{j}", {"response_activities": CLICKS}) for j in JOURNEYS]
        for outcome, extra in [*outcomes, ("purchase", {})]:
            v = jm.persona_validity(
                log, miner.labels_, outcome=outcome, cutoff=cutoff, n_bootstrap=200,
                random_state=0, **extra,
            )  # fmt: skip
            auc = v.auc.set_index("feature_set")
            lo, hi = v.added_auc_ci
            print(
                f"| {seed} | {outcome} | {v.n_customers:,} ({v.n_positive:,}) | "
                f"{_cell(auc, 'personas')} | {_cell(auc, 'rfv')} | "
                f"{v.added_auc:+.2f} [{lo:+.2f}, {hi:+.2f}] |",
                flush=True,
            )


if __name__ == "__main__":
    main()
