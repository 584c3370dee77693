"""uvicorn HTTP protocols with a deadline for slow clients (used by ``serve``; needs uvicorn).

uvicorn closes an idle keep-alive connection after ``timeout_keep_alive`` seconds, but it does
not limit how long a client may take to send a request once it has started one, nor how long a
new connection may stay silent: a "slowloris" client that sends half a header and then one
byte now and then holds a connection (and a file descriptor) for ever. These protocols add one
timer per connection:

- the request line and headers must arrive within ``request_timeout`` seconds of the
  connection's start or of the request's first byte; otherwise the server answers
  ``408 Request Timeout`` (JSON, ``connection: close``) and closes the connection;
- the body then has ``request_timeout`` more seconds (plus a grace of
  :data:`BODY_GRACE_SECONDS`, within which the service itself answers 408 JSON: see
  ``create_app(request_timeout=...)``); a body still incomplete then is cut off.

Time spent by the application on a complete request is not limited. The timeout is the class
attribute ``request_timeout`` (:func:`timeout_protocol` makes a subclass with a value), else
the environment variable ``JOURNEYMINE_REQUEST_TIMEOUT`` (how ``serve(workers=N)`` reaches its
worker processes), else :data:`DEFAULT_REQUEST_TIMEOUT`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from journeymine.exceptions import ConfigError
from journeymine.service.limits import (
    DEFAULT_REQUEST_TIMEOUT,
    REQUEST_TIMEOUT_ENV,
    check_timeout,
)

_HttpTools: Any
try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _HttpTools
except ImportError:  # pragma: no cover - uvicorn without the standard extra (no httptools)
    _HttpTools = None

__all__ = [
    "BODY_GRACE_SECONDS",
    "H11TimeoutProtocol",
    "HttpToolsTimeoutProtocol",
    "TimeoutProtocol",
    "timeout_protocol",
]

logger = logging.getLogger("journeymine.assignment.service")

#: Extra seconds the protocol waits for a body after the application's own body deadline (the
#: application answers 408 JSON first; the protocol only cuts off what is left).
BODY_GRACE_SECONDS = 2.0


def _timeout_from_env() -> float:
    raw = os.environ.get(REQUEST_TIMEOUT_ENV)
    if raw is None or raw == "":
        return DEFAULT_REQUEST_TIMEOUT
    return check_timeout(raw, REQUEST_TIMEOUT_ENV)


def _response_408(seconds: float) -> bytes:
    body = json.dumps(
        {
            "error": "request_timeout",
            "detail": f"the request headers did not arrive within {seconds:g} s of the "
            f"connection (or of the request's first byte); the connection is closed. Send the "
            f"whole request at once.",
        }
    ).encode()
    return (
        b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
    )


class TimeoutProtocol:
    """Mixin for a uvicorn HTTP protocol: one deadline timer per connection (see the module)."""

    request_timeout: float | None = None
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    cycle: Any
    _jm_timer: asyncio.TimerHandle | None = None
    _jm_phase: str = ""
    _jm_limit: float = DEFAULT_REQUEST_TIMEOUT

    def _jm_arm(self, phase: str) -> None:
        self._jm_cancel()
        seconds = self._jm_limit + (BODY_GRACE_SECONDS if phase == "body" else 0.0)
        self._jm_phase = phase
        self._jm_timer = self.loop.call_later(seconds, self._jm_expired)

    def _jm_cancel(self) -> None:
        if self._jm_timer is not None:
            self._jm_timer.cancel()
            self._jm_timer = None
        self._jm_phase = ""

    def _jm_expired(self) -> None:
        phase, self._jm_timer, self._jm_phase = self._jm_phase, None, ""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        client = transport.get_extra_info("peername")
        logger.info("closing a connection from %s: request %s too slow", client, phase)
        if phase == "headers" and (self.cycle is None or self.cycle.response_complete):
            transport.write(_response_408(self._jm_limit))
        transport.close()

    def connection_made(self, transport: Any) -> None:
        cls_limit = type(self).request_timeout
        self._jm_limit = cls_limit if cls_limit is not None else _timeout_from_env()
        super().connection_made(transport)  # type: ignore[misc]
        self._jm_arm("headers")  # a connection that never sends a byte is closed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._jm_cancel()
        super().connection_lost(exc)  # type: ignore[misc]


class H11TimeoutProtocol(TimeoutProtocol, H11Protocol):
    """uvicorn's h11 protocol with the request deadline."""

    def handle_events(self) -> None:
        super().handle_events()
        if self.transport is None or self.transport.is_closing():
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            if self.conn.trailing_data[0] and self._jm_phase != "headers":
                self._jm_arm("headers")  # the first bytes of the next request
        elif state is h11.SEND_BODY:
            if self._jm_phase != "body":
                self._jm_arm("body")
        else:  # the request is complete (or the connection is done)
            self._jm_cancel()


HttpToolsTimeoutProtocol: Any = None
if _HttpTools is not None:

    class HttpToolsTimeoutProtocol(TimeoutProtocol, _HttpTools):  # type: ignore[no-redef]
        """uvicorn's httptools protocol with the request deadline."""

        def on_message_begin(self) -> None:
            super().on_message_begin()
            if self._jm_phase != "headers":  # not reset by each byte of a slow header
                self._jm_arm("headers")

        def on_headers_complete(self) -> None:
            super().on_headers_complete()
            self._jm_arm("body")

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._jm_cancel()


AutoTimeoutProtocol: type = HttpToolsTimeoutProtocol or H11TimeoutProtocol


def timeout_protocol(request_timeout: float | None = None, http: str = "auto") -> type:
    """The protocol class to pass to uvicorn as ``http=``: httptools when installed (uvicorn's
    own choice), else h11 (``http="h11"`` forces it), with ``request_timeout`` seconds (default
    :data:`DEFAULT_REQUEST_TIMEOUT`, or the environment variable)."""
    bases = {"auto": AutoTimeoutProtocol, "h11": H11TimeoutProtocol}
    if HttpToolsTimeoutProtocol is not None:
        bases["httptools"] = HttpToolsTimeoutProtocol
    if http not in bases:
        raise ConfigError(f"http must be one of {sorted(bases)}, got {http!r}.")
    base = bases[http]
    if request_timeout is None:
        return base
    seconds = check_timeout(request_timeout)
    return type(base.__name__, (base,), {"request_timeout": seconds, "__module__": __name__})
