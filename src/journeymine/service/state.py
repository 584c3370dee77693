"""The customer state store of the service, opened by URL: :func:`open_store`.

One small interface (:class:`~journeymine.service.store.StateStore`,
:mod:`journeymine.service.store`), two backends: :class:`SQLiteStore` (``sqlite:///PATH``, the
default: a file beside the model; :mod:`journeymine.service.sqlite_store`) and
:class:`RedisStore` (``redis://HOST:PORT/DB``, for several workers and several machines;
:mod:`journeymine.service.redis_store`). Every name of those modules is importable from here
too (the module's path before they were split).
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
