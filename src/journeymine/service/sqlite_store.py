"""The embedded customer state store: :class:`SQLiteStore` (``sqlite:///PATH``, the default:
a file beside the model).

The standard library's ``sqlite3`` in WAL mode with ``synchronous=FULL``, so a batch of events
is on disk before it is acknowledged. A committed decision runs inside a ``BEGIN IMMEDIATE``
transaction (read the state, decide, record the contact): the database's write lock
serialises the decisions of every thread and every worker process that share the file. The
decisions of one process that wait for the lock together share one transaction and one flush
to disk (group commit), one after the other, each seeing the contacts recorded before it.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from journeymine.exceptions import ConfigError
from journeymine.service.store import (
    Contact,
    CustomerState,
    Decider,
    EventsCache,
    Persona,
    StoreErrors,
    StoreEvent,
)

__all__ = ["SQLiteStore"]


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


#: A customer's row and whether they have contacts (one statement).
_ROW = (
    "SELECT version, persona, name, probability, persona_version, aggregates, "
    "EXISTS (SELECT 1 FROM contacts WHERE customer_id = ?1) FROM customers WHERE customer_id = ?1"
)


def _state(
    customer_id: str, row: Any, cached: Any, contacts: list[Contact]
) -> CustomerState | None:
    """The state of a customer's row (:data:`_ROW`), events and contacts; None when every
    event was removed by retention."""
    if not cached[0]:
        return None
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
        self._errors = StoreErrors((sqlite3.OperationalError, sqlite3.DatabaseError), "SQLite")
        if not self.path.parent.is_dir():
            raise ConfigError(f"the state store's folder {self.path.parent} does not exist.")
        with self._errors:
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
        with self._errors, self._transaction() as c:
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
        row = c.execute(_ROW, (customer_id,)).fetchone()
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
        contacts = []
        if row[6]:
            contacts = [
                Contact.from_json(b)
                for (b,) in c.execute(
                    "SELECT body FROM contacts WHERE customer_id = ? ORDER BY t_us, rowid",
                    (customer_id,),
                )
            ]
        return _state(customer_id, row, cached, contacts)

    def _read_quick(self, customer_id: str) -> CustomerState | bool | None:
        """The state in ONE statement (its own snapshot, no transaction) when that is enough:
        the customer's events cached at their current version and no contacts; False when it
        is not (then :meth:`_read` in a transaction)."""
        row = self._conn().execute(_ROW, (customer_id,)).fetchone()
        if row is None:
            return None
        cached = None if row[6] else self._cache.get(customer_id, row[0])
        if cached is None:
            return False
        return _state(customer_id, row, cached, [])

    def get(self, customer_id: str) -> CustomerState | None:
        with self._errors, self._transaction("DEFERRED") as c:
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
        with self._errors:
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
        with self._errors:
            quick = self._read_quick(customer_id)
        if isinstance(quick, bool):  # one statement was not enough: a read transaction
            with self._errors, self._transaction("DEFERRED") as c:
                state = self._read(c, customer_id)
                if state is None:
                    return None
                answer, _, persona = decide(state)
        elif quick is None:
            return None
        else:
            answer, _, persona = decide(quick)
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
            with self._errors:
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
        with self._errors:
            row = (
                self._conn()
                .execute("SELECT body FROM contacts WHERE decision_id = ?", (decision_id,))
                .fetchone()
            )
        return None if row is None else Contact.from_json(row[0])

    def customers(self) -> Iterator[str]:
        with self._errors:
            rows = (
                self._conn()
                .execute("SELECT DISTINCT customer_id FROM events ORDER BY 1")
                .fetchall()
            )
        for (cid,) in rows:
            yield cid

    def ping(self) -> None:
        with self._errors:
            self._conn().execute("SELECT 1").fetchone()

    def delete_before(self, cutoff_us: int) -> tuple[int, int]:
        with self._errors, self._transaction() as c:
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
        with self._errors:
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
