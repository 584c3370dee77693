"""The policy's gates for one live customer, without pandas: :class:`LiveDecider`.

The customer's stored events (and reserved contacts) become a
:class:`~journeymine.service.timeline.Timeline`, and the decider runs the engine's gates on
it, in the engine's order, with the engine's texts, and the response rates of each persona
computed once (a :class:`~journeymine.actions.FeatureUplift`: the customer's own uplift,
one row per decision, from their soft memberships and stored components). The answer equals
:func:`journeymine.actions.next_best_action` on the same events, persona (and memberships)
and time (``tests/service/test_live_decide.py`` and ``tests/service/test_feature_uplift_service.py``
compare them decision by decision). Its rates: :mod:`journeymine.service.rates`.
"""

from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from journeymine.actions.engine import REASONS
from journeymine.actions.feature_uplift import FeatureUplift
from journeymine.actions.journey import duration_text
from journeymine.actions.policy import Policy
from journeymine.actions.response import ResponseModel
from journeymine.actions.uplift import UpliftModel
from journeymine.exceptions import ConfigError
from journeymine.service.rates import Responses, check_personas, served_personas
from journeymine.service.store import CACHE_EVENTS, Contact
from journeymine.service.timeline import _US, Timeline

__all__ = ["LiveDecider"]


def _iso_us(t_us: int) -> str:
    """ISO 8601 with offset, as ``pandas.Timestamp(t, unit="us", tz="UTC").isoformat()``."""
    d = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC) + _dt.timedelta(microseconds=int(t_us))
    return d.isoformat()


@dataclass(frozen=True)
class _Base:
    """One customer's stored events prepared for decisions (see ``LiveDecider._base``)."""

    events: Sequence[dict[str, Any]]
    times: Sequence[int]
    t_us: list[int]
    activity: list[str]
    channel: list[str | None]
    journey: list[str | None]
    product: list[str | None]
    delivered: set[Any]
    timeline: Timeline


class LiveDecider:
    """Decides for one live customer with a policy and its response (or uplift) rates.

    Built once per service (the policy's checks, each persona's rates computed once and
    kept); :meth:`decide` is then plain numpy on the customer's few events. With a
    FeatureUplift the rates are the customer's own: the memberships are kept per customer
    while their stored events stay the same (:meth:`customer_memberships`), so a decision
    that reads costs about what a persona's does.

    Parameters
    ----------
    policy : Policy
    responses : ResponseModel, UpliftModel or FeatureUplift
        Fitted for the policy's journeys (an UpliftModel or a FeatureUplift when the policy
        arbitrates by uplift; a FeatureUplift only then). A FeatureUplift gives each customer
        their own uplift: :meth:`decide` then needs the customer's ``memberships``.
    personas : sequence of int, optional
        With a FeatureUplift: the persona id of each entry of the membership rows
        :meth:`decide` gets (the persona model's ``classes_``, whose ``predict_proba`` gives
        them); they must be the FeatureUplift's persona ids (``persona_ids_``), else a
        ``ConfigError`` at once. Default: the FeatureUplift's own.

    Examples
    --------
    >>> from journeymine.actions import Journey, Policy, ResponseModel
    >>> promo = Journey("promo", "email", "email_sent", prior_rate=0.2)
    >>> policy = Policy(journeys=(promo,))
    >>> d = LiveDecider(policy, ResponseModel().fit(None, None, policy))
    >>> out = d.decide("c1", [1_740_000_000_000_000], [{"activity": "visit"}], [],
    ...                persona=-1, at_us=1_740_000_100_000_000)
    >>> out["action"], out["expected_response"]
    ('promo', 0.2)

    With a FeatureUplift the customer's memberships (one per persona) set the rates:

    >>> import pandas as pd
    >>> from journeymine.actions import FeatureUplift
    >>> uplift = Policy(journeys=(promo,), arbitration="uplift")
    >>> soft = pd.DataFrame({0: [1.0, 0.0], 1: [0.0, 1.0]}, index=["a", "b"])
    >>> feats = pd.DataFrame({"f": [0.0, 1.0]}, index=["a", "b"])
    >>> fu = FeatureUplift().fit(None, soft, feats, uplift)
    >>> d = LiveDecider(uplift, fu, personas=[0, 1])
    >>> out = d.decide("a", [1_740_000_000_000_000], [{"activity": "visit"}], [],
    ...                persona=0, at_us=1_740_000_100_000_000, memberships=[1.0, 0.0])
    >>> out["expected_response"] == float(fu.customer_rates([1.0, 0.0], "a")[0])
    True
    """

    def __init__(
        self,
        policy: Policy,
        responses: Responses,
        *,
        personas: Any = None,
    ) -> None:
        if not isinstance(policy, Policy):
            raise ConfigError(f"policy must be a Policy, got {type(policy).__name__}.")
        per_customer = isinstance(responses, FeatureUplift)
        if per_customer and not hasattr(responses, "models_"):
            raise ConfigError(
                "the FeatureUplift served is not fitted: fit it (FeatureUplift().fit(log, "
                "memberships, features, policy)) or load a saved one (FeatureUplift.load)."
            )
        if per_customer and policy.arbitration != "uplift":
            raise ConfigError(
                "a FeatureUplift gives uplift, but the policy arbitrates by response: set "
                "arbitration: uplift in the policy served, or serve response rates "
                "(jm nba --responses-out)."
            )
        if policy.arbitration == "uplift":
            if not per_customer and (
                not isinstance(responses, UpliftModel) or not hasattr(responses, "table_")
            ):
                raise ConfigError(
                    "the policy arbitrates by uplift: serve a fitted UpliftModel or "
                    "FeatureUplift, or set arbitration: response in the policy."
                )
        elif not isinstance(responses, ResponseModel | UpliftModel) or not hasattr(
            responses, "table_"
        ):
            raise ConfigError("responses must be a fitted ResponseModel (ResponseModel().fit).")
        if policy.arbitration == "uplift" and policy.unsubscribe_cost > 0:
            # the batch engine learns the risk from the whole log behind its decisions; the
            # live state keeps too little of it, so the answers would differ from
            # next_best_action's
            raise ConfigError(
                f"the policy's fatigue.unsubscribe_cost ({policy.unsubscribe_cost}) is not "
                "applied by live decisions (the risk is learned from the whole log); set it "
                "to 0 in the policy served, or decide in batch with next_best_action / jm nba."
            )
        if policy.skip_outcome_above is not None or policy.next_step_channels:
            # next_best_action applies these gates from NextStepModel predictions on the whole
            # log; the live decision has no such prediction, so it would silently differ
            raise ConfigError(
                "the policy's next_step options (channels, skip_outcome_above) are not applied "
                "by live decisions; remove the policy's next_step section in the policy served, "
                "or decide in batch with next_best_action(..., next_step=...) / jm nba."
            )
        names = [j.name for j in policy.journeys]
        if list(responses.journeys_) != names:
            raise ConfigError(
                f"the response rates are for journeys {list(responses.journeys_)}, the policy "
                f"has {names}; refit them with this policy."
            )
        self.policy = policy
        self.responses = responses
        self.touch = frozenset(policy.touch_activities)
        self.known = served_personas(responses)
        #: a FeatureUplift: rates per customer (from memberships), not per persona
        self.per_customer = per_customer
        self.personas: tuple[int, ...] = ()
        if isinstance(responses, FeatureUplift):
            own = responses.persona_ids_
            self.personas = tuple(own) if personas is None else self.check_personas(personas)
        self._rates: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()
        self.cache_events = CACHE_EVENTS  # prepared events kept, oldest customers dropped
        self._bases: dict[str, _Base] = {}
        self._cached = 0
        self._journey_names = [j.name for j in policy.journeys]
        channel_of = {j.activity: j.channel for j in policy.journeys}  # as the engine
        self.channel_acts = {
            ch: frozenset(a for a, c in channel_of.items() if c == ch)
            for ch in {j.channel for j in policy.journeys}
        }
        self._scored: dict[int, list[float]] = {}
        #: a FeatureUplift: per customer, the memberships (with what they were computed on)
        #: and the scores of the last memberships seen, oldest customers dropped first
        self._soft: dict[str, tuple[Any, Any]] = {}
        self._soft_scored: dict[str, tuple[Any, list[float]]] = {}
        self._iso_at: tuple[int, str] = (0, "")
        self._compile()

    def check_personas(self, personas: Any) -> tuple[int, ...]:
        """``personas`` (the persona model's ids, in the order of its probabilities) as a
        tuple, checked against a FeatureUplift's persona ids
        (:func:`journeymine.service.rates.check_personas`)."""
        return check_personas(self.responses, personas)

    def _iso(self, floor_us: int) -> str:
        """``floor_us`` in ISO 8601 (the last one kept: decisions of one second share it)."""
        at = self._iso_at
        if at[0] != floor_us:
            at = self._iso_at = (floor_us, _iso_us(floor_us))
        return at[1]

    def rates(self, persona: int) -> np.ndarray:
        """Expected (uplift or) response of every journey for ``persona`` (1 x journeys); a
        FeatureUplift rates customers, not personas (``ConfigError``: see :meth:`decide`)."""
        if self.per_customer:
            raise ConfigError(
                "a FeatureUplift rates each customer from their memberships, not a persona: "
                "decide(..., memberships=...) or FeatureUplift.customer_rates."
            )
        got = self._rates.get(persona)
        if got is None:
            got = np.asarray(
                self.responses.rates(np.array([persona], dtype=np.int64)), dtype=np.float64
            ).reshape(1, -1)
            with self._lock:
                if len(self._rates) > 10_000:  # persona ids are few; never grow without bound
                    self._rates.clear()
                self._rates[persona] = got
        return got

    def _base(
        self, customer_id: str, event_times: Sequence[int], events: Sequence[dict[str, Any]]
    ) -> _Base:
        """The customer's events as a :class:`Timeline`, kept while the store hands out the
        same events (its cache gives the same list until the events change)."""
        got = self._bases.get(customer_id)
        if (
            got is not None
            and got.events is events
            and got.times is event_times
            and len(events) == len(got.t_us)
        ):
            return got
        column, touch = self.policy.product_column, self.touch
        t_us = list(event_times)
        acts = [str(e["activity"]) for e in events]
        chs = [_text(e.get("channel")) for e in events]
        jids = [_text(e.get("journey_id")) for e in events]
        prods = [_product(e.get(column)) for e in events]
        delivered = {e.get("decision_id") for e in events if e.get("activity") in touch}
        base = _Base(
            events,
            event_times,
            t_us,
            acts,
            chs,
            jids,
            prods,
            delivered - {None},
            Timeline(t_us, acts, chs, jids, prods),
        )
        with self._lock:
            old = self._bases.pop(customer_id, None)
            self._cached -= 0 if old is None else len(old.t_us)
            while self._bases and self._cached + len(t_us) > self.cache_events:
                self._cached -= len(self._bases.pop(next(iter(self._bases))).t_us)
            if len(t_us) <= self.cache_events:
                self._bases[customer_id] = base
                self._cached += len(t_us)
        return base

    def decide(
        self,
        customer_id: str,
        event_times: Sequence[int],
        events: Sequence[dict[str, Any]],
        contacts: Sequence[Contact],
        *,
        persona: int,
        at_us: int,
        memberships: Any = None,
    ) -> dict[str, Any]:
        """The decision at ``at_us`` (microseconds UTC, floored to the second) for a customer
        with these stored ``events`` (in time order, times in ``event_times``) and committed
        ``contacts``, of ``persona``: the answer of ``POST /v1/next-best-action`` without the
        decision id (``customer_id``, ``at``, ``persona``, ``action``, ``channel``,
        ``product``, ``expected_response``, ``why_not``).

        A contact counts as a touch of its journey one second before the decision (or at its
        own time when earlier) until an event that carries its ``decision_id`` (the delivered
        touch) replaces it; a contact reserved after the decision second does not count.

        The prepared events are kept per customer while the same ``events`` list (of the same
        length) comes again, as the store's cache hands it out: pass a new list when the
        events change, never the same list changed in place.

        With a FeatureUplift, ``memberships`` (required) are the customer's soft memberships,
        one per persona of :attr:`personas` (e.g. the persona model's probabilities): the
        rates are :meth:`FeatureUplift.customer_rates
        <journeymine.actions.FeatureUplift.customer_rates>` of them and the customer's stored
        components (zero components for a customer the FeatureUplift was not fitted with, as
        in the batch engine). ``persona`` still drives the persona rules and the answer.
        """
        if self.per_customer:
            if memberships is None:
                raise ConfigError(
                    "the FeatureUplift served rates each customer from their soft memberships: "
                    "pass memberships= (one probability per persona of LiveDecider.personas)."
                )
            scores = self._customer_scores(customer_id, memberships)
        else:
            scores = self._scores(persona)
        base = self._base(customer_id, event_times, events)
        floor = at_us - at_us % _US
        extra = [
            (min(c.t_us, floor - 1), c)
            for c in contacts
            if c.decision_id not in base.delivered and c.t_us < floor + _US
        ]
        if extra:  # contacts count as touches, in time order after events of the same time
            t_us, acts, chs = list(base.t_us), list(base.activity), list(base.channel)
            jids, prods = list(base.journey), list(base.product)
            for when, c in extra:
                t_us.append(when)
                acts.append(c.activity)
                chs.append(c.channel)
                jids.append(c.journey)
                prods.append(c.product)
            order = sorted(range(len(t_us)), key=t_us.__getitem__)
            t_us = [t_us[i] for i in order]
            acts, chs = [acts[i] for i in order], [chs[i] for i in order]
            jids, prods = [jids[i] for i in order], [prods[i] for i in order]
            tl = Timeline(t_us, acts, chs, jids, prods)
        else:
            tl = base.timeline
        t = tl.clip(floor // _US)
        reason, detail, rates, products = self._gates(tl, t, persona, scores)
        passed = [k for k, r in enumerate(reason) if r < 0]
        w = -1
        for k in passed:  # the highest score wins; ties go to the journey listed first
            if w < 0 or rates[k] > rates[w]:
                w = k
        why_not = []
        names = self._journey_names
        for k in range(len(reason)):
            if reason[k] < 0 and k != w:
                reason[k] = 5
                detail[k] = f"expected response {rates[k]:.3f} < {rates[w]:.3f} of {names[w]}"
            if reason[k] >= 0:
                why_not.append(
                    {"journey": names[k], "reason": REASONS[reason[k]], "detail": detail[k]}
                )
        return {
            "customer_id": customer_id,
            "at": self._iso(floor),
            "persona": int(persona),
            "action": names[w] if w >= 0 else None,
            "channel": self.policy.journeys[w].channel if w >= 0 else None,
            "product": products[w] if w >= 0 else None,
            "expected_response": float(rates[w]) if w >= 0 else None,
            "why_not": why_not,
        }

    # -- the policy compiled once -----------------------------------------------------------
    def _compile(self) -> None:
        """The policy as plain lists, built once: per journey its gates in the engine's order
        (:data:`_STEPS`), each with its reason and its "why not" text written beforehand; the
        as-of conditions shared by several journeys (a cap, a consent, a rule) are numbered so
        that a decision evaluates each at most once."""
        policy = self.policy
        keys: dict[Any, int] = {}
        conds: list[tuple[Any, ...]] = []

        def cond(key: tuple[Any, ...]) -> int:
            got = keys.get(key)
            if got is None:
                got = keys[key] = len(conds)
                conds.append(key)
            return got

        self._attribute_consent = next((c for c in policy.consent if c.attribute), None)
        plans = []
        for j in policy.journeys:
            steps: list[tuple[Any, ...]] = []
            for c in policy.consent:
                if c.channel == j.channel and c.attribute is None:
                    text = f"{j.channel}: {c.describe()}"
                    steps.append((_COND, cond(("consent", c)), True, REASONS.index(c.reason), text))
            for rule in j.eligible:
                text = f"needs {rule.describe()}"
                if rule.kind == "persona":
                    steps.append((_PERSONA, frozenset(rule.personas), 0, text))
                elif rule.kind == "new_customer":
                    steps.append((_COND, cond(("new", rule.within_s)), True, 0, text))
                else:
                    seen = cond(("seen", tuple(rule.activities), rule.within_s))
                    steps.append((_COND, seen, rule.kind == "seen", 0, text))
            if j.product_from is not None:
                steps.append((_PRODUCT, (j.product_from,)))
            for sup in j.suppress:
                acts, within = "/".join(sup.activities), duration_text(sup.within_s)
                if sup.same_product:
                    text = f"{acts} of the product it is about in the last {within}"
                    steps.append((_SAME_PRODUCT, tuple(sup.activities), sup.within_s, text))
                else:
                    text = f"{acts} of the customer in the last {within}"
                    seen = cond(("seen", tuple(sup.activities), sup.within_s))
                    steps.append((_COND, seen, False, 1, text))
            if j.min_gap_s is not None:
                gap = f" ago (min gap {duration_text(j.min_gap_s)})"
                steps.append((_MIN_GAP, j.name, j.min_gap_s, gap))
            for cap in policy.caps:
                if cap.channel in ("*", j.channel):
                    per = duration_text(cap.per_s)
                    text = f"{cap.channel} cap reached: {cap.max} touch(es) per {per}"
                    steps.append((_COND, cond(("cap", cap)), False, 3, text))
            plans.append(steps)
        self._plans = plans
        self._conds = conds
        self._values = [float(j.value) for j in policy.journeys]
        self._costs = [float(j.cost) for j in policy.journeys]
        self._channels = [j.channel for j in policy.journeys]
        self._uplift = policy.arbitration == "uplift"
        self._fatigue = policy.fatigue_within_s is not None and policy.fatigue_factor < 1
        self._low_text = f" < {policy.min_expected_response:.3f}"
        self._iso_at = (0, _iso_us(0))

    def _condition(self, tl: Timeline, t: int, key: tuple[Any, ...]) -> bool:
        """One as-of condition at second ``t``: a consent holds, an activity was seen within a
        window, the customer is new, or a cap is reached."""
        kind = key[0]
        if kind == "seen":
            return tl.count(tl.rows_of(key[1]), t, key[2]) > 0
        if kind == "new":
            return tl.first <= t and t - tl.first <= key[1]
        if kind == "cap":
            cap = key[1]
            sel = (
                tl.touches(self.touch)
                if cap.channel == "*"
                else tl.touches(
                    self.touch, channel=cap.channel, channel_acts=self.channel_acts[cap.channel]
                )
            )
            return tl.count(sel, t, cap.per_s) >= cap.max
        c = key[1]  # a consent entry
        if c.requires:  # such an event ever before the decision
            return tl.last(tl.rows_of(c.requires), t) >= 0
        row_out = tl.last(tl.rows_of(c.opt_out), t) if c.opt_out else -1
        if c.opt_in:  # the latest opt-in is later (in seconds) than the latest opt-out
            row_in = tl.last(tl.rows_of(c.opt_in), t)
            return row_in >= 0 and (row_out < 0 or tl.sec[row_in] > tl.sec[row_out])
        return row_out < 0

    def _gates(
        self, tl: Timeline, t: int, persona: int, scores: list[float]
    ) -> tuple[list[int], list[str], list[float], list[str | None]]:
        """Per journey: the first gate it fails (index into REASONS, -1 passed), the text,
        its score and the product it is about; the engine's gates in the engine's order (a
        journey's later gates are not evaluated once one failed: they cannot change it)."""
        c = self._attribute_consent
        if c is not None:
            raise ConfigError(
                f"the policy's consent gate for {c.channel!r} reads the customer attribute "
                f"{c.attribute!r}, which the service does not have: use an opt-in/opt-out "
                f"or a 'requires' activity for live decisions."
            )
        policy = self.policy
        rates = scores
        if self._fatigue:
            recent = tl.count(tl.touches(self.touch), t, policy.fatigue_within_s or 0)
            factor = float(np.float64(policy.fatigue_factor) ** np.float64(recent))
            rates = [r * factor for r in rates]
        if self._uplift:
            rates = [r - cost for r, cost in zip(rates, self._costs, strict=True)]
        conds = self._conds
        seen: list[bool | None] = [None] * len(conds)
        J = len(rates)
        reason = [-1] * J
        detail = [""] * J
        products: list[str | None] = [None] * J
        floor_ = policy.min_expected_response
        for k, steps in enumerate(self._plans):
            failed = False
            for step in steps:
                kind = step[0]
                if kind == _COND:
                    i = step[1]
                    v = seen[i]
                    if v is None:
                        v = seen[i] = self._condition(tl, t, conds[i])
                    if v != step[2]:
                        reason[k], detail[k], failed = step[3], step[4], True
                        break
                elif kind == _PERSONA:
                    if persona not in step[1]:
                        reason[k], detail[k], failed = step[2], step[3], True
                        break
                elif kind == _PRODUCT:
                    row = tl.last(tl.rows_of(step[1]), t)
                    products[k] = tl.product[row] if row >= 0 else None
                elif kind == _SAME_PRODUCT:
                    p = products[k]
                    if p is not None and tl.count(tl.product_rows(step[1], p), t, step[2]) > 0:
                        reason[k], detail[k], failed = 1, step[3], True
                        break
                else:  # _MIN_GAP
                    row = tl.last(tl.touches(self.touch, journey=step[1]), t)
                    if row >= 0 and t - tl.sec[row] < step[2]:
                        reason[k], failed = 2, True
                        detail[k] = f"sent {duration_text(t - tl.sec[row])}{step[3]}"
                        break
            if not failed:
                r = rates[k]
                if r < floor_ or (self._uplift and r <= 0):
                    reason[k], detail[k] = 4, f"expected response {r:.3f}{self._low_text}"
        return reason, detail, rates, products

    def _scores(self, persona: int) -> list[float]:
        """Each journey's rate for ``persona`` times its value (a new list)."""
        got = self._scored.get(persona)
        if got is None:
            base = self.rates(persona)[0]
            got = [float(base[k]) * v for k, v in enumerate(self._values)]
            with self._lock:
                if len(self._scored) > 10_000:
                    self._scored.clear()
                self._scored[persona] = got
        return list(got)

    def customer_memberships(self, customer_id: str, key: Any, compute: Any) -> Any:
        """The customer's memberships: ``compute()`` once per ``key`` (what they are computed
        from, e.g. the stored events' version and the persona model), then the kept ones while
        the key is equal (at most :data:`CACHE_CUSTOMERS` customers, oldest dropped)."""
        got = self._soft.get(customer_id)
        if got is not None and got[0] == key:
            return got[1]
        row = compute()
        _keep(self._soft, customer_id, (key, row), self._lock)
        return row

    def _customer_scores(self, customer_id: str, memberships: Any) -> list[float]:
        """Each journey's rate for one customer (a FeatureUplift) times its value (kept while
        the same memberships object comes again, as :meth:`customer_memberships` hands out)."""
        got = self._soft_scored.get(customer_id)
        if got is not None and got[0] is memberships:
            return list(got[1])
        fu = self.responses
        assert isinstance(fu, FeatureUplift)
        base = fu.customer_rates(memberships, customer_id, self.personas)
        scores = [float(base[k]) * v for k, v in enumerate(self._values)]
        _keep(self._soft_scored, customer_id, (memberships, scores), self._lock)
        return list(scores)


#: Customers whose memberships (and their scores) a FeatureUplift's decider keeps.
CACHE_CUSTOMERS = 100_000


def _keep(cache: dict[str, Any], key: str, value: Any, lock: threading.Lock) -> None:
    """``cache[key] = value``, the oldest entry dropped when :data:`CACHE_CUSTOMERS` are kept."""
    with lock:
        cache.pop(key, None)
        if len(cache) >= CACHE_CUSTOMERS:
            cache.pop(next(iter(cache)), None)
        cache[key] = value


#: the kinds of a compiled gate (see ``LiveDecider._compile``)
_COND, _PERSONA, _PRODUCT, _SAME_PRODUCT, _MIN_GAP = range(5)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _product(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value != value:
        return None
    raise ConfigError(
        f"a stored event's product {value!r:.40} is not a text, an integer id or null."
    )


_DECIDERS: dict[tuple[int, int], LiveDecider] = {}
_DECIDERS_LOCK = threading.Lock()


def _decider(policy: Policy, responses: Responses) -> LiveDecider:
    key = (id(policy), id(responses))
    d = _DECIDERS.get(key)
    if d is None or d.policy is not policy or d.responses is not responses:
        d = LiveDecider(policy, responses)
        with _DECIDERS_LOCK:
            if len(_DECIDERS) >= 16:
                _DECIDERS.clear()
            _DECIDERS[key] = d
    return d
