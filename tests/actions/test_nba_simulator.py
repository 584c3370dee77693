"""#13: consent gates, uplift, the closed-loop simulator, exploration and off-policy evaluation.

Seeds here (11, 17, 31, 41) are not the ones of the benchmark's 8-seed tables (201-208, 401-408)."""

from __future__ import annotations

import html
import warnings

import numpy as np
import pandas as pd
import pytest

from journeymine.actions import (
    Policy,
    ResponseModel,
    UpliftModel,
    evaluate_policy,
    next_best_action,
)
from journeymine.datasets import (
    FixedPriority,
    Oracle,
    PolicyDecider,
    RandomEligible,
    days_to_reach,
    make_journeys,
    make_world,
    sim_policy,
    simulate,
)
from journeymine.exceptions import ConfigError


@pytest.fixture(scope="module")
def world():
    return make_world(1500, history_days=60, random_state=11)


@pytest.fixture(scope="module")
def pilot(world):
    return simulate(
        world,
        RandomEligible(sim_policy(), none_share=0.3, random_state=1),
        days=14,
        random_state=101,
    )


def test_generator_keeps_truth_and_adds_uplift_and_consent():
    data = make_journeys(300, days=30, random_state=3)
    assert data.uplift.shape == data.response.shape
    assert (data.uplift.to_numpy() <= data.response.to_numpy()).all()
    for c in ("has_app", "email_opt_in", "sms_opt_in", "push_opt_in"):
        assert data.customers[c].dtype == bool
    assert not (data.customers["push_opt_in"] & ~data.customers["has_app"]).any()
    again = make_journeys(300, days=30, random_state=3)
    assert again.events.equals(data.events)


def test_consent_gates_block_with_their_own_reason():
    policy = Policy.from_dict(
        {
            "journeys": [
                {"name": "flash_sale", "channel": "push", "activity": "push_sent"},
                {"name": "news", "channel": "email", "activity": "email_sent"},
            ],
            "consent": [
                {"channel": "push", "attribute": "has_app"},
                {"channel": "email", "opt_in": "email_opt_in", "opt_out": "email_opt_out"},
            ],
            "prior_rate": 0.05,
        }
    )
    log = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "b", "c"],
            "timestamp": pd.to_datetime(
                ["2025-01-01", "2025-01-02", "2025-01-01", "2025-01-03", "2025-01-01"], utc=True
            ),
            "activity": ["email_opt_in", "visit", "email_opt_in", "email_opt_out", "visit"],
        }
    )
    attrs = pd.DataFrame({"has_app": [True, False]}, index=["a", "b"])
    rm = ResponseModel().fit(log, pd.Series(dtype="int64"), policy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = next_best_action(log, policy, rm, pd.Series(dtype="int64"), attributes=attrs)
    why = d.why_not.set_index(["customer_id", "journey"])["reason"]
    assert why[("b", "flash_sale")] == "unreachable"  # no app
    assert why[("c", "flash_sale")] == "unreachable"  # not in the attribute table
    assert why[("b", "news")] == "no_consent"  # opted out after opting in
    assert why[("c", "news")] == "no_consent"  # never opted in
    assert pd.isna(d.actions.set_index("customer_id").loc["b", "action"])
    with pytest.raises(ConfigError, match="attributes="):
        next_best_action(log, policy, rm, pd.Series(dtype="int64"), check="off")
    with pytest.raises(ConfigError, match="exactly one signal"):
        Policy.from_dict(
            {
                "journeys": [{"name": "x", "channel": "push", "activity": "p"}],
                "consent": [{"channel": "push", "attribute": "a", "requires": "b"}],
            }
        )
    with pytest.raises(ConfigError, match="arbitration"):
        Policy.from_dict(
            {
                "journeys": [{"name": "x", "channel": "push", "activity": "p"}],
                "arbitration": "uplfit",
            }
        )


def test_uplift_model_separates_organic_from_incremental(world, pilot):
    pol = sim_policy()
    m = UpliftModel().fit(pilot.events, world.true_personas, pol)
    t = m.table_[m.table_["persona"] >= 0].set_index(["persona", "journey"])
    # loyal app buyers (1) respond to cart reminders mostly organically: the raw rate is far
    # above the estimated uplift
    assert (
        t.loc[(1, "cart_abandonment"), "rate_treated"]
        > t.loc[(1, "cart_abandonment"), "uplift"] + 0.1
    )
    # bargain hunters (0): flash sale has their largest uplift, clearly above zero (below the
    # design's 0.30: the pilot's contacts tire customers, fatigue x0.6 per contact)
    assert t.loc[0, "uplift"].idxmax() == "flash_sale"
    assert t.loc[(0, "flash_sale"), "uplift_lo"] > 0.1
    # the policy arbitrates by uplift: plain response rates are refused, naming the fix
    rates = ResponseModel().fit(pilot.events, world.true_personas, pol)
    with pytest.raises(ConfigError, match="UpliftModel"):
        next_best_action(pilot.events, pol, rates, world.true_personas)


def test_policy_beats_fixed_priority_in_the_loop(world, pilot):
    pol, tp = sim_policy(), world.true_personas
    run = {}
    for name, dec in {
        "fixed": FixedPriority(pol),
        "oracle": Oracle(pol),
        "policy": PolicyDecider(pol, UpliftModel().fit(pilot.events, tp, pol), tp),
    }.items():
        run[name] = simulate(world, dec, days=21, random_state=5).summary
    pv, fv, ov = run["policy"]["value"], run["fixed"]["value"], run["oracle"]["value"]
    assert pv >= 1.2 * fv
    assert pv >= 0.95 * ov
    for k in ("unreachable", "unconsented", "over_cap", "tips_after_return"):
        assert run["policy"][k] == 0
    assert run["policy"]["unsubscribes"] < run["fixed"]["unsubscribes"]


def test_exploring_decider_learns_from_nothing():
    w = make_world(1000, history_days=45, random_state=31)
    pol, tp = sim_policy(), w.true_personas
    o = simulate(w, Oracle(pol), days=35, random_state=9)
    m = UpliftModel(prior_strength=5).fit(None, tp, pol)
    dec = PolicyDecider(
        pol, m, tp, explore=True, holdout=0.1, min_touches=20, min_holdouts=5, random_state=3
    )
    e = simulate(w, dec, days=35, random_state=9)
    ov = o.decisions.groupby("day")["true_value"].sum()
    ev = e.decisions.groupby("day")["true_value"].sum()
    last = ev.iloc[-14:].sum() / ov.iloc[-14:].sum()
    assert last >= 0.8
    d = e.decisions
    assert d["propensity"].between(0, 1, inclusive="right").all()
    assert (d["holdout"].notna() == (d["action"].isna() & d["holdout"].notna())).all()
    assert m.counts_[0, :, 2].sum() > 0  # it learned from its own holdouts


def test_holdouts_keep_pace_with_touches_while_evidence_is_missing(world):
    """From no data every cell lacks its minimum evidence (20 touches, 5 holdouts): a fifth of
    the first morning's chosen journeys are held out (not the 5% default), with propensities
    that say so."""
    pol, tp = sim_policy(), world.true_personas
    m = UpliftModel(prior_strength=5).fit(None, tp, pol)
    dec = PolicyDecider(pol, m, tp, explore=True, min_touches=20, min_holdouts=5, random_state=4)
    d = simulate(world, dec, days=1, random_state=12).decisions
    chosen = d["action"].notna() | d["holdout"].notna()
    share = d.loc[chosen, "holdout"].notna().mean()
    assert 0.15 < share < 0.25
    assert np.allclose(d.loc[d["holdout"].notna(), "propensity"], 0.2)


@pytest.fixture(scope="module")
def rotated():
    """800 customers whose uplift matrix changes on day 21 (every persona takes the next
    one's row), the run's settings and the oracle on it."""
    w = make_world(800, history_days=45, random_state=31)
    up = w.uplift.to_numpy()
    run = {"days": 42, "random_state": 9, "shift": (21, up[np.roll(np.arange(len(up)), -1)])}
    return w, run, simulate(w, Oracle(sim_policy()), **run)


def _explore_rotated(rotated, model):
    """The exploring decider (Thompson sampling, min. 20 touches and 5 holdouts) with
    ``model`` on the rotated world, true personas: the run and its true value per day."""
    w, run, _ = rotated
    dec = PolicyDecider(
        sim_policy(),
        model,
        w.true_personas,
        explore=True,
        holdout=0.05,
        min_touches=20,
        min_holdouts=5,
        random_state=3,
    )
    sim = simulate(w, dec, **run)
    return sim, sim.decisions.groupby("day")["true_value"].sum()


def test_exploring_decider_recovers_after_the_world_changes(rotated):
    """From no data, discounted evidence (0.9 per day): the world's uplift matrix changes on
    day 21 (every persona takes the next one's row); the share of the oracle falls and comes
    back to at least 0.9 of what it was before the change within 21 days. Without learning it
    would not (the rates would stay at the priors: about 0.8 of the pre-change share)."""
    w, _, oracle = rotated
    pol, tp = sim_policy(), w.true_personas
    model = UpliftModel(prior_strength=5, discount=0.9).fit(None, tp, pol)
    sim, mine = _explore_rotated(rotated, model)
    best = oracle.decisions.groupby("day")["true_value"].sum()

    def share(a: int, b: int) -> float:
        return float(mine.iloc[a:b].sum() / best.iloc[a:b].sum())

    before, hit, after = share(7, 21), share(21, 28), share(28, 42)
    assert hit < 0.8 * before  # the change hurts ...
    assert after >= 0.9 * before  # ... and it learns the new world
    back = days_to_reach(sim, oracle, 0.9 * before, window=7, after=21)
    assert back is not None and back <= 21
    assert sim.summary["unreachable"] == sim.summary["over_cap"] == 0
    with pytest.raises(ConfigError, match="discount"):
        UpliftModel(discount=0).fit(None, tp, pol)
    with pytest.raises(ConfigError, match="share"):
        days_to_reach(sim, oracle, 1.5)


def test_the_change_test_recovers_the_exploring_decider(rotated):
    """The same world with UpliftModel(change_alpha=0.01), the per-cell change test: the
    bargain hunters' flash sale (the largest uplift, 0.26 before the change) is found changed
    within three days, and over days 28-41 the decider earns a larger share of the oracle than
    the same decider keeping all its evidence."""
    w, _, oracle = rotated
    best = oracle.decisions.groupby("day")["true_value"].sum()
    after, models = {}, {}
    for alpha in (None, 0.01):
        model = UpliftModel(prior_strength=5, change_alpha=alpha)
        models[alpha] = model.fit(None, w.true_personas, sim_policy())
        mine = _explore_rotated(rotated, model)[1]
        after[alpha] = float(mine.iloc[28:].sum() / best.iloc[28:].sum())
    bargain = list(w.uplift.index).index("bargain_hunter")
    found = [
        c["update"]
        for c in models[0.01].changes_
        if (c["persona"], c["journey"], c["arm"]) == (bargain, "flash_sale", "treated")
    ]
    assert found and 21 <= found[0] <= 24
    assert models[None].changes_ == []
    assert after[0.01] > after[None]


def test_off_policy_estimates_cover_the_truth():
    """20 logs of a random-eligible decider (30% nothing): the 95% intervals of IPS, SNIPS
    and doubly robust cover the true value (expected reward on the logged states) of a better
    policy (the oracle) and of a worse one (send nothing) in at least 18 of 20 runs."""
    w = make_world(600, history_days=45, random_state=41)
    pol = sim_policy()
    reps = 20
    hits = {(kind, k): 0 for kind in ("better", "worse") for k in ("ips", "snips", "dr")}
    for rep in range(reps):
        s = simulate(
            w,
            RandomEligible(pol, none_share=0.3, random_state=rep),
            days=5,
            random_state=500 + rep,
            shadows={"oracle": Oracle(pol)},
        )
        d = s.decisions
        names = list(s.journeys)
        for kind, target in (
            ("better", d["shadow_oracle"].to_numpy()),
            ("worse", np.full(len(d), None, dtype=object)),
        ):
            col = np.array([len(names) if pd.isna(x) else names.index(x) for x in target])
            true = s.expected_rewards[np.arange(len(d)), col].mean()
            est = evaluate_policy(d, target, random_state=rep)
            logged = est.loc["logged", "estimate"]
            assert (true > logged) if kind == "better" else (true < logged)
            for k in ("ips", "snips", "dr"):
                hits[(kind, k)] += bool(est.loc[k, "lo"] <= true <= est.loc[k, "hi"])
    assert min(hits.values()) >= 0.9 * reps, hits
    with pytest.raises(ConfigError, match="propensit"):
        evaluate_policy(d.assign(propensity=0.0), d["action"])
    with pytest.raises(ConfigError, match="one per row"):
        evaluate_policy(d, ["x"])


def test_impact_experiment_and_its_report_sections(world, pilot, tmp_path):
    from journeymine.datasets import impact_experiment
    from journeymine.report.actions import impact_data, ope_data, value_sections
    from journeymine.report.html import write_html

    pol, rpol, tp = sim_policy(), sim_policy("response"), world.true_personas
    arms = {
        "policy": PolicyDecider(pol, UpliftModel().fit(pilot.events, tp, pol), tp),
        "response-only": PolicyDecider(rpol, ResponseModel().fit(pilot.events, tp, rpol), tp),
        "random-eligible": RandomEligible(pol, random_state=4),
        "fixed priority": FixedPriority(pol),
    }
    t = impact_experiment(world, arms, days=14, random_state=21)
    assert list(t.index) == list(arms) and t.attrs["baseline"] == "fixed priority"
    assert t["customers"].sum() == len(world.ids)
    assert (t["customers"] - len(world.ids) / 4).abs().max() <= 1
    # the policy earns more per customer than fixed priority (interval of the difference > 0)
    # and more than response-only arbitration, with fewer contacts than fixed priority
    assert t.loc["policy", "diff_lo"] > 0
    assert t.loc["policy", "value_per_customer"] > t.loc["response-only", "value_per_customer"]
    assert t.loc["policy", "contacts"] < t.loc["fixed priority", "contacts"]
    assert t.loc["fixed priority", "vs_baseline"] == 1.0
    with pytest.raises(ConfigError, match="baseline"):
        impact_experiment(world, arms, days=1, baseline="nope")
    with pytest.raises(ConfigError, match="at least two"):
        impact_experiment(world, {"policy": arms["policy"]}, days=1)

    d = pilot.decisions
    est = evaluate_policy(d, np.full(len(d), None, dtype=object))
    sections = value_sections(ope=est, impact=t)
    assert [s.title for s in sections] == [
        "What the candidate policy is worth, off-policy",
        "Impact experiment",
    ]
    assert impact_data(t)["arm"].iloc[0] == t["value_per_customer"].idxmax()
    assert ope_data(est)["estimator"].iloc[-1] == "doubly robust"
    page = write_html(tmp_path / "value.html", "value", sections, ["x"]).read_text()
    assert "Impact experiment" in page and "self-normalised IPS" in page


def test_actions_report_shows_ope_and_impact(world, pilot, tmp_path):
    from journeymine.actions import backtest
    from journeymine.datasets import impact_experiment
    from journeymine.report import actions_report

    pol, tp = sim_policy("response"), world.true_personas
    rm = ResponseModel().fit(pilot.events, tp, pol)
    bt = backtest(pilot.events, pol, rm, tp, check="off", attributes=world.attributes)
    d = pilot.decisions
    est = evaluate_policy(d, d["action"])
    arms = {"random": RandomEligible(pol, random_state=1), "fixed": FixedPriority(pol)}
    t = impact_experiment(world, arms, days=2, random_state=3)
    page = actions_report(bt, tmp_path / "a.html", ope=est, impact=t).read_text()
    assert "logged touches" in page
    assert "off-policy" in page and "Impact experiment" in page
    assert page.index("against the logged touches") < page.index("off-policy")


def test_actions_report_shows_how_sure_each_personas_choice_is(world, pilot, tmp_path):
    from journeymine.actions import backtest
    from journeymine.report import actions_report

    pol, tp = sim_policy(), world.true_personas
    up = UpliftModel().fit(pilot.events, tp, pol)
    sure = up.choice_certainty()
    bt = backtest(pilot.events, pol, up, tp, check="off", attributes=world.attributes)
    page = html.unescape(
        actions_report(
            bt, tmp_path / "u.html", certainty=sure, persona_names={0: "Bargain hunters"}
        ).read_text()
    )
    assert "How sure is each persona's choice" in page
    row = sure.set_index("persona").loc[0]
    assert "Bargain hunters" in page and str(row["best"]) in page
    unsure = int((sure.loc[sure["persona"] >= 0, "probability_best"] < 0.8).sum())
    assert (
        unsure > 0 and f"{unsure} of {int((sure['persona'] >= 0).sum())} personas below 0.8" in page
    )
    with pytest.raises(ConfigError, match="choice_certainty"):
        actions_report(bt, tmp_path / "v.html", certainty=sure.drop(columns="runner_up"))
    with pytest.raises(ConfigError, match=r"DataFrame of UpliftModel\.choice_certainty"):
        actions_report(bt, tmp_path / "v.html", certainty=sure.to_dict())
    assert not (tmp_path / "v.html").exists()
