"""The noise limit learned from the log's own distances (journeymine.personas.tails): customers
that belong to a persona are not noise for lying in its heavy tail; foreign ones still are."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import chi2

from journeymine.datasets import make_journeys
from journeymine.personas import PersonaMiner
from journeymine.personas.tails import noise_limit, tail_dof


def test_tail_dof_recovers_a_t_law_and_keeps_the_gaussian() -> None:
    rng = np.random.default_rng(7)
    d = 10
    gauss = (rng.normal(size=(20_000, d)) ** 2).sum(1)
    assert tail_dof(gauss, d) > 200  # chi-square distances: no heavy tail
    for nu in (5.0, 20.0):
        # squared distances of a t with nu dof, measured with its covariance
        t = gauss / rng.chisquare(nu, size=len(gauss)) * (nu - 2.0)
        assert abs(tail_dof(t, d) - nu) / nu < 0.25, (nu, tail_dof(t, d))
        # the fitted limit keeps about 99.9% of such points; the Gaussian's keeps fewer
        assert np.mean(t > noise_limit(d, tail_dof(t, d))) < 0.003
        assert np.mean(t > chi2.ppf(0.999, d)) > 0.003


def _bots(n: int, start: pd.Timestamp) -> pd.DataFrame:
    """``n`` scripted accounts: hundreds of bare visits at 3 a.m. over two days."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        k = int(rng.integers(200, 400))
        t = start + pd.Timedelta(hours=3) + pd.to_timedelta(np.sort(rng.random(k)) * 2, unit="D")
        rows.append(pd.DataFrame({"customer_id": f"BOT{i:03d}", "timestamp": t}))
    out = pd.concat(rows, ignore_index=True)
    return out.assign(activity="visit", channel="web")


def test_customers_in_a_persona_tail_are_not_noise_but_bots_are() -> None:
    """Seed 1407, 2,000 customers: with the chi-square limit 26 of the 1,885 eligible
    customers (1.4%, about 1% of those with 20 or more events) were noise although the
    generator gives every one a persona; the t law fitted to the distances (about 25 degrees
    of freedom) leaves 4. Fifteen scripted accounts added to the log are all noise."""
    data = make_journeys(n_customers=2000, random_state=1407)
    log = data.events
    bots = _bots(15, log["timestamp"].min())
    both = pd.concat([log, bots.astype({c: log[c].dtype for c in ("activity", "channel")})])
    miner = PersonaMiner(n_bootstrap=0, random_state=0).fit(both)
    assert np.isfinite(miner.tail_dof_) and miner.tail_dof_ < 100
    assert miner.noise_limit_ > chi2.ppf(0.999, miner.mixture_.means_.shape[1])
    reasons = miner.label_reasons_
    assert (reasons.loc[bots["customer_id"].unique()] == "noise").all()
    people = reasons.drop(bots["customer_id"].unique())
    eligible = people != "too few events"
    assert (people[eligible] == "noise").mean() < 0.005, (people[eligible] == "noise").sum()
