"""Continuous decisioning on a REAL uvicorn server with a real SQLite file and a real
redis-server: live equals batch, caps hold under concurrency (1 and 4 workers), no acknowledged
event is lost on SIGKILL, replays and late events, and bad input as 4xx/503 JSON."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from _uvicorn_server import Server, free_port, wait_for_health

from journeymine.actions import next_best_action
from journeymine.assignment import assign, assign_many
from journeymine.service import create_app
from journeymine.service.state import SQLiteStore

KEY = "state-key"
AUTH = {"X-API-Key": KEY}
AT = "2025-03-05T12:00:00Z"  # after the generated logs (which end on 2025-03-01)


def as_events(log: pd.DataFrame) -> list[dict[str, Any]]:
    iso = np.datetime_as_string(log["timestamp"].dt.tz_localize(None).to_numpy(), "us", "UTC")
    out = []
    for c, t, a, ch, j, p, v in zip(
        log["customer_id"],
        iso,
        log["activity"],
        log["channel"],
        log["journey_id"],
        log["product"],
        log["value"],
        strict=True,
    ):
        e = {"customer_id": str(c), "timestamp": str(t), "activity": str(a), "channel": str(ch)}
        if v == v:  # not NaN
            e["value"] = float(v)
        if isinstance(j, str):
            e["journey_id"] = j
        if isinstance(p, str):
            e["product"] = p
        out.append(e)
    return out


def post_all(c: httpx.Client, events: list[dict[str, Any]], size: int = 1000) -> None:
    for i in range(0, len(events), size):
        r = c.post("/v1/events", json={"events": events[i : i + size]})
        assert r.status_code == 200, r.text


@pytest.fixture
def sqlite_server(setup: dict[str, Any], tmp_path: Any) -> Iterator[Server]:
    app = create_app(
        setup["model_path"],
        api_key=KEY,
        policy_path=setup["policy_path"],
        responses_path=setup["rates_path"],
        store=f"sqlite:///{tmp_path / 's.db'}",
    )
    srv = Server(app)
    yield srv
    srv.stop()


def test_live_equals_batch(sqlite_server: Server, setup: dict[str, Any]) -> None:
    check_live_equals_batch(sqlite_server.url, setup)


def test_live_equals_batch_on_redis(setup: dict[str, Any], request: pytest.FixtureRequest) -> None:
    """The same with Redis: decisions read with the asyncio client on the event loop (the
    first one of each customer computes the persona in a thread)."""
    import redis

    url = request.getfixturevalue("redis_url").rsplit("/", 1)[0] + "/3"
    redis.Redis.from_url(url).flushdb()
    app = create_app(
        setup["model_path"],
        api_key=KEY,
        policy_path=setup["policy_path"],
        responses_path=setup["rates_path"],
        store=url,
    )
    srv = Server(app)
    try:
        check_live_equals_batch(srv.url, setup, repeat=2)
    finally:
        srv.stop()


def check_live_equals_batch(url: str, setup: dict[str, Any], repeat: int = 1) -> None:
    log = setup["data"].events
    ids = sorted(log["customer_id"].unique())[:150]
    sub = log[log["customer_id"].isin(ids)]
    personas = assign_many(sub, setup["model"])
    batch = next_best_action(
        sub,
        setup["policy"],
        setup["responses"],
        personas.set_index("customer_id")["persona"],
        at=AT,
        check="off",
    )
    expected = batch.actions.set_index("customer_id")
    with httpx.Client(base_url=url, headers=AUTH, timeout=60) as c:
        post_all(c, as_events(sub.sort_values("timestamp", kind="stable")))
        for _ in range(repeat):  # the second time: the stored persona, read on the loop
            for cid in ids:
                r = c.post("/v1/next-best-action", json={"customer_id": cid, "at": AT})
                assert r.status_code == 200, r.text
                got = r.json()
                one = assign(sub[sub["customer_id"] == cid], setup["model"])
                assert got["persona"] == one.persona, cid
                assert got["persona_probability"] == pytest.approx(one.probability, abs=1e-12)
                assert got["action"] == expected.loc[cid, "action"], cid
                assert got["committed"] is False and got["decision_id"]


def test_replay_late_events_and_state(sqlite_server: Server, setup: dict[str, Any]) -> None:
    log = setup["data"].events
    cid = log["customer_id"].value_counts().index[0]
    events = as_events(log[log["customer_id"] == cid])
    for i, e in enumerate(events):
        e["event_id"] = f"e{i}"
    late = [dict(e, customer_id="LATE", event_id="L" + e["event_id"]) for e in events]
    with httpx.Client(base_url=sqlite_server.url, headers=AUTH, timeout=60) as c:
        r = c.post("/v1/events", json={"events": events})
        assert r.json() == {"accepted": len(events), "duplicates": 0, "customers": 1}
        r = c.post("/v1/events", json={"events": events})  # replay: nothing counted twice
        assert r.json() == {"accepted": 0, "duplicates": len(events), "customers": 1}
        # the same events newest first, in three batches: merged in time order
        for part in (late[::-1][:5], late[::-1][5:10], late[::-1][10:]):
            assert c.post("/v1/events", json={"events": part}).status_code == 200
        a, b = c.get(f"/v1/customers/{cid}").json(), c.get("/v1/customers/LATE").json()
        assert a["n_events"] == b["n_events"] == len(events)
        for k in ("persona", "probability"):
            assert a[k] == b[k]
        strip = [
            {k: v for k, v in e.items() if k not in ("customer_id", "event_id")}
            for e in a["recent_events"]
        ]
        assert strip == [
            {k: v for k, v in e.items() if k not in ("customer_id", "event_id")}
            for e in b["recent_events"]
        ]
        da = c.post("/v1/next-best-action", json={"customer_id": cid, "at": AT}).json()
        db = c.post("/v1/next-best-action", json={"customer_id": "LATE", "at": AT}).json()
        assert (da["action"], da["why_not"]) == (db["action"], db["why_not"])
        assert a["persona"] == assign(log[log["customer_id"] == cid], setup["model"]).persona


def test_bad_input_is_4xx_json_and_keeps_the_state(
    sqlite_server: Server, setup: dict[str, Any]
) -> None:
    ok = {
        "customer_id": "B1",
        "timestamp": "2025-01-01T10:00:00Z",
        "activity": "visit",
        "channel": "web",
        "event_id": "b1",
    }
    with httpx.Client(base_url=sqlite_server.url, headers=AUTH, timeout=60) as c:
        assert c.post("/v1/events", json={"events": [ok]}).status_code == 200
        before = c.get("/v1/customers/B1").json()
        cases = {
            "unknown field": {"events": [dict(ok, event_id="x1", colour="red")]},
            "far future": {"events": [dict(ok, event_id="x2", timestamp="2099-01-01T00:00:00Z")]},
            "duplicate ids": {"events": [dict(ok, event_id="x3"), dict(ok, event_id="x3")]},
            "10 kB customer id": {"events": [dict(ok, event_id="x4", customer_id="c" * 10_000)]},
            "unknown top key": {"events": [ok], "more": 1},
            "no events": {"events": []},
        }
        for name, body in cases.items():
            r = c.post("/v1/events", json=body)
            assert r.status_code == 422, (name, r.text)
            assert r.json()["error"] in ("invalid_events", "invalid_request"), name
        r = c.post("/v1/next-best-action", json={"customer_id": "c" * 10_000, "commit": True})
        assert r.status_code == 422 and r.json()["error"] == "invalid_request"
        r = c.post("/v1/next-best-action", json={"customer_id": "nobody", "commit": True})
        assert r.status_code == 404 and r.json()["error"] == "unknown_customer"
        r = c.post("/v1/next-best-action", json={"customer_id": "B1", "commit": "yes"})
        assert r.status_code == 422
        assert c.get("/v1/customers/" + "c" * 300).status_code == 422
        assert c.post("/v1/events", content=b'{"events": [NaN]}').status_code == 400
        r = c.post(
            "/v1/outcomes",
            json={
                "outcomes": [{"decision_id": "nope", "activity": "email_click", "timestamp": AT}]
            },
        )
        assert r.status_code == 404 and r.json()["error"] == "unknown_decision"
        assert (
            httpx.post(sqlite_server.url + "/v1/events", json={"events": [ok]}).status_code == 401
        )
        assert c.get("/v1/customers/B1").json()["n_events"] == before["n_events"] == 1
        paths = c.get("/openapi.json").json()["paths"]
        for path in (
            "/v1/events",
            "/v1/customers/{customer_id}",
            "/v1/outcomes",
            "/v1/next-best-action",
        ):
            assert path in paths


def test_unreachable_store_is_503(setup: dict[str, Any]) -> None:
    app = create_app(
        setup["model_path"],
        api_key=KEY,
        policy_path=setup["policy_path"],
        responses_path=setup["rates_path"],
        store=f"redis://127.0.0.1:{free_port()}/0",
    )
    srv = Server(app)
    try:
        ev = {"customer_id": "U", "timestamp": "2025-01-01T10:00:00Z", "activity": "visit"}
        with httpx.Client(base_url=srv.url, headers=AUTH, timeout=60) as c:
            r = c.post("/v1/events", json={"events": [ev]})
            assert r.status_code == 503 and r.json()["error"] == "store_unavailable", r.text
            r = c.post("/v1/next-best-action", json={"customer_id": "U", "commit": True})
            assert r.status_code == 503, r.text
            assert c.get("/v1/customers/U").status_code == 503
    finally:
        srv.stop()


# ---------------------------------------------------------------------------------------------
# caps under concurrency
# ---------------------------------------------------------------------------------------------
def fifty_commits(url: str) -> list[dict[str, Any]]:
    ev = {
        "customer_id": "CAP",
        "timestamp": "2025-03-01T10:00:00Z",
        "activity": "visit",
        "channel": "web",
        "event_id": "cap-1",
    }
    with httpx.Client(base_url=url, headers=AUTH, timeout=120) as c:
        assert c.post("/v1/events", json={"events": [ev]}).status_code == 200
    barrier = threading.Barrier(50)

    def one(_: int) -> dict[str, Any]:
        with httpx.Client(base_url=url, headers=AUTH, timeout=120) as c:
            barrier.wait()
            r = c.post(
                "/v1/next-best-action", json={"customer_id": "CAP", "commit": True, "at": AT}
            )
            assert r.status_code == 200, r.text
            return dict(r.json())

    with ThreadPoolExecutor(50) as pool:
        return list(pool.map(one, range(50)))


def check_two_emails(url: str, answers: list[dict[str, Any]]) -> None:
    sent = [a for a in answers if a["action"] is not None]
    assert len(sent) == 2, [a["action"] for a in answers]
    assert all(a["committed"] for a in sent) and len({a["decision_id"] for a in sent}) == 2
    assert all(a["action"] is None for a in answers if a not in sent)
    state = httpx.get(f"{url}/v1/customers/CAP", headers=AUTH, timeout=60).json()
    assert [c["channel"] for c in state["contacts"]] == ["email", "email"]
    assert state["next_best_action"] is not None


def cap_app(setup: dict[str, Any], store: str) -> Any:
    return create_app(
        setup["model_path"],
        api_key=KEY,
        policy_path=setup["cap_policy_path"],
        responses_path=setup["cap_rates_path"],
        store=store,
    )


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_cap_holds_with_one_worker(
    backend: str, setup: dict[str, Any], tmp_path: Any, request: pytest.FixtureRequest
) -> None:
    if backend == "redis":
        store = request.getfixturevalue("redis_url").rsplit("/", 1)[0] + "/1"
    else:
        store = f"sqlite:///{tmp_path / 'cap.db'}"
    srv = Server(cap_app(setup, store))
    try:
        check_two_emails(srv.url, fifty_commits(srv.url))
    finally:
        srv.stop()


def jm_serve(setup: dict[str, Any], store: str, workers: int, port: int) -> subprocess.Popen[bytes]:
    env = dict(os.environ, JOURNEYMINE_API_KEY=KEY)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "journeymine",
            "serve",
            "--model",
            str(setup["model_path"]),
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--store",
            store,
            "--policy",
            str(setup["cap_policy_path"]),
            "--responses",
            str(setup["cap_rates_path"]),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.mark.slow
@pytest.mark.timeout(420)
@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_cap_holds_with_four_workers(
    backend: str, setup: dict[str, Any], tmp_path: Any, request: pytest.FixtureRequest
) -> None:
    """``jm serve --workers 4``: the 50 committed decisions spread over four processes that
    share the store; exactly two emails, and every worker's /metrics counts all 50."""
    if backend == "redis":
        store = request.getfixturevalue("redis_url").rsplit("/", 1)[0] + "/2"
    else:
        store = f"sqlite:///{tmp_path / 'cap4.db'}"
    port = free_port()
    proc = jm_serve(setup, store, 4, port)
    try:
        wait_for_health(port, proc, timeout=180)
        url = f"http://127.0.0.1:{port}"
        check_two_emails(url, fifty_commits(url))
        text = httpx.get(f"{url}/metrics", headers=AUTH, timeout=60).text
        decided = {
            line.split("{", 1)[1].split("}", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("journeymine_decisions_total{")
        }
        assert decided == {
            'action="promo",committed="true"': 2.0,
            'action="none",committed="false"': 48.0,
        }, decided
    finally:
        proc.terminate()
        proc.wait(timeout=60)


# ---------------------------------------------------------------------------------------------
# durability
# ---------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_sigkill_loses_no_acknowledged_event(setup: dict[str, Any], tmp_path: Any) -> None:
    db = tmp_path / "kill.db"
    port = free_port()
    proc = jm_serve(setup, f"sqlite:///{db}", 1, port)
    acked: list[str] = []
    stop = threading.Event()

    def stream() -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=AUTH, timeout=10) as c:
            k = 0
            while not stop.is_set():
                batch = [
                    {
                        "customer_id": f"K{(k + i) % 7}",
                        "event_id": f"k{k + i}",
                        "timestamp": "2025-02-01T10:00:00Z",
                        "activity": "visit",
                    }
                    for i in range(20)
                ]
                k += 20
                try:
                    r = c.post("/v1/events", json={"events": batch})
                except httpx.TransportError:
                    return
                if r.status_code == 200:
                    acked.extend(e["event_id"] for e in batch)

    try:
        wait_for_health(port, proc, timeout=120)
        t = threading.Thread(target=stream)
        t.start()
        while len(acked) < 400 and t.is_alive():
            threading.Event().wait(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        stop.set()
        t.join(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(acked) >= 400
    # restart on the same file: every acknowledged event is there
    port = free_port()
    proc = jm_serve(setup, f"sqlite:///{db}", 1, port)
    try:
        wait_for_health(port, proc, timeout=120)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=AUTH, timeout=60) as c:
            total = sum(c.get(f"/v1/customers/K{i}").json()["n_events"] for i in range(7))
        assert total >= len(acked)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    store = SQLiteStore(db)
    stored = {e["event_id"] for i in range(7) for e in (store.get(f"K{i}").events)}  # type: ignore[union-attr]
    store.close()
    assert set(acked) <= stored


# ---------------------------------------------------------------------------------------------
# live equals batch on a stream
# ---------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_stream_of_single_events_decides_as_the_batch(
    setup: dict[str, Any], tmp_path: Any
) -> None:
    """500 generated customers (not the model's training data), their events sent ONE per
    request in time order over a keep-alive connection (as a stream would), a few arriving
    late: the persona and action by customer_id equal ``assign_many`` and
    ``next_best_action`` on the whole log at the same time."""
    from _uvicorn_server import KeepAlive

    from journeymine.datasets import make_journeys

    log = make_journeys(n_customers=550, days=20, random_state=21).events
    log = log[log["customer_id"].isin(sorted(log["customer_id"].unique())[:500])]
    events = as_events(log.sort_values("timestamp", kind="stable"))
    for i, e in enumerate(events):
        e["event_id"] = f"s{i}"
    # every 50th event arrives 30 events late (older than what its customer has by then)
    order = list(range(len(events)))
    for k in range(0, len(order) - 31, 50):
        order.insert(k + 31, order.pop(k))
    app = create_app(
        setup["model_path"],
        api_key=KEY,
        policy_path=setup["policy_path"],
        responses_path=setup["rates_path"],
        store=f"sqlite:///{tmp_path / 'stream.db'}",
    )
    srv = Server(app)
    personas = assign_many(log, setup["model"]).set_index("customer_id")
    batch = next_best_action(
        log, setup["policy"], setup["responses"], personas["persona"], at=AT, check="off"
    ).actions.set_index("customer_id")
    conn = KeepAlive(srv.port, AUTH)
    latest: dict[str, str] = {}
    late = 0
    try:
        for i in order:
            e = events[i]
            status, answer = conn.post("/v1/events", json.dumps({"events": [e]}).encode())
            assert status == 200 and answer["accepted"] == 1, answer
            late += e["timestamp"] < latest.get(e["customer_id"], "")
            latest[e["customer_id"]] = max(latest.get(e["customer_id"], ""), e["timestamp"])
        assert late >= 5, late  # some events were older than their customer's stored ones
        ids = sorted(log["customer_id"].unique())
        assert len(ids) == 500
        for cid in ids:
            body = json.dumps({"customer_id": cid, "at": AT}).encode()
            status, got = conn.post("/v1/next-best-action", body)
            assert status == 200, got
            assert got["persona"] == personas.loc[cid, "persona"], cid
            assert got["persona_probability"] == pytest.approx(
                personas.loc[cid, "probability"], abs=1e-12
            )
            want = batch.loc[cid, "action"]
            assert got["action"] == (None if want is None or want != want else want), cid
    finally:
        conn.close()
        srv.stop()
