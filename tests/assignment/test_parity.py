"""The numpy aggregates (single customer and vectorised) equal the DuckDB batch featurizer
exactly, on thousands of random customers and on the synthetic generator's customers."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from journeymine.assignment._inputs import parse_events
from journeymine.features import (
    AggPlan,
    FeatureSpec,
    Vocab,
    as_of_last_event,
    compute_aggregates,
    encode_log,
    features_from_aggregates,
    numpy_aggregates,
)
from journeymine.features import live_spec as model_spec
from journeymine.personas import CustomerFeaturizer

ACTS = [
    "visit",
    "search",
    "view_product",
    "add_to_cart",
    "purchase",
    "return_product",
    "contact_support",
    "email_sent",
    "email_open",
    "push_sent",
    "push_open",
]
CHANNELS = ["web", "app", "store", "email", "push"]
JOURNEYS = ["welcome", "promo", "win_back"]


def random_log(
    rng: np.random.Generator,
    n_customers: int,
    *,
    extra_activities: tuple[str, ...] = (),
    extra_channels: tuple[str, ...] = (),
    session_ids: bool = False,
    prefix: str = "r",
) -> pd.DataFrame:
    """Customers with 1..40 events: ties, sub-gap and over-gap intervals, touches and
    responses in and out of the window, null journeys/channels, NaN/huge/negative values,
    some customers before 1970."""
    acts = np.array(ACTS + list(extra_activities), dtype=object)
    chans = np.array([*CHANNELS, *extra_channels, None], dtype=object)
    jrns = np.array([*JOURNEYS, "other_journey", None, None, None], dtype=object)
    rows = []
    for c in range(n_customers):
        n = int(rng.choice([1, 2, 3, rng.integers(4, 41)]))
        start = int(rng.integers(-3_000, 20_000)) * 86_400_000_000 // 10
        steps = rng.choice(
            [
                0,
                1_000_000,
                60_000_000,
                29 * 60_000_000,
                30 * 60_000_000,
                31 * 60_000_000,
                2 * 86_400_000_000,
                47 * 3_600_000_000,
            ],
            size=n,
            p=[0.1, 0.2, 0.25, 0.1, 0.05, 0.1, 0.1, 0.1],
        )
        t = start + np.cumsum(steps)
        a = rng.choice(acts, size=n)
        v = np.full(n, np.nan)
        buy = a == "purchase"
        v[buy] = np.round(rng.normal(40, 30, size=int(buy.sum())), 3)
        v[rng.random(n) < 0.03] = 1e12  # large but valid (inf is refused on every path)
        for i in range(n):
            rows.append(
                {
                    "customer_id": f"{prefix}{c:05d}",
                    "timestamp": t[i],
                    "activity": a[i],
                    "channel": rng.choice(chans),
                    "journey_id": rng.choice(jrns),
                    "value": v[i],
                    "session_id": (None if rng.random() < 0.2 else f"s{int(rng.integers(0, 6))}"),
                }
            )
    df = pd.DataFrame(rows)
    df["timestamp"] = pd.to_datetime(df["timestamp"], unit="us", utc=True)
    df["activity"] = df["activity"].astype("category")
    df["channel"] = df["channel"].astype("category")
    df["journey_id"] = df["journey_id"].astype("str")
    df["customer_id"] = df["customer_id"].astype("str")
    if not session_ids:
        df = df.drop(columns=["session_id"])
    else:
        df["session_id"] = df["session_id"].astype("str")
    return df.sample(frac=1.0, random_state=int(rng.integers(0, 2**31))).reset_index(drop=True)


def duckdb_features(
    log: pd.DataFrame, spec: FeatureSpec
) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    ids, agg = compute_aggregates(log, spec, engine="duckdb")
    return ids, agg, features_from_aggregates(as_of_last_event(agg, spec), spec)


@pytest.fixture(scope="module")
def random_logs() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(42)
    return {
        "train": random_log(rng, 300),
        "test": random_log(
            rng, 2500, extra_activities=("hologram",), extra_channels=("kiosk",), prefix="t"
        ),
        "sid_train": random_log(rng, 200, session_ids=True),
        "sid_test": random_log(rng, 800, session_ids=True, extra_activities=("x",), prefix="s"),
    }


@pytest.mark.parametrize("mode", ["gap", "session_id"])
def test_vectorised_aggregates_equal_duckdb(
    random_logs: dict[str, pd.DataFrame], mode: str
) -> None:
    train, test = (
        (random_logs["train"], random_logs["test"])
        if mode == "gap"
        else (random_logs["sid_train"], random_logs["sid_test"])
    )
    fz = CustomerFeaturizer(
        n_transitions=12,
        touch_activities=["email_sent", "push_sent"],
        use_session_id=(mode == "session_id"),
    ).fit(train)
    for spec in (fz.spec_, model_spec(fz.spec_)):  # with and without a window
        ids, agg = compute_aggregates(test, spec, engine="duckdb")
        customers, ev, _, _ = encode_log(test, Vocab.of(spec), what="test")
        mine = numpy_aggregates(ev, spec, plan=AggPlan(spec))
        present = mine[:, 0] > 0
        assert list(customers[present]) == list(ids)
        diff = [
            n
            for i, n in enumerate(spec.aggregate_names)
            if not np.array_equal(mine[present, i], agg[:, i])
        ]
        assert not diff, diff
        np.testing.assert_array_equal(mine[present], agg)


def test_single_customer_features_equal_batch_features(
    random_logs: dict[str, pd.DataFrame], log: pd.DataFrame
) -> None:
    """The assign() path (records -> numpy, one customer at a time) against the DuckDB batch
    features, for ~3,000 customers: random ones with unknown names and the generator's."""
    train = random_logs["train"]
    fz = CustomerFeaturizer(n_transitions=12, touch_activities=["email_sent", "push_sent"])
    spec = model_spec(fz.fit(train).spec_)
    vocab = Vocab.of(spec)
    test = random_logs["test"]
    checked = 0
    for frame, spec_, vocab_ in (
        (test, spec, vocab),
        (log, model_spec(CustomerFeaturizer().fit(log).spec_), None),
    ):
        vocab_ = vocab_ or Vocab.of(spec_)
        ids, _, X = duckdb_features(frame, spec_)
        iso = np.datetime_as_string(
            frame["timestamp"].dt.tz_localize(None).to_numpy(), unit="us", timezone="UTC"
        )
        records = frame.assign(timestamp=iso).to_dict("records")
        codes, uniques = pd.factorize(frame["customer_id"])
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
        rows = {cid: i for i, cid in enumerate(ids)}
        for k, cid in enumerate(uniques):
            events = [records[j] for j in order[bounds[k] : bounds[k + 1]]]
            # the assign() chain: parse the dicts, numpy aggregates, shared features
            _, ev, _, _ = parse_events(events, vocab_)
            agg = numpy_aggregates(ev, spec_, plan=vocab_.plan)
            x = features_from_aggregates(as_of_last_event(agg, spec_), spec_)
            np.testing.assert_array_equal(x[0], X[rows[cid]], err_msg=str(cid))
            checked += 1
    assert checked >= 3000


def test_as_of_shift_equals_featurizer_as_of(log: pd.DataFrame) -> None:
    """Guard: shifting the absolute-time aggregates (as_of = last event) gives exactly the
    features of a spec whose as_of is that customer's last event. Fails if the featurizer
    gains an absolute-time aggregate the shift does not know."""
    spec = model_spec(CustomerFeaturizer().fit(log).spec_)
    ids, agg = compute_aggregates(log, spec, engine="duckdb")
    shifted = features_from_aggregates(as_of_last_event(agg, spec), spec)
    last = spec.aggregate_names.index("last_us")
    for i in range(0, len(ids), 7):
        own = dataclasses.replace(spec, as_of_us=int(agg[i, last]))
        np.testing.assert_array_equal(shifted[i], features_from_aggregates(agg[i], own)[0])


def test_parse_events_matches_encoded_frame(log: pd.DataFrame) -> None:
    """A customer's events as dicts (ISO strings with offsets, datetimes, shuffled) encode to
    the same aggregates as the same rows of the DataFrame."""
    spec = model_spec(CustomerFeaturizer().fit(log).spec_)
    vocab = Vocab.of(spec)
    cid = log["customer_id"].value_counts().index[0]
    g = log[log["customer_id"] == cid].sample(frac=1.0, random_state=3)
    as_offset = g["timestamp"].dt.tz_convert("Europe/Paris").map(lambda t: t.isoformat())
    as_datetime = g["timestamp"].map(lambda t: t.to_pydatetime())
    _, ev_frame, _, _ = encode_log(g, vocab, what="test")
    expected = numpy_aggregates(ev_frame, spec, plan=vocab.plan)
    for ts in (as_offset, as_datetime):
        records = g.assign(timestamp=ts).to_dict("records")
        _, ev, _, _ = parse_events(records, vocab)
        np.testing.assert_array_equal(numpy_aggregates(ev, spec, plan=vocab.plan), expected)
