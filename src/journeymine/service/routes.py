"""The state routes (added by ``create_app(..., store=...)``): :func:`state_router`.

============================================ =====================================================
``POST /v1/events``                          a batch of events for any customers; idempotent by
                                             ``event_id`` (default: a hash of the event), answered
                                             once the store has them durably; late events are
                                             merged in time order
``GET /v1/customers/{customer_id}``          persona, probability, recent activity, contact
                                             history and the next best action now
``POST /v1/next-best-action``                ``{"customer_id": ..., "commit": true}`` (events
                                             optional: stored first): the decision from the
                                             stored state; ``commit`` reserves the contact
                                             atomically (caps, gaps and suppressions count it);
                                             see :mod:`journeymine.service.nba_route`
``POST /v1/outcomes``                        outcomes of committed decisions (stored as events
                                             of the decision's journey)
============================================ =====================================================

The events are checked by :func:`journeymine.service.live_events.check_live_events`; the
in-process decision for one live customer is :func:`journeymine.service.live.decide_live`.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, NotRequired

import pandas as pd
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import Field, TypeAdapter
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

from journeymine.actions.policy import Policy
from journeymine.assignment import PersonaModel
from journeymine.service.limits import batch_too_large, json_answer
from journeymine.service.live import decide_live, persona_of
from journeymine.service.live_events import (
    _STRICT,
    DEFAULT_MAX_FUTURE_S,
    EVENTS,
    MAX_EVENTS_PER_BATCH,
    MAX_ID_LENGTH,
    OUTCOMES,
    NbaEventIn,
    _Id,
    check_live_events,
)
from journeymine.service.nba_route import NextBestActionRoute
from journeymine.service.openapi import body_doc, schemas_of
from journeymine.service.store import CustomerState, StateStore

__all__ = [
    "MAX_ID_LENGTH",
    "LiveNbaRequest",
    "check_live_events",
    "decide_live",
    "state_router",
]

#: Events a customer's state answer shows (the latest).
RECENT_EVENTS = 20


class LiveNbaRequest(TypedDict):
    """Next best action of a live customer from the stored state."""

    __pydantic_config__ = _STRICT  # type: ignore[misc]

    customer_id: _Id
    commit: NotRequired[
        Annotated[bool, Field(strict=True, description="reserve the chosen contact")]
    ]
    at: NotRequired[Annotated[str | None, Field(description="ISO 8601 decision time; default now")]]
    events: NotRequired[
        Annotated[
            list[NbaEventIn] | None,
            Field(description="new events of this customer, stored before deciding"),
        ]
    ]
    persona: NotRequired[Annotated[int | None, Field(strict=True)]]


LIVE_NBA = TypeAdapter(LiveNbaRequest)


def _iso(t_us: int) -> str:
    return pd.Timestamp(t_us, unit="us", tz="UTC").isoformat()


def _error(status: int, error: str, detail: Any) -> Any:
    return json_answer(status, {"error": error, "detail": detail})


def state_router(
    store: StateStore,
    model_of: Any,
    require_key: Any,
    read: Any,
    times: Any,
    policy: Policy | None = None,
    *,
    max_future_s: float = DEFAULT_MAX_FUTURE_S,
    metrics: Any = None,
    next_step: Any = None,
    nba: NextBestActionRoute | None = None,
) -> APIRouter:
    """The routes of the module for :func:`journeymine.service.create_app` (``metrics``: a
    :class:`journeymine.service.metrics.Metrics` that counts events and decisions;
    ``next_step(events, customer_id)``: the next step the answers carry, when a next-step
    model is served; ``nba``: the next-best-action route, with a policy)."""
    router = APIRouter()
    product_column = policy.product_column if policy is not None else "product"
    decider = nba.decider if nba is not None else None

    async def call(fn: Any, *args: Any, **kw: Any) -> Any:
        return await run_in_threadpool(fn, *args, **kw)

    @router.post("/v1/events", tags=["state"], openapi_extra=body_doc("EventsRequest"))
    async def post_events(request: Request) -> Any:
        """Store a batch of events (any customers); idempotent by ``event_id``; answered once
        the events are durable."""
        require_key(request.headers)
        req = read(EVENTS, await request.body())
        events = req["events"]
        if len(events) > MAX_EVENTS_PER_BATCH:
            return batch_too_large(len(events), "events", MAX_EVENTS_PER_BATCH)
        checked = check_live_events(
            events, times, product_column=product_column, max_future_s=max_future_s
        )
        new, dup = await call(store.add_events, checked)
        if metrics is not None:
            metrics.received(new, dup)
        customers = len({e.customer_id for e in checked})
        return json_answer(200, {"accepted": new, "duplicates": dup, "customers": customers})

    def summary(state: CustomerState, model: PersonaModel) -> dict[str, Any]:
        persona, name, probability, update = persona_of(state, model)
        if update is not None:
            store.set_persona(state.customer_id, update)
        return {
            "customer_id": state.customer_id,
            "persona": persona,
            "persona_name": name,
            "probability": probability,
            "n_events": len(state.events),
            "recent_events": state.events[-RECENT_EVENTS:],
            "contacts": [asdict(c) | {"at": _iso(c.t_us)} for c in state.contacts],
        }

    def customer(customer_id: str) -> Any:
        model = model_of()
        state = store.get(customer_id)
        if state is None:
            return None
        out = summary(state, model)
        if nba is not None:
            answer, _, _ = decide_live(state, model, nba.policy, nba.responses, decider=decider)
            out["next_best_action"] = answer
        else:
            out["next_best_action"] = None
        if next_step is not None:
            out["next_step"] = next_step(state.events, customer_id)
        return out

    @router.get("/v1/customers/{customer_id}", tags=["state"])
    async def get_customer(customer_id: str, request: Request) -> Any:
        """A customer's state: persona, probability, recent events, contact history, and the
        next best action now (not committed)."""
        require_key(request.headers)
        if len(customer_id) > MAX_ID_LENGTH:
            return _error(
                422, "invalid_request", f"customer_id is longer than {MAX_ID_LENGTH} characters."
            )
        out = await call(customer, customer_id)
        if out is None:
            return _error(404, "unknown_customer", f"no events of customer {customer_id!r:.80}.")
        return json_answer(200, out)

    @router.post("/v1/outcomes", tags=["state"], openapi_extra=body_doc("OutcomesRequest"))
    async def post_outcomes(request: Request) -> Any:
        """Outcomes of committed decisions; each is stored as an event of the decision's
        customer and journey (idempotent by ``outcome_id``, default decision + activity +
        time)."""
        require_key(request.headers)
        req = read(OUTCOMES, await request.body())

        def run() -> Any:
            contacts = {o["decision_id"]: store.contact(o["decision_id"]) for o in req["outcomes"]}
            unknown = sorted(k for k, c in contacts.items() if c is None)
            if unknown:
                return _error(404, "unknown_decision", f"no committed decision {unknown[:5]}.")
            events = []
            for o in req["outcomes"]:
                c = contacts[o["decision_id"]]
                assert c is not None
                oid = (
                    o.get("outcome_id") or f"o:{o['decision_id']}:{o['activity']}:{o['timestamp']}"
                )
                e = {
                    "customer_id": c.customer_id,
                    "timestamp": o["timestamp"],
                    "activity": o["activity"],
                    "channel": c.channel,
                    "journey_id": c.journey,
                    "decision_id": c.decision_id,
                    "event_id": oid,
                }
                if o.get("value") is not None:
                    e["value"] = o["value"]
                events.append(e)
            checked = check_live_events(
                events, times, product_column=product_column, max_future_s=max_future_s
            )
            new, dup = store.add_events(checked)
            if metrics is not None:
                metrics.received(new, dup)
            return json_answer(200, {"accepted": new, "duplicates": dup})

        return await call(run)

    if nba is None:
        return router
    route = nba

    @router.post("/v1/next-best-action", tags=["actions"], openapi_extra=body_doc("LiveNbaRequest"))
    async def next_best(request: Request) -> Any:
        """The journey to send this customer now from the stored state (``commit``: reserve
        it atomically), with ``decision_id`` and the propensity; ``action`` is null when
        nothing is sent."""
        return await route.answer(request.headers, await request.body())

    return router


def request_schemas() -> dict[str, Any]:
    """The request types of these routes, for the OpenAPI components."""
    return schemas_of(EVENTS, OUTCOMES, LIVE_NBA)
