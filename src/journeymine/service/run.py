"""Running the service with uvicorn: :func:`run_app` (one process, or several worker
processes that each build the app with ``app_from_env``), and the environment variables the
workers read.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Mapping
from typing import Any

from journeymine.exceptions import ConfigError
from journeymine.schema import PLAUSIBLE_RANGE
from journeymine.service.limits import (
    KEEP_ALIVE_TIMEOUT,
    PLAUSIBLE_RANGE_ENV,
    REQUEST_TIMEOUT_ENV,
    WORKER_HEALTHCHECK_SECONDS,
    check_timeout,
)

__all__ = ["plausible_range_from_env", "run_app"]

#: The factory every worker process calls (``uvicorn --factory``).
WORKER_FACTORY = "journeymine.service.launch:app_from_env"


def plausible_range_from_env() -> Any:
    """The plausible range from ``JOURNEYMINE_PLAUSIBLE_RANGE`` (``start,end`` or ``none``;
    unset: :data:`journeymine.schema.PLAUSIBLE_RANGE`)."""
    raw = os.environ.get(PLAUSIBLE_RANGE_ENV)
    if raw is None or raw.strip() == "":
        return PLAUSIBLE_RANGE
    if raw.strip().lower() == "none":
        return None
    parts = [p.strip() for p in raw.split(",")]
    if len(parts) != 2:
        raise ConfigError(
            f"{PLAUSIBLE_RANGE_ENV}={raw!r} is not 'start,end' (e.g. '1990-01-01,2100-01-01') "
            f"or 'none'."
        )
    return tuple(parts)


def run_app(
    app: Any,
    *,
    host: str,
    port: int,
    log_level: str,
    request_timeout: float,
    workers: int = 1,
    worker_env: Mapping[str, str] | None = None,
    access_log: bool = False,
) -> None:
    """Run ``app`` with uvicorn and the HTTP protocol that times out slow clients (blocks
    until stopped). With ``workers > 1``, uvicorn starts that many processes, each building
    its own app with :data:`WORKER_FACTORY` from ``worker_env`` (set in this process's
    environment first); their ``/metrics`` share a fresh ``PROMETHEUS_MULTIPROC_DIR`` unless
    one is set, removed once they are all gone. ``access_log``: uvicorn's line per request
    (off by default: it costs about a third of a next-best-action's CPU time, and ``/metrics``
    counts requests and their latency by route and status)."""
    import uvicorn

    from journeymine.service.http import timeout_protocol
    from journeymine.service.metrics import MULTIPROC_ENV

    seconds = check_timeout(request_timeout)
    if workers == 1:
        uvicorn.run(
            app,
            host=host,
            port=int(port),
            log_level=log_level,
            http=timeout_protocol(seconds),
            timeout_keep_alive=KEEP_ALIVE_TIMEOUT,
            access_log=access_log,
        )
        return
    made = None
    if not os.environ.get(MULTIPROC_ENV):  # /metrics counts every worker's requests
        made = os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="journeymine-metrics-")
    os.environ.update(worker_env or {})
    os.environ[REQUEST_TIMEOUT_ENV] = str(seconds)  # read by the workers' protocol and app
    try:
        uvicorn.run(
            WORKER_FACTORY,
            factory=True,
            host=host,
            port=int(port),
            workers=workers,
            log_level=log_level,
            http=timeout_protocol(),  # importable by the workers; the timeout from the env
            timeout_keep_alive=KEEP_ALIVE_TIMEOUT,
            access_log=access_log,
            # a worker imports the package and loads the model before it answers the
            # supervisor's ping; on a busy machine that takes longer than uvicorn's 5 s, and
            # the supervisor would kill it while it starts
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
        )
    finally:
        if made is not None:  # the workers' metric files, once they are all gone
            shutil.rmtree(made, ignore_errors=True)
            os.environ.pop(MULTIPROC_ENV, None)
