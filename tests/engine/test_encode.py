"""encode / EncodedLog: sorting rule, codes, file inputs and input errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import journeymine as jm
from journeymine.engine import EncodedLog, as_encoded, encode
from journeymine.exceptions import (
    ConfigError,
    EmptyLogError,
    EventLogError,
    MissingColumnError,
)


def _log() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["b", "a", "b", "a", "a"],
            "timestamp": pd.to_datetime(
                [
                    "2025-01-02 10:00",
                    "2025-01-01 09:00",
                    "2025-01-01 08:00",
                    "2025-01-01 09:00",
                    "2025-01-01 07:00",
                ],
                utc=True,
            ),
            "activity": ["buy", "view", "view", "cart", "search"],
            "channel": ["app", "web", "app", "web", "web"],
        }
    )


def _decoded(enc: EncodedLog) -> list[tuple[str, str]]:
    f = enc.to_frame()
    return list(zip(f["customer_id"].astype(str), f["activity"].astype(str), strict=True))


def test_sorted_by_case_then_time_ties_in_input_order() -> None:
    enc = encode(_log())
    # a: search 07:00, then view and cart tie at 09:00 (input order view, cart); b: view, buy
    assert sorted(_decoded(enc)) == sorted(
        [("a", "search"), ("a", "view"), ("a", "cart"), ("b", "view"), ("b", "buy")]
    )
    by_case: dict[str, list[str]] = {}
    for c, a in _decoded(enc):
        by_case.setdefault(c, []).append(a)
    assert by_case == {"a": ["search", "view", "cart"], "b": ["view", "buy"]}
    assert np.all(np.diff(enc.case_codes) >= 0)
    assert enc.n_events == 5 and enc.n_cases == 2
    assert enc.case_bounds.tolist() == [0, 2, 5] or enc.case_bounds.tolist() == [0, 3, 5]
    assert sorted(enc.attributes) == ["channel"]


def test_arrays_are_read_only_and_input_untouched() -> None:
    log = _log()
    before = log.copy()
    enc = encode(log)
    pd.testing.assert_frame_equal(log, before)
    for arr in (enc.case_codes, enc.activity_codes, enc.timestamps):
        with pytest.raises(ValueError, match="read-only"):
            arr[0] = 0


def test_already_sorted_input_keeps_its_memory_layout_but_stays_read_only() -> None:
    log = jm.validate(_log())  # sorted
    enc = encode(log)
    assert _decoded(enc) == list(zip(log["customer_id"], log["activity"].astype(str), strict=True))
    assert enc.timestamps.flags.writeable is False


def test_nanosecond_timestamps_sort_on_full_precision() -> None:
    t0 = pd.Timestamp("2025-01-01", tz="UTC").as_unit("ns")
    log = pd.DataFrame(
        {
            "customer_id": ["a", "a"],
            "timestamp": pd.Series([t0 + pd.Timedelta(1, "ns"), t0]),
            "activity": ["second", "first"],
        }
    )
    assert [a for _, a in _decoded(encode(log))] == ["first", "second"]


def test_naive_timestamps_are_utc() -> None:
    log = _log()
    naive = log.assign(timestamp=log["timestamp"].dt.tz_localize(None))
    np.testing.assert_array_equal(encode(naive).timestamps, encode(log).timestamps)
    paris = log.assign(timestamp=log["timestamp"].dt.tz_convert("Europe/Paris"))
    np.testing.assert_array_equal(encode(paris).timestamps, encode(log).timestamps)


def test_non_text_labels_become_text_and_merge() -> None:
    log = _log().assign(activity=pd.Series([1, "1", 2, 2, 3], dtype=object))
    enc = encode(log)
    assert sorted(enc.activities.tolist()) == ["1", "2", "3"]
    assert enc.present_activities() == enc.activities.tolist()


def test_categorical_with_unused_categories() -> None:
    log = _log()
    log["activity"] = pd.Categorical(
        log["activity"], categories=["zzz", "buy", "view", "cart", "search"]
    )
    enc = encode(log)
    assert "zzz" in enc.activities and "zzz" not in enc.present_activities()
    assert jm.variants(enc)["cases"].sum() == 2


def test_take_and_columns() -> None:
    log = _log().assign(
        persona=["x", "y", "x", "y", "y"], session_id=["s1", "s2", "s1", "s2", "s3"]
    )
    enc = encode(log, columns=["persona"])
    assert sorted(enc.attributes) == ["channel", "persona"]
    sub = enc.take(enc.activity_codes == enc.activities.get_loc("view"))
    assert sub.n_events == 2 and sub.n_cases == 2
    by_session = encode(log, case="session_id")
    assert by_session.case == "session_id" and by_session.n_cases == 3
    assert sorted(by_session.attributes) == ["channel", "customer_id"]
    assert "EncodedLog(case='session_id', events=5, cases=3" in repr(by_session)


def test_as_encoded_checks_case_and_columns() -> None:
    enc = encode(_log())
    assert as_encoded(enc) is enc
    with pytest.raises(ConfigError, match="case='customer_id'"):
        as_encoded(enc, case="session_id")
    with pytest.raises(MissingColumnError, match=r"jm.encode\(log, columns=\['persona'\]\)"):
        jm.dfg(enc, segment="persona")


def test_null_attribute_values_are_an_error_when_used() -> None:
    log = _log()
    log.loc[1, "channel"] = None
    enc = encode(log)  # carrying a column with nulls is fine
    with pytest.raises(EventLogError, match="'channel' has 1 null"):
        jm.channel_switches(enc)


def test_input_errors() -> None:
    log = _log()
    with pytest.raises(EmptyLogError):
        encode(log.iloc[:0])
    with pytest.raises(MissingColumnError, match="customer_id"):
        encode(log.drop(columns="customer_id"))
    with pytest.raises(MissingColumnError, match="persona"):
        encode(log, columns=["persona"])
    # a malformed customer log gets the one gate's error (schema.canonical_log)
    with pytest.raises(EventLogError, match="null or empty customer_id in row 1"):
        encode(log.assign(customer_id=["a", None, "b", "a", "a"]))
    with pytest.raises(EventLogError, match="timestamp is null in row 2"):
        encode(log.assign(timestamp=log["timestamp"].where(log.index != 2)))
    # valid text timestamps are validated by the gate, as read_events would
    assert encode(log.assign(timestamp=["2025-01-01"] * 5)).n_events == 5
    with pytest.raises(EventLogError, match=r"jm\.validate"):  # another case: no gate
        encode(log.assign(session_id="s", timestamp=["2025-01-01"] * 5), case="session_id")
    with pytest.raises(ConfigError, match="case"):
        encode(log, case="activity")
    with pytest.raises(EventLogError, match="DataFrame"):
        encode([1, 2, 3])  # type: ignore[arg-type]


def test_large_time_span_uses_ranked_times() -> None:
    # many cases x a span of centuries in microseconds does not fit one int64 key
    n = 50_000
    rng = np.random.default_rng(0)
    ts = pd.to_datetime(rng.integers(-4_000_000_000, 6_000_000_000, n), unit="s", utc=True)
    log = pd.DataFrame(
        {
            "customer_id": [f"c{i % 40_000}" for i in range(n)],
            "timestamp": ts.as_unit("us"),
            "activity": ["x"] * n,
        }
    )
    enc = encode(log)
    t = enc.timestamps
    same = enc.case_codes[1:] == enc.case_codes[:-1]
    assert np.all(t[1:][same] >= t[:-1][same])
    assert np.all(np.diff(enc.case_codes) >= 0)


def test_chronological_input_with_more_than_65536_cases() -> None:
    # time-ordered input takes the radix path (two 16-bit passes above 65,536 cases)
    n_cases = 70_000
    rng = np.random.default_rng(1)
    cust = rng.integers(0, n_cases, 3 * n_cases)
    ts = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(
        np.sort(rng.integers(0, 10**6, len(cust))), unit="s"
    )
    acts = rng.choice(["a", "b", "c"], len(cust))
    log = pd.DataFrame({"customer_id": [f"c{c}" for c in cust], "timestamp": ts, "activity": acts})
    enc = encode(log)
    assert enc.n_cases == len(np.unique(cust)) > 1 << 16
    assert np.all(np.diff(enc.case_codes) >= 0)
    same = enc.case_codes[1:] == enc.case_codes[:-1]
    assert np.all(enc.timestamps[1:][same] >= enc.timestamps[:-1][same])
    ref = log.reset_index().sort_values(["customer_id", "timestamp", "index"], kind="stable")
    want = ref.groupby("customer_id", sort=False)["activity"].agg(" > ".join)
    got = jm.variants(enc)
    assert dict(zip(got["variant"], got["cases"], strict=True)) == want.value_counts().to_dict()


def _assert_same_encoding(a: EncodedLog, b: EncodedLog) -> None:
    np.testing.assert_array_equal(a.case_codes, b.case_codes)
    assert a.case_ids.tolist() == b.case_ids.tolist()
    np.testing.assert_array_equal(a.activity_codes, b.activity_codes)
    np.testing.assert_array_equal(a.timestamps, b.timestamps)


def test_customer_codes_of_a_validated_log_are_reused_and_equal_a_fresh_encoding():
    rng = np.random.default_rng(1)
    n = 400
    raw = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in rng.integers(0, 30, size=n)],
            "timestamp": pd.Timestamp("2025-01-01", tz="UTC")
            + pd.to_timedelta(rng.permutation(n), unit="min"),
            "activity": rng.choice(["view", "buy"], size=n),
        }
    )
    log = jm.validate(raw.iloc[::-1])
    assert jm.schema.cached_codes(log["customer_id"]) is not None
    fresh = log.copy()  # a copy does not carry the codes
    assert jm.schema.cached_codes(fresh["customer_id"]) is None
    _assert_same_encoding(encode(log), encode(fresh))


def test_codes_kept_on_a_log_are_not_used_after_the_log_changed():
    raw = pd.DataFrame(
        {
            "customer_id": ["b", "a", "b", "a"],
            "timestamp": pd.to_datetime(
                ["2025-01-01", "2025-01-02", "2025-01-03", "2025-01-04"], utc=True
            ),
            "activity": ["x", "y", "z", "w"],
        }
    )
    log = jm.validate(raw)
    log.loc[3, "customer_id"] = "c"  # in place: a, a, b, c
    enc = encode(log)
    assert enc.case_ids.tolist() == ["a", "b", "c"]
    assert enc.n_cases == 3


@pytest.mark.parametrize("blank", ["", "  ", "\t"])
@pytest.mark.parametrize("dtype", ["str", object])
def test_blank_customer_ids_are_left_to_the_gate(blank: str, dtype: object) -> None:
    log = pd.DataFrame(
        {
            "customer_id": pd.array(["b", blank, "a", "a"], dtype=dtype),
            "timestamp": pd.to_datetime(["2025-01-01"] * 4, utc=True),
            "activity": pd.Categorical(["x", "y", "x", "y"]),
        }
    )
    try:
        gated = jm.schema.canonical_log(log)
    except EventLogError as gate:
        with pytest.raises(EventLogError) as got:
            encode(log)
        assert str(got.value) == str(gate)
    else:  # the gate takes the log as it is: so does encode
        assert sorted(encode(log).case_ids) == sorted(set(gated["customer_id"]))


def test_sorted_text_ids_coded_from_runs_equal_factorize() -> None:
    rng = np.random.default_rng(0)
    ids = np.sort(rng.choice([f"c{i}" for i in range(50)], 500))
    log = pd.DataFrame(
        {
            "customer_id": pd.array(ids, dtype="str"),
            "timestamp": pd.Timestamp("2025-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 10**6, 500), unit="s"),
            "activity": pd.Categorical(rng.choice(["x", "y"], 500)),
        }
    )
    enc = encode(log)
    assert enc.case_ids.tolist() == sorted(set(ids.tolist()))
    assert enc.case_ids.take(enc.case_codes).tolist() == sorted(ids.tolist())
    one = encode(log.assign(customer_id=pd.array(["z"] * 500, dtype="str")))
    assert one.n_cases == 1
