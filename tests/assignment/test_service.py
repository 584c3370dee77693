"""The HTTP service against a REAL uvicorn server on 127.0.0.1 (httpx client): auth, limits,
errors as JSON, unknown names, hot reload under concurrent requests, the file watcher."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from _uvicorn_server import KeepAlive, Server, free_port, wait_for_health

from journeymine.assignment import PersonaModel, assign
from journeymine.assignment.service import app_from_env, create_app
from journeymine.exceptions import ConfigError, EventLogError, ModelError
from journeymine.service.http import timeout_protocol

KEY = "test-key-7f3a"
AUTH = {"X-API-Key": KEY}
EVENTS = [
    {"timestamp": "2025-02-01T19:00:00Z", "activity": "visit", "channel": "app"},
    {"timestamp": "2025-02-01T19:02:00Z", "activity": "view_product", "channel": "app"},
    {"timestamp": "2025-02-01T19:04:00Z", "activity": "add_to_cart", "channel": "app"},
    {"timestamp": "2025-02-01T19:06:00Z", "activity": "purchase", "channel": "app", "value": 30.5},
]


@pytest.fixture(scope="module")
def model_dir(saved_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("served")
    shutil.copy(saved_model, d / "model.skops")
    shutil.copy(saved_model.with_suffix(".json"), d / "model.json")
    return d


@pytest.fixture(scope="module")
def server(model_dir: Path) -> Iterator[Server]:
    app = create_app(model_dir / "model.skops", api_key=KEY, max_body_bytes=50_000, max_batch=5)

    @app.get("/test-only/boom")
    def boom() -> None:  # a real failing route to exercise the catch-all handler
        raise RuntimeError("secret internals: /etc/passwd")

    srv = Server(app)
    yield srv
    srv.stop()


@pytest.fixture
def client(server: Server) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def test_health_and_docs_need_no_key(client: httpx.Client, saved_model: Path) -> None:
    r = client.get("/health")
    assert r.status_code == 200 and r.json()["status"] == "ok"
    card = json.loads(saved_model.with_suffix(".json").read_text())
    assert r.json()["model_sha256"] == card["artifact"]["sha256"]
    assert client.get("/docs").status_code == 200
    doc = client.get("/openapi.json").json()
    paths = doc["paths"]
    assert {"/v1/assign", "/v1/assign/batch", "/v1/model", "/v1/model/reload"} <= set(paths)
    # the assign routes validate the raw body themselves: their request schemas are documented
    for path, name in (("/v1/assign", "AssignRequest"), ("/v1/assign/batch", "BatchRequest")):
        body = paths[path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert body == {"$ref": f"#/components/schemas/{name}"}
    schemas = doc["components"]["schemas"]
    assert schemas["AssignRequest"]["required"] == ["customer_id", "events"]
    assert set(schemas["EventIn"]["required"]) == {"timestamp", "activity"}
    assert schemas["AssignResponse"]["properties"]["persona"]["type"] == "integer"
    ok = paths["/v1/assign"]["post"]["responses"]["200"]["content"]["application/json"]
    assert ok["schema"] == {"$ref": "#/components/schemas/AssignResponse"}


def test_missing_or_wrong_key_is_401_json(client: httpx.Client) -> None:
    body = {"customer_id": "c1", "events": EVENTS}
    for headers in (
        {},
        {"X-API-Key": "wrong"},
        {"Authorization": "Bearer nope"},
        {"Authorization": KEY},
    ):
        r = client.post("/v1/assign", json=body, headers=headers)
        assert r.status_code == 401, headers
        assert r.json()["error"] == "unauthorized"
        assert r.headers["www-authenticate"] == "Bearer"
    for path in ("/v1/model",):
        assert client.get(path).status_code == 401
    assert client.post("/v1/model/reload").status_code == 401
    ok = client.post("/v1/assign", json=body, headers={"Authorization": f"Bearer {KEY}"})
    assert ok.status_code == 200


def test_assign_equals_in_process(client: httpx.Client, model: PersonaModel) -> None:
    r = client.post("/v1/assign", json={"customer_id": "c1", "events": EVENTS}, headers=AUTH)
    assert r.status_code == 200
    assert r.json() == assign(EVENTS, model, customer_id="c1").to_dict()
    # nulls mean "absent" (a caller serialising optional fields as null), extra keys are ignored
    with_nulls = [
        {**e, "customer_id": None, "journey_id": None, "session_id": None, "extra": [1]}
        for e in EVENTS
    ]
    r = client.post("/v1/assign", json={"customer_id": "c1", "events": with_nulls}, headers=AUTH)
    assert r.status_code == 200
    assert r.json() == assign(EVENTS, model, customer_id="c1").to_dict()


def test_batch(client: httpx.Client, model: PersonaModel, log: pd.DataFrame) -> None:
    customers = []
    for cid in sorted(log["customer_id"].unique())[:5]:
        g = log[log["customer_id"] == cid]
        events = [
            {"timestamp": t.isoformat(), "activity": str(a), "channel": str(c)}
            for t, a, c in zip(g["timestamp"], g["activity"], g["channel"], strict=True)
        ]
        customers.append({"customer_id": cid, "events": events})
    r = client.post("/v1/assign/batch", json={"customers": customers}, headers=AUTH)
    assert r.status_code == 200
    got = r.json()["results"]
    assert [x["customer_id"] for x in got] == [c["customer_id"] for c in customers]
    for x, c in zip(got, customers, strict=True):
        assert x == assign(c["events"], model, customer_id=c["customer_id"]).to_dict()
    too_many = {"customers": customers + customers[:1]}
    r = client.post("/v1/assign/batch", json=too_many, headers=AUTH)
    assert r.status_code == 413 and r.json()["error"] == "batch_too_large"
    # one bad customer: the whole batch is refused, naming it
    bad = {"customers": [customers[0], {"customer_id": "x", "events": []}]}
    r = client.post("/v1/assign/batch", json=bad, headers=AUTH)
    assert r.status_code == 422 and "customer 1 ('x')" in r.json()["detail"]


def test_concurrent_requests_are_scored_together_and_correctly(
    server: Server, model: PersonaModel, log: pd.DataFrame
) -> None:
    """48 customers sent at once (and a bad one among them): requests that arrive together
    are scored in shared vectorised passes; each answer equals assign() for that customer and
    the bad request fails alone."""
    ids = sorted(log["customer_id"].unique())[:48]
    bodies = []
    for cid in ids:
        g = log[log["customer_id"] == cid].head(60)
        events = [
            {"timestamp": t.isoformat(), "activity": str(a), "channel": str(c)}
            for t, a, c in zip(g["timestamp"], g["activity"], g["channel"], strict=True)
        ]
        bodies.append({"customer_id": cid, "events": events})
    bodies.insert(7, {"customer_id": "bad", "events": [{"timestamp": "never", "activity": "x"}]})

    async def send_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as c:
            return await asyncio.gather(
                *(c.post("/v1/assign", json=b, headers=AUTH) for b in bodies)
            )

    coalescer = server.server.config.app.state.coalescer
    before = (coalescer.requests, coalescer.passes)
    responses = asyncio.run(send_all())
    requests, passes = coalescer.requests - before[0], coalescer.passes - before[1]
    assert requests == len(bodies) - 1  # the bad one failed in its own parse
    assert passes < requests  # some passes scored several requests
    for body, r in zip(bodies, responses, strict=True):
        if body["customer_id"] == "bad":
            assert r.status_code == 422 and r.json()["error"] == "invalid_events"
            continue
        assert r.status_code == 200, r.text
        assert r.json() == assign(body["events"], model, customer_id=body["customer_id"]).to_dict()


def test_oversized_body_is_413_before_parsing(client: httpx.Client) -> None:
    big = {"customer_id": "c1", "events": EVENTS * 400}
    r = client.post("/v1/assign", json=big, headers=AUTH)
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"
    assert "50000" in r.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        yield b'{"customer_id": "c1", "events": ['
        for _ in range(2_000):
            yield b'{"timestamp": "2025-02-01T19:00:00Z", "activity": "visit"},'
        yield b"]}"

    r = client.post(
        "/v1/assign", content=chunks(), headers={**AUTH, "content-type": "application/json"}
    )
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"


def test_bad_requests_are_4xx_json(client: httpx.Client) -> None:
    r = client.post(
        "/v1/assign",
        content=b'{"customer_id": "c1", "events": [',
        headers={**AUTH, "content-type": "application/json"},
    )
    assert r.status_code == 400 and r.json()["error"] == "malformed_json"
    r = client.post("/v1/assign", json={"customer_id": "c1"}, headers=AUTH)
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"
    assert r.json()["detail"][0]["loc"] == ["body", "events"]
    r = client.post(
        "/v1/assign", json={"customer_id": "c1", "events": [{"activity": "x"}]}, headers=AUTH
    )
    assert r.status_code == 422 and "timestamp" in json.dumps(r.json()["detail"])
    bad_time = [{"timestamp": "31/31/2025 25:00", "activity": "visit"}]
    r = client.post("/v1/assign", json={"customer_id": "c1", "events": bad_time}, headers=AUTH)
    assert r.status_code == 422 and r.json()["error"] == "invalid_events"
    assert "could not be parsed" in r.json()["problems"][0]
    r = client.post("/v1/assign", json={"customer_id": "c1", "events": []}, headers=AUTH)
    assert r.status_code == 422 and "at least one event" in r.json()["detail"]
    r = client.post(
        "/v1/assign",
        json={"customer_id": "c1", "events": [{**EVENTS[0], "value": 1e300}]},
        headers=AUTH,
    )
    assert r.status_code == 422 and "out of range" in r.json()["detail"]
    assert client.get("/v1/nothing-here", headers=AUTH).status_code == 404
    r = client.get("/v1/assign", headers=AUTH)  # the plain ASGI route answers like the others
    assert r.status_code == 405 and r.json()["error"] == "method_not_allowed"


def test_unknown_activities_are_handled(client: httpx.Client) -> None:
    events = [
        *EVENTS,
        {
            "timestamp": "2025-02-01T19:09:00Z",
            "activity": "vr_fitting",
            "channel": "metaverse",
            "product": "extra keys are ignored",
        },
    ]
    r = client.post("/v1/assign", json={"customer_id": "c1", "events": events}, headers=AUTH)
    assert r.status_code == 200
    body = r.json()
    assert body["unknown_activities"] == ["vr_fitting"]
    assert body["unknown_channels"] == ["metaverse"]
    assert body["n_events"] == 5


def test_internal_error_is_500_json_without_internals(
    client: httpx.Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="journeymine.assignment.service"):
        r = client.get("/test-only/boom")
    assert r.status_code == 500
    assert r.json() == {
        "error": "internal_error",
        "detail": "internal server error; see the server log.",
    }
    assert "secret" not in r.text
    assert any(
        rec.exc_info and "secret internals" in str(rec.exc_info[1]) for rec in caplog.records
    )


def test_model_card_endpoint(client: httpx.Client, model: PersonaModel) -> None:
    r = client.get("/v1/model", headers=AUTH)
    assert r.status_code == 200
    card = r.json()
    assert card["feature_names"] == model.feature_names_
    assert card["artifact"]["sha256"]


def _other_model(log: pd.DataFrame, labels: pd.Series, threshold: float) -> PersonaModel:
    small = log[log["customer_id"] < "C0000200"]
    return PersonaModel(
        cv=2, validation_size=0, prefix_cuts=(5, None), abstain_threshold=threshold
    ).fit(small, labels)


def test_hot_reload_under_concurrent_requests(
    saved_model: Path, tmp_path: Path, log: pd.DataFrame, labels: pd.Series
) -> None:
    path = tmp_path / "live.skops"
    shutil.copy(saved_model, path)
    shutil.copy(saved_model.with_suffix(".json"), path.with_suffix(".json"))
    other = _other_model(log, labels, 0.3)
    srv = Server(create_app(path, api_key=KEY))
    statuses: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            while not stop.is_set():
                try:
                    r = c.post(
                        "/v1/assign", json={"customer_id": "c", "events": EVENTS}, headers=AUTH
                    )
                    statuses.append(r.status_code)
                except httpx.HTTPError as exc:  # a dropped connection would land here
                    errors.append(exc)

    workers = [threading.Thread(target=hammer) for _ in range(6)]
    try:
        for w in workers:
            w.start()
        shas = set()
        thresholds: list[float] = []
        with httpx.Client(base_url=srv.url, timeout=60) as c:
            for i in range(4):
                if i % 2 == 0:
                    other.save(path)
                else:
                    shutil.copy(saved_model, path)
                    shutil.copy(saved_model.with_suffix(".json"), path.with_suffix(".json"))
                r = c.post("/v1/model/reload", headers=AUTH)
                assert r.status_code == 200, r.text
                shas.add(r.json()["model_sha256"])
                card = c.get("/v1/model", headers=AUTH).json()
                thresholds.append(card["model"]["abstain_threshold"])
                time.sleep(0.2)
            # a bad new file: refused, the current model keeps serving
            current = c.get("/health").json()["model_sha256"]
            path.write_bytes(b"definitely not a model")
            r = c.post("/v1/model/reload", headers=AUTH)
            assert r.status_code == 409 and r.json()["error"] == "reload_failed"
            assert (
                "checksum mismatch" in r.json()["detail"] and "stays loaded" in r.json()["detail"]
            )
            assert c.get("/health").json()["model_sha256"] == current
            time.sleep(0.2)
    finally:
        stop.set()
        for w in workers:
            w.join(timeout=30)
        srv.stop()
    assert thresholds == [0.3, 0.5, 0.3, 0.5]  # the models really alternated
    assert len(shas) >= 2
    assert not errors
    assert len(statuses) > 50 and set(statuses) == {200}


def test_file_watcher_reloads(
    saved_model: Path, tmp_path: Path, log: pd.DataFrame, labels: pd.Series
) -> None:
    path = tmp_path / "watched.skops"
    shutil.copy(saved_model, path)
    shutil.copy(saved_model.with_suffix(".json"), path.with_suffix(".json"))
    srv = Server(create_app(path, api_key=KEY, watch_interval=0.1))
    try:
        with httpx.Client(base_url=srv.url, timeout=30) as c:
            before = c.get("/health").json()["model_sha256"]
            # a broken file: the watcher keeps the current model
            path.write_bytes(b"half-written garbage")
            time.sleep(1.0)
            assert c.get("/health").json()["model_sha256"] == before
            ok = c.post("/v1/assign", json={"customer_id": "c", "events": EVENTS}, headers=AUTH)
            assert ok.status_code == 200
            # a good new model: picked up
            _other_model(log, labels, 0.3).save(path)
            deadline = time.monotonic() + 20
            while c.get("/health").json()["model_sha256"] == before:
                assert time.monotonic() < deadline, "the watcher did not reload the model"
                time.sleep(0.1)
            after = c.get("/v1/model", headers=AUTH).json()
            assert after["model"]["abstain_threshold"] == 0.3
    finally:
        srv.stop()


def test_serve_runs_uvicorn(saved_model: Path) -> None:
    port = free_port()
    code = (
        "from journeymine.assignment.service import serve; "
        f"serve({str(saved_model)!r}, port={port}, api_key='k', log_level='warning', "
        "request_timeout=1.0)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        r = wait_for_health(port, proc)
        assert r.status_code == 200
        r = httpx.get(f"http://127.0.0.1:{port}/v1/model", headers={"X-API-Key": "k"})
        assert r.status_code == 200
        # serve() runs uvicorn with the protocol that times out slow headers
        with socket.create_connection(("127.0.0.1", port)) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            started = time.monotonic()
            data, closed_at = _read_until_closed(s, 10)
        assert data.startswith(b"HTTP/1.1 408 ") and closed_at - started < 2.5
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_jm_serve_with_two_workers(saved_model: Path) -> None:
    """`jm serve --workers 2`: two worker processes answer (each loaded the model through
    app_from_env); a bad --workers is refused before anything starts."""
    port = free_port()
    jm = str(Path(sys.executable).parent / "jm")
    bad = subprocess.run(
        [jm, "serve", "--model", str(saved_model), "--workers", "0"],
        capture_output=True,
        text=True,
        env={**os.environ, "JOURNEYMINE_API_KEY": "k"},
    )
    assert bad.returncode != 0 and "workers" in bad.stderr.lower()
    cmd = [jm, "serve", "--model", str(saved_model), "--port", str(port), "--workers", "2"]
    proc = subprocess.Popen(cmd, env={**os.environ, "JOURNEYMINE_API_KEY": "k"})
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                r = httpx.post(
                    f"http://127.0.0.1:{port}/v1/assign",
                    json={"customer_id": "c1", "events": EVENTS},
                    headers={"X-API-Key": "k"},
                    timeout=5,
                )
                if r.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "jm serve failed"
            time.sleep(0.3)
        assert r.json()["n_events"] == len(EVENTS)
        while True:  # uvicorn's supervisor starts the workers one after the other
            children = subprocess.run(
                ["pgrep", "-P", str(proc.pid)], capture_output=True, text=True
            ).stdout.split()
            # worker processes, not multiprocessing's resource tracker
            workers = [
                c for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()
            ]
            if len(workers) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert len(workers) == 2
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_jm_serve_applies_request_timeout_and_plausible_range(saved_model: Path) -> None:
    """`jm serve --request-timeout 1 --plausible-range none`: a client that sends half a header
    is closed after about a second (408) while requests are served, and an event dated 1975 is
    accepted (refused by the default range)."""
    port = free_port()
    jm = str(Path(sys.executable).parent / "jm")
    cmd = [jm, "serve", "--model", str(saved_model), "--port", str(port)]
    cmd += ["--request-timeout", "1", "--plausible-range", "none"]
    proc = subprocess.Popen(cmd, env={**os.environ, "JOURNEYMINE_API_KEY": "k"})
    try:
        wait_for_health(port, proc)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
            slow.sendall(b"POST /v1/assign HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            t0 = time.monotonic()
            old = [{**EVENTS[0], "timestamp": "1975-01-01T10:00:00Z"}]
            r = httpx.post(
                f"http://127.0.0.1:{port}/v1/assign",
                json={"customer_id": "c1", "events": old},
                headers={"X-API-Key": "k"},
                timeout=5,
            )
            assert r.status_code == 200, r.text
            answer = slow.recv(4096)
            waited = time.monotonic() - t0
        assert b"408" in answer.split(b"\r\n", 1)[0] or answer == b""
        assert waited < 5, f"slow client kept for {waited:.1f} s"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_create_app_refuses_bad_setup(
    saved_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JOURNEYMINE_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="no API key"):
        create_app(saved_model)
    monkeypatch.setenv("JOURNEYMINE_API_KEY", "from-env")
    assert create_app(saved_model) is not None
    with pytest.raises(ConfigError, match="max_batch"):
        create_app(saved_model, api_key=KEY, max_batch=0)
    with pytest.raises(ModelError, match="does not exist"):
        create_app(tmp_path / "missing.skops", api_key=KEY)


def test_app_from_env(saved_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOURNEYMINE_MODEL_PATH", raising=False)
    with pytest.raises(ConfigError, match="JOURNEYMINE_MODEL_PATH"):
        app_from_env()
    monkeypatch.setenv("JOURNEYMINE_MODEL_PATH", str(saved_model))
    monkeypatch.setenv("JOURNEYMINE_API_KEY", KEY)
    monkeypatch.setenv("JOURNEYMINE_MAX_BATCH", "lots")
    with pytest.raises(ConfigError, match="JOURNEYMINE_MAX_BATCH"):
        app_from_env()
    monkeypatch.setenv("JOURNEYMINE_MAX_BATCH", "1")
    srv = Server(app_from_env())
    try:
        body = {"customers": [{"customer_id": "a", "events": EVENTS}] * 2}
        r = httpx.post(f"{srv.url}/v1/assign/batch", json=body, headers=AUTH, timeout=30)
        assert r.status_code == 413 and "limit is 1" in r.json()["detail"]
    finally:
        srv.stop()


# ---------------------------------------------------------------------------------------------
# edge cases of issue #11 (class 6): each is a 4xx JSON answer naming the problem and the fix,
# on a connection that stays usable
# ---------------------------------------------------------------------------------------------
def one(events: list[dict[str, object]]) -> bytes:
    return json.dumps({"customer_id": "c1", "events": events}).encode()


def batch_of(events: list[dict[str, object]]) -> bytes:
    return json.dumps({"customers": [{"customer_id": "c1", "events": events}]}).encode()


@pytest.fixture
def keep_alive(server: Server) -> Iterator[KeepAlive]:
    c = KeepAlive(server.port, AUTH)
    yield c
    c.close()


@pytest.mark.parametrize("stamp", ["NaN", "", "NaT", "now", "today"])
def test_missing_value_timestamps_are_422_and_the_connection_stays_usable(
    keep_alive: KeepAlive, stamp: str
) -> None:
    bad = [{**EVENTS[0], "timestamp": stamp}]
    for path, body in (("/v1/assign", one(bad)), ("/v1/assign/batch", batch_of(bad))):
        status, answer = keep_alive.post(path, body)
        assert status == 422 and answer["error"] == "invalid_events", answer
        assert f"timestamp {stamp!r} could not be parsed" in answer["problems"][0]
        assert "Use ISO 8601 such as '2025-01-31T14:05:00Z'" in answer["detail"]
        # the next valid request on the same connection is answered (KeepAlive checks it)
        status, answer = keep_alive.post("/v1/assign", one(EVENTS))
        assert status == 200 and answer["n_events"] == len(EVENTS)


@pytest.mark.parametrize(
    "stamp", ["0001-01-01T00:00:00Z", "2150-01-01T00:00:00Z", "9999-12-31T23:59:59Z",
              "1989-12-31T23:59:59Z", "2100-01-01T00:00:00Z"]
)  # fmt: skip
def test_implausible_timestamps_are_422_naming_the_range(keep_alive: KeepAlive, stamp: str) -> None:
    bad = [*EVENTS, {**EVENTS[0], "timestamp": stamp}]
    for path, body in (("/v1/assign", one(bad)), ("/v1/assign/batch", batch_of(bad))):
        status, answer = keep_alive.post(path, body)
        assert status == 422 and answer["error"] == "invalid_events", answer
        detail = answer["detail"]
        assert "1 timestamp is outside the plausible range [1990-01-01, 2100-01-01)" in detail
        assert f"event 4: {stamp!r}" in detail and "plausible_range=(start, end)" in detail
        assert answer["problems"] == [
            f"event 4: timestamp {stamp!r} is outside the plausible range [1990-01-01, 2100-01-01)."
        ]
    edges = [{**EVENTS[0], "timestamp": "1990-01-01T00:00:00Z"},
             {**EVENTS[0], "timestamp": "2099-12-31T23:59:59.999999Z"}]  # fmt: skip
    status, answer = keep_alive.post("/v1/assign", one(edges))
    assert status == 200, answer


def test_the_plausible_range_is_a_setting(model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    far = [{**EVENTS[0], "timestamp": "2150-01-01T00:00:00Z"}]
    srv = Server(create_app(model_dir / "model.skops", api_key=KEY, plausible_range=None))
    try:
        r = httpx.post(f"{srv.url}/v1/assign", content=one(far), headers=AUTH, timeout=30)
        assert r.status_code == 200
    finally:
        srv.stop()
    with pytest.raises(ConfigError, match="does not start before it ends"):
        create_app(model_dir / "model.skops", api_key=KEY, plausible_range=("2100", "1990"))
    monkeypatch.setenv("JOURNEYMINE_MODEL_PATH", str(model_dir / "model.skops"))
    monkeypatch.setenv("JOURNEYMINE_API_KEY", KEY)
    monkeypatch.setenv("JOURNEYMINE_PLAUSIBLE_RANGE", "1990-01-01")
    with pytest.raises(ConfigError, match=r"JOURNEYMINE_PLAUSIBLE_RANGE='1990-01-01' is not"):
        app_from_env()
    monkeypatch.setenv("JOURNEYMINE_PLAUSIBLE_RANGE", "none")
    monkeypatch.setenv("JOURNEYMINE_REQUEST_TIMEOUT", "lots")
    with pytest.raises(ConfigError, match="JOURNEYMINE_REQUEST_TIMEOUT"):
        app_from_env()
    with pytest.raises(ConfigError, match=r"request_timeout must be a number of seconds"):
        create_app(model_dir / "model.skops", api_key=KEY, request_timeout=0)


@pytest.mark.parametrize(
    "token", [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1E+400", b"1" + b"0" * 400]
)
def test_numbers_that_json_does_not_have_are_400(keep_alive: KeepAlive, token: bytes) -> None:
    for path, body in (("/v1/assign", one(EVENTS)), ("/v1/assign/batch", batch_of(EVENTS))):
        for key in (b'"value": 30.5', b'"channel": "app"'):  # used, and ignored ("extra")
            bad = body.replace(key, key.split(b":")[0] + b": " + token, 1)
            if key.startswith(b'"channel'):
                bad = bad.replace(b'"channel": ' + token, b'"extra": ' + token, 1)
            status, answer = keep_alive.post(path, bad)
            assert status == 400 and answer["error"] == "malformed_json", (bad, answer)
            assert answer["detail"].startswith("the request body is not valid JSON: ")
            assert "send null or a finite number" in answer["detail"] or (
                "JSON numbers must be finite" in answer["detail"]
            )


def test_an_error_after_the_answer_keeps_the_connection(keep_alive: KeepAlive) -> None:
    """An unhandled exception is a 500 JSON answer, and the client's next request on the same
    connection is served (starlette re-raises it after answering; uvicorn used to then close
    the connection, resetting that next request)."""
    status, answer = keep_alive.request("GET", "/test-only/boom")
    assert status == 500 and answer["error"] == "internal_error"
    status, answer = keep_alive.post("/v1/assign", one(EVENTS))
    assert status == 200


def test_failed_reload_names_files_not_folders(saved_model: Path, tmp_path: Path) -> None:
    folder = tmp_path / "secret-server-folder"
    folder.mkdir()
    path = copy_model_to(saved_model, folder / "live.skops")
    srv = Server(create_app(path, api_key=KEY))
    try:
        with httpx.Client(base_url=srv.url, timeout=30, headers=AUTH) as c:
            path.write_bytes(b"definitely not a model")
            r = c.post("/v1/model/reload")
            assert r.status_code == 409 and r.json()["error"] == "reload_failed"
            detail = r.json()["detail"]
            assert "secret-server-folder" not in r.text and str(tmp_path) not in r.text
            assert detail.startswith("live.skops: checksum mismatch")
            assert "Re-save or retrain the model" in detail and "stays loaded" in detail
            # a card edited after saving: refused, with the fix
            copy_model_to(saved_model, path)
            card = json.loads(path.with_suffix(".json").read_text())
            card["model"]["abstain_threshold"] = 0.9
            path.with_suffix(".json").write_text(json.dumps(card))
            r = c.post("/v1/model/reload")
            assert r.status_code == 409 and "secret-server-folder" not in r.text
            assert "live.skops: the model card was changed after saving" in r.json()["detail"]
            assert "model.save(path)" in r.json()["detail"]
            assert c.post("/v1/assign", content=one(EVENTS)).status_code == 200
    finally:
        srv.stop()


def copy_model_to(src: Path, dst: Path) -> Path:
    shutil.copy(src, dst)
    shutil.copy(src.with_suffix(".json"), dst.with_suffix(".json"))
    return dst


# ---------------------------------------------------------------------------------------------
# slow clients
# ---------------------------------------------------------------------------------------------
def _read_until_closed(sock: socket.socket, limit: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and when it closed it."""
    sock.settimeout(limit)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return data, math.inf
        except ConnectionResetError:
            return data, time.monotonic()
        if not chunk:
            return data, time.monotonic()
        data += chunk


@pytest.mark.parametrize("http", ["httptools", "h11"])
def test_slow_clients_are_timed_out_while_others_are_served(model_dir: Path, http: str) -> None:
    """47 half-sent headers, a silent connection, a slowloris dribbling one header byte every
    0.2 s and a half-sent body, against request_timeout=1 s: each is answered 408 and closed
    within the limit (+ margin), and normal requests are served meanwhile."""
    limit, margin = 1.0, 1.5
    app = create_app(model_dir / "model.skops", api_key=KEY, request_timeout=limit)
    srv = Server(app, http=timeout_protocol(limit, http=http))
    head = f"POST /v1/assign HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-Key: {KEY}\r\n".encode()
    slow: list[tuple[str, socket.socket, float]] = []
    stop = threading.Event()

    def dribble(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while not stop.wait(0.2):
                sock.sendall(b"X")

    results: dict[int, tuple[bytes, float]] = {}
    readers = []

    def watch(i: int, sock: socket.socket) -> None:  # when does the server close it?
        results[i] = _read_until_closed(sock, limit + margin + 5)

    def opened(kind: str, sock: socket.socket) -> None:
        slow.append((kind, sock, time.monotonic()))
        readers.append(threading.Thread(target=watch, args=(len(slow) - 1, sock), daemon=True))
        readers[-1].start()

    try:
        for _ in range(47):  # 50 slow clients in all, as in the hostile test
            s = socket.create_connection(("127.0.0.1", srv.port))
            s.sendall(head)  # no blank line: the headers never end
            opened("headers", s)
        opened("silent", socket.create_connection(("127.0.0.1", srv.port)))
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.sendall(head + b"X-Slow: ")
        opened("dribble", s)
        threading.Thread(target=dribble, args=(s,), daemon=True).start()
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.sendall(head + b'Content-Type: application/json\r\nContent-Length: 500\r\n\r\n{"cust')
        opened("body", s)
        served = 0
        with httpx.Client(base_url=srv.url, timeout=10, headers=AUTH) as c:
            while time.monotonic() - slow[0][2] < limit + margin:
                assert c.post("/v1/assign", content=one(EVENTS)).status_code == 200
                served += 1
                time.sleep(0.05)
        assert served >= 10
        for t in readers:
            t.join(timeout=limit + margin + 10)
        waits = []
        for i, (kind, _, started) in enumerate(slow):
            data, closed_at = results[i]
            waits.append(closed_at - started)
            assert closed_at - started < limit + margin, (kind, closed_at - started)
            assert data.startswith(b"HTTP/1.1 408 "), (kind, data)
            answer = json.loads(data.split(b"\r\n\r\n", 1)[1])
            assert answer["error"] == "request_timeout"
            what = "request body" if kind == "body" else "request headers"
            assert f"the {what} did not arrive within 1 s" in answer["detail"], answer
            assert "Send the whole" in answer["detail"]
        assert min(waits) >= limit - 0.05  # not closed before the limit either
        print(f"{http}: {len(slow)} slow clients closed after {min(waits):.2f}-{max(waits):.2f} s, "
              f"{served} requests served meanwhile")  # fmt: skip
    finally:
        stop.set()
        for _, s, _ in slow:
            s.close()
        srv.stop()


def test_plausible_range_bounds_of_any_year(model_dir: Path) -> None:
    """Bounds beyond pandas' nanosecond range (years 1 to 9999) work, and are shown in full."""
    from journeymine.assignment.service import TimeRange

    wide = TimeRange(("0001-01-01", "9999-12-31"))
    assert wide.text == "[0001-01-01, 9999-12-31)"
    with pytest.raises(EventLogError, match=r"outside the plausible range \[0001-01-01, 9999"):
        wide.check_events([{"timestamp": "9999-12-31T00:00:01Z"}], np.array([wide.hi + 1]))
    assert create_app(
        model_dir / "model.skops", api_key=KEY, plausible_range=("0001-01-01", "9999-12-31")
    )
