"""Ground truth: a model trained on PersonaMiner labels of 4,000 synthetic customers assigns
held-out customers correctly after few events and almost always with all their events."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from journeymine.assignment import PersonaModel, assign_many, reliability_table
from journeymine.datasets import SyntheticJourneys, make_journeys
from journeymine.personas import PersonaMiner

pytestmark = pytest.mark.slow


def prefix_log(log: pd.DataFrame, k: int | None) -> pd.DataFrame:
    """Each customer's first ``k`` events (all for None); customers with fewer than ``k`` are
    left out, so that "after k events" means exactly k."""
    ordered = log.sort_values(["customer_id", "timestamp"], kind="stable")
    if k is None:
        return ordered
    rank = ordered.groupby("customer_id", observed=True).cumcount()
    size = ordered.groupby("customer_id", observed=True)["timestamp"].transform("size")
    return ordered[(rank < k) & (size >= k)]


def true_persona_at(data: SyntheticJourneys, when: pd.Series) -> pd.Series:
    """The generator's persona of each customer at the time ``when[customer]``."""
    p = data.personas.merge(when.rename("t").reset_index(), on="customer_id")
    p = p[(p["valid_from"] <= p["t"]) & (p["t"] < p["valid_to"])]
    return p.set_index("customer_id")["persona"].reindex(when.index)


@pytest.fixture(scope="module")
def setting() -> dict:
    data = make_journeys(n_customers=4_000, random_state=0)
    miner = PersonaMiner(n_bootstrap=0, random_state=0).fit(data.events)
    customers = np.array(sorted(data.events["customer_id"].unique()))
    rng = np.random.default_rng(0)
    held_out = set(rng.choice(customers, size=len(customers) // 5, replace=False))
    is_test = data.events["customer_id"].isin(held_out)
    train_ids = miner.labels_.index.difference(pd.Index(sorted(held_out)))
    model = PersonaModel(random_state=0, validation_size=0.0)
    model.fit(data.events[~is_test], miner.labels_.loc[train_ids], names=miner.profiles_)
    # miner persona -> the true persona most of its training customers have
    truth = data.customers.set_index("customer_id")["persona_after_change"]
    lab = miner.labels_.loc[train_ids]
    lab = lab[lab >= 0]
    mapping = pd.crosstab(lab, truth.reindex(lab.index)).idxmax(axis=1).to_dict()
    return {
        "data": data,
        "miner": miner,
        "model": model,
        "test_log": data.events[is_test],
        "mapping": mapping,
    }


def evaluate(setting: dict) -> dict[str, dict[str, float]]:
    model, data, miner = setting["model"], setting["data"], setting["miner"]
    out: dict[str, dict[str, float]] = {}
    for k in (3, 5, 10, None):
        part = prefix_log(setting["test_log"], k)
        res = assign_many(part, model).set_index("customer_id")
        proba = model.predict_proba(part)
        best = model.classes_[proba.to_numpy().argmax(axis=1)]
        best = pd.Series(best, index=proba.index)
        mined = miner.labels_.reindex(res.index)
        labelled = mined >= 0
        when = part.groupby("customer_id", observed=True)["timestamp"].max()
        truth = true_persona_at(data, when).reindex(res.index)
        mapped = best.map(setting["mapping"])
        correct = (best == mined)[labelled]
        ece, _ = reliability_table(proba.max(axis=1)[labelled].to_numpy(), correct.to_numpy())
        out["all" if k is None else str(k)] = {
            "n_labelled": int(labelled.sum()),
            "acc_miner": float(correct.mean()),
            "acc_true": float((mapped == truth).mean()),
            "ece": ece,
            "abstained": float(res["abstained"][labelled].mean()),
            "acc_miner_assigned": float(
                (res["persona"] == mined)[labelled & ~res["abstained"]].mean()
            ),
        }
    return out


def test_accuracy_against_miner_labels_and_true_personas(setting: dict) -> None:
    r = evaluate(setting)
    # with every event, customers that persona mining labelled are assigned correctly
    assert r["all"]["acc_miner"] >= 0.95
    assert r["all"]["n_labelled"] >= 500
    # more events, better assignments; few events still far better than chance (1/6)
    assert r["3"]["acc_miner"] > 0.4
    assert r["3"]["acc_miner"] < r["10"]["acc_miner"] < r["all"]["acc_miner"]
    # calibrated: the probabilities match the hit rates
    assert r["all"]["ece"] < 0.05 and r["3"]["ece"] < 0.1
    # the true (generator) persona at that moment is recovered too
    assert r["all"]["acc_true"] >= 0.85
    # abstaining makes the answers that are given more reliable
    for k in ("3", "all"):
        assert r[k]["acc_miner_assigned"] >= r[k]["acc_miner"]
