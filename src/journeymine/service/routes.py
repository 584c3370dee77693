"""Continuous decisioning routes (added by ``create_app(..., store=...)``); the in-process
decision for one live customer (:func:`decide_live`) is in :mod:`journeymine.service.live`.

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
                                             atomically (caps, gaps and suppressions count it)
``POST /v1/outcomes``                        outcomes of committed decisions (stored as events
                                             of the decision's journey)
============================================ =====================================================

The decision is :func:`journeymine.actions.next_best_action` on the customer's stored events
plus the contacts committed so far (a contact counts from the second it was reserved; a touch
event that carries the contact's ``decision_id`` replaces it), for the persona
:func:`journeymine.assignment.assign` gives on the stored events: the same answer as the batch
engine on the whole log at the same time. Without ``at`` the decision is made now (the
server's clock).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Annotated, Any, NotRequired

import pandas as pd
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import ConfigDict, Field, TypeAdapter
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

from journeymine.actions._service import NbaEventIn
from journeymine.actions.policy import Policy
from journeymine.actions.response import ResponseModel
from journeymine.assignment._inputs import _parse_time
from journeymine.assignment._model import PersonaModel
from journeymine.exceptions import ConfigError, EventLogError
from journeymine.features.encode import MAX_ABS_VALUE
from journeymine.service.live import LiveDecider, decide_live, persona_of
from journeymine.service.state import CustomerState, SQLiteStore, StateStore, StoreEvent

__all__ = ["MAX_ID_LENGTH", "check_live_events", "decide_live", "state_router"]

_JSON = "application/json"
#: Longest customer, event and decision id accepted (longer -> 422).
MAX_ID_LENGTH = 256
#: Most events in one ``POST /v1/events`` (more -> 413).
MAX_EVENTS_PER_BATCH = 10_000
#: Events more than this many seconds after the server's clock are refused (422).
DEFAULT_MAX_FUTURE_S = 300.0
RECENT_EVENTS = 20
#: Largest absolute event value (its cents must fit the persona aggregates' integers).
MAX_VALUE = MAX_ABS_VALUE

_Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)]
_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)


class LiveEvent(TypedDict):
    """One event of ``POST /v1/events``. Keys other than these (and the policy's product
    column, by default ``product``) are refused."""

    __pydantic_config__ = ConfigDict(extra="allow", allow_inf_nan=False)  # type: ignore[misc]

    customer_id: _Id
    timestamp: Annotated[str, Field(description="ISO 8601 (naive = UTC)")]
    activity: _Id
    channel: NotRequired[str | None]
    event_id: NotRequired[
        Annotated[
            _Id,
            Field(description="idempotency key; default: a hash of the event's content"),
        ]
    ]
    journey_id: NotRequired[str | None]
    session_id: NotRequired[str | None]
    value: NotRequired[float | None]
    decision_id: NotRequired[
        Annotated[
            str | None,
            Field(description="the committed decision this touch delivers (replaces it)"),
        ]
    ]


class EventsRequest(TypedDict):
    """A batch of events for any customers (at most 10,000)."""

    __pydantic_config__ = _STRICT  # type: ignore[misc]

    events: Annotated[list[LiveEvent], Field(min_length=1)]


class Outcome(TypedDict):
    """The outcome of a committed decision (e.g. ``email_click``)."""

    __pydantic_config__ = _STRICT  # type: ignore[misc]

    decision_id: _Id
    activity: _Id
    timestamp: str
    value: NotRequired[float | None]
    outcome_id: NotRequired[_Id]


class OutcomesRequest(TypedDict):
    __pydantic_config__ = _STRICT  # type: ignore[misc]

    outcomes: Annotated[list[Outcome], Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH)]


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


_EVENTS = TypeAdapter(EventsRequest)
_OUTCOMES = TypeAdapter(OutcomesRequest)
_LIVE_NBA = TypeAdapter(LiveNbaRequest)
_EVENT_KEYS = set(LiveEvent.__annotations__) - {"__pydantic_config__"}


def _iso(t_us: int) -> str:
    return pd.Timestamp(t_us, unit="us", tz="UTC").isoformat()


def check_live_events(
    events: Sequence[Mapping[str, Any]],
    times: Any,
    *,
    product_column: str = "product",
    now_us: int | None = None,
    max_future_s: float = DEFAULT_MAX_FUTURE_S,
    customer_id: str | None = None,
) -> list[StoreEvent]:
    """Check a batch of live events; every problem at once as an EventLogError (422).

    Refused: keys other than the documented ones and ``product_column``; an unparseable
    timestamp, one outside the plausible range (``times``) or more than ``max_future_s``
    after ``now_us``; a product that is not a text, an integer id or null; an ``event_id``
    repeated within the batch; a ``customer_id`` other than ``customer_id`` (when given).
    Events without ``event_id`` get ``h:<hash of the event>`` (the k-th identical event of a
    batch ``...:k``), so that a replayed batch is recognised."""
    now_us = time.time_ns() // 1000 if now_us is None else now_us
    horizon = now_us + int(max_future_s * 1e6)
    allowed = _EVENT_KEYS | {product_column}
    problems: list[str] = []
    out: list[StoreEvent] = []
    seen: dict[str, int] = {}
    hashes: dict[str, int] = {}
    for i, e in enumerate(events):
        e = dict(e)
        if customer_id is not None:
            if e.setdefault("customer_id", customer_id) not in (customer_id, None):
                problems.append(f"event {i}: customer_id differs from the request's.")
                continue
            e["customer_id"] = customer_id
        unknown = sorted(set(e) - allowed)
        if unknown:
            problems.append(
                f"event {i}: unknown field(s) {unknown[:5]}; allowed: {sorted(allowed)}."
            )
            continue
        parsed = _parse_time(e.get("timestamp"))
        if parsed is None:
            problems.append(f"event {i}: timestamp {e.get('timestamp')!r:.60} is not a time.")
            continue
        t = parsed[0]
        if not times.lo <= t < times.hi:
            problems.append(
                f"event {i}: timestamp {e['timestamp']!r:.60} is outside the plausible range "
                f"{times.text}."
            )
            continue
        if t > horizon:
            problems.append(
                f"event {i}: timestamp {e['timestamp']!r:.60} is "
                f"{(t - now_us) / 1e6:,.0f} s after the server's clock (at most "
                f"{max_future_s:g} s is accepted); send the time the event happened, with its "
                f"offset (e.g. '2025-03-01T10:15:00Z'), and check the sender's clock."
            )
            continue
        blank = [k for k in ("customer_id", "activity") if not str(e.get(k) or "").strip()]
        if blank:
            problems.append(f"event {i}: {' and '.join(blank)} must not be blank.")
            continue
        value = e.get("value")
        if value is not None and not (
            isinstance(value, int | float) and math.isfinite(value) and abs(value) <= MAX_VALUE
        ):
            problems.append(
                f"event {i}: value {value!r:.40} is out of range (a finite number with "
                f"|value| <= {MAX_VALUE:g}); send the event's amount, or null."
            )
            continue
        p = e.get(product_column)
        if p is not None and not isinstance(p, str):
            if isinstance(p, int) and not isinstance(p, bool):
                e[product_column] = str(p)
            else:
                problems.append(f"event {i}: {product_column} must be a text, an id or null.")
                continue
        eid = e.get("event_id")
        if eid is None:
            digest = hashlib.sha256(json.dumps(e, sort_keys=True).encode()).hexdigest()[:32]
            k = hashes.get(digest, 0)
            hashes[digest] = k + 1
            eid = f"h:{digest}" + (f":{k}" if k else "")
            e["event_id"] = eid
        elif eid in seen:
            problems.append(
                f"event {i}: event_id {eid!r:.60} repeats event {seen[eid]} of this batch; give "
                f"each event its own event_id (sending a stored event again is fine: it is "
                f"counted as a duplicate)."
            )
            continue
        seen[eid] = i
        out.append(StoreEvent(eid, str(e["customer_id"]), int(t), e))
    if problems:
        n = len(problems)
        raise EventLogError(
            f"invalid events: {n} problem{'s' if n > 1 else ''}, nothing was stored. First: "
            f"{problems[0]}",
            problems[:20] + ([f"... and {n - 20} more"] if n > 20 else []),
        )
    return out


class _Offload(Exception):
    """A decision started on the event loop needs to write: run it in a thread instead."""


def _answer(status: int, body: Any) -> Response:
    return Response(json.dumps(body).encode(), status_code=status, media_type=_JSON)


def _error(status: int, error: str, detail: Any) -> Response:
    return _answer(status, {"error": error, "detail": detail})


def _body(schema: str) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{schema}"}
    return {"requestBody": {"required": True, "content": {_JSON: {"schema": ref}}}}


def state_router(
    store: StateStore,
    model_of: Any,
    require_key: Any,
    read: Any,
    times: Any,
    policy: Policy | None = None,
    responses: ResponseModel | None = None,
    *,
    max_future_s: float = DEFAULT_MAX_FUTURE_S,
    metrics: Any = None,
    next_step: Any = None,
) -> APIRouter:
    """The routes of the module for :func:`journeymine.service.create_app` (``metrics``: a
    :class:`journeymine.service.metrics.Metrics` that counts events and decisions;
    ``next_step(events, customer_id)``: the next step the answers carry, when a next-step
    model is served)."""
    router = APIRouter()
    product_column = policy.product_column if policy is not None else "product"
    decider = (
        LiveDecider(policy, responses) if policy is not None and responses is not None else None
    )
    # decisions that only read run on the event loop: SQLite reads never wait for a writer
    # (WAL); Redis is read with its asyncio client (a blocking network call could stall the
    # loop); every write goes to a thread
    inline_reads = isinstance(store, SQLiteStore)
    async_reads = hasattr(store, "read_async")

    async def call(fn: Any, *args: Any, **kw: Any) -> Any:
        return await run_in_threadpool(fn, *args, **kw)

    @router.post("/v1/events", tags=["state"], openapi_extra=_body("EventsRequest"))
    async def post_events(request: Request) -> Any:
        """Store a batch of events (any customers); idempotent by ``event_id``; answered once
        the events are durable."""
        require_key(request.headers)
        req = read(_EVENTS, await request.body())
        events = req["events"]
        if len(events) > MAX_EVENTS_PER_BATCH:
            return _error(
                413,
                "batch_too_large",
                f"{len(events)} events in one batch; the limit is {MAX_EVENTS_PER_BATCH}.",
            )
        checked = check_live_events(
            events, times, product_column=product_column, max_future_s=max_future_s
        )
        new, dup = await call(store.add_events, checked)
        if metrics is not None:
            metrics.received(new, dup)
        customers = len({e.customer_id for e in checked})
        return _answer(200, {"accepted": new, "duplicates": dup, "customers": customers})

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
        if policy is not None and responses is not None:
            nba, _, _ = decide_live(state, model, policy, responses, decider=decider)
            out["next_best_action"] = nba
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
        return _answer(200, out)

    @router.post("/v1/outcomes", tags=["state"], openapi_extra=_body("OutcomesRequest"))
    async def post_outcomes(request: Request) -> Any:
        """Outcomes of committed decisions; each is stored as an event of the decision's
        customer and journey (idempotent by ``outcome_id``, default decision + activity +
        time)."""
        require_key(request.headers)
        req = read(_OUTCOMES, await request.body())

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
            return _answer(200, {"accepted": new, "duplicates": dup})

        return await call(run)

    if policy is None or responses is None:
        return router

    def decision_time(raw: Any) -> int:
        if raw is None:
            return time.time_ns() // 1000
        parsed = _parse_time(raw) if isinstance(raw, str) and raw.strip() else None
        if parsed is None:
            raise ConfigError(f"at={raw!r:.60} is not a time; give e.g. '2025-03-01T09:00Z'.")
        times.check_time(parsed[0], "at", raw)
        return int(parsed[0])

    def live(req: LiveNbaRequest, inline: bool = False) -> Any:
        """The decision; ``inline`` (on the event loop): raise _Offload instead of writing."""
        cid = req["customer_id"]
        at_us = decision_time(req.get("at"))
        if req.get("events"):
            checked = check_live_events(
                req["events"] or [],
                times,
                product_column=product_column,
                max_future_s=max_future_s,
                customer_id=cid,
            )
            store.add_events(checked)
        model = model_of()

        seen: list[CustomerState] = []

        def decide(state: CustomerState) -> Any:
            seen[:] = [state]
            if inline and req.get("persona") is None and not state.persona_fresh:
                raise _Offload  # the persona is computed and stored: in a thread
            return decide_live(
                state,
                model,
                policy,
                responses,
                at=at_us,
                persona=req.get("persona"),
                decider=decider,
            )

        commit = bool(req.get("commit", False))
        out = store.decide(cid, decide, commit)
        return finish(cid, out, commit, seen[0] if seen else None)

    def finish(cid: str, out: Any, commit: bool, state: CustomerState | None) -> Any:
        if out is None:
            return _error(
                404, "unknown_customer", f"no events of customer {cid!r:.80}: send them first."
            )
        out["committed"] = commit and out["action"] is not None
        if metrics is not None:
            metrics.decided(out, out["committed"])
        if next_step is not None and state is not None:  # outside the store's transaction
            out["next_step"] = next_step(state.events, cid)
        return _answer(200, out)

    async def read_and_decide(req: LiveNbaRequest) -> Any:
        """A decision that only reads, on the event loop with the store's async read
        (Redis); _Offload when the persona must be computed and stored."""
        cid = req["customer_id"]
        at_us = decision_time(req.get("at"))
        state = await store.read_async(cid)  # type: ignore[attr-defined]
        if state is not None and req.get("persona") is None and not state.persona_fresh:
            raise _Offload
        out = None
        if state is not None:
            out, _, _ = decide_live(
                state,
                model_of(),
                policy,
                responses,
                at=at_us,
                persona=req.get("persona"),
                decider=decider,
            )
        return finish(cid, out, False, state)

    @router.post("/v1/next-best-action", tags=["actions"], openapi_extra=_body("LiveNbaRequest"))
    async def next_best(request: Request) -> Any:
        """The journey to send this customer now from the stored state (``commit``: reserve
        it atomically), with ``decision_id`` and the propensity; ``action`` is null when
        nothing is sent."""
        require_key(request.headers)
        req = read(_LIVE_NBA, await request.body())
        try:
            if not (req.get("commit") or req.get("events")):
                # a read and ~0.3 ms of Python: on the event loop, no thread hand-off (under
                # load the hand-offs and the threads' contention for the GIL cost more than the
                # work); anything that writes goes to a thread
                try:
                    if inline_reads:
                        return live(req, inline=True)
                    if async_reads:
                        return await read_and_decide(req)
                except _Offload:
                    pass
            return await call(live, req)
        except ConfigError as exc:
            return _error(422, "invalid_request", str(exc))

    return router


def unavailable_answer(exc: Exception) -> Response:
    return _error(
        503,
        "store_unavailable",
        f"the customer state store is not available ({str(exc)[:200]}); nothing was lost: "
        f"retry the request.",
    )


def request_schemas() -> dict[str, Any]:
    """The request types of these routes, for the OpenAPI components."""
    out: dict[str, Any] = {}
    for adapter in (_EVENTS, _OUTCOMES, _LIVE_NBA):
        js = adapter.json_schema(ref_template="#/components/schemas/{model}")
        out.update(js.pop("$defs", {}))
        out[js["title"]] = js
    return out
