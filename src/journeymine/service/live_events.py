"""The live events: the event of ``POST /v1/assign`` and of the next best action
(:class:`EventIn`, :class:`NbaEventIn`), the request schemas of the state routes
(``POST /v1/events`` and ``POST /v1/outcomes``), their limits, and :func:`check_live_events`,
which checks a batch and gives every event its id (idempotency: a replayed batch is
recognised).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, NotRequired

from pydantic import ConfigDict, Field, TypeAdapter
from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12

from journeymine.assignment import parse_time
from journeymine.exceptions import EventLogError
from journeymine.features.encode import MAX_ABS_VALUE
from journeymine.service.store import StoreEvent

__all__ = [
    "DEFAULT_MAX_FUTURE_S",
    "MAX_EVENTS_PER_BATCH",
    "MAX_ID_LENGTH",
    "EventIn",
    "EventsRequest",
    "LiveEvent",
    "NbaEventIn",
    "Outcome",
    "OutcomesRequest",
    "check_live_events",
]

#: Longest customer, event and decision id accepted (longer -> 422).
MAX_ID_LENGTH = 256
#: Most events in one ``POST /v1/events`` (more -> 413).
MAX_EVENTS_PER_BATCH = 10_000
#: Events more than this many seconds after the server's clock are refused (422).
DEFAULT_MAX_FUTURE_S = 300.0
#: Largest absolute event value (its cents must fit the persona aggregates' integers).
MAX_VALUE = MAX_ABS_VALUE

_Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH)]
_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)


class EventIn(TypedDict):
    """One event. Other keys are accepted and ignored."""

    __pydantic_config__ = ConfigDict(allow_inf_nan=False)  # type: ignore[misc]

    timestamp: Annotated[
        str, Field(description="ISO 8601, e.g. 2025-03-01T10:15:00Z (naive = UTC)")
    ]
    activity: Annotated[str, Field(min_length=1)]
    channel: NotRequired[str | None]
    journey_id: NotRequired[str | None]
    session_id: NotRequired[str | None]
    value: NotRequired[float | None]
    customer_id: NotRequired[
        Annotated[str | None, Field(description="optional; must equal the request's customer_id")]
    ]


class NbaEventIn(EventIn):
    """One event, as for ``/v1/assign``; other keys are kept (the policy's product column, by
    default ``product``: a text, an integer id or null)."""

    __pydantic_config__ = ConfigDict(extra="allow", allow_inf_nan=False)  # type: ignore[misc]


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


EVENTS = TypeAdapter(EventsRequest)
OUTCOMES = TypeAdapter(OutcomesRequest)
_EVENT_KEYS = set(LiveEvent.__annotations__) - {"__pydantic_config__"}


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
        parsed = parse_time(e.get("timestamp"))
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
