"""The numpy decision for one live customer (``journeymine.service.live``) equals the batch
engine (``next_best_action`` on the whole log) decision by decision: action, product, expected
response and every "why not", at many times, with committed contacts, for the sample policy
and a ten-journey policy with every kind of gate. In-process (no server): the HTTP path is
checked by ``test_state_service.test_live_equals_batch``."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _service_models import TEN_JOURNEYS

from journeymine.actions import Policy, ResponseModel, UpliftModel, next_best_action
from journeymine.assignment import assign_many
from journeymine.exceptions import ConfigError
from journeymine.service.live import LiveDecider, Timeline, decide_live
from journeymine.service.state import Contact, CustomerState


def _stored(log: pd.DataFrame) -> dict[str, tuple[list[int], list[dict[str, Any]]]]:
    """customer -> (times in us, events as the store keeps them), in time order."""
    log = log.sort_values(["customer_id", "timestamp"], kind="stable")
    t = log["timestamp"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    t_us = t.astype("datetime64[us]").astype(np.int64)
    iso = np.datetime_as_string(t.astype("datetime64[us]"), "us", "UTC")
    out: dict[str, tuple[list[int], list[dict[str, Any]]]] = {}
    for cid, tu, ts, a, ch, j, p in zip(
        log["customer_id"],
        t_us,
        iso,
        log["activity"],
        log["channel"],
        log["journey_id"],
        log["product"],
        strict=True,
    ):
        e: dict[str, Any] = {
            "customer_id": cid,
            "timestamp": str(ts),
            "activity": str(a),
            "channel": str(ch),
        }
        if isinstance(j, str):
            e["journey_id"] = j
        if isinstance(p, str):
            e["product"] = p
        times, events = out.setdefault(str(cid), ([], []))
        times.append(int(tu))
        events.append(e)
    return out


def _clean(value: Any) -> Any:
    """None for the engine's missing values (None, NaN), as the service sends them."""
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else value


def _batch_rows(d: Any) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for r in d.actions.itertuples(index=False):
        out[str(r.customer_id)] = {
            "action": _clean(r.action),
            "channel": _clean(r.channel),
            "product": _clean(r.product),
            "expected_response": None
            if np.isnan(r.expected_response)
            else float(r.expected_response),
            "at": r.at.isoformat(),
            "why_not": [],
        }
    for w in d.why_not.itertuples(index=False):
        out[str(w.customer_id)]["why_not"].append(
            {"journey": w.journey, "reason": w.reason, "detail": w.detail}
        )
    return out


@pytest.fixture(scope="module")
def ten(setup: dict[str, Any]) -> tuple[Policy, ResponseModel, pd.Series]:
    data = setup["data"]
    labels = assign_many(data.events, setup["model"]).set_index("customer_id")["persona"]
    policy = Policy.from_dict(TEN_JOURNEYS)
    return policy, ResponseModel().fit(data.events, labels, policy), labels


@pytest.mark.parametrize("which", ["sample", "ten"])
def test_live_decision_equals_batch_at_many_times(
    which: str, setup: dict[str, Any], ten: Any
) -> None:
    log = setup["data"].events
    if which == "sample":
        policy, responses = setup["policy"], setup["responses"]
        personas = assign_many(log, setup["model"]).set_index("customer_id")["persona"]
    else:
        policy, responses, personas = ten
    assert len(policy.journeys) == (5 if which == "sample" else 10)
    stored = _stored(log)
    decider = LiveDecider(policy, responses)
    start, end = log["timestamp"].min(), log["timestamp"].max()
    times = [start + (end - start) * f for f in (0.2, 0.45, 0.7, 0.95)]
    times += [end + pd.Timedelta("3D"), pd.Timestamp("2025-03-05T12:00:00.700Z")]
    reasons: set[str] = set()
    sent = 0
    for at in times:
        batch = _batch_rows(next_best_action(log, policy, responses, personas, at=at, check="off"))
        at_us = int(pd.Timestamp(at).as_unit("us").asm8.view("i8"))
        for cid, (t_us, events) in stored.items():
            got = decider.decide(
                cid, t_us, events, [], persona=int(personas.get(cid, -1)), at_us=at_us
            )
            want = batch[cid]
            for key in ("action", "channel", "product", "at", "why_not"):
                assert got[key] == want[key], (cid, at, key)
            if want["expected_response"] is None:
                assert got["expected_response"] is None
            else:
                assert got["expected_response"] == pytest.approx(want["expected_response"], 1e-12)
            reasons |= {w["reason"] for w in got["why_not"]}
            sent += got["action"] is not None
    # the comparison covered the gates (a broken gate would show in one of them)
    expected = {"not_eligible", "suppressed", "min_gap", "capped", "outranked"}
    if which == "ten":
        expected |= {"unreachable"}
    assert expected <= reasons, reasons
    assert sent > 50


def test_committed_contacts_count_as_touches(setup: dict[str, Any], ten: Any) -> None:
    """Contacts reserved by committed decisions count exactly as logged touches (one second
    before the decision, or at their own time when earlier) until the delivered touch that
    carries their decision_id replaces them."""
    policy, responses, personas = ten
    log = setup["data"].events
    stored = _stored(log)
    decider = LiveDecider(policy, responses)
    at = pd.Timestamp("2025-03-05T12:00:00Z")
    at_us = int(at.as_unit("us").asm8.view("i8"))
    checked = 0
    for cid in sorted(stored)[:60]:
        t_us, events = stored[cid]
        contacts: list[Contact] = []
        extra_rows = []
        # commit three decisions in a row: each sees the contacts reserved before it
        for k in range(3):
            got = decider.decide(
                cid, t_us, events, contacts, persona=int(personas.get(cid, -1)), at_us=at_us
            )
            frame = pd.concat([log[log["customer_id"] == cid], pd.DataFrame(extra_rows)])
            want = _batch_rows(
                next_best_action(frame, policy, responses, personas, at=at, check="off")
            )[cid]
            assert (got["action"], got["why_not"]) == (want["action"], want["why_not"]), (cid, k)
            checked += 1
            if got["action"] is None:
                break
            j = policy.journey(got["action"])
            t = at_us - 5_000_000 * (3 - k)  # reserved a few seconds before the decision
            contacts.append(
                Contact(f"d{cid}{k}", cid, t, j.name, j.channel, j.activity, got["product"])
            )
            extra_rows.append(
                {
                    "customer_id": cid,
                    "timestamp": pd.Timestamp(min(t, at_us - 1_000_000), unit="us", tz="UTC"),
                    "activity": j.activity,
                    "channel": j.channel,
                    "journey_id": j.name,
                    "product": got["product"],
                }
            )
    assert checked > 60


def test_delivered_touch_replaces_its_contact(setup: dict[str, Any]) -> None:
    """Under a 2-per-7-days email cap: one contact (reserved, not yet delivered) leaves room
    for a second email; its delivered touch (carrying its decision_id) still counts once; a
    touch without the decision_id next to the contact counts twice."""
    policy = setup["cap_policy"]
    decider = LiveDecider(policy, ResponseModel().fit(None, None, policy))
    at_us = 1_741_176_000_000_000
    visit = {"activity": "visit", "channel": "web"}
    c = Contact("dx", "c1", at_us - 10_000_000, "promo", "email", "email_sent")
    touch = {"activity": "email_sent", "channel": "email", "journey_id": "promo"}

    def action(times: list[int], events: list[dict[str, Any]], contacts: list[Contact]) -> Any:
        return decider.decide("c1", times, events, contacts, persona=-1, at_us=at_us)["action"]

    t_visit, t_touch = at_us - 3_600_000_000, at_us - 9_000_000
    assert action([t_visit], [visit], []) == "promo"
    assert action([t_visit], [visit], [c]) == "promo"  # one email counted: room for one more
    assert action([t_visit, t_touch], [visit, dict(touch, decision_id="dx")], [c]) == "promo"
    assert action([t_visit, t_touch], [visit, touch], [c]) is None  # two emails: capped
    late = Contact("dy", "c1", at_us + 1_000_000, "promo", "email", "email_sent")
    assert action([t_visit, t_touch], [visit, touch], [late]) == "promo"  # after the decision


def test_decide_live_persona_and_errors(setup: dict[str, Any]) -> None:
    log = setup["data"].events
    cid = str(log["customer_id"].iloc[0])
    t_us, events = _stored(log)[cid]
    state = CustomerState(cid, events, t_us, [], version=len(events))
    policy, responses, model = setup["policy"], setup["responses"], setup["model"]
    answer, contact, update = decide_live(
        state, model, policy, responses, at="2025-03-05T12:00:00Z"
    )
    assert update is not None and update.version == len(events)
    assert answer["persona"] == update.persona and answer["decision_id"]
    assert (contact is None) == (answer["action"] is None)
    with pytest.raises(ConfigError, match="not one of this service's personas"):
        decide_live(state, model, policy, responses, persona=99)
    with pytest.raises(ConfigError, match="journeys"):
        LiveDecider(Policy.from_dict(TEN_JOURNEYS), responses)
    with pytest.raises(ConfigError, match="at least one event"):
        Timeline([], [], [], [], [])
    # a policy whose consent cost the live path cannot apply is refused, not served differently
    costly = dataclasses.replace(
        policy, arbitration="uplift", unsubscribe_cost=0.3, fatigue_within_s=7 * 86400
    )
    uplift = UpliftModel().fit(log, None, costly)
    with pytest.raises(ConfigError, match=r"unsubscribe_cost .* not applied by live decisions"):
        LiveDecider(costly, uplift)
    # so is one with next-step gates (batch applies them from NextStepModel predictions)
    for options in ({"skip_outcome_above": 0.6}, {"next_step_channels": (("app", "push"),)}):
        gated = dataclasses.replace(policy, **options)
        with pytest.raises(ConfigError, match=r"next_step options .* not applied by live"):
            LiveDecider(gated, responses)
