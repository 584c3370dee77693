"""Persona assignment over HTTP: ``POST /v1/assign`` as a plain ASGI app
(:class:`AssignRoute`) whose requests that arrive together are scored in one vectorised pass
(:class:`Coalescer`), and the scoring of ``POST /v1/assign/batch`` (:func:`score_batch`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi.responses import Response
from starlette.datastructures import Headers

from journeymine.assignment import (
    Assignment,
    ParsedCustomer,
    PersonaModel,
    assign_parsed,
    parse_customer,
)
from journeymine.exceptions import EventLogError
from journeymine.service.limits import TimeRange, read_body, read_request
from journeymine.service.model_holder import ModelHolder

__all__ = ["AssignRoute", "Coalescer", "score_batch"]


class Coalescer:
    """Scores the single-customer requests that arrive together in one vectorised pass.

    Each request parses and checks its own events first (a bad request fails alone), then
    waits for the next turn of the event loop; every request parsed by then is scored by one
    :func:`~journeymine.assignment.assign_parsed` call, whose results equal
    :func:`~journeymine.assignment.assign` one by one. There is no timer: a lone request is
    scored on the next turn, and under load the requests that queued up while the previous
    pass ran form the next pass, so the aggregate, feature and scoring work (most of a
    request's cost) is shared instead of repeated.
    """

    def __init__(self) -> None:
        self._pending: list[tuple[ParsedCustomer, asyncio.Future[Assignment]]] = []
        self.requests = 0  # requests scored
        self.passes = 0  # vectorised passes they took

    async def score(self, parsed: ParsedCustomer) -> Assignment:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Assignment] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)
        self._pending.append((parsed, future))
        return await future

    def _flush(self) -> None:
        batch, self._pending = self._pending, []
        self.requests += len(batch)
        self.passes += 1
        try:
            results = assign_parsed([parsed for parsed, _ in batch])
        except Exception as exc:  # every waiting request gets the error (500 for each)
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():  # a cancelled request (client gone) is skipped
                future.set_result(result)


@dataclass(eq=False)
class AssignRoute:
    """``POST /v1/assign`` as a plain ASGI app: the per-request cost of the service is kept
    to the key check, one pydantic-core call from the raw bytes to checked dicts (``adapter``,
    the ``AssignRequest`` schema), the parse of the events, a share of a vectorised scoring
    pass (:class:`Coalescer`) and the response bytes. FastAPI's request object, body handling
    and dependency solving (about a fifth of a request's time when measured) are skipped;
    errors still go through the app's exception handlers, so the 401/400/422/500 answers are
    the same as on every other route."""

    holder: ModelHolder
    require_key: Any
    coalescer: Coalescer
    times: TimeRange
    adapter: Any
    next_step: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.require_key(Headers(scope=scope))
        body = await read_body(receive)
        if body is None:
            return
        req = read_request(self.adapter, body)
        model = self.holder.model
        parsed = parse_customer(req["events"], model, customer_id=req["customer_id"])
        self.times.check_events(req["events"], parsed.events.t)
        result = await self.coalescer.score(parsed)
        answer = result.to_dict()
        if self.next_step is not None:
            answer["next_step"] = self.next_step(req["events"], req["customer_id"])
        response = Response(json.dumps(answer).encode(), media_type="application/json")
        await response(scope, receive, send)


def score_batch(
    model: PersonaModel,
    customers: Sequence[Mapping[str, Any]],
    times: TimeRange,
    next_step: Any = None,
) -> bytes:
    """The answer of ``POST /v1/assign/batch``: one model for the whole batch, even during a
    reload; every customer is checked before any is scored, then all are scored in one
    vectorised pass."""
    parsed = []
    for i, c in enumerate(customers):
        try:
            one = parse_customer(c["events"], model, customer_id=c["customer_id"])
            times.check_events(c["events"], one.events.t)
            parsed.append(one)
        except EventLogError as exc:
            raise EventLogError(
                f"customer {i} ({c['customer_id']!r}): {exc}", exc.problems
            ) from exc
    results = [a.to_dict() for a in assign_parsed(parsed)]
    if next_step is not None:
        for answer, c in zip(results, customers, strict=True):
            answer["next_step"] = next_step(c["events"], c["customer_id"])
    return json.dumps({"results": results}).encode()
