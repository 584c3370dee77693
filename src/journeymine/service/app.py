"""HTTP service for persona assignment (FastAPI + uvicorn; ``pip install journeymine[serve]``).

Endpoints
---------
============================= ===== ======================================================
``POST /v1/assign``           key   one customer's events -> persona, name, probability...
``POST /v1/assign/batch``     key   several customers (at most ``max_batch``, else 413)
``GET /v1/model``             key   the model card
``POST /v1/model/reload``     key   load the model file again and swap it in atomically
``POST /v1/next-best-action`` key   with a policy: the journey to send now, why not others
``GET /health``               none  liveness and the loaded model's checksum
``GET /docs``                 none  OpenAPI documentation (``/openapi.json``)
============================= ===== ======================================================

Security and robustness (the API key, body size and time limits, strict JSON, plausible
times, slow clients, and the JSON answer of every refusal, never a stack trace): see
:mod:`journeymine.service.limits`. Hot reload: :mod:`journeymine.service.model_holder`.
Speed: ``POST /v1/assign`` (:mod:`journeymine.service.assign_routes`) and, with a state
store, ``POST /v1/next-best-action`` (:mod:`journeymine.service.nba_route`) are plain ASGI
routes; ``serve(..., workers=N)`` runs N processes. The stateless next best action (events in
the request, :mod:`journeymine.service.nba_events_route`) decides one second after the
customer's last event without ``at``, as :func:`journeymine.actions.next_best_action` and
``jm nba`` do.

Examples
--------
>>> from journeymine.service import create_app
>>> create_app  # doctest: +ELLIPSIS
<function create_app at ...>
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

from journeymine.exceptions import ConfigError, EventLogError, ModelError
from journeymine.schema import PLAUSIBLE_RANGE

try:
    from fastapi import Depends, FastAPI, Request
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import Response
    from pydantic import BaseModel, Field, TypeAdapter
    from starlette.exceptions import HTTPException as StarletteHTTPException
    from starlette.routing import Route
    from typing_extensions import TypedDict  # pydantic needs it on Python < 3.12
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError(
        "journeymine.service needs the serve extra: pip install 'journeymine[serve]'"
    ) from exc

from journeymine.service.assign_routes import AssignRoute, Coalescer, score_batch
from journeymine.service.auth import key_checker
from journeymine.service.limits import (
    _JSON,
    API_KEY_ENV,
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_REQUEST_TIMEOUT,
    MODEL_PATH_ENV,
    REQUEST_TIMEOUT_ENV,
    RequestError,
    TimeRange,
    _BodyLimit,
    _error,
    _Guard,
    batch_too_large,
    check_timeout,
    error_answer,
    read_request,
)
from journeymine.service.live_events import EventIn
from journeymine.service.model_holder import (
    ModelHolder,
    next_step_of,
    without_folders,
)
from journeymine.service.openapi import body_doc, document_assign, schemas_of
from journeymine.service.store import StoreUnavailable

__all__ = [
    "API_KEY_ENV",
    "DEFAULT_REQUEST_TIMEOUT",
    "MODEL_PATH_ENV",
    "REQUEST_TIMEOUT_ENV",
    "create_app",
]

logger = logging.getLogger(__name__)

#: The old private names of what moved to their own modules.
_Holder, _Coalescer, _AssignRoute = ModelHolder, Coalescer, AssignRoute


class AssignRequest(TypedDict):
    """One customer's events."""

    customer_id: Annotated[str, Field(min_length=1)]
    events: list[EventIn]


class BatchRequest(TypedDict):
    """Several customers; the whole batch is refused if one customer's events are invalid."""

    customers: list[AssignRequest]


# Requests are validated straight from the raw bytes into plain dicts (one pydantic-core call:
# JSON parsing and validation together, no model objects to build and dump again).
_ASSIGN = TypeAdapter(AssignRequest)
_BATCH = TypeAdapter(BatchRequest)


class AssignResponse(BaseModel):
    customer_id: str
    persona: int = Field(description="persona id, -1 = unassigned (abstained)")
    name: str
    probability: float
    abstained: bool
    n_events: int
    unknown_activities: list[str]
    unknown_channels: list[str]


class BatchResponse(BaseModel):
    results: list[AssignResponse]


class HealthResponse(BaseModel):
    status: str
    model_sha256: str | None
    model_loaded_at: float


class _App(FastAPI):
    def build_middleware_stack(self) -> Any:
        stack = _Guard(super().build_middleware_stack())
        metrics = getattr(self.state, "metrics", None)
        return stack if metrics is None else metrics.middleware(stack)


class _FastPaths:
    """Sends the requests of a few hot paths (``{(method, path): ASGI app}``) straight to
    their handler, ahead of FastAPI's routing, dependency solving and exception middleware
    (about half of a small request's time when measured); it sits inside the body limit, the
    error guard and the metrics, and the handlers answer errors as the app does
    (:func:`journeymine.service.limits.error_answer`)."""

    def __init__(self, app: Any, paths: dict[tuple[str, str], Any]) -> None:
        self.app = app
        self.paths = paths

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            handler = self.paths.get((scope["method"], scope["path"]))
            if handler is not None:
                await handler(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _with_request_schemas(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the request TypedDicts (and the types they use) to the OpenAPI components, and the
    plain ASGI route ``POST /v1/assign``."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(schemas_of(_ASSIGN, _BATCH))
    if "/v1/next-best-action" in schema.get("paths", {}):
        from journeymine.service.nba_events_route import request_schemas

        components.update(request_schemas())
    if "/v1/events" in schema.get("paths", {}):
        from journeymine.service import routes

        components.update(routes.request_schemas())
    document_assign(schema, AssignResponse)
    return schema


def create_app(
    model_path: str | os.PathLike[str],
    *,
    api_key: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_batch: int = DEFAULT_MAX_BATCH,
    watch_interval: float | None = None,
    policy_path: str | os.PathLike[str] | None = None,
    responses_path: str | os.PathLike[str] | None = None,
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    plausible_range: Any = PLAUSIBLE_RANGE,
    store: Any = None,
    max_future_s: float = 300.0,
    next_step_path: str | os.PathLike[str] | None = None,
) -> Any:
    """Build the FastAPI app serving a saved :class:`PersonaModel`.

    Parameters
    ----------
    model_path : str or Path
        The ``.skops`` file (its ``.json`` card next to it). Loaded now: a bad file fails here.
    api_key : str, optional
        The key clients send; default the environment variable ``JOURNEYMINE_API_KEY``. The
        app refuses to start without one.
    max_body_bytes : int, default 1,000,000
        Larger request bodies get 413 before parsing.
    max_batch : int, default 1000
        Most customers per batch request (more -> 413).
    watch_interval : float, optional
        Seconds between checks of the model files' modification times; a change reloads the
        model (off by default; ``POST /v1/model/reload`` always works).
    policy_path, responses_path : str or Path, optional
        Both together add ``POST /v1/next-best-action``: a policy file (YAML/JSON,
        :class:`journeymine.actions.Policy`) and the rates it arbitrates with, loaded by the
        kind the file declares (:func:`journeymine.service.rates.load_responses`): response
        rates saved by :meth:`journeymine.actions.ResponseModel.save` (``jm nba
        --responses-out``), or, for a policy that arbitrates by uplift, a saved
        :class:`journeymine.actions.UpliftModel` or :class:`journeymine.actions.FeatureUplift`
        (the ``.skops`` file with its ``.json`` card, ``jm nba --uplift-out``). A
        FeatureUplift rates each customer: its memberships are the persona model's
        probabilities (its persona ids must be the model's), its components the customer's
        stored ones (zero for a customer it was not fitted with).
    request_timeout : float, default 10
        Seconds a request body may take to arrive once the headers are in; a slower body gets
        408 and the connection is closed. (Slow *headers* are cut off by the server's HTTP
        protocol: :func:`serve` sets it up with the same value.)
    plausible_range : (start, end) or None, default :data:`journeymine.schema.PLAUSIBLE_RANGE`
        Event timestamps and decision times outside ``[start, end)`` get 422 (naive bounds
        are UTC); None accepts any date.
    store : str or StateStore, optional
        The customer state store (``sqlite:///PATH`` or ``redis://HOST:PORT/DB``, see
        :mod:`journeymine.service.state`): adds ``POST /v1/events``,
        ``GET /v1/customers/{customer_id}``, ``POST /v1/outcomes``, and (with a policy)
        ``POST /v1/next-best-action`` by ``customer_id`` with ``commit``
        (:mod:`journeymine.service.routes`). None (the default here; :func:`serve` defaults to a
        SQLite file beside the model): the service keeps no state.
    max_future_s : float, default 300
        Live events more than this many seconds after the server's clock are refused (422).
    next_step_path : str or Path, optional
        A saved :class:`journeymine.NextStepModel` (``.skops`` with its ``.json`` card):
        assignments and next-best-action answers then carry ``next_step`` (the customer's most
        likely next activity, its channel, when, and the outcome probability). Default: the
        file ``<model>.nextstep.skops`` beside the persona model, when there is one.

    Returns
    -------
    FastAPI
        Run it with uvicorn, or use :func:`serve`.

    Examples
    --------
    An app serving a model fitted on synthetic journeys, called in-process with Starlette's
    test client (real HTTP requests through the app, no server):

    >>> import pathlib, tempfile
    >>> import journeymine as jm
    >>> from fastapi.testclient import TestClient
    >>> data = jm.datasets.make_journeys(n_customers=200, days=60, random_state=0)
    >>> truth = data.customers.set_index("customer_id")["persona"].astype("category").cat.codes
    >>> model = jm.PersonaModel(cv=3, validation_size=0).fit(data.events, truth)
    >>> path = model.save(pathlib.Path(tempfile.mkdtemp()) / "persona.skops")
    >>> app = create_app(path, api_key="secret-key")
    >>> events = [{"timestamp": "2025-02-01T19:00:00Z", "activity": "visit", "channel": "app"}]
    >>> with TestClient(app) as client:
    ...     answer = client.post("/v1/assign", json={"customer_id": "c1", "events": events},
    ...                          headers={"X-API-Key": "secret-key"})
    ...     refused = client.post("/v1/assign", json={"customer_id": "c1", "events": events})
    >>> answer.status_code, answer.json() == jm.assign(events, model, customer_id="c1").to_dict()
    (200, True)
    >>> refused.status_code  # no API key
    401
    """
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    if not key:
        raise ConfigError(
            f"no API key: pass api_key=... or set the environment variable {API_KEY_ENV}."
        )
    for name, value in (("max_body_bytes", max_body_bytes), ("max_batch", max_batch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}.")
    if watch_interval is not None and not float(watch_interval) > 0:
        raise ConfigError(f"watch_interval must be > 0 seconds, got {watch_interval!r}.")
    request_timeout = check_timeout(request_timeout)
    times = TimeRange(plausible_range)
    if (policy_path is None) != (responses_path is None):
        raise ConfigError(
            "next best action needs both a policy file and a response-rates file; got only "
            f"{'the policy' if policy_path is not None else 'the response rates'}."
        )
    holder = ModelHolder(Path(model_path))
    next_step = next_step_of(model_path, next_step_path)
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(float(watch_interval or 1.0)):
            try:
                holder.poll()
            except Exception:  # never let the watcher die
                logger.exception("model file watcher failed")

    @asynccontextmanager
    async def lifespan(app: Any) -> Any:
        # the libraries and the model are long-lived: move them out of the garbage
        # collector's sight, so that a full collection does not pause every request in flight
        gc.collect()
        gc.freeze()
        thread = None
        if watch_interval is not None:
            thread = threading.Thread(target=watch, name="jm-model-watch", daemon=True)
            thread.start()
        try:
            yield
        finally:
            stop.set()
            if thread is not None:
                thread.join(timeout=5)
            state_store = getattr(app.state, "store", None)
            if state_store is not None:  # every acknowledged write is already durable
                close_async = getattr(state_store, "close_async", None)
                if close_async is not None:
                    await close_async()
                state_store.close()

    app = _App(
        title="journeymine persona assignment",
        version=str(holder.model.card_.get("journeymine_version", "")),
        description="Assign live customers to behavioural personas (journeymine).",
        lifespan=lifespan,
    )
    app.state.holder = holder
    from journeymine.service.metrics import Metrics

    metrics = Metrics(
        [
            "/v1/assign",
            "/v1/assign/batch",
            "/v1/model",
            "/v1/model/reload",
            "/v1/next-best-action",
            "/v1/events",
            "/v1/outcomes",
            "/v1/customers/{customer_id}",
            "/health",
            "/metrics",
            "/docs",
            "/openapi.json",
        ]
    )
    app.state.metrics = metrics

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _with_request_schemas(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    require_key = key_checker(key)

    def key_dependency(request: Request) -> None:
        require_key(request.headers)

    auth = [Depends(key_dependency)]
    policy = responses = None
    if policy_path is not None and responses_path is not None:
        from journeymine.actions import Policy
        from journeymine.service.rates import check_personas, load_responses

        policy = Policy.from_file(Path(policy_path))
        served = responses = load_responses(Path(responses_path))
        # a reloaded persona model must have the personas a FeatureUplift was fitted for
        holder.check = lambda model: check_personas(served, model.classes_)
    fast_paths: dict[tuple[str, str], Any] = {}
    if store is not None:
        from journeymine.service.nba_route import NextBestActionRoute
        from journeymine.service.routes import LIVE_NBA, state_router
        from journeymine.service.state import open_store

        caps = [(c.channel, c.max, c.per_s * 1_000_000) for c in policy.caps] if policy else []
        state_store = open_store(store, caps=caps) if isinstance(store, str) else store
        app.state.store = state_store
        nba = None
        if responses is not None and policy is not None:
            from journeymine.service.nba_events_route import nba_router

            nba_router(lambda: holder.model, key_dependency, policy, responses, read_request, times)
            nba = NextBestActionRoute(
                state_store,
                lambda: holder.model,
                require_key,
                LIVE_NBA,
                times,
                policy,
                responses,
                max_future_s=max_future_s,
                metrics=metrics,
                next_step=next_step,
            )
            fast_paths[("POST", "/v1/next-best-action")] = nba
        app.include_router(
            state_router(
                state_store,
                lambda: holder.model,
                require_key,
                read_request,
                times,
                policy,
                max_future_s=max_future_s,
                metrics=metrics,
                next_step=next_step,
                nba=nba,
            )
        )
        app.state.next_best_action = policy is not None
    elif policy is not None and responses is not None:
        from journeymine.service.nba_events_route import nba_router

        app.include_router(
            nba_router(
                lambda: holder.model,
                key_dependency,
                policy,
                responses,
                read_request,
                times,
            )
        )
        app.state.next_best_action = True

    async def refused(request: Request, exc: Exception) -> Any:
        if isinstance(exc, StoreUnavailable):
            logger.error(
                "state store unavailable on %s %s: %s", request.method, request.url.path, exc
            )
        return error_answer(exc)

    for kind in (StarletteHTTPException, EventLogError, RequestError, StoreUnavailable):
        app.add_exception_handler(kind, refused)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Any:
        logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return _error(500, "internal_error", "internal server error; see the server log.")

    @app.get("/metrics", tags=["service"], dependencies=auth)
    async def metrics_text() -> Any:
        """Requests, latency histogram, decisions and their reasons, events received, in the
        Prometheus text format (API key required; ``Authorization: Bearer <key>`` works)."""
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    @app.get("/health", response_model=HealthResponse, tags=["service"])
    async def health() -> dict[str, Any]:
        """Liveness (no key needed)."""
        return {"status": "ok", "model_sha256": holder.sha256, "model_loaded_at": holder.loaded_at}

    # the hot path: a plain ASGI route, documented in the OpenAPI schema by hand
    app.state.coalescer = Coalescer()
    app.router.routes.append(
        Route(
            "/v1/assign",
            AssignRoute(holder, require_key, app.state.coalescer, times, _ASSIGN, next_step),
            methods=["POST"],
        )
    )

    @app.post(
        "/v1/assign/batch",
        response_model=BatchResponse,
        tags=["assign"],
        openapi_extra=body_doc("BatchRequest"),
    )
    async def assign_batch(request: Request) -> Any:
        """Personas of several customers (all or nothing)."""
        require_key(request.headers)
        req = read_request(_BATCH, await request.body())
        customers = req["customers"]
        if len(customers) > max_batch:
            return batch_too_large(len(customers), "customers", max_batch, "Split the request.")
        return Response(
            await run_in_threadpool(score_batch, holder.model, customers, times, next_step),
            media_type=_JSON,
        )

    @app.get("/v1/model", dependencies=auth, tags=["model"])
    async def model_card() -> Any:
        """The model card of the loaded model."""
        return holder.model.card_

    @app.post("/v1/model/reload", dependencies=auth, tags=["model"])
    def reload_model() -> Any:
        """Load the model file again; the old model stays if the new file is refused."""
        try:
            holder.reload()
        except ModelError as exc:  # logged in full; the answer names files, not folders
            return _error(
                409,
                "reload_failed",
                f"{without_folders(str(exc), holder.path)} The current model (sha256 "
                f"{holder.sha256}) stays loaded.",
            )
        return {"reloaded": True, "model_sha256": holder.sha256}

    if fast_paths:  # inside the body limit (middleware added later wraps it)
        app.add_middleware(_FastPaths, paths=fast_paths)
    app.add_middleware(_BodyLimit, max_bytes=max_body_bytes, timeout=request_timeout)
    return app
