"""predict_customer, the live path for one customer's events, gives exactly what predict(log)
gives for those events (equality, not closeness), for every input form, and refuses bad events
with every problem listed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest

import journeymine as jm
from journeymine.exceptions import ConfigError, EmptyLogError, EventLogError, NotFittedError

FIELDS = ["activity", "probability", "channel", "channel_probability", "seconds_to_next"]


def _records(frame: pd.DataFrame, when: Any = "iso") -> list[dict[str, Any]]:
    """A customer's events as the service gets them: one dict per event, NaN as a missing key
    or None, timestamps as ISO strings (or kept as Timestamps)."""
    out = []
    for i, r in enumerate(frame.to_dict(orient="records")):
        rec: dict[str, Any] = {}
        for k, v in r.items():
            if isinstance(v, float) and np.isnan(v):
                if i % 2:  # missing as None on odd events, as an absent key on even ones
                    rec[k] = None
                continue
            if k == "timestamp" and when == "iso":
                v = v.isoformat()
            elif k == "timestamp" and when == "datetime":
                v = v.to_pydatetime()
            rec[k] = v
        out.append(rec)
    return out


def _customers(log: pd.DataFrame, n: int) -> list[pd.DataFrame]:
    ids = log["customer_id"].drop_duplicates().iloc[:n]
    return [log[log["customer_id"] == c].reset_index(drop=True) for c in ids]


def _same(step: Any, row: pd.Series, fields: list[str]) -> None:
    got = {f: getattr(step, f) for f in fields}
    want = {f: (v.item() if isinstance(v, np.generic) else v) for f, v in row[fields].items()}
    assert got == want  # exact: the same arrays through the same scorer


def test_equals_predict_for_every_input_form(model: jm.NextStepModel, log: pd.DataFrame) -> None:
    fields = [*FIELDS, "p_outcome"]
    batch = model.predict(log)
    for frame in _customers(log, 40):
        cid = frame["customer_id"].iloc[0]
        alone = model.predict(frame).iloc[0]
        pd.testing.assert_series_equal(alone, batch.loc[cid])  # batch-independent already
        for when in ("iso", "timestamp", "datetime"):
            step = model.predict_customer(_records(frame, when))
            _same(step, alone, fields)
            assert step.customer_id == cid and step.n_events == len(frame)
        columns = {c: frame[c].to_numpy() for c in frame.columns}  # a dict of arrays
        _same(model.predict_customer(columns), alone, fields)
        _same(model.predict_customer(frame), alone, fields)


def test_shuffled_events_and_separate_customer_id(
    model: jm.NextStepModel, log: pd.DataFrame
) -> None:
    frame = _customers(log, 3)[2]
    alone = model.predict(frame).iloc[0]
    recs = [{k: v for k, v in r.items() if k != "customer_id"} for r in _records(frame)]
    rng = np.random.default_rng(0)
    shuffled = [recs[i] for i in rng.permutation(len(recs))]  # sorted by time inside
    step = model.predict_customer(shuffled, customer_id="someone")
    _same(step, alone, [*FIELDS, "p_outcome"])
    assert step.customer_id == "someone"
    assert model.predict_customer(recs).customer_id is None
    d = step.to_dict()
    assert d["activity"] == step.activity and set(d) >= {"customer_id", *FIELDS, "p_outcome"}


def test_unknown_keys_unseen_activities_and_missing_attributes(
    model: jm.NextStepModel, log: pd.DataFrame
) -> None:
    frame = _customers(log, 1)[0].copy()
    frame["activity"] = frame["activity"].astype(str)
    frame.loc[frame.index[-1], "activity"] = "never_seen_before"
    frame = frame.drop(columns=["product", "value"])
    recs = [{**r, "colour": "red"} for r in _records(frame)]
    _same(model.predict_customer(recs), model.predict(frame).iloc[0], [*FIELDS, "p_outcome"])


def test_timezones_and_naive_times_are_read_as_predict_reads_them(
    model: jm.NextStepModel,
) -> None:
    utc = [
        {"timestamp": "2025-02-01T19:00:00Z", "activity": "visit", "channel": "app"},
        {"timestamp": "2025-02-01T19:02:00.250Z", "activity": "view_product", "channel": "app"},
        {"timestamp": "2025-02-03T08:00:00Z", "activity": "visit", "channel": "web"},
    ]
    shifted = [
        {**utc[0], "timestamp": "2025-02-01T21:00:00+02:00"},
        {**utc[1], "timestamp": dt.datetime(2025, 2, 1, 19, 2, 0, 250000)},  # naive: UTC
        {**utc[2], "timestamp": np.datetime64("2025-02-03T08:00:00")},
    ]
    a = model.predict_customer(utc)
    assert a == model.predict_customer(shifted)
    frame = pd.DataFrame(utc).assign(customer_id="x")
    _same(a, model.predict(frame).iloc[0], [*FIELDS, "p_outcome"])
    # the time since the last event is a feature: a later last event changes the prediction
    later = [*utc[:2], {**utc[2], "timestamp": "2025-02-20T08:00:00Z"}]
    assert model.predict_customer(later).seconds_to_next != a.seconds_to_next


def test_a_model_without_channels_or_outcome() -> None:
    rows = []
    for c in range(40):
        for k, act in enumerate(["a", "b", "c", "b", "c"][: 2 + c % 4]):
            rows.append(
                {"customer_id": f"c{c}", "timestamp": f"2025-01-01T00:0{k}:00Z", "activity": act}
            )
    log = pd.DataFrame(rows)
    model = jm.NextStepModel(max_iter=5, validation_size=0).fit(log)
    step = model.predict_customer(rows[:2])
    assert step.channel is None and step.channel_probability is None and step.p_outcome is None
    row = model.predict(log[log["customer_id"] == "c0"]).iloc[0]
    _same(step, row, ["activity", "probability", "seconds_to_next"])


def test_bad_events_are_refused_with_every_problem(model: jm.NextStepModel) -> None:
    good = {"timestamp": "2025-02-01T19:00:00Z", "activity": "visit", "channel": "app"}
    with pytest.raises(NotFittedError):
        jm.NextStepModel().predict_customer([good])
    with pytest.raises(EmptyLogError):
        model.predict_customer([])
    with pytest.raises(ConfigError, match="list of dicts"):
        model.predict_customer("visit")
    with pytest.raises(ConfigError, match="list of dicts"):
        model.predict_customer([good, "visit"])
    events = [
        {**good, "timestamp": "yesterday-ish"},
        {**good, "timestamp": None},
        {**good, "timestamp": 1738436400},
        {**good, "activity": None},
        {**good, "value": "12 euros"},
        {**good, "customer_id": "a"},
        {**good, "customer_id": "b"},
    ]
    with pytest.raises(EventLogError) as err:
        model.predict_customer(events)
    problems = err.value.problems
    assert len(problems) == 6
    text = "\n".join(problems)
    for part in (
        "event 0: timestamp 'yesterday-ish' is not a time",
        "event 1: no timestamp",
        "event 2: timestamp 1738436400 is not a time",
        "event 3: no activity",
        "event 4: value '12 euros' is not a number",
        "events of 2 customers",
    ):
        assert part in text
    with pytest.raises(EventLogError, match="events of 2 customers"):
        model.predict_customer([{**good, "customer_id": "a"}], customer_id="b")
    with pytest.raises(EventLogError, match="unequal length"):
        model.predict_customer({"timestamp": ["2025-02-01T19:00:00Z"], "activity": ["a", "b"]})
    with pytest.raises(EventLogError, match="'activity' is not a list"):
        model.predict_customer({"timestamp": ["2025-02-01T19:00:00Z"], "activity": "a"})
    with pytest.raises(EventLogError, match="no 'activity' column"):
        model.predict_customer({"timestamp": ["2025-02-01T19:00:00Z"]})
    two = pd.DataFrame([{**good, "customer_id": "a"}, {**good, "customer_id": "b"}])
    with pytest.raises(EventLogError, match="scores one customer"):
        model.predict_customer(two)
    with pytest.raises(EventLogError, match="customer_id='z'"):
        model.predict_customer(two.iloc[:1], customer_id="z")


def test_numbers_written_as_text_are_numbers() -> None:
    # an XES log may write a number as a string: it is a numeric attribute, not thousands of
    # one-off categories, and a live event may send it either way
    rng = np.random.default_rng(0)
    rows = []
    for c in range(60):
        for k in range(4):
            cost = int(rng.integers(1, 5000))
            rows.append(
                {
                    "customer_id": f"c{c}",
                    "timestamp": f"2025-01-01T00:0{k}:00Z",
                    "activity": "big" if k and cost > 2500 else "small",
                    "cost": str(cost) if k % 2 else None,
                }
            )
    log = pd.DataFrame(rows)
    model = jm.NextStepModel(max_iter=10, validation_size=0).fit(log)
    assert model.spec_.numeric == ["cost"] and "cost" not in model.spec_.categorical
    events = [{k: v for k, v in r.items() if k != "customer_id"} for r in rows[:4]]
    as_numbers = [{**e, "cost": float(e["cost"])} if e["cost"] else e for e in events]
    step = model.predict_customer(events, customer_id="c0")
    assert step == model.predict_customer(as_numbers, customer_id="c0")
    _same(step, model.predict(log.iloc[:4]).iloc[0], ["activity", "probability", "seconds_to_next"])
