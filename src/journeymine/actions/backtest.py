"""Replay a historical log through a policy: at every logged touch, what would the policy have
done, and what does that say about the touches that were sent?

Each logged touch of one of the policy's journeys is a decision point (the events before it are
the customer's state). The engine's answer is compared with what was sent:

- ``agree``: the policy picks the journey that was sent;
- ``blocked``: the policy would not have sent that journey there, with the gate that stops it
  (``suppressed``, ``capped``, ``min_gap``, ``not_eligible``, ``below_threshold``,
  ``outranked``), e.g. post-purchase tips after the product came back;
- the *observed* response rate of the logged touches the policy agrees with, against those it
  would have blocked (what really happened, no model involved), and the *expected* response
  (the :class:`~journeymine.actions.ResponseModel` rates) of the logged choices against the
  policy's choices.

The expected numbers are model estimates on the same history; the observed rates are facts about
the logged touches but say nothing about touches that were never sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from journeymine.actions._index import EventIndex
from journeymine.actions.customer_inputs import attribute_arrays
from journeymine.actions.engine import (
    REASONS,
    _check_model,
    _check_policy,
    _membership_rates,
    decide,
)
from journeymine.actions.policy import Policy
from journeymine.actions.response import ResponseModel, responded, touch_rows
from journeymine.exceptions import ConfigError
from journeymine.schema import CUSTOMER_ID

__all__ = ["Backtest", "backtest"]


@dataclass
class Backtest:
    """The replay.

    Attributes
    ----------
    points : DataFrame
        One row per logged touch: ``customer_id``, ``at``, ``persona``, ``sent`` (journey),
        ``policy_action`` (``None`` = send nothing), ``agree``, ``sent_reason`` (why the policy
        would not send the logged journey, ``None`` when it would), ``sent_detail``,
        ``responded`` (observed), ``expected_sent``, ``expected_policy``.
    summary : DataFrame
        Per journey sent, and a total row ``"*"``: touches, agreement share, touches the policy
        blocks by reason, observed response rate where the policy agrees / blocks, and the summed
        expected responses of the logged and the policy choices.

    Examples
    --------
    :func:`backtest` returns one:

    >>> from journeymine.actions import ResponseModel
    >>> from journeymine.actions.backtest import backtest
    >>> from journeymine.datasets import make_journeys, sample_policy
    >>> data = make_journeys(200, days=60, random_state=0)
    >>> policy = sample_policy()
    >>> personas = data.customers.set_index("customer_id")["persona"].astype("category").cat.codes
    >>> bt = backtest(data.events, policy, ResponseModel().fit(data.events, personas, policy),
    ...               personas)
    >>> p = bt.points
    >>> bool((p["agree"] == (p["policy_action"] == p["sent"])).all())
    True
    >>> bt.summary.columns[:3].tolist()
    ['touches', 'agree_share', 'blocked']
    >>> total = bt.summary.loc["*"]  # the total row; one row per journey sent above it
    >>> blocked = p["sent_reason"].notna()  # the policy would not have sent the logged journey
    >>> int(total["touches"]) == len(p), int(total["blocked"]) == int(blocked.sum())
    (True, True)
    """

    points: pd.DataFrame
    summary: pd.DataFrame


def backtest(
    log: pd.DataFrame,
    policy: Policy,
    responses: ResponseModel,
    personas: pd.Series,
    *,
    check: str = "warn",
    attributes: pd.DataFrame | None = None,
    memberships: pd.DataFrame | None = None,
) -> Backtest:
    """Replay ``log``'s touches through ``policy``.

    Every logged touch is a decision point: the policy decides for that customer as of that
    moment, and the touch is counted as agreed with, or blocked with the gate that blocks it.

    Parameters
    ----------
    log : DataFrame
        Canonical event log with the touches that were sent (``journey_id`` set).
    policy : Policy
    responses : ResponseModel or UpliftModel
        Fitted with the same policy (an UpliftModel for ``arbitration: uplift``).
    personas : Series
        customer_id -> persona id.
    check : {"warn", "strict", "off"}, default "warn"
        :meth:`Policy.check_against` the log first (see :func:`next_best_action`).
    attributes : DataFrame, optional
        Customer attribute table for the policy's consent gates (see
        :func:`next_best_action`).
    memberships : DataFrame, optional
        Soft persona memberships (index customer_id, one column per persona id) for an
        :class:`~journeymine.actions.UpliftModel` or a
        :class:`~journeymine.actions.FeatureUplift` (required with it): the decision at each
        touch, ``expected_sent`` and ``expected_policy`` use the customer's own rates, as
        :func:`next_best_action` with ``memberships=`` does for that customer at that time
        (``personas`` still gives the persona of the persona rules and of ``points``).

    Returns
    -------
    Backtest

    Examples
    --------
    >>> from journeymine.datasets import make_journeys, sample_policy
    >>> from journeymine.actions import ResponseModel
    >>> data = make_journeys(n_customers=300, days=60, random_state=0)
    >>> policy = sample_policy()  # five journeys, rules, a product suppression, caps
    >>> truth = data.customers.set_index("customer_id")["persona"]
    >>> personas = truth.astype("category").cat.codes
    >>> model = ResponseModel().fit(data.events, personas, policy)
    >>> bt = backtest(data.events, policy, model, personas, check="off")
    >>> int(bt.summary.loc["*", "touches"]) == len(bt.points)
    True

    With per-customer uplift (a FeatureUplift on soft memberships and customer features, fitted
    on a random pilot of the simulated retailer), each touch is decided as
    :func:`next_best_action` decides for that customer at that time:

    >>> import pandas as pd
    >>> from journeymine.actions import FeatureUplift, next_best_action
    >>> from journeymine.datasets import RandomEligible, make_world, sim_policy, simulate
    >>> world = make_world(200, history_days=30, random_state=0)
    >>> pol = sim_policy()  # the simulated retailer's journeys, arbitration by uplift
    >>> log = simulate(world, RandomEligible(pol, random_state=1), days=7, random_state=1).events
    >>> soft = 0.8 * pd.get_dummies(world.true_personas).astype(float) + 0.2 / 6
    >>> fu = FeatureUplift(C=0.03, blend=0.75).fit(log, soft, world.attributes.astype(float), pol)
    >>> bt = backtest(log, pol, fu, world.true_personas, memberships=soft, check="off")
    >>> one = bt.points.dropna(subset=["policy_action"]).iloc[0]  # a touch it would send
    >>> d = next_best_action(log, pol, fu, world.true_personas, at=one["at"], memberships=soft,
    ...                      customers=[one["customer_id"]], check="off")
    >>> d.actions["action"].iloc[0] == one["policy_action"]
    True
    """
    if not isinstance(policy, Policy):
        raise ConfigError(f"policy must be a Policy, got {type(policy).__name__}.")
    _check_model(responses, policy)
    _check_policy(policy, log, check)
    index = EventIndex(log, product_column=policy.product_column)
    rows = np.flatnonzero(touch_rows(index, policy))
    if len(rows) == 0:
        raise ConfigError(
            f"no logged touch of the policy's journeys to replay (activities "
            f"{list(policy.touch_activities)} with a journey_id in "
            f"{[j.name for j in policy.journeys]})."
        )
    codes, t = index.code[rows], index.t[rows]
    ids = index.customers[codes]
    persona = pd.Series(personas).astype("int64").reindex(ids).fillna(-1).to_numpy(np.int64)
    names = [j.name for j in policy.journeys]
    sent = index.journey_name(rows)
    sent_k = np.array([names.index(s) for s in sent], dtype=np.int64)
    # a logged touch says which product it was about (tips about an earlier purchase)
    known = (sent_k, index.product[rows])
    attr = attribute_arrays(policy, attributes, ids)
    # per customer from the soft memberships, as next_best_action decides for them
    soft = _membership_rates(responses, memberships, index.customers)
    base = None if soft is None else soft[codes]
    winner, best, _, gates = decide(
        index, policy, responses, persona, codes, t, known, attributes=attr, rates=base
    )
    reason = np.stack([g[0] for g in gates], axis=1)[np.arange(len(rows)), sent_k]
    detail = np.stack([g[1] for g in gates], axis=1)[np.arange(len(rows)), sent_k]
    per_point = responses.rates(persona) if base is None else base
    rates = per_point * np.array([j.value for j in policy.journeys])
    action = np.array([*names, None], dtype=object)[winner]
    points = pd.DataFrame(
        {
            CUSTOMER_ID: pd.array(np.asarray(ids, dtype=object), dtype="str"),
            "at": index.to_timestamp(t),
            "persona": persona,
            "sent": sent,
            "policy_action": action,
            "agree": winner == sent_k,
            "sent_reason": np.array([*REASONS, None], dtype=object)[reason],  # -1 -> None
            "sent_detail": np.where(reason >= 0, detail, np.array(None, dtype=object)),
            "responded": responded(index, policy, rows),
            "expected_sent": rates[np.arange(len(rows)), sent_k],
            "expected_policy": np.where(winner >= 0, best, 0.0),
        }
    )
    return Backtest(points, _summary(points))


def _summary(points: pd.DataFrame) -> pd.DataFrame:
    def one(g: pd.DataFrame) -> dict[str, Any]:
        blocked = g["sent_reason"].notna()
        out: dict[str, Any] = {
            "touches": len(g),
            "agree_share": float(g["agree"].mean()),
            "blocked": int(blocked.sum()),
        }
        for r in REASONS:
            out[f"blocked_{r}"] = int((g["sent_reason"] == r).sum())
        out["response_rate_agree"] = (
            float(g.loc[g["agree"], "responded"].mean()) if g["agree"].any() else np.nan
        )
        out["response_rate_blocked"] = (
            float(g.loc[blocked, "responded"].mean()) if blocked.any() else np.nan
        )
        out["expected_sent"] = float(g["expected_sent"].sum())
        out["expected_policy"] = float(g["expected_policy"].sum())
        return out

    rows = {name: one(g) for name, g in points.groupby("sent", sort=True)}
    rows["*"] = one(points)
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("sent")
