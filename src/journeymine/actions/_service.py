"""``POST /v1/next-best-action`` for the HTTP service (added when it is started with a policy
and response rates): one customer's events -> persona (the service's model, or one the caller
gives) -> the policy's decision and the "why not" of every other journey.

The answer is :func:`~journeymine.actions.next_best_action` on the customer's events, so it
equals the batch result for the same events, persona and time.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Annotated, Any, NotRequired

import pandas as pd
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

from journeymine.actions.engine import next_best_action
from journeymine.actions.policy import Policy
from journeymine.actions.response import ResponseModel
from journeymine.assignment._assign import assign
from journeymine.assignment._model import PersonaModel
from journeymine.exceptions import ConfigError
from journeymine.schema import CUSTOMER_ID

__all__ = ["nba_router"]

_JSON = "application/json"


class NbaRequest(TypedDict):
    """One customer's events (as for ``/v1/assign``; keep the product key for product
    suppressions), optionally the decision time and a known persona."""

    customer_id: Annotated[str, Field(min_length=1)]
    events: list[dict[str, Any]]
    at: NotRequired[
        Annotated[str | None, Field(description="ISO 8601 decision time; default: now (UTC)")]
    ]
    persona: NotRequired[
        Annotated[int | None, Field(description="known persona id; default: the model assigns")]
    ]


class WhyNot(BaseModel):
    journey: str
    reason: str
    detail: str


class NbaResponse(BaseModel):
    customer_id: str
    at: str
    persona: int
    persona_name: str
    persona_probability: float | None
    action: str | None
    channel: str | None
    product: str | None
    expected_response: float | None
    why_not: list[WhyNot]


_REQUEST = TypeAdapter(NbaRequest)


def _clean(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return value


def decide_one(
    model: PersonaModel, policy: Policy, responses: ResponseModel, req: NbaRequest
) -> dict[str, Any]:
    """The decision for one request (raises EventLogError / ConfigError on bad input)."""
    cid, events = req["customer_id"], req["events"]
    persona = req.get("persona")
    probability: float | None = None
    if persona is None:
        a = assign(events, model, customer_id=cid)
        persona, name, probability = a.persona, a.name, a.probability
    else:
        name = model.persona_names_.get(int(persona), f"persona {persona}")
    frame = pd.DataFrame([{**e, CUSTOMER_ID: cid} for e in events])
    at = req.get("at") or dt.datetime.now(dt.UTC).isoformat()
    d = next_best_action(
        frame, policy, responses, pd.Series({cid: int(persona)}), at=at, customers=[cid]
    )
    row = d.actions.iloc[0]
    return {
        "customer_id": cid,
        "at": row["at"].isoformat(),
        "persona": int(persona),
        "persona_name": name,
        "persona_probability": probability,
        "action": _clean(row["action"]),
        "channel": _clean(row["channel"]),
        "product": _clean(row["product"]),
        "expected_response": _clean(float(row["expected_response"])),
        "why_not": [
            {"journey": r.journey, "reason": r.reason, "detail": r.detail}
            for r in d.why_not.itertuples(index=False)
        ],
    }


def nba_router(
    model_of: Any, key_dependency: Any, policy: Policy, responses: ResponseModel, invalid: Any
) -> APIRouter:
    """The route, for :func:`journeymine.assignment.service.create_app`.

    ``model_of()`` returns the current persona model (hot reloads apply); ``invalid(exc)`` turns
    a pydantic ValidationError into the service's 400/422 answer.
    """
    if list(responses.journeys_) != [j.name for j in policy.journeys]:
        raise ConfigError(
            f"the response rates are for journeys {responses.journeys_}, the policy has "
            f"{[j.name for j in policy.journeys]}; refit them with this policy."
        )
    router = APIRouter()
    body = {"$ref": "#/components/schemas/NbaRequest"}

    @router.post(
        "/v1/next-best-action",
        response_model=NbaResponse,
        dependencies=[Depends(key_dependency)],
        tags=["actions"],
        openapi_extra={"requestBody": {"required": True, "content": {_JSON: {"schema": body}}}},
    )
    async def next_best(request: Request) -> Any:
        """The journey to send this customer now, and why not the others."""
        try:
            req = _REQUEST.validate_json(await request.body())
        except ValidationError as exc:
            return invalid(exc)
        try:
            out = await run_in_threadpool(decide_one, model_of(), policy, responses, req)
        except ConfigError as exc:  # e.g. an unparseable decision time
            return Response(
                json.dumps({"error": "invalid_request", "detail": str(exc)}),
                status_code=422,
                media_type=_JSON,
            )
        return Response(json.dumps(out), media_type=_JSON)

    return router


def request_schemas() -> dict[str, Any]:
    """``NbaRequest`` and the types it uses, for the OpenAPI components."""
    js = _REQUEST.json_schema(ref_template="#/components/schemas/{model}")
    out = dict(js.pop("$defs", {}))
    out[js["title"]] = js
    return out
