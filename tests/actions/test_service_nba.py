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
from _uvicorn_server import Server

from journeymine.actions import ResponseModel, next_best_action
from journeymine.assignment import PersonaModel, assign
from journeymine.assignment.service import create_app
from journeymine.datasets import make_journeys, sample_policy, sample_policy_path
from journeymine.exceptions import ConfigError

KEY = "nba-key"
AUTH = {"X-API-Key": KEY}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("nba")
    data = make_journeys(n_customers=500, days=90, random_state=6)
    names = sorted(data.customers["persona"].unique())
    labels = data.customers.set_index("customer_id")["persona"].map(names.index).astype("int64")
    model = PersonaModel(cv=3, random_state=0).fit(
        data.events, labels, names=dict(enumerate(names))
    )
    model_path = model.save(d / "m.skops")
    policy = sample_policy()
    responses = ResponseModel().fit(data.events, labels, policy)
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
                                    pd.Series({cid: a.persona}), at=at)  # fmt: skip
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
