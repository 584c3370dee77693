"""Conformance of journeys against designed sequences, graphs and BPMN models."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeymine.datasets import make_journeys
from journeymine.exceptions import (
    ConfigError,
    DataQualityWarning,
    EmptyLogError,
    UnknownActivityError,
)
from journeymine.journeys.conformance import check_conformance, journey_instances

DESIGN = [
    "email_sent",
    "email_open",
    "email_click",
    "visit",
    "view_product",
    "add_to_cart",
    "checkout",
    "purchase",
]


def _log(traces: dict[str, list[str]], *, start: str = "2025-01-01") -> pd.DataFrame:
    rows = []
    t0 = pd.Timestamp(start, tz="UTC")
    for cust, acts in traces.items():
        for i, a in enumerate(acts):
            rows.append((cust, t0 + pd.Timedelta(minutes=10 * i), a, "web"))
    return pd.DataFrame(rows, columns=["customer_id", "timestamp", "activity", "channel"])


@pytest.fixture(scope="module")
def data():
    return make_journeys(n_customers=1500, days=90, random_state=3)


# --- perfect fit and injected deviations ----------------------------------------------------
def test_perfectly_fitting_log_has_fitness_one() -> None:
    log = _log({f"c{i}": DESIGN for i in range(5)})
    res = check_conformance(log, DESIGN)
    assert res.cases["fitness"].tolist() == [1.0] * 5
    assert res.cases["fitting"].all()
    assert res.deviations.empty and res.by_type.empty
    assert res.fitness == 1.0
    assert res.method == "alignments"


def test_injected_deviations_are_listed() -> None:
    skipped = [a for a in DESIGN if a != "email_click"]
    unexpected = [*DESIGN[:4], "email_open", *DESIGN[4:]]  # a second email_open after visit
    swapped = [*DESIGN[:5], "checkout", "add_to_cart", "purchase"]
    log = _log({"fit": DESIGN, "skip": skipped, "extra": unexpected, "swap": swapped})
    res = check_conformance(log, DESIGN)
    fit = res.cases.set_index("case")["fitness"]
    assert fit["fit"] == 1.0
    # one move on the model: cost 1 over 7 events + 8 designed steps
    assert fit["skip"] == pytest.approx(1 - 1 / (7 + 8))
    assert fit["extra"] == pytest.approx(1 - 1 / (9 + 8))
    assert fit["swap"] == pytest.approx(1 - 2 / (8 + 8))
    dev = res.deviations.set_index("case")
    assert dev.loc[["skip"], ["type", "activity", "position"]].values.tolist() == [
        ["skipped", "email_click", 2]
    ]
    assert dev.loc[["extra"], ["type", "activity", "position"]].values.tolist() == [
        ["unexpected", "email_open", 4]
    ]
    swap = dev.loc[["swap"]]
    assert swap["type"].tolist() == ["wrong_order"]
    assert swap["activity"].iloc[0] in {"checkout", "add_to_cart"}
    by_type = res.by_type.set_index(["type", "activity"])
    assert by_type.loc[("skipped", "email_click"), "cases"] == 1
    assert by_type.loc[("skipped", "email_click"), "share_of_cases"] == pytest.approx(0.25)
    assert res.cases.set_index("case")["n_deviations"].to_dict() == {
        "extra": 1,
        "fit": 0,
        "skip": 1,
        "swap": 1,
    }


def test_other_activities_are_ignored_unless_asked() -> None:
    log = _log({"a": ["visit", "search", "purchase"]})
    res = check_conformance(log, ["visit", "purchase"])
    assert res.cases.loc[0, "fitness"] == 1.0
    assert res.cases.loc[0, ["n_events", "n_ignored"]].tolist() == [2, 1]
    strict = check_conformance(log, ["visit", "purchase"], ignore_other=False)
    assert strict.cases.loc[0, "fitness"] < 1.0
    assert strict.deviations[["type", "activity"]].values.tolist() == [["unexpected", "search"]]


def test_unsorted_input_gives_the_same_result() -> None:
    log = _log({"a": DESIGN, "b": DESIGN[::-1], "c": DESIGN[:3]})
    shuffled = log.sample(frac=1.0, random_state=1).reset_index(drop=True)
    before = shuffled.copy()
    a = check_conformance(log, DESIGN)
    b = check_conformance(shuffled, DESIGN)
    pd.testing.assert_frame_equal(shuffled, before)  # input untouched
    pd.testing.assert_frame_equal(a.cases, b.cases)
    pd.testing.assert_frame_equal(a.deviations, b.deviations)


# --- the alignment is optimal -----------------------------------------------------------------
def _lcs(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    table = np.zeros((len(a) + 1, len(b) + 1), dtype=int)
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            table[i, j] = (
                table[i - 1, j - 1] + 1
                if a[i - 1] == b[j - 1]
                else max(table[i - 1, j], table[i, j - 1])
            )
    return int(table[-1, -1])


@settings(max_examples=150, deadline=None)
@given(
    trace=st.lists(st.sampled_from("abcde"), min_size=1, max_size=9),
    design=st.lists(st.sampled_from("abcde"), min_size=1, max_size=7),
)
def test_sequence_alignment_cost_is_the_indel_distance(trace: list[str], design: list[str]) -> None:
    # aligning to a sequence with log and model moves only = insert/delete edit distance
    with warnings.catch_warnings():  # design steps the log lacks: skipped, with a warning
        warnings.simplefilter("ignore", DataQualityWarning)
        res = check_conformance(_log({"c": trace}), design, ignore_other=False, strict=False)
    cost = len(trace) + len(design) - 2 * _lcs(tuple(trace), tuple(design))
    assert res.cases["cost"].tolist() == [cost]
    assert res.cases["fitness"].iloc[0] == pytest.approx(1 - cost / (len(trace) + len(design)))
    # a wrong_order deviation is a skipped step and an unexpected event of one activity, at
    # the position where it happened
    dev = res.deviations
    in_log = dev[dev["type"] != "skipped"]  # unexpected or wrong_order: an event of the trace
    unexpected_at = in_log["position"].tolist()
    assert [trace[i] for i in unexpected_at] == in_log["activity"].tolist()
    skipped = dev.loc[dev["type"] != "unexpected", "activity"].tolist()
    assert len(unexpected_at) + len(skipped) == cost
    # removing the unexpected events leaves a subsequence of the design; the skipped steps
    # are exactly what is missing from it
    kept = [a for i, a in enumerate(trace) if i not in set(unexpected_at)]
    assert _lcs(tuple(kept), tuple(design)) == len(kept)
    missing = list(design)
    for act in kept:
        missing.remove(act)
    assert sorted(skipped) == sorted(missing)


# --- graph designs ----------------------------------------------------------------------------
GRAPH = {
    "visit": ["search", "view_product"],
    "search": ["view_product"],
    "view_product": ["add_to_cart", "view_product"],
    "add_to_cart": ["checkout"],
    "checkout": ["purchase"],
}


def test_graph_design_allows_branches_and_loops() -> None:
    log = _log(
        {
            "direct": ["visit", "view_product", "add_to_cart", "checkout", "purchase"],
            "search": [
                "visit",
                "search",
                "view_product",
                "view_product",
                "add_to_cart",
                "checkout",
                "purchase",
            ],
            "bad": ["visit", "add_to_cart", "checkout", "purchase"],
        }
    )
    res = check_conformance(log, GRAPH)  # start/end inferred: visit, purchase
    fit = res.cases.set_index("case")["fitness"]
    assert fit["direct"] == 1.0 and fit["search"] == 1.0
    assert fit["bad"] == pytest.approx(1 - 1 / (4 + 5))
    assert res.deviations[["case", "type", "activity"]].values.tolist() == [
        ["bad", "skipped", "view_product"]
    ]
    assert res.design == "graph of 6 steps"


def test_graph_with_explicit_end_accepts_shorter_journeys() -> None:
    log = _log(
        {
            "a": ["visit", "view_product"],
            "b": ["visit", "search", "view_product", "add_to_cart", "checkout", "purchase"],
        }
    )
    assert check_conformance(log, GRAPH).cases.loc[0, "fitness"] < 1
    res = check_conformance(log, GRAPH, end=["view_product", "purchase"])
    assert res.cases.loc[0, "fitness"] == 1.0


def test_graph_errors() -> None:
    log = _log({"a": ["visit", "view_product"]})
    cyclic = {"visit": ["view_product"], "view_product": ["visit"]}
    with pytest.raises(ConfigError, match="start"):
        check_conformance(log, cyclic)
    with pytest.raises(ConfigError, match="Did you mean 'visit'"):
        check_conformance(log, GRAPH, start=["vist"])
    with pytest.raises(ConfigError, match="start= and end="):
        check_conformance(log, ["visit"], start=["visit"])


# --- errors and warnings -----------------------------------------------------------------------
def test_design_naming_an_absent_activity() -> None:
    log = _log({"a": DESIGN})
    design = ["emial_sent", *DESIGN[1:]]
    with pytest.raises(UnknownActivityError) as err:
        check_conformance(log, design)
    msg = str(err.value)
    assert "'emial_sent'" in msg and "Did you mean 'email_sent'?" in msg
    assert isinstance(err.value, KeyError)
    with pytest.warns(DataQualityWarning, match="emial_sent"):
        res = check_conformance(log, design, strict=False)
    # email_sent is not in the design, so it is not checked; the missing step is skipped
    assert res.deviations[["type", "activity"]].values.tolist() == [["skipped", "emial_sent"]]
    assert res.cases.loc[0, ["n_events", "n_ignored"]].tolist() == [7, 1]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"design": []}, ConfigError, "empty"),
        ({"design": "steps.txt"}, ConfigError, "bpmn"),
        ({"design": ["visit"], "method": "token_replay"}, ConfigError, "BPMN"),
        ({"design": ["visit"], "method": "fast"}, ConfigError, "method"),
        ({"design": ["visit"], "touch_activities": ["visit"]}, ConfigError, "journey="),
        ({"design": [1, 2]}, ConfigError, "names"),
    ],
)
def test_config_errors(kwargs, error, match) -> None:
    log = _log({"a": ["visit"]})
    with pytest.raises(error, match=match):
        check_conformance(log, **kwargs)


def test_empty_log_is_refused() -> None:
    with pytest.raises(EmptyLogError):
        check_conformance(_log({}).astype({"activity": "str"}), ["visit"])


# --- journey instances on the generator -------------------------------------------------------
def test_journey_instances_follow_touches(data) -> None:
    inst = journey_instances(data.events, "welcome", window="7D", touch_activities=["email_sent"])
    first = inst.groupby("instance", sort=False).head(1)
    assert (first["journey_id"] == "welcome").all()
    assert (first["activity"] == "email_sent").all()
    assert (first["timestamp"] == first["instance_start"]).all()
    assert ((inst["timestamp"] - inst["instance_start"]) < pd.Timedelta("7D")).all()
    other = inst["journey_id"].notna() & (inst["journey_id"] != "welcome")
    assert not other.any()
    touches = data.touches
    n_email = ((touches["journey_id"] == "welcome") & (touches["channel"] == "email")).sum()
    assert inst["instance"].nunique() == n_email
    # an instance stops at the next touch of the same journey
    nxt = (
        first.sort_values(["customer_id", "timestamp"])
        .groupby("customer_id")["timestamp"]
        .shift(-1)
    )
    last = inst.groupby("instance", sort=False)["timestamp"].max()
    ends = pd.Series(last.reindex(first["instance"]).to_numpy(), index=first.index)
    assert (ends[nxt.notna()] < nxt[nxt.notna()]).all()


def test_unknown_journey_suggests_a_name(data) -> None:
    with pytest.raises(ConfigError, match="Did you mean 'welcome'"):
        journey_instances(data.events, "welcom")
    with pytest.raises(ConfigError, match="duration"):
        journey_instances(data.events, "welcome", window="soon")


def test_designed_journeys_fit_better_for_responders(data) -> None:
    steps = data.journeys.set_index("journey_id")["designed_steps"]
    persona = data.customers.set_index("customer_id")["persona"]
    res = check_conformance(
        data.events, list(steps["cart_abandonment"]), journey="cart_abandonment", segment=persona
    )
    touches = data.touches[data.touches["journey_id"] == "cart_abandonment"]
    assert len(res.cases) == len(touches)
    responded = touches.sort_values(["customer_id", "timestamp"])["responded"].to_numpy(bool)
    cases = res.cases.sort_values(["customer_id", "start"])
    fitness = cases["fitness"].to_numpy()
    assert fitness[responded].mean() > fitness[~responded].mean() + 0.2
    assert 0 < res.fitness < 1
    # a case where the customer did not click skips the click
    assert ("skipped", "email_click") in set(map(tuple, res.by_type[["type", "activity"]].values))
    # per segment: counts add up and the means agree with the cases
    seg = res.by_segment.set_index("segment")
    assert seg["cases"].sum() == len(res.cases)
    assert set(seg.index) <= set(persona.unique())
    np.testing.assert_allclose(
        seg["fitness_mean"].sort_index().to_numpy(),
        res.cases.groupby("segment")["fitness"].mean().sort_index().to_numpy(),
    )


@pytest.mark.parametrize(
    "journey",
    [
        "welcome",
        "birthday",
        "holiday",
        "flash_sale",
        "cart_abandonment",
        "post_purchase_tips",
        "win_back",
    ],
)
def test_every_designed_journey_of_the_generator(data, journey) -> None:
    steps = list(data.journeys.set_index("journey_id").loc[journey, "designed_steps"])
    res = check_conformance(data.events, steps, journey=journey)
    # one instance per touch sent on the channel of the design's first step
    sent = {"email_sent": "email", "sms_sent": "sms", "push_sent": "push"}[steps[0]]
    touches = data.touches
    n = ((touches["journey_id"] == journey) & (touches["channel"] == sent)).sum()
    assert len(res.cases) == n
    assert res.cases["fitness"].between(0, 1).all()
    assert (res.cases["n_deviations"] >= (res.cases["fitness"] < 1)).all()
    assert set(res.deviations["type"]) <= {"unexpected", "skipped", "wrong_order"}


def test_customer_level_check_with_segment_column(data) -> None:
    log = data.events.assign(tier=np.where(data.events["customer_id"] < "C0000750", "a", "b"))
    res = check_conformance(log, ["visit", "view_product"], segment="tier")
    assert set(res.by_segment["segment"]) == {"a", "b"}
    assert res.cases["case"].nunique() == log["customer_id"].nunique()
    assert (res.cases["case"] == res.cases["customer_id"]).all()
