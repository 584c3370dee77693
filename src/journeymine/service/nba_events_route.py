"""``POST /v1/next-best-action`` with the customer's events in the request (the service started
with a policy and response rates but no state store): one customer's events -> persona (the
service's model, or one the caller gives) -> the policy's decision and the "why not" of every
other journey.

The answer is :func:`~journeymine.actions.next_best_action` on the customer's events, so it
equals the batch result for the same events, persona and time. Without ``at`` the decision is
made one second after the customer's last event (the default of ``next_best_action`` and
``jm nba``); the answer's ``at`` is the decision time (to the second), never moved.

Events are checked as for ``/v1/assign`` (same parser, same plausible range), and the policy's
product column must hold a text, an integer id or null. With a state store the route is
:mod:`journeymine.service.nba_route` instead (by ``customer_id``, from the stored state).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, NotRequired

import pandas as pd
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, Field, TypeAdapter
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

from journeymine.actions import FeatureUplift, Policy, next_best_action
from journeymine.assignment import (
    PersonaModel,
    parse_customer,
    parse_time,
    score_parsed,
)
from journeymine.exceptions import ConfigError, EventLogError
from journeymine.schema import ACTIVITY, CHANNEL, CUSTOMER_ID, JOURNEY_ID, TIMESTAMP
from journeymine.service.live import given_persona_name
from journeymine.service.live_events import NbaEventIn
from journeymine.service.rates import Responses, check_personas, served_personas

__all__ = ["decide_one", "nba_router", "request_schemas"]

_JSON = "application/json"


class NbaRequest(TypedDict):
    """One customer's events (as for ``/v1/assign``; keep the product key for product
    suppressions), optionally the decision time and a known persona."""

    customer_id: Annotated[str, Field(min_length=1)]
    events: list[NbaEventIn]
    at: NotRequired[
        Annotated[
            str | None,
            Field(
                description="ISO 8601 decision time (naive = UTC; second resolution); default: "
                "one second after the customer's last event, as jm nba"
            ),
        ]
    ]
    persona: NotRequired[
        Annotated[
            int | None,
            Field(
                strict=True,
                description="known persona id (one of the model's, or -1); default: the model "
                "assigns",
            ),
        ]
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


def _products(events: Sequence[Mapping[str, Any]], column: str) -> list[str | None] | None:
    """The product of each event as text (None when absent), or None when no event has one;
    EventLogError for values that are not a text, an integer id or null."""
    if not any(column in e for e in events):
        return None
    out: list[str | None] = []
    problems = []
    for i, e in enumerate(events):
        p = e.get(column)
        if p is None or isinstance(p, str):
            out.append(p)
        elif isinstance(p, int) and not isinstance(p, bool):
            out.append(str(p))
        else:
            out.append(None)
            problems.append(
                f"event {i}: {column} must be a text, an integer id or null, got "
                f"{type(p).__name__} {json.dumps(p)[:40]}."
            )
    if problems:
        n = len(problems)
        raise EventLogError(
            f"invalid events: {n} event{'s have' if n > 1 else ' has'} a {column} that is not "
            f"a product id (the policy's product_column): send one text id per event, or null."
            f"\n- " + "\n- ".join(problems[:5]),
            problems,
        )
    return out


def _decision_time(raw: Any, times: Any) -> pd.Timestamp | None:
    if raw is None:
        return None
    parsed = parse_time(raw) if raw.strip() else None
    if parsed is None:
        raise ConfigError(f"at={raw!r:.60} is not a time; give e.g. '2025-03-01T09:00Z'.")
    times.check_time(parsed[0], "at", raw)
    return pd.Timestamp(parsed[0], unit="us", tz="UTC")


def decide_one(
    model: PersonaModel,
    policy: Policy,
    responses: Responses,
    req: NbaRequest,
    times: Any,
) -> dict[str, Any]:
    """The decision for one request (raises EventLogError / ConfigError on bad input).

    ``times`` checks event and decision times against the service's plausible range
    (:class:`journeymine.service.limits.TimeRange`). With a FeatureUplift the memberships
    are ``model``'s persona probabilities on the events (also when the persona is given)."""
    cid, events = req["customer_id"], req["events"]
    at = _decision_time(req.get("at"), times)
    # the events are checked (and encoded) as /v1/assign does, whether or not the persona is
    # given; the log for the policy is built from the parsed times and the checked texts
    parsed = parse_customer(events, model, customer_id=cid)
    times.check_events(events, parsed.events.t)
    products = _products(events, policy.product_column)
    persona = req.get("persona")
    probability: float | None = None
    if persona is not None:
        name = given_persona_name(persona, model, served_personas(responses))
    soft = None
    if persona is None or isinstance(responses, FeatureUplift):
        (a,), (proba,) = score_parsed([parsed])  # the persona and the memberships: one pass
        if persona is None:
            persona, name, probability = a.persona, a.name, a.probability
        if isinstance(responses, FeatureUplift):
            check_personas(responses, model.classes_)  # a reloaded model may have others
            soft = pd.DataFrame([proba], index=[cid], columns=[int(c) for c in model.classes_])
    columns: dict[str, Any] = {
        CUSTOMER_ID: cid,
        TIMESTAMP: pd.to_datetime(parsed.events.t, unit="us", utc=True),
        ACTIVITY: [e["activity"] for e in events],
    }
    for key in (CHANNEL, JOURNEY_ID):
        if any(e.get(key) is not None for e in events):
            columns[key] = [e.get(key) for e in events]
    if products is not None:
        columns[policy.product_column] = products
    frame = pd.DataFrame(columns)
    d = next_best_action(
        frame,
        policy,
        responses,
        pd.Series({cid: int(persona)}),
        at=at,
        customers=[cid],
        check="off",  # one customer's events: most activities are absent, by nature
        memberships=soft,
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
    model_of: Any,
    key_dependency: Any,
    policy: Policy,
    responses: Responses,
    read: Any,
    times: Any,
) -> APIRouter:
    """The route, for :func:`journeymine.service.create_app`.

    ``model_of()`` returns the current persona model (hot reloads apply); ``read(adapter,
    body)`` checks the raw body (the service's strict JSON and 400/422 answers); ``times``
    checks times against the service's plausible range. A FeatureUplift must have the persona
    ids of ``model_of()`` (``ConfigError``).
    """
    if isinstance(responses, FeatureUplift):
        if policy.arbitration != "uplift":
            raise ConfigError(
                "a FeatureUplift gives uplift, but the policy arbitrates by response: set "
                "arbitration: uplift in the policy served, or serve response rates "
                "(jm nba --responses-out)."
            )
        check_personas(responses, model_of().classes_)
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
        req = read(_REQUEST, await request.body())
        try:
            out = await run_in_threadpool(decide_one, model_of(), policy, responses, req, times)
        except ConfigError as exc:  # e.g. an unparseable decision time, an unknown persona
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
