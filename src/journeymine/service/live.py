"""The decision for one live customer, without pandas: :func:`decide_live`.

The batch engine (:func:`journeymine.actions.next_best_action`) builds a canonical log and an
event index over every customer before it decides; for one customer of the service that cost
a pandas DataFrame, a validation and a pivot per request (~10-50 ms). Here the customer's
stored events (and reserved contacts) become a :class:`Timeline` (time-ordered Python lists;
"how many of these events in the last W" and "the latest one" are two :func:`bisect` calls)
and :class:`LiveDecider` runs the engine's gates on it, in the engine's order, with the
engine's texts, and the response rates of each persona computed once. The answer equals the
batch engine's on the same events, persona and time: ``tests/service/test_live_decide.py``
compares them decision by decision (action, product, expected response and every "why not")
at many times, with contacts, for the sample policy and a ten-journey policy with every kind
of gate; a change to the engine's gates fails it until this module follows.

Time works as in the engine: to the second, only events strictly before the decision second
count, and a decision more than ~8.5 years after the customer's last event is answered as at
that horizon (the engine's clipping).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import threading
import time
import uuid
import weakref
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from journeymine.actions.engine import REASONS
from journeymine.actions.policy import Policy
from journeymine.actions.response import ResponseModel
from journeymine.actions.uplift import UpliftModel
from journeymine.assignment import PersonaModel, assign
from journeymine.exceptions import ConfigError
from journeymine.features.live import score_rows
from journeymine.service.aggregates import LiveAggregates
from journeymine.service.state import CACHE_EVENTS, Contact, CustomerState, Persona

__all__ = [
    "LiveDecider",
    "Timeline",
    "decide_live",
    "live_aggregates",
    "persona_of",
    "score_aggregates",
]

_US = 1_000_000
#: the engine's event index keeps decision times within this many seconds after the log
_HORIZON_S = 2**28
_UNASSIGNED = -1


def _iso_us(t_us: int) -> str:
    """ISO 8601 with offset, as ``pandas.Timestamp(t, unit="us", tz="UTC").isoformat()``."""
    d = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC) + _dt.timedelta(microseconds=int(t_us))
    return d.isoformat()


class Timeline:
    """One customer's events (and reserved contacts) in time order, answering the engine's
    as-of questions with :mod:`bisect` on small Python lists.

    Times are whole seconds (microseconds floored); only events strictly before a decision
    second count, as in the engine. Rows are positions in time order (ties: the order given).

    Parameters
    ----------
    t_us : sequence of int
        Event times in microseconds UTC, non-decreasing.
    activity, channel, journey, product : sequence of str or None
        Per event (None: null).

    Examples
    --------
    >>> tl = Timeline([0, 2_000_000, 5_000_000], ["visit", "add_to_cart", "visit"],
    ...               ["web", "web", "app"], [None, None, None], [None, "p1", None])
    >>> tl.count(tl.rows_of(("visit",)), 7, 10)
    2
    >>> tl.product[tl.last(tl.rows_of(("add_to_cart",)), 7)]
    'p1'
    """

    def __init__(
        self,
        t_us: Sequence[int],
        activity: Sequence[str],
        channel: Sequence[str | None],
        journey: Sequence[str | None],
        product: Sequence[str | None],
    ) -> None:
        if len(t_us) == 0:
            raise ConfigError("a live decision needs at least one event of the customer.")
        self.sec = [int(t) // _US for t in t_us]
        self.activity = list(activity)
        self.channel = list(channel)
        self.journey = list(journey)
        self.product = list(product)
        self.has_channel = any(c is not None for c in self.channel)
        self.first = min(self.sec)
        self._by_activity: dict[str, list[int]] = {}
        for i, a in enumerate(self.activity):
            self._by_activity.setdefault(a, []).append(i)
        self._rows: dict[Any, tuple[list[int], list[int]]] = {}

    def clip(self, sec: int) -> int:
        """A decision second kept within the engine's index range (one second before the
        first event to ~8.5 years after the last one)."""
        return min(max(sec, self.first - 1), max(self.sec) + _HORIZON_S)

    def _keep(self, key: Any, rows: list[int]) -> tuple[list[int], list[int]]:
        got = (rows, [self.sec[i] for i in rows])
        self._rows[key] = got
        return got

    def rows_of(self, acts: tuple[str, ...] | frozenset[str]) -> tuple[list[int], list[int]]:
        """The events of these activities: (rows, seconds)."""
        got = self._rows.get(acts)
        if got is not None:
            return got
        parts = [self._by_activity[a] for a in set(acts) if a in self._by_activity]
        rows = parts[0] if len(parts) == 1 else sorted(i for part in parts for i in part)
        return self._keep(acts, rows)

    def touches(
        self,
        touch: frozenset[str],
        *,
        journey: str | None = None,
        channel: str | None = None,
        channel_acts: frozenset[str] = frozenset(),
    ) -> tuple[list[int], list[int]]:
        """The touches (events of a touch activity), optionally of one journey or on one
        channel: by the channel column, or without one by the activities the journeys of
        that channel send (``channel_acts``), as the engine."""
        key = ("touch", journey, channel)
        got = self._rows.get(key)
        if got is not None:
            return got
        rows = self.rows_of(touch)[0]
        if journey is not None:
            rows = [i for i in rows if self.journey[i] == journey]
        if channel is not None:
            if self.has_channel:
                rows = [i for i in rows if self.channel[i] == channel]
            else:
                rows = [i for i in rows if self.activity[i] in channel_acts]
        return self._keep(key, rows)

    def product_rows(self, acts: tuple[str, ...], product: str) -> tuple[list[int], list[int]]:
        """The events of these activities about ``product``: (rows, seconds)."""
        key = ("product", acts, product)
        got = self._rows.get(key)
        if got is not None:
            return got
        return self._keep(key, [i for i in self.rows_of(acts)[0] if self.product[i] == product])

    @staticmethod
    def count(selected: tuple[list[int], list[int]], t: int, within: int) -> int:
        """Selected events in ``[t - within, t)``."""
        secs = selected[1]
        return bisect_left(secs, t) - bisect_left(secs, t - within)

    @staticmethod
    def last(selected: tuple[list[int], list[int]], t: int) -> int:
        """Row of the latest selected event before ``t`` (-1: none)."""
        i = bisect_left(selected[1], t) - 1
        return selected[0][i] if i >= 0 else -1


def _human(seconds: int) -> str:
    """A duration as the engine writes it in "why not" texts (``3d``, ``48h``, ``30min``)."""
    for unit, size in (("d", 86_400), ("h", 3_600), ("min", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


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
    kept); :meth:`decide` is then plain numpy on the customer's few events.

    Parameters
    ----------
    policy : Policy
    responses : ResponseModel or UpliftModel
        Fitted for the policy's journeys (an UpliftModel when the policy arbitrates by uplift).

    Examples
    --------
    >>> from journeymine.actions import Policy, ResponseModel
    >>> from journeymine.service.live import LiveDecider
    >>> policy = Policy.from_dict({"journeys": [{"name": "promo", "channel": "email",
    ...     "activity": "email_sent", "prior_rate": 0.2}]})
    >>> d = LiveDecider(policy, ResponseModel().fit(None, None, policy))
    >>> out = d.decide("c1", [1_740_000_000_000_000], [{"activity": "visit"}], [],
    ...                persona=-1, at_us=1_740_000_100_000_000)
    >>> out["action"], out["expected_response"]
    ('promo', 0.2)
    """

    def __init__(self, policy: Policy, responses: ResponseModel | UpliftModel) -> None:
        if not isinstance(policy, Policy):
            raise ConfigError(f"policy must be a Policy, got {type(policy).__name__}.")
        if policy.arbitration == "uplift":
            if not isinstance(responses, UpliftModel) or not hasattr(responses, "table_"):
                raise ConfigError(
                    "the policy arbitrates by uplift: serve a fitted UpliftModel, or set "
                    "arbitration: response in the policy."
                )
        elif not isinstance(responses, ResponseModel | UpliftModel) or not hasattr(
            responses, "table_"
        ):
            raise ConfigError("responses must be a fitted ResponseModel (ResponseModel().fit).")
        names = [j.name for j in policy.journeys]
        if list(responses.journeys_) != names:
            raise ConfigError(
                f"the response rates are for journeys {list(responses.journeys_)}, the policy "
                f"has {names}; refit them with this policy."
            )
        self.policy = policy
        self.responses = responses
        self.touch = frozenset(policy.touch_activities)
        self.known = {
            _UNASSIGNED,
            *map(int, np.asarray(responses.table_["persona"], dtype=np.int64)),
        }
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

    def rates(self, persona: int) -> np.ndarray:
        """Expected (uplift or) response of every journey for ``persona`` (1 x journeys)."""
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
        """
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
        reason, detail, rates, products = self._gates(tl, t, persona)
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
            "at": _iso_us(floor),
            "persona": int(persona),
            "action": names[w] if w >= 0 else None,
            "channel": self.policy.journeys[w].channel if w >= 0 else None,
            "product": products[w] if w >= 0 else None,
            "expected_response": float(rates[w]) if w >= 0 else None,
            "why_not": why_not,
        }

    def _gates(
        self, tl: Timeline, t: int, persona: int
    ) -> tuple[list[int], list[str], list[float], list[str | None]]:
        """Per journey: the first gate it fails (index into REASONS, -1 passed), the text,
        its score and the product it is about; the engine's gates in the engine's order."""
        policy = self.policy
        base = self.rates(persona)[0]
        rates = [float(base[k]) * j.value for k, j in enumerate(policy.journeys)]
        if policy.fatigue_within_s is not None and policy.fatigue_factor < 1:
            recent = tl.count(tl.touches(self.touch), t, policy.fatigue_within_s)
            factor = float(np.float64(policy.fatigue_factor) ** np.float64(recent))
            rates = [r * factor for r in rates]
        if policy.arbitration == "uplift":
            rates = [r - j.cost for r, j in zip(rates, policy.journeys, strict=True)]
        consent = self._consent(tl, t)
        J = len(policy.journeys)
        reason = [-1] * J
        detail = [""] * J
        products: list[str | None] = [None] * J
        for k, j in enumerate(policy.journeys):
            open_ = True
            for c, ok in consent.get(j.channel, ()):
                if open_ and not ok:
                    reason[k], detail[k], open_ = (
                        REASONS.index(c.reason),
                        f"{j.channel}: {c.describe()}",
                        False,
                    )
            for rule in j.eligible:
                if rule.kind == "persona":
                    ok = persona in rule.personas
                elif rule.kind == "new_customer":
                    ok = tl.first <= t and t - tl.first <= rule.within_s
                else:
                    seen = tl.count(tl.rows_of(rule.activities), t, rule.within_s) > 0
                    ok = seen if rule.kind == "seen" else not seen
                if open_ and not ok:
                    reason[k], detail[k], open_ = 0, f"needs {rule.describe()}", False
            if j.product_from is not None:
                row = tl.last(tl.rows_of((j.product_from,)), t)
                products[k] = tl.product[row] if row >= 0 else None
            for sup in j.suppress:
                if sup.same_product:
                    p = products[k]
                    hit = (
                        p is not None
                        and tl.count(tl.product_rows(sup.activities, p), t, sup.within_s) > 0
                    )
                    what = "the product it is about"
                else:
                    hit = tl.count(tl.rows_of(sup.activities), t, sup.within_s) > 0
                    what = "the customer"
                if open_ and hit:
                    acts = "/".join(sup.activities)
                    reason[k], detail[k], open_ = (
                        1,
                        f"{acts} of {what} in the last {_human(sup.within_s)}",
                        False,
                    )
            if j.min_gap_s is not None:
                row = tl.last(tl.touches(self.touch, journey=j.name), t)
                if row >= 0 and t - tl.sec[row] < j.min_gap_s and open_:
                    ago = _human(t - tl.sec[row])
                    reason[k], detail[k], open_ = (
                        2,
                        f"sent {ago} ago (min gap {_human(j.min_gap_s)})",
                        False,
                    )
            for cap in policy.caps:
                if cap.channel not in ("*", j.channel):
                    continue
                sel = (
                    tl.touches(self.touch)
                    if cap.channel == "*"
                    else tl.touches(
                        self.touch, channel=cap.channel, channel_acts=self.channel_acts[cap.channel]
                    )
                )
                if open_ and tl.count(sel, t, cap.per_s) >= cap.max:
                    per = _human(cap.per_s)
                    reason[k], detail[k], open_ = (
                        3,
                        f"{cap.channel} cap reached: {cap.max} touch(es) per {per}",
                        False,
                    )
            r = rates[k]
            low = r < policy.min_expected_response or (policy.arbitration == "uplift" and r <= 0)
            if open_ and low:
                reason[k], detail[k] = (
                    4,
                    f"expected response {r:.3f} < {policy.min_expected_response:.3f}",
                )
        return reason, detail, rates, products

    def _consent(self, tl: Timeline, t: int) -> dict[str, list[tuple[Any, bool]]]:
        """Per channel: (consent entry, holds) for every entry of the policy's consent."""
        out: dict[str, list[tuple[Any, bool]]] = {}
        for c in self.policy.consent:
            if c.attribute is not None:
                raise ConfigError(
                    f"the policy's consent gate for {c.channel!r} reads the customer attribute "
                    f"{c.attribute!r}, which the service does not have: use an opt-in/opt-out "
                    f"or a 'requires' activity for live decisions."
                )
            if c.requires:  # such an event ever before the decision
                ok = tl.last(tl.rows_of(c.requires), t) >= 0
            else:
                row_out = tl.last(tl.rows_of(c.opt_out), t) if c.opt_out else -1
                if c.opt_in:  # the latest opt-in is later (in seconds) than the latest opt-out
                    row_in = tl.last(tl.rows_of(c.opt_in), t)
                    ok = row_in >= 0 and (row_out < 0 or tl.sec[row_in] > tl.sec[row_out])
                else:
                    ok = row_out < 0
            out.setdefault(c.channel, []).append((c, ok))
        return out


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


def _decider(policy: Policy, responses: ResponseModel | UpliftModel) -> LiveDecider:
    key = (id(policy), id(responses))
    d = _DECIDERS.get(key)
    if d is None or d.policy is not policy or d.responses is not responses:
        d = LiveDecider(policy, responses)
        with _DECIDERS_LOCK:
            if len(_DECIDERS) >= 16:
                _DECIDERS.clear()
            _DECIDERS[key] = d
    return d


_MODEL_KEYS: weakref.WeakKeyDictionary[PersonaModel, str] = weakref.WeakKeyDictionary()


def _model_key(model: PersonaModel) -> str:
    """What saved aggregates must match: the model's feature spec (every process computes
    the same key for the same spec)."""
    key = _MODEL_KEYS.get(model)
    if key is None:
        key = hashlib.sha256(repr(model.spec_).encode()).hexdigest()[:16]
        _MODEL_KEYS[model] = key
    return key


def live_aggregates(state: CustomerState, model: PersonaModel) -> tuple[LiveAggregates, int, int]:
    """The customer's aggregates for ``model``, the sequence number of the last event in them
    and how many events were folded now: the saved aggregates with the events stored since
    folded in (O(1) per event), or, when there are none for this model or an event arrived
    late (older than one already folded), every event folded again in time order.

    Examples
    --------
    >>> import journeymine as jm
    >>> from journeymine.service.state import CustomerState
    >>> data = jm.datasets.make_journeys(n_customers=200, days=60, random_state=0)
    >>> truth = data.customers.set_index("customer_id")["persona"].astype("category").cat.codes
    >>> model = jm.PersonaModel(cv=3, validation_size=0).fit(data.events, truth)
    >>> events = [{"timestamp": "2025-02-01T19:00:00Z", "activity": "visit", "channel": "app"},
    ...           {"timestamp": "2025-02-01T19:05:00Z", "activity": "search", "channel": "app"}]
    >>> times = [1_738_436_400_000_000, 1_738_436_700_000_000]
    >>> state = CustomerState("c1", events, times, version=2, event_seqs=[1, 2])
    >>> agg, seq, folded = live_aggregates(state, model)
    >>> agg.n, seq, folded
    (2, 2, 2)
    >>> persona, name, probability, to_store = persona_of(state, model)
    >>> persona == jm.assign(events, model, customer_id="c1").persona
    True
    """
    vocab = model.vocab_
    times, events, seqs = state.event_times, state.events, state.event_seqs
    agg: LiveAggregates | None = None
    done = -1
    if state.aggregates:
        try:
            saved = json.loads(state.aggregates)
            if saved.get("model") == _model_key(model):
                agg = LiveAggregates.from_json(vocab, saved["state"])
                done = int(saved["seq"])
        except (ValueError, KeyError, TypeError):
            agg = None
    start = len(seqs)
    while start > 0 and seqs[start - 1] > done:
        start -= 1
    # the saved state holds exactly the events before the new ones, all older than them
    if agg is None or agg.n != start or (start < len(times) and agg.n and times[start] < agg.last):
        agg, start = LiveAggregates(vocab), 0
    for i in range(start, len(events)):
        agg.add(events[i], times[i])
    return agg, max(seqs) if seqs else -1, len(events) - start


def score_aggregates(agg: LiveAggregates, model: PersonaModel) -> tuple[int, str, float]:
    """The persona, name and probability ``model`` gives the aggregates folded in ``agg``,
    scored as :func:`journeymine.assignment.assign` scores them (-1 below the model's
    abstain threshold).

    Examples
    --------
    >>> import journeymine as jm
    >>> data = jm.datasets.make_journeys(n_customers=200, days=60, random_state=0)
    >>> truth = data.customers.set_index("customer_id")["persona"].astype("category").cat.codes
    >>> model = jm.PersonaModel(cv=3, validation_size=0).fit(data.events, truth)
    >>> agg = LiveAggregates(model.vocab_)
    >>> agg.add({"activity": "visit", "channel": "app"}, 1_738_436_400_000_000)
    >>> persona, name, probability = score_aggregates(agg, model)
    >>> events = [{"timestamp": "2025-02-01T19:00:00Z", "activity": "visit", "channel": "app"}]
    >>> persona == jm.assign(events, model, customer_id="c1").persona
    True
    """
    row = agg.row()[None, :]
    proba = model.scorer_.predict_proba(score_rows(row, model.spec_), row[:, 0])[0]
    best = int(proba.argmax())
    probability = float(proba[best])
    persona = _UNASSIGNED if probability < model.abstain_threshold else int(model.classes_[best])
    return persona, model.persona_names_.get(persona, f"persona {persona}"), probability


def persona_of(
    state: CustomerState, model: PersonaModel
) -> tuple[int, str, float | None, Persona | None]:
    """The customer's persona, name and probability: the stored one when it was computed on
    the current events, else the model's on the stored events (the :class:`Persona` to store
    is returned too, else None). Equal to :func:`journeymine.assignment.assign` on the stored
    events: the aggregates are folded event by event (:func:`live_aggregates`) and scored as
    ``assign`` scores them."""
    if state.persona_fresh:
        return int(state.persona or 0), str(state.persona_name), state.probability, None
    if not LiveAggregates.supports(model.vocab_) or not state.event_seqs:
        a = assign(state.events, model, customer_id=state.customer_id)
        return (
            a.persona,
            a.name,
            a.probability,
            Persona(a.persona, a.name, a.probability, state.version),
        )
    agg, seq, _ = live_aggregates(state, model)
    persona, name, probability = score_aggregates(agg, model)
    saved = json.dumps({"model": _model_key(model), "seq": seq, "state": agg.to_json()})
    return persona, name, probability, Persona(persona, name, probability, state.version, saved)


def decide_live(
    state: CustomerState,
    model: PersonaModel,
    policy: Policy,
    responses: ResponseModel | UpliftModel,
    *,
    at: Any = None,
    persona: int | None = None,
    decider: LiveDecider | None = None,
) -> tuple[dict[str, Any], Contact | None, Persona | None]:
    """The next best action of one live customer from their stored state, in-process.

    Parameters
    ----------
    state : CustomerState
        The customer's stored events, contacts and persona (``StateStore.get``).
    model : PersonaModel
        Assigns the persona when the stored one is not current and ``persona`` is not given.
    policy : Policy
    responses : ResponseModel or UpliftModel
        Fitted for ``policy``'s journeys.
    at : int, str or datetime, optional
        Decision time: microseconds UTC (int) or anything ``pandas.Timestamp`` reads; default
        now (the server's clock). Second resolution.
    persona : int, optional
        A known persona (one of the rates' personas, or -1); default: the model's.
    decider : LiveDecider, optional
        A prepared decider for ``policy`` and ``responses`` (the service keeps one); default:
        one cached per (policy, responses).

    Returns
    -------
    answer : dict
        As ``POST /v1/next-best-action`` sends it: ``customer_id``, ``at``, ``persona``,
        ``persona_name``, ``persona_probability``, ``action`` (None when nothing is sent),
        ``channel``, ``product``, ``expected_response``, ``why_not``, a new ``decision_id``
        and the ``propensity`` (1.0: the policy is deterministic).
    contact : Contact or None
        The contact to reserve when the answer sends something.
    persona : Persona or None
        The persona to remember when it was computed now.

    The decision equals :func:`journeymine.actions.next_best_action` on the stored events plus
    the committed contacts, at ``at``, for the persona :func:`journeymine.assignment.assign`
    gives on the stored events.

    Examples
    --------
    >>> from journeymine.actions import Policy, ResponseModel
    >>> from journeymine.service.state import CustomerState
    >>> policy = Policy.from_dict({"journeys": [{"name": "promo", "channel": "email",
    ...     "activity": "email_sent", "prior_rate": 0.2}]})
    >>> rates = ResponseModel().fit(None, None, policy)
    >>> state = CustomerState("c1", [{"activity": "visit", "timestamp": "2025-03-01T10:00Z"}],
    ...                       [1_740_823_200_000_000])
    >>> answer, contact, _ = decide_live(state, None, policy, rates, persona=-1,
    ...                                  at="2025-03-01T11:00Z")
    >>> answer["action"], contact.channel, answer["at"]
    ('promo', 'email', '2025-03-01T11:00:00+00:00')
    """
    d = decider if decider is not None else _decider(policy, responses)
    if at is None:
        at_us = time.time_ns() // 1000
    elif isinstance(at, int) and not isinstance(at, bool):
        at_us = at
    else:
        import pandas as pd

        at_us = int(pd.Timestamp(at).as_unit("us").asm8.view("i8"))
    update = None
    if persona is None:
        persona, name, probability, update = persona_of(state, model)
    else:
        if persona not in d.known and not (
            model is not None and persona in set(map(int, model.classes_))
        ):
            raise ConfigError(
                f"persona {persona} is not one of this service's personas "
                f"{sorted(d.known | set(map(int, model.classes_)) if model else d.known)} "
                f"(-1 = unassigned); omit it to let the model assign one."
            )
        name = (
            model.persona_names_.get(persona, f"persona {persona}")
            if model is not None
            else f"persona {persona}"
        )
        probability = None
    out = d.decide(
        state.customer_id,
        state.event_times,
        state.events,
        state.contacts,
        persona=int(persona),
        at_us=at_us,
    )
    answer = {
        "customer_id": out["customer_id"],
        "at": out["at"],
        "persona": out["persona"],
        "persona_name": name,
        "persona_probability": probability,
        "action": out["action"],
        "channel": out["channel"],
        "product": out["product"],
        "expected_response": out["expected_response"],
        "why_not": out["why_not"],
        "decision_id": uuid.uuid4().hex,
        "propensity": 1.0,  # the policy is deterministic: it sends what it chose
    }
    contact = None
    if answer["action"] is not None:
        j = policy.journey(answer["action"])
        contact = Contact(
            answer["decision_id"],
            state.customer_id,
            at_us,
            answer["action"],
            j.channel,
            j.activity,
            answer["product"],
            answer["expected_response"],
        )
    return answer, contact, update
