"""The customer state store's interface and records: what every backend
(:mod:`journeymine.service.sqlite_store`, :mod:`journeymine.service.redis_store`) stores and
hands out, and the per-process cache of parsed events they share.

Per customer: the events (in time order, late events merged where they belong), the contact
history (decisions committed by ``POST /v1/next-best-action``) and the current persona with
its probability. Events are kept whole (the persona model's features count the whole
history); contacts are what caps, minimum gaps and suppressions count together with the touch
events of the log. :func:`journeymine.service.state.open_store` opens a backend by URL.
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

__all__ = [
    "CACHE_EVENTS",
    "Contact",
    "CustomerState",
    "EventsCache",
    "Persona",
    "StateStore",
    "StoreErrors",
    "StoreEvent",
    "StoreUnavailable",
]


class StoreUnavailable(Exception):
    """The store cannot be reached or did not answer in time (the service answers 503)."""


@dataclass(frozen=True)
class StoreEvent:
    """One checked event: its id, customer, time (microseconds UTC) and the event as sent."""

    event_id: str
    customer_id: str
    t_us: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Contact:
    """A contact reserved by a committed decision."""

    decision_id: str
    customer_id: str
    t_us: int
    journey: str
    channel: str
    activity: str
    product: str | None = None
    expected_response: float | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, raw: str | bytes) -> Contact:
        return cls(**json.loads(raw))


@dataclass
class CustomerState:
    """What the store knows about one customer."""

    customer_id: str
    events: list[dict[str, Any]]  # in time order (ties: arrival order)
    event_times: list[int]  # microseconds UTC, one per event
    contacts: list[Contact] = field(default_factory=list)
    version: int = 0  # number of events stored: changes with every new event
    persona: int | None = None
    persona_name: str | None = None
    probability: float | None = None
    persona_version: int = -1  # the version the persona was computed on
    #: the store's sequence number of each event (order of arrival), with ``events``
    event_seqs: list[int] = field(default_factory=list)
    #: the persona model's aggregates saved with the persona (JSON, see service.live)
    aggregates: str | None = None

    @property
    def persona_fresh(self) -> bool:
        return self.persona is not None and self.persona_version == self.version


@dataclass(frozen=True)
class Persona:
    """A persona computed on ``version`` (the number of events then stored), and the
    aggregates it was computed from (JSON, kept to fold the next events into)."""

    persona: int
    name: str
    probability: float
    version: int
    aggregates: str | None = None


#: ``decide(state) -> (answer, contact to record or None, persona to store or None)``
Decider = Callable[[CustomerState], tuple[Any, Contact | None, Persona | None]]


class StateStore(Protocol):
    """The interface every backend implements (all methods may raise StoreUnavailable)."""

    url: str

    def add_events(self, events: Sequence[StoreEvent]) -> tuple[int, int]:
        """Store the events whose ``event_id`` is new; durable on return. ``(new, duplicate)``."""
        ...

    def get(self, customer_id: str) -> CustomerState | None:
        """The customer's state, or None when no event of theirs is stored."""
        ...

    def set_persona(self, customer_id: str, persona: Persona) -> None:
        """Remember the persona computed on ``persona.version`` events."""
        ...

    def decide(self, customer_id: str, decide: Decider, commit: bool) -> Any:
        """Run ``decide`` on the customer's state; with ``commit`` the contact it returns is
        recorded atomically with the state it was decided on (no other committed decision for
        the customer in between). Returns the answer; None for an unknown customer."""
        ...

    def contact(self, decision_id: str) -> Contact | None:
        """A committed contact by its decision id."""
        ...

    def customers(self) -> Iterator[str]:
        """Every customer with stored events."""
        ...

    def ping(self) -> None:
        """StoreUnavailable unless the store answers."""
        ...

    def delete_before(self, cutoff_us: int) -> tuple[int, int]:
        """Retention: remove the events and contacts older than ``cutoff_us``; customers left
        without events are removed. ``(events, contacts)`` removed."""
        ...

    def compact(self) -> None:
        """Give the space of removed data back (SQLite: checkpoint and VACUUM)."""
        ...

    def close(self) -> None: ...


Events = tuple[list[dict[str, Any]], list[int], list[int]]


#: Events the per-process caches keep (about 1 KB each with the prepared copy: ~100 MB).
CACHE_EVENTS = int(os.environ.get("JOURNEYMINE_CACHE_EVENTS", "100000"))


class EventsCache:
    """The parsed events of recently read customers, by customer and version (the version
    changes with every change of a customer's events, in every process that shares the
    store), so that a decision reads only the customer's row and contacts when the events
    did not change. Least recently used customers are dropped once more than ``max_events``
    events are kept (environment variable ``JOURNEYMINE_CACHE_EVENTS``; 0 turns it off).

    Examples
    --------
    >>> cache = EventsCache(max_events=3)
    >>> cache.put("c1", 7, ([{"activity": "visit"}], [0], [1]))
    >>> cache.get("c1", 7)[1], cache.get("c1", 8)  # another version: not cached
    ([0], None)
    """

    def __init__(self, max_events: int = CACHE_EVENTS) -> None:
        self.max_events = max_events
        self.events = 0
        self._data: OrderedDict[str, tuple[int, Events]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, customer_id: str, version: int) -> Events | None:
        """``(events, times, sequence numbers)`` read at ``version``, or None."""
        with self._lock:
            got = self._data.get(customer_id)
            if got is None or got[0] != version:
                return None
            self._data.move_to_end(customer_id)
            return got[1]

    def peek(self, customer_id: str) -> tuple[int, Events] | None:
        """``(version, events)`` kept for the customer, whatever the version, or None."""
        with self._lock:
            return self._data.get(customer_id)

    def put(self, customer_id: str, version: int, events: Events) -> None:
        if len(events[0]) > self.max_events:
            return
        with self._lock:
            old = self._data.pop(customer_id, None)
            if old is not None:
                self.events -= len(old[1][0])
            self._data[customer_id] = (version, events)
            self.events += len(events[0])
            while self.events > self.max_events:
                _, (_, dropped) = self._data.popitem(last=False)
                self.events -= len(dropped[0])

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.events = 0


class StoreErrors:
    """A context manager turning a backend's connection errors (``kinds``) into
    :class:`StoreUnavailable` naming the backend (the service answers 503).

    Examples
    --------
    >>> errors = StoreErrors((OSError,), "test")
    >>> try:
    ...     with errors:
    ...         raise OSError("gone")
    ... except StoreUnavailable as exc:
    ...     print(exc)
    the test state store failed: gone
    """

    def __init__(self, kinds: tuple[type[BaseException], ...], backend: str) -> None:
        self.kinds = kinds
        self.backend = backend

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> Literal[False]:
        if isinstance(exc, self.kinds):
            raise StoreUnavailable(f"the {self.backend} state store failed: {exc}") from exc
        return False
