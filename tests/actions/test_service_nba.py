"""POST /v1/next-best-action on a REAL uvicorn server: equal to next_best_action in-process,
key required, bad input as 4xx JSON, and absent unless the service has a policy."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from _service_models import true_persona_models
from _uvicorn_server import KeepAlive, Server

from journeymine.actions import next_best_action
from journeymine.assignment import assign
from journeymine.assignment.service import create_app
from journeymine.datasets import make_journeys, sample_policy_path
from journeymine.exceptions import ConfigError

KEY = "nba-key"
AUTH = {"X-API-Key": KEY}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("nba")
    data = make_journeys(n_customers=500, days=90, random_state=6)
    fitted = true_persona_models(data, d)
    model, model_path = fitted["model"], fitted["model_path"]
    policy, responses = fitted["policy"], fitted["responses"]
    rates = responses.save(d / "rates.json")
    return {"data": data, "model": model, "model_path": model_path, "rates": rates,
            "responses": responses, "policy": policy}  # fmt: skip


@pytest.fixture(scope="module")
def server(setup: dict[str, Any]) -> Iterator[Server]:
    app = create_app(
        setup["model_path"],
        api_key=KEY,
        policy_path=sample_policy_path(),
        responses_path=setup["rates"],
    )
    srv = Server(app)
    yield srv
    srv.stop()


def events_of(log: pd.DataFrame, cid: str) -> list[dict[str, Any]]:
    g = log[log["customer_id"] == cid]
    iso = np.datetime_as_string(g["timestamp"].dt.tz_localize(None).to_numpy(), "us", "UTC")
    out = []
    for t, a, c, j, p in zip(iso, g["activity"], g["channel"], g["journey_id"], g["product"],
                             strict=True):  # fmt: skip
        e = {"timestamp": str(t), "activity": str(a), "channel": str(c)}
        if isinstance(j, str):
            e["journey_id"] = j
        if isinstance(p, str):
            e["product"] = p
        out.append(e)
    return out


def test_next_best_action_over_http_equals_in_process(
    server: Server, setup: dict[str, Any]
) -> None:
    log = setup["data"].events
    # customers who bought something recently: tips are in play for some of them
    buyers = log.loc[log["activity"] == "purchase", "customer_id"].unique()[:8]
    at = "2025-03-20T12:00:00Z"
    with httpx.Client(base_url=server.url, timeout=60) as c:
        for cid in buyers:
            events = events_of(log[log["timestamp"] < at], str(cid))
            if not events:
                continue
            r = c.post("/v1/next-best-action", headers=AUTH,
                       json={"customer_id": cid, "events": events, "at": at})  # fmt: skip
            assert r.status_code == 200, r.text
            got = r.json()
            a = assign(events, setup["model"], customer_id=str(cid))
            assert got["persona"] == a.persona and got["persona_name"] == a.name
            frame = pd.DataFrame([{**e, "customer_id": cid} for e in events])
            want = next_best_action(frame, setup["policy"], setup["responses"],
                                    pd.Series({cid: a.persona}), at=at,
                                    check="off")  # one customer, as the service  # fmt: skip
            row = want.actions.iloc[0]
            assert got["action"] == (None if pd.isna(row["action"]) else row["action"])
            assert len(got["why_not"]) == len(want.why_not)
            assert {w["reason"] for w in got["why_not"]} == set(want.why_not["reason"])
        # a known persona given by the caller is used as is
        r = c.post("/v1/next-best-action", headers=AUTH,
                   json={"customer_id": "x", "persona": 2, "at": at,
                         "events": [{"timestamp": "2025-03-20T10:00:00Z",
                                     "activity": "add_to_cart", "channel": "web"}]})  # fmt: skip
        assert r.status_code == 200 and r.json()["persona"] == 2
        assert r.json()["action"] is not None


def test_next_best_action_errors(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        body = {"customer_id": "x", "events": [{"timestamp": "2025-03-20T10:00:00Z",
                                                "activity": "visit"}]}  # fmt: skip
        assert c.post("/v1/next-best-action", json=body).status_code == 401
        r = c.post("/v1/next-best-action", json={"customer_id": "x"}, headers=AUTH)
        assert r.status_code == 422 and r.json()["error"] == "invalid_request"
        r = c.post("/v1/next-best-action", json={**body, "at": "someday"}, headers=AUTH)
        assert r.status_code == 422 and "is not a time" in r.json()["detail"]
        bad = {"customer_id": "x", "events": [{"timestamp": "31/31/2025", "activity": "visit"}]}
        r = c.post("/v1/next-best-action", json=bad, headers=AUTH)
        assert r.status_code == 422 and r.json()["error"] == "invalid_events"
        doc = c.get("/openapi.json").json()
        assert (
            "/v1/next-best-action" in doc["paths"] and "NbaRequest" in doc["components"]["schemas"]
        )


def test_route_only_with_policy_and_rates(setup: dict[str, Any], tmp_path: Path) -> None:
    app = create_app(setup["model_path"], api_key=KEY)
    assert "/v1/next-best-action" not in {r.path for r in app.routes}
    with pytest.raises(ConfigError, match="needs both a policy file and a response-rates file"):
        create_app(setup["model_path"], api_key=KEY, policy_path=sample_policy_path())
    other = tmp_path / "p.json"
    other.write_text(json.dumps({"journeys": [{"name": "only", "channel": "email",
                                               "activity": "email_sent"}]}))  # fmt: skip
    with pytest.raises(ConfigError, match="refit them with this policy"):
        create_app(setup["model_path"], api_key=KEY, policy_path=other,
                   responses_path=setup["rates"])  # fmt: skip


# ---------------------------------------------------------------------------------------------
# edge cases of issue #11 (class 6)
# ---------------------------------------------------------------------------------------------
VISIT = {"timestamp": "2025-03-20T10:00:00Z", "activity": "visit", "channel": "web"}


def nba(keep_alive: KeepAlive, body: dict[str, Any]) -> tuple[int, Any]:
    return keep_alive.post("/v1/next-best-action", json.dumps(body).encode())


@pytest.fixture
def keep_alive(server: Server) -> Iterator[KeepAlive]:
    c = KeepAlive(server.port, AUTH)
    yield c
    c.close()


def test_bad_timestamps_and_products_are_422_and_the_connection_stays_usable(
    keep_alive: KeepAlive,
) -> None:
    for stamp in ("NaN", "", "NaT"):
        status, answer = nba(keep_alive, {"customer_id": "x",
                                          "events": [{**VISIT, "timestamp": stamp}]})  # fmt: skip
        assert status == 422 and answer["error"] == "invalid_events"
        assert f"timestamp {stamp!r} could not be parsed. Use ISO 8601" in answer["detail"]
        status, _ = nba(keep_alive, {"customer_id": "x", "events": [VISIT]})
        assert status == 200
    for stamp in ("0001-01-01T00:00:00Z", "2150-01-01T00:00:00Z", "9999-12-31T00:00:00Z"):
        status, answer = nba(keep_alive, {"customer_id": "x", "persona": 1,
                                          "events": [{**VISIT, "timestamp": stamp}]})  # fmt: skip
        assert (
            status == 422
            and "outside the plausible range [1990-01-01, 2100-01-01)" in (answer["detail"])
        )
    for product, shown in (({}, "dict {}"), ([1], "list [1]"), (True, "bool true"),
                           (1.5, "float 1.5")):  # fmt: skip
        event = {**VISIT, "activity": "purchase", "product": product}
        for persona in ({}, {"persona": 1}):  # also when the model does not assign
            status, answer = nba(keep_alive, {"customer_id": "x", "events": [event], **persona})
            assert status == 422 and answer["error"] == "invalid_events", answer
            assert (
                f"event 0: product must be a text, an integer id or null, got {shown}"
                in (answer["detail"])
            )
            assert "send one text id per event, or null" in answer["detail"]
    event = {**VISIT, "activity": "purchase", "product": 1234}  # an integer id is an id
    status, answer = nba(keep_alive, {"customer_id": "x", "events": [event]})
    assert status == 200


def test_decision_time_is_refused_outside_the_range_and_never_moved(
    keep_alive: KeepAlive,
) -> None:
    for at in ("2100-01-01T00:00:00Z", "1900-01-01T00:00:00Z", "2150-06-01"):
        status, answer = nba(keep_alive, {"customer_id": "x", "events": [VISIT], "at": at})
        assert status == 422 and answer["error"] == "invalid_request"
        assert answer["detail"] == (
            f"at={at!r} is outside the plausible range [1990-01-01, 2100-01-01); give a time in "
            f"that range, e.g. '2025-03-01T09:00:00Z'."
        )
    # far from the events, but plausible: decided at that time (to the second), not moved
    for at, shown in (("2099-06-01T12:00:00.750Z", "2099-06-01T12:00:00+00:00"),
                      ("1995-01-01T00:00:00", "1995-01-01T00:00:00+00:00"),
                      ("2025-03-20T12:00:00+02:00", "2025-03-20T10:00:00+00:00")):  # fmt: skip
        status, answer = nba(keep_alive, {"customer_id": "x", "events": [VISIT], "at": at})
        assert status == 200 and answer["at"] == shown, answer
    for at in ("NaN", "", "someday"):
        status, answer = nba(keep_alive, {"customer_id": "x", "events": [VISIT], "at": at})
        assert status == 422 and "is not a time; give e.g. '2025-03-01T09:00Z'" in answer["detail"]


def test_default_decision_time_is_the_one_of_jm_nba(
    keep_alive: KeepAlive, setup: dict[str, Any]
) -> None:
    """Without ``at``: one second after the customer's last event, as next_best_action (and
    ``jm nba``) decide by default; the answer equals the library's."""
    log = setup["data"].events
    cid = str(log.loc[log["activity"] == "purchase", "customer_id"].iloc[0])
    events = events_of(log, cid)
    status, answer = nba(keep_alive, {"customer_id": cid, "events": events})
    assert status == 200
    last = pd.Timestamp(max(e["timestamp"] for e in events))  # ISO with Z: UTC
    assert answer["at"] == (last.floor("s") + pd.Timedelta(seconds=1)).isoformat()
    a = assign(events, setup["model"], customer_id=cid)
    frame = pd.DataFrame([{**e, "customer_id": cid} for e in events])
    want = next_best_action(frame, setup["policy"], setup["responses"],
                            pd.Series({cid: a.persona}), check="off")  # fmt: skip
    assert answer["at"] == want.actions["at"].iloc[0].isoformat()
    row = want.actions.iloc[0]
    assert answer["action"] == (None if pd.isna(row["action"]) else row["action"])


def test_unknown_or_malformed_persona_is_4xx(keep_alive: KeepAlive) -> None:
    for persona in (999, 2**70, -2):
        status, answer = nba(keep_alive, {"customer_id": "x", "events": [VISIT],
                                          "persona": persona})  # fmt: skip
        assert status == 422 and answer["error"] == "invalid_request"
        assert f"persona {persona} is not one of this service's personas" in answer["detail"]
        assert "omit it to let the model assign one" in answer["detail"]
    for persona in (True, "2", 2.5):
        status, answer = nba(keep_alive, {"customer_id": "x", "events": [VISIT],
                                          "persona": persona})  # fmt: skip
        assert status == 422 and answer["detail"][0]["loc"] == ["body", "persona"]
    status, answer = nba(keep_alive, {"customer_id": "x", "events": [VISIT], "persona": -1})
    assert status == 200 and answer["persona"] == -1


def test_non_json_numbers_are_400(server: Server) -> None:
    body = b'{"customer_id": "x", "persona": NaN, "events": [{"timestamp": "2025-03-20T10:00:00Z", "activity": "visit", "value": 1e999}]}'  # noqa: E501
    r = httpx.post(f"{server.url}/v1/next-best-action", content=body, headers=AUTH, timeout=30)
    assert r.status_code == 400 and r.json()["error"] == "malformed_json"
    assert "NaN, Infinity and -Infinity are not JSON numbers" in r.json()["detail"]
