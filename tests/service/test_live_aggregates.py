"""The live aggregates (``journeymine.service.aggregates``) folded event by event equal the
batch ``numpy_aggregates`` on the same events bit for bit, after every event; a JSON round trip
continues exactly; a late event is refused by the fold, and the service's persona after late
events equals the in-order one."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from journeymine.assignment import parse_customer
from journeymine.features.aggregates import numpy_aggregates
from journeymine.service.aggregates import LiveAggregates


def _customers(log: pd.DataFrame) -> dict[str, tuple[list[int], list[dict[str, Any]]]]:
    log = log.sort_values(["customer_id", "timestamp"], kind="stable")
    t = log["timestamp"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    t_us = t.astype("datetime64[us]").astype(np.int64)
    iso = np.datetime_as_string(t.astype("datetime64[us]"), "us", "UTC")
    out: dict[str, tuple[list[int], list[dict[str, Any]]]] = {}
    for cid, tu, ts, a, ch, j, v in zip(
        log["customer_id"],
        t_us,
        iso,
        log["activity"],
        log["channel"],
        log["journey_id"],
        log["value"],
        strict=True,
    ):
        e: dict[str, Any] = {"timestamp": str(ts), "activity": str(a), "channel": str(ch)}
        if isinstance(j, str):
            e["journey_id"] = j
        if v == v:
            e["value"] = float(v)
        times, events = out.setdefault(str(cid), ([], []))
        times.append(int(tu))
        events.append(e)
    return out


def _reference(events: list[dict[str, Any]], model: Any, cid: str) -> np.ndarray:
    parsed = parse_customer(events, model, customer_id=cid)
    return numpy_aggregates(parsed.events, model.spec_, plan=model.vocab_.plan)[0]


def test_folded_aggregates_equal_numpy_aggregates(setup: dict[str, Any]) -> None:
    model = setup["model"]
    assert LiveAggregates.supports(model.vocab_)
    customers = _customers(setup["data"].events)
    names = model.spec_.aggregate_names
    checked_prefixes = 0
    for k, (cid, (times, events)) in enumerate(sorted(customers.items())):
        agg = LiveAggregates(model.vocab_)
        every = k < 40  # every prefix of the first customers, the whole history of the rest
        for i, (t, e) in enumerate(zip(times, events, strict=True)):
            agg.add(e, t)
            if every or i == len(events) - 1:
                want = _reference(events[: i + 1], model, cid)
                got = agg.row()
                bad = [names[c] for c in np.flatnonzero(got != want)]
                assert not bad, (cid, i, bad, got[got != want], want[got != want])
                checked_prefixes += 1
            if every and i == len(events) // 2:  # the JSON state continues exactly
                agg = LiveAggregates.from_json(model.vocab_, agg.to_json())
    assert checked_prefixes > 1000
    # the comparison covered what makes the fold hard
    row = np.stack([_reference(ev, model, c) for c, (_, ev) in sorted(customers.items())])
    for name in ("n_responded", "session_channel_switches", "n_organic_sessions", "value_cents"):
        assert row[:, names.index(name)].sum() > 0, name


def test_a_late_event_is_refused_by_the_fold(setup: dict[str, Any]) -> None:
    agg = LiveAggregates(setup["model"].vocab_)
    agg.add({"activity": "visit", "channel": "web"}, 10_000_000)
    with pytest.raises(ValueError, match="older than the last one"):
        agg.add({"activity": "visit", "channel": "web"}, 5_000_000)
    with pytest.raises(ValueError, match="another model"):
        LiveAggregates.from_json(setup["model"].vocab_, agg.to_json().replace('"width":', '"w":'))


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_store_persona_folds_new_events_and_merges_late_ones(
    backend: str, setup: dict[str, Any], tmp_path: Any, request: pytest.FixtureRequest
) -> None:
    """Events stored batch by batch, the persona computed (and saved with its aggregates)
    after each batch as the service does: always equal to ``assign`` on the stored events, and
    a customer whose events arrive newest first ends in the same state as one fed in order."""
    from journeymine.assignment import assign
    from journeymine.service.limits import TimeRange
    from journeymine.service.live import live_aggregates, persona_of
    from journeymine.service.routes import check_live_events
    from journeymine.service.state import open_store

    if backend == "redis":
        url = request.getfixturevalue("redis_url").rsplit("/", 1)[0] + "/5"
        store = open_store(url)
        store.r.flushdb()  # type: ignore[attr-defined]
    else:
        store = open_store(f"sqlite:///{tmp_path / 'agg.db'}")
    model = setup["model"]
    customers = _customers(setup["data"].events)
    picked = sorted(customers, key=lambda c: -len(customers[c][1]))[:12]
    folded = refolded = 0
    try:
        for cid in picked:
            events = customers[cid][1]
            for order, who in ((1, f"{cid}-in-order"), (-1, f"{cid}-late")):
                evs = [
                    dict(e, customer_id=who, event_id=f"{who}:{i}") for i, e in enumerate(events)
                ]
                evs = evs[::order]
                for k in range(0, len(evs), 7):
                    store.add_events(check_live_events(evs[k : k + 7], TimeRange(None)))
                    state = store.get(who)
                    assert state is not None
                    agg, _, now = live_aggregates(state, model)
                    assert agg.n == len(state.events)
                    if k and order == 1:  # in order: only the new batch is folded
                        assert now == len(evs[k : k + 7])
                        folded += 1
                    if k and order == -1:  # newest first: older events, the history refolded
                        assert now == len(state.events)
                        refolded += 1
                    persona, _, probability, update = persona_of(state, model)
                    assert update is not None
                    store.set_persona(who, update)
                    want = assign(state.events, model, customer_id=who)
                    assert (persona, probability) == (want.persona, want.probability)
            a, b = store.get(f"{cid}-in-order"), store.get(f"{cid}-late")
            assert a is not None and b is not None
            assert (a.persona, a.probability) == (b.persona, b.probability)
            ra = live_aggregates(a, model)[0].row()
            rb = live_aggregates(b, model)[0].row()
            assert (ra == rb).all()
    finally:
        store.close()
    assert folded > 20 and refolded > 20
