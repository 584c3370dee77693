"""Limits of the HTTP service: body size and time (pure ASGI, before any parsing), the guard
that keeps connections usable after an error, strict JSON request bodies (400/422), the
plausible range of event times, and the JSON error answer.

Moved from ``journeymine.assignment.service`` (which re-exports it for one release).

What the service refuses, and how:

- API key in ``X-API-Key`` or ``Authorization: Bearer <key>``, compared with
  :func:`hmac.compare_digest`; missing or wrong -> 401 JSON. The service refuses to start
  without a key.
- Request bodies larger than ``max_body_bytes`` are refused with 413 before any parsing: the
  ``Content-Length`` header is checked first, and a body sent without it (chunked) is counted
  while it streams in.
- Malformed JSON -> 400, including ``NaN``, ``Infinity`` and numbers beyond the double range
  such as ``1e999`` (not JSON); a body that does not match the schema -> 422; invalid events
  (no events, an unparseable or missing timestamp such as ``"NaN"``, ``""`` or ``"NaT"``, a
  timestamp outside the plausible range, a ``product`` that is not a text...) -> 422 with the
  message. Any other failure -> 500 JSON without internals (the traceback goes to the server
  log), and the connection stays usable for the client's next request.
- Event timestamps (and the next-best-action ``at``) must fall in the plausible range
  (``plausible_range``, default :data:`journeymine.schema.PLAUSIBLE_RANGE`: 1990-01-01
  included to 2100-01-01 excluded); others get 422 naming the range.
- Slow clients: a request's headers, and then its body, must arrive within
  ``request_timeout`` seconds (default 10): a body that does not gets ``408`` JSON and the
  connection is closed; under :func:`serve` a connection whose headers do not arrive in time
  (a "slowloris" client) is answered 408 and closed by the server's HTTP protocol
  (:mod:`journeymine.service.http`); idle keep-alive connections close after 5 s
  (uvicorn's ``timeout_keep_alive``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError
from pydantic_core import from_json
from starlette.exceptions import HTTPException

from journeymine.exceptions import ConfigError, EventLogError
from journeymine.schema import plausible_bounds
from journeymine.service.store import StoreUnavailable

logger = logging.getLogger(__name__)

API_KEY_ENV = "JOURNEYMINE_API_KEY"
MODEL_PATH_ENV = "JOURNEYMINE_MODEL_PATH"
POLICY_PATH_ENV = "JOURNEYMINE_POLICY_PATH"
RESPONSES_PATH_ENV = "JOURNEYMINE_RESPONSES_PATH"
STORE_ENV = "JOURNEYMINE_STORE"
PLAUSIBLE_RANGE_ENV = "JOURNEYMINE_PLAUSIBLE_RANGE"
DEFAULT_MAX_BODY_BYTES = 1_000_000
DEFAULT_MAX_BATCH = 1_000
#: uvicorn closes an idle keep-alive connection after this many seconds (its default).
KEEP_ALIVE_TIMEOUT = 5
#: Seconds a worker of ``serve(workers=N)`` may take to answer uvicorn's supervisor (importing
#: the package and loading the model included) before it is taken for hung.
WORKER_HEALTHCHECK_SECONDS = 30
#: Seconds a client has to send a request's headers, and then its body.
DEFAULT_REQUEST_TIMEOUT = 10.0
#: Environment variable with the request timeout (seconds) of :func:`app_from_env` and of the
#: worker processes of ``serve(workers=N)``.
REQUEST_TIMEOUT_ENV = "JOURNEYMINE_REQUEST_TIMEOUT"
_JSON = "application/json"


def check_timeout(value: Any, name: str = "request_timeout") -> float:
    """``value`` as a number of seconds in (0, 86400), or a ConfigError naming ``name``."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if isinstance(value, bool) or not 0 < seconds < 86_400:
        raise ConfigError(f"{name} must be a number of seconds in (0, 86400), got {value!r}.")
    return seconds


# ---------------------------------------------------------------------------------------------
# body size and time limits (pure ASGI: before any parsing)
# ---------------------------------------------------------------------------------------------
async def _send_closing(send: Any, status: int, error: str, detail: str) -> None:
    """A JSON error that also closes the connection (the rest of the request is not read)."""
    body = json.dumps({"error": error, "detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _BodyLimit:
    """Reads the whole body of a POST/PUT/PATCH before the app sees it: more than
    ``max_bytes`` -> 413, not all there within ``timeout`` seconds -> 408 (both close the
    connection)."""

    def __init__(self, app: Any, max_bytes: int, timeout: float = DEFAULT_REQUEST_TIMEOUT) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def _too_large(self, send: Any, detail: str) -> None:
        await _send_closing(send, 413, "payload_too_large", detail)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        limit = self.max_bytes
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > limit:
                    await self._too_large(
                        send, f"request body of {declared} bytes exceeds the limit of {limit}."
                    )
                    return
        chunks = []
        size = 0
        try:
            async with asyncio.timeout(self.timeout):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > limit:
                        await self._too_large(
                            send, f"request body exceeds the limit of {limit} bytes."
                        )
                        return
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        break
        except TimeoutError:
            logger.info("request body too slow (%d bytes in %g s): 408", size, self.timeout)
            await _send_closing(
                send,
                408,
                "request_timeout",
                f"the request body did not arrive within {self.timeout:g} s ({size} bytes "
                f"received); the connection is closed. Send the whole body at once (the "
                f"server's limit is request_timeout, {REQUEST_TIMEOUT_ENV}).",
            )
            return
        body = b"".join(chunks)
        sent = False

        async def replay() -> Any:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def read_body(receive: Any) -> bytes | None:
    """The whole request body from an ASGI ``receive`` (None: the client went away)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class _Guard:
    """The outermost ASGI layer: no exception reaches the server after an answer was sent.

    Starlette answers an unhandled exception with the app's 500 JSON and then re-raises it;
    uvicorn then closes the connection, so a client's next request on it (keep-alive) would be
    reset. Here an exception after a complete answer is dropped (it was logged by the 500
    handler); one before any answer gets the 500 JSON; one in the middle of an answer is
    re-raised (the server must close that connection)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = [False, False]  # response started, response complete

        async def tracked(message: Any) -> None:
            if message["type"] == "http.response.start":
                state[0] = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                state[1] = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            if state[1]:
                return
            if state[0]:
                raise
            logger.error("unhandled error on %s %s", scope["method"], scope["path"], exc_info=exc)
            await _send_closing(
                send, 500, "internal_error", "internal server error; see the server log."
            )


# ---------------------------------------------------------------------------------------------
# request bodies: strict JSON, then the schema
# ---------------------------------------------------------------------------------------------
class RequestError(Exception):
    """A refused request: answered ``status`` with ``{"error": error, "detail": detail}``."""

    def __init__(self, status: int, error: str, detail: Any) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


# Tokens that pydantic's JSON parser accepts but JSON does not have (NaN, Infinity), and
# numbers that may overflow a double (a 3-digit exponent, or 300+ digits): only bodies that
# have one are parsed a second time, strictly. The scan is two substring searches and one
# byte translation (digits -> "0", e/E -> "e"): ~10 us for a 4 KB body, where a regular
# expression took ~100 us.
_DIGITS = bytearray(b"." * 256)
for _c in b"0123456789":
    _DIGITS[_c] = ord("0")
_DIGITS[ord("e")] = _DIGITS[ord("E")] = ord("e")
_DIGITS[ord("+")] = ord("+")
_DIGIT_TABLE = bytes(_DIGITS)
_LONG_NUMBER = b"0" * 300
_MAX_DOUBLE = 2**1024  # an int: larger integers are infinite as doubles


def _suspect_numbers(body: bytes) -> bool:
    if b"NaN" in body or b"Infinity" in body:
        return True
    shape = body.translate(_DIGIT_TABLE)
    return b"0e000" in shape or b"0e+000" in shape or _LONG_NUMBER in shape


def _not_json_numbers(body: bytes) -> str | None:
    """Why ``body`` is not strict JSON because of its numbers, or None."""
    if not _suspect_numbers(body):
        return None
    try:
        value = from_json(body, allow_inf_nan=False)
    except ValueError:
        try:
            from_json(body, allow_inf_nan=True)
        except ValueError:
            return None  # malformed anyway: the schema validation says where
        return "NaN, Infinity and -Infinity are not JSON numbers; send null or a finite number"
    stack = [value]
    while stack:  # iterative: a deeply nested body cannot exhaust the Python stack
        v = stack.pop()
        if isinstance(v, float):
            if not math.isfinite(v):
                return (
                    "a number is beyond the range of a double (e.g. 1e999, which would be "
                    "infinite); JSON numbers must be finite"
                )
        elif isinstance(v, int) and not isinstance(v, bool):
            if abs(v) >= _MAX_DOUBLE:
                return "an integer has more than 308 digits; JSON numbers must be finite doubles"
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return None


def _validation_error(exc: ValidationError) -> RequestError:
    """400 for a body that is not JSON, 422 (with every problem) for JSON of the wrong shape."""
    errors = exc.errors(include_url=False)
    bad_json = next((e for e in errors if e["type"] == "json_invalid"), None)
    if bad_json is not None:
        reason = bad_json.get("ctx", {}).get("error", "parse error")
        return RequestError(
            400, "malformed_json", f"the request body is not valid JSON ({reason})."
        )
    detail = [
        {
            "loc": ["body", *map(str, e["loc"])],
            "msg": e["msg"],
            "type": e["type"],
            "hint": _hint(e),
        }
        for e in errors
    ]
    return RequestError(422, "invalid_request", detail)


def _hint(error: Mapping[str, Any]) -> str:
    """How to fix one schema problem, in words (every 422 item carries one)."""
    kind, ctx = error["type"], error.get("ctx") or {}
    where = ".".join(map(str, error["loc"])) or "the body"
    if kind == "string_too_long":
        return (
            f"{where}: send at most {ctx.get('max_length')} characters (a long id can be "
            f"replaced by a hash of it)."
        )
    if kind in ("string_too_short", "too_short"):
        return f"{where}: must not be empty."
    if kind == "too_long":
        return f"{where}: at most {ctx.get('max_length')} items; split the request."
    if kind == "extra_forbidden":
        return f"{where}: remove this key; the keys allowed are in the request schema at /docs."
    if kind == "missing":
        return f"{where}: add this required key (see the request schema at /docs)."
    return f"{where}: {error['msg'].lower()}; see the request schema at /docs."


def read_request(adapter: TypeAdapter[Any], body: bytes) -> Any:
    """The body checked by ``adapter`` (plain dicts), or a :class:`RequestError` (400/422)."""
    reason = _not_json_numbers(body)
    if reason is not None:
        raise RequestError(400, "malformed_json", f"the request body is not valid JSON: {reason}.")
    try:
        return adapter.validate_json(body)
    except ValidationError as exc:
        raise _validation_error(exc) from None


# ---------------------------------------------------------------------------------------------
# plausible event times
# ---------------------------------------------------------------------------------------------
class TimeRange:
    """The plausible ``[start, end)`` of event (and decision) times, in microseconds UTC."""

    def __init__(self, plausible_range: Any) -> None:
        bounds = plausible_bounds(plausible_range)
        if bounds is None:
            self.lo, self.hi = -(2**63), 2**63 - 1
            self.text = "any time"
        else:
            lo, hi = bounds
            self.lo, self.hi = (int(b.as_unit("us").asm8.view("i8")) for b in bounds)
            self.text = f"[{_day(lo)}, {_day(hi)})"

    def check_events(self, events: Sequence[Mapping[str, Any]], t: np.ndarray) -> None:
        """EventLogError naming the events whose time (``t``, us) is outside the range."""
        if len(t) == 0 or (t.min() >= self.lo and t.max() < self.hi):
            return
        bad = np.flatnonzero((t < self.lo) | (t >= self.hi))
        problems = [
            f"event {i}: timestamp {events[i].get('timestamp')!r:.60} is outside the plausible "
            f"range {self.text}."
            for i in bad[:5]
        ]
        n, first = len(bad), int(bad[0])
        raise EventLogError(
            f"invalid events: {n} timestamp{'s are' if n > 1 else ' is'} outside the plausible "
            f"range {self.text}, e.g. event {first}: {events[first].get('timestamp')!r:.60}. "
            f"Send the real event times (placeholders such as 0001-01-01 or 9999-12-31, and "
            f"epoch numbers read in the wrong unit, are not); a service for other dates is "
            f"started with create_app(..., plausible_range=(start, end)).",
            problems + ([f"... and {n - 5} more"] if n > 5 else []),
        )

    def check_time(self, us: int, what: str, raw: Any) -> None:
        if not self.lo <= us < self.hi:
            raise ConfigError(
                f"{what}={raw!r:.60} is outside the plausible range {self.text}; give a time "
                f"in that range, e.g. '2025-03-01T09:00:00Z'."
            )


def _day(t: Any) -> str:
    return t.date().isoformat() if t == t.normalize() else t.isoformat()


# ---------------------------------------------------------------------------------------------
# the JSON answers of refused requests
# ---------------------------------------------------------------------------------------------
def json_answer(status: int, body: Any, headers: dict[str, str] | None = None) -> Any:
    """``body`` as a JSON response (ASCII JSON: any text a client sent, even a lone
    surrogate, can be echoed safely)."""
    return Response(
        json.dumps(body).encode(), status_code=status, media_type=_JSON, headers=headers
    )


def _error(status: int, error: str, detail: Any, headers: dict[str, str] | None = None) -> Any:
    return json_answer(status, {"error": error, "detail": detail}, headers)


_HTTP_ERRORS = {
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}


def error_answer(exc: BaseException) -> Any:
    """The service's answer to a refused request, or None for an unexpected error (a 500,
    logged by the app): an HTTP error (401 with ``WWW-Authenticate``, 404, 405, 413), a
    :class:`RequestError` (400/422), invalid events (422 with every problem) and an
    unavailable state store (503: nothing acknowledged was lost, retry).

    Examples
    --------
    >>> error_answer(RequestError(400, "malformed_json", "not JSON")).status_code
    400
    >>> error_answer(KeyError("x")) is None
    True
    """
    if isinstance(exc, HTTPException):
        code = exc.status_code
        headers = {"WWW-Authenticate": "Bearer"} if code == 401 else None
        return _error(code, _HTTP_ERRORS.get(code, "http_error"), exc.detail, headers)
    if isinstance(exc, RequestError):
        return _error(exc.status, exc.error, exc.detail)
    if isinstance(exc, EventLogError):
        body = {"error": "invalid_events", "detail": str(exc), "problems": exc.problems}
        return json_answer(422, body)
    if isinstance(exc, StoreUnavailable):
        return _error(
            503,
            "store_unavailable",
            f"the customer state store is not available ({str(exc)[:200]}); nothing was lost: "
            f"retry the request.",
        )
    return None


def batch_too_large(count: int, what: str, limit: int, advice: str = "") -> Any:
    """The 413 answer to a batch of ``count`` ``what`` over ``limit``.

    Examples
    --------
    >>> batch_too_large(12, "events", 10).body
    b'{"error": "batch_too_large", "detail": "12 events in one batch; the limit is 10."}'
    """
    detail = f"{count} {what} in one batch; the limit is {limit}.{advice and ' ' + advice}"
    return _error(413, "batch_too_large", detail)
