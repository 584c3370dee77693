"""Deciders for :func:`journeymine.datasets.simulate`: journeymine's policy (greedy or
exploring), fixed priority, random-eligible and the oracle. All go through the same policy
gates (consent, eligibility, suppressions, gaps, caps) of :mod:`journeymine.actions`; they
differ in how they arbitrate between the journeys that pass."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from journeymine.datasets._simulate import OUT_CHANNELS, SIM_JOURNEYS, View
from journeymine.exceptions import ConfigError

__all__ = ["FixedPriority", "Oracle", "PolicyDecider", "RandomEligible", "impact_experiment"]

_PASS = (4, 5)  # below_threshold / outranked: passed every gate


class _Gated:
    def __init__(self, policy: Any, attributes: pd.DataFrame | None = None) -> None:
        from journeymine.actions import Policy

        if not isinstance(policy, Policy):
            raise ConfigError(f"policy must be a Policy, got {type(policy).__name__}.")
        unknown = [j.name for j in policy.journeys if j.name not in SIM_JOURNEYS]
        if unknown:
            raise ConfigError(
                f"the simulated world has no journey {unknown[0]!r}; its journeys are "
                f"{list(SIM_JOURNEYS)} (see jm.datasets.sim_policy())."
            )
        self.policy = policy
        self.attributes = attributes
        self.world_j = np.array([SIM_JOURNEYS.index(j.name) for j in policy.journeys])

    def _points(self, view: View) -> tuple[Any, np.ndarray, np.ndarray]:
        index = view.index(self.policy.product_column)
        key = ("points", id(index))
        if key not in view._cache:
            view._cache[key] = index.points(view.ids, pd.DatetimeIndex([view.at] * len(view.ids)))
        codes, t = view._cache[key]
        return index, codes, t

    def gates(self, view: View, persona: np.ndarray) -> np.ndarray:
        """(n, J) mask of the policy's journeys that pass every gate."""
        from journeymine.actions.customer_inputs import attribute_arrays
        from journeymine.actions.engine import decide

        index, codes, t = self._points(view)
        key = ("gates", id(self.policy))
        if key not in view._cache:
            attr = attribute_arrays(self.policy, self.attributes, view.ids)
            zeros = np.zeros((len(codes), len(self.policy.journeys)))
            _, _, _, g = decide(
                index,
                self.policy,
                None,
                persona,
                codes,
                t,
                attributes=attr,
                rates=zeros,
                unsubscribe=False,
            )
            reason = np.stack([r for r, _ in g], axis=1)
            view._cache[key] = (reason < 0) | np.isin(reason, _PASS)
        return view._cache[key]

    def fatigue(self, view: View) -> np.ndarray:
        p = self.policy
        if p.fatigue_within_s is None:
            return np.ones(len(view.ids))
        index, codes, t = self._points(view)
        mask = index.is_activity(p.touch_activities)
        n = index.count_masked(("fatigue",), mask, codes, t, p.fatigue_within_s)
        return p.fatigue_factor ** n.astype(np.float64)

    def _out(self, k: np.ndarray) -> np.ndarray:
        return np.where(k >= 0, self.world_j[np.maximum(k, 0)], -1)


class FixedPriority(_Gated):
    """The first journey (in ``order``, default the policy's list order) that passes the gates."""

    def __init__(self, policy: Any, order: list[str] | None = None, attributes: Any = None) -> None:
        super().__init__(policy, attributes)
        names = [j.name for j in policy.journeys]
        order = names if order is None else list(order)
        self.rank = np.array(
            [order.index(n) if n in order else len(order) + i for i, n in enumerate(names)]
        )

    def decide(self, view: View) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ok = self.gates(view, np.full(len(view.ids), -1))
        score = np.where(ok, -self.rank[None, :].astype(float), -np.inf)
        k = np.where(ok.any(1), score.argmax(1), -1)
        n = len(k)
        return self._out(k), np.ones(n), np.full(n, -1)


class RandomEligible(_Gated):
    """Uniformly one of the journeys that pass the gates (nothing with ``none_share``)."""

    def __init__(
        self, policy: Any, none_share: float = 0.0, random_state: int = 0, attributes: Any = None
    ) -> None:
        super().__init__(policy, attributes)
        self.none_share = float(none_share)
        self.rng = np.random.default_rng(random_state)

    def decide(self, view: View) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ok = self.gates(view, np.full(len(view.ids), -1))
        k_ok = ok.sum(1)
        score = np.where(ok, self.rng.random(ok.shape), -1.0)
        k = np.where(k_ok > 0, score.argmax(1), -1)
        none = (k_ok == 0) | (self.rng.random(len(k)) < self.none_share)
        k = np.where(none, -1, k)
        prop = np.where(
            k_ok == 0,
            1.0,
            np.where(none, self.none_share, (1 - self.none_share) / np.maximum(k_ok, 1)),
        )
        # nothing sent although a journey was eligible: a holdout of the journey drawn
        held = np.where(none & (k_ok > 0), score.argmax(1), -1)
        return self._out(k), prop, self._out(held)


class Oracle(_Gated):
    """Knows the true persona and the true value of every journey; sends the best one that
    passes the gates when it is worth more than nothing."""

    def decide(self, view: View) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ok = self.gates(view, view.true_persona)
        tv = view.true_values[:, self.world_j]
        score = np.where(ok, tv, -np.inf)
        k = np.where(score.max(1) > 0, score.argmax(1), -1)
        return self._out(k), np.ones(len(k)), np.full(len(k), -1)


class PolicyDecider(_Gated):
    """journeymine's next best action in the loop: the engine's gates and arbitration with a
    response or uplift model, learning from the outcomes it observes.

    Parameters
    ----------
    policy : Policy
    model : UpliftModel, FeatureUplift or ResponseModel
        Fitted (``UpliftModel().fit(log, personas, policy)``; from an empty log for a cold
        start). An UpliftModel is updated with every outcome when ``learn``. A FeatureUplift
        (soft memberships only) adds the customer's features to the persona cells; its cell
        model is updated.
    personas : Series or DataFrame
        customer_id -> persona id (e.g. PersonaMiner labels), or soft memberships (customers x
        persona ids, e.g. the posterior of ``PersonaMiner.membership``): the expected uplift
        of a customer is then the membership-weighted mean of the personas' (per-customer
        uplift), Thompson draws draw the persona too, and the persona rules of the policy see
        the most likely persona.
    holdout : float, default 0.05
        Share of decisions held out (nothing sent, logged as a holdout of the chosen journey).
    explore : bool, default False
        Thompson sampling: arbitrate on one posterior draw of the uplift per decision instead
        of its mean; the propensity of each decision is estimated from ``n_draws`` more draws.
    min_touches, min_holdouts : int
        Minimum evidence: while a persona x journey has fewer touches or holdouts, eligible
        customers of that persona get one of these journeys (uniformly), held out with the
        larger of ``holdout`` and ``min_holdouts / (min_touches + min_holdouts)`` (so a cell's
        holdouts keep pace with its touches).
    refresh_days : int, optional
        Minimum *recent* evidence: a cell also counts as lacking evidence while it has fewer
        than ``min_touches`` touches or ``min_holdouts`` holdouts within the last
        ``refresh_days`` days (model updates), so every cell keeps getting fresh touches and
        holdouts that the model's change test can see, also one the decider stopped sending.
        Needs an UpliftModel with ``change_alpha`` (it keeps the daily batches) and
        ``min_touches`` or ``min_holdouts``. None (default): the total evidence only. In #13's
        exploring benchmark (2,000 customers, min. 20 touches and 5 holdouts) 14 days forced
        about 15% of the decisions after the first two weeks and cost 0.03-0.10 of the
        oracle in stable worlds without recovering faster after a change.
    next_step : NextStepModel, optional
        Fitted (e.g. on the world's history, ``outcome=`` for the skip option): each morning
        ``next_step.predict(log)`` feeds the policy's ``next_step`` options (send on the
        predicted next channel; skip ``skip_if_likely`` journeys when the outcome is likely).
    unsubscribe : UnsubscribeRisk, optional
        Evidence on opt-outs after touches from before the run (e.g. fitted on the pilot that
        fitted ``model``); each morning the risk is refitted with the run's own opt-outs added,
        and, with the policy's ``unsubscribe_cost``, arbitration subtracts risk x that cost.

    Examples
    --------
    Fit the uplift on a week of random-eligible pilot, then let the policy decide for five
    days (it learns from the outcomes on the way):

    >>> from journeymine.actions import UpliftModel
    >>> from journeymine.datasets import RandomEligible, make_world, sim_policy, simulate
    >>> w = make_world(300, history_days=30, random_state=0)
    >>> policy = sim_policy()
    >>> pilot = simulate(w, RandomEligible(policy, none_share=0.3, random_state=1), days=7,
    ...                  random_state=1)
    >>> model = UpliftModel().fit(pilot.events, w.true_personas, policy)
    >>> decider = PolicyDecider(policy, model, w.true_personas, attributes=w.attributes)
    >>> run = simulate(w, decider, days=5, random_state=2)
    >>> len(run.decisions)  # one per customer and day
    1500
    >>> run.summary["unconsented"], run.summary["unreachable"], run.summary["over_cap"]
    (0, 0, 0)
    >>> bool(run.decisions["holdout"].notna().any())  # held-out decisions measure the uplift
    True
    """

    def __init__(
        self,
        policy: Any,
        model: Any,
        personas: pd.Series | pd.DataFrame,
        *,
        holdout: float = 0.05,
        explore: bool = False,
        min_touches: int = 0,
        min_holdouts: int = 0,
        refresh_days: int | None = None,
        learn: bool = True,
        n_draws: int = 32,
        random_state: int = 0,
        attributes: Any = None,
        next_step: Any = None,
        unsubscribe: Any = None,
    ) -> None:
        super().__init__(policy, attributes)
        from journeymine.actions.unsubscribe import UnsubscribeRisk

        if unsubscribe is not None and not isinstance(unsubscribe, UnsubscribeRisk):
            raise ConfigError(
                f"unsubscribe must be a fitted UnsubscribeRisk (e.g. "
                f"UnsubscribeRisk().fit(pilot.events, policy)), got {type(unsubscribe).__name__}."
            )
        self.unsubscribe = unsubscribe
        if next_step is not None and not hasattr(next_step, "predict"):
            raise ConfigError(
                f"next_step must be a fitted NextStepModel, got {type(next_step).__name__}."
            )
        if next_step is not None and not (
            policy.next_step_channels or policy.skip_outcome_above is not None
        ):
            raise ConfigError(
                "next_step= needs the policy's next_step options, e.g. "
                "sim_policy(next_step_channels=True)."
            )
        self.next_step = next_step
        if not 0 <= holdout < 1:
            raise ConfigError(f"holdout must be a share in [0, 1), got {holdout!r}.")
        self.model, self.holdout, self.explore = model, float(holdout), bool(explore)
        self.min_touches, self.min_holdouts = int(min_touches), int(min_holdouts)
        self.learn, self.n_draws = learn and hasattr(model, "update"), int(n_draws)
        if refresh_days is not None:
            if isinstance(refresh_days, bool) or not isinstance(refresh_days, (int, np.integer)):
                raise ConfigError(
                    f"refresh_days must be a whole number of days or None, got {refresh_days!r}."
                )
            if refresh_days < 1 or not (self.min_touches or self.min_holdouts):
                raise ConfigError(
                    f"refresh_days (got {refresh_days!r}) must be >= 1 and needs min_touches "
                    f"or min_holdouts: the evidence each cell must have had within that many "
                    f"days, e.g. min_touches=20, min_holdouts=5, refresh_days=7."
                )
            if getattr(model, "change_alpha", None) is None:
                raise ConfigError(
                    "refresh_days needs an UpliftModel with a change test (it keeps the daily "
                    "batches that tell recent evidence from old), e.g. "
                    "UpliftModel(change_alpha=0.01)."
                )
        self.refresh_days = None if refresh_days is None else int(refresh_days)
        self.soft = isinstance(personas, pd.DataFrame)
        if self.soft:
            from journeymine.actions.uplift_points import check_memberships

            if not hasattr(model, "weights"):
                raise ConfigError(
                    "soft memberships need an UpliftModel (per-customer uplift); pass hard "
                    "persona ids with a ResponseModel."
                )
            cols = check_memberships(personas)
            self.memberships = personas.astype(np.float64)
            M = self.memberships.to_numpy()
            top = np.array(cols, dtype=np.int64)[M.argmax(1)] if M.size else np.array([])
            self.personas = pd.Series(
                np.where(M.sum(1) > 0, top, -1) if M.size else top,
                index=personas.index,
                dtype="int64",
            )
        else:
            self.personas = pd.Series(personas).astype("int64")
        self.rng = np.random.default_rng(random_state)

    def _persona(self, view: View) -> np.ndarray:
        return self.personas.reindex(view.ids).fillna(-1).to_numpy(np.int64)

    def _model_input(self, view: View) -> Any:
        """What the model reads per customer: memberships (soft) or persona ids."""
        if self.soft:
            return self.memberships.reindex(view.ids).fillna(0.0)
        return self._persona(view)

    def penalty(self, view: View) -> np.ndarray:
        """(n, J) expected loss of consent per journey (0 without ``unsubscribe_cost``),
        learned each morning from the opt-outs in the log so far plus ``unsubscribe``."""
        from journeymine.actions.unsubscribe import unsubscribe_penalty

        index, codes, t = self._points(view)
        pen = unsubscribe_penalty(index, self.policy, codes, t, prior=self.unsubscribe)
        return np.zeros((len(codes), len(self.policy.journeys))) if pen is None else pen

    def _choose(
        self, rates: np.ndarray, ok: np.ndarray, fat: np.ndarray, pen: np.ndarray
    ) -> np.ndarray:
        pol = self.policy
        s = rates * np.array([j.value for j in pol.journeys]) * fat[:, None]
        if pol.arbitration == "uplift":
            s = s - np.array([j.cost for j in pol.journeys]) - pen
            thr = np.maximum(pol.min_expected_response, 1e-12)
        else:
            thr = pol.min_expected_response
        s = np.where(ok & (s >= thr), s, -np.inf)
        return np.where(np.isfinite(s.max(1)), s.argmax(1), -1)

    def decide(self, view: View) -> tuple[np.ndarray, ...]:
        persona = self._persona(view)
        x = self._model_input(view)
        ok = self.gates(view, persona)
        fat = self.fatigue(view)
        pen = self.penalty(view)
        likely = next_channel = None
        if self.next_step is not None:
            from journeymine.actions.customer_inputs import next_step_arrays

            # the events of activities the model knows (it was fitted on another log)
            log = view.log
            known = [a for a in getattr(self.next_step, "classes_", []) if isinstance(a, str)]
            if known:
                log = log[log["activity"].isin(known)]
            pred = self.next_step.predict(log)
            likely, next_channel = next_step_arrays(self.policy, pred, view.ids)
            if likely is not None:
                skip = np.array([j.skip_if_likely for j in self.policy.journeys])
                ok = ok & ~(likely[:, None] & skip[None, :])
        n, J = ok.shape
        if self.explore:
            k = self._choose(self.model.sample(x, self.rng), ok, fat, pen)
            agree = np.ones(n)
            none = np.ones(n) * (k < 0)
            for _ in range(self.n_draws):
                kk = self._choose(self.model.sample(x, self.rng), ok, fat, pen)
                agree += kk == k
                none += kk < 0
            p_k = agree / (self.n_draws + 1)
            p_none = none / (self.n_draws + 1)
        else:
            k = self._choose(self.model.rates(x), ok, fat, pen)
            p_k = np.ones(n)
            p_none = (k < 0).astype(float)
        if self.min_touches or self.min_holdouts:
            touches, holds = self.model.evidence(x)
            if self.refresh_days is not None:  # what counts is the evidence of the last days
                recent = self.model.evidence(x, last=self.refresh_days)
                touches, holds = np.minimum(touches, recent[0]), np.minimum(holds, recent[1])
            weak = ok & ((touches < self.min_touches) | (holds < self.min_holdouts))
            nw = weak.sum(1)
            pick = np.where(weak, self.rng.random((n, J)), -1.0).argmax(1)
            k = np.where(nw > 0, pick, k)
            p_k = np.where(nw > 0, 1.0 / np.maximum(nw, 1), p_k)
            p_none = np.where(nw > 0, 0.0, p_none)
            # while a cell lacks evidence, hold out in the proportion the minimum asks for (5
            # holdouts per 20 touches: a fifth), so its holdouts do not lag behind its touches
            need = self.min_holdouts / max(self.min_touches + self.min_holdouts, 1)
            h = np.where(nw > 0, max(self.holdout, need), self.holdout)
        else:
            h = np.full(n, self.holdout)
        held = (k >= 0) & (self.rng.random(n) < h)
        out_k = np.where(held, -1, k)
        prop = np.where(out_k >= 0, (1 - h) * p_k, p_none + h * (1 - p_none))
        if next_channel is None:
            return self._out(out_k), prop, np.where(held, self._out(k), -1)
        from journeymine.actions.customer_inputs import attribute_arrays
        from journeymine.actions.engine import channel_choice

        index, codes, t = self._points(view)
        attr = attribute_arrays(self.policy, self.attributes, view.ids)
        names = channel_choice(index, self.policy, persona, codes, t, out_k, next_channel, attr)
        channel = np.array([OUT_CHANNELS.index(c) if c in OUT_CHANNELS else -1 for c in names])
        return self._out(out_k), prop, np.where(held, self._out(k), -1), channel

    def update(self, view: View, feedback: dict[str, np.ndarray]) -> None:
        if not self.learn:
            return
        inv = np.full(len(SIM_JOURNEYS), -1)
        inv[self.world_j] = np.arange(len(self.world_j))
        a, h = feedback["action"], feedback["holdout"]
        j = np.where(a >= 0, inv[np.maximum(a, 0)], np.where(h >= 0, inv[np.maximum(h, 0)], -1))
        self.model.update(self._model_input(view), j, (a < 0) & (h >= 0), feedback["outcome"])


class _Arms:
    """Routes each customer to one decider (arm) for the whole run; a learning arm sees the
    outcomes of its own customers only."""

    def __init__(self, arms: dict[str, Any], arm_of: np.ndarray) -> None:
        self.arms, self.arm_of = arms, arm_of

    def decide(self, view: View) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        n = len(view.ids)
        action, prop, held = np.full(n, -1), np.ones(n), np.full(n, -1)
        for k, dec in enumerate(self.arms.values()):
            mine = self.arm_of == k
            a, p, h = (np.asarray(x) for x in dec.decide(view))
            action[mine], prop[mine], held[mine] = a[mine], p[mine], h[mine]
        return action, prop, held

    def update(self, view: View, feedback: dict[str, np.ndarray]) -> None:
        for k, dec in enumerate(self.arms.values()):
            if hasattr(dec, "update"):
                other = self.arm_of != k
                own = {key: value.copy() for key, value in feedback.items()}
                own["action"][other] = -1
                own["holdout"][other] = -1
                dec.update(view, own)


def impact_experiment(
    world: Any,
    arms: dict[str, Any],
    *,
    days: int = 28,
    baseline: str | None = None,
    random_state: int = 0,
) -> pd.DataFrame:
    """An impact experiment in one run: customers are split at random into equal arms, each
    decided by its own decider for ``days`` days; per arm the true value per customer with a
    95% interval, against a ``baseline`` arm.

    Parameters
    ----------
    world : World
        ``make_world(...)``.
    arms : dict of str -> decider
        E.g. the full policy, random-eligible, fixed priority and response-only arbitration.
        A learning decider learns from its own arm's outcomes only.
    days : int, default 28
    baseline : str, optional
        The arm the others are compared with (default: the last one).
    random_state : int, default 0
        Seeds the split and the world's draws.

    Returns
    -------
    DataFrame
        One row per arm: ``customers``, ``value`` (true expected incremental value of its
        decisions), ``value_per_customer`` with ``lo``/``hi`` (95%, normal over customers),
        ``vs_baseline`` (ratio of value per customer) with ``diff_lo``/``diff_hi`` (95% interval
        of the difference per customer), ``contacts``, ``contacts_per_customer``,
        ``unsubscribes`` and ``unsubscribes_per_1000``.

    Examples
    --------
    >>> from journeymine.datasets import FixedPriority, RandomEligible, make_world, sim_policy
    >>> w = make_world(300, history_days=30, random_state=0)
    >>> pol = sim_policy()
    >>> t = impact_experiment(w, {"random": RandomEligible(pol), "fixed": FixedPriority(pol)},
    ...                       days=3, random_state=1)
    >>> t.index.tolist(), int(t["customers"].sum())
    (['random', 'fixed'], 300)
    """
    from journeymine.datasets._simulate import simulate

    if not isinstance(arms, dict) or len(arms) < 2:
        raise ConfigError(
            "arms must be a dict of at least two named deciders, e.g. {'policy': "
            "PolicyDecider(...), 'fixed priority': FixedPriority(policy)}."
        )
    names = list(arms)
    baseline = names[-1] if baseline is None else baseline
    if baseline not in arms:
        raise ConfigError(f"baseline {baseline!r} is not an arm; the arms are {names}.")
    n = len(world.ids)
    rng = np.random.default_rng(np.random.SeedSequence([int(random_state), 11]))
    arm_of = rng.permutation(np.arange(n) % len(names))
    sim = simulate(world, _Arms(arms, arm_of), days=days, random_state=random_state)
    d = sim.decisions
    per = d.groupby("customer_id", sort=False)["true_value"].sum().reindex(world.ids).to_numpy()
    sent = (
        d.assign(sent=d["action"].notna())
        .groupby("customer_id", sort=False)["sent"]
        .sum()
        .reindex(world.ids)
        .to_numpy()
    )
    ev = sim.events
    opt_out = ev["activity"].astype(str).str.endswith("_opt_out")
    uns = (
        ev[opt_out & (ev["timestamp"] >= pd.Timestamp(world.start_s * 10**9, tz="UTC"))]
        .groupby("customer_id")
        .size()
        .reindex(world.ids, fill_value=0)
        .to_numpy()
    )
    base = per[arm_of == names.index(baseline)]
    rows = []
    for k, name in enumerate(names):
        v = per[arm_of == k]
        m, se = v.mean(), v.std(ddof=1) / np.sqrt(len(v))
        dse = np.sqrt(se**2 + base.var(ddof=1) / len(base))
        diff = m - base.mean()
        rows.append(
            {
                "arm": name,
                "customers": len(v),
                "value": float(v.sum()),
                "value_per_customer": m,
                "lo": m - 1.96 * se,
                "hi": m + 1.96 * se,
                "vs_baseline": m / base.mean() if base.mean() != 0 else np.nan,
                "diff_lo": diff - 1.96 * dse,
                "diff_hi": diff + 1.96 * dse,
                "contacts": int(sent[arm_of == k].sum()),
                "contacts_per_customer": float(sent[arm_of == k].mean()),
                "unsubscribes": int(uns[arm_of == k].sum()),
                "unsubscribes_per_1000": 1000 * float(uns[arm_of == k].mean()),
            }
        )
    out = pd.DataFrame(rows).set_index("arm")
    out.attrs.update(baseline=baseline, days=int(days))
    return out
