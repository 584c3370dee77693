"""``jm state`` on real stores (a SQLite file, a redis-server): show a customer, export events
and contacts (JSON Lines, Parquet), retention and compaction, and one-line errors naming the
options."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from journeymine.cli import app
from journeymine.service.state import Contact, StoreEvent, open_store

runner = CliRunner()
DAY_US = 86_400 * 1_000_000


def _fill(url: str) -> int:
    """Two customers: A with an old event, a recent one and a contact; B with an old event
    only. Returns now (microseconds)."""
    now = time.time_ns() // 1000
    st = open_store(url)
    old, recent = now - 500 * DAY_US, now - 3 * DAY_US

    def event(eid: str, cid: str, t: int, activity: str) -> StoreEvent:
        body = {"customer_id": cid, "timestamp": "(as sent)", "activity": activity}
        return StoreEvent(eid, cid, t, body | {"event_id": eid})  # as the service stores it

    events = [
        event("a1", "A", old, "visit"),
        event("a2", "A", recent, "purchase"),
        event("b1", "B", old, "visit"),
    ]
    assert st.add_events(events) == (3, 0)

    def reserve(state: Any) -> Any:
        c = Contact("d1", "A", recent + 1, "promo", "email", "email_sent")
        return "ok", c, None

    assert st.decide("A", reserve, True) == "ok"
    st.close()
    return now


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "redis":
        url = str(request.getfixturevalue("redis_url")).rsplit("/", 1)[0] + "/6"
        import redis

        redis.Redis.from_url(url).flushdb()
        return url
    return f"sqlite:///{tmp_path / 'state.sqlite'}"


def test_show_export_retention_compact(store_url: str, tmp_path: Path) -> None:
    if store_url.startswith("sqlite"):
        open_store(store_url).close()  # the file exists once jm serve opened it
    _fill(store_url)
    res = runner.invoke(app, ["state", "show", "A", "--store", store_url])
    assert res.exit_code == 0, res.output
    shown = json.loads(res.output)
    assert shown["n_events"] == 2 and [c["decision_id"] for c in shown["contacts"]] == ["d1"]
    assert shown["recent_events"][-1]["activity"] == "purchase"

    out, contacts = tmp_path / "events.jsonl", tmp_path / "contacts.parquet"
    res = runner.invoke(
        app,
        ["state", "export", "--store", store_url, "--out", str(out), "--contacts", str(contacts)],
    )
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert sorted(e["event_id"] for e in lines) == ["a1", "a2", "b1"]
    assert pd.read_parquet(contacts)["decision_id"].tolist() == ["d1"]
    log = tmp_path / "events.parquet"
    res = runner.invoke(app, ["state", "export", "--store", store_url, "--out", str(log)])
    assert res.exit_code == 0, res.output
    frame = pd.read_parquet(log)
    assert len(frame) == 3 and str(frame["timestamp"].dtype) == "datetime64[us, UTC]"

    res = runner.invoke(app, ["state", "compact", "--store", store_url, "--older-than", "400D"])
    assert res.exit_code == 0, res.output
    assert "removed 2 events and 0 contacts" in res.output
    st = open_store(store_url)
    try:
        a = st.get("A")
        assert a is not None and [e["activity"] for e in a.events] == ["purchase"]
        assert [c.decision_id for c in a.contacts] == ["d1"]
        assert st.get("B") is None and list(st.customers()) == ["A"]
        # B is unknown now, and a new event of B starts a new history
        st.add_events([StoreEvent("b2", "B", time.time_ns() // 1000, {"activity": "visit"})])
        b = st.get("B")
        assert b is not None and [e["activity"] for e in b.events] == ["visit"]
    finally:
        st.close()


def test_errors_are_one_line_and_name_the_option(tmp_path: Path) -> None:
    missing = f"sqlite:///{tmp_path / 'nope.sqlite'}"
    res = runner.invoke(app, ["state", "show", "A", "--store", missing])
    assert res.exit_code != 0 and "--store" in res.output and "no state file" in res.output
    assert not (tmp_path / "nope.sqlite").exists()  # a typo never creates a store
    db = tmp_path / "s.sqlite"
    open_store(f"sqlite:///{db}").close()
    url = f"sqlite:///{db}"
    res = runner.invoke(app, ["state", "show", "A", "--store", url])
    assert res.exit_code != 0 and "no events of customer 'A'" in res.output
    res = runner.invoke(app, ["state", "export", "--store", url, "--out", str(tmp_path / "x.csv")])
    assert res.exit_code != 0 and "--out" in res.output and ".parquet" in res.output
    before = db.read_bytes()
    res = runner.invoke(app, ["state", "export", "--store", url, "--out", str(db)])
    assert res.exit_code != 0 and "--out" in res.output
    assert db.read_bytes() == before  # never overwrites its input
    res = runner.invoke(app, ["state", "compact", "--store", url, "--older-than", "soon"])
    assert res.exit_code != 0 and "--older-than" in res.output
    res = runner.invoke(app, ["state", "show", "A", "--store", "redis://127.0.0.1:1/0"])
    assert res.exit_code != 0 and "does not answer" in res.output
    for r in (res,):
        assert "Traceback" not in r.output
