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

import hashlib
import json
import time
import uuid
import weakref
from typing import Any

import numpy as np

from journeymine.actions.policy import Policy
from journeymine.assignment import (
    PersonaModel,
    assign,
    assign_probabilities,
    parse_customer,
    persona_probabilities,
    score_parsed,
)
from journeymine.exceptions import ConfigError
from journeymine.service.aggregates import LiveAggregates
from journeymine.service.decider import LiveDecider, _decider
from journeymine.service.rates import Responses
from journeymine.service.store import Contact, CustomerState, Persona
from journeymine.service.timeline import Timeline

__all__ = [
    "LiveDecider",
    "Timeline",
    "decide_live",
    "live_aggregates",
    "memberships_of",
    "persona_of",
    "score_aggregates",
]


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

    Scored (:func:`score_aggregates`), they give the persona ``assign`` gives on the stored
    events; :func:`persona_of` scores them and returns what to store:

    >>> persona, name, probability = score_aggregates(agg, model)
    >>> persona == jm.assign(events, model, customer_id="c1").persona
    True
    >>> persona_of(state, model)[:3] == (persona, name, probability)
    True

    The persona probabilities of the stored events (a FeatureUplift's memberships) are the
    model's ``predict_proba`` on them:

    >>> import pandas as pd
    >>> log = pd.DataFrame(events).assign(customer_id="c1")
    >>> bool(np.allclose(memberships_of(state, model), model.predict_proba(log).to_numpy()[0]))
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


def score_aggregates(
    agg: LiveAggregates, model: PersonaModel, *, probabilities: np.ndarray | None = None
) -> tuple[int, str, float]:
    """The persona, name and probability ``model`` gives the aggregates folded in ``agg``,
    scored as :func:`journeymine.assignment.assign` scores them (-1 below the model's
    abstain threshold; example: :func:`live_aggregates`). ``probabilities``: their persona
    probabilities (:func:`~journeymine.assignment.persona_probabilities`) when the caller has
    scored them already, so they are not scored twice.
    """
    proba = (
        persona_probabilities(model, agg.row()[None, :])
        if probabilities is None
        else np.asarray(probabilities)[None, :]
    )
    personas, top, _ = assign_probabilities(model, proba)
    persona = int(personas[0])
    return persona, model.persona_names_.get(persona, f"persona {persona}"), float(top[0])


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


def memberships_of(state: CustomerState, model: PersonaModel) -> np.ndarray:
    """The customer's persona probabilities (one per ``model.classes_``, in that order): the
    model's ``predict_proba`` on the stored events, from the same aggregates the persona is
    scored from (:func:`live_aggregates`, or every stored event encoded again when the model's
    features cannot be folded live). The soft memberships a FeatureUplift reads (example:
    :func:`live_aggregates`).
    """
    if LiveAggregates.supports(model.vocab_) and state.event_seqs:
        agg, _, _ = live_aggregates(state, model)
        return persona_probabilities(model, agg.row()[None, :])[0]
    parsed = parse_customer(state.events, model, customer_id=state.customer_id)
    return score_parsed([parsed])[1][0]


def _aligned_memberships(
    decider: LiveDecider, model: PersonaModel, proba: np.ndarray
) -> np.ndarray:
    """``proba`` (one per ``model.classes_``) in the order of ``decider.personas``, the persona
    ids checked against the FeatureUplift's (a ``ConfigError`` when they differ, e.g. after a
    persona model of other personas was loaded)."""
    classes = tuple(int(c) for c in model.classes_)
    if classes == decider.personas:
        return proba
    decider.check_personas(classes)
    return proba[[classes.index(p) for p in decider.personas]]


def time_us(at: Any) -> int:
    """A decision time as microseconds UTC: an ``int`` is taken as microseconds already,
    anything else as :class:`pandas.Timestamp` reads it (naive = UTC).

    Examples
    --------
    >>> time_us("2025-03-01T11:00Z"), time_us(1_740_826_800_000_000)
    (1740826800000000, 1740826800000000)
    """
    if isinstance(at, int) and not isinstance(at, bool):
        return at
    import pandas as pd

    return int(pd.Timestamp(at).as_unit("us").asm8.view("i8"))


def given_persona_name(persona: int, model: PersonaModel | None, known: set[int]) -> str:
    """The name of a persona the caller gives instead of letting the model assign one.

    Parameters
    ----------
    persona : int
        The persona id given.
    model : PersonaModel or None
        The service's model: its personas are known, and it names them.
    known : set of int
        The other personas known: -1 (unassigned) and those of the response rates
        (``LiveDecider.known``).

    Returns
    -------
    str
        The model's name of the persona, else ``"persona <id>"``.

    Raises
    ------
    ConfigError
        A persona neither ``known`` nor the model's, listing the ones that are.

    Examples
    --------
    >>> given_persona_name(-1, None, {-1, 0, 1})
    'persona -1'
    >>> given_persona_name(7, None, {-1, 0, 1})
    Traceback (most recent call last):
    ...
    journeymine.exceptions.ConfigError: persona 7 is not one of this service's personas [-1, ...
    """
    if persona not in known and not (
        model is not None and persona in set(map(int, model.classes_))
    ):
        classes = set(map(int, model.classes_)) if model is not None else set()
        raise ConfigError(
            f"persona {persona} is not one of this service's personas {sorted(known | classes)} "
            f"(-1 = unassigned); omit it to let the model assign one."
        )
    if model is None:
        return f"persona {persona}"
    return model.persona_names_.get(persona, f"persona {persona}")


def decide_live(
    state: CustomerState,
    model: PersonaModel,
    policy: Policy,
    responses: Responses,
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
    responses : ResponseModel, UpliftModel or FeatureUplift
        Fitted for ``policy``'s journeys. A FeatureUplift rates the customer from their soft
        memberships: ``model``'s probabilities on the stored events (:func:`memberships_of`),
        also when ``persona`` is given, and their components (zero for a customer it was not
        fitted with).
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
    gives on the stored events (with a FeatureUplift: and ``memberships=`` the model's
    ``predict_proba`` on them).

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
    at_us = time.time_ns() // 1000 if at is None else time_us(at)
    update = None
    if persona is None:
        persona, name, probability, update = persona_of(state, model)
    else:
        name = given_persona_name(persona, model, d.known)
        probability = None
    memberships = None
    if d.per_customer:
        if model is None:
            raise ConfigError(
                "the FeatureUplift served rates each customer from the persona model's "
                "probabilities: give the persona model."
            )
        # computed once per stored version of the events (a store's version only grows; an
        # ad-hoc state without one is compared by its events)
        key = (state.version, len(state.events), model, state.events if state.version <= 0 else 0)
        memberships = d.customer_memberships(
            state.customer_id,
            key,
            lambda: _aligned_memberships(d, model, memberships_of(state, model)),
        )
    out = d.decide(
        state.customer_id,
        state.event_times,
        state.events,
        state.contacts,
        persona=int(persona),
        at_us=at_us,
        memberships=memberships,
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
