"""stream_decisions on PySpark local[2] with a file source: after the stream has read a log in
several files, each customer's persona and next best action equal assign / next_best_action on
the whole log at the same time."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _service_models import TEN_JOURNEYS
from _spark import local_spark

from journeymine.actions import Policy, ResponseModel, next_best_action
from journeymine.assignment import PersonaModel, assign
from journeymine.datasets import make_journeys
from journeymine.exceptions import ConfigError, EventLogError, MissingColumnError

pytestmark = [
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:DeprecationWarning"),
    pytest.mark.slow,
]

SCHEMA = (
    "customer_id string, timestamp timestamp, activity string, channel string, "
    "journey_id string, product string, value double"
)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    yield from local_spark("journeymine-streaming-tests", "Asia/Kolkata", shuffle_partitions=2)


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    data = make_journeys(n_customers=150, days=45, random_state=5)
    names = sorted(data.customers["persona"].unique())
    labels = data.customers.set_index("customer_id")["persona"].map(names.index).astype("int64")
    model = PersonaModel(cv=2, validation_size=0, random_state=0).fit(
        data.events, labels, names=dict(enumerate(names))
    )
    policy = Policy.from_dict(TEN_JOURNEYS)
    return {
        "log": data.events,
        "model": model,
        "policy": policy,
        "responses": ResponseModel().fit(data.events, labels, policy),
    }


def _write_batches(log: pd.DataFrame, n: int) -> list[pd.DataFrame]:
    """The log split by time into ``n`` JSON Lines files (each in the log's row order)."""
    t = log["timestamp"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype(np.int64)
    edges = np.quantile(t, np.linspace(0, 1, n + 1)[1:-1]).astype(np.int64)
    part = np.searchsorted(edges, t, side="right")
    parts = []
    for k in range(n):
        chunk = log[part == k]
        out = pd.DataFrame(
            {
                "customer_id": chunk["customer_id"].astype(str),
                "timestamp": chunk["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "activity": chunk["activity"].astype(str),
                "channel": chunk["channel"].astype(str),
                "journey_id": chunk["journey_id"].astype(object),
                "product": chunk["product"].astype(object),
                "value": chunk["value"].astype("float64"),
            }
        )
        parts.append(out)
    return parts


def test_stream_equals_batch(spark: Any, world: dict[str, Any], tmp_path: Path) -> None:
    from journeymine.service.streaming import stream_decisions

    log, model = world["log"], world["model"]
    policy, responses = world["policy"], world["responses"]
    at = log["timestamp"].max() + pd.Timedelta("1h")
    src = tmp_path / "events"
    parts = _write_batches(log, 4)
    src.mkdir()
    stream = (
        spark.readStream.schema(SCHEMA)
        .option("maxFilesPerTrigger", 1)
        .option("timestampFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX")
        .json(str(src))
    )
    rows: list[pd.DataFrame] = []

    def collect(batch: Any, batch_id: int) -> None:
        rows.append(batch.toPandas())

    query = (
        stream_decisions(stream, model, policy, responses, at=at)
        .writeStream.outputMode("update")
        .foreachBatch(collect)
        .option("checkpointLocation", str(tmp_path / "checkpoint"))
        .start()
    )
    t0 = time.perf_counter()
    try:
        for k, part in enumerate(parts):  # files arrive one after the other
            part.to_json(src / f"part-{k}.json", orient="records", lines=True)
            query.processAllAvailable()
    finally:
        query.stop()
    elapsed = time.perf_counter() - t0
    assert len(rows) >= len(parts)
    out = pd.concat(rows, ignore_index=True)
    assert out["late_events"].sum() == 0
    # the latest row of each customer is their state after the whole log
    last = out.sort_values("events", kind="stable").groupby("customer_id").tail(1)
    last = last.set_index("customer_id").sort_index()
    counts = log.groupby("customer_id", observed=True).size()
    assert sorted(last.index) == sorted(map(str, counts.index))
    assert (last["events"] == counts.rename(index=str).reindex(last.index)).all()
    assert (last["kept_events"] <= last["events"]).all()

    personas = {}
    for cid in last.index:
        a = assign(log[log["customer_id"] == cid], model, customer_id=cid)
        personas[cid] = a.persona
        assert last.at[cid, "persona"] == a.persona, cid
        assert last.at[cid, "probability"] == pytest.approx(a.probability, abs=1e-12), cid
    batch = next_best_action(log, policy, responses, pd.Series(personas), at=at, check="off")
    acts = batch.actions.assign(customer_id=lambda d: d["customer_id"].astype(str))
    acts = acts.set_index("customer_id").sort_index()
    why = batch.why_not.assign(customer_id=lambda d: d["customer_id"].astype(str))
    sent = 0
    for cid in last.index:
        want = acts.loc[cid]
        got = last.loc[cid]
        want_action = None if pd.isna(want["action"]) else want["action"]
        got_action = None if pd.isna(got["action"]) else got["action"]
        assert got_action == want_action, cid
        sent += got_action is not None
        if want_action is not None:
            assert got["expected_response"] == pytest.approx(want["expected_response"], 1e-12)
        reasons = [w["reason"] for w in json.loads(got["why_not"])]
        assert reasons == list(why.loc[why["customer_id"] == cid, "reason"]), cid
        assert got["at"] == want["at"].isoformat()
    assert sent > 5
    # the bounded state held fewer events than the history
    assert last["kept_events"].sum() < last["events"].sum()
    print(f"streamed {len(log)} events, {len(parts)} files, in {elapsed:.1f} s")


def test_processing_time_timeout_runs(spark: Any, world: dict[str, Any], tmp_path: Path) -> None:
    """With a timeout the customers' states carry one (such a query keeps running batches
    without data to check the timeouts, so it is polled, then stopped)."""
    from journeymine.service.streaming import stream_decisions

    log, model = world["log"], world["model"]
    src = tmp_path / "events"
    src.mkdir()
    for k, part in enumerate(_write_batches(log[log["customer_id"] < "C0000020"], 2)):
        part.to_json(src / f"part-{k}.json", orient="records", lines=True)
    stream = spark.readStream.schema(SCHEMA).json(str(src))
    rows: list[pd.DataFrame] = []
    query = (
        stream_decisions(stream, model, timeout="30D")
        .writeStream.outputMode("update")
        .foreachBatch(lambda batch, _: rows.append(batch.toPandas()))
        .option("checkpointLocation", str(tmp_path / "checkpoint"))
        .start()
    )
    deadline = time.perf_counter() + 120
    try:
        while time.perf_counter() < deadline and query.exception() is None:
            if sum(len(r) for r in rows) >= 20:
                break
            time.sleep(0.5)
    finally:
        query.stop()
    assert query.exception() is None
    out = pd.concat(rows, ignore_index=True)
    assert out["customer_id"].nunique() == 20
    assert out["action"].isna().all()  # no policy: personas only


def test_bad_input_fails_early_with_the_local_error(spark: Any, world: dict[str, Any]) -> None:
    from journeymine.schema import canonical_log
    from journeymine.service.streaming import stream_decisions

    model = world["model"]
    no_ts = spark.createDataFrame(pd.DataFrame({"customer_id": ["a"], "activity": ["visit"]}))
    with pytest.raises(MissingColumnError) as got:
        stream_decisions(no_ts, model)
    with pytest.raises(MissingColumnError) as local:
        canonical_log(pd.DataFrame({"customer_id": ["a"], "activity": ["visit"]}))
    assert str(got.value) == str(local.value)
    numeric = pd.DataFrame({"customer_id": ["a"], "timestamp": [1_735_689_600], "activity": ["v"]})
    with pytest.raises(EventLogError) as got_ts:
        stream_decisions(spark.createDataFrame(numeric), model)
    with pytest.raises(EventLogError) as local_ts:
        canonical_log(numeric)
    assert str(got_ts.value) == str(local_ts.value)
    good = spark.createDataFrame(numeric.assign(timestamp=pd.Timestamp("2025-01-01", tz="UTC")))
    with pytest.raises(ConfigError, match="timeout must be a positive duration"):
        stream_decisions(good, model, timeout="soon")


def _job(world: dict[str, Any], tmp_path: Path, at: pd.Timestamp) -> Any:
    from journeymine.service.streaming import _Job

    tmp_path.mkdir(exist_ok=True)
    path = world["model"].save(tmp_path / "m.skops")
    return _Job(
        path.read_bytes(),
        path.with_suffix(".json").read_text(),
        world["policy"],
        world["responses"],
        int(at.as_unit("us").asm8.view("i8")),
        world["policy"].product_column,
    )


def _frame(events: pd.DataFrame) -> pd.DataFrame:
    """A customer's events as the stream hands them to a group: times in microseconds."""
    t = events["timestamp"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
    return pd.DataFrame(
        {
            "customer_id": events["customer_id"].astype(str).to_numpy(),
            "__jm_t_us": t.astype("datetime64[us]").astype(np.int64),
            "activity": events["activity"].astype(str).to_numpy(),
            "channel": events["channel"].astype(str).to_numpy(),
            "journey_id": events["journey_id"].astype(object).to_numpy(),
            "product": events["product"].astype(object).to_numpy(),
            "value": events["value"].astype("float64").to_numpy(),
        }
    )


def test_bounded_state_decides_as_the_whole_history(world: dict[str, Any], tmp_path: Path) -> None:
    """No Spark: each customer's events folded in three chunks; the kept events (bounded by the
    policy's longest window) decide as the whole log does, long after the last event too."""
    log, model = world["log"], world["model"]
    policy, responses = world["policy"], world["responses"]
    personas = {
        cid: assign(ev, model, customer_id=str(cid)).persona
        for cid, ev in log.groupby("customer_id", observed=True)
    }
    end = log["timestamp"].max()
    trimmed = 0
    for k, at in enumerate((end + pd.Timedelta("1s"), end + pd.Timedelta("20D"))):
        job = _job(world, tmp_path / str(k), at)
        batch = next_best_action(log, policy, responses, pd.Series(personas), at=at, check="off")
        acts = batch.actions.set_index(batch.actions["customer_id"].astype(str))
        for cid, ev in log.groupby("customer_id", observed=True):
            saved = None
            for chunk in np.array_split(np.arange(len(ev)), 3):
                if len(chunk):
                    row, saved = job.update(str(cid), _frame(ev.iloc[chunk]), saved)
            assert row["persona"] == personas[cid]
            want = acts.loc[str(cid), "action"]
            assert row["action"] == (None if pd.isna(want) else want), (cid, at)
            trimmed += row["kept_events"] < row["events"]
    assert trimmed > 20


def test_a_late_event_counts_for_the_gates_not_the_persona(
    world: dict[str, Any], tmp_path: Path
) -> None:
    log, model = world["log"], world["model"]
    sizes = log.groupby("customer_id", observed=True).size()
    cid = str(sizes[sizes >= 10].index[0])
    ev = log[log["customer_id"] == cid]
    job = _job(world, tmp_path, log["timestamp"].max() + pd.Timedelta("1s"))
    late = ev.iloc[[2]]
    rest = ev.drop(index=late.index)
    row, saved = job.update(cid, _frame(rest), None)
    row, saved = job.update(cid, _frame(late), saved)
    assert (row["events"], row["late_events"]) == (len(ev), 1)
    assert row["persona"] == assign(rest, model, customer_id=cid).persona
    assert row["probability"] == pytest.approx(
        assign(rest, model, customer_id=cid).probability, abs=1e-12
    )


def test_bounded_state_decides_with_a_feature_uplift(tmp_path: Path) -> None:
    """No Spark: with a FeatureUplift (#13) each customer's rates come from the stream's own
    aggregates (the persona model's probabilities, as memberships) and the customer's stored
    components: the decisions equal next_best_action(..., memberships=predict_proba(log))."""
    from _uplift_world import live_policy_spec, uplift_world

    from journeymine.actions import FeatureUplift
    from journeymine.assignment import assign_many

    log, truth = uplift_world(200, days=8)
    # sigmoid: on this small world temperature scaling finds no temperature on some fits
    model = PersonaModel(cv=2, validation_size=0, random_state=0, calibration="sigmoid")
    model.fit(log, truth)
    policy = Policy.from_dict(live_policy_spec())
    proba = model.predict_proba(log)
    fu = FeatureUplift(n_components=3, C=1.0, blend=1.0).fit(
        log, proba, model.features(log), policy
    )
    at = log["timestamp"].max() + pd.Timedelta("1s")
    world = {"model": model, "policy": policy, "responses": fu}
    job = _job(world, tmp_path, at)
    personas = assign_many(log, model).set_index("customer_id")["persona"]
    want = next_best_action(log, policy, fu, personas, at=at, check="off", memberships=proba)
    acts = want.actions.set_index(want.actions["customer_id"].astype(str))
    cells = next_best_action(log, policy, fu.base_, personas, at=at, check="off")
    differ = 0
    for cid, ev in list(log.assign(value=np.nan).groupby("customer_id", observed=True))[::4]:
        saved = None
        for chunk in np.array_split(np.arange(len(ev)), 2):
            if len(chunk):
                row, saved = job.update(str(cid), _frame(ev.iloc[chunk]), saved)
        w = acts.loc[str(cid)]
        assert row["action"] == (None if pd.isna(w["action"]) else w["action"]), cid
        if row["action"] is not None:
            assert row["expected_response"] == pytest.approx(w["expected_response"], rel=1e-9)
        differ += row["action"] != cells.actions.set_index("customer_id").loc[cid, "action"]
    assert differ > 0  # the features changed some decisions: the per-customer path ran
