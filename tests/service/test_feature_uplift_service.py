"""#13: a saved FeatureUplift served by the HTTP service (real uvicorn on 127.0.0.1): each
customer's rates come from the persona model's probabilities (the memberships) and their stored
components, and the answer equals next_best_action(..., memberships=) with the same
FeatureUplift, policy, events and time; the service refuses a FeatureUplift it cannot serve
as it was fitted (a response-arbitrated policy, other persona ids, an edited card)."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from _uplift_world import live_policy_spec, uplift_world
from _uvicorn_server import Server

from journeymine.actions import FeatureUplift, Policy, UpliftModel, next_best_action
from journeymine.assignment import PersonaModel, assign_many
from journeymine.exceptions import ConfigError, ModelError
from journeymine.service import create_app
from journeymine.service.decider import LiveDecider
from journeymine.service.rates import load_responses

KEY = "fu-key"
AUTH = {"X-API-Key": KEY}


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("fu_service")
    log, personas = uplift_world(400, days=10)
    # sigmoid: on this small world temperature scaling finds no temperature on some fits
    model = PersonaModel(cv=3, random_state=0, calibration="sigmoid").fit(log, personas)
    (d / "policy.json").write_text(json.dumps(live_policy_spec()))
    policy = Policy.from_file(d / "policy.json")
    proba = model.predict_proba(log)
    # fixed settings, so that the feature model weighs fully in the decisions
    fu = FeatureUplift(n_components=4, C=1.0, blend=1.0).fit(
        log, proba, model.features(log), policy
    )
    assert all(m is not None for m in fu.models_)
    return {
        "dir": d,
        "log": log,
        "model": model,
        "personas": personas,
        "model_path": model.save(d / "persona.skops"),
        "policy": policy,
        "policy_path": d / "policy.json",
        "fu": fu,
        "fu_path": fu.save(d / "feature_uplift.skops"),
        "at": (log["timestamp"].max() - pd.Timedelta("1D")).floor("s"),
    }


def live_events(log: pd.DataFrame) -> list[dict[str, Any]]:
    """The log's rows as ``POST /v1/events`` takes them."""
    out = []
    for i, r in enumerate(log.itertuples(index=False)):
        e: dict[str, Any] = {
            "customer_id": str(r.customer_id),
            "timestamp": r.timestamp.isoformat(),
            "activity": str(r.activity),
            "event_id": f"e{i}",
        }
        for key in ("channel", "journey_id", "product"):
            v = getattr(r, key, None)
            if isinstance(v, str):
                e[key] = v
        out.append(e)
    return out


def batch(
    fitted: dict[str, Any], responses: Any, customers: list[str], soft: bool = True
) -> pd.DataFrame:
    """next_best_action in-process on the events before the decision time, with the persona
    model's persona and (``soft``) its probabilities on those events."""
    log, model, at = fitted["log"], fitted["model"], fitted["at"]
    before = log[log["timestamp"] < at]
    personas = assign_many(before, model).set_index("customer_id")["persona"]
    d = next_best_action(
        before,
        fitted["policy"],
        responses,
        personas,
        at=at,
        customers=customers,
        check="off",
        memberships=model.predict_proba(before) if soft else None,
    )
    why = d.why_not.groupby("customer_id")["reason"].apply(sorted)
    return d.actions.set_index("customer_id").assign(why=why)


@pytest.fixture(scope="module")
def served(fitted: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The FeatureUplift served with a state store, every event before the decision stored."""
    app = create_app(
        fitted["model_path"],
        api_key=KEY,
        policy_path=fitted["policy_path"],
        responses_path=fitted["fu_path"],
        store=f"sqlite:///{tmp_path_factory.mktemp('fu_db') / 'state.db'}",
    )
    srv = Server(app)
    before = fitted["log"][fitted["log"]["timestamp"] < fitted["at"]]
    events = live_events(before)
    with httpx.Client(base_url=srv.url, headers=AUTH, timeout=60) as c:
        for k in range(0, len(events), 1000):
            r = c.post("/v1/events", json={"events": events[k : k + 1000]})
            assert r.status_code == 200, r.text
    yield srv
    srv.stop()


def decide(srv: Server, cid: str, at: pd.Timestamp) -> dict[str, Any]:
    with httpx.Client(base_url=srv.url, headers=AUTH, timeout=60) as c:
        r = c.post("/v1/next-best-action", json={"customer_id": cid, "at": at.isoformat()})
    assert r.status_code == 200, r.text
    return dict(r.json())


def same_decision(got: dict[str, Any], want: pd.Series) -> None:
    action = None if pd.isna(want["action"]) else want["action"]
    assert got["action"] == action
    assert got["persona"] == int(want["persona"])
    if action is None:
        assert got["expected_response"] is None
    else:  # one row in numpy against the batch's matrices: equal up to rounding
        assert math.isclose(got["expected_response"], float(want["expected_response"]),
                            rel_tol=1e-9, abs_tol=1e-12)  # fmt: skip
    want_why = want["why"] if isinstance(want["why"], list) else []
    assert sorted(w["reason"] for w in got["why_not"]) == want_why


def customers_of(fitted: dict[str, Any]) -> list[str]:
    before = fitted["log"][fitted["log"]["timestamp"] < fitted["at"]]
    ids = sorted(before["customer_id"].unique())
    return [str(c) for c in ids[::25]]


def test_served_feature_uplift_decides_as_next_best_action(
    served: Server, fitted: dict[str, Any]
) -> None:
    customers = customers_of(fitted)
    want = batch(fitted, fitted["fu"], customers)
    assert want["action"].notna().sum() >= 5  # the parity covers real decisions
    for cid in customers:
        same_decision(decide(served, cid, fitted["at"]), want.loc[cid])
    # the customer's state shows the decision now (the server's clock: after every event)
    with httpx.Client(base_url=served.url, headers=AUTH, timeout=60) as c:
        state = c.get(f"/v1/customers/{customers[0]}").json()
    now = decide(served, customers[0], pd.Timestamp.now(tz="UTC").floor("s") + pd.Timedelta("1D"))
    assert state["next_best_action"]["persona"] == now["persona"]
    assert state["next_best_action"]["expected_response"] == now["expected_response"]


def test_stateless_route_decides_as_next_best_action(fitted: dict[str, Any]) -> None:
    """Without a state store: the events in the request, the same decision."""
    app = create_app(
        fitted["model_path"],
        api_key=KEY,
        policy_path=fitted["policy_path"],
        responses_path=fitted["fu_path"],
    )
    srv = Server(app)
    customers = customers_of(fitted)[:8]
    want = batch(fitted, fitted["fu"], customers)
    log = fitted["log"]
    try:
        with httpx.Client(base_url=srv.url, headers=AUTH, timeout=60) as c:
            for cid in customers:
                sub = log[(log["customer_id"] == cid) & (log["timestamp"] < fitted["at"])]
                events = [{k: v for k, v in e.items() if k != "customer_id"}
                          for e in live_events(sub)]  # fmt: skip
                body = {"customer_id": cid, "events": events, "at": fitted["at"].isoformat()}
                r = c.post("/v1/next-best-action", json=body)
                assert r.status_code == 200, r.text
                same_decision(r.json(), want.loc[cid])
            # a customer the FeatureUplift was not fitted with: zero components, as in batch
            cid = customers[0]
            sub = log[(log["customer_id"] == cid) & (log["timestamp"] < fitted["at"])]
            stranger = sub.assign(customer_id="stranger")
            events = [{k: v for k, v in e.items() if k != "customer_id"}
                      for e in live_events(stranger)]  # fmt: skip
            r = c.post("/v1/next-best-action", json={"customer_id": "stranger", "events": events,
                                                     "at": fitted["at"].isoformat()})  # fmt: skip
            assert r.status_code == 200, r.text
            model = fitted["model"]
            soft = model.predict_proba(stranger)
            d = next_best_action(stranger, fitted["policy"], fitted["fu"],
                                 assign_many(stranger, model).set_index("customer_id")["persona"],
                                 at=fitted["at"], check="off", memberships=soft)  # fmt: skip
            want = d.actions.set_index("customer_id").assign(why=[sorted(d.why_not["reason"])])
            same_decision(r.json(), want.loc["stranger"])
            assert "stranger" not in fitted["fu"].components_.index
    finally:
        srv.stop()


def test_the_feature_path_changes_decisions_against_its_cells(
    served: Server, fitted: dict[str, Any], tmp_path: Path
) -> None:
    """Serving the FeatureUplift's own cell model (saved beside it, an UpliftModel file)
    decides otherwise for some customers: the service really reads the features. (An
    UpliftModel is served per persona, as before: its rates are the assigned persona's.)"""
    customers = customers_of(fitted)
    cells_path = fitted["fu_path"].with_name("feature_uplift-cells.skops")
    cells = load_responses(cells_path)
    assert type(cells) is UpliftModel
    want_cells = batch(fitted, cells, customers, soft=False)
    want_fu = batch(fitted, fitted["fu"], customers)
    differ = [c for c in customers if want_cells.loc[c, "action"] != want_fu.loc[c, "action"]]
    assert differ, "the fixture's features change no decision"
    app = create_app(
        fitted["model_path"],
        api_key=KEY,
        policy_path=fitted["policy_path"],
        responses_path=cells_path,
        store=f"sqlite:///{tmp_path / 'cells.db'}",
    )
    srv = Server(app)
    before = fitted["log"][fitted["log"]["timestamp"] < fitted["at"]]
    try:
        with httpx.Client(base_url=srv.url, headers=AUTH, timeout=60) as c:
            sub = before[before["customer_id"].isin(differ)]
            assert c.post("/v1/events", json={"events": live_events(sub)}).status_code == 200
        for cid in differ:
            by_cells, by_features = (
                decide(srv, cid, fitted["at"]),
                decide(served, cid, fitted["at"]),
            )
            assert by_cells["action"] != by_features["action"]
            same_decision(by_cells, want_cells.loc[cid])
    finally:
        srv.stop()


def test_a_response_arbitrated_policy_is_refused(fitted: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "response.json"
    path.write_text(json.dumps(live_policy_spec("response")))
    for store in (None, f"sqlite:///{tmp_path / 'r.db'}"):
        with pytest.raises(ConfigError, match=r"FeatureUplift gives uplift.*arbitration: uplift"):
            create_app(fitted["model_path"], api_key=KEY, policy_path=path,
                       responses_path=fitted["fu_path"], store=store)  # fmt: skip


def test_other_persona_ids_are_refused(fitted: dict[str, Any], tmp_path: Path) -> None:
    """A FeatureUplift fitted with memberships of other personas than the persona model's."""
    log, model = fitted["log"], fitted["model"]
    proba = model.predict_proba(log)
    shifted = proba.rename(columns=lambda c: int(c) + 10)
    other = FeatureUplift(n_components=2, C=1.0, blend=1.0).fit(
        log, shifted, model.features(log), fitted["policy"]
    )
    path = other.save(tmp_path / "other.skops")
    for store in (None, f"sqlite:///{tmp_path / 'o.db'}"):
        with pytest.raises(ConfigError, match=r"personas \[0, 1, 2, 3, 4, 5\] are not the "
                                              r"FeatureUplift's \[10, "):  # fmt: skip
            create_app(fitted["model_path"], api_key=KEY, policy_path=fitted["policy_path"],
                       responses_path=path, store=store)  # fmt: skip
    with pytest.raises(ConfigError, match="are not the FeatureUplift's"):
        LiveDecider(fitted["policy"], other, personas=model.classes_)


def test_an_edited_card_or_another_kind_is_refused(fitted: dict[str, Any], tmp_path: Path) -> None:
    folder = tmp_path / "copy"
    folder.mkdir()
    for p in fitted["dir"].glob("feature_uplift*"):
        shutil.copy(p, folder / p.name)
    card_path = folder / "feature_uplift.json"
    card = json.loads(card_path.read_text())
    card["chosen"]["blend"] = 0.5  # changes the uplifts: covered by the checksum
    card_path.write_text(json.dumps(card))
    with pytest.raises(ModelError, match="checksum"):
        create_app(fitted["model_path"], api_key=KEY, policy_path=fitted["policy_path"],
                   responses_path=folder / "feature_uplift.skops")  # fmt: skip
    # the persona model is no kind of rates: the message names the kinds served
    with pytest.raises(ConfigError, match=r"ResponseModel.*UpliftModel.*FeatureUplift"):
        create_app(fitted["model_path"], api_key=KEY, policy_path=fitted["policy_path"],
                   responses_path=fitted["model_path"])  # fmt: skip
    (folder / "feature_uplift.json").unlink()
    with pytest.raises(ModelError, match="no card"):
        load_responses(folder / "feature_uplift.skops")


def test_live_decider_needs_the_memberships(fitted: dict[str, Any]) -> None:
    d = LiveDecider(fitted["policy"], fitted["fu"], personas=fitted["model"].classes_)
    assert d.per_customer and d.personas == (0, 1, 2, 3, 4, 5)
    with pytest.raises(ConfigError, match="pass memberships="):
        d.decide("c", [1_740_000_000_000_000], [{"activity": "visit"}], [], persona=0,
                 at_us=1_740_000_100_000_000)  # fmt: skip
    with pytest.raises(ConfigError, match="memberships must be 6 probabilities"):
        d.decide("c", [1_740_000_000_000_000], [{"activity": "visit"}], [], persona=0,
                 at_us=1_740_000_100_000_000, memberships=np.ones(6))  # fmt: skip
    with pytest.raises(ConfigError, match="not a persona"):
        d.rates(0)


def test_a_reload_to_other_personas_is_refused(fitted: dict[str, Any], tmp_path: Path) -> None:
    """Hot reload vets the new persona model: other personas than the FeatureUplift's are
    refused (409) and the served model stays."""
    model_path = tmp_path / "m.skops"
    shutil.copy(fitted["model_path"], model_path)
    shutil.copy(fitted["model_path"].with_suffix(".json"), model_path.with_suffix(".json"))
    app = create_app(model_path, api_key=KEY, policy_path=fitted["policy_path"],
                     responses_path=fitted["fu_path"])  # fmt: skip
    srv = Server(app)
    log = fitted["log"]
    # the fixture's fit with every persona id moved by 10
    other = PersonaModel(cv=3, random_state=0, calibration="sigmoid")
    other.fit(log, fitted["personas"] + 10).save(model_path)
    cid = customers_of(fitted)[0]
    sub = log[(log["customer_id"] == cid) & (log["timestamp"] < fitted["at"])]
    events = [{k: v for k, v in e.items() if k != "customer_id"} for e in live_events(sub)]
    body = {"customer_id": cid, "events": events, "at": fitted["at"].isoformat()}
    try:
        with httpx.Client(base_url=srv.url, headers=AUTH, timeout=60) as c:
            r = c.post("/v1/model/reload")
            assert r.status_code == 409, r.text
            assert "are not the FeatureUplift's" in r.json()["detail"]
            r = c.post("/v1/next-best-action", json=body)
            assert r.status_code == 200, r.text
            same_decision(r.json(), batch(fitted, fitted["fu"], [cid]).loc[cid])
    finally:
        srv.stop()


def test_new_events_change_the_memberships(fitted: dict[str, Any], tmp_path: Path) -> None:
    """The memberships are kept per customer while the stored events stay the same, and
    computed again when new events arrive: the decision follows next_best_action on the new
    events (with their probabilities), also when the persona model keeps its persona."""
    app = create_app(fitted["model_path"], api_key=KEY, policy_path=fitted["policy_path"],
                     responses_path=fitted["fu_path"],
                     store=f"sqlite:///{tmp_path / 'new.db'}")  # fmt: skip
    srv = Server(app)
    log, model, at = fitted["log"], fitted["model"], fitted["at"]
    before = log[log["timestamp"] < at]
    extra = pd.DataFrame({"timestamp": [at - pd.Timedelta(f"{h}h") for h in (5, 4, 3)],
                          "activity": ["visit", "add_to_cart", "visit"],
                          "channel": ["web", "web", "web"]})  # fmt: skip
    fu = fitted["fu"]
    chosen = None
    for cid in sorted(before["customer_id"].unique())[1::25]:
        more = pd.concat([before, extra.assign(customer_id=cid)], ignore_index=True)
        old = fu.customer_rates(model.predict_proba(before).loc[cid].to_numpy(), cid)
        new = fu.customer_rates(model.predict_proba(more).loc[cid].to_numpy(), cid)
        if not np.allclose(old, new, rtol=1e-6):
            chosen = (str(cid), more)
            break
    assert chosen is not None
    cid, more = chosen
    try:
        with httpx.Client(base_url=srv.url, headers=AUTH, timeout=60) as c:
            sub = before[before["customer_id"] == cid]
            assert c.post("/v1/events", json={"events": live_events(sub)}).status_code == 200
            first = decide(srv, cid, at)
            same_decision(first, batch(fitted, fu, [cid]).loc[cid])
            # the kept memberships answer again, the same
            assert decide(srv, cid, at)["expected_response"] == first["expected_response"]
            added = [{**e, "event_id": f"new{i}"}
                     for i, e in enumerate(live_events(extra.assign(customer_id=cid)))]  # fmt: skip
            assert c.post("/v1/events", json={"events": added}).status_code == 200
            again = decide(srv, cid, at)
        personas = assign_many(more, model).set_index("customer_id")["persona"]
        d = next_best_action(more, fitted["policy"], fu, personas, at=at, customers=[cid],
                             check="off", memberships=model.predict_proba(more))  # fmt: skip
        want = d.actions.set_index("customer_id").assign(why=[sorted(d.why_not["reason"])])
        same_decision(again, want.loc[cid])
    finally:
        srv.stop()
