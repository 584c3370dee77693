"""Bad input to the state service on a REAL server: every refusal is a 4xx/503 JSON answer
that says what was wrong, what is allowed and how to fix it, and nothing already stored is
lost; a Redis store that goes away mid-run answers 503 and, once back, has every acknowledged
event."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _uvicorn_server import Server, free_port

from journeymine.service import create_app

KEY = "bad-key"
AUTH = {"X-API-Key": KEY}
OK = {
    "customer_id": "B1",
    "timestamp": "2025-01-01T10:00:00Z",
    "activity": "visit",
    "channel": "web",
    "event_id": "b1",
}


@pytest.fixture
def server(setup: dict[str, Any], tmp_path: Path) -> Iterator[Server]:
    app = create_app(
        setup["model_path"],
        api_key=KEY,
        policy_path=setup["policy_path"],
        responses_path=setup["rates_path"],
        store=f"sqlite:///{tmp_path / 'bad.db'}",
    )
    srv = Server(app)
    yield srv
    srv.stop()


def test_refusals_say_what_is_wrong_allowed_and_how_to_fix(server: Server) -> None:
    with httpx.Client(base_url=server.url, headers=AUTH, timeout=60) as c:
        assert c.post("/v1/events", json={"events": [OK]}).status_code == 200
        before = c.get("/v1/customers/B1").json()
        cases: dict[str, tuple[Any, list[str]]] = {
            "unknown field": (
                {"events": [dict(OK, event_id="x1", colour="red")]},
                ["unknown field(s) ['colour']", "allowed:"],
            ),
            "far future": (
                {"events": [dict(OK, event_id="x2", timestamp="2099-01-01T00:00:00Z")]},
                ["after the server's clock", "at most 300 s", "check the sender's clock"],
            ),
            "duplicate event_ids": (
                {"events": [dict(OK, event_id="x3"), dict(OK, event_id="x3")]},
                ["repeats event 0", "its own event_id"],
            ),
            "blank activity": (
                {"events": [dict(OK, event_id="x5", activity="   ")]},
                ["activity must not be blank"],
            ),
            "value out of range": (
                {"events": [dict(OK, event_id="x6", value=1e300)]},
                ["out of range", "|value| <= 1e+13", "or null"],
            ),
        }
        for name, (body, words) in cases.items():
            r = c.post("/v1/events", json=body)
            assert r.status_code == 422 and r.json()["error"] == "invalid_events", name
            detail = r.json()["detail"]
            assert "nothing was stored" in detail, name
            for w in words:
                assert w in detail, (name, w, detail)
        schema_cases = {
            "10 kB customer id": (
                "/v1/events",
                {"events": [dict(OK, event_id="x4", customer_id="c" * 10_000)]},
                "at most 256 characters",
            ),
            "unknown top key": ("/v1/events", {"events": [OK], "more": 1}, "remove this key"),
            "no events": ("/v1/events", {"events": []}, "must not be empty"),
            "10 kB id, NBA": (
                "/v1/next-best-action",
                {"customer_id": "c" * 10_000, "commit": True},
                "at most 256 characters",
            ),
            "commit not a bool": (
                "/v1/next-best-action",
                {"customer_id": "B1", "commit": "yes"},
                "bool",
            ),
        }
        for name, (path, body, hint) in schema_cases.items():
            r = c.post(path, json=body)
            assert r.status_code == 422 and r.json()["error"] == "invalid_request", name
            hints = " ".join(item["hint"] for item in r.json()["detail"])
            assert hint in hints, (name, hints)
        r = c.get("/v1/customers/" + "c" * 10_000)
        assert r.status_code == 422 and "longer than 256" in r.json()["detail"]
        # nothing stored was lost or changed, and the customer still decides
        after = c.get("/v1/customers/B1").json()
        assert after["n_events"] == before["n_events"] == 1
        assert after["recent_events"] == before["recent_events"]
        assert c.post("/v1/next-best-action", json={"customer_id": "B1"}).status_code == 200


def _redis(binary: str, port: int, folder: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [
            binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder),
            "--save", "", "--appendonly", "yes", "--appendfsync", "always",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    import redis

    r = redis.Redis(port=port)
    deadline = time.monotonic() + 20
    while True:
        try:
            r.ping()
            return proc
        except redis.ConnectionError:
            assert proc.poll() is None and time.monotonic() < deadline, "redis did not start"
            time.sleep(0.05)


@pytest.mark.timeout(180)
def test_redis_going_away_is_503_and_nothing_acknowledged_is_lost(
    setup: dict[str, Any], tmp_path: Path
) -> None:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server)")
    port = free_port()
    proc = _redis(binary, port, tmp_path)
    app = create_app(
        setup["model_path"],
        api_key=KEY,
        policy_path=setup["policy_path"],
        responses_path=setup["rates_path"],
        store=f"redis://127.0.0.1:{port}/0",
    )
    srv = Server(app)
    events = [dict(OK, customer_id="R1", event_id=f"r{i}") for i in range(5)]
    try:
        with httpx.Client(base_url=srv.url, headers=AUTH, timeout=60) as c:
            assert c.post("/v1/events", json={"events": events[:3]}).json()["accepted"] == 3
            proc.terminate()
            proc.wait(timeout=30)
            for method, path, body in (
                ("POST", "/v1/events", {"events": events[3:]}),
                ("POST", "/v1/next-best-action", {"customer_id": "R1", "commit": True}),
                ("POST", "/v1/next-best-action", {"customer_id": "R1"}),  # read on the loop
                ("GET", "/v1/customers/R1", None),
            ):
                r = c.request(method, path, json=body)
                assert r.status_code == 503, (path, r.text)
                answer = r.json()
                assert answer["error"] == "store_unavailable"
                assert "retry the request" in answer["detail"], answer
            proc = _redis(binary, port, tmp_path)  # back, from its append-only file
            r = c.post("/v1/events", json={"events": events})  # the client retries
            assert r.json() == {"accepted": 2, "duplicates": 3, "customers": 1}
            assert c.get("/v1/customers/R1").json()["n_events"] == 5
    finally:
        srv.stop()
        proc.terminate()
        proc.wait(timeout=30)
