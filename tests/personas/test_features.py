"""CustomerFeaturizer: exact aggregates (checked against an independent per-customer reference
written from the module docstring), features without NaN, windows, errors."""

from __future__ import annotations

import dataclasses
import itertools
import json
from typing import Literal

import numpy as np
import pandas as pd
import pytest

import journeymine as jm
from journeymine.datasets import make_journeys
from journeymine.exceptions import (
    ConfigError,
    EmptyLogError,
    EventLogError,
    MissingColumnError,
    NotFittedError,
    UnknownActivityError,
)
from journeymine.features import US_PER_DAY, US_PER_HOUR
from journeymine.personas.features import (
    OTHER,
    CustomerFeaturizer,
    FeatureSpec,
    compute_aggregates,
    features_from_aggregates,
)


@pytest.fixture(scope="module")
def small_log() -> pd.DataFrame:
    return make_journeys(n_customers=150, days=60, random_state=3).events


def reference_aggregates(events: pd.DataFrame, spec: FeatureSpec) -> np.ndarray:
    """One customer's aggregates, computed event by event from the documented definitions."""
    t_all = events["timestamp"].dt.tz_convert("UTC").dt.tz_localize(None)
    t_all = t_all.to_numpy(dtype="datetime64[us]").view(np.int64)
    keep = np.ones(len(events), dtype=bool)
    if spec.start_us is not None:
        keep &= t_all >= spec.start_us
    if spec.end_us is not None:
        keep &= t_all < spec.end_us
    ev = events[keep]
    t = t_all[keep]
    order = np.argsort(t, kind="stable")
    ev, t = ev.iloc[order], t[order]
    acts = [str(a) for a in ev["activity"]]
    chans = [str(c) for c in ev["channel"]] if "channel" in ev else [OTHER] * len(ev)
    jrn = (
        [None if pd.isna(j) else str(j) for j in ev["journey_id"]]
        if "journey_id" in ev
        else [None] * len(ev)
    )
    vals = ev["value"].to_numpy(dtype=float) if "value" in ev else np.full(len(ev), np.nan)
    agg = dict.fromkeys(spec.aggregate_names, 0)
    agg["n_events"] = len(ev)
    for a in acts:
        agg[f"act:{a if a in spec.activities else OTHER}"] += 1
    for c in chans:
        agg[f"ch:{c if c in spec.channels else OTHER}"] += 1
    touch = [a in spec.touch_activities for a in acts]
    for c, is_touch in zip(chans, touch, strict=True):
        if not is_touch:
            agg[f"sch:{c if c in spec.channels else OTHER}"] += 1
    for i in range(len(ev)):
        if not touch[i]:
            continue
        agg["n_touches"] += 1
        resp = jrn[i] is not None and any(
            not touch[k] and jrn[k] == jrn[i] and t[i] <= t[k] <= t[i] + spec.response_window_us
            for k in range(len(ev))
        )
        agg["n_responded"] += int(resp)
        if jrn[i] in spec.journeys:
            agg[f"touch:{jrn[i]}"] += 1
            agg[f"resp:{jrn[i]}"] += int(resp)
    sev = [i for i in range(len(ev)) if not touch[i]]
    sessions: list[list[int]] = []
    for i in sev:
        if not sessions or t[i] - t[sessions[-1][-1]] > spec.session_gap_us:
            sessions.append([i])
        else:
            sessions[-1].append(i)
    agg["n_session_events"] = len(sev)
    agg["n_sessions"] = len(sessions)
    prev_ch = None
    for s in sessions:
        sa = {acts[i] for i in s}
        has = {
            role: bool(sa & set(getattr(spec, f"{role}_activities")))
            for role in ("browse", "cart", "purchase")
        }
        agg["n_single_event_sessions"] += len(s) == 1
        agg["session_us"] += int(t[s[-1]] - t[s[0]])
        agg["sessions_browse"] += has["browse"]
        agg["sessions_browse_purchase"] += has["browse"] and has["purchase"]
        agg["sessions_cart"] += has["cart"]
        agg["sessions_cart_no_purchase"] += has["cart"] and not has["purchase"]
        agg["sessions_purchase"] += has["purchase"]
        if not any(jrn[i] is not None for i in s):
            agg["n_organic_sessions"] += 1
            agg[f"osch:{chans[s[-1]] if chans[s[-1]] in spec.channels else OTHER}"] += 1
            agg["last_organic_us"] = max(agg["last_organic_us"], int(t[s[-1]]))
            agg["organic_t_rel_s"] += int((t[s[0]] - t.min()) // 1_000_000)
        last_ch = chans[s[-1]]
        if prev_ch is not None and last_ch != prev_ch:
            agg["session_channel_switches"] += 1
        prev_ch = last_ch
        for p, q in itertools.pairwise(s):
            agg["n_transitions"] += 1
            if (acts[p], acts[q]) in spec.transitions:
                agg[f"tr:{acts[p]}>{acts[q]}"] += 1
    days = set()
    for i in sev:
        day = int(t[i] // US_PER_DAY)
        days.add(day)
        agg[f"hour:{int((t[i] % US_PER_DAY) // US_PER_HOUR):02d}"] += 1
        agg[f"wday:{(day + 3) % 7}"] += 1
    agg["n_active_days"] = len(days)
    for i in range(len(ev)):
        if acts[i] in spec.purchase_activities and np.isfinite(vals[i]):
            agg["value_cents"] += int(np.floor(vals[i] * 100 + 0.5))
            agg["n_valued_purchases"] += 1
    agg["first_us"] = int(t.min())
    agg["last_us"] = int(t.max())
    agg["last_session_us"] = int(t[sev].max()) if sev else 0
    agg["session_t_rel_s"] = int(sum((t[i] - t.min()) // 1_000_000 for i in sev))
    return np.array([agg[n] for n in spec.aggregate_names], dtype=np.int64)


@pytest.mark.parametrize("engine", ["numpy", "duckdb"])
def test_aggregates_equal_reference_for_every_customer(
    small_log: pd.DataFrame, engine: Literal["numpy", "duckdb"]
) -> None:
    # shuffled input: the featurizer must sort by itself, ties in input order
    log = small_log.sample(frac=1.0, random_state=1).reset_index(drop=True)
    spec = CustomerFeaturizer(window="40D").fit(log).spec_
    ids, agg = compute_aggregates(log, spec, engine=engine)
    assert list(ids) == sorted(ids)
    for k, cid in enumerate(ids[:60]):
        expected = reference_aggregates(log[log["customer_id"] == cid], spec)
        diff = [n for n, x, y in zip(spec.aggregate_names, agg[k], expected, strict=True) if x != y]
        assert not diff, (cid, diff)


def test_numpy_and_duckdb_engines_agree(small_log: pd.DataFrame) -> None:
    """The two aggregate engines, through the public API: same customers (those without an
    event in the window get no row in either), same integers, same features; a wrong engine
    name is refused."""
    log = small_log.sample(frac=1.0, random_state=3).reset_index(drop=True)
    t = log["timestamp"]
    mid = t.min() + (t.max() - t.min()) / 2
    for kwargs in ({}, {"start": mid}, {"end": mid, "use_session_id": False}):
        spec = CustomerFeaturizer(**kwargs).fit(log).spec_
        ids_np, agg_np = compute_aggregates(log, spec)
        ids_db, agg_db = compute_aggregates(log, spec, engine="duckdb")
        assert list(ids_np) == list(ids_db)
        np.testing.assert_array_equal(agg_np, agg_db)
    assert len(ids_np) < log["customer_id"].nunique()  # the window dropped some customers
    fast = CustomerFeaturizer(window="40D").fit(log).transform(log)
    ref = CustomerFeaturizer(window="40D", engine="duckdb").fit(log).transform(log)
    pd.testing.assert_frame_equal(fast, ref)
    with pytest.raises(ConfigError, match="engine must be"):
        compute_aggregates(log, spec, engine="spark")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="engine must be"):
        CustomerFeaturizer(engine="spark").fit(log)  # type: ignore[arg-type]
    # fitted with session ids: a log without them is refused by both engines (not silently
    # turned into one-event sessions)
    with_sid = jm.sessionize(log, session_gap="20min")
    for engine in ("numpy", "duckdb"):
        fz = CustomerFeaturizer(engine=engine).fit(with_sid)  # type: ignore[arg-type]
        assert fz.spec_.use_session_id
        with pytest.raises(EventLogError, match="no 'session_id' column"):
            fz.transform(with_sid.drop(columns=["session_id"]))


def test_fit_learns_the_same_spec_on_both_engines(small_log: pd.DataFrame) -> None:
    """Transitions (top pairs, ties by activity order) and response priors learned in numpy
    equal the DuckDB queries: plain, with session ids, with a window, and in customer slices."""
    from journeymine.features.learn import learn_numpy as _learn_numpy

    log = small_log.sample(frac=1.0, random_state=7).reset_index(drop=True)
    with_sid = jm.sessionize(log, session_gap="20min")
    mid = log["timestamp"].min() + (log["timestamp"].max() - log["timestamp"].min()) / 2
    for frame, kwargs in (
        (log, {}),
        (with_sid, {}),
        (log, {"start": mid, "n_transitions": 40}),
        (log, {"touch_activities": ["email_sent"], "n_transitions": 5}),
    ):
        fast = CustomerFeaturizer(**kwargs).fit(frame).spec_
        ref = CustomerFeaturizer(engine="duckdb", **kwargs).fit(frame).spec_
        assert fast == ref
        assert fast.transitions and fast.journey_response_prior
    fz = CustomerFeaturizer(engine="duckdb", n_transitions=30).fit(log)
    base = dataclasses.replace(fz.spec_, transitions=())
    sliced = _learn_numpy(log, base, 30, chunk_events=997)
    assert sliced == (fz.spec_.transitions, fz.spec_.response_prior,
                      fz.spec_.journey_response_prior)  # fmt: skip


def test_hand_built_log_sessions_ties_touches_values() -> None:
    ts = pd.to_datetime(
        [
            "2025-01-06 10:00:00",  # Monday: session 1 (web)
            "2025-01-06 10:00:00",  # tie: input order keeps view before cart
            "2025-01-06 10:30:00",  # gap == 30 min: same session
            "2025-01-06 12:00:00",  # email touch (not a session event)
            "2025-01-08 11:59:00",  # response 47h59 later: answered
            "2025-01-08 12:00:30",  # new session (app): purchase with value
        ],
        utc=True,
    )
    log = pd.DataFrame(
        {
            "customer_id": ["a"] * 6,
            "timestamp": ts,
            "activity": [
                "view_product",
                "add_to_cart",
                "view_product",
                "email_sent",
                "email_open",
                "purchase",
            ],
            "channel": ["web", "web", "web", "email", "email", "app"],
            "journey_id": [None, None, None, "promo", "promo", None],
            "value": [np.nan, np.nan, np.nan, np.nan, np.nan, 12.345],
        }
    )
    fz = CustomerFeaturizer(n_transitions=0).fit(log)
    a = fz.aggregate(log).loc["a"]
    assert a["n_touches"] == 1 and a["n_responded"] == 1
    assert a["touch:promo"] == 1 and a["resp:promo"] == 1
    assert a["n_session_events"] == 5
    assert a["n_sessions"] == 2  # email_open at 11:59 and purchase 90 s later form session 2
    assert a["session_us"] == 30 * 60 * 1_000_000 + 90 * 1_000_000
    assert a["sessions_cart"] == 1 and a["sessions_cart_no_purchase"] == 1
    assert a["sessions_purchase"] == 1 and a["sessions_browse_purchase"] == 0
    assert a["session_channel_switches"] == 1  # web -> app (last event of each session)
    assert a["n_transitions"] == 3
    assert a["value_cents"] == 1235 and a["n_valued_purchases"] == 1
    assert a["wday:0"] == 3 and a["wday:2"] == 2
    assert a["hour:10"] == 3 and a["hour:11"] == 1 and a["hour:12"] == 1
    assert a["n_active_days"] == 2
    # ties: reversing the two tied rows changes the first transition, proving input order counts
    fz_tr = CustomerFeaturizer(n_transitions=5).fit(log)
    assert ("view_product", "add_to_cart") in fz_tr.spec_.transitions
    swapped = log.iloc[[1, 0, 2, 3, 4, 5]]
    b = fz_tr.aggregate(swapped).loc["a"]
    assert b["tr:view_product>add_to_cart"] == 0
    assert fz_tr.aggregate(log).loc["a"]["tr:view_product>add_to_cart"] == 1


def test_late_response_is_not_counted() -> None:
    ts = pd.to_datetime(["2025-01-01 00:00:00", "2025-01-03 00:00:01"], utc=True)
    log = pd.DataFrame(
        {
            "customer_id": ["a", "a"],
            "timestamp": ts,
            "activity": ["sms_sent", "sms_click"],
            "channel": ["sms", "sms"],
            "journey_id": ["j", "j"],
        }
    )
    a = CustomerFeaturizer().fit(log).aggregate(log).loc["a"]
    assert a["n_touches"] == 1 and a["n_responded"] == 0


def test_features_no_nan_and_single_event_customer(small_log: pd.DataFrame) -> None:
    one = pd.DataFrame(
        {
            "customer_id": ["zz"],
            "timestamp": small_log["timestamp"].iloc[:1],
            "activity": pd.Categorical(["email_sent"]),
            "channel": pd.Categorical(["email"]),
        }
    )
    log = pd.concat([small_log, one], ignore_index=True)
    fz = CustomerFeaturizer().fit(log)
    X = fz.transform(log)
    assert np.isfinite(X.to_numpy()).all()
    assert X.loc["zz", "touch_share:email_sent"] == 1.0
    assert X.loc["zz", "events_per_session"] == 0.0
    assert X.index.name == "customer_id"
    assert list(X.columns) == list(fz.get_feature_names_out())


def test_transform_is_order_invariant_and_pure(small_log: pd.DataFrame) -> None:
    fz = CustomerFeaturizer().fit(small_log)
    shuffled = small_log.sample(frac=1.0, random_state=7)
    before = shuffled.copy()
    pd.testing.assert_frame_equal(fz.transform(small_log), fz.transform(shuffled))
    pd.testing.assert_frame_equal(shuffled, before)


def test_features_from_aggregates_matches_transform(small_log: pd.DataFrame) -> None:
    fz = CustomerFeaturizer().fit(small_log)
    agg = fz.aggregate(small_log)
    X = features_from_aggregates(agg.to_numpy(), fz.spec_)
    np.testing.assert_array_equal(X, fz.transform(small_log).to_numpy())
    # one customer as a 1-d row gives the same row
    np.testing.assert_array_equal(features_from_aggregates(agg.to_numpy()[3], fz.spec_), X[3:4])
    with pytest.raises(ConfigError, match="shape"):
        features_from_aggregates(agg.to_numpy()[:, :5], fz.spec_)


def test_window_and_as_of(small_log: pd.DataFrame) -> None:
    fz = CustomerFeaturizer(start="2025-01-15", end="2025-02-01").fit(small_log)
    spec = fz.spec_
    assert spec.as_of_us == spec.end_us
    agg = fz.aggregate(small_log)
    assert (agg["first_us"] >= spec.start_us).all() and (agg["last_us"] < spec.end_us).all()
    fz2 = CustomerFeaturizer(window="10D").fit(small_log)
    last = small_log["timestamp"].max()
    assert pd.Timestamp(fz2.spec_.end_us, unit="us", tz="UTC") > last
    assert fz2.spec_.end_us - fz2.spec_.start_us == 10 * US_PER_DAY
    X = fz2.transform(small_log)
    assert len(X) < small_log["customer_id"].nunique()


def test_spec_json_round_trip(small_log: pd.DataFrame) -> None:
    spec = CustomerFeaturizer(window="30D").fit(small_log).spec_
    text = spec.to_json()
    json.loads(text)
    back = FeatureSpec.from_json(text)
    assert back == spec and back.feature_names == spec.feature_names
    with pytest.raises(ConfigError, match="unknown FeatureSpec fields"):
        FeatureSpec.from_dict({**spec.to_dict(), "activites": []})


def test_conversion_rates_are_shrunk_towards_the_pooled_rate() -> None:
    """A customer with no cart session gets the log's pooled cart abandonment, not 0; one with
    many sessions keeps nearly their own; an old spec (no rate_priors) gives the plain ratio."""
    log = make_journeys(n_customers=300, days=60, random_state=5).events
    fz = CustomerFeaturizer()
    X = fz.fit_transform(log)
    pd.testing.assert_frame_equal(X, fz.transform(log))  # fit_transform = fit + transform
    priors = dict(fz.spec_.rate_priors)
    assert set(priors) == {"conversion_rate", "browse_to_buy", "cart_abandonment"}
    agg = fz.aggregate(log)
    carts, left = agg["sessions_cart"], agg["sessions_cart_no_purchase"]
    assert np.isclose(priors["cart_abandonment"], left.sum() / carts.sum())
    none = carts.index[carts == 0]
    assert len(none) and np.allclose(X.loc[none, "cart_abandonment"], priors["cart_abandonment"])
    k = fz.spec_.prior_strength
    expect = (left + k * priors["cart_abandonment"]) / (carts + k)
    np.testing.assert_allclose(X["cart_abandonment"], expect.loc[X.index])
    old = dataclasses.replace(fz.spec_, rate_priors=())
    plain = features_from_aggregates(agg.to_numpy(), old)
    col = old.feature_names.index("cart_abandonment")
    np.testing.assert_allclose(plain[:, col], np.where(carts > 0, left / carts.clip(1), 0.0))
    # a spec card written before rate_priors existed still loads, as the plain ratios
    d = fz.spec_.to_dict()
    del d["rate_priors"]
    assert FeatureSpec.from_dict(d).rate_priors == ()
    with pytest.raises(ConfigError, match="rate_priors"):
        dataclasses.replace(fz.spec_, rate_priors=(("bounce_share", 0.5),))


def test_session_id_column_is_used() -> None:
    ts = pd.to_datetime(["2025-01-01 10:00", "2025-01-01 10:01", "2025-01-01 10:02"], utc=True)
    log = pd.DataFrame(
        {
            "customer_id": ["a"] * 3,
            "timestamp": ts,
            "activity": ["visit", "visit", "visit"],
            "session_id": ["s1", "s2", None],
        }
    )
    a = CustomerFeaturizer().fit(log).aggregate(log).loc["a"]
    assert a["n_sessions"] == 3
    b = CustomerFeaturizer(use_session_id=False).fit(log).aggregate(log).loc["a"]
    assert b["n_sessions"] == 1


def test_errors(small_log: pd.DataFrame) -> None:
    with pytest.raises(NotFittedError):
        CustomerFeaturizer().transform(small_log)
    with pytest.raises(EmptyLogError, match="no events inside the window"):
        CustomerFeaturizer(start="2030-01-01").fit(small_log)
    fz = CustomerFeaturizer().fit(small_log)
    with pytest.raises(EmptyLogError):
        CustomerFeaturizer(start="2030-01-01", end="2030-02-01").fit(small_log)
    late = CustomerFeaturizer(end="2025-01-10").fit(small_log)
    with pytest.raises(EmptyLogError):
        late.transform(small_log[small_log["timestamp"] >= "2025-01-20"])
    with pytest.raises(ConfigError, match="at most two"):
        CustomerFeaturizer(start="2025-01-01", end="2025-02-01", window="3D").fit(small_log)
    with pytest.raises(ConfigError, match="before end"):
        CustomerFeaturizer(start="2025-03-01", end="2025-02-01").fit(small_log)
    with pytest.raises(ConfigError, match="duration"):
        CustomerFeaturizer(session_gap="soon").fit(small_log)
    with pytest.raises(UnknownActivityError, match="Did you mean 'purchase'"):
        CustomerFeaturizer(purchase_activities=["purchse"]).fit(small_log)
    with pytest.raises(MissingColumnError):
        fz.transform(small_log.drop(columns=["activity"]))
    with pytest.raises(EmptyLogError):
        fz.transform(small_log.iloc[:0])
    with pytest.raises(EventLogError, match="DataFrame"):
        fz.transform([1, 2, 3])  # type: ignore[arg-type]


def test_feature_core_imports_light() -> None:
    """The feature core (journeymine.features) loads neither DuckDB (the reference engine is
    imported when a query runs), scikit-learn, scipy, plotly nor the personas package: live
    assignment and the service build on it."""
    import subprocess
    import sys

    heavy = ("duckdb", "sklearn", "scipy", "plotly", "journeymine.personas", "journeymine.journeys")
    code = (
        "import sys, journeymine.features; "
        f"bad = [m for m in {heavy!r} if m in sys.modules]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def _basket_log() -> pd.DataFrame:
    """A store panel's shape: baskets of department lines (one time per basket, a value per
    line), a refund line, mailed campaigns without value; no activity named ``purchase``."""
    rows = []
    for c, (dept, price) in enumerate([("DAIRY", 2.0), ("MEAT", 9.0), ("DAIRY", 3.0)] * 4):
        for day in range(1, 6):
            t = pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(days=day + c % 3)
            rows += [(f"h{c}", t, dept, price * (1 + c / 10)), (f"h{c}", t, "BAKERY", 1.5)]
        rows.append((f"h{c}", pd.Timestamp("2024-01-01", tz="UTC"), "campaign_mailed", None))
    rows.append(("h0", pd.Timestamp("2024-01-20", tz="UTC"), "REFUND", -2.0))
    return pd.DataFrame(rows, columns=["customer_id", "timestamp", "activity", "value"])


def test_purchase_and_return_roles_come_from_the_values(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Without an activity named ``purchase``, the activities whose events carry a positive
    value are the purchases (said in the log) and those with a negative one the returns, so the
    value features are not all 0; names the caller gives, or defaults the log has, win."""
    log = _basket_log()
    with caplog.at_level("INFO", logger="journeymine.personas.features"):
        fz = CustomerFeaturizer().fit(log)
    assert fz.spec_.purchase_activities == ("BAKERY", "DAIRY", "MEAT")
    assert fz.spec_.return_activities == ("REFUND",)
    assert "purchase_activities inferred from the value column" in caplog.text
    X = fz.transform(log)
    assert X["order_value_log"].nunique() > 1  # the meat buyers spend more per line
    assert X.loc["h1", "order_value_log"] > X.loc["h0", "order_value_log"]
    assert X.loc["h0", "returns_per_purchase"] > 0 and X.loc["h1", "returns_per_purchase"] == 0
    # an explicit choice is kept, the other roles still inferred
    own = CustomerFeaturizer(purchase_activities=["MEAT"]).fit(log)
    assert own.spec_.purchase_activities == ("MEAT",)
    assert own.spec_.return_activities == ("REFUND",)
    # a log that has the default names keeps them (the generator's: no inference)
    gen = make_journeys(n_customers=50, days=30, random_state=0).events
    assert CustomerFeaturizer().fit(gen).spec_.purchase_activities == ("purchase",)
    # without a value column nothing is inferred
    bare = CustomerFeaturizer().fit(log.drop(columns="value"))
    assert bare.spec_.purchase_activities == () and bare.spec_.return_activities == ()


SENDS = {"email_sent": "newsletter_mailed", "push_sent": "alert_pushed", "sms_sent": "text_out"}


def test_touches_come_from_the_order_of_journey_events(caplog: pytest.LogCaptureFixture) -> None:
    """A log whose sends are not named '*sent': the touches are the journey activities that
    open their (customer, journey) pairs, said in the log, and the features equal those of a
    featurizer told the touches; reactions (opens, clicks) never open a pair."""
    log = make_journeys(n_customers=400, days=60, random_state=5).events
    log = log.assign(activity=log["activity"].astype(str).replace(SENDS))
    with caplog.at_level("INFO", logger="journeymine.personas.features"):
        fz = CustomerFeaturizer().fit(log)
    assert sorted(fz.spec_.touch_activities) == sorted(SENDS.values())
    assert "touches are the journey activities that open their journeys" in caplog.text
    told = CustomerFeaturizer(touch_activities=sorted(SENDS.values())).fit(log)
    pd.testing.assert_frame_equal(fz.transform(log), told.transform(log))
    assert fz.transform(log)["response_rate"].nunique() > 10
    # the outcome "response:JOURNEY" finds the same touches
    cutoff = log["timestamp"].min() + pd.Timedelta("40D")
    ids = pd.Index(sorted(log["customer_id"].astype(str).unique()), name="customer_id")
    labels = pd.Series(np.arange(len(ids)) % 3, index=ids)
    v = jm.persona_validity(
        log, labels, outcome="response:flash_sale", cutoff=cutoff, n_bootstrap=10, cv=3
    )
    assert v.n_positive > 0 and "flash_sale" in v.outcome


def test_no_touch_is_guessed_from_one_journey_activity() -> None:
    from journeymine.features.learn import infer_touch_activities

    log = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"], utc=True),
            "activity": ["email_click", "buy", "email_click"],
            "journey_id": ["j1", None, "j1"],
        }
    )
    touches, why = infer_touch_activities(log)
    assert touches == () and "fewer than two" in why
    # journey_id on every activity (a case id, not a campaign): no touch is guessed
    case_like = log.assign(journey_id=["j1", "j1", "j2"], activity=["visit", "buy", "visit"])
    assert infer_touch_activities(case_like)[0] == ()
    # a log with sends named '*sent' keeps the name rule
    assert infer_touch_activities(log.assign(activity="email_sent"))[0] == ("email_sent",)
