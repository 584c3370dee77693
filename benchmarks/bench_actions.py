"""Next best action: response model, decisions for every customer, backtest of logged touches."""

from __future__ import annotations

from typing import Any

from benchmarks._data import events_path
from benchmarks._harness import Measurement, measure

NOTES = """
Data: `make_journeys(n, random_state=0).events` (cached Parquet; 1M events = 20,000 customers,
10M = 200,000; about 17 logged touches of the sample policy's journeys per 100 events).
Policy: `jm.datasets.sample_policy()` (5 journeys, eligibility rules, a product suppression,
minimum gaps, 2 caps). Personas: customer code mod 6 (the timing does not depend on them).
*fit + decide*: `ResponseModel().fit` then `next_best_action` for every customer;
*backtest*: `ResponseModel().fit` then `backtest` (every logged touch is a decision point).
No persona/journey library we know replays a policy, so the peer row is one gate done the
obvious way in pandas: the email cap (touches in the 7 days before each logged touch) with
`groupby(...).rolling("7D", closed="left")` — one of the ~15 as-of questions the backtest asks.
"""

#: Customers of the simulated worlds in ``make bench``'s policy table: #13's own check scores
#: decisions over 4,000 customers; at 2,000 the 14-day pilot measures each of the 36 persona x
#: journey cells on about half as many customers (``customers=2000`` on the command line).
SIM_CUSTOMERS = 4_000


def _setup(n_customers: int) -> Any:
    import numpy as np
    import pandas as pd

    from journeymine.datasets import sample_policy

    log = pd.read_parquet(events_path(n_customers))
    _, ids = pd.factorize(log["customer_id"], sort=True)
    personas = pd.Series(np.arange(len(ids)) % 6, index=ids)
    return log, sample_policy(), personas


def _s1m() -> Any:
    return _setup(20_000)


def _s10m() -> Any:
    return _setup(200_000)


def _decide(data: Any) -> int:
    from journeymine.actions import ResponseModel, next_best_action

    log, policy, personas = data
    rm = ResponseModel().fit(log, personas, policy)
    return len(next_best_action(log, policy, rm, personas).actions)


def _backtest(data: Any) -> int:
    from journeymine.actions import ResponseModel, backtest

    log, policy, personas = data
    rm = ResponseModel().fit(log, personas, policy)
    return len(backtest(log, policy, rm, personas).points)


def _pandas_cap(data: Any) -> int:
    log, policy, _ = data
    touches = log[log["activity"].isin(policy.touch_activities)]
    email = touches.assign(one=(touches["channel"] == "email").astype("int64"))
    email = email.sort_values(["customer_id", "timestamp"])
    counts = (
        email.groupby("customer_id", observed=True)
        .rolling("7D", on="timestamp", closed="left")["one"]
        .sum()
    )
    return len(counts)


SIM_COLUMNS = [
    "value",
    "vs_list_order",
    "vs_best_fixed",
    "of_oracle",
    "unsubscribes",
    "contacts",
    "unreachable",
    "unconsented",
    "over_cap",
    "tips_after_return",
]


def policy_table_markdown(table: Any) -> str:
    """min / median / max per decider of :func:`simulator_table` as a Markdown table."""
    agg = table.groupby("decider")[SIM_COLUMNS].agg(["min", "median", "max"])
    seeds = sorted(table["seed"].unique())
    lines = [
        f"Simulator policy table (#13): seeds {seeds[0]}-{seeds[-1]} "
        f"({len(seeds)} worlds), min / median / max over seeds.",
        "",
        "| decider | of oracle | x list order | x best fixed | unsubscribes | contacts | "
        "unreachable + unconsented | over cap | tips after return |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def mmm(row: Any, col: str, nd: int = 2) -> str:
        return " / ".join(f"{row[(col, s)]:.{nd}f}" for s in ("min", "median", "max"))

    for name, row in agg.sort_values(("of_oracle", "median"), ascending=False).iterrows():
        bad = row[("unreachable", "max")] + row[("unconsented", "max")]
        lines.append(
            f"| {name} | {mmm(row, 'of_oracle')} | {mmm(row, 'vs_list_order')} | "
            f"{mmm(row, 'vs_best_fixed')} | {mmm(row, 'unsubscribes', 0)} | "
            f"{mmm(row, 'contacts', 0)} | {bad:.0f} (max) | {row[('over_cap', 'max')]:.0f} "
            f"(max) | {row[('tips_after_return', 'max')]:.0f} (max) |"
        )
    return "\n".join(lines)


def run(quick: bool) -> list[Measurement]:
    """Timings, then the simulator's policy table (printed, and added to this module's notes
    in RESULTS.md): seeds 401-408 at ``SIM_CUSTOMERS`` customers (quick: 2 seeds at 500)."""
    global NOTES
    sim = (
        simulator_table((401, 402), n_customers=500, days=7, pilot_days=7)
        if quick
        else simulator_table(tuple(range(401, 409)), n_customers=SIM_CUSTOMERS)
    )
    md = policy_table_markdown(sim)
    print(md, flush=True)
    NOTES = NOTES.split("\n\nSimulator policy table")[0] + "\n\n" + md
    sizes = [("1M", _s1m)] if quick else [("1M", _s1m), ("10M", _s10m)]
    rows: list[Measurement] = []
    for label, setup in sizes:
        rows.append(measure("fit + decide (all customers)", "journeymine", label, setup, _decide))
        m = measure("backtest (all logged touches)", "journeymine", label, setup, _backtest)
        if m.result:
            m.contender = f"journeymine ({m.result:,} touches)"
        rows.append(m)
        rows.append(
            measure(
                "backtest (all logged touches)",
                "pandas: the email cap gate alone",
                label,
                setup,
                _pandas_cap,
            )
        )
    return rows


def _mined(world: Any) -> tuple[Any, Any]:
    """PersonaMiner on the world's history, and every customer's soft memberships (zeros for
    the customers it leaves out)."""
    import warnings

    import journeymine as jm

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mined = jm.PersonaMiner(method="mixture", n_bootstrap=0).fit(world.history.events)
    return mined, mined.membership(mined.features_)[2].reindex(world.ids).fillna(0.0)


def persona_agreement(world: Any, mined: Any) -> dict[str, float]:
    """The diagnosis of persona error: adjusted Rand index of the miner's hard labels against
    the world's true personas over all customers (those it leaves out, label -1 or absent,
    counted as one more group) and over the customers it places (enough history), and how
    many it leaves out."""
    from sklearn.metrics import adjusted_rand_score

    labels = mined.labels_.reindex(world.ids).fillna(-1).astype(int)
    truth = world.true_personas.reindex(world.ids)
    placed = (labels >= 0).to_numpy()
    return {
        "ari_all": float(adjusted_rand_score(truth, labels)),
        "ari_placed": float(adjusted_rand_score(truth[placed], labels[placed])),
        "unplaced": int((~placed).sum()),
    }


def _pilot(world: Any, policy: Any, seed: int, days: int) -> Any:
    """The random-eligible pilot (30% nothing) every policy's uplift is fitted on."""
    from journeymine.datasets import RandomEligible, simulate

    return simulate(
        world,
        RandomEligible(policy, none_share=0.3, random_state=seed),
        days=days,
        random_state=seed + 10_000,
    )


def fixed_priorities(world: Any, policy: Any, days: int, run: int) -> dict[str, Any]:
    """The simulator's summaries of fixed priority in the policy's list order ("list order")
    and with each journey first ("NAME first"), the same run seed for all."""
    from journeymine.datasets import FixedPriority, simulate

    names = [j.name for j in policy.journeys]
    orders = {"list order": None} | {
        f"{first} first": [first] + [n for n in names if n != first] for first in names
    }
    return {
        name: simulate(
            world, FixedPriority(policy, order=order), days=days, random_state=run
        ).summary
        for name, order in orders.items()
    }


def simulator_table(
    seeds: tuple[int, ...] = tuple(range(201, 209)),
    n_customers: int = 2_000,
    days: int = 21,
    pilot_days: int = 14,
) -> Any:
    """The closed-loop policy table of #13: per seed, the true value earned over ``days`` by
    journeymine's policy (personas mined by PersonaMiner on the world's history, uplift fitted
    on a ``pilot_days`` random-holdout pilot and updated in the loop; per customer from the
    miner's soft memberships, from them plus the customer's features (FeatureUplift on the
    features the miner clusters: with the settings fixed on seeds 401-408, C 0.03 and blend
    0.75, and with C and blend chosen by cross-validation on the pilot, its default), and from
    its hard labels), response-only
    arbitration, random-eligible, fixed priorities (list order, and every journey first) and
    the oracle (true personas and values). Run: ``python -m benchmarks.bench_actions``."""

    import pandas as pd

    from journeymine.actions import FeatureUplift, ResponseModel, UnsubscribeRisk, UpliftModel
    from journeymine.datasets import (
        Oracle,
        PolicyDecider,
        RandomEligible,
        make_world,
        sim_policy,
        simulate,
    )

    rows = []
    for seed in seeds:
        world = make_world(n_customers, history_days=120, random_state=seed)
        pol, rpol = sim_policy(), sim_policy("response")
        mined, memberships = _mined(world)
        personas = mined.labels_
        agreement = persona_agreement(world, mined)
        print(f"seed {seed}: persona ARI {agreement}", flush=True)
        pilot = _pilot(world, pol, seed, pilot_days)
        run = seed + 20_000
        unsub = UnsubscribeRisk().fit(pilot.events, pol)

        def value(decider: Any, world: Any = world, run: int = run) -> dict[str, float]:
            return simulate(world, decider, days=days, random_state=run).summary

        res = {
            "policy (mined memberships)": value(
                PolicyDecider(
                    pol,
                    UpliftModel().fit(pilot.events, memberships, pol),
                    memberships,
                    unsubscribe=unsub,
                )
            ),
            "policy (mined memberships + features, C 0.03, blend 0.75)": value(
                PolicyDecider(
                    pol,
                    FeatureUplift(C=0.03, blend=0.75).fit(
                        pilot.events, memberships, mined.features_[mined.columns_], pol
                    ),
                    memberships,
                    unsubscribe=unsub,
                )
            ),
            "policy (mined memberships + features, settings chosen on the pilot)": value(
                PolicyDecider(
                    pol,
                    FeatureUplift().fit(
                        pilot.events, memberships, mined.features_[mined.columns_], pol
                    ),
                    memberships,
                    unsubscribe=unsub,
                )
            ),
            "policy (mined memberships, empirical shrinkage)": value(
                PolicyDecider(
                    pol,
                    UpliftModel(shrinkage="empirical").fit(pilot.events, memberships, pol),
                    memberships,
                    unsubscribe=unsub,
                )
            ),
            "policy (mined personas)": value(
                PolicyDecider(
                    pol, UpliftModel().fit(pilot.events, personas, pol), personas, unsubscribe=unsub
                )
            ),
            "policy (true personas)": value(
                PolicyDecider(
                    pol,
                    UpliftModel().fit(pilot.events, world.true_personas, pol),
                    world.true_personas,
                    unsubscribe=unsub,
                )
            ),
            "response-only (mined personas)": value(
                PolicyDecider(rpol, ResponseModel().fit(pilot.events, personas, rpol), personas)
            ),
            "random-eligible": value(RandomEligible(pol, random_state=seed)),
            "oracle": value(Oracle(pol)),
        }
        fixed = fixed_priorities(world, pol, days, run)
        best = max(fixed, key=lambda k: fixed[k]["value"])
        res["fixed priority (list order)"] = fixed["list order"]
        res["best fixed priority"] = fixed[best]
        for name, s in res.items():
            rows.append(
                {
                    "seed": seed,
                    "decider": name,
                    **s,
                    "vs_list_order": s["value"] / fixed["list order"]["value"],
                    "vs_best_fixed": s["value"] / fixed[best]["value"],
                    "of_oracle": s["value"] / res["oracle"]["value"],
                    "best_fixed": best,
                    **agreement,
                }
            )
    return pd.DataFrame(rows)


def feature_uplift_table(
    seeds: tuple[int, ...] = tuple(range(401, 409)),
    n_customers: int = 2_000,
    days: int = 21,
    pilot_days: int = 14,
) -> Any:
    """#13: FeatureUplift with its settings chosen on the pilot (``C="auto"``,
    ``blend="auto"``: 5-fold cross-validation, one-standard-error rule for the blend) against
    the settings fixed on the simulator (``C=0.03, blend=0.75``), the cross-validation's
    least-loss blend (no one-SE rule), the (C, blend) of least uplift MSE against the
    transformed outcome (``cv_["uplift_mse"]``), the cells alone (mined memberships) and true
    personas;
    the protocol of :func:`simulator_table` (same worlds, pilot, unsubscribe risk and runs).
    Per seed and decider: the true value, shares of the oracle, of list order and of the best
    fixed priority, and the chosen settings. Run: ``python -m benchmarks.bench_actions
    features [seeds]``."""
    import pandas as pd

    from journeymine.actions import FeatureUplift, UnsubscribeRisk, UpliftModel
    from journeymine.datasets import (
        Oracle,
        PolicyDecider,
        make_world,
        sim_policy,
        simulate,
    )

    rows = []
    for seed in seeds:
        world = make_world(n_customers, history_days=120, random_state=seed)
        pol = sim_policy()
        mined, memberships = _mined(world)
        feats = mined.features_[mined.columns_]
        pilot = _pilot(world, pol, seed, pilot_days)
        unsub = UnsubscribeRisk().fit(pilot.events, pol)
        run = seed + 20_000

        def value(
            model: Any,
            soft: Any = memberships,
            world: Any = world,
            run: int = run,
            pol: Any = pol,
            unsub: Any = unsub,
        ) -> Any:
            dec = PolicyDecider(pol, model, soft, unsubscribe=unsub)
            return simulate(world, dec, days=days, random_state=run).summary

        auto = FeatureUplift().fit(pilot.events, memberships, feats, pol)
        at_c = auto.cv_[auto.cv_["C"] == auto.C_] if len(auto.cv_) else auto.cv_
        least = float(at_c.loc[at_c["log_loss"].idxmin(), "blend"]) if len(at_c) else 0.0
        mse = auto.cv_.loc[auto.cv_["uplift_mse"].idxmin()] if len(auto.cv_) else None
        mse_c, mse_b = (0.03, 0.0) if mse is None else (float(mse["C"]), float(mse["blend"]))
        models = {
            "mined memberships (cells)": UpliftModel().fit(pilot.events, memberships, pol),
            "FeatureUplift fixed (C 0.03, blend 0.75)": FeatureUplift(C=0.03, blend=0.75).fit(
                pilot.events, memberships, feats, pol
            ),
            "FeatureUplift auto": auto,
            "FeatureUplift auto C, least-loss blend": FeatureUplift(
                C=auto.C_ or 0.03, blend=least
            ).fit(pilot.events, memberships, feats, pol),
            "FeatureUplift least uplift MSE (C, blend)": FeatureUplift(C=mse_c, blend=mse_b).fit(
                pilot.events, memberships, feats, pol
            ),
        }
        res = {name: value(m) for name, m in models.items()}
        res["true personas"] = value(
            UpliftModel().fit(pilot.events, world.true_personas, pol), world.true_personas
        )
        oracle = simulate(world, Oracle(pol), days=days, random_state=run).summary
        fixed = fixed_priorities(world, pol, days, run)
        best = max(f["value"] for f in fixed.values())
        print(
            f"seed {seed}: auto C {auto.C_}, blend {auto.blend_} (least loss {least})", flush=True
        )
        for name, summ in res.items():
            rows.append(
                {
                    "seed": seed,
                    "decider": name,
                    "value": summ["value"],
                    "of_oracle": summ["value"] / oracle["value"],
                    "vs_list_order": summ["value"] / fixed["list order"]["value"],
                    "vs_best_fixed": summ["value"] / best,
                    "auto_C": auto.C_,
                    "auto_blend": auto.blend_,
                    "least_loss_blend": least,
                    "mse_C": mse_c,
                    "mse_blend": mse_b,
                }
            )
    return pd.DataFrame(rows)


def choose_segmentation(
    log: Any, pilot_events: Any, policy: Any, ids: Any, random_state: int = 0
) -> tuple[Any, Any]:
    """Soft memberships for uplift, the granularity chosen on the pilot: PersonaMiner's own
    number of personas k, round(1.5 k) and 2 k, each scored by 2-fold cross-validation over
    customers (UpliftModel.score: log-likelihood of the held-out customers' outcomes after
    touches and holdouts). Returns the memberships and a table of the candidates."""
    import warnings

    import numpy as np
    import pandas as pd

    import journeymine as jm
    from journeymine.actions import UpliftModel

    def mine(k: int | None) -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = jm.PersonaMiner(method="mixture", n_bootstrap=0, n_personas=k).fit(log)
        return m.membership(m.features_)[2].reindex(ids).fillna(0.0), m

    soft, auto = mine(None)
    k0 = int(auto.quality_["n_personas"])
    rng = np.random.default_rng(random_state)
    cust = pd.Index(pilot_events["customer_id"].astype(str).unique())
    fold = pd.Series(rng.integers(0, 2, len(cust)), index=cust)
    in_fold = pilot_events["customer_id"].astype(str).map(fold).to_numpy()
    rows, best = [], None
    for k in sorted({k0, round(1.5 * k0), 2 * k0}):
        cand = soft if k == k0 else mine(k)[0]
        score = np.mean(
            [
                UpliftModel()
                .fit(pilot_events[in_fold != f], cand, policy)
                .score(pilot_events[in_fold == f], cand)
                for f in (0, 1)
            ]
        )
        rows.append({"n_personas": k, "cv_loglik": score})
        if best is None or score > best[0]:
            best = (score, cand)
    assert best is not None
    return best[1], pd.DataFrame(rows)


def segmentation_table(
    seeds: tuple[int, ...] = tuple(range(401, 409)),
    n_customers: int = 2_000,
    days: int = 21,
    pilot_days: int = 14,
) -> Any:
    """The policy with mined soft memberships as in :func:`simulator_table`, with PersonaMiner's
    number of personas and with the number chosen on the pilot (:func:`choose_segmentation`);
    share of the oracle per seed. Run: ``python -m benchmarks.bench_actions segments``."""

    import pandas as pd

    from journeymine.actions import UpliftModel
    from journeymine.datasets import (
        Oracle,
        PolicyDecider,
        make_world,
        sim_policy,
        simulate,
    )

    rows = []
    for seed in seeds:
        world = make_world(n_customers, history_days=120, random_state=seed)
        pol = sim_policy()
        pilot = _pilot(world, pol, seed, pilot_days)
        mined, soft = _mined(world)
        chosen, cands = choose_segmentation(
            world.history.events, pilot.events, pol, world.ids, random_state=seed
        )

        def value(
            personas: Any, world: Any = world, pilot: Any = pilot, pol: Any = pol, seed: int = seed
        ) -> float:
            model = UpliftModel().fit(pilot.events, personas, pol)
            dec = PolicyDecider(pol, model, personas)
            return simulate(world, dec, days=days, random_state=seed + 20_000).summary["value"]

        oracle = simulate(world, Oracle(pol), days=days, random_state=seed + 20_000)
        ov = oracle.summary["value"]
        rows.append(
            {
                "seed": seed,
                "miner_personas": int(mined.quality_["n_personas"]),
                "chosen_personas": int(chosen.shape[1]),
                "of_oracle_miner_k": value(soft) / ov,
                "of_oracle_chosen_k": value(chosen) / ov,
                "candidates": cands.round(4).to_dict("records"),
            }
        )
    return pd.DataFrame(rows)


def _daily(sim: Any) -> Any:
    """A simulation's true value by day."""
    return sim.decisions.groupby("day")["true_value"].sum()


def _days_to_match(mine: Any, reference: Any, share: float, window: int, after: int) -> Any:
    """Days from ``after`` until ``mine`` (true value by day) earns ``share`` of ``reference``
    over a whole ``window`` of days since ``after`` (so at least ``window``), or None.
    (``days_to_reach`` counts the first days after ``after`` as windows of their own, so one
    lucky day after a change would count as recovered.)"""
    m, r = mine.to_numpy(), reference.reindex(mine.index).to_numpy()
    for d in range(after + window - 1, len(m)):
        if m[d - window + 1 : d + 1].sum() >= share * r[d - window + 1 : d + 1].sum():
            return d - after + 1
    return None


def _exploring_decider(
    policy: Any, memberships: Any, variant: dict[str, Any], random_state: int
) -> tuple[Any, Any]:
    """#13's exploring decider from no response data (Thompson sampling, minimum evidence 20
    touches and 5 holdouts a cell, 5% holdouts) with a variant's UpliftModel keywords (its
    ``refresh_days`` goes to the decider), and its model."""
    from journeymine.actions import UpliftModel
    from journeymine.datasets import PolicyDecider

    params = {k: v for k, v in variant.items() if k != "refresh_days"}
    model = UpliftModel(prior_strength=5, **params).fit(None, memberships, policy)
    return model, PolicyDecider(
        policy,
        model,
        memberships,
        explore=True,
        holdout=0.05,
        min_touches=20,
        min_holdouts=5,
        refresh_days=variant.get("refresh_days"),
        random_state=random_state,
    )


def exploration_table(
    seeds: tuple[int, ...] = tuple(range(401, 409)),
    n_customers: int = 2_000,
    days: int = 56,
    shift_day: int | None = 28,
    variants: tuple[dict[str, Any], ...] = (
        {},
        {"discount": 0.9},
        {"change_alpha": 0.01},
        {"change_alpha": 0.01, "change_scope": "persona"},
        {"change_alpha": 0.01, "change_scope": "regime"},
    ),
    window: int = 14,
    decider_seed: int = 0,
    true_personas: bool = False,
) -> Any:
    """#13's exploring decider: Thompson sampling on the uplift posteriors from *no* response
    data (personas mined by PersonaMiner, soft memberships), minimum evidence 20 touches and 5
    holdouts per persona x journey, 5% holdouts; on ``shift_day`` the world's uplift matrix
    changes (every persona takes the next persona's row). Per seed and variant of the
    UpliftModel (``discount``; ``change_alpha``: the per-cell change test; ``change_scope``:
    what a change found drops): the changes the test found (all, and before the shift), days
    to earn 0.9 of the oracle (true value over ``window`` days, the oracle on its own path),
    the shares of the oracle before and after the shift, and the days after the shift to earn
    0.9 of the oracle again and to get back to the pre-shift share. ``variants``: keyword
    arguments of the UpliftModel (beside ``prior_strength=5``); ``shift_day=None``: a stable
    world (the "pre-shift" share is then that of days ``28 - window`` to 27). Run:
    ``python -m benchmarks.bench_actions explore [stable] [seeds]``. ``decider_seed``: added
    to the seed of the decider's own draws (Thompson draws, holdouts), for the spread of one
    world's result over them. A variant's ``refresh_days`` goes to the PolicyDecider (minimum
    evidence within that many days); ``explore [stable] refresh=none,7,14
    [scope=cell,regime] [seeds]`` runs those (``change_alpha=0.01``; ``none``: without
    ``refresh_days``) instead of the default variants, ``scope=...`` alone the change test with
    those scopes; ``customers=N`` and ``days=N`` set the world's size and the run's length.
    With a change, the same decider also runs in the changed world from day 0
    (``fresh_share_end``: its share of that world's oracle over the last ``window`` days), and
    ``days_to_0.9_of_fresh`` / ``days_to_0.95_of_fresh`` are the days after the change until
    the decider earns that share of what the fresh one earns over a whole ``window`` of days:
    recovery measured against what the decider can earn in the new world, apart from how far
    the personas let it get. ``true_personas`` (``personas=true``): the world's personas
    instead of PersonaMiner's soft memberships."""

    import numpy as np
    import pandas as pd

    from journeymine.datasets import (
        Oracle,
        days_to_reach,
        make_world,
        sim_policy,
        simulate,
    )

    rows = []
    for seed in seeds:
        world = make_world(n_customers, history_days=120, random_state=seed)
        pol = sim_policy()
        memberships = world.true_personas if true_personas else _mined(world)[1]
        up = world.uplift.to_numpy()
        shifted = up[np.roll(np.arange(len(up)), -1)]
        at = 28 if shift_day is None else shift_day
        run: dict[str, Any] = dict(days=days, random_state=seed + 30_000)
        if shift_day is not None:
            run["shift"] = (shift_day, shifted)
        oracle = simulate(world, Oracle(pol), **run)
        ov = _daily(oracle)
        # the new world from day 0: what the same decider earns where nothing ever changed
        fresh_run = {**run, "shift": (0, shifted)}
        fo = None if shift_day is None else _daily(simulate(world, Oracle(pol), **fresh_run))
        for variant in variants:
            model, dec = _exploring_decider(pol, memberships, variant, seed + decider_seed)
            sim = simulate(world, dec, **run)
            ev = _daily(sim)
            recovery: dict[str, Any] = {}
            if fo is not None:
                again = _exploring_decider(pol, memberships, variant, seed + decider_seed)[1]
                fv = _daily(simulate(world, again, **fresh_run))
                recovery = {
                    "fresh_share_end": fv.iloc[-window:].sum() / fo.iloc[-window:].sum(),
                    "days_to_0.9_of_fresh": _days_to_match(ev, fv, 0.9, window, at),
                    "days_to_0.95_of_fresh": _days_to_match(ev, fv, 0.95, window, at),
                }
            pre = ev.iloc[at - window : at].sum() / ov.iloc[at - window : at].sum()
            post = ev.iloc[-window:].sum() / ov.iloc[-window:].sum()
            rows.append(
                {
                    "seed": seed,
                    "model": ", ".join(f"{k} {v}" for k, v in variant.items()) or "keep all",
                    "changes_found": len(model.changes_),
                    "changes_before_shift": sum(1 for c in model.changes_ if c["update"] < at),
                    "days_to_0.9": days_to_reach(sim, oracle, 0.9, window=window, before=at),
                    "share_before_shift": pre,
                    "share_end": post,
                    "days_to_0.9_after_shift": days_to_reach(
                        sim, oracle, 0.9, window=window, after=at
                    ),
                    "days_back_to_pre_shift_share": days_to_reach(
                        sim, oracle, min(1.0, pre), window=window, after=at
                    ),
                    **recovery,
                    "unreachable": sim.summary["unreachable"],
                    "unconsented": sim.summary["unconsented"],
                    "over_cap": sim.summary["over_cap"],
                }
            )
    return pd.DataFrame(rows)


def next_step_table(
    seeds: tuple[int, ...] = tuple(range(401, 409)),
    n_customers: int = 2_000,
    days: int = 21,
    pilot_days: int = 14,
    channel_affinity: float = 0.5,
    skip_outcome_above: float = 0.5,
) -> Any:
    """#16 part 4 on the simulator: the same policy (uplift, mined soft memberships, pilot as in
    :func:`simulator_table`) without and with the next-step options, in a world where half of
    a touch's uplift follows the customer's use of the channel it lands on
    (``make_world(channel_affinity=0.5)``). The NextStepModel (public API: fit, predict;
    ``outcome="purchase"`` within a day for the skip option) is fitted on the world's history.
    Per seed: true value, and the ratio to the policy without the options. Run:
    ``python -m benchmarks.bench_actions nextstep``."""
    import warnings

    import pandas as pd

    import journeymine as jm
    from journeymine.actions import UpliftModel
    from journeymine.datasets import (
        Oracle,
        PolicyDecider,
        make_world,
        sim_policy,
        simulate,
    )

    rows = []
    for seed in seeds:
        world = make_world(
            n_customers, history_days=120, random_state=seed, channel_affinity=channel_affinity
        )
        _, soft = _mined(world)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nxt = jm.NextStepModel(outcome="purchase", horizon="1D", random_state=0).fit(
                world.seed_log
            )
        base = sim_policy()
        pilot = _pilot(world, base, seed, pilot_days)
        variants = {
            "policy": (base, None),
            "policy + next channel": (sim_policy(next_step_channels=True), nxt),
            "policy + skip likely": (sim_policy(skip_outcome_above=skip_outcome_above), nxt),
        }
        res = {}
        for name, (pol, model) in variants.items():
            up = UpliftModel().fit(pilot.events, soft, pol)
            dec = PolicyDecider(pol, up, soft, next_step=model)
            res[name] = simulate(world, dec, days=days, random_state=seed + 20_000).summary
        res["oracle (own channels)"] = simulate(
            world, Oracle(base), days=days, random_state=seed + 20_000
        ).summary
        for name, summ in res.items():
            rows.append(
                {
                    "seed": seed,
                    "decider": name,
                    **summ,
                    "vs_policy": summ["value"] / res["policy"]["value"],
                }
            )
    return pd.DataFrame(rows)


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["segments"]:
        sg = segmentation_table(tuple(int(s) for s in sys.argv[2:]) or tuple(range(401, 409)))
        print(sg.to_string())
        print(sg[["of_oracle_miner_k", "of_oracle_chosen_k"]].agg(["min", "median", "max"]))
        sys.exit(0)
    if sys.argv[1:2] == ["features"]:
        ft = feature_uplift_table(tuple(int(s) for s in sys.argv[2:]) or tuple(range(401, 409)))
        print(ft.to_string())
        cols = ["of_oracle", "vs_list_order", "vs_best_fixed"]
        print(ft.groupby("decider")[cols].agg(["min", "median", "max"]).round(3).to_string())
        sys.exit(0)
    if sys.argv[1:2] == ["nextstep"]:
        ns = next_step_table(tuple(int(s) for s in sys.argv[2:]) or tuple(range(401, 409)))
        print(ns.to_string())
        cols = ["value", "vs_policy", "unsubscribes", "contacts", "unreachable", "over_cap"]
        print(ns.groupby("decider")[cols].agg(["min", "median", "max"]).round(3).T.to_string())
        sys.exit(0)
    if sys.argv[1:2] == ["explore"]:
        stable = sys.argv[2:3] == ["stable"]
        rest = sys.argv[2 + stable :]
        opts = dict(a.split("=", 1) for a in rest if "=" in a)
        seeds = tuple(int(s) for s in rest if "=" not in s) or tuple(range(401, 409))
        kw: dict[str, Any] = {
            "n_customers": int(opts.get("customers", 2_000)),
            "days": int(opts.get("days", 56)),
            "true_personas": opts.get("personas", "mined") == "true",
        }
        if "refresh" in opts or "scope" in opts:
            kw["variants"] = tuple(
                {"change_alpha": 0.01, "change_scope": scope}
                | ({} if d == "none" else {"refresh_days": int(d)})
                for d in opts.get("refresh", "none").split(",")
                for scope in opts.get("scope", "cell,regime").split(",")
            )
        ex = exploration_table(seeds, shift_day=None if stable else 28, **kw)
        print(ex.to_string())
        print(
            ex.groupby("model")
            .agg(["min", "median", "max"])
            .drop(columns="seed")
            .round(3)
            .T.to_string()
        )
        sys.exit(0)
    opts = dict(a.split("=", 1) for a in sys.argv[1:] if "=" in a)
    table = simulator_table(
        tuple(int(s) for s in sys.argv[1:] if "=" not in s) or tuple(range(401, 409)),
        n_customers=int(opts.get("customers", SIM_CUSTOMERS)),
    )
    print(table.to_string())
    per_seed = table.pivot(index="seed", columns="decider", values="of_oracle")
    agree = table.groupby("seed")[["ari_all", "ari_placed", "unplaced"]].first()
    print(per_seed.join(agree).round(3).to_string())
    print(
        table.groupby("decider")[SIM_COLUMNS].agg(["min", "median", "max"]).round(3).T.to_string()
    )
    print(policy_table_markdown(table))
