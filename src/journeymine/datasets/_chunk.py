"""The generator's chunk of customers: personas, organic sessions on each channel, the CRM
journeys' touches and responses, purchases and returns (steps 1-5 of
:mod:`journeymine.datasets._generator`), all drawn from one chunk's random generator in a fixed
order (the order is part of the seed contract: the same seed gives the same data).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from journeymine.datasets import _designs as D

DAY = 86_400.0
MAX_STEPS = 40


def _sample_rows(rng: np.random.Generator, cum: np.ndarray) -> np.ndarray:
    """One categorical draw per row of the cumulative-probability matrix ``cum``."""
    u = rng.random(len(cum))
    return np.minimum((u[:, None] > cum).sum(1), cum.shape[1] - 1)


@dataclass
class _Ctx:
    days: int
    incidents: tuple[D.Incident, ...]
    control_share: float
    change_share: float
    change_day: float
    new_share: float
    cum: np.ndarray  # (group, state, state) cumulative transition probabilities


def _build_cum(incidents: tuple[D.Incident, ...]) -> np.ndarray:
    base = D.persona_matrices()  # (P, K, S, S)
    n_inc = len(incidents) + 1
    out = np.repeat(base[:, :, None], n_inc, axis=2)  # (P, K, I, S, S)
    for i, inc in enumerate(incidents, start=1):
        a, b = D.S[inc.source], D.S[inc.target]
        kind = 1 if inc.channel == "store" else 2 if inc.channel == "call_centre" else 0
        removed = out[:, kind, i, a, b] * (1.0 - inc.factor)
        out[:, kind, i, a, b] -= removed
        out[:, kind, i, a, D.END] += removed  # the failed step ends the session
    return out.reshape(-1, len(D.STATES), len(D.STATES)).cumsum(-1)


def _simulate_sessions(
    rng: np.random.Generator,
    ctx: _Ctx,
    persona: np.ndarray,
    channel: np.ndarray,
    t0: np.ndarray,
) -> dict[str, np.ndarray]:
    """Run the session grammar for many sessions at once.

    Returns per-event arrays (session, state, time, product, value) and per-session flags.
    """
    n = len(persona)
    kind = np.select([channel == 2, channel == 3], [1, 2], 0)
    n_inc = len(ctx.incidents) + 1
    inc = np.zeros(n, dtype=np.int64)
    for i, incident in enumerate(ctx.incidents, start=1):
        ch = D.SESSION_CHANNELS.index(incident.channel)
        hit = (channel == ch) & (t0 >= incident.start_day * DAY) & (t0 < incident.end_day * DAY)
        inc[hit] = i
    group = (persona * 3 + kind) * n_inc + inc
    product = _sample_rows(rng, D.PRODUCT_PREF.cumsum(1)[persona])
    gap = np.where(
        kind == 1, D.STORE_GAP_S, np.where(kind == 2, D.CALL_GAP_S, D.DIGITAL_GAP_S[persona])
    )
    start_state = np.asarray(D.KIND_START)[kind]

    ev_sess = [np.arange(n)]
    ev_state = [start_state]
    ev_time = [t0.astype(np.float64)]
    state = start_state.copy()
    t = t0.astype(np.float64).copy()
    alive = np.arange(n)
    for _ in range(MAX_STEPS):
        if len(alive) == 0:
            break
        nxt = _sample_rows(rng, ctx.cum[group[alive], state[alive]])
        go = nxt != D.END
        alive = alive[go]
        nxt = nxt[go]
        t[alive] += rng.exponential(gap[alive]) + 1.0
        state[alive] = nxt
        ev_sess.append(alive)
        ev_state.append(nxt)
        ev_time.append(t[alive].copy())
    sess = np.concatenate(ev_sess)
    st = np.concatenate(ev_state)
    tm = np.concatenate(ev_time)
    is_purchase = st == D.S["purchase"]
    value = np.full(len(st), np.nan)
    mu = np.log(D.MEAN_VALUE[persona[sess[is_purchase]]]) - 0.125
    value[is_purchase] = np.round(rng.lognormal(mu, 0.5), 2)
    has_cart = np.zeros(n, dtype=bool)
    has_cart[sess[st == D.S["add_to_cart"]]] = True
    has_purchase = np.zeros(n, dtype=bool)
    has_purchase[sess[is_purchase]] = True
    prod = np.where(np.isin(st, list(D.PRODUCT_STATES)), product[sess], -1)
    return {
        "session": sess,
        "state": st,
        "time": tm,
        "product": prod,
        "value": value,
        "end_time": t,
        "has_cart": has_cart,
        "has_purchase": has_purchase,
        "kind": kind,
    }


def _persona_at(
    p0: np.ndarray,
    p1: np.ndarray,
    changed: np.ndarray,
    change_t: float,
    cust: np.ndarray,
    t: np.ndarray,
) -> np.ndarray:
    return np.where(changed[cust] & (t >= change_t), p1[cust], p0[cust])


def _chunk(rng: np.random.Generator, n: int, ctx: _Ctx) -> dict[str, Any]:
    days = ctx.days
    horizon = days * DAY
    p0 = rng.choice(len(D.PERSONAS), size=n, p=D.PERSONA_WEIGHTS)
    changed = rng.random(n) < ctx.change_share
    p1 = np.where(changed, D.CHANGE_TO[p0], p0)
    change_t = ctx.change_day * DAY
    is_new = rng.random(n) < ctx.new_share
    signup_day = np.where(is_new, rng.random(n) * days, -rng.uniform(30, 1000, n))
    active_from = np.maximum(signup_day, 0.0) * DAY
    control = rng.random(n) < ctx.control_share
    has_app = rng.random(n) < np.clip(D.CHANNEL_MIX[p0, 1] * 2 + 0.05, 0, 1)
    birthday_day = rng.integers(0, 365, n)

    # ---- organic sessions, per persona segment
    seg_cust = np.concatenate([np.arange(n), np.flatnonzero(changed)])
    seg_p = np.concatenate([p0, p1[changed]])
    seg_from = np.concatenate([active_from, np.maximum(change_t, active_from[changed])])
    seg_to = np.concatenate([np.where(changed, change_t, horizon), np.full(changed.sum(), horizon)])
    seg_len = np.maximum(seg_to - seg_from, 0.0)
    n_sess = rng.poisson(D.SESSION_RATE[seg_p] * seg_len / DAY)
    s_seg = np.repeat(np.arange(len(seg_cust)), n_sess)
    s_cust = seg_cust[s_seg]
    s_p = seg_p[s_seg]
    offset = rng.random(len(s_seg)) * seg_len[s_seg]
    keep = rng.random(len(s_seg)) < np.exp(-offset / (D.LAPSE_DAYS[s_p] * DAY))
    s_seg, s_cust, s_p, offset = s_seg[keep], s_cust[keep], s_p[keep], offset[keep]
    day0 = np.floor((seg_from[s_seg] + offset) / DAY)
    hour = _sample_rows(rng, D.HOUR_PROFILE.cumsum(1)[s_p])
    s_t = day0 * DAY + hour * 3600.0 + rng.random(len(s_p)) * 3600.0
    ok = (s_t >= seg_from[s_seg]) & (s_t < seg_to[s_seg])
    s_cust, s_p, s_t = s_cust[ok], s_p[ok], s_t[ok]
    s_ch = _sample_rows(rng, D.CHANNEL_MIX.cumsum(1)[s_p])
    organic = _simulate_sessions(rng, ctx, s_p, s_ch, s_t)

    # ---- outbound touches
    tc: list[np.ndarray] = []  # customer
    tt: list[np.ndarray] = []  # time
    tj: list[np.ndarray] = []  # journey index
    tch: list[np.ndarray] = []  # outbound channel name index into D.CHANNELS
    tprod: list[np.ndarray] = []

    def add(
        cust: np.ndarray,
        t: np.ndarray,
        j: int,
        ch: np.ndarray | int,
        prod: np.ndarray | None = None,
    ) -> None:
        ok = (t < horizon) & (t >= active_from[cust]) & ~control[cust]
        tc.append(cust[ok])
        tt.append(t[ok])
        tj.append(np.full(ok.sum(), j))
        tch.append((np.broadcast_to(ch, cust.shape))[ok])
        tprod.append((np.full(len(cust), -1) if prod is None else prod)[ok])

    email, sms, push = (D.CHANNELS.index(c) for c in ("email", "sms", "push"))
    new = np.flatnonzero(is_new)
    for k, d in enumerate((0, 2, 6)):
        jitter = rng.random(len(new)) * 1800
        add(
            new,
            (np.floor(signup_day[new]) + d) * DAY + 10 * 3600 + jitter,
            0,
            push if k == 1 else email,
        )
        if k == 1:  # the second welcome step is a push only for app users
            tch[-1] = np.where(has_app[tc[-1]], push, email)
    bday = np.flatnonzero((birthday_day >= 1) & (birthday_day < days))
    add(bday, (birthday_day[bday] - 1) * DAY + 9 * 3600.0, 1, sms)
    holiday = int(days * 0.85)
    everyone = np.arange(n)
    add(everyone, holiday * DAY + 8 * 3600 + rng.random(n) * 7200, 2, email)
    for frac in (0.15, 0.5, 0.8):
        add(
            everyone,
            int(days * frac) * DAY + 12 * 3600 + rng.random(n) * 600,
            3,
            np.where(has_app, push, email),
        )
    abandoned = np.flatnonzero(
        organic["has_cart"] & ~organic["has_purchase"] & (organic["kind"] == 0)
    )
    add(s_cust[abandoned], organic["end_time"][abandoned] + 7200.0, 4, email)
    buy = organic["state"] == D.S["purchase"]
    b_cust = s_cust[organic["session"][buy]]
    for d in (3, 10):
        add(b_cust, organic["time"][buy] + d * DAY, 5, email, organic["product"][buy])
    # win-back: 30 quiet days after the last session (or after becoming active)
    wc = np.concatenate([s_cust, everyone])
    wt = np.concatenate([s_t, active_from])
    order = np.lexsort((wt, wc))
    wc, wt = wc[order], wt[order]
    nxt_t = np.append(wt[1:], horizon)
    last = np.append(wc[1:] != wc[:-1], True)
    nxt_t[last] = horizon
    for q in (30, 60):
        quiet = (nxt_t - wt) > q * DAY
        add(wc[quiet], wt[quiet] + q * DAY, 6, email)

    t_cust = np.concatenate(tc)
    t_time = np.concatenate(tt)
    t_j = np.concatenate(tj)
    t_ch = np.concatenate(tch).astype(np.int64)
    t_prod = np.concatenate(tprod)
    t_p = _persona_at(p0, p1, changed, change_t, t_cust, t_time)
    responded = rng.random(len(t_cust)) < D.RESPONSE[t_p, t_j]
    opened_only = ~responded & (t_ch == email) & (rng.random(len(t_cust)) < D.OPEN_WITHOUT_CLICK)

    # response events
    r_delay = t_time + rng.exponential(5400.0, len(t_cust)) + 60
    ev: dict[str, list[np.ndarray]] = {
        k: [] for k in ("cust", "time", "act", "ch", "journey", "product", "value")
    }

    def emit(
        cust: np.ndarray,
        time: np.ndarray,
        act: np.ndarray | int,
        ch: np.ndarray | int,
        journey: np.ndarray | int = -1,
        product: np.ndarray | int = -1,
        value: np.ndarray | float = np.nan,
    ) -> None:
        m = len(cust)
        ev["cust"].append(cust)
        ev["time"].append(time)
        ev["act"].append(np.broadcast_to(act, (m,)))
        ev["ch"].append(np.broadcast_to(ch, (m,)))
        ev["journey"].append(np.broadcast_to(journey, (m,)))
        ev["product"].append(np.broadcast_to(product, (m,)))
        ev["value"].append(np.broadcast_to(value, (m,)))

    A = {a: i for i, a in enumerate(D.ACTIVITIES)}
    sent_act = np.full(len(D.CHANNELS), -1)
    for c, a in D.OUTBOUND_ACTIVITY.items():
        sent_act[D.CHANNELS.index(c)] = A[a]
    emit(t_cust, t_time, sent_act[t_ch], t_ch, t_j, t_prod)
    emit(
        t_cust[opened_only],
        r_delay[opened_only],
        A["email_open"],
        email,
        t_j[opened_only],
        t_prod[opened_only],
    )
    rt = r_delay.copy()
    for c in ("email", "sms", "push"):
        ci = D.CHANNELS.index(c)
        sel = responded & (t_ch == ci)
        for k, act in enumerate(D.RESPONSE_ACTIVITIES[c]):
            emit(t_cust[sel], r_delay[sel] + k * 20.0, A[act], ci, t_j[sel], t_prod[sel])
        rt[sel] = r_delay[sel] + 20.0 * len(D.RESPONSE_ACTIVITIES[c])
    # responses bring the customer to a web (email/sms) or app (push) session
    r_idx = np.flatnonzero(responded & (rt + 60 < horizon))
    r_cust = t_cust[r_idx]
    r_t = rt[r_idx] + 30 + rng.random(len(r_idx)) * 90
    r_p = _persona_at(p0, p1, changed, change_t, r_cust, r_t)
    r_ch = np.where(t_ch[r_idx] == push, 1, 0)
    triggered = _simulate_sessions(rng, ctx, r_p, r_ch, r_t)

    # session events (organic + triggered)
    state_act = np.array([A[s] for s in D.STATES[:-1]] + [-1])
    purchases_c: list[np.ndarray] = []
    purchases_t: list[np.ndarray] = []
    purchases_prod: list[np.ndarray] = []
    purchases_val: list[np.ndarray] = []
    for sim, cust_of, ch_of in ((organic, s_cust, s_ch), (triggered, r_cust, r_ch)):
        sess = sim["session"]
        cust = cust_of[sess]
        emit(
            cust,
            sim["time"],
            state_act[sim["state"]],
            ch_of[sess].astype(np.int64),
            -1,
            sim["product"],
            sim["value"],
        )
        buy = sim["state"] == D.S["purchase"]
        purchases_c.append(cust[buy])
        purchases_t.append(sim["time"][buy])
        purchases_prod.append(sim["product"][buy])
        purchases_val.append(sim["value"][buy])
    pc = np.concatenate(purchases_c)
    pt = np.concatenate(purchases_t)
    pp = _persona_at(p0, p1, changed, change_t, pc, pt)
    ret = rng.random(len(pc)) < D.RETURN_PROB[pp]
    ret_t = pt + rng.uniform(3, 20, len(pc)) * DAY
    ret &= ret_t < horizon
    emit(
        pc[ret],
        ret_t[ret],
        A[D.RETURN_ACTIVITY],
        D.RETURN_CHANNEL[pp[ret]],
        -1,
        np.concatenate(purchases_prod)[ret],
        np.concatenate(purchases_val)[ret],
    )

    events = {k: np.concatenate(v) for k, v in ev.items()}
    inside = events["time"] < horizon
    events = {k: v[inside] for k, v in events.items()}
    touches = {
        "cust": t_cust,
        "time": t_time,
        "journey": t_j,
        "ch": t_ch,
        "persona": t_p,
        "responded": responded,
    }
    customers = {
        "p0": p0,
        "p1": p1,
        "changed": changed,
        "signup_day": signup_day,
        "control": control,
        "has_app": has_app,
        "birthday_day": birthday_day,
    }
    return {"events": events, "touches": touches, "customers": customers}
