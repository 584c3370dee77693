"""Independent, deliberately naive pandas/Python references for the journey statistics, and
small seeded logs. The tests compare journeymine's encoded implementation with these."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

from journeymine.datasets import make_journeys
from journeymine.schema import ACTIVITY, CHANNEL, CUSTOMER_ID, TIMESTAMP


@lru_cache(maxsize=4)
def _synthetic(n_customers: int, days: int, seed: int) -> pd.DataFrame:
    return make_journeys(n_customers=n_customers, days=days, random_state=seed).events


def synthetic(n_customers: int = 300, days: int = 60, seed: int = 1) -> pd.DataFrame:
    """A seeded synthetic log (a copy: tests may not share mutations)."""
    return _synthetic(n_customers, days, seed).copy()


def sort_like_spec(log: pd.DataFrame, case: str = CUSTOMER_ID) -> pd.DataFrame:
    """Sort by (case, timestamp), ties in input order, with plain pandas."""
    out = log.reset_index(drop=True)
    out["_pos"] = np.arange(len(out))
    out = out.sort_values([case, TIMESTAMP, "_pos"], kind="stable")
    return out.drop(columns="_pos").reset_index(drop=True)


def shuffle_keeping_ties(log: pd.DataFrame, seed: int = 0, case: str = CUSTOMER_ID) -> pd.DataFrame:
    """Shuffle rows across cases and time, but keep events with the same case and timestamp
    in their relative order (the spec breaks such ties by input order)."""
    rng = np.random.default_rng(seed)
    out = log.reset_index(drop=True)
    r = pd.Series(rng.random(len(out)))
    group_key = out.groupby([case, TIMESTAMP], sort=False, observed=True).ngroup()
    first_r = r.groupby(group_key).transform("min")
    order = np.lexsort((np.arange(len(out)), first_r.to_numpy()))
    return out.iloc[order].reset_index(drop=True)


def ref_edges(log: pd.DataFrame, case: str = CUSTOMER_ID) -> pd.DataFrame:
    """Every directly-follows pair: case, source, target, seconds."""
    s = sort_like_spec(log, case)
    nxt = s.groupby(case, sort=False, observed=True).shift(-1)
    ok = nxt[ACTIVITY].notna()
    return pd.DataFrame(
        {
            "case": s.loc[ok, case].to_numpy(),
            "source": s.loc[ok, ACTIVITY].astype(str).to_numpy(),
            "target": nxt.loc[ok, ACTIVITY].astype(str).to_numpy(),
            "seconds": (nxt.loc[ok, TIMESTAMP] - s.loc[ok, TIMESTAMP])
            .dt.total_seconds()
            .to_numpy(),
        }
    )


def ref_dfg(log: pd.DataFrame, case: str = CUSTOMER_ID) -> pd.DataFrame:
    e = ref_edges(log, case)
    g = e.groupby(["source", "target"])
    out = pd.DataFrame(
        {
            "count": g.size(),
            "cases": g["case"].nunique(),
            "mean_seconds": g["seconds"].mean(),
            "median_seconds": g["seconds"].median(),
            "p90_seconds": g["seconds"].quantile(0.9),
        }
    ).reset_index()
    return out.sort_values(
        ["count", "source", "target"], ascending=[False, True, True], ignore_index=True
    )


def ref_variants(log: pd.DataFrame, case: str = CUSTOMER_ID) -> dict[tuple[str, ...], int]:
    s = sort_like_spec(log, case)
    seqs = s.groupby(case, sort=False, observed=True)[ACTIVITY].agg(
        lambda x: tuple(str(v) for v in x)
    )
    return seqs.value_counts().to_dict()


def ref_case_sequences(log: pd.DataFrame, case: str = CUSTOMER_ID) -> dict[str, pd.DataFrame]:
    s = sort_like_spec(log, case)
    return {k: g.reset_index(drop=True) for k, g in s.groupby(case, sort=False, observed=True)}


def ref_funnel(
    log: pd.DataFrame, steps: list[str], within: pd.Timedelta | None = None, case: str = CUSTOMER_ID
) -> list[int]:
    """Cases reaching each step, one case at a time in plain Python."""
    reached = [0] * len(steps)
    for _, g in ref_case_sequences(log, case).items():
        acts = g[ACTIVITY].astype(str).tolist()
        times = g[TIMESTAMP].tolist()
        if steps[0] not in acts:
            continue
        i = acts.index(steps[0])
        t0 = times[i]
        reached[0] += 1
        for k, step in enumerate(steps[1:], start=1):
            j = next((j for j in range(i + 1, len(acts)) if acts[j] == step), None)
            if j is None or (within is not None and times[j] - t0 > within):
                break
            reached[k] += 1
            i = j
    return reached


def ref_channel_switches(log: pd.DataFrame) -> dict[tuple[str, str], int]:
    s = sort_like_spec(log)
    nxt = s.groupby(CUSTOMER_ID, sort=False, observed=True)[CHANNEL].shift(-1)
    ok = nxt.notna()
    pairs = zip(s.loc[ok, CHANNEL].astype(str), nxt[ok].astype(str), strict=True)
    return pd.Series(list(pairs)).value_counts().to_dict()
