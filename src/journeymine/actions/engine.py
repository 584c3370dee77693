"""Next best action: for each customer, which journey to send now, and why not the others.

For every decision point (a customer and a time; only events before that time count) each
journey of the policy goes through the same gates, in order, and the first gate it fails is its
"why not":

0. ``unreachable`` / ``no_consent``: the channel cannot reach the customer (no app for a push)
   or the customer has not opted in / has opted out (``policy.consent``);
1. ``not_eligible``: one of its ``eligible`` rules does not hold (the rule is named);
2. ``suppressed``: a suppression event happened (e.g. the product the tips are about was
   returned);
3. ``min_gap``: the journey was sent less than ``min_gap`` ago;
4. ``capped``: the channel's frequency cap is reached (touches counted over the cap's window);
5. ``below_threshold``: its expected response is below ``policy.min_expected_response``;
6. ``outranked``: another journey has a higher expected response x value for this customer's
   persona (the winner and both numbers are named).

The winner is the journey with the highest expected response x value (``arbitration:
"uplift"``: expected incremental response x value minus the journey's cost, nothing sent when
none is positive; both x the fatigue factor per recent touch); ties go to the journey listed
first. Arbitration uses each persona's learned response rates
(:class:`~journeymine.actions.ResponseModel`), not a fixed priority.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from journeymine.actions._index import EventIndex
from journeymine.actions.customer_inputs import attribute_arrays, by_customer, next_step_arrays
from journeymine.actions.journey import Journey, duration_text
from journeymine.actions.policy import Policy
from journeymine.actions.response import ResponseModel
from journeymine.actions.unsubscribe import unsubscribe_penalty
from journeymine.exceptions import ConfigError
from journeymine.schema import CUSTOMER_ID, canonical_log

__all__ = ["Decisions", "next_best_action"]

REASONS = (
    "not_eligible",
    "suppressed",
    "min_gap",
    "capped",
    "below_threshold",
    "outranked",
    "unreachable",
    "no_consent",
    "outcome_likely",
)


@dataclass
class Decisions:
    """What the engine decided.

    Attributes
    ----------
    actions : DataFrame
        One row per decision point: ``customer_id``, ``at``, ``persona``, ``action`` (journey
        name or ``None``), ``channel``, ``expected_response`` (of the action, x value),
        ``product`` (for product journeys).
    why_not : DataFrame
        One row per decision point and losing journey: ``customer_id``, ``at``, ``journey``,
        ``reason`` (one of ``not_eligible``, ``suppressed``, ``min_gap``, ``capped``,
        ``below_threshold``, ``outranked``) and ``detail`` in words.

    Examples
    --------
    :func:`next_best_action` returns one:

    >>> from journeymine.actions import ResponseModel, next_best_action
    >>> from journeymine.datasets import make_journeys, sample_policy
    >>> data = make_journeys(200, days=60, random_state=0)
    >>> policy = sample_policy()
    >>> personas = data.customers.set_index("customer_id")["persona"].astype("category").cat.codes
    >>> model = ResponseModel().fit(data.events, personas, policy)
    >>> d = next_best_action(data.events, policy, model, personas)
    >>> d.actions.columns.tolist()
    ['customer_id', 'at', 'persona', 'action', 'channel', 'expected_response', 'product']
    >>> d.actions["customer_id"].is_unique  # one decision point per customer (at the log's end)
    True
    >>> d.why_not.columns.tolist()
    ['customer_id', 'at', 'journey', 'reason', 'detail']
    >>> lost = d.why_not.merge(d.actions, on=["customer_id", "at"])
    >>> bool((lost["journey"] != lost["action"]).all())  # why_not lists the losers only
    True
    """

    actions: pd.DataFrame
    why_not: pd.DataFrame


def _product_of(index: EventIndex, j: Journey, codes: np.ndarray, t: np.ndarray) -> np.ndarray:
    if j.product_from is None:
        return np.full(len(codes), -1, dtype=np.int64)
    _, row = index.last((j.product_from,), codes, t)
    return np.where(row >= 0, index.product[np.maximum(row, 0)], -1)


def decide(
    index: EventIndex,
    policy: Policy,
    model: ResponseModel | None,
    persona: np.ndarray,
    codes: np.ndarray,
    t: np.ndarray,
    known_products: tuple[np.ndarray, np.ndarray] | None = None,
    attributes: dict[str, np.ndarray] | None = None,
    rates: np.ndarray | None = None,
    outcome_likely: np.ndarray | None = None,
    unsubscribe: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Vectorised core: winner index per point (-1 = none), its expected response, the
    product per journey, and per journey (reason code or -1 for "passed", detail strings).

    ``known_products`` = (journey index per point, product code per point, -1 = unknown): the
    product a journey is about when it is known (a logged touch carries it), instead of the
    product of the latest ``product_from`` event. ``attributes``: column -> bool per point (the
    consent gates' attribute table). ``rates``: expected (uplift or) response per point and
    journey instead of ``model.rates(persona)`` (e.g. posterior draws, or the truth); ``model``
    may be None only when ``rates`` is given. ``outcome_likely``: per point, is the predicted
    outcome probability at least ``policy.skip_outcome_above`` (blocks ``skip_if_likely``
    journeys). ``unsubscribe``: subtract the expected loss of consent (``policy.fatigue``'s
    ``unsubscribe_cost``, uplift arbitration) learned from the log behind ``index``."""
    n, J = len(codes), len(policy.journeys)
    if rates is None:
        if model is None:
            raise ValueError("decide() needs a response model or explicit rates.")
        base = model.rates(persona)
    else:
        base = np.asarray(rates, dtype=np.float64)
    rates = base * np.array([j.value for j in policy.journeys])
    channel_of = policy.channel_of
    touch_mask = index.is_activity(policy.touch_activities)
    if policy.fatigue_within_s is not None and policy.fatigue_factor < 1:
        recent = index.count_masked(("fatigue",), touch_mask, codes, t, policy.fatigue_within_s)
        rates = rates * (policy.fatigue_factor ** recent.astype(np.float64))[:, None]
    if policy.arbitration == "uplift":
        rates = rates - np.array([j.cost for j in policy.journeys])
        penalty = unsubscribe_penalty(index, policy, codes, t) if unsubscribe else None
        if penalty is not None:
            rates = rates - penalty
    reason = np.full((n, J), -1, dtype=np.int64)
    detail = np.full((n, J), "", dtype=object)
    products = np.full((n, J), -1, dtype=np.int64)
    consent_ok = _consent(index, policy, codes, t, attributes)
    for k, j in enumerate(policy.journeys):
        open_ = reason[:, k] < 0
        for c, ok in consent_ok.get(j.channel, ()):
            fail = open_ & ~ok
            reason[fail, k] = REASONS.index(c.reason)
            detail[fail, k] = f"{j.channel}: {c.describe()}"
            open_ &= ok
        if j.skip_if_likely and outcome_likely is not None:
            fail = open_ & outcome_likely
            reason[fail, k] = REASONS.index("outcome_likely")
            detail[fail, k] = f"outcome likely anyway (p >= {policy.skip_outcome_above})"
            open_ &= ~outcome_likely
        for rule in j.eligible:
            if rule.kind == "persona":
                ok = np.isin(persona, rule.personas)
            elif rule.kind == "new_customer":
                first = np.where(codes >= 0, index.first[np.maximum(codes, 0)], -1)
                ok = (codes >= 0) & (first <= t) & (t - first <= rule.within_s)
            else:
                seen = index.count(rule.activities, codes, t, rule.within_s) > 0
                ok = seen if rule.kind == "seen" else ~seen
            fail = open_ & ~ok
            reason[fail, k] = 0
            detail[fail, k] = f"needs {rule.describe()}"
            open_ &= ok
        products[:, k] = _product_of(index, j, codes, t)
        if known_products is not None:
            use = (known_products[0] == k) & (known_products[1] >= 0)
            products[use, k] = known_products[1][use]
        for s in j.suppress:
            if s.same_product:
                hit = index.count_product(s.activities, codes, products[:, k], t, s.within_s) > 0
                what = "the product it is about"
            else:
                hit = index.count(s.activities, codes, t, s.within_s) > 0
                what = "the customer"
            fail = open_ & hit
            reason[fail, k] = 1
            detail[fail, k] = (
                f"{'/'.join(s.activities)} of {what} in the last {duration_text(s.within_s)}"
            )
            open_ &= ~hit
        if j.min_gap_s is not None:
            mask = touch_mask & index.is_journey(j.name)
            when, _ = index.last_masked(("sent", j.name), mask, codes, t)
            hit = (when >= 0) & (t - when < j.min_gap_s)
            fail = open_ & hit
            reason[fail, k] = 2
            ago = (t - when)[fail]
            detail[fail, k] = [
                f"sent {duration_text(int(a))} ago (min gap {duration_text(j.min_gap_s)})"
                for a in ago
            ]
            open_ &= ~hit
        for cap in policy.caps:
            if cap.channel not in ("*", j.channel):
                continue
            mask = touch_mask & (
                index.on_channel(cap.channel, channel_of) if cap.channel != "*" else True
            )
            used = index.count_masked(("cap", cap.channel), mask, codes, t, cap.per_s)
            hit = used >= cap.max
            fail = open_ & hit
            reason[fail, k] = 3
            detail[fail, k] = (
                f"{cap.channel} cap reached: {cap.max} touch(es) per {duration_text(cap.per_s)}"
            )
            open_ &= ~hit
        low = open_ & (rates[:, k] < policy.min_expected_response)
        if policy.arbitration == "uplift":
            low |= open_ & (rates[:, k] <= 0)
        reason[low, k] = 4
        detail[low, k] = [
            f"expected response {r:.3f} < {policy.min_expected_response:.3f}" for r in rates[low, k]
        ]
    passed = reason < 0
    score = np.where(passed, rates, -np.inf)
    winner = np.where(passed.any(axis=1), score.argmax(axis=1), -1)
    best = np.where(winner >= 0, score[np.arange(n), np.maximum(winner, 0)], np.nan)
    names = np.array([j.name for j in policy.journeys], dtype=object)
    for k in range(J):
        lost = passed[:, k] & (winner != k)
        reason[lost, k] = 5
        detail[lost, k] = [
            f"expected response {r:.3f} < {b:.3f} of {w}"
            for r, b, w in zip(rates[lost, k], best[lost], names[winner[lost]], strict=True)
        ]
    return winner, best, products, [(reason[:, k], detail[:, k]) for k in range(J)]


def channel_choice(
    index: EventIndex,
    policy: Policy,
    persona: np.ndarray,
    codes: np.ndarray,
    t: np.ndarray,
    winner: np.ndarray,
    next_channel: np.ndarray,
    attributes: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """The channel to send each winning journey on: the outbound channel
    ``policy.next_step_channels`` maps the customer's predicted next channel to, when the
    journey lists it in ``alternatives`` and it passes that channel's gates (consent, caps and
    the rest); else the journey's own channel. ``None`` where nothing is sent."""
    own = np.array([j.channel for j in policy.journeys] + [None], dtype=object)
    out = own[np.where(winner >= 0, winner, len(policy.journeys))].copy()
    mapping = dict(policy.next_step_channels)
    want = np.array([mapping.get(str(c)) for c in next_channel], dtype=object)
    for ch in sorted({c for j in policy.journeys for c, _ in j.alternatives}):
        has = np.array([any(c == ch for c, _ in j.alternatives) for j in policy.journeys])
        ask = (winner >= 0) & (want == ch)
        ask &= has[np.maximum(winner, 0)]
        if not ask.any():
            continue
        variant = replace(
            policy, journeys=tuple(j.on(ch) if has[k] else j for k, j in enumerate(policy.journeys))
        )
        rows = np.flatnonzero(ask)
        zeros = np.zeros((len(rows), len(policy.journeys)))
        sub = None if attributes is None else {k: v[rows] for k, v in attributes.items()}
        _, _, _, gates = decide(
            index,
            variant,
            None,
            persona[rows],
            codes[rows],
            t[rows],
            attributes=sub,
            rates=zeros,
        )
        reason = np.stack([r for r, _ in gates], axis=1)[np.arange(len(rows)), winner[rows]]
        ok = (reason < 0) | np.isin(reason, (4, 5))
        out[rows[ok]] = ch
    return out


def _consent(
    index: EventIndex,
    policy: Policy,
    codes: np.ndarray,
    t: np.ndarray,
    attributes: dict[str, np.ndarray] | None,
) -> dict[str, list[tuple[Any, np.ndarray]]]:
    """Per channel: (consent entry, bool per point) for every entry of ``policy.consent``."""
    out: dict[str, list[tuple[Any, np.ndarray]]] = {}
    for c in policy.consent:
        if c.attribute is not None:
            if attributes is None or c.attribute not in attributes:
                raise ConfigError(
                    f"the policy's consent gate for {c.channel!r} reads the customer attribute "
                    f"{c.attribute!r}: pass attributes= (a DataFrame indexed by customer_id "
                    f"with a boolean {c.attribute!r} column)."
                )
            ok = np.asarray(attributes[c.attribute], dtype=bool)
        elif c.requires:
            ok = index.count(c.requires, codes, t, int(t.max(initial=0)) + 1) > 0
        else:
            out_t = index.last(c.opt_out, codes, t)[0] if c.opt_out else np.full(len(codes), -1)
            if c.opt_in:
                in_t = index.last(c.opt_in, codes, t)[0]
                ok = (in_t >= 0) & (in_t > out_t)
            else:
                ok = out_t < 0
        out.setdefault(c.channel, []).append((c, ok))
    return out


CHECKS = ("warn", "strict", "off")


def _check_model(responses: Any, policy: Policy) -> None:
    from journeymine.actions.feature_uplift import FeatureUplift
    from journeymine.actions.uplift import UpliftModel

    if policy.arbitration == "uplift":
        cells = isinstance(responses, UpliftModel) and hasattr(responses, "table_")
        if not cells and not (
            isinstance(responses, FeatureUplift) and hasattr(responses, "models_")
        ):
            raise ConfigError(
                "the policy arbitrates by uplift: pass a fitted UpliftModel "
                "(UpliftModel().fit(log, personas, policy)) or FeatureUplift, or set "
                "arbitration: response."
            )
    elif not isinstance(responses, ResponseModel | UpliftModel) or not hasattr(responses, "table_"):
        raise ConfigError("responses must be a fitted ResponseModel (ResponseModel().fit(...)).")


def _membership_rates(responses: Any, memberships: Any, ids: Any) -> np.ndarray | None:
    """The expected (uplift) rates per customer of ``ids`` (rows) and journey from their soft
    ``memberships`` (missing customers: all weight on the pooled row), None without them; a
    ``ConfigError`` for a FeatureUplift without memberships or memberships with a model that
    cannot read them. What :func:`next_best_action` and :func:`~journeymine.actions.backtest`
    decide with."""
    if memberships is None and hasattr(responses, "feature_rates"):
        raise ConfigError(
            "a FeatureUplift reads the customers' soft memberships: pass memberships= (the "
            "DataFrame it was fitted with, customer_id x persona id)."
        )
    if memberships is None:
        return None
    if not hasattr(responses, "weights"):
        raise ConfigError(
            "memberships need an UpliftModel (per-customer uplift from soft personas); "
            "with a ResponseModel pass hard persona ids only."
        )
    soft = by_customer(memberships, ids, "memberships", "a DataFrame (customer_id x persona id)")
    return np.asarray(responses.rates(soft.fillna(0.0)), dtype=np.float64)


def _check_policy(policy: Policy, log: pd.DataFrame, check: str) -> None:
    if check not in CHECKS:
        raise ConfigError(f"check must be one of {list(CHECKS)}, got {check!r}.")
    if check != "off" and isinstance(log, pd.DataFrame) and "activity" in log.columns:
        policy.check_against(log, strict=check == "strict")


def next_best_action(
    log: pd.DataFrame,
    policy: Policy,
    responses: ResponseModel,
    personas: pd.Series,
    *,
    at: Any = None,
    customers: Any = None,
    check: str = "warn",
    attributes: pd.DataFrame | None = None,
    memberships: pd.DataFrame | None = None,
    next_step: pd.DataFrame | None = None,
) -> Decisions:
    """Decide the next action for customers at a point in time.

    Parameters
    ----------
    log : DataFrame
        Canonical event log (with ``journey_id`` for sent touches; ``product`` or
        ``policy.product_column`` for product suppressions).
    policy : Policy
    responses : ResponseModel
        Fitted on a (past) log with the same policy.
    personas : Series
        customer_id -> persona id, e.g. ``jm.assign_many(log, model)`` or
        ``PersonaMiner.labels_``; missing customers count as persona -1 (the journeys' overall
        response rates are used).
    at : datetime-like, optional
        Decision time (default: one second after the log's last event). Only events before it
        count. Decisions have second resolution: ``at`` is floored to the second, and the
        result's ``at`` is that time, also when it is before the log or long after it.
    customers : list of str, optional
        Default: every customer of the log.
    check : {"warn", "strict", "off"}, default "warn"
        :meth:`Policy.check_against` the log first: rules naming activities the log never has
        and journeys whose send activity never occurs give one ``DataQualityWarning``
        (``"strict"``: a ``ConfigError``; ``"off"``: no check, e.g. one customer's events).
    attributes : DataFrame, optional
        Customer attribute table (index or column ``customer_id``) with the boolean columns the
        policy's ``consent`` gates read (e.g. ``has_app``); missing customers fail the gate.
    memberships : DataFrame, optional
        Soft persona memberships (index customer_id, one column per persona id, e.g. the
        posterior of ``PersonaMiner.membership``) for an :class:`UpliftModel`: each customer's
        expected uplift is the membership-weighted mean of the personas' (``personas`` still
        gives the persona of the persona rules and of the output). Required with a
        :class:`~journeymine.actions.FeatureUplift` (which adds the customer's features).
    next_step : DataFrame, optional
        ``NextStepModel.predict(log)`` (index customer_id; columns ``channel`` and, for a model
        fitted with ``outcome=``, ``p_outcome``) for the policy's ``next_step`` options: send on
        the predicted next channel (``next_step.channels``) and skip ``skip_if_likely``
        journeys when ``p_outcome >= next_step.skip_outcome_above``.

    Returns
    -------
    Decisions
        ``actions`` (the chosen journey per customer, or none) and ``why_not`` (every losing
        journey with its reason).

    Examples
    --------
    >>> import journeymine as jm
    >>> from journeymine.actions import Policy, ResponseModel, next_best_action
    >>> data = jm.datasets.make_journeys(n_customers=300, days=60, random_state=0)
    >>> policy = Policy.from_dict({"journeys": [
    ...     {"name": "cart_abandonment", "channel": "email", "activity": "email_sent",
    ...      "eligible": [{"rule": "seen", "activity": "add_to_cart", "within": "7D"}]},
    ...     {"name": "win_back", "channel": "email", "activity": "email_sent",
    ...      "eligible": [{"rule": "not_seen", "activity": "visit", "within": "30D"}]}],
    ...     "caps": [{"channel": "email", "max": 3, "per": "7D"}]})
    >>> personas = data.customers.set_index("customer_id")["persona"].astype("category").cat.codes
    >>> rm = ResponseModel().fit(data.events, personas, policy)
    >>> d = next_best_action(data.events, policy, rm, personas)
    >>> len(d.actions) == data.events["customer_id"].nunique()
    True
    >>> set(d.why_not["reason"]) <= {"not_eligible", "suppressed", "min_gap", "capped",
    ...                              "below_threshold", "outranked"}
    True
    """
    if not isinstance(policy, Policy):
        raise ConfigError(f"policy must be a Policy, got {type(policy).__name__}.")
    _check_model(responses, policy)
    if list(responses.journeys_) != [j.name for j in policy.journeys]:
        raise ConfigError(
            f"the ResponseModel was fitted for journeys {responses.journeys_}, the policy has "
            f"{[j.name for j in policy.journeys]}; refit it with this policy."
        )
    log = canonical_log(log)  # the one gate, before the policy looks at the log
    _check_policy(policy, log, check)
    index = EventIndex(log, product_column=policy.product_column)
    ids = index.customers if customers is None else pd.Index(list(customers), dtype="str")
    if len(ids) == 0:
        raise ConfigError("no customers to decide for.")
    if at is None:
        when = index.to_timestamp(np.array([index.end]))[0]
    else:
        try:
            when = pd.Timestamp(at)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"at={at!r} is not a time; give e.g. '2025-03-01T09:00Z'.") from exc
        when = when.tz_localize("UTC") if when.tzinfo is None else when
    codes, t = index.points(ids, [when] * len(ids))
    persona = pd.Series(personas).astype("int64").reindex(ids).fillna(-1).to_numpy(np.int64)
    attr = attribute_arrays(policy, attributes, ids)
    rates = _membership_rates(responses, memberships, ids)
    likely, next_channel = next_step_arrays(policy, next_step, ids)
    # the index clips times into its key range (same decisions); the answer keeps the real one
    reported = pd.DatetimeIndex([when.tz_convert("UTC").floor("s")] * len(ids)).as_unit("us")
    return _as_frames(
        index,
        policy,
        responses,
        ids,
        codes,
        t,
        persona,
        reported,
        attr,
        rates,
        likely,
        next_channel,
    )


def _as_frames(
    index: EventIndex,
    policy: Policy,
    responses: ResponseModel,
    ids: Any,
    codes: np.ndarray,
    t: np.ndarray,
    persona: np.ndarray,
    reported: pd.DatetimeIndex | None = None,
    attr: dict[str, np.ndarray] | None = None,
    rates: np.ndarray | None = None,
    likely: np.ndarray | None = None,
    next_channel: np.ndarray | None = None,
) -> Decisions:
    winner, best, products, gates = decide(
        index,
        policy,
        responses,
        persona,
        codes,
        t,
        attributes=attr,
        rates=rates,
        outcome_likely=likely,
    )
    names = np.array([j.name for j in policy.journeys] + [None], dtype=object)
    channels = np.array([j.channel for j in policy.journeys] + [None], dtype=object)
    if next_channel is not None:
        chosen_channel = channel_choice(
            index, policy, persona, codes, t, winner, next_channel, attr
        )
    else:
        chosen_channel = channels[winner]
    prod_names = np.array([*index.products.astype(str), None], dtype=object)
    n = len(codes)
    chosen_product = np.where(winner >= 0, products[np.arange(n), np.maximum(winner, 0)], -1)
    at = index.to_timestamp(t) if reported is None else reported
    actions = pd.DataFrame(
        {
            CUSTOMER_ID: pd.array(np.asarray(ids, dtype=object), dtype="str"),
            "at": at,
            "persona": persona,
            "action": names[winner],
            "channel": chosen_channel,
            "expected_response": best,
            "product": prod_names[chosen_product],
        }
    )
    parts = []
    for k, (code, detail) in enumerate(gates):
        lost = code >= 0
        parts.append(
            pd.DataFrame(
                {
                    CUSTOMER_ID: pd.array(np.asarray(ids, dtype=object)[lost], dtype="str"),
                    "at": at[lost],
                    "journey": policy.journeys[k].name,
                    "reason": np.array(REASONS, dtype=object)[code[lost]],
                    "detail": detail[lost],
                }
            )
        )
    why_not = pd.concat(parts, ignore_index=True)
    return Decisions(actions, why_not)
