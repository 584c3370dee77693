"""assign (one customer) and assign_many (vectorised): inputs, unknown names, errors, equality,
and the import isolation of journeymine.assignment."""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import journeymine as jm
from journeymine.assignment import (
    Assignment,
    PersonaModel,
    assign,
    assign_many,
    assign_parsed,
    parse_customer,
    persona_probabilities,
    score_parsed,
)
from journeymine.exceptions import ConfigError, EmptyLogError, EventLogError, NotFittedError

EVENTS = [
    {"timestamp": "2025-02-01T19:00:00Z", "activity": "visit", "channel": "app"},
    {"timestamp": "2025-02-01T19:02:00Z", "activity": "view_product", "channel": "app"},
    {"timestamp": "2025-02-01T19:04:00Z", "activity": "add_to_cart", "channel": "app"},
    {"timestamp": "2025-02-01T19:06:00Z", "activity": "purchase", "channel": "app", "value": 30.5},
]


def records(log: pd.DataFrame, cid: str) -> list[dict]:
    g = log[log["customer_id"] == cid]
    iso = np.datetime_as_string(g["timestamp"].dt.tz_localize(None).to_numpy(), "us", "UTC")
    return g.assign(timestamp=iso).to_dict("records")


def test_assign_many_equals_assign_per_customer(log: pd.DataFrame, model: PersonaModel) -> None:
    shuffled = log.sample(frac=1.0, random_state=5)
    many = assign_many(shuffled, model)
    assert list(many["customer_id"]) == sorted(log["customer_id"].unique())
    one = pd.DataFrame([assign(records(log, c), model).to_dict() for c in many["customer_id"]])
    for col in ("customer_id", "persona", "name", "probability", "abstained", "n_events"):
        np.testing.assert_array_equal(one[col].to_numpy(), many[col].to_numpy(), err_msg=col)
    # the same as predict / predict_proba of the model
    proba = model.predict_proba(log)
    np.testing.assert_array_equal(proba.max(axis=1).to_numpy(), many["probability"].to_numpy())
    np.testing.assert_array_equal(model.predict(log).to_numpy(), many["persona"].to_numpy())
    assert (many["abstained"] == (many["persona"] == -1)).all()
    assert (many.loc[many["abstained"], "name"] == "unassigned").all()
    assert (many.loc[~many["abstained"], "probability"] >= model.abstain_threshold).all()


def test_assign_parsed_together_equals_one_by_one(
    log: pd.DataFrame, model: PersonaModel, labels: pd.Series
) -> None:
    """What the service does with requests that arrive together: parse each, score them in
    one vectorised pass (grouped by model, so a reload mid-batch is safe); equal to assign()
    customer by customer, bit for bit, in the order given."""
    other = PersonaModel(cv=3, random_state=1, abstain_threshold=0.3).fit(log, labels)
    ids = sorted(log["customer_id"].unique())[:40]
    parsed = [
        parse_customer(records(log, c), other if i % 3 == 0 else model) for i, c in enumerate(ids)
    ]
    parsed.append(parse_customer(EVENTS, model, customer_id="live-1"))  # unknown names too
    parsed.append(
        parse_customer([{**EVENTS[0], "activity": "vr_fitting"}], other, customer_id="live-2")
    )
    together = assign_parsed(parsed)
    one_by_one = [
        assign(records(log, c), other if i % 3 == 0 else model) for i, c in enumerate(ids)
    ]
    one_by_one.append(assign(EVENTS, model, customer_id="live-1"))
    one_by_one.append(
        assign([{**EVENTS[0], "activity": "vr_fitting"}], other, customer_id="live-2")
    )
    assert together == one_by_one
    assert together[-1].unknown_activities == ("vr_fitting",)
    # the two models really differ on some customers (the grouping matters)
    assert any(assign(records(log, c), other) != assign(records(log, c), model) for c in ids[:10])

    # score_parsed: the same assignments and, from the same pass, every persona's probability
    # of each customer under its own model (the service's memberships), as predict_proba
    scored, probabilities = score_parsed(parsed)
    assert scored == together and len(probabilities) == len(parsed)
    for i, c in enumerate(ids):
        m = other if i % 3 == 0 else model
        expected = m.predict_proba(log[log["customer_id"] == c]).to_numpy()[0]
        np.testing.assert_allclose(probabilities[i], expected, rtol=0, atol=1e-12, err_msg=c)
        assert probabilities[i].max() == scored[i].probability
    assert [len(p) for p in probabilities[-2:]] == [len(model.classes_), len(other.classes_)]


def test_persona_probabilities_are_what_assign_aggregates_decides_from(
    log: pd.DataFrame, model: PersonaModel
) -> None:
    """The probabilities of every persona from the aggregates: predict_proba of the model, and
    assign_aggregates' persona and probability are their argmax and max."""
    from journeymine.assignment import assign_aggregates
    from journeymine.features import encode_log, numpy_aggregates

    _, ev, _, _ = encode_log(log, model.vocab_, what="test")
    agg = numpy_aggregates(ev, model.spec_)
    proba = persona_probabilities(model, agg)
    np.testing.assert_allclose(proba, model.predict_proba(log).to_numpy(), rtol=0, atol=1e-12)
    persona, top, abstained = assign_aggregates(model, agg)
    np.testing.assert_array_equal(top, proba.max(axis=1))
    best = model.classes_[proba.argmax(axis=1)]
    np.testing.assert_array_equal(persona, np.where(abstained, -1, best))
    with pytest.raises(ConfigError, match="fitted PersonaModel"):
        persona_probabilities(object(), agg)  # type: ignore[arg-type]


@pytest.mark.parametrize("shuffle", [False, True])
def test_batch_path_in_slices_equals_one_piece(
    log: pd.DataFrame, model: PersonaModel, shuffle: bool
) -> None:
    """Large logs are scored in slices of whole customers; the result is the same."""
    frame = log.sample(frac=1.0, random_state=2) if shuffle else log
    whole = model._featurize(frame, what="test", chunk_events=10**9)
    sliced = model._featurize(frame, what="test", chunk_events=997)
    np.testing.assert_array_equal(whole[0].to_numpy(), sliced[0].to_numpy())
    np.testing.assert_array_equal(whole[1], sliced[1])
    np.testing.assert_array_equal(whole[2], sliced[2])
    assert whole[3] == sliced[3] and whole[4] == sliced[4]


def test_assign_accepts_dicts_dataframe_datetimes_and_offsets(model: PersonaModel) -> None:
    base = assign(EVENTS, model, customer_id="c1")
    assert isinstance(base, Assignment) and base.n_events == 4
    assert base.unknown_activities == () and base.unknown_channels == ()
    # same events as a DataFrame, with the id in every row, shuffled
    frame = pd.DataFrame(EVENTS).assign(customer_id="c1").iloc[[2, 0, 3, 1]]
    assert assign(frame, model) == base
    # the same instants as datetimes and with a +02:00 offset
    as_dt = [
        {**e, "timestamp": dt.datetime.fromisoformat(e["timestamp"].replace("Z", "+00:00"))}
        for e in EVENTS
    ]
    assert assign(as_dt, model, customer_id="c1") == base
    shifted = [
        {**e, "timestamp": pd.Timestamp(e["timestamp"]).tz_convert("Etc/GMT-2").isoformat()}
        for e in EVENTS
    ]
    assert assign(shifted, model, customer_id="c1") == base
    naive = [{**e, "timestamp": e["timestamp"].rstrip("Z")} for e in EVENTS]
    assert assign(naive, model, customer_id="c1") == base  # naive = UTC
    d = base.to_dict()
    assert d == {**dataclasses.asdict(base), "unknown_activities": [], "unknown_channels": []}
    # a null customer_id in an event means "the one given separately"
    assert assign([{**e, "customer_id": None} for e in EVENTS], model, customer_id="c1") == base
    with pytest.raises(EventLogError, match="customer_id must be a non-empty string"):
        assign([{**e, "customer_id": None} for e in EVENTS], model)


def test_unknown_activities_and_channels_are_counted_and_reported(model: PersonaModel) -> None:
    events = [
        *EVENTS,
        {"timestamp": "2025-02-01T19:07:00Z", "activity": "hologram_call", "channel": "metaverse"},
        {"timestamp": "2025-02-01T19:08:00Z", "activity": "visit"},  # no channel: __other__
    ]
    a = assign(events, model, customer_id="c1")
    assert a.unknown_activities == ("hologram_call",)
    assert a.unknown_channels == ("metaverse",)
    assert a.n_events == 6
    # the batch path reports the same (a canonical frame: the null channel is __other__)
    frame = pd.DataFrame(events).assign(customer_id="c1")
    frame = frame.astype({"customer_id": "str", "activity": "category", "channel": "category"})
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    many = assign_many(frame, model)
    row = many.iloc[0]
    assert row["unknown_activities"] == ("hologram_call",)
    assert row["unknown_channels"] == ("metaverse",)
    assert row["probability"] == a.probability


def test_assign_errors_are_clear(model: PersonaModel) -> None:
    with pytest.raises(EmptyLogError, match="at least one event"):
        assign([], model, customer_id="c1")
    with pytest.raises(EventLogError, match=r"has no 'activity'.*Did you mean 'activty'"):
        assign([{"timestamp": "2025-01-01T00:00:00Z", "activty": "visit"}], model, customer_id="c")
    with pytest.raises(EventLogError, match="no 'customer_id'"):
        assign(EVENTS, model)
    with pytest.raises(EventLogError, match="could not be parsed") as err:
        assign([{**EVENTS[0], "timestamp": "yesterday-ish"}, EVENTS[1]], model, customer_id="c")
    assert len(err.value.problems) == 1
    with pytest.raises(EventLogError, match="activity is null"):
        assign([{**EVENTS[0], "activity": None}], model, customer_id="c")
    with pytest.raises(EventLogError, match="assign_many"):
        assign([{**EVENTS[0], "customer_id": "a"}, {**EVENTS[1], "customer_id": "b"}], model)
    with pytest.raises(EventLogError, match="mix values with a timezone offset"):
        assign(
            [EVENTS[0], {**EVENTS[1], "timestamp": "2025-02-01 19:02:00"}], model, customer_id="c"
        )
    with pytest.raises(EventLogError, match="not a number"):
        assign([{**EVENTS[3], "value": "lots"}], model, customer_id="c")
    with pytest.raises(EventLogError, match="single dict"):
        assign(EVENTS[0], model, customer_id="c")
    with pytest.raises(EventLogError, match="list of dicts"):
        assign("visit", model, customer_id="c")
    with pytest.raises(EventLogError, match="customer_id must be a non-empty string"):
        assign([{**EVENTS[0], "customer_id": 7}], model)
    with pytest.raises(ConfigError, match="PersonaModel"):
        assign(EVENTS, "model.skops", customer_id="c")  # type: ignore[arg-type]
    with pytest.raises(NotFittedError):
        assign(EVENTS, PersonaModel(), customer_id="c")
    # several problems are reported together
    with pytest.raises(EventLogError) as err:
        assign([{"timestamp": "x", "activity": None}], model, customer_id="c")
    assert len(err.value.problems) == 2


@pytest.mark.parametrize("stamp", ["NaN", "", "NaT", "nat", " ", "now", "Today", "-1"])
def test_missing_value_words_are_not_timestamps(model: PersonaModel, stamp: str) -> None:
    """pandas reads these as a missing time (or the clock): an EventLogError naming the event
    and the fix, not a ValueError from the integer conversion (HTTP 500 in the service)."""
    event = {"timestamp": stamp, "activity": "visit"}
    message = rf"event 0: timestamp {stamp!r} could not be parsed\. Use ISO 8601 such as '2025"
    with pytest.raises(EventLogError, match=message):
        assign([event], model, customer_id="c1")


@pytest.mark.parametrize("value", [float("inf"), -float("inf"), 10**400, 1e14])
def test_infinite_or_huge_values_are_refused(model: PersonaModel, value: object) -> None:
    event = {"timestamp": "2025-02-01T19:00:00Z", "activity": "purchase", "value": value}
    message = r"event 0: value .* is out of range \(a finite number with \|value\| <= 1e\+13\)"
    with pytest.raises(EventLogError, match=rf"{message}; send the event's amount, or null"):
        assign([event], model, customer_id="c1")
    missing = {**event, "value": "nan"}  # NaN (a float or its text) means "no value"
    assert assign([missing], model, customer_id="c1").n_events == 1


def test_assign_many_errors(model: PersonaModel, log: pd.DataFrame) -> None:
    with pytest.raises(EventLogError, match="DataFrame"):
        assign_many(EVENTS, model)  # type: ignore[arg-type]
    with pytest.raises(EmptyLogError):
        assign_many(log.iloc[:0], model)
    with pytest.raises(jm.MissingColumnError, match="activity"):
        assign_many(log.drop(columns=["activity"]), model)
    bad = log.head(20).astype({"timestamp": str})
    bad.loc[bad.index[3], "timestamp"] = "not a time"
    with pytest.raises(EventLogError, match="could not be parsed"):
        assign_many(bad, model)


def test_assign_many_validates_raw_input(log: pd.DataFrame, model: PersonaModel) -> None:
    """Plain strings (not categories), ISO text timestamps: validated, same result."""
    raw = log.head(400).astype({"activity": str, "channel": str})
    raw["timestamp"] = raw["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    pd.testing.assert_frame_equal(assign_many(raw, model), assign_many(log.head(400), model))


def test_session_id_model_needs_session_ids(log: pd.DataFrame, labels: pd.Series) -> None:
    with_sid = jm.sessionize(log, session_gap="20min")
    m = PersonaModel(cv=2, validation_size=0, prefix_cuts=(5, None)).fit(with_sid, labels)
    assert m.spec_.use_session_id
    cid = with_sid["customer_id"].iloc[0]
    g = with_sid[with_sid["customer_id"] == cid]
    a = assign(g.to_dict("records"), m)
    assert a.n_events == len(g)
    with pytest.raises(EventLogError, match="session_id"):
        assign(g.drop(columns=["session_id"]).to_dict("records"), m)
    with pytest.raises(EventLogError, match="session_id"):
        assign_many(g.drop(columns=["session_id"]), m)


def test_import_does_not_load_duckdb_plotly_pm4py() -> None:
    code = (
        "import journeymine.assignment, sys; "
        "bad = [m for m in ('duckdb', 'plotly', 'pm4py') if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# Clustering code: persona mining (HDBSCAN, the Gaussian mixture), persona tracking (the
# Hungarian matching of scipy.optimize.linear_sum_assignment) and the rest of the personas
# package. scipy.optimize itself is not in the list: scikit-learn's base module imports it
# (sklearn.utils.fixes -> scipy.stats), and PersonaModel is a scikit-learn estimator.
CLUSTERING_MODULES = (
    "sklearn.cluster",
    "sklearn.mixture",
    "hdbscan",
    "journeymine.personas",
    "journeymine.personas.mining",
    "journeymine.personas.mixture",
    "journeymine.personas.dynamic",
)


@pytest.mark.parametrize(
    "statement",
    [
        "import journeymine.assignment",
        "from journeymine.assignment import assign, assign_many, load_model",
        "import journeymine.features",
    ],
)
def test_assignment_path_loads_no_clustering_code(statement: str) -> None:
    code = (
        f"{statement}; import sys; "
        f"bad = [m for m in {CLUSTERING_MODULES!r} if m in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_scoring_a_saved_model_loads_no_clustering_code(tmp_path, model: PersonaModel) -> None:
    """Loading a saved model and scoring one customer (what the service does) stays off
    journeymine's persona mining too. (skops imports every scikit-learn estimator when it is
    imported, sklearn.cluster included, so only journeymine's modules and hdbscan are checked.)"""
    path = model.save(tmp_path / "model.skops")
    ours = tuple(m for m in CLUSTERING_MODULES if not m.startswith("sklearn."))
    code = (
        "import sys; from journeymine.assignment import assign, load_model; "
        f"m = load_model({str(path)!r}); "
        f"a = assign({EVENTS!r}, m, customer_id='c1'); "
        f"bad = [n for n in {ours!r} if n in sys.modules]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
