"""The decision for one live customer, in plain numpy: :func:`decide_live`.

The batch engine (:func:`journeymine.actions.next_best_action`) builds a canonical log and an
event index over every customer before it decides; for one customer of the service that costs
a pandas DataFrame, a validation and a pivot per request (~10-50 ms). Here the customer's
stored events become a few small numpy arrays (:class:`OneCustomerIndex`, which answers the
same as-of questions as the engine's event index, for one customer) and the engine's own
vectorised gates (:func:`journeymine.actions.engine.decide`) run on them, with the response
rates of each persona computed once (:class:`LiveDecider`). The gates, their order, the
arbitration and the "why not" texts are therefore the engine's: the answer equals the batch
engine's on the same events, persona and time (``tests/service`` checks it on generated
customers).

Time works as in the engine: to the second, only events strictly before the decision second
count, and a decision more than ~8.5 years after the customer's last event is answered as at
that horizon (the engine's clipping).
"""

from __future__ import annotations

import datetime as _dt
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np

from journeymine.actions.engine import REASONS, decide
from journeymine.actions.policy import Policy
from journeymine.actions.response import ResponseModel
from journeymine.actions.uplift import UpliftModel
from journeymine.assignment import PersonaModel, assign
from journeymine.exceptions import ConfigError
from journeymine.service.state import Contact, CustomerState, Persona

__all__ = ["LiveDecider", "OneCustomerIndex", "decide_live"]

_US = 1_000_000
#: the engine's event index keeps decision times within this many seconds after the log
_HORIZON_S = 2**28
_UNASSIGNED = -1


def _iso_us(t_us: int) -> str:
    """ISO 8601 with offset, as ``pandas.Timestamp(t, unit="us", tz="UTC").isoformat()``."""
    d = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC) + _dt.timedelta(microseconds=int(t_us))
    return d.isoformat()


class OneCustomerIndex:
    """The as-of questions of the engine's event index, for the events of ONE customer.

    The customer has code 0; times are seconds after one second before the customer's first
    event. Every method has the signature and the meaning of the engine's index
    (``journeymine.actions._index.EventIndex``) for points of this customer (code 0) or of
    nobody (code -1: counts 0, no latest event).

    Parameters
    ----------
    t_us : sequence of int
        Event times in microseconds UTC, non-decreasing (ties: the order of arrival).
    activity, channel, journey, product : sequence of str or None
        Per event (None: null). ``channel`` None as a whole means the log has no channel
        column (a cap then counts the touches whose activity a journey of that channel
        sends), as the engine does.

    Examples
    --------
    >>> import numpy as np
    >>> ix = OneCustomerIndex([0, 2_000_000, 5_000_000], ["visit", "add_to_cart", "visit"],
    ...                       ["web", "web", "app"], [None, None, None], [None, "p1", None])
    >>> int(ix.count(("visit",), np.array([0]), np.array([7]), 10)[0])
    2
    >>> when, row = ix.last(("add_to_cart",), np.array([0]), np.array([7]))
    >>> int(when[0]), int(row[0]), str(ix.products[ix.product[row[0]]])
    (3, 1, 'p1')
    """

    def __init__(
        self,
        t_us: Sequence[int],
        activity: Sequence[str],
        channel: Sequence[str | None] | None,
        journey: Sequence[str | None],
        product: Sequence[str | None],
    ) -> None:
        sec = np.asarray(t_us, dtype=np.int64) // _US
        if len(sec) == 0:
            raise ConfigError("a live decision needs at least one event of the customer.")
        self.t0 = int(sec.min()) - 1
        self.t = sec - self.t0  # >= 1, non-decreasing
        self.end = int(self.t.max()) + 1
        self.span = self.end + _HORIZON_S
        self.first = np.array([int(self.t.min())], dtype=np.int64)
        self._act, self._act_names = _codes(activity)
        self._ch: tuple[np.ndarray, list[Any]] | None = None
        if channel is not None:
            self._ch = _codes(channel)
        self._j, self._j_names = _codes(journey)
        prod, self.products = _codes(product)
        self.product = prod
        self._masks: dict[Any, np.ndarray] = {}

    # -- points and masks -----------------------------------------------------------------
    def point(self, at_us: int) -> tuple[np.ndarray, np.ndarray]:
        """The customer's code and the decision second ``at_us`` on the index's clock."""
        sec = int(at_us) // _US - self.t0
        return np.zeros(1, dtype=np.int64), np.array([min(max(sec, 0), self.span - 1)])

    def is_activity(self, acts: tuple[str, ...]) -> np.ndarray:
        key = ("act", acts)
        mask = self._masks.get(key)
        if mask is None:
            mask = _lookup(self._act_names, acts)[self._act]
            self._masks[key] = mask
        return mask

    def is_journey(self, name: str) -> np.ndarray:
        return _lookup(self._j_names, (name,))[self._j]

    def has_journey(self) -> np.ndarray:
        return self._j >= 0

    def on_channel(self, channel: str, channel_of: dict[str, str]) -> np.ndarray:
        if self._ch is not None:
            return _lookup(self._ch[1], (channel,))[self._ch[0]]
        return self.is_activity(tuple(a for a, c in channel_of.items() if c == channel))

    # -- as-of counts and latest events ----------------------------------------------------
    def count_masked(
        self, name: Any, mask: np.ndarray, codes: np.ndarray, t: np.ndarray, within: int
    ) -> np.ndarray:
        """Events of ``mask`` per point in ``[t - within, t)``."""
        tm = self.t[mask]
        hi = np.searchsorted(tm, t, side="left")
        lo = np.searchsorted(tm, np.maximum(t - within, 0), side="left")
        return np.where(codes >= 0, hi - lo, 0)

    def count(
        self, acts: tuple[str, ...], codes: np.ndarray, t: np.ndarray, within: int
    ) -> np.ndarray:
        """Events of ``acts`` per point in ``[t - within, t)``."""
        return self.count_masked(None, self.is_activity(acts), codes, t, within)

    def last_masked(
        self, name: Any, mask: np.ndarray, codes: np.ndarray, t: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Time (-1 if none) and row of the latest event of ``mask`` before ``t``."""
        rows = np.flatnonzero(mask)
        i = np.searchsorted(self.t[rows], t, side="left") - 1
        ok = (codes >= 0) & (i >= 0)
        safe = np.maximum(i, 0)
        if len(rows) == 0:
            return np.full(len(t), -1, dtype=np.int64), np.full(len(t), -1, dtype=np.int64)
        return np.where(ok, self.t[rows[safe]], -1), np.where(ok, rows[safe], -1)

    def last(
        self, acts: tuple[str, ...], codes: np.ndarray, t: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Time (-1 if none) and row of the latest event of ``acts`` before ``t``."""
        return self.last_masked(None, self.is_activity(acts), codes, t)

    def count_product(
        self,
        acts: tuple[str, ...],
        codes: np.ndarray,
        products: np.ndarray,
        t: np.ndarray,
        within: int,
    ) -> np.ndarray:
        """Events of ``acts`` about each point's product in ``[t - within, t)``."""
        base = self.is_activity(acts) & (self.product >= 0)
        out = np.zeros(len(codes), dtype=np.int64)
        for k in range(len(codes)):
            if codes[k] >= 0 and products[k] >= 0:
                out[k] = self.count_masked(
                    None,
                    base & (self.product == products[k]),
                    codes[k : k + 1],
                    t[k : k + 1],
                    within,
                )[0]
        return out


def _codes(values: Sequence[str | None]) -> tuple[np.ndarray, list[Any]]:
    """Integer codes (-1 for None) and the distinct names, in order of first appearance."""
    seen: dict[Any, int] = {}
    codes = np.fromiter(
        (-1 if v is None else seen.setdefault(v, len(seen)) for v in values),
        dtype=np.int64,
        count=len(values),
    )
    return codes, list(seen)


def _lookup(names: list[Any], wanted: tuple[str, ...]) -> np.ndarray:
    """A bool table over ``names`` plus a last False entry that code -1 (null) indexes."""
    want = set(wanted)
    return np.array([str(n) in want for n in names] + [False], dtype=bool)


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
        self._names = np.array([j.name for j in policy.journeys] + [None], dtype=object)
        self._channels = np.array([j.channel for j in policy.journeys] + [None], dtype=object)

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
        """
        policy = self.policy
        column = policy.product_column
        delivered = {e.get("decision_id") for e in events if e.get("activity") in self.touch} - {
            None
        }
        floor = at_us - at_us % _US
        t_us = list(event_times)
        acts = [str(e["activity"]) for e in events]
        chs = [e.get("channel") for e in events]
        jids = [e.get("journey_id") for e in events]
        prods = [_product(e.get(column)) for e in events]
        extra = []
        for c in contacts:
            if c.decision_id in delivered or c.t_us >= floor + _US:
                continue
            extra.append((min(c.t_us, floor - 1), c))
        if extra:
            for when, c in extra:
                t_us.append(when)
                acts.append(c.activity)
                chs.append(c.channel)
                jids.append(c.journey)
                prods.append(c.product)
            order = np.argsort(np.asarray(t_us, dtype=np.int64), kind="stable")
            t_us = [t_us[i] for i in order]
            acts, chs = [acts[i] for i in order], [chs[i] for i in order]
            jids, prods = [jids[i] for i in order], [prods[i] for i in order]
        has_channel = any(c is not None for c in chs)
        index = OneCustomerIndex(
            t_us,
            acts,
            [None if c is None else str(c) for c in chs] if has_channel else None,
            [None if j is None else str(j) for j in jids],
            prods,
        )
        codes, point = index.point(at_us)
        winner, best, products, gates = decide(
            index,  # type: ignore[arg-type]  # the engine's index questions, one customer
            policy,
            None,
            np.array([persona], dtype=np.int64),
            codes,
            point,
            rates=self.rates(persona),
        )
        w = int(winner[0])
        chosen = int(products[0, w]) if w >= 0 else -1
        expected = float(best[0])
        why_not = []
        for k, (code, detail) in enumerate(gates):
            if code[0] >= 0:
                why_not.append(
                    {
                        "journey": policy.journeys[k].name,
                        "reason": REASONS[int(code[0])],
                        "detail": str(detail[0]),
                    }
                )
        return {
            "customer_id": customer_id,
            "at": _iso_us(floor),
            "persona": int(persona),
            "action": self._names[w],
            "channel": self._channels[w],
            "product": None if chosen < 0 else str(index.products[chosen]),
            "expected_response": None if np.isnan(expected) else expected,
            "why_not": why_not,
        }


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


def persona_of(
    state: CustomerState, model: PersonaModel
) -> tuple[int, str, float | None, Persona | None]:
    """The customer's persona, name and probability: the stored one when it was computed on
    the current events, else :func:`journeymine.assignment.assign` on the stored events (and
    the :class:`Persona` to store, else None)."""
    if state.persona_fresh:
        return int(state.persona or 0), str(state.persona_name), state.probability, None
    a = assign(state.events, model, customer_id=state.customer_id)
    return (
        a.persona,
        a.name,
        a.probability,
        Persona(a.persona, a.name, a.probability, state.version),
    )


def decide_live(
    state: CustomerState,
    model: PersonaModel,
    policy: Policy,
    responses: ResponseModel | UpliftModel,
    *,
    at: Any = None,
    times: Any = None,
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
    times : TimeRange, optional
        Unused (kept for callers of the first version: the stored events were checked when
        they were stored).
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
