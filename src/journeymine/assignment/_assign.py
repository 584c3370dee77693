"""Assign personas: one live customer (:func:`assign`) or many at once (:func:`assign_many`).

Both compute the features in plain numpy (the same integer aggregates as the DuckDB batch
featurizer, then the shared :func:`~journeymine.features.score_rows`)
and score them with the model's numpy scorer, so ``assign_many`` equals ``assign`` called per
customer, bit for bit.

Unknown activities and channels (names the model never saw) are counted in the
``__other__`` bucket of the features, exactly as the batch featurizer counts them, and listed
in the result (``unknown_activities``, ``unknown_channels``) so that a caller can spot a new
event type or a typo. An event without a channel counts as channel ``__other__``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from journeymine.assignment._inputs import parse_events
from journeymine.assignment._model import UNASSIGNED, PersonaModel
from journeymine.exceptions import ConfigError
from journeymine.features import Encoded, numpy_aggregates, score_rows
from journeymine.schema import CUSTOMER_ID

__all__ = [
    "Assignment",
    "ParsedCustomer",
    "assign",
    "assign_many",
    "assign_parsed",
    "assign_probabilities",
    "parse_customer",
    "persona_probabilities",
    "score_parsed",
]


@dataclass(frozen=True)
class Assignment:
    """The persona of one customer.

    Attributes
    ----------
    customer_id : str
    persona : int
        Persona id, ``-1`` when the model abstained.
    name : str
        Readable persona name (``"unassigned"`` for ``-1``).
    probability : float
        Calibrated probability of the most likely persona (also when abstaining).
    abstained : bool
        The probability was below the model's ``abstain_threshold``.
    n_events : int
        Events the assignment is based on.
    unknown_activities, unknown_channels : tuple of str
        Names the model does not know (counted as ``__other__``).

    Examples
    --------
    >>> from journeymine.assignment import Assignment
    >>> a = Assignment("c-17", persona=-1, name="unassigned", probability=0.41, abstained=True,
    ...                n_events=2, unknown_activities=("hologram",))
    >>> a.to_dict()["unknown_activities"], a.abstained == (a.persona == -1)
    (['hologram'], True)
    """

    customer_id: str
    persona: int
    name: str
    probability: float
    abstained: bool
    n_events: int
    unknown_activities: tuple[str, ...] = field(default=())
    unknown_channels: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples become lists)."""
        return {
            "customer_id": self.customer_id,
            "persona": self.persona,
            "name": self.name,
            "probability": self.probability,
            "abstained": self.abstained,
            "n_events": self.n_events,
            "unknown_activities": list(self.unknown_activities),
            "unknown_channels": list(self.unknown_channels),
        }


def _check_model(model: Any) -> PersonaModel:
    if not isinstance(model, PersonaModel):
        raise ConfigError(
            f"model must be a fitted PersonaModel (jm.load_model(path)), got "
            f"{type(model).__name__}."
        )
    model._fitted()
    return model


def assign_probabilities(
    model: PersonaModel, probabilities: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The persona that each row of persona probabilities gives: the most probable one, or
    ``UNASSIGNED`` (-1) below the model's ``abstain_threshold``; how :func:`assign_aggregates`
    decides from :func:`persona_probabilities`, for a caller that has the probabilities already.

    Parameters
    ----------
    model : PersonaModel
        A fitted or loaded model.
    probabilities : ndarray, shape (n_customers, n_personas)
        One column per persona of ``model.classes_`` (:func:`persona_probabilities`).

    Returns
    -------
    persona, probability, abstained : ndarray
        As :func:`assign_aggregates` returns them.

    Examples
    --------
    >>> import numpy as np
    >>> import journeymine as jm
    >>> data = jm.datasets.make_journeys(n_customers=200, days=60, random_state=0)
    >>> truth = data.customers.set_index("customer_id")["persona"].astype("category").cat.codes
    >>> model = jm.PersonaModel(cv=3, validation_size=0).fit(data.events, truth)
    >>> proba = model.predict_proba(data.events).to_numpy()
    >>> persona, probability, abstained = assign_probabilities(model, proba)
    >>> bool((persona == jm.assign_many(data.events, model)["persona"].to_numpy()).all())
    True
    >>> bool(np.allclose(probability, proba.max(axis=1)))
    True
    """
    model = _check_model(model)
    proba = np.asarray(probabilities, dtype=np.float64)
    best = proba.argmax(axis=1)
    p = proba[np.arange(len(proba)), best]
    abstained = p < model.abstain_threshold
    persona = np.where(abstained, UNASSIGNED, model.classes_[best]).astype(np.int64)
    return persona, p, abstained


def persona_probabilities(model: PersonaModel, aggregates: np.ndarray) -> np.ndarray:
    """Calibrated persona probabilities of customers given by their integer aggregates, one
    row each: what :func:`assign_aggregates` (and so :func:`assign`) decides from, for a caller
    that needs every persona's probability (e.g. a FeatureUplift's memberships).

    Parameters
    ----------
    model, aggregates
        As for :func:`assign_aggregates`.

    Returns
    -------
    ndarray of float64, shape (n_customers, n_personas)
        One column per persona of ``model.classes_``, in that order; rows sum to 1.

    See Also
    --------
    assign_aggregates : the persona each row is assigned (its example uses both).
    """
    model = _check_model(model)
    rows = np.asarray(aggregates)
    return np.asarray(model.scorer_.predict_proba(score_rows(rows, model.spec_), rows[:, 0]))


def assign_aggregates(
    model: PersonaModel, aggregates: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Persona, probability and abstention of customers given by their integer aggregates, one
    row each (as :func:`journeymine.features.numpy_aggregates` or a live fold computes them),
    scored as :func:`assign` scores them.

    Parameters
    ----------
    model : PersonaModel
        A fitted or loaded model.
    aggregates : ndarray of int64, shape (n_customers, n_aggregates)
        Aggregates in the order of ``model.spec_.aggregate_names`` (column 0: events seen).

    Returns
    -------
    persona : ndarray of int64
        Persona id, ``-1`` where the probability is below ``model.abstain_threshold``.
    probability : ndarray of float64
        Calibrated probability of the most likely persona.
    abstained : ndarray of bool

    Examples
    --------
    >>> import journeymine as jm
    >>> from journeymine.assignment import assign_aggregates
    >>> from journeymine.features import encode_log, numpy_aggregates
    >>> data = jm.datasets.make_journeys(n_customers=200, days=60, random_state=0)
    >>> truth = data.customers.set_index("customer_id")["persona"].astype("category").cat.codes
    >>> model = jm.PersonaModel(cv=3, validation_size=0).fit(data.events, truth)
    >>> ids, ev, _, _ = encode_log(data.events, model.vocab_, what="example")
    >>> agg = numpy_aggregates(ev, model.spec_)
    >>> persona, _, _ = assign_aggregates(model, agg)
    >>> bool((persona == jm.assign_many(data.events, model)["persona"].to_numpy()).all())
    True

    Every persona's probability, from the same aggregates (columns: ``model.classes_``):

    >>> import numpy as np
    >>> from journeymine.assignment import persona_probabilities
    >>> proba = persona_probabilities(model, agg)
    >>> bool(np.allclose(proba, model.predict_proba(data.events).to_numpy()))
    True
    >>> from journeymine.assignment import assign_probabilities
    >>> bool((assign_probabilities(model, proba)[0] == persona).all())
    True
    """
    return assign_probabilities(model, persona_probabilities(model, aggregates))


@dataclass(frozen=True)
class ParsedCustomer:
    """One customer's events checked and encoded against a model's vocabulary (the first half
    of :func:`assign`; :func:`assign_parsed` is the second).

    Attributes
    ----------
    customer_id : str
    events : Encoded
        The events as integer codes (:class:`journeymine.features.Encoded`).
    unknown_activities, unknown_channels : tuple of str
        Names the model does not know (counted as ``__other__``).
    model : PersonaModel
        The model the events were encoded for.
    """

    customer_id: str
    events: Encoded
    unknown_activities: tuple[str, ...]
    unknown_channels: tuple[str, ...]
    model: PersonaModel


def parse_customer(
    events: Any, model: PersonaModel, *, customer_id: str | None = None
) -> ParsedCustomer:
    """Check and encode one customer's events for ``model``: the first half of :func:`assign`.

    Parameters
    ----------
    events, model, customer_id
        As for :func:`assign`.

    Returns
    -------
    ParsedCustomer

    Raises
    ------
    EventLogError
        As :func:`assign` (every problem listed).
    """
    model = _check_model(model)
    cid, ev, unknown_act, unknown_ch = parse_events(events, model.vocab_, customer_id=customer_id)
    return ParsedCustomer(cid, ev, unknown_act, unknown_ch, model)


def _concat(parts: Sequence[Encoded]) -> Encoded:
    """Several single-customer encodings as one (customer code = position in ``parts``)."""
    if len(parts) == 1:
        return parts[0]
    lengths = [len(p.t) for p in parts]
    return Encoded(
        cust=np.repeat(np.arange(len(parts), dtype=np.int64), lengths),
        n_customers=len(parts),
        **{
            name: np.concatenate([getattr(p, name) for p in parts])
            for name in ("t", "act", "ch", "jraw", "jv", "cents", "valued", "sid")
        },
    )


def assign_parsed(parsed: Sequence[ParsedCustomer]) -> list[Assignment]:
    """Score parsed customers together (one vectorised pass per model): the second half of
    :func:`assign`, equal to it for each customer, bit for bit. The service uses it to score
    requests that arrive together.

    Parameters
    ----------
    parsed : sequence of ParsedCustomer
        From :func:`parse_customer` (for one model or several).

    Returns
    -------
    list of Assignment
        In the order of ``parsed``.

    Examples
    --------
    >>> import journeymine as jm
    >>> from journeymine.assignment import ParsedCustomer, assign_parsed, parse_customer
    >>> data = jm.datasets.make_journeys(n_customers=200, days=60, random_state=0)
    >>> truth = data.customers.set_index("customer_id")["persona"].astype("category").cat.codes
    >>> model = jm.PersonaModel(cv=3, validation_size=0).fit(data.events, truth)
    >>> events = [{"timestamp": "2025-02-01T19:00:00Z", "activity": "visit"}]
    >>> parsed = parse_customer(events, model, customer_id="a")  # checked and encoded, not scored
    >>> isinstance(parsed, ParsedCustomer), parsed.customer_id, parsed.unknown_activities
    (True, 'a', ())
    >>> both = assign_parsed([parse_customer(events, model, customer_id=c) for c in "ab"])
    >>> [a.customer_id for a in both], both[0] == jm.assign(events, model, customer_id="a")
    (['a', 'b'], True)

    With every persona's probability too (:func:`score_parsed`, one pass for both):

    >>> from journeymine.assignment import score_parsed
    >>> (a,), (proba,) = score_parsed([parsed])
    >>> a == both[0], len(proba) == len(model.classes_), bool(proba.max() == a.probability)
    (True, True, True)
    """
    return score_parsed(parsed)[0]


def score_parsed(
    parsed: Sequence[ParsedCustomer],
) -> tuple[list[Assignment], list[np.ndarray]]:
    """:func:`assign_parsed` and each customer's persona probabilities, from the same
    aggregates (one pass): for a caller that needs both, e.g. a decision that assigns the
    persona and reads a FeatureUplift's memberships.

    Parameters
    ----------
    parsed : sequence of ParsedCustomer
        As for :func:`assign_parsed`.

    Returns
    -------
    assignments : list of Assignment
        As :func:`assign_parsed` returns them.
    probabilities : list of ndarray of float64
        Per customer, one probability per persona of its model's ``classes_``
        (:func:`persona_probabilities`), in the order of ``parsed``.

    See Also
    --------
    assign_parsed : the assignments alone (its example uses both).
    """
    out: list[Assignment | None] = [None] * len(parsed)
    probabilities: list[np.ndarray | None] = [None] * len(parsed)
    by_model: dict[int, list[int]] = {}
    for i, item in enumerate(parsed):
        by_model.setdefault(id(item.model), []).append(i)
    for rows in by_model.values():
        model = parsed[rows[0]].model
        agg = numpy_aggregates(
            _concat([parsed[i].events for i in rows]), model.spec_, plan=model.vocab_.plan
        )
        proba = persona_probabilities(model, agg)
        persona, top, abstained = assign_probabilities(model, proba)
        for k, i in enumerate(rows):
            pid = int(persona[k])
            probabilities[i] = proba[k]
            out[i] = Assignment(
                customer_id=parsed[i].customer_id,
                persona=pid,
                name=model.persona_names_.get(pid, f"persona {pid}"),
                probability=float(top[k]),
                abstained=bool(abstained[k]),
                n_events=int(agg[k, 0]),
                unknown_activities=parsed[i].unknown_activities,
                unknown_channels=parsed[i].unknown_channels,
            )
    return [a for a in out if a is not None], [p for p in probabilities if p is not None]


def assign(events: Any, model: PersonaModel, *, customer_id: str | None = None) -> Assignment:
    """Persona of ONE customer from their events (fast path: plain Python and numpy).

    Parameters
    ----------
    events : list of dict or DataFrame
        The customer's events with canonical keys: ``customer_id`` (unless given separately),
        ``timestamp`` (ISO 8601 string such as ``"2025-03-01T10:15:00Z"``, ``datetime`` or
        ``numpy.datetime64``; naive times are UTC), ``activity``; optional ``channel``,
        ``journey_id``, ``session_id``, ``value``. Other keys are ignored; any order.
    model : PersonaModel
        A fitted or loaded model.
    customer_id : str, optional
        The customer, when the events do not carry it.

    Returns
    -------
    Assignment

    Raises
    ------
    EventLogError
        No events, a missing key, an unparseable timestamp, a null activity, events of several
        customers (the message lists every problem).

    Examples
    --------
    >>> import journeymine as jm
    >>> data = jm.datasets.make_journeys(n_customers=200, days=60, random_state=0)
    >>> truth = data.customers.set_index("customer_id")["persona"].astype("category").cat.codes
    >>> model = jm.PersonaModel(cv=3, validation_size=0).fit(data.events, truth)
    >>> events = [
    ...     {"timestamp": "2025-02-01T19:00:00Z", "activity": "visit", "channel": "app"},
    ...     {"timestamp": "2025-02-01T19:02:00Z", "activity": "view_product", "channel": "app"},
    ...     {"timestamp": "2025-02-01T19:04:00Z", "activity": "hologram", "channel": "app"},
    ... ]
    >>> a = jm.assign(events, model, customer_id="new-1")
    >>> a.customer_id, a.n_events, a.unknown_activities
    ('new-1', 3, ('hologram',))
    >>> a.abstained == (a.persona == -1)
    True
    """
    return assign_parsed([parse_customer(events, model, customer_id=customer_id)])[0]


def assign_many(log: pd.DataFrame, model: PersonaModel) -> pd.DataFrame:
    """Persona of every customer of ``log`` (vectorised; equal to :func:`assign` per customer).

    Parameters
    ----------
    log : DataFrame
        Canonical event log (any row order); validated when its dtypes are not canonical.
    model : PersonaModel

    Returns
    -------
    DataFrame
        One row per customer, sorted by ``customer_id``: the fields of :class:`Assignment`
        (``unknown_activities``/``unknown_channels`` as tuples).

    Examples
    --------
    A model trained on named personas (integer ids, their names given to ``fit``):

    >>> import pandas as pd
    >>> import journeymine as jm
    >>> data = jm.datasets.make_journeys(n_customers=200, days=60, random_state=0)
    >>> ids, names = pd.factorize(data.customers["persona"], sort=True)
    >>> labels = pd.Series(ids, index=data.customers["customer_id"])
    >>> model = jm.PersonaModel(cv=3, validation_size=0).fit(
    ...     data.events, labels, names=dict(enumerate(names)))
    >>> out = jm.assign_many(data.events, model)
    >>> list(out.columns)[:4]
    ['customer_id', 'persona', 'name', 'probability']
    >>> len(out) == data.events["customer_id"].nunique()
    True
    >>> out.loc[out["persona"] >= 0, "name"].isin(names).all()
    np.True_
    """
    model = _check_model(model)
    customers, X, n_events, unknown_act, unknown_ch = model._featurize(log, what="assign_many")
    proba = model.scorer_.predict_proba(X, n_events)
    persona, p, abstained = assign_probabilities(model, proba)
    names = model.persona_names_
    label_ids = np.asarray(sorted(names), dtype=np.int64)
    label_names = np.asarray([names[k] for k in label_ids], dtype=object)
    unk_a = np.empty(len(customers), dtype=object)
    unk_c = np.empty(len(customers), dtype=object)
    unk_a[:] = unknown_act
    unk_c[:] = unknown_ch
    return pd.DataFrame(
        {
            CUSTOMER_ID: pd.array(np.asarray(customers, dtype=object), dtype="str"),
            "persona": persona,
            "name": pd.array(label_names[np.searchsorted(label_ids, persona)], dtype="str"),
            "probability": p,
            "abstained": abstained,
            "n_events": n_events.astype(np.int64),
            "unknown_activities": unk_a,
            "unknown_channels": unk_c,
        }
    )
