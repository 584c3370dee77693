"""Operations of the state service on a REAL server: ``/metrics`` in the Prometheus text
format (requests by route and status, latency histogram, decisions by action and reason,
events), and a graceful shutdown on SIGTERM (requests in flight answered, every acknowledged
event on disk, the SQLite write-ahead log checkpointed into the database file)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _uvicorn_server import Server, free_port, wait_for_health
from prometheus_client.parser import text_string_to_metric_families

from journeymine.service import create_app

KEY = "ops-key"
AUTH = {"X-API-Key": KEY}
AT = "2025-03-05T12:00:00Z"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus exposition: (name, sorted labels) -> value."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


@pytest.fixture
def server(setup: dict[str, Any], tmp_path: Path) -> Iterator[Server]:
    app = create_app(
        setup["model_path"],
        api_key=KEY,
        policy_path=setup["cap_policy_path"],
        responses_path=setup["cap_rates_path"],
        store=f"sqlite:///{tmp_path / 'ops.db'}",
    )
    srv = Server(app)
    yield srv
    srv.stop()


def test_metrics_count_requests_latency_decisions_and_events(server: Server) -> None:
    ev = {
        "customer_id": "M1",
        "timestamp": "2025-03-01T10:00:00Z",
        "activity": "visit",
        "channel": "web",
        "event_id": "m1",
    }
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as c:
        assert c.post("/v1/events", json={"events": [ev]}).status_code == 200
        assert c.post("/v1/events", json={"events": [ev]}).status_code == 200  # a replay
        answers = [
            c.post("/v1/next-best-action", json={"customer_id": "M1", "commit": True, "at": AT})
            for _ in range(3)
        ]
        assert [a.json()["action"] for a in answers] == ["promo", "promo", None]  # 2 per 7 days
        assert c.get("/v1/customers/nobody").status_code == 404
        assert c.get("/v1/customers/M1").status_code == 200
        assert c.post("/v1/events", json={"events": []}).status_code == 422
        assert c.get("/no/such/path/123").status_code == 404
        assert httpx.get(server.url + "/metrics", timeout=60).status_code == 401
        r = c.get("/metrics")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        bearer = httpx.get(
            server.url + "/metrics", headers={"Authorization": f"Bearer {KEY}"}, timeout=60
        )
        assert bearer.status_code == 200
    got = samples(r.text)

    def value(name: str, **labels: str) -> float:
        return got.get((name, tuple(sorted(labels.items()))), 0.0)

    req = "journeymine_requests_total"
    assert value(req, route="/v1/events", method="POST", status="200") == 2
    assert value(req, route="/v1/events", method="POST", status="422") == 1
    assert value(req, route="/v1/next-best-action", method="POST", status="200") == 3
    assert value(req, route="/v1/customers/{customer_id}", method="GET", status="404") == 1
    assert value(req, route="/v1/customers/{customer_id}", method="GET", status="200") == 1
    assert value(req, route="other", method="GET", status="404") == 1  # no series per path
    assert value(req, route="/metrics", method="GET", status="401") == 1
    hist = "journeymine_request_duration_seconds"
    assert value(hist + "_count", route="/v1/next-best-action") == 3
    assert value(hist + "_bucket", route="/v1/next-best-action", le="+Inf") == 3
    assert value(hist + "_sum", route="/v1/next-best-action") > 0
    dec = "journeymine_decisions_total"
    assert value(dec, action="promo", committed="true") == 2
    assert value(dec, action="none", committed="false") == 1
    assert value("journeymine_decision_reasons_total", journey="promo", reason="capped") == 1
    assert value("journeymine_events_total", result="accepted") == 1
    assert value("journeymine_events_total", result="duplicate") == 1


def _serve(setup: dict[str, Any], db: Path, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable, "-m", "journeymine", "serve", "--model", str(setup["model_path"]),
            "--port", str(port), "--store", f"sqlite:///{db}",
            "--policy", str(setup["cap_policy_path"]),
            "--responses", str(setup["cap_rates_path"]),
        ],
        env=dict(os.environ, JOURNEYMINE_API_KEY=KEY),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.mark.slow
def test_sigterm_answers_in_flight_requests_and_flushes(
    setup: dict[str, Any], tmp_path: Path
) -> None:
    db = tmp_path / "term.db"
    port = free_port()
    proc = _serve(setup, db, port)
    acked: list[str] = []
    failed: list[str] = []
    stop = threading.Event()

    def stream(worker: int) -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=AUTH, timeout=30) as c:
            k = 0
            while not stop.is_set():
                batch = [
                    {
                        "customer_id": f"T{worker}",
                        "event_id": f"t{worker}-{k + i}",
                        "timestamp": "2025-02-01T10:00:00Z",
                        "activity": "visit",
                    }
                    for i in range(50)
                ]
                k += 50
                try:
                    r = c.post("/v1/events", json={"events": batch})
                except httpx.TransportError:  # refused once the server stopped listening
                    return
                if r.status_code == 200:
                    acked.extend(e["event_id"] for e in batch)
                else:
                    failed.append(f"{r.status_code} {r.text[:200]}")

    try:
        wait_for_health(port, proc, timeout=120)
        threads = [threading.Thread(target=stream, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        while len(acked) < 1000 and all(t.is_alive() for t in threads):
            threading.Event().wait(0.05)
        proc.send_signal(signal.SIGTERM)
        # uvicorn shuts down (stops listening, answers the requests in flight, runs the
        # app's shutdown), then re-raises the signal: exit status -SIGTERM, within the bound
        assert proc.wait(timeout=60) in (0, -signal.SIGTERM)
        stop.set()
        for t in threads:
            t.join(timeout=60)
    finally:
        stop.set()
        if proc.poll() is None:
            proc.kill()
    assert len(acked) >= 1000 and not failed, failed[:3]
    # flushed: the write-ahead log was checkpointed into the database file and removed, so
    # the file alone (copied elsewhere, opened read-only) holds every acknowledged event
    assert not Path(f"{db}-wal").exists() or Path(f"{db}-wal").stat().st_size == 0
    copy = tmp_path / "copy.db"
    copy.write_bytes(db.read_bytes())
    with sqlite3.connect(f"file:{copy}?mode=ro", uri=True) as conn:
        stored = {row[0] for row in conn.execute("SELECT event_id FROM events")}
    assert set(acked) <= stored


def test_events_cache_is_bounded_by_events_and_keyed_by_version() -> None:
    from journeymine.service.state import EventsCache

    cache = EventsCache(max_events=10)

    def events(n: int) -> Any:
        return [{"activity": "visit"}] * n, list(range(n)), list(range(n))

    cache.put("a", 1, events(4))
    cache.put("b", 1, events(4))
    assert cache.get("a", 1) is not None and cache.get("a", 2) is None  # a new version: miss
    cache.put("c", 1, events(4))  # 12 > 10: the least recently used (b) goes
    assert cache.get("b", 1) is None and cache.get("a", 1) is not None and cache.events == 8
    cache.put("a", 2, events(6))  # replaced, not added
    assert cache.events == 10 and cache.get("a", 2) is not None
    cache.put("huge", 1, events(11))  # larger than the bound: never kept
    assert cache.get("huge", 1) is None and cache.events == 10


def test_sqlite_group_commit_keeps_caps_and_fails_alone(tmp_path: Path) -> None:
    """Committed decisions of many threads, made together in write transactions: each sees the
    contacts recorded before it (a cap of 2 holds over 24 racing decisions), and a decision
    whose own code fails fails alone."""
    from concurrent.futures import ThreadPoolExecutor

    from journeymine.service.state import Contact, SQLiteStore, StoreEvent

    store = SQLiteStore(tmp_path / "group.sqlite")
    store.add_events([StoreEvent("e1", "G", 1_000_000, {"activity": "visit"})])
    barrier = threading.Barrier(24)

    def one(k: int) -> Any:
        def decide(state: Any) -> Any:
            if k == 5:
                raise ValueError("this decision's own failure")
            if len(state.contacts) >= 2:
                return "capped", None, None
            return "sent", Contact(f"d{k}", "G", 2_000_000 + k, "promo", "email", "e"), None

        barrier.wait()
        try:
            return store.decide("G", decide, True)
        except ValueError as exc:
            return str(exc)

    try:
        with ThreadPoolExecutor(24) as pool:
            answers = list(pool.map(one, range(24)))
        assert answers.count("sent") == 2 and answers.count("capped") == 21
        assert answers[5] == "this decision's own failure"
        state = store.get("G")
        assert state is not None and len(state.contacts) == 2
    finally:
        store.close()
