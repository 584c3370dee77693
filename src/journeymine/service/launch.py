"""Starting the service: :func:`app_from_env` (the app configured by environment variables, the
factory every uvicorn worker calls) and :func:`serve` (uvicorn with slow-header timeouts, one
process or several workers).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from journeymine.exceptions import ConfigError
from journeymine.schema import PLAUSIBLE_RANGE
from journeymine.service.app import create_app
from journeymine.service.limits import (
    API_KEY_ENV,
    DEFAULT_MAX_BATCH,
    DEFAULT_MAX_BODY_BYTES,
    DEFAULT_REQUEST_TIMEOUT,
    MODEL_PATH_ENV,
    PLAUSIBLE_RANGE_ENV,
    POLICY_PATH_ENV,
    REQUEST_TIMEOUT_ENV,
    RESPONSES_PATH_ENV,
    STORE_ENV,
)
from journeymine.service.run import plausible_range_from_env, run_app

__all__ = ["app_from_env", "serve"]


def app_from_env() -> Any:
    """:func:`create_app` configured by environment variables, for ``uvicorn --factory``
    (e.g. several workers): ``JOURNEYMINE_MODEL_PATH`` (required), ``JOURNEYMINE_API_KEY``
    (required), ``JOURNEYMINE_MAX_BODY_BYTES``, ``JOURNEYMINE_MAX_BATCH``,
    ``JOURNEYMINE_WATCH_INTERVAL``, ``JOURNEYMINE_POLICY_PATH`` and
    ``JOURNEYMINE_RESPONSES_PATH`` (next best action), ``JOURNEYMINE_STORE`` (state store),
    ``JOURNEYMINE_REQUEST_TIMEOUT`` (seconds, default 10) and ``JOURNEYMINE_PLAUSIBLE_RANGE``
    (``start,end``, or ``none``). Plain ``uvicorn`` does not time out slow request headers;
    :func:`serve` runs uvicorn with the protocol that does (:mod:`journeymine.service.http`).

    ``uvicorn --factory journeymine.service:app_from_env --port 8000``

    Returns
    -------
    FastAPI
        As :func:`create_app` returns it.

    Raises
    ------
    ConfigError
        ``JOURNEYMINE_MODEL_PATH`` or ``JOURNEYMINE_API_KEY`` is not set, or a number is not
        one.

    Examples
    --------
    Without ``JOURNEYMINE_MODEL_PATH`` there is nothing to serve:

    >>> app_from_env()
    Traceback (most recent call last):
    ...
    journeymine.exceptions.ConfigError: set JOURNEYMINE_MODEL_PATH to the .skops model file.

    With a saved model, its key and a smaller batch limit from the environment:

    >>> import os, pathlib, tempfile
    >>> import journeymine as jm
    >>> data = jm.datasets.make_journeys(n_customers=200, days=60, random_state=0)
    >>> truth = data.customers.set_index("customer_id")["persona"].astype("category").cat.codes
    >>> model = jm.PersonaModel(cv=3, validation_size=0).fit(data.events, truth)
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> os.environ["JOURNEYMINE_MODEL_PATH"] = str(model.save(folder / "persona.skops"))
    >>> os.environ["JOURNEYMINE_API_KEY"] = "secret-key"
    >>> os.environ["JOURNEYMINE_MAX_BATCH"] = "2"
    >>> app = app_from_env()
    >>> for name in ("JOURNEYMINE_MODEL_PATH", "JOURNEYMINE_API_KEY", "JOURNEYMINE_MAX_BATCH"):
    ...     del os.environ[name]
    >>> from fastapi.testclient import TestClient
    >>> customers = [{"customer_id": c, "events": [{"timestamp": "2025-02-01T19:00:00Z",
    ...                                            "activity": "visit"}]} for c in "abc"]
    >>> with TestClient(app) as client:
    ...     health = client.get("/health").json()
    ...     too_many = client.post("/v1/assign/batch", json={"customers": customers},
    ...                            headers={"X-API-Key": "secret-key"})
    >>> health["status"], too_many.status_code  # three customers, JOURNEYMINE_MAX_BATCH=2
    ('ok', 413)
    """
    path = os.environ.get(MODEL_PATH_ENV)
    if not path:
        raise ConfigError(f"set {MODEL_PATH_ENV} to the .skops model file.")

    def number(name: str, default: Any, kind: Any) -> Any:
        raw = os.environ.get(name)
        if raw is None or raw == "":
            return default
        try:
            return kind(raw)
        except ValueError as exc:
            raise ConfigError(f"{name}={raw!r} is not a {kind.__name__}.") from exc

    return create_app(
        path,
        max_body_bytes=number("JOURNEYMINE_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES, int),
        max_batch=number("JOURNEYMINE_MAX_BATCH", DEFAULT_MAX_BATCH, int),
        watch_interval=number("JOURNEYMINE_WATCH_INTERVAL", None, float),
        policy_path=os.environ.get(POLICY_PATH_ENV) or None,
        responses_path=os.environ.get(RESPONSES_PATH_ENV) or None,
        request_timeout=number(REQUEST_TIMEOUT_ENV, DEFAULT_REQUEST_TIMEOUT, float),
        plausible_range=plausible_range_from_env(),
        store=os.environ.get(STORE_ENV) or None,
    )


def serve(
    model_path: str | os.PathLike[str],
    host: str = "127.0.0.1",
    port: int = 8000,
    api_key: str | None = None,
    *,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_batch: int = DEFAULT_MAX_BATCH,
    watch_interval: float | None = None,
    workers: int = 1,
    policy_path: str | os.PathLike[str] | None = None,
    responses_path: str | os.PathLike[str] | None = None,
    log_level: str = "info",
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
    plausible_range: Any = PLAUSIBLE_RANGE,
    store: str | None = None,
    access_log: bool = False,
) -> None:
    """Run the service with uvicorn (blocks until stopped). ``api_key`` defaults to the
    environment variable ``JOURNEYMINE_API_KEY``; see :func:`create_app` for the rest.

    Slow clients: a connection's request headers must arrive within ``request_timeout``
    seconds (else 408 and the connection is closed: a "slowloris" client cannot hold
    connections open), then the body within as many (else 408); an idle keep-alive connection
    is closed after :data:`KEEP_ALIVE_TIMEOUT` seconds.

    ``workers > 1`` starts that many processes (uvicorn's ``--workers``, through
    :func:`app_from_env`), each with its own copy of the model: use it on machines with more
    cores than one worker keeps busy; they share the state ``store`` (default: the SQLite
    file ``<model>.state.sqlite`` beside the model; ``redis://HOST:PORT/DB`` for several
    machines), so caps hold across workers. ``POST /v1/model/reload`` reaches only the worker that
    answers it, so with several workers the file watcher is what reloads them all: it is on
    (every 2 s) unless ``watch_interval`` says otherwise.

    ``access_log``: uvicorn's log line per request, off by default (it costs about a third of
    a next-best-action's CPU time; ``/metrics`` counts requests and latency by route).

    Raises
    ------
    ConfigError
        A setting is invalid (checked before any server starts), or the model file cannot be
        loaded (see :func:`create_app`).

    Examples
    --------
    Serving a saved model on port 8000 until stopped (Ctrl+C), with two worker processes
    (the same as ``jm serve --model persona.skops --port 8000 --workers 2``):

    >>> serve("persona.skops", port=8000, workers=2)  # doctest: +SKIP

    The settings are checked before anything is loaded or started:

    >>> serve("persona.skops", workers=0)
    Traceback (most recent call last):
    ...
    journeymine.exceptions.ConfigError: workers must be a positive integer, got 0.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be a positive integer, got {workers!r}.")
    if workers > 1 and watch_interval is None:
        watch_interval = 2.0
    from journeymine.service.state import default_store_url

    store = store or default_store_url(model_path)
    # built here in every case, so that a bad model file or setting fails before any worker
    app = create_app(
        model_path,
        api_key=api_key,
        max_body_bytes=max_body_bytes,
        max_batch=max_batch,
        watch_interval=watch_interval,
        policy_path=policy_path,
        responses_path=responses_path,
        request_timeout=request_timeout,
        plausible_range=plausible_range,
        store=store,
    )
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV, "")
    worker_env = {
        MODEL_PATH_ENV: str(Path(model_path).resolve()),
        API_KEY_ENV: key,
        "JOURNEYMINE_MAX_BODY_BYTES": str(max_body_bytes),
        "JOURNEYMINE_MAX_BATCH": str(max_batch),
        "JOURNEYMINE_WATCH_INTERVAL": str(watch_interval),
        POLICY_PATH_ENV: str(Path(policy_path).resolve()) if policy_path else "",
        RESPONSES_PATH_ENV: str(Path(responses_path).resolve()) if responses_path else "",
        STORE_ENV: store,
        PLAUSIBLE_RANGE_ENV: (
            "none" if plausible_range is None else ",".join(map(str, plausible_range))
        ),
    }
    run_app(
        app,
        host=host,
        port=port,
        log_level=log_level,
        request_timeout=request_timeout,
        workers=workers,
        worker_env=worker_env if workers > 1 else None,
        access_log=access_log,
    )
