"""``GET /metrics`` in the Prometheus text format (``prometheus_client``, extra ``[serve]``).

================================================ ============================================
``journeymine_requests_total``                   requests by ``route``, ``method``, ``status``
``journeymine_request_duration_seconds``         latency histogram by ``route`` (from the
                                                 request's arrival to its last byte)
``journeymine_decisions_total``                  next-best-action decisions by ``action``
                                                 (journey or ``none``) and ``committed``
``journeymine_decision_reasons_total``           why each losing journey lost, by ``journey``
                                                 and ``reason`` (``capped``, ``min_gap``...)
``journeymine_events_total``                     events received by ``result`` (``accepted``,
                                                 ``duplicate``)
================================================ ============================================

Routes are labelled by their template (``/v1/customers/{customer_id}``), anything else as
``other``, so that the number of series stays bounded whatever clients send.

Several worker processes (``jm serve --workers N``) share the counts through
``prometheus_client``'s multiprocess mode: :func:`journeymine.service.serve` points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh folder when it is not set, and every worker's
``/metrics`` then answers for all of them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import Any

try:
    from prometheus_client import (
        CONTENT_TYPE_LATEST,
        CollectorRegistry,
        Counter,
        Histogram,
        generate_latest,
    )
except ImportError as exc:  # pragma: no cover - depends on the install
    raise ImportError(
        "the service's /metrics needs prometheus-client: pip install 'journeymine[serve]'"
    ) from exc

__all__ = ["MULTIPROC_ENV", "Metrics"]

#: prometheus_client's folder for the counts of several worker processes
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

#: latency buckets (seconds): 1 ms to 10 s
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """The service's metrics, in a registry of its own (several apps in one process do not
    mix their counts; in multiprocess mode the counts of every worker are read from
    ``PROMETHEUS_MULTIPROC_DIR``).

    Parameters
    ----------
    routes : iterable of str
        The route templates to label requests with (others are ``other``).

    Examples
    --------
    >>> m = Metrics(["/v1/events", "/v1/customers/{customer_id}"])
    >>> m.route_of("/v1/customers/C1"), m.route_of("/nope")
    ('/v1/customers/{customer_id}', 'other')
    >>> m.decided({"action": "promo", "why_not": [{"journey": "b", "reason": "capped"}]}, True)
    >>> b'journeymine_decisions_total{action="promo",committed="true"} 1.0' in m.render()[0]
    True
    """

    def __init__(self, routes: Iterable[str]) -> None:
        self.multiprocess = bool(os.environ.get(MULTIPROC_ENV))
        self.registry = CollectorRegistry()
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self._exact: set[str] = set()
        self._prefixes: list[tuple[str, str]] = []
        for r in routes:
            if "{" in r:
                self._prefixes.append((r.split("{", 1)[0], r))
            else:
                self._exact.add(r)
        reg = self.registry
        self.requests = Counter(
            "journeymine_requests",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=reg,
        )
        self.latency = Histogram(
            "journeymine_request_duration_seconds",
            "HTTP request latency by route template (arrival to last byte)",
            ["route"],
            buckets=BUCKETS,
            registry=reg,
        )
        self.decisions = Counter(
            "journeymine_decisions",
            "next-best-action decisions by action (journey, or none) and committed",
            ["action", "committed"],
            registry=reg,
        )
        self.reasons = Counter(
            "journeymine_decision_reasons",
            "why each losing journey of a decision lost, by journey and reason",
            ["journey", "reason"],
            registry=reg,
        )
        self.events = Counter(
            "journeymine_events",
            "events received on POST /v1/events and /v1/outcomes, by result",
            ["result"],
            registry=reg,
        )

    def route_of(self, path: str) -> str:
        """The route template of a request path (``other`` when none matches)."""
        if path in self._exact:
            return path
        for prefix, template in self._prefixes:
            if path.startswith(prefix) and "/" not in path[len(prefix) :]:
                return template
        return "other"

    def _child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, kept (a decision counts ~10 reasons: the lookups add
        up)."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def decided(self, answer: dict[str, Any], committed: bool) -> None:
        """Count one decision (the answer of ``POST /v1/next-best-action``)."""
        action = answer.get("action") or "none"
        self._child(self.decisions, action, "true" if committed else "false").inc()
        for w in answer.get("why_not") or ():
            self._child(self.reasons, w["journey"], w["reason"]).inc()

    def received(self, accepted: int, duplicates: int) -> None:
        """Count the events of one batch."""
        if accepted:
            self.events.labels("accepted").inc(accepted)
        if duplicates:
            self.events.labels("duplicate").inc(duplicates)

    def render(self) -> tuple[bytes, str]:
        """The exposition (body, content type), of every worker in multiprocess mode."""
        if self.multiprocess:
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def middleware(self, app: Any) -> Any:
        """A pure ASGI middleware counting every HTTP request and timing it."""
        metrics = self

        async def wrapped(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                await app(scope, receive, send)
                return
            start = time.perf_counter()
            status = [500]

            async def sending(message: Any) -> None:
                if message["type"] == "http.response.start":
                    status[0] = int(message["status"])
                await send(message)

            try:
                await app(scope, receive, sending)
            finally:
                route = metrics.route_of(scope.get("path", ""))
                method = str(scope.get("method", ""))
                metrics._child(metrics.requests, route, method, str(status[0])).inc()
                metrics._child(metrics.latency, route).observe(time.perf_counter() - start)

        return wrapped
