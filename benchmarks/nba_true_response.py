"""#13's own check, reproduced: true responses of next-best-action decisions on a fresh seed.

Each run: ``make_journeys(n, random_state=seed)`` (180 days); at 10 decision times (days 90,
99, ..., 171) every customer gets one decision on the log before that time, from:

- fixed priority: the first journey, in the policy's list order, that passes the gates;
- ``next_best_action`` with personas mined by ``PersonaMiner(random_state=0)`` on the log so
  far, response rates fitted on it (``ResponseModel``);
- ``next_best_action`` with the customers' true personas at that time;
- the oracle: of the journeys that pass the gates, the one with the highest true response.

A decision is scored by the generator's true response probability for the customer's persona
at that time and the journey (``SyntheticJourneys.response``); sending nothing scores 0. Printed
per seed and policy: the decisions' true responses over fixed priority's, their share of the
oracle, and the pushes sent to customers without the app (with ``--reachable``, the sample
policy with consent gates on the customer attribute table).

    python -m benchmarks.nba_true_response --seeds 731-734 [--customers 4000] [--reachable]
"""

from __future__ import annotations

import argparse
import statistics
import warnings
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.persona_recovery import _seeds

PASS = ("outranked", "below_threshold")  # reasons that are not gates


def _persona_at(customers: pd.DataFrame, t: pd.Timestamp) -> pd.Series:
    """Each customer's true persona at ``t`` (the generator's scheduled change)."""
    c = customers.set_index("customer_id")
    after = c["changed"].astype(bool) & (c["changed_at"] <= t)
    return c["persona"].where(~after, c["persona_after_change"]).astype(str)


def _true_rate(response: pd.DataFrame, personas: Any, journeys: Any) -> np.ndarray:
    """The generator's true response probability per (persona, journey) pair; 0 where the
    journey is None (nothing sent)."""
    keys = pd.MultiIndex.from_arrays(
        [np.asarray(personas, dtype=object), np.asarray(journeys, dtype=object)]
    )
    return response.stack().reindex(keys).fillna(0.0).to_numpy(np.float64)


def decision_time(data: Any, policy: Any, t: pd.Timestamp, attributes: Any) -> dict[str, float]:
    """True responses of every decider's decisions at ``t`` (and the pushes to customers
    without the app)."""
    import journeymine as jm
    from journeymine.actions import ResponseModel, next_best_action

    log = data.events[data.events["timestamp"] < t]
    truth = _persona_at(data.customers, t)
    names = sorted(truth.unique())
    true_codes = truth.map(names.index).astype("int64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mined = jm.PersonaMiner(random_state=0).fit(log).labels_
    order = [j.name for j in policy.journeys]
    has_app = data.customers.set_index("customer_id")["has_app"]
    pushes = {j.name for j in policy.journeys if j.channel == "push"}

    def value(actions: pd.Series) -> tuple[float, int]:
        got = _true_rate(data.response, truth.reindex(actions.index), actions)
        pushed = actions.index[actions.isin(pushes)]
        return float(got.sum()), int((~has_app.reindex(pushed).fillna(False)).sum())

    out: dict[str, float] = {}
    for who, personas in (("mined", mined), ("true", true_codes)):
        model = ResponseModel().fit(log, personas, policy)
        d = next_best_action(log, policy, model, personas, at=t, attributes=attributes, check="off")
        acts = d.actions.set_index("customer_id")["action"]
        out[f"nba ({who} personas)"], out[f"pushes without app, nba ({who})"] = value(acts)
        if who == "true":  # the gates do not depend on the personas: fixed and oracle from here
            passing = d.why_not[d.why_not["reason"].isin(PASS)][["customer_id", "journey"]]
            chosen = acts.dropna().rename("journey").reset_index()
            ok = pd.concat([passing, chosen], ignore_index=True)
            ok["rank"] = ok["journey"].map(order.index)
            fixed = ok.sort_values("rank").groupby("customer_id")["journey"].first()
            fixed = fixed.reindex(acts.index)
            out["fixed priority"], out["pushes without app, fixed"] = value(fixed)
            ok["true"] = _true_rate(data.response, truth.reindex(ok["customer_id"]), ok["journey"])
            best = ok.sort_values("true").groupby("customer_id")["journey"].last()
            out["oracle"], _ = value(best.reindex(acts.index))
    return out


def run(n_customers: int, seed: int, reachable: bool) -> dict[str, float]:
    """One seed: the sums over the 10 decision times, as ratios."""
    import journeymine as jm

    data = jm.datasets.make_journeys(n_customers, random_state=seed)
    policy = jm.datasets.sample_policy(reachable=reachable)
    attributes = (
        data.customers.set_index("customer_id")[list(policy.attributes_needed)]
        if reachable
        else None
    )
    start = data.events["timestamp"].min().normalize()
    total: dict[str, float] = {}
    for k in range(10):
        t = start + pd.Timedelta(days=90 + 9 * k)
        for key, v in decision_time(data, policy, t, attributes).items():
            total[key] = total.get(key, 0.0) + v
    fixed, oracle = total["fixed priority"], total["oracle"]
    res = {}
    for who in ("fixed priority", "nba (mined personas)", "nba (true personas)", "oracle"):
        res[f"{who}: x fixed"] = total[who] / fixed
        res[f"{who}: of oracle"] = total[who] / oracle
    for key in ("fixed", "nba (mined)", "nba (true)"):
        res[f"pushes without app, {key}"] = total[f"pushes without app, {key}"]
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--customers", type=int, default=4000)
    ap.add_argument("--seeds", default="731-734")
    ap.add_argument("--reachable", action="store_true", help="the consent-aware sample policy")
    args = ap.parse_args()
    runs = []
    for seed in _seeds(args.seeds):
        r = run(args.customers, seed, args.reachable)
        runs.append(r)
        print(f"seed={seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in r.items()), flush=True)
    for key in runs[0]:
        vals = [r[key] for r in runs]
        print(f"== {key}: {min(vals):.3f} / {statistics.median(vals):.3f} / {max(vals):.3f}")


if __name__ == "__main__":
    main()
