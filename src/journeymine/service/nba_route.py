"""``POST /v1/next-best-action`` by ``customer_id`` (with a state store and a policy): the
decision from the stored state, in-process (:func:`journeymine.service.live.decide_live`).

The route is the service's hot path, so :class:`NextBestActionRoute` is a plain ASGI
handler that the app calls ahead of FastAPI's routing (inside the body limit, the metrics and
the error guard; ``create_app`` also registers it as a FastAPI route, for the OpenAPI
documentation and the 405 of other methods). A decision that only reads runs on the event
loop: SQLite reads never wait for a writer (WAL) and Redis is read with its asyncio client in
one round trip, and no thread hand-off is paid (under load the hand-offs and the threads'
contention for the GIL cost more than the ~0.1 ms of Python a decision takes). A decision
that writes (``commit``, new ``events``, or a persona to compute and store) runs in a thread.

The decision is :func:`journeymine.actions.next_best_action` on the customer's stored events
plus the contacts committed so far (a contact counts from the second it was reserved; a touch
event that carries the contact's ``decision_id`` replaces it), for the persona
:func:`journeymine.assignment.assign` gives on the stored events: the same answer as the batch
engine on the whole log at the same time. Without ``at`` the decision is made now (the
server's clock).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from starlette.datastructures import Headers

from journeymine.actions.policy import Policy
from journeymine.assignment import parse_time
from journeymine.exceptions import ConfigError
from journeymine.service.limits import error_answer, json_answer, read_body, read_request
from journeymine.service.live import LiveDecider, decide_live
from journeymine.service.live_events import DEFAULT_MAX_FUTURE_S, check_live_events
from journeymine.service.rates import Responses
from journeymine.service.sqlite_store import SQLiteStore
from journeymine.service.store import (
    Contact,
    CustomerState,
    Persona,
    StateStore,
    StoreUnavailable,
)

__all__ = ["NextBestActionRoute"]

logger = logging.getLogger(__name__)


class _Offload(Exception):
    """A decision started on the event loop needs to write: run it in a thread instead."""


@dataclass(eq=False)  # a route is equal to itself only (and hashable)
class NextBestActionRoute:
    """``POST /v1/next-best-action`` by ``customer_id`` for :func:`create_app`.

    Parameters
    ----------
    store : StateStore
    model_of : callable
        ``model_of()`` is the current persona model (hot reloads apply).
    require_key : callable
        The API-key check of the app (raises 401).
    adapter : pydantic.TypeAdapter
        The request schema (``LiveNbaRequest``).
    times : TimeRange
        The plausible range of event and decision times.
    policy : Policy
    responses : ResponseModel, UpliftModel or FeatureUplift
        A FeatureUplift's persona ids must be those of ``model_of()`` (``ConfigError``).
    max_future_s : float
        Events more than this many seconds after the server's clock are refused (422).
    metrics : Metrics, optional
        Counts the decisions.
    next_step : callable, optional
        ``next_step(events, customer_id)``: the next step the answers carry.
    """

    store: StateStore
    model_of: Any
    require_key: Any
    adapter: Any
    times: Any
    policy: Policy
    responses: Responses
    _: KW_ONLY
    max_future_s: float = DEFAULT_MAX_FUTURE_S
    metrics: Any = None
    next_step: Any = None
    decider: LiveDecider = field(init=False)
    inline_reads: bool = field(init=False)
    async_reads: bool = field(init=False)

    def __post_init__(self) -> None:
        model = self.model_of()  # a FeatureUplift's memberships are its probabilities
        personas = None if model is None else model.classes_
        self.decider = LiveDecider(self.policy, self.responses, personas=personas)
        self.inline_reads = isinstance(self.store, SQLiteStore)
        self.async_reads = hasattr(self.store, "read_async")

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """The route as a plain ASGI app (the app's body limit has read the body already)."""
        body = await read_body(receive)
        if body is None:
            return
        try:
            response = await self.answer(Headers(scope=scope), body)
        except Exception as exc:  # the app's answers; anything else is the app's 500
            if isinstance(exc, StoreUnavailable):
                logger.error("state store unavailable on POST %s: %s", scope["path"], exc)
            answer = error_answer(exc)
            if answer is None:
                raise
            response = answer
        await response(scope, receive, send)

    async def answer(self, headers: Any, body: bytes) -> Response:
        """The answer to one request (its headers and raw body)."""
        self.require_key(headers)
        req = read_request(self.adapter, body)
        try:
            if not (req.get("commit") or req.get("events")):
                try:
                    if self.inline_reads:
                        return self.live(req, inline=True)
                    if self.async_reads:
                        return await self.read_and_decide(req)
                except _Offload:
                    pass
            return await run_in_threadpool(self.live, req)
        except ConfigError as exc:
            return json_answer(422, {"error": "invalid_request", "detail": str(exc)})

    def decision_time(self, raw: Any) -> int:
        if raw is None:
            return time.time_ns() // 1000
        parsed = parse_time(raw) if isinstance(raw, str) and raw.strip() else None
        if parsed is None:
            raise ConfigError(f"at={raw!r:.60} is not a time; give e.g. '2025-03-01T09:00Z'.")
        self.times.check_time(parsed[0], "at", raw)
        return int(parsed[0])

    def decide_state(
        self, state: CustomerState, model: Any, at_us: int, persona: int | None
    ) -> tuple[dict[str, Any], Contact | None, Persona | None]:
        """:func:`decide_live` for one stored customer with this route's policy, rates and
        decider: the answer, the contact to reserve and the persona to store."""
        return decide_live(
            state,
            model,
            self.policy,
            self.responses,
            at=at_us,
            persona=persona,
            decider=self.decider,
        )

    def live(self, req: Any, inline: bool = False) -> Response:
        """The decision; ``inline`` (on the event loop): raise _Offload instead of writing."""
        cid = req["customer_id"]
        at_us = self.decision_time(req.get("at"))
        if req.get("events"):
            checked = check_live_events(
                req["events"] or [],
                self.times,
                product_column=self.policy.product_column,
                max_future_s=self.max_future_s,
                customer_id=cid,
            )
            self.store.add_events(checked)
        model = self.model_of()
        persona = req.get("persona")
        seen: list[CustomerState] = []

        def decide(state: CustomerState) -> Any:
            seen[:] = [state]
            if inline and persona is None and not state.persona_fresh:
                raise _Offload  # the persona is computed and stored: in a thread
            return self.decide_state(state, model, at_us, persona)

        commit = bool(req.get("commit", False))
        out = self.store.decide(cid, decide, commit)
        return self.finish(cid, out, commit, seen[0] if seen else None)

    async def read_and_decide(self, req: Any) -> Response:
        """A decision that only reads, on the event loop with the store's async read
        (Redis); _Offload when the persona must be computed and stored."""
        cid = req["customer_id"]
        at_us = self.decision_time(req.get("at"))
        state = await self.store.read_async(cid)  # type: ignore[attr-defined]
        persona = req.get("persona")
        if state is not None and persona is None and not state.persona_fresh:
            raise _Offload
        out = None
        if state is not None:
            out, _, _ = self.decide_state(state, self.model_of(), at_us, persona)
        return self.finish(cid, out, False, state)

    def finish(self, cid: str, out: Any, commit: bool, state: CustomerState | None) -> Response:
        if out is None:
            return json_answer(
                404,
                {
                    "error": "unknown_customer",
                    "detail": f"no events of customer {cid!r:.80}: send them first.",
                },
            )
        out["committed"] = commit and out["action"] is not None
        if self.metrics is not None:
            self.metrics.decided(out, out["committed"])
        if self.next_step is not None and state is not None:  # outside the store's transaction
            out["next_step"] = self.next_step(state.events, cid)
        return Response(json.dumps(out).encode(), media_type="application/json")
