"""A saved NextStepModel beside the persona model: assignments, next-best-action answers and
customer states carry the customer's next step (the model's ``predict_customer`` on the same
events); without one, no ``next_step`` key. Real server, real files."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from _uvicorn_server import Server

from journeymine.nextstep import NextStepModel
from journeymine.service import create_app
from journeymine.service.model_holder import default_next_step_path

KEY = "ns-key"
AUTH = {"X-API-Key": KEY}
AT = "2025-03-05T12:00:00Z"


@pytest.fixture(scope="module")
def with_next_step(setup: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("nextstep")
    model_path = folder / "m.skops"
    shutil.copy(setup["model_path"], model_path)
    shutil.copy(Path(setup["model_path"]).with_suffix(".json"), model_path.with_suffix(".json"))
    ns = NextStepModel(max_iter=10).fit(setup["data"].events)
    ns.save(default_next_step_path(model_path))
    return model_path, ns


def _events(log: Any, cid: str) -> list[dict[str, Any]]:
    sub = log[log["customer_id"] == cid]
    return [
        {
            "customer_id": cid,
            "timestamp": t.isoformat(),
            "activity": str(a),
            "channel": str(ch),
            "event_id": f"{cid}:{i}",
        }
        for i, (t, a, ch) in enumerate(
            zip(sub["timestamp"], sub["activity"], sub["channel"], strict=True)
        )
    ]


def test_answers_carry_the_next_step(
    with_next_step: Any, setup: dict[str, Any], tmp_path: Path
) -> None:
    model_path, ns = with_next_step
    app = create_app(
        model_path,
        api_key=KEY,
        policy_path=setup["policy_path"],
        responses_path=setup["rates_path"],
        store=f"sqlite:///{tmp_path / 'ns.db'}",
    )
    srv = Server(app)
    log = setup["data"].events
    cid = str(log["customer_id"].iloc[0])
    events = _events(log, cid)
    want = ns.predict_customer(events, customer_id=cid).to_dict()
    try:
        with httpx.Client(base_url=srv.url, headers=AUTH, timeout=60) as c:
            one = c.post("/v1/assign", json={"customer_id": cid, "events": events}).json()
            assert one["next_step"] == want
            batch = c.post(
                "/v1/assign/batch", json={"customers": [{"customer_id": cid, "events": events}]}
            ).json()
            assert batch["results"][0]["next_step"] == want
            assert c.post("/v1/events", json={"events": events}).status_code == 200
            nba = c.post("/v1/next-best-action", json={"customer_id": cid, "at": AT}).json()
            assert nba["next_step"] == want
            assert c.get(f"/v1/customers/{cid}").json()["next_step"] == want
    finally:
        srv.stop()


def test_no_next_step_model_no_key_and_a_missing_file_is_an_error(
    setup: dict[str, Any], tmp_path: Path
) -> None:
    from journeymine.exceptions import ConfigError

    app = create_app(setup["model_path"], api_key=KEY)
    srv = Server(app)
    log = setup["data"].events
    cid = str(log["customer_id"].iloc[0])
    try:
        with httpx.Client(base_url=srv.url, headers=AUTH, timeout=60) as c:
            one = c.post("/v1/assign", json={"customer_id": cid, "events": _events(log, cid)})
            assert one.status_code == 200 and "next_step" not in one.json()
    finally:
        srv.stop()
    with pytest.raises(ConfigError, match="next_step_path"):
        create_app(setup["model_path"], api_key=KEY, next_step_path=tmp_path / "nope.skops")
