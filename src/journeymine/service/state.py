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

import os
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlparse

from journeymine.exceptions import ConfigError
from journeymine.service.redis_store import RedisStore
from journeymine.service.sqlite_store import SQLiteStore
from journeymine.service.store import (
    CACHE_EVENTS,
    Contact,
    CustomerState,
    Decider,
    EventsCache,
    Persona,
    StateStore,
    StoreEvent,
    StoreUnavailable,
)

__all__ = [
    "CACHE_EVENTS",
    "Contact",
    "CustomerState",
    "Decider",
    "EventsCache",
    "Persona",
    "RedisStore",
    "SQLiteStore",
    "StateStore",
    "StoreEvent",
    "StoreUnavailable",
    "default_store_url",
    "open_store",
]


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
