"""The family-weighted persona view and the consensus Gaussian mixture (method="mixture"):
equal family weights, vocabulary-free columns, reaction activities left out, persona recovery
on seeds the other persona tests do not use, and a log with unfamiliar activity names."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from journeymine.datasets import make_journeys
from journeymine.exceptions import ConfigError
from journeymine.personas import CustomerFeaturizer, PersonaMiner
from journeymine.personas.mixture import fit_consensus_mixture, overlap
from journeymine.personas.tails import outliers
from journeymine.personas.view import FamilyScaler, reaction_activities, view_columns


def test_every_family_carries_total_variance_one() -> None:
    rng = np.random.default_rng(0)
    n = 400
    shares = rng.dirichlet([1, 2, 3, 4, 5, 6], size=n)
    X = pd.DataFrame(shares, columns=[f"hour_share:{i}" for i in range(6)])
    X["order_value_log"] = rng.normal(4, 2, n)
    X["events_per_session"] = rng.gamma(2, 3, n)
    X["session_minutes_log"] = rng.normal(1, 0.1, n)
    X["bounce_share"] = 0.0  # does not vary: left out, and said so
    Z = FamilyScaler().fit(X)
    out = Z.transform(X)
    cols = Z.columns_
    for fam, names in Z.families_.items():
        idx = [cols.index(c) for c in names]
        assert out[:, idx].var(axis=0).sum() == pytest.approx(1.0, abs=0.05), fam
    assert "bounce_share" not in cols
    assert Z.dropped_["frequency"] == "no such feature in the features"
    # six hour shares weigh as much as the single order value
    assert len(Z.families_["time of day"]) == 6 and Z.families_["value"] == ["order_value_log"]


def test_view_is_vocabulary_free_and_skips_reactions() -> None:
    log = pd.DataFrame(
        {
            "activity": ["ORDER", "ORDER", "mail_click", "mail_click", "BROWSE"],
            "journey_id": [None, None, "j1", "j1", None],
        }
    )
    assert reaction_activities(log) == frozenset({"mail_click"})
    cols = view_columns(
        [
            "activity_share:ORDER",
            "activity_share:mail_click",
            "transition_share:mail_click>ORDER",
            "transition_share:BROWSE>ORDER",
        ],
        exclude_activities=frozenset({"mail_click"}),
    )
    assert cols == {
        "activity mix": ["activity_share:ORDER"],
        "transitions": ["transition_share:BROWSE>ORDER"],
    }


def test_overlap_and_consensus_mixture_find_separated_groups() -> None:
    rng = np.random.default_rng(1)
    centres = ((0, 0, 0), (4, 0, 0), (0, 4, 0), (0, 0, 4))
    X = np.vstack([rng.normal(c, 0.5, size=(200, 3)) for c in centres])
    truth = np.repeat(np.arange(4), 200)
    fit = fit_consensus_mixture(X, k_max=8, random_state=0)
    assert fit.k == 4 and fit.search["chosen"].sum() == 1
    # the scan stopped at the first count whose halves overlap (a group split in two)
    assert fit.search["k"].max() == 5 and fit.search["overlap"].iloc[-1] > 0.03
    assert overlap(fit.model, X) < 0.03
    assert adjusted_rand_score(truth, fit.model.predict(X)) > 0.98
    assert fit.stability > 0.95
    far = outliers(fit.model, np.vstack([X[:5], [[30.0, 30.0, 30.0]]]))
    assert far.tolist() == [False] * 5 + [True]
    with pytest.raises(ConfigError, match="n_personas=900 is not possible with 800"):
        fit_consensus_mixture(X, n_personas=900)


# Seeds 101-104 are used by no other persona test. Measured with the default (reliability- and
# evidence-weighted mixture, conversion rates and order value shrunk by evidence, three starts,
# the Jaccard veto), ARI over unchanged customers with >= 20 events, noise counted as its own
# label, 2,000 customers: 0.900 / 0.919 / 0.920 / 0.923, six personas each (the spread over the
# issue's fresh seeds is in the README).
@pytest.mark.parametrize("seed", [101, 102])
def test_mixture_recovers_personas_on_unseen_seeds(seed: int) -> None:
    data = make_journeys(n_customers=2000, random_state=seed)
    miner = PersonaMiner(method="mixture", n_bootstrap=1, random_state=0)
    miner.fit(data.events)
    cust = data.customers.set_index("customer_id")
    n_ev = data.events.groupby("customer_id", observed=True).size()
    keep = cust.index[~cust["changed"].to_numpy()]
    keep = keep[n_ev.reindex(keep).fillna(0).to_numpy() >= 20]
    ari = adjusted_rand_score(cust.loc[keep, "persona"], miner.labels_.reindex(keep).fillna(-1))
    assert ari >= 0.85, f"seed {seed}: ARI {ari:.3f}"
    assert miner.quality_["n_personas"] == 6 and miner.quality_["noise_share"] < 0.05
    search = miner.search_
    assert search["chosen"].sum() == 1 and (search.loc[search["chosen"], "overlap"] <= 0.03).all()
    # the chosen count's personas all reappear across the resampled fits
    assert (search.loc[search["chosen"], "jaccard"] >= 0.5).all()
    # the scan stopped at the first count that overlaps, has a too-small persona, or whose BIC
    # is no better than the previous count's
    last, before = search.iloc[-1], search.iloc[-2]
    assert last["overlap"] > 0.03 or last["smallest"] < 20 or last["bic"] >= before["bic"]
    assert 0.0 <= miner.quality_["stability_ari"] <= 1.0
    pairs = miner.quality_["indistinct_pairs"]
    assert pairs == [
        (r["persona_a"], r["persona_b"]) for r in miner.profiles_.attrs["indistinct_pairs"]
    ]
    # predict on the fitted customers' features gives the fitted labels (eligible ones)
    elig = miner.label_reasons_ != "too few events"
    again = miner.predict(miner.features_[elig])
    assert (again == miner.labels_[elig]).mean() > 0.99


def test_log_and_feature_frame_give_the_same_personas() -> None:
    log = make_journeys(n_customers=800, days=120, random_state=104).events
    # the deconvolved law needs the log's sessions: compare the plain law, which both can fit
    a = PersonaMiner(n_bootstrap=0, random_state=0, deconvolve=False).fit(log)
    fz = CustomerFeaturizer()
    X = fz.fit_transform(log)
    # a feature frame has no sessions to measure reliability on: pass the log's; and the
    # featurizer that made it (its spec gives the order-value prior of the view)
    b = PersonaMiner(
        n_bootstrap=0,
        random_state=0,
        exclude_activities=sorted(reaction_activities(log)),
        reliability_weighting=a.scaler_.weights_.to_dict(),
        featurizer=fz,
    ).fit(X)
    assert a.value_prior_ is not None and b.value_prior_ is not None
    assert a.deconvolved_ is None and b.deconvolved_ is None
    pd.testing.assert_series_equal(a.labels_, b.labels_)
    lab, prob, post = a.membership(a.features_)
    pd.testing.assert_series_equal(lab, a.labels_)
    ok = lab >= 0
    assert np.allclose(post[ok].sum(axis=1), 1.0) and (prob[ok] > 0).all()
    assert (post[ok].to_numpy().argmax(1) == lab[ok].to_numpy()).all()


def test_fixed_persona_count() -> None:
    data = make_journeys(n_customers=1000, days=120, random_state=104)
    miner = PersonaMiner(method="mixture", n_personas=4, n_bootstrap=0, random_state=0)
    miner.fit(data.events)
    assert miner.quality_["n_personas"] == 4 and len(miner.search_) == 1


def test_mixture_on_unfamiliar_activity_names(caplog: pytest.LogCaptureFixture) -> None:
    data = make_journeys(n_customers=800, days=120, random_state=103)
    rename = {a: f"EV_{i:02d}" for i, a in enumerate(sorted(data.events["activity"].unique()))}
    log = data.events.assign(activity=data.events["activity"].map(rename).astype("str"))
    log = log.drop(columns=["value"])  # no value: the value family is left out, with a log line
    with caplog.at_level(logging.INFO, logger="journeymine"):
        miner = PersonaMiner(method="mixture", n_bootstrap=0, random_state=0).fit(log)
    fams = miner.scaler_.families_
    assert {"activity mix", "transitions", "channel mix", "time of day"} <= set(fams)
    assert any(c.startswith("activity_share:EV_") for c in fams["activity mix"])
    dropped = miner.scaler_.dropped_
    assert "value" in dropped
    for fam in dropped:
        assert f"family {fam!r} left out" in caplog.text
    assert 2 <= miner.quality_["n_personas"] <= 12
    # every family in the view varies: none is all zero
    X = miner.features_.loc[miner.label_reasons_ != "too few events", miner.columns_]
    assert (X.std() > 0).all()


def test_mixture_parameters_are_checked() -> None:
    log = make_journeys(n_customers=300, days=60, random_state=104).events
    with pytest.raises(ConfigError, match=r"method must be 'mixture' .* or 'density'"):
        PersonaMiner(method="kmeans").fit(log)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="n_personas must be an integer >= 1"):
        PersonaMiner(method="mixture", n_personas=0).fit(log)
    for bad in (0.5, 0, -0.1, True, "0.03"):
        with pytest.raises(ConfigError, match=r"max_overlap must be a number within \(0, 0.5\)"):
            PersonaMiner(max_overlap=bad).fit(log)  # type: ignore[arg-type]
    fz = CustomerFeaturizer().fit(log)
    X = fz.transform(log)
    with pytest.raises(ConfigError, match="lack columns"):
        FamilyScaler().fit(X).transform(X.drop(columns=["order_value_log"]))
    with pytest.raises(ConfigError, match="reliability_weighting must map feature columns"):
        PersonaMiner(reliability_weighting={"order_value_log": 2.0}).fit(X)
    with pytest.raises(ConfigError, match="names none of the persona view's columns"):
        PersonaMiner(reliability_weighting={"no_such_column": 0.5}).fit(X)
    with pytest.raises(ConfigError, match="sample_weight must hold 3 finite"):
        fit_consensus_mixture(np.zeros((3, 2)), n_personas=1, sample_weight=[1.0, -1.0, 1.0])


def test_split_half_reliability_weighs_chance_features_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A column that is chance at the customer level (here: the share of an activity that
    replaces 5% of all events at random, the same for every customer in expectation) gets a
    reliability near 0 and so weighs nothing; a column the customers' own sessions reproduce
    (channel mix) stays."""
    data = make_journeys(n_customers=1500, days=120, random_state=105)
    log = data.events
    rng = np.random.default_rng(0)
    coin = rng.random(len(log)) < 0.05
    log = log.assign(activity=np.where(coin, "coin", log["activity"]))
    with caplog.at_level(logging.INFO, logger="journeymine"):
        miner = PersonaMiner(n_bootstrap=0, random_state=0).fit(log)
    w = miner.scaler_.weights_
    assert ((w >= 0) & (w <= 1)).all() and w.index.tolist() == miner.columns_
    assert w["organic_channel_share:app"] > 0.5
    assert w["activity_share:coin"] < 0.15
    assert w["returns_per_purchase"] < 0.1  # returns are rare: chance per customer
    assert "split-half reliability < 0.1" in caplog.text and "returns_per_purchase" in caplog.text
    # customers weigh by evidence: n / (n + n0) with n0 > 0 from the view's reliability
    assert miner.evidence_events_ > 0
    off = PersonaMiner(n_bootstrap=0, random_state=0, reliability_weighting=False).fit(log)
    assert (off.scaler_.weights_ == 1.0).all() and off.evidence_events_ is None


def test_membership_by_evidence_is_softer_for_thin_customers() -> None:
    """by_evidence=True: a customer's likelihood counts by n / (n + n0), so customers with few
    events get memberships closer to the persona shares; well-measured ones keep their label."""
    log = make_journeys(n_customers=1500, days=120, random_state=106).events
    miner = PersonaMiner(n_bootstrap=0, random_state=0).fit(log)
    F = miner.features_
    lab, prob, _ = miner.membership(F)
    lab_e, prob_e, post_e = miner.membership(F, by_evidence=True)
    ok = lab >= 0
    assert (lab_e[~ok] == -1).all() and np.allclose(post_e[ok].sum(axis=1), 1.0)
    assert (prob_e[ok] <= prob[ok] + 1e-9).mean() > 0.95  # softer (a large persona's share can
    # make a thin customer's top probability rise a little)
    n = np.rint(np.expm1(F["log_events"]))
    thin, rich = ok & (n <= n[ok].quantile(0.25)), ok & (n >= n[ok].quantile(0.75))
    assert prob_e[thin].mean() < prob_e[rich].mean()
    assert (lab_e[rich] == lab[rich]).mean() > 0.97
    off = PersonaMiner(n_bootstrap=0, random_state=0, reliability_weighting=False).fit(log)
    a, b = off.membership(off.features_), off.membership(off.features_, by_evidence=True)
    pd.testing.assert_frame_equal(a[2], b[2])


def test_membership_of_customers_under_min_events() -> None:
    """membership(min_events=1, by_evidence=True) also gives the customers the fit left out
    (under min_events) memberships, tempered by their few events: the others' are those of
    by_evidence=True, theirs sum to 1 and say more about the true persona than the persona
    shares do; under the plain law, untempered they are near certain and say less (#13: 120
    days of history, where a quarter of the customers have under 20 events)."""
    from scipy.optimize import linear_sum_assignment

    data = make_journeys(n_customers=2000, days=120, random_state=108, persona_change_share=0.0)
    miner = PersonaMiner(n_bootstrap=0, random_state=0).fit(data.events)
    F = miner.features_
    truth = data.customers.set_index("customer_id")["persona"].reindex(F.index)
    lab, _, post = miner.membership(F, by_evidence=True)
    lab1, prob1, post1 = miner.membership(F, by_evidence=True, min_events=1)
    plain = PersonaMiner(n_bootstrap=0, random_state=0, deconvolve=False).fit(data.events)
    assert miner.deconvolved_ is not None and plain.deconvolved_ is None
    tempered = plain.membership(F, by_evidence=True, min_events=1)[2]
    raw = plain.membership(F, min_events=1)[2]
    thin = (miner.label_reasons_ == "too few events").reindex(F.index).to_numpy()
    assert thin.sum() >= 50 and (lab[thin] == -1).all() and (post[thin] == 0).all().all()
    pd.testing.assert_frame_equal(post1[~thin], post[~thin])
    assert (lab1[~thin] == lab[~thin]).all()
    assert np.allclose(post1.sum(axis=1), 1.0) and (lab1[thin] >= 0).mean() > 0.95
    assert prob1[thin].mean() < prob1[~thin].mean()

    def log_loss(p: pd.DataFrame, fit: PersonaMiner) -> float:
        # persona ids -> true personas by the best one-to-one match of the fit's labels
        table = pd.crosstab(truth, fit.labels_.reindex(F.index)).drop(columns=-1)
        rows, cols = linear_sum_assignment(-table.to_numpy())
        on_truth = np.zeros(len(p))
        for pid, name in zip(table.columns[cols], table.index[rows], strict=True):
            on_truth += np.where(truth.to_numpy() == name, p[pid].to_numpy(), 0.0)
        return float(-np.log(np.clip(on_truth[thin], 1e-6, 1.0)).mean())

    shares = truth[~thin].value_counts(normalize=True)
    prior = float(-np.log(truth[thin].map(shares)).mean())
    assert log_loss(post1, miner) < prior
    assert log_loss(tempered, plain) < prior < log_loss(raw, plain)


def test_one_overlapping_count_does_not_end_the_scan() -> None:
    """Three groups in a triangle: the best two-group split overlaps by more than 3% (two
    groups share a component), the three-group fit does not. The scan goes on past one
    overlapping count and finds three (it used to stop at one persona)."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(c, 1.0, size=(300, 2)) for c in ((0, 0), (4, 0), (2, 3.46))])
    fit = fit_consensus_mixture(X, k_max=6, random_state=0)
    over = fit.search.set_index("k")["overlap"]
    assert over[2] > 0.03 and over[3] <= 0.03
    assert fit.k == 3
    truth = np.repeat([0, 1, 2], 300)
    assert adjusted_rand_score(truth, fit.model.predict(X)) > 0.85


def test_cluster_stability_finds_the_persona_that_dissolves() -> None:
    """Hennig's cluster-wise Jaccard: a group that other fits reproduce scores 1; one that they
    scatter scores low, and weights make thinly measured points count less."""
    from journeymine.personas.mixture import cluster_stability

    lab = np.array([0] * 50 + [1] * 50 + [2] * 6)
    same = lab.copy()
    scattered = np.array([0] * 50 + [1] * 50 + [0, 1, 0, 1, 0, 1])
    assert cluster_stability(lab, [same, same], 3) == 1.0
    assert cluster_stability(lab, [same, scattered], 3) < 0.6
    # the scattered points weigh nothing: the third group is as stable as the others
    w = np.r_[np.ones(100), np.zeros(6)]
    assert cluster_stability(lab[:100], [scattered[:100]], 2, w[:100]) == 1.0


def test_a_small_unreproducible_persona_is_not_chosen() -> None:
    """Two clear groups and a small cloud between them: a third component fitted to the cloud
    separates well (low overlap) but moves with every resample, so the count stays two."""
    rng = np.random.default_rng(3)
    X = np.vstack(
        [
            rng.normal((0, 0), 1.0, size=(600, 2)),
            rng.normal((8, 0), 1.0, size=(600, 2)),
            rng.uniform((2, -6), (6, 6), size=(40, 2)),
        ]
    )
    fit = fit_consensus_mixture(X, k_max=6, random_state=0)
    assert fit.k == 2
    rows = fit.search.set_index("k")
    assert rows.loc[2, "jaccard"] >= 0.5
    # three separates as well as two (overlap within the limit) but dissolves
    assert rows.loc[3, "overlap"] <= 0.03 and rows.loc[3, "jaccard"] < 0.5


def test_noise_does_not_pile_up_on_thinly_measured_customers() -> None:
    """A customer seen on few events scatters more around their persona: the outlier ellipsoid
    widens by 1 + n0 / n, so thin customers are not 'noise' for being thin (before: 18% of the
    fifth with the fewest events on a 2,000-customer log, against 0-3% of the others)."""
    data = make_journeys(n_customers=2000, random_state=106)
    miner = PersonaMiner(n_bootstrap=0, random_state=0).fit(data.events)
    n0 = miner.evidence_events_
    assert n0 is not None and n0 > 0
    elig = miner.label_reasons_ != "too few events"
    n = data.events.groupby("customer_id", observed=True).size().reindex(miner.labels_.index)
    noise = (miner.labels_ < 0)[elig]
    thin = n[elig] <= n[elig].quantile(0.2)
    assert noise.mean() < 0.03
    assert noise[thin].mean() < 0.06, noise[thin].mean()


def test_one_odd_resampled_fit_does_not_decide_the_count() -> None:
    """Seed 1318 at 2,000 customers: five of the six resampled six-persona fits agree with the
    truth; the sixth isolates about 70 customers and merges support-heavy callers with
    store-first buyers, and separates best. Kept as the count's fit (the earlier rule), its
    Jaccard against the others (0.24) turned six down and five personas were found (ARI
    0.782). The most typical fit is kept and the Jaccard is averaged over the fits: six."""
    data = make_journeys(n_customers=2000, random_state=1318)
    miner = PersonaMiner(method="mixture", n_bootstrap=0, random_state=0).fit(data.events)
    cust = data.customers.set_index("customer_id")
    n_ev = data.events.groupby("customer_id", observed=True).size()
    keep = cust.index[~cust["changed"].to_numpy()]
    keep = keep[n_ev.reindex(keep).fillna(0).to_numpy() >= 20]
    ari = adjusted_rand_score(cust.loc[keep, "persona"], miner.labels_.reindex(keep).fillna(-1))
    assert miner.quality_["n_personas"] == 6, miner.search_
    assert ari >= 0.9, f"ARI {ari:.3f}"
    six = miner.search_.set_index("k").loc[6]
    assert six["jaccard"] >= 0.5 and six["overlap"] <= 0.03


def test_a_lower_overlap_limit_keeps_fewer_personas() -> None:
    """``max_overlap`` is the count rule's limit: seed 1314's six personas overlap by about 2%
    on held-out customers, so at 1.5% the scan keeps five; the search shows why."""
    log = make_journeys(n_customers=2000, random_state=1314).events
    default = PersonaMiner(n_bootstrap=0, random_state=0).fit(log)
    strict = PersonaMiner(n_bootstrap=0, random_state=0, max_overlap=0.015).fit(log)
    assert default.quality_["n_personas"] == 6
    assert strict.quality_["n_personas"] < 6
    six = strict.search_.set_index("k").loc[6]
    assert 0.015 < six["overlap"] <= 0.03 and not six["chosen"]
