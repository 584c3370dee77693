"""The customer state store of the service: per customer the events (in time order, late
events merged where they belong), the contact history (decisions committed by
``POST /v1/next-best-action``) and the current persona with its probability.

One small interface (:class:`StateStore`), two backends:

- :class:`SQLiteStore` (``sqlite:///PATH``, the default: a file beside the model): the
  standard library's ``sqlite3`` in WAL mode with ``synchronous=FULL``, so a batch of events
  is on disk before it is acknowledged. A committed decision runs inside a ``BEGIN
  IMMEDIATE`` transaction (read the state, decide, record the contact): the database's write
  lock serialises the decisions of every thread and every worker process that share the file.
  The decisions of one process that wait for the lock together share one transaction and one
  flush to disk (group commit), one after the other, each seeing the contacts recorded before
  it.
- :class:`RedisStore` (``redis://HOST:PORT/DB``, for several workers and several machines):
  events are added by one Lua script per batch (idempotent by ``event_id``); a committed
  decision is made on a snapshot of the state and recorded by a Lua script that checks,
  atomically, that the customer's contact history is still the one decided on and that the
  channel caps hold, else the decision is made again on the new state. Acknowledged means
  written by Redis: run it with ``appendonly yes`` and ``appendfsync always`` for the same
  durability as SQLite.

Events are kept whole (the persona model's features count the whole history); contacts are
what caps, minimum gaps and suppressions count together with the touch events of the log.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol
from urllib.parse import urlparse

from journeymine.exceptions import ConfigError

__all__ = [
    "Contact",
    "CustomerState",
    "EventsCache",
    "RedisStore",
    "SQLiteStore",
    "StateStore",
    "StoreEvent",
    "StoreUnavailable",
    "open_store",
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


_Events = tuple[list[dict[str, Any]], list[int], list[int]]


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
        self._data: OrderedDict[str, tuple[int, _Events]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, customer_id: str, version: int) -> _Events | None:
        """``(events, times, sequence numbers)`` read at ``version``, or None."""
        with self._lock:
            got = self._data.get(customer_id)
            if got is None or got[0] != version:
                return None
            self._data.move_to_end(customer_id)
            return got[1]

    def put(self, customer_id: str, version: int, events: _Events) -> None:
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


# ---------------------------------------------------------------------------------------------
# SQLite
# ---------------------------------------------------------------------------------------------
_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, t_us INTEGER NOT NULL,
    body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_customer ON events (customer_id, t_us);
CREATE TABLE IF NOT EXISTS customers (
    customer_id TEXT PRIMARY KEY, version INTEGER NOT NULL DEFAULT 0, persona INTEGER,
    name TEXT, probability REAL, persona_version INTEGER NOT NULL DEFAULT -1,
    aggregates TEXT);
CREATE TABLE IF NOT EXISTS contacts (
    decision_id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, t_us INTEGER NOT NULL,
    body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS contacts_by_customer ON contacts (customer_id, t_us);
"""


class _Pending:
    """A committed decision waiting for its group (see ``SQLiteStore._commit_together``)."""

    def __init__(self, customer_id: str, decide: Decider) -> None:
        self.customer_id = customer_id
        self.decide = decide
        self.answer: Any = None
        self.error: BaseException | None = None
        self.finished = False


class SQLiteStore:
    """The embedded store: one SQLite file (WAL, ``synchronous=FULL``), one connection per
    thread; several processes may share the file."""

    def __init__(self, path: str | Path, *, timeout: float = 30.0) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self.timeout = timeout
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._cache = EventsCache()
        self._write_lock = threading.Lock()
        self._queue_lock = threading.Lock()
        self._queue: list[_Pending] = []
        if not self.path.parent.is_dir():
            raise ConfigError(f"the state store's folder {self.path.parent} does not exist.")
        with self._errors():
            c = self._conn()
            c.executescript(_SCHEMA)
            columns = {r[1] for r in c.execute("PRAGMA table_info(customers)")}
            if "aggregates" not in columns:  # a store written by the first version
                with contextlib.suppress(sqlite3.OperationalError):  # another process did it
                    c.execute("ALTER TABLE customers ADD COLUMN aggregates TEXT")

    def _conn(self) -> sqlite3.Connection:
        c: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if c is None:
            c = sqlite3.connect(
                self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=FULL")
            c.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
            self._local.conn = c
            with self._lock:
                self._all.append(c)
        return c

    class _errors:
        def __enter__(self) -> None:
            return None

        def __exit__(self, kind: Any, exc: Any, tb: Any) -> Literal[False]:
            if isinstance(exc, sqlite3.OperationalError | sqlite3.DatabaseError):
                raise StoreUnavailable(f"the SQLite state store failed: {exc}") from exc
            return False

    def _transaction(self, mode: str = "IMMEDIATE") -> Any:
        store = self

        # the threads of this process queue for the write lock here, in order, instead of
        # polling SQLite's busy handler (which sleeps up to 100 ms between tries); other
        # processes sharing the file still wait through the busy timeout
        lock = store._write_lock if mode == "IMMEDIATE" else None

        class _Tx:
            def __enter__(self) -> sqlite3.Connection:
                self.c = store._conn()
                if lock is not None:
                    lock.acquire()
                try:
                    self.c.execute(f"BEGIN {mode}")
                except BaseException:
                    if lock is not None:
                        lock.release()
                    raise
                return self.c

            def __exit__(self, kind: Any, exc: Any, tb: Any) -> Literal[False]:
                try:
                    if exc is None:
                        self.c.execute("COMMIT")
                    else:
                        self.c.execute("ROLLBACK")
                finally:
                    if lock is not None:
                        lock.release()
                return False

        return _Tx()

    def add_events(self, events: Sequence[StoreEvent]) -> tuple[int, int]:
        new = 0
        with self._errors(), self._transaction() as c:
            for e in events:
                cur = c.execute(
                    "INSERT OR IGNORE INTO events (event_id, customer_id, t_us, body) "
                    "VALUES (?, ?, ?, ?)",
                    (e.event_id, e.customer_id, e.t_us, json.dumps(e.body)),
                )
                if cur.rowcount == 1:
                    new += 1
                    c.execute(
                        "INSERT INTO customers (customer_id, version) VALUES (?, 1) "
                        "ON CONFLICT (customer_id) DO UPDATE SET version = version + 1",
                        (e.customer_id,),
                    )
        return new, len(events) - new

    def _read(self, c: sqlite3.Connection, customer_id: str) -> CustomerState | None:
        row = c.execute(
            "SELECT version, persona, name, probability, persona_version, aggregates "
            "FROM customers WHERE customer_id = ?",
            (customer_id,),
        ).fetchone()
        if row is None:
            return None
        cached = self._cache.get(customer_id, row[0])
        if cached is None:
            rows = c.execute(
                "SELECT t_us, body, rowid FROM events WHERE customer_id = ? ORDER BY t_us, rowid",
                (customer_id,),
            ).fetchall()
            cached = [json.loads(r[1]) for r in rows], [r[0] for r in rows], [r[2] for r in rows]
            self._cache.put(customer_id, row[0], cached)
        if not cached[0]:  # every event removed by retention
            return None
        contacts = [
            Contact.from_json(b)
            for (b,) in c.execute(
                "SELECT body FROM contacts WHERE customer_id = ? ORDER BY t_us, rowid",
                (customer_id,),
            )
        ]
        return CustomerState(
            customer_id,
            cached[0],
            cached[1],
            contacts,
            version=row[0],
            persona=row[1],
            persona_name=row[2],
            probability=row[3],
            persona_version=row[4],
            event_seqs=cached[2],
            aggregates=row[5],
        )

    def get(self, customer_id: str) -> CustomerState | None:
        with self._errors(), self._transaction("DEFERRED") as c:
            return self._read(c, customer_id)

    @staticmethod
    def _set_persona(c: sqlite3.Connection, customer_id: str, p: Persona) -> None:
        c.execute(
            "UPDATE customers SET persona = ?, name = ?, probability = ?, persona_version = ?, "
            "aggregates = COALESCE(?, aggregates) WHERE customer_id = ? AND version = ?",
            (p.persona, p.name, p.probability, p.version, p.aggregates, customer_id, p.version),
        )

    def set_persona(self, customer_id: str, persona: Persona) -> None:
        # a persona is derived data (recomputed from the events when lost): its write is not
        # flushed to disk on its own (WAL, synchronous=NORMAL); the next durable commit is
        with self._errors():
            c = self._conn()
            c.execute("PRAGMA synchronous=NORMAL")
            try:
                with self._transaction() as c:
                    self._set_persona(c, customer_id, persona)
            finally:
                c.execute("PRAGMA synchronous=FULL")

    def decide(self, customer_id: str, decide: Decider, commit: bool) -> Any:
        if commit:
            return self._commit_together(_Pending(customer_id, decide))
        with self._errors(), self._transaction("DEFERRED") as c:
            state = self._read(c, customer_id)
            if state is None:
                return None
            answer, _, persona = decide(state)
        if persona is not None:  # a read transaction is not upgraded
            self.set_persona(customer_id, persona)
        return answer

    def _commit_together(self, item: _Pending) -> Any:
        """Group commit: the committed decisions of this process that wait for the write lock
        are made one after the other in ONE write transaction by whichever thread gets the
        lock first (each sees the contacts the ones before it recorded, so caps hold), and
        flushed to disk once. A decision whose own code fails fails alone; a failure of the
        database fails the whole group (nothing of it is recorded)."""
        with self._queue_lock:
            self._queue.append(item)
        with self._write_lock:
            if not item.finished:
                with self._queue_lock:
                    group, self._queue = self._queue, []
                self._run_group(group)
        if item.error is not None:
            raise item.error
        return item.answer

    def _run_group(self, group: list[_Pending]) -> None:
        c = self._conn()
        try:
            with self._errors():
                c.execute("BEGIN IMMEDIATE")
                try:
                    for it in group:
                        state = self._read(c, it.customer_id)
                        if state is None:
                            continue
                        try:
                            it.answer, contact, persona = it.decide(state)
                        except (sqlite3.OperationalError, sqlite3.DatabaseError):
                            raise
                        except Exception as exc:  # the decision's own error: it fails alone
                            it.error = exc
                            continue
                        if contact is not None:
                            c.execute(
                                "INSERT INTO contacts (decision_id, customer_id, t_us, body) "
                                "VALUES (?, ?, ?, ?)",
                                (contact.decision_id, it.customer_id, contact.t_us,
                                 contact.to_json()),
                            )  # fmt: skip
                        if persona is not None:
                            self._set_persona(c, it.customer_id, persona)
                    c.execute("COMMIT")
                except BaseException:
                    c.execute("ROLLBACK")
                    raise
        except BaseException as exc:  # nothing of the group was recorded
            for it in group:
                if it.error is None:
                    it.answer, it.error = None, exc
        finally:
            for it in group:
                it.finished = True

    def contact(self, decision_id: str) -> Contact | None:
        with self._errors():
            row = (
                self._conn()
                .execute("SELECT body FROM contacts WHERE decision_id = ?", (decision_id,))
                .fetchone()
            )
        return None if row is None else Contact.from_json(row[0])

    def customers(self) -> Iterator[str]:
        with self._errors():
            rows = (
                self._conn()
                .execute("SELECT DISTINCT customer_id FROM events ORDER BY 1")
                .fetchall()
            )
        for (cid,) in rows:
            yield cid

    def ping(self) -> None:
        with self._errors():
            self._conn().execute("SELECT 1").fetchone()

    def delete_before(self, cutoff_us: int) -> tuple[int, int]:
        with self._errors(), self._transaction() as c:
            # every customer who loses events gets a new version (their persona and saved
            # aggregates are recomputed from what is left)
            c.execute(
                "UPDATE customers SET version = version + 1 + (SELECT count(*) FROM events e "
                "WHERE e.customer_id = customers.customer_id AND e.t_us < ?) WHERE "
                "customer_id IN (SELECT customer_id FROM events WHERE t_us < ?)",
                (cutoff_us, cutoff_us),
            )
            events = c.execute("DELETE FROM events WHERE t_us < ?", (cutoff_us,)).rowcount
            contacts = c.execute("DELETE FROM contacts WHERE t_us < ?", (cutoff_us,)).rowcount
            # a customer left without events keeps its row (the version only grows: readers
            # cache events by it) but is unknown again; their contacts go
            contacts += c.execute(
                "DELETE FROM contacts WHERE customer_id NOT IN (SELECT customer_id FROM events)"
            ).rowcount
        self._cache.clear()
        return events, contacts

    def compact(self) -> None:
        with self._errors():
            c = self._conn()
            c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            c.execute("VACUUM")

    def close(self) -> None:
        with self._lock:
            for c in self._all:
                with contextlib.suppress(sqlite3.Error):
                    c.close()
            self._all.clear()
        self._local = threading.local()


# ---------------------------------------------------------------------------------------------
# Redis
# ---------------------------------------------------------------------------------------------
# ARGV: prefix, then (event_id, customer_id, t_us, body) per event. New ids only.
_ADD_EVENTS = """
local p = ARGV[1]
local new = 0
for i = 2, #ARGV, 4 do
  if redis.call('SADD', p .. 'ids', ARGV[i]) == 1 then
    local seq = redis.call('INCR', p .. 'seq')
    local cid = ARGV[i + 1]
    redis.call('ZADD', p .. 'e:' .. cid, ARGV[i + 2], string.format('%016d', seq) .. ARGV[i + 3])
    redis.call('HINCRBY', p .. 'c:' .. cid, 'version', 1)
    redis.call('SADD', p .. 'customers', cid)
    new = new + 1
  end
end
return new
"""

# KEYS: contacts list, decision key. ARGV: contacts seen, contact JSON, t_us, channel, caps JSON
# ([[channel, max, per_us], ...]). 1 = recorded, 0 = the history changed (decide again),
# -1 = a cap would be exceeded (decide again).
_RESERVE = """
local n = redis.call('LLEN', KEYS[1])
if n ~= tonumber(ARGV[1]) then return 0 end
local t = tonumber(ARGV[3])
local caps = cjson.decode(ARGV[5])
if #caps > 0 and n > 0 then
  local seen = redis.call('LRANGE', KEYS[1], 0, -1)
  for _, cap in ipairs(caps) do
    local used = 0
    for _, raw in ipairs(seen) do
      local c = cjson.decode(raw)
      local on = cap[1] == '*' or c['channel'] == cap[1]
      if on and c['t_us'] <= t and c['t_us'] > t - cap[3] then
        used = used + 1
      end
    end
    if used >= cap[2] then return -1 end
  end
end
redis.call('RPUSH', KEYS[1], ARGV[2])
redis.call('SET', KEYS[2], ARGV[2])
return 1
"""


# KEYS: events zset, contacts list, customer hash, customers set. ARGV: cutoff_us, customer.
# Removes the older events and contacts of one customer atomically; {events, contacts} removed.
_RETAIN = """
local cutoff = tonumber(ARGV[1])
local gone = redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
local all = redis.call('LRANGE', KEYS[2], 0, -1)
local keep = {}
for _, raw in ipairs(all) do
  if cjson.decode(raw)['t_us'] >= cutoff then table.insert(keep, raw) end
end
if #keep < #all then
  redis.call('DEL', KEYS[2])
  for _, raw in ipairs(keep) do redis.call('RPUSH', KEYS[2], raw) end
end
if gone > 0 then
  -- the version only grows (a reader's cache of the events is keyed by it)
  redis.call('HINCRBY', KEYS[3], 'version', gone + 1)
  if redis.call('ZCARD', KEYS[1]) == 0 then
    redis.call('DEL', KEYS[2])
    redis.call('SREM', KEYS[4], ARGV[2])
    keep = {}
  end
end
return {gone, #all - #keep}
"""


class RedisStore:
    """The shared store: one Redis database (``redis://HOST:PORT/DB``); see the module."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "jm:",
        timeout: float = 5.0,
        caps: Sequence[tuple[str, int, int]] = (),
        max_retries: int = 500,
    ) -> None:
        try:
            import redis
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ConfigError(
                "a redis:// state store needs redis-py: pip install 'journeymine[serve]'"
            ) from exc
        self._redis = redis
        self.url = url
        self.prefix = prefix
        self.caps = [list(c) for c in caps]  # (channel, max, per_us), checked on reserve
        self.max_retries = max_retries
        self.r = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, health_check_interval=30
        )
        self._add = self.r.register_script(_ADD_EVENTS)
        self._cache = EventsCache()
        self.timeout = timeout
        self._async: Any = None  # redis.asyncio client, made on first use (on the event loop)
        self._reserve = self.r.register_script(_RESERVE)
        self._retain = self.r.register_script(_RETAIN)

    def _errors(self) -> Any:
        redis = self._redis

        class _E:
            def __enter__(self) -> None:
                return None

            def __exit__(self, kind: Any, exc: Any, tb: Any) -> Literal[False]:
                if isinstance(exc, redis.ConnectionError | redis.TimeoutError):
                    raise StoreUnavailable(f"the Redis state store failed: {exc}") from exc
                return False

        return _E()

    def add_events(self, events: Sequence[StoreEvent]) -> tuple[int, int]:
        if not events:
            return 0, 0
        args: list[Any] = [self.prefix]
        for e in events:
            args += [e.event_id, e.customer_id, str(e.t_us), json.dumps(e.body)]
        with self._errors():
            new = int(self._add(keys=[], args=args))
        return new, len(events) - new

    def _queue_short(self, pipe: Any, customer_id: str) -> None:
        pipe.hgetall(f"{self.prefix}c:{customer_id}")
        pipe.lrange(f"{self.prefix}k:{customer_id}", 0, -1)

    def _queue_full(self, pipe: Any, customer_id: str) -> None:
        pipe.hgetall(f"{self.prefix}c:{customer_id}")
        pipe.zrange(f"{self.prefix}e:{customer_id}", 0, -1, withscores=True)
        pipe.lrange(f"{self.prefix}k:{customer_id}", 0, -1)

    @staticmethod
    def _version(meta: Any) -> int:
        return int(meta.get(b"version", 0))

    def _parsed(self, customer_id: str, meta: Any, rows: Any) -> _Events:
        """The events read with ``meta`` (one transaction), parsed and cached."""
        events = (
            [json.loads(member[16:]) for member, _ in rows],
            [int(t) for _, t in rows],
            [int(member[:16]) for member, _ in rows],
        )
        self._cache.put(customer_id, self._version(meta), events)
        return events

    def _state(
        self, customer_id: str, meta: Any, contacts: Any, events: _Events
    ) -> tuple[CustomerState | None, int]:
        if not meta or not events[0]:  # unknown, or every event removed by retention
            return None, 0
        m = {k.decode(): v.decode() for k, v in meta.items()}
        state = CustomerState(
            customer_id,
            events[0],
            events[1],
            [Contact.from_json(c) for c in contacts],
            version=self._version(meta),
            persona=int(m["persona"]) if "persona" in m else None,
            persona_name=m.get("name"),
            probability=float(m["probability"]) if "probability" in m else None,
            persona_version=int(m.get("persona_version", -1)),
            event_seqs=events[2],
            aggregates=m.get("aggregates"),
        )
        return state, len(contacts)

    def _read(self, customer_id: str) -> tuple[CustomerState | None, int]:
        pipe = self.r.pipeline(transaction=True)
        self._queue_short(pipe, customer_id)
        meta, contacts = pipe.execute()
        if not meta:
            return None, 0
        events = self._cache.get(customer_id, self._version(meta))
        if events is None:  # the events changed: read them with the version they go with
            pipe = self.r.pipeline(transaction=True)
            self._queue_full(pipe, customer_id)
            meta, rows, contacts = pipe.execute()
            events = self._parsed(customer_id, meta, rows)
        return self._state(customer_id, meta, contacts, events)

    async def read_async(self, customer_id: str) -> CustomerState | None:
        """:meth:`get` on the event loop (``redis.asyncio``: no thread, no blocking call); a
        connection failure is :class:`StoreUnavailable`."""
        if self._async is None:
            import redis.asyncio

            self._async = redis.asyncio.Redis.from_url(
                self.url, socket_timeout=self.timeout, socket_connect_timeout=self.timeout
            )
        try:
            pipe = self._async.pipeline(transaction=True)
            self._queue_short(pipe, customer_id)
            meta, contacts = await pipe.execute()
            if not meta:
                return None
            events = self._cache.get(customer_id, self._version(meta))
            if events is None:
                pipe = self._async.pipeline(transaction=True)
                self._queue_full(pipe, customer_id)
                meta, rows, contacts = await pipe.execute()
                events = self._parsed(customer_id, meta, rows)
        except (self._redis.ConnectionError, self._redis.TimeoutError) as exc:
            raise StoreUnavailable(f"the Redis state store failed: {exc}") from exc
        return self._state(customer_id, meta, contacts, events)[0]

    def get(self, customer_id: str) -> CustomerState | None:
        with self._errors():
            return self._read(customer_id)[0]

    def set_persona(self, customer_id: str, persona: Persona) -> None:
        with self._errors():
            self.r.hset(
                f"{self.prefix}c:{customer_id}",
                mapping={
                    "persona": persona.persona,
                    "name": persona.name,
                    "probability": repr(persona.probability),
                    "persona_version": persona.version,
                    **({"aggregates": persona.aggregates} if persona.aggregates else {}),
                },
            )

    def decide(self, customer_id: str, decide: Decider, commit: bool) -> Any:
        p = self.prefix
        with self._errors():
            for attempt in range(self.max_retries):
                state, n_contacts = self._read(customer_id)
                if state is None:
                    return None
                answer, contact, persona = decide(state)
                if persona is not None:
                    self.set_persona(customer_id, persona)
                if not commit or contact is None:
                    return answer
                ok = self._reserve(
                    keys=[f"{p}k:{customer_id}", f"{p}d:{contact.decision_id}"],
                    args=[
                        n_contacts,
                        contact.to_json(),
                        contact.t_us,
                        contact.channel,
                        json.dumps(self.caps),
                    ],
                )
                if int(ok) == 1:
                    return answer
                time.sleep(min(0.001 * attempt, 0.02))  # another decision won: decide again
        raise StoreUnavailable(
            f"customer {customer_id!r}: {self.max_retries} committed decisions in a row lost "
            f"the race to record their contact; try again."
        )

    def contact(self, decision_id: str) -> Contact | None:
        with self._errors():
            raw = self.r.get(f"{self.prefix}d:{decision_id}")
        return None if raw is None else Contact.from_json(raw)

    def customers(self) -> Iterator[str]:
        with self._errors():
            members = self.r.smembers(f"{self.prefix}customers")
            ids = sorted(c.decode() if isinstance(c, bytes) else c for c in members)
        yield from ids

    def ping(self) -> None:
        with self._errors():
            self.r.ping()

    def delete_before(self, cutoff_us: int) -> tuple[int, int]:
        events = contacts = 0
        with self._errors():
            for cid in list(self.customers()):
                gone = self._retain(
                    keys=[
                        f"{self.prefix}e:{cid}",
                        f"{self.prefix}k:{cid}",
                        f"{self.prefix}c:{cid}",
                        f"{self.prefix}customers",
                    ],
                    args=[cutoff_us, cid],
                )
                events += int(gone[0])
                contacts += int(gone[1])
        self._cache.clear()
        return events, contacts

    def compact(self) -> None:
        with self._errors():
            self.r.bgrewriteaof()

    def close(self) -> None:
        self.r.close()

    async def close_async(self) -> None:
        """Close the asyncio client's connections (on the event loop that made them)."""
        if self._async is not None:
            client, self._async = self._async, None
            await client.aclose()


def default_store_url(model_path: str | os.PathLike[str]) -> str:
    """The default store: a SQLite file beside the model (``<model>.state.sqlite``)."""
    path = Path(model_path).resolve()
    return f"sqlite:///{path.with_name(path.stem + '.state.sqlite')}"


def open_store(url: str, *, caps: Sequence[tuple[str, int, int]] = ()) -> StateStore:
    """The store at ``url``: ``sqlite:///PATH`` (a file; four slashes for an absolute path
    are not needed: ``sqlite:////tmp/x`` and ``sqlite:///tmp/x`` both mean ``/tmp/x`` when
    the relative one does not exist) or ``redis://HOST:PORT/DB``. ``caps`` (channel, max,
    per in microseconds) are re-checked atomically when Redis records a contact."""
    if not isinstance(url, str) or "://" not in url:
        raise ConfigError(f"store must be 'sqlite:///PATH' or 'redis://HOST:PORT/DB', got {url!r}.")
    scheme = url.split("://", 1)[0].lower()
    if scheme == "sqlite":
        raw = url[len("sqlite:///") :] if url.lower().startswith("sqlite:///") else ""
        if not raw:
            raise ConfigError(f"store {url!r}: give a file, e.g. sqlite:///state.sqlite.")
        path = Path(raw)
        if not path.is_absolute() and not path.parent.is_dir() and Path("/" + raw).parent.is_dir():
            path = Path("/" + raw)
        return SQLiteStore(path)
    if scheme in ("redis", "rediss", "unix"):
        parsed = urlparse(url)
        if scheme != "unix" and not parsed.hostname:
            raise ConfigError(f"store {url!r}: give a host, e.g. redis://127.0.0.1:6379/0.")
        return RedisStore(url, caps=caps)
    raise ConfigError(
        f"store {url!r}: unknown scheme {scheme!r}; use sqlite:///PATH or redis://HOST:PORT/DB."
    )
