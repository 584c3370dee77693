"""A closed-loop world to say what an orchestration policy is worth.

:func:`make_world` generates a history with :func:`make_journeys` (for personas) and the state
a decider starts from; :func:`simulate` runs days: each morning the decider picks an action
(journey or nothing) for every customer, the world delivers what can be delivered, draws the
outcomes from its ground truth and moves on. Ground truth (persona x journey):

- ``uplift``: the incremental purchase probability of a touch (``_designs.UPLIFT``), in the
  journey's context only (a cart reminder without a cart earns nothing), x ``fatigue`` per
  contact delivered in the last 7 days;
- organic purchases: ``base`` per day plus ``_designs.ORGANIC`` while a context is active
  (a cart, a recent purchase, a lapse): raw response != uplift;
- reachability and consent: push needs the app and a push opt-in, email/SMS an opt-in;
  customers withdraw it (unsubscribe) with probability ``unsub`` x (1 + contacts in 7 days)^2
  per contact (x3 for tips about a returned product); a send that cannot be delivered earns
  nothing and is counted;
- caps (``email`` 2 and all channels 3 per 7 days): contacts beyond are counted;
- channel preference (``make_world(channel_affinity=w)``, default 0: none): a touch works
  through the channel it lands on (push opens the app, email and SMS the web), so a share ``w``
  of its uplift scales with how much the customer uses that channel (their share of app vs web
  sessions in the history, over the population's mean); the simulated visits are on app or web
  in the same proportion, so a next-step model can learn where each customer will be. A
  decider may send a journey on another channel than its own (fourth output of ``decide``).

The value of a decision is its incremental purchases x the journey's value minus its cost and
the expected loss of an unsubscribe (``unsub_cost``). Every decision's expected reward under
every action is kept, so the value of any other policy on the same states is known (for
off-policy evaluation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from journeymine.datasets import _designs as D
from journeymine.datasets._world import (
    BASE,
    CART,
    CHANNEL_COST,
    CONTEXT,
    DAY,
    LANDS_ON,
    OUT_CHANNELS,
    SENT,
    SIM_CHANNEL,
    SIM_JOURNEYS,
    VISIT,
    World,
    make_world,
    sim_policy,
)
from journeymine.exceptions import ConfigError

__all__ = [
    "BASE",
    "CART",
    "CHANNEL_COST",
    "CONTEXT",
    "DAY",
    "LANDS_ON",
    "OUT_CHANNELS",
    "SENT",
    "SIM_CHANNEL",
    "SIM_JOURNEYS",
    "VISIT",
    "Simulation",
    "World",
    "days_to_reach",
    "make_world",
    "sim_policy",
    "simulate",
]


@dataclass
class Simulation:
    """What happened in a run of :func:`simulate`.

    Attributes
    ----------
    decisions : DataFrame
        One row per customer and day: ``day``, ``customer_id``, ``persona`` (true), ``action``
        (journey or None), ``holdout`` (journey held back or None), ``propensity`` (of the
        logged action), ``delivered``, ``outcome`` (purchase), ``reward`` (outcome x value -
        cost), ``true_value`` (expected incremental value of the decision), ``oracle_value``
        (best feasible expected incremental value in that state), and one ``shadow_<name>``
        column per shadow decider.
    events : DataFrame
        The world's event log at the end of the run (history and simulated days).
    expected_rewards : ndarray
        Per decision, the expected reward of every journey and of nothing (last column).
    summary : dict
        Totals (``value``, ``oracle_value``, ``contacts``, ``purchases``, ...).
    journeys : tuple of str
        The journeys the actions name (:data:`SIM_JOURNEYS`).

    Examples
    --------
    >>> from journeymine.datasets import RandomEligible, make_world, sim_policy, simulate
    >>> w = make_world(200, history_days=30, random_state=0)
    >>> run = simulate(w, RandomEligible(sim_policy(), random_state=1), days=3)
    >>> type(run).__name__, len(run.decisions) == 3 * len(w.ids)  # one per customer and day
    ('Simulation', True)
    >>> run.expected_rewards.shape == (len(run.decisions), len(run.journeys) + 1)
    True
    >>> bool(run.decisions["action"].dropna().isin(run.journeys).all())
    True
    >>> run.summary["value"] <= run.summary["oracle_value"]
    True
    """

    decisions: pd.DataFrame
    events: pd.DataFrame
    expected_rewards: np.ndarray
    summary: dict[str, float]
    journeys: tuple[str, ...] = SIM_JOURNEYS


@dataclass
class View:
    """What a decider sees on a morning: the log before ``at`` (and, for the oracle only, the
    truth)."""

    day: int
    at: pd.Timestamp
    ids: pd.Index
    log: pd.DataFrame
    true_values: np.ndarray
    true_persona: np.ndarray
    _cache: dict[Any, Any] = field(default_factory=dict)

    def index(self, product_column: str = "product") -> Any:
        from journeymine.actions import EventIndex

        key = ("index", product_column)
        if key not in self._cache:
            self._cache[key] = EventIndex(self.log, product_column=product_column)
        return self._cache[key]


def simulate(
    world: World,
    decider: Any,
    *,
    days: int = 28,
    random_state: int = 0,
    shadows: dict[str, Any] | None = None,
    shift: tuple[int, Any] | None = None,
) -> Simulation:
    """Run ``decider`` in ``world`` for ``days`` days (one decision per customer each morning).

    ``decider.decide(view)`` returns (action index into :data:`SIM_JOURNEYS`, -1 = nothing;
    propensity of that action; held-out journey index, -1 = none; optionally a fourth array:
    the outbound channel of each send, an index into :data:`OUT_CHANNELS`, -1 = the journey's
    own); ``decider.update(view,
    feedback)`` (optional) sees the outcomes of the day. ``shadows``: deciders asked on the same
    states whose choice is only recorded. ``shift = (day, uplift table)``: the world's uplift
    changes that day (to test recovery).
    """
    if not isinstance(days, int | np.integer) or days < 1:
        raise ConfigError(f"days must be a positive integer, got {days!r}.")
    if not hasattr(decider, "decide"):
        raise ConfigError(
            f"decider must have a decide(view) method (e.g. journeymine.datasets.PolicyDecider), "
            f"got {type(decider).__name__}."
        )
    rng = np.random.default_rng(np.random.SeedSequence([int(random_state), 7]))
    # the channels of visits and purchases: a stream of their own (the other draws do not move)
    crng = np.random.default_rng(np.random.SeedSequence([int(random_state), 8]))
    n, J = len(world.ids), len(SIM_JOURNEYS)
    p = world.persona
    up = world.uplift.to_numpy().copy()
    org = world.organic.to_numpy()
    chan = np.array([OUT_CHANNELS.index(c) for c in SIM_CHANNEL])
    consent = np.stack([world.consent[c].copy() for c in OUT_CHANNELS], axis=1)
    reach = consent.copy()
    reach[:, 2] &= world.has_app
    last_visit, last_cart = world.last_visit.copy(), world.last_cart.copy()
    last_buy = np.full(n, -400 * DAY)
    last_prod = np.full(n, -1)
    ret_at = np.full(n, np.inf)  # return time of the last purchase
    contacts = np.full((days + 7, n), -1, dtype=np.int64)  # channel delivered per day
    ev: dict[str, list[np.ndarray]] = {k: [] for k in ("c", "t", "a", "j", "p", "ch")}
    aff = world.affinity
    app_share = np.full(n, 0.5) if world.app_share is None else world.app_share
    names = np.array([*SIM_JOURNEYS, None], dtype=object)

    def emit(
        c: np.ndarray,
        t: np.ndarray,
        a: str | np.ndarray,
        j: Any = None,
        prod: Any = -1,
        channel: Any = None,
    ) -> None:
        m = len(c)
        ev["ch"].append(np.broadcast_to(np.asarray(channel, dtype=object), (m,)))
        ev["c"].append(c)
        ev["t"].append(np.broadcast_to(t, (m,)).astype(np.float64))
        ev["a"].append(np.broadcast_to(np.asarray(a, dtype=object), (m,)))
        ev["j"].append(np.broadcast_to(np.asarray(j, dtype=object), (m,)))
        ev["p"].append(np.broadcast_to(prod, (m,)).astype(np.int64))

    def log_before(t: float) -> pd.DataFrame:
        if not ev["c"]:
            return world.seed_log
        c, tt = np.concatenate(ev["c"]), np.concatenate(ev["t"])
        m = tt < t
        prods = np.array([*D.PRODUCTS, None], dtype=object)
        sim = pd.DataFrame(
            {
                "customer_id": world.ids[c[m]],
                "timestamp": pd.to_datetime(
                    (world.start_s + tt[m]) * 1e6, unit="us", utc=True
                ).astype("datetime64[us, UTC]"),
                "activity": np.concatenate(ev["a"])[m],
                "channel": np.concatenate(ev["ch"])[m],
                "product": prods[np.concatenate(ev["p"])[m]],
                "journey_id": np.concatenate(ev["j"])[m],
            }
        )
        return pd.concat([world.seed_log, sim], ignore_index=True)

    rows: list[dict[str, Any]] = []
    exp_rewards: list[np.ndarray] = []
    shadow_cols: dict[str, list[np.ndarray]] = {k: [] for k in shadows or {}}
    tot = dict.fromkeys(
        (
            "unsubscribes",
            "undeliverable",
            "unreachable",
            "unconsented",
            "over_cap",
            "tips_after_return",
            "contacts",
        ),
        0,
    )
    for day in range(int(days)):
        if shift is not None and day == int(shift[0]):
            up = np.asarray(shift[1], dtype=np.float64).copy()
        now = day * DAY + 9 * 3600
        # organic visits and carts of the last 24 hours
        vis = rng.random(n) < VISIT[p]
        vt = now - DAY + rng.random(n) * DAY
        c_v = np.flatnonzero(vis)
        on_app = crng.random(n) < app_share
        v_ch = np.where(on_app, "app", "web").astype(object)
        emit(c_v, vt[c_v], "visit", channel=v_ch[c_v])
        last_visit[c_v] = vt[c_v]
        cart = vis & (rng.random(n) < CART[p])
        c_c = np.flatnonzero(cart)
        emit(
            c_c,
            vt[c_c] + 300,
            "add_to_cart",
            None,
            rng.integers(0, len(D.PRODUCTS), len(c_c)),
            v_ch[c_c],
        )
        last_cart[c_c] = vt[c_c] + 300
        # contexts and truth this morning
        ctx = {
            "cart": (last_cart > now - DAY) & (last_buy < last_cart),
            "bought": (last_buy > now - 14 * DAY) & ~(ret_at < now),
            "lapsed": last_visit < now - 28 * DAY,
            "all": np.ones(n, dtype=bool),
        }
        returned_tip = (last_buy > now - 14 * DAY) & (ret_at < now)
        C = np.stack([ctx[k] for k in CONTEXT], axis=1)  # (n, J)
        base = 1 - (1 - BASE[p]) * np.prod(np.where(C[:, :3], 1 - org[p][:, :3], 1.0), axis=1)
        recent = (contacts[day : day + 7] >= 0).sum(0)  # delivered in the last 7 days
        email7 = (contacts[day : day + 7] == 0).sum(0)
        fat = world.fatigue**recent
        aff_j = aff[:, chan]  # (n, J): each journey on its own channel
        inc = np.minimum(1.0, base[:, None] + up[p] * aff_j * fat[:, None] * C) - base[:, None]
        ok = reach[:, chan]  # (n, J)
        punsub = (
            np.array([world.unsub[c] for c in SIM_CHANNEL])[None, :] * (1 + recent[:, None]) ** 2
        )
        punsub = np.where(returned_tip[:, None] & (np.arange(J) == 1)[None, :], 3 * punsub, punsub)
        tv = np.where(ok, inc * world.value - punsub * world.unsub_cost, 0.0) - world.cost
        capped = (recent >= world.caps["*"])[:, None] | (
            (email7 >= world.caps["email"])[:, None] & (chan == 0)[None, :]
        )
        feasible = ok & ~capped
        oracle = np.maximum(0.0, np.where(feasible, tv, -np.inf).max(axis=1))
        er = np.concatenate(
            [
                np.where(ok, (base[:, None] + inc) * world.value, base[:, None]) - world.cost,
                base[:, None],
            ],
            axis=1,
        )
        view = View(
            day,
            pd.Timestamp((world.start_s + now) * 10**9, tz="UTC"),
            world.ids,
            log_before(now),
            tv,
            p,
        )
        out = tuple(np.asarray(x) for x in decider.decide(view))
        action, prop, held = out[:3]
        action = action.astype(np.int64)
        held = held.astype(np.int64)
        for k, s in (shadows or {}).items():
            shadow_cols[k].append(names[np.asarray(s.decide(view)[0], dtype=np.int64)])
        sent = action >= 0
        a0 = np.maximum(action, 0)
        ch = chan[a0]
        if len(out) > 3:  # the decider chose the channel (-1: the journey's own)
            ch = np.where(out[3].astype(np.int64) >= 0, out[3].astype(np.int64), ch)
        rows_n = np.arange(n)
        deliv = sent & reach[rows_n, ch]
        over = (recent >= world.caps["*"]) | ((email7 >= world.caps["email"]) & (ch == 0))
        tot["undeliverable"] += int((sent & ~deliv).sum())
        tot["unreachable"] += int((sent & (ch == 2) & ~world.has_app).sum())
        tot["unconsented"] += int((sent & ~consent[rows_n, ch]).sum())
        tot["over_cap"] += int((sent & over).sum())
        tot["tips_after_return"] += int((sent & (action == 1) & returned_tip).sum())
        tot["contacts"] += int(sent.sum())
        contacts[day + 7] = np.where(deliv, ch, -1)
        # the chosen journey on the chosen channel: its uplift, unsubscribe risk and cost
        inc_c = np.minimum(1.0, base + up[p, a0] * aff[rows_n, ch] * fat * C[rows_n, a0]) - base
        unsub_c = np.array([world.unsub[c] for c in OUT_CHANNELS])[ch] * (1 + recent) ** 2
        unsub_c = np.where(returned_tip & (a0 == 1), 3 * unsub_c, unsub_c)
        cost_c = np.where(ch == chan[a0], world.cost[a0], CHANNEL_COST[ch])
        q = np.where(deliv, base + inc_c, base)
        y = rng.random(n) < q
        # events: sends, holdouts, purchases, returns, unsubscribes
        s_idx = np.flatnonzero(sent)
        for c_i, c_name in enumerate(OUT_CHANNELS):
            m = s_idx[ch[s_idx] == c_i]
            emit(m, np.full(len(m), now), SENT[c_name], names[action[m]], channel=c_name)
        h_idx = np.flatnonzero(held >= 0)
        held_ch = np.array(OUT_CHANNELS, dtype=object)[chan[np.maximum(held, 0)]]
        emit(h_idx, np.full(len(h_idx), now), "holdout", names[held[h_idx]], channel=held_ch[h_idx])
        b_idx = np.flatnonzero(y)
        bt = now + 3600 + rng.random(len(b_idx)) * 16 * 3600
        prod = rng.integers(0, len(D.PRODUCTS), len(b_idx))
        b_ch = np.where(crng.random(len(b_idx)) < app_share[b_idx], "app", "web").astype(object)
        emit(b_idx, bt, "purchase", np.where(deliv[b_idx], names[a0[b_idx]], None), prod, b_ch)
        last_buy[b_idx], last_prod[b_idx] = bt, prod
        r = rng.random(len(b_idx)) < D.RETURN_PROB[p[b_idx]]
        rt = bt + (2 + rng.random(len(b_idx)) * 10) * DAY
        ret_at[b_idx] = np.where(r, rt, np.inf)
        emit(b_idx[r], rt[r], "return_product", None, prod[r], b_ch[r])
        uns = deliv & (rng.random(n) < unsub_c)
        u_idx = np.flatnonzero(uns)
        consent[u_idx, ch[u_idx]] = False
        reach[u_idx, ch[u_idx]] = False
        emit(
            u_idx,
            np.full(len(u_idx), now + 7200),
            np.array([f"{OUT_CHANNELS[c]}_opt_out" for c in ch[u_idx]], dtype=object),
            channel=np.array(OUT_CHANNELS, dtype=object)[ch[u_idx]],
        )
        tot["unsubscribes"] += len(u_idx)
        tv_c = np.where(deliv, inc_c * world.value[a0] - unsub_c * world.unsub_cost, 0.0) - cost_c
        true_value = np.where(sent, tv_c, 0.0)
        reward = y * np.where(deliv, world.value[a0], 1.0) - np.where(sent, cost_c, 0.0)
        rows.append(
            {
                "day": np.full(n, day),
                "customer_id": np.asarray(world.ids),
                "persona": p,
                "action": names[action],
                "holdout": names[held],
                "propensity": prop.astype(np.float64),
                "delivered": deliv,
                "outcome": y,
                "reward": reward,
                "true_value": true_value,
                "oracle_value": oracle,
            }
        )
        exp_rewards.append(er)
        if hasattr(decider, "update"):
            decider.update(view, {"action": action, "holdout": held, "outcome": y})
    decisions = pd.concat([pd.DataFrame(r) for r in rows], ignore_index=True)
    for k, v in shadow_cols.items():
        decisions[f"shadow_{k}"] = np.concatenate(v)
    summary = {
        "value": float(decisions["true_value"].sum()),
        "oracle_value": float(decisions["oracle_value"].sum()),
        "purchases": int(decisions["outcome"].sum()),
        **{k: int(v) for k, v in tot.items()},
    }
    return Simulation(decisions, log_before(np.inf), np.concatenate(exp_rewards), summary)


def days_to_reach(
    run: Simulation,
    reference: Simulation,
    share: float = 0.9,
    *,
    window: int = 7,
    after: int = 0,
    before: int | None = None,
) -> int | None:
    """Days from ``after`` until ``run`` earns ``share`` of ``reference`` (e.g. the oracle).

    Both runs are of the same world and days (``reference`` on its own path: its decisions
    change the states it meets). The answer is the first day ``d >= after`` on which the true
    value of ``run`` over the ``window`` days ending on ``d`` (only days ``>= after`` count)
    is at least ``share`` x that of ``reference`` over the same days, as ``d - after + 1``
    (days needed), or None when it never gets there (before day ``before``, when given).

    Examples
    --------
    >>> from journeymine.datasets import Oracle, RandomEligible
    >>> w = make_world(200, history_days=30, random_state=0)
    >>> o = simulate(w, Oracle(sim_policy()), days=4, random_state=1)
    >>> days_to_reach(o, o, 0.9, window=2)
    1
    >>> r = simulate(w, RandomEligible(sim_policy(), random_state=0), days=4, random_state=1)
    >>> days_to_reach(r, o, 0.7, window=2), days_to_reach(r, o, 0.9, window=2, before=2)
    (1, None)
    """
    if isinstance(share, bool) or not 0 < float(share) <= 1:
        raise ConfigError(f"share must be in (0, 1], got {share!r}.")
    if not isinstance(window, int | np.integer) or window < 1:
        raise ConfigError(f"window must be a positive number of days, got {window!r}.")
    mine = run.decisions.groupby("day")["true_value"].sum()
    ref = reference.decisions.groupby("day")["true_value"].sum()
    days = mine.index.intersection(ref.index).to_numpy()
    if not len(days):
        raise ConfigError("run and reference share no day; simulate the same days for both.")
    mine, ref = mine.reindex(days).to_numpy(), ref.reindex(days).to_numpy()
    end = days.max() + 1 if before is None else before
    for d in days[(days >= after) & (days < end)]:
        span = (days <= d) & (days > d - window) & (days >= after)
        if mine[span].sum() >= share * ref[span].sum():
            return int(d - after + 1)
    return None
