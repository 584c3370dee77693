"""Shared fixtures of the state-store service tests: a model, a policy with its rates, and a
real redis-server on a free 127.0.0.1 port (skipped only when the binary is absent)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _service_models import true_persona_models
from _uvicorn_server import free_port

from journeymine.actions import Policy, ResponseModel
from journeymine.datasets import make_journeys

#: one email journey any customer may get (cold start: a prior rate), capped at 2 per 7 days
CAP_POLICY = {
    "journeys": [
        {"name": "promo", "channel": "email", "activity": "email_sent", "prior_rate": 0.2}
    ],
    "caps": [{"channel": "email", "max": 2, "per": "7D"}],
}


@pytest.fixture(scope="session")
def setup(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("state")
    data = make_journeys(n_customers=300, days=60, random_state=11)
    fitted = true_persona_models(data, d)
    labels, model, model_path = fitted["labels"], fitted["model"], fitted["model_path"]
    policy, responses = fitted["policy"], fitted["responses"]
    cap_policy = Policy.from_dict(CAP_POLICY)
    cap_rates = ResponseModel().fit(data.events, labels, cap_policy)
    import json

    (d / "cap_policy.json").write_text(json.dumps(CAP_POLICY))
    return {
        "dir": d,
        "data": data,
        "model": model,
        "model_path": model_path,
        "policy": policy,
        "policy_path": Path(__import__("journeymine").datasets.sample_policy_path()),
        "responses": responses,
        "rates_path": responses.save(d / "rates.json"),
        "cap_policy": cap_policy,
        "cap_policy_path": d / "cap_policy.json",
        "cap_rates_path": cap_rates.save(d / "cap_rates.json"),
    }


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip(
            "redis-server is not installed (Debian: apt-get install redis-server; `make redis`)"
        )
    port = free_port()
    d = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(d),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--protected-mode",
            "yes",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import redis

    r = redis.Redis(port=port)
    deadline = time.monotonic() + 20
    while True:
        try:
            r.ping()
            break
        except redis.ConnectionError:
            assert proc.poll() is None and time.monotonic() < deadline, "redis did not start"
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(timeout=10)
