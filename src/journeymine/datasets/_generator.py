"""Seeded synthetic multichannel journeys with ground truth.

The generator is vectorised with numpy and works in fixed-size chunks of customers, each with its
own seed spawned from ``random_state``: the same seed gives the same data, and 10 million events
fit comfortably in memory (about 1.5 GB for the frame).

How a customer is simulated
---------------------------
1. A hidden persona (six designs, see ``_designs.PERSONAS``); a share of customers switch to
   another persona on a scheduled day (``persona_change_day``).
2. Organic sessions arrive as a Poisson process whose rate, channel mix (web, app, store,
   call centre) and hour-of-day profile depend on the persona; a lapsing customer's rate decays.
3. Inside a session, activities follow a persona- and channel-specific Markov grammar; during
   a scheduled incident the grammar of the affected channel changes (e.g. app checkouts fail).
4. Designed CRM journeys (welcome, birthday, holiday, flash sale, cart abandonment, post-purchase
   tips, win-back) send outbound touches tagged with ``journey_id``, with overlapping eligibility,
   except to a random control group. A touch gets a response with probability
   ``RESPONSE[persona, journey]``; a response brings the customer to a web/app session.
5. Some purchases are returned. Post-purchase tips keep coming after a return (the "broken
   journey" that orchestration must fix).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from journeymine.datasets import _designs as D
from journeymine.exceptions import ConfigError

__all__ = ["SyntheticJourneys", "make_journeys"]

DAY = 86_400.0
CHUNK = 20_000  # customers per chunk; part of the seed contract, do not change lightly
MAX_STEPS = 40


@dataclass
class SyntheticJourneys:
    """Events and the ground truth that produced them.

    Attributes
    ----------
    events : DataFrame
        Canonical event log (customer_id, timestamp, activity, channel, journey_id, value) plus
        ``product``; sorted by customer and time.
    customers : DataFrame
        One row per customer: signup, birthday, control group, app user, persona before and
        after the scheduled change.
    personas : DataFrame
        The true persona of each customer per period: customer_id, persona, valid_from, valid_to.
    touches : DataFrame
        Every outbound touch: customer_id, timestamp, journey_id, channel, persona, responded.
    response : DataFrame
        The true response probability, persona x journey.
    journeys : DataFrame
        The designed CRM journeys: channel, trigger and designed steps.
    incidents : DataFrame
        Scheduled incidents: name, channel, start, end, affected transition, factor.
    persona_designs : DataFrame
        The persona designs: description, weight, session rate and channel mix.
    params : dict
        The arguments the data was generated with.
    uplift : DataFrame
        The true incremental response, persona x journey: ``response`` minus the response the
        customer would have had without the touch (organic). Arbitrating on ``response`` sends
        to customers who would buy anyway; :func:`journeymine.datasets.simulate` scores on this.

    ``customers`` also says who may be contacted: ``email_opt_in``, ``sms_opt_in`` and
    ``push_opt_in`` (push also needs ``has_app``). They come from their own seed stream (the
    events of a seed are unchanged); the historical touches of this generator ignore them (the
    orchestration a policy with consent gates fixes).
    """

    events: pd.DataFrame
    customers: pd.DataFrame
    personas: pd.DataFrame
    touches: pd.DataFrame
    response: pd.DataFrame
    journeys: pd.DataFrame
    incidents: pd.DataFrame
    persona_designs: pd.DataFrame
    params: dict[str, Any] = field(default_factory=dict)
    uplift: pd.DataFrame | None = None

    def persona_at(self, when: str | pd.Timestamp) -> pd.Series:
        """True persona of every customer at ``when`` (index customer_id)."""
        t = pd.Timestamp(when)
        t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
        p = self.personas
        cur = p[(p["valid_from"] <= t) & (p["valid_to"] > t)]
        return cur.set_index("customer_id")["persona"]


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


def _validate_args(
    n_customers: int,
    days: int,
    control_share: float,
    persona_change_share: float,
    new_customer_share: float,
) -> None:
    if not isinstance(n_customers, int | np.integer) or n_customers < 1:
        raise ConfigError(f"n_customers must be a positive integer, got {n_customers!r}.")
    if not isinstance(days, int | np.integer) or days < 14:
        raise ConfigError(f"days must be an integer >= 14, got {days!r}.")
    for name, v in (
        ("control_share", control_share),
        ("persona_change_share", persona_change_share),
        ("new_customer_share", new_customer_share),
    ):
        if not 0.0 <= float(v) <= 1.0:
            raise ConfigError(f"{name} must be within [0, 1], got {v!r}.")


def make_journeys(
    n_customers: int = 5_000,
    *,
    days: int = 180,
    start: str = "2025-01-01",
    incidents: Literal["default"] | tuple[D.Incident, ...] | list[D.Incident] | None = "default",
    control_share: float = 0.1,
    persona_change_share: float = 0.1,
    persona_change_day: int | None = None,
    new_customer_share: float = 0.25,
    random_state: int = 0,
    show_progress: bool = False,
) -> SyntheticJourneys:
    """Generate multichannel customer journeys with known personas, responses and incidents.

    Parameters
    ----------
    n_customers : int, default 5000
        Customers to simulate (about 30 events each with the default designs).
    days : int, default 180
        Length of the period.
    start : str, default "2025-01-01"
        First day of the period (UTC).
    incidents : "default", sequence of Incident or None
        Scheduled incidents; ``"default"`` places an app checkout failure (14 days from
        35% of the period) and a web search outage (5 days from 70%); ``None`` for none.
    control_share : float, default 0.1
        Share of customers in the control group (no outbound touches).
    persona_change_share : float, default 0.1
        Share of customers who switch persona on ``persona_change_day``.
    persona_change_day : int, optional
        Day of the switch, counted from ``start``; default the middle of the period.
    new_customer_share : float, default 0.25
        Share of customers signing up during the period (they get the welcome journey).
    random_state : int, default 0
        Seed: the same seed gives the same data.
    show_progress : bool, default False
        Show a progress bar over chunks of customers.

    Returns
    -------
    SyntheticJourneys
        ``.events`` (canonical log) and the ground-truth tables.

    Examples
    --------
    >>> from journeymine.datasets import make_journeys
    >>> data = make_journeys(n_customers=200, days=60, random_state=1)
    >>> sorted(data.events.columns)[:3]
    ['activity', 'channel', 'customer_id']
    >>> data.customers["persona"].nunique()
    6
    >>> make_journeys(n_customers=200, days=60, random_state=1).events.equals(data.events)
    True
    """
    _validate_args(n_customers, days, control_share, persona_change_share, new_customer_share)
    if incidents == "default":
        incs = D.default_incidents(days)
    elif incidents is None:
        incs = ()
    else:
        incs = tuple(incidents)
        for inc in incs:
            if not isinstance(inc, D.Incident):
                raise ConfigError(f"incidents must be Incident objects, got {type(inc).__name__}.")
            if inc.channel not in D.SESSION_CHANNELS:
                raise ConfigError(
                    f"incident channel {inc.channel!r} is not one of {D.SESSION_CHANNELS}."
                )
            if inc.source not in D.S or inc.target not in D.S:
                raise ConfigError(
                    f"incident transition {inc.source!r} -> {inc.target!r} uses "
                    f"an unknown state; states are {D.STATES[:-1]}."
                )
    change_day = days // 2 if persona_change_day is None else int(persona_change_day)
    if not 0 < change_day < days:
        raise ConfigError(f"persona_change_day must be within (0, {days}), got {change_day}.")
    t_start = pd.Timestamp(start)
    t_start = t_start.tz_localize("UTC") if t_start.tzinfo is None else t_start.tz_convert("UTC")
    ctx = _Ctx(
        days,
        incs,
        control_share,
        persona_change_share,
        change_day,
        new_customer_share,
        _build_cum(incs),
    )

    sizes = [min(CHUNK, n_customers - i) for i in range(0, n_customers, CHUNK)]
    seeds = np.random.SeedSequence(random_state).spawn(len(sizes))
    chunks = range(len(sizes))
    if show_progress:
        from tqdm.auto import tqdm

        chunks = tqdm(chunks, desc="generating customers", unit="chunk")
    parts = []
    offset = 0
    for i in chunks:
        part = _chunk(np.random.default_rng(seeds[i]), sizes[i], ctx)
        part["offset"] = offset
        offset += sizes[i]
        parts.append(part)
    return _assemble(
        parts,
        n_customers,
        t_start,
        ctx,
        locals_params={
            "n_customers": n_customers,
            "days": days,
            "start": str(t_start),
            "control_share": control_share,
            "persona_change_share": persona_change_share,
            "persona_change_day": change_day,
            "new_customer_share": new_customer_share,
            "random_state": random_state,
            "incidents": [i.name for i in incs],
        },
    )


def _assemble(
    parts: list[dict[str, Any]],
    n: int,
    t_start: pd.Timestamp,
    ctx: _Ctx,
    locals_params: dict[str, Any],
) -> SyntheticJourneys:
    ids = np.array([f"C{i:07d}" for i in range(n)], dtype=object)
    base_us = t_start.value // 1000

    def cat(codes: np.ndarray, cats: tuple[str, ...]) -> pd.Categorical:
        return pd.Categorical.from_codes(codes.astype(np.int16), categories=list(cats))

    cust = np.concatenate([p["events"]["cust"] + p["offset"] for p in parts])
    time_us = np.concatenate([p["events"]["time"] for p in parts])
    time_us = base_us + np.round(time_us * 1e6).astype(np.int64)
    act = np.concatenate([p["events"]["act"] for p in parts]).astype(np.int64)
    ch = np.concatenate([p["events"]["ch"] for p in parts]).astype(np.int64)
    jr = np.concatenate([p["events"]["journey"] for p in parts]).astype(np.int64)
    prod = np.concatenate([p["events"]["product"] for p in parts]).astype(np.int64)
    val = np.concatenate([p["events"]["value"] for p in parts]).astype(np.float64)
    order = np.lexsort((time_us, cust))
    cust, time_us, act, ch, jr, prod = (a[order] for a in (cust, time_us, act, ch, jr, prod))
    val = val[order]
    journey_names = np.array([None, *D.JOURNEYS], dtype=object)
    events = pd.DataFrame(
        {
            "customer_id": pd.Series(pd.Categorical.from_codes(cust, categories=ids)).astype("str"),
            "timestamp": pd.to_datetime(time_us, unit="us", utc=True).as_unit("us"),
            "activity": cat(act, D.ACTIVITIES),
            "channel": cat(ch, D.CHANNELS),
            "journey_id": pd.Series(journey_names[jr + 1]).astype("str"),
            "value": val,
            "product": pd.Categorical.from_codes(
                prod.astype(np.int16), categories=list(D.PRODUCTS)
            ),
        }
    )

    D_US = 86_400e6

    def ts(days_arr: np.ndarray) -> pd.Series:
        return pd.Series(
            pd.to_datetime(
                base_us + np.round(days_arr * D_US).astype(np.int64), unit="us", utc=True
            ).as_unit("us")
        )

    c = {k: np.concatenate([p["customers"][k] for p in parts]) for k in parts[0]["customers"]}
    horizon = pd.Timestamp(base_us + int(ctx.days * D_US), unit="us", tz="UTC")
    change_at = t_start + pd.Timedelta(days=ctx.change_day)
    persona_names = np.array(D.PERSONAS, dtype=object)
    start_days = t_start.day_of_year - 1
    bdays = pd.to_datetime("2001-01-01") + pd.to_timedelta(
        (c["birthday_day"] + start_days) % 365, unit="D"
    )
    customers = pd.DataFrame(
        {
            "customer_id": pd.Series(ids).astype("str"),
            "signup": ts(c["signup_day"]),
            "birthday": pd.Series(bdays.strftime("%m-%d")).astype("str"),
            "control": c["control"],
            "has_app": c["has_app"],
            "persona": pd.Series(persona_names[c["p0"]]).astype("str"),
            "persona_after_change": pd.Series(persona_names[c["p1"]]).astype("str"),
            "changed": c["changed"],
            "changed_at": pd.Series(pd.DatetimeIndex([change_at] * n).as_unit("us")).where(
                c["changed"]
            ),
        }
    )
    start_at = pd.Series(np.maximum(customers["signup"], t_start)).astype("datetime64[us, UTC]")
    seg_a = pd.DataFrame(
        {
            "customer_id": customers["customer_id"],
            "persona": customers["persona"],
            "valid_from": start_at,
            "valid_to": pd.Series(pd.DatetimeIndex([horizon] * n).as_unit("us")).mask(
                c["changed"], change_at
            ),
        }
    )
    chg = customers[c["changed"]]
    seg_b = pd.DataFrame(
        {
            "customer_id": chg["customer_id"],
            "persona": chg["persona_after_change"],
            "valid_from": np.maximum(start_at[c["changed"]], change_at),
            "valid_to": horizon,
        }
    )
    personas = pd.concat([seg_a, seg_b], ignore_index=True)
    personas = personas[personas["valid_from"] < personas["valid_to"]]
    personas = personas.sort_values(["customer_id", "valid_from"], kind="stable")
    personas = personas.reset_index(drop=True)
    personas["valid_from"] = personas["valid_from"].astype("datetime64[us, UTC]")
    personas["valid_to"] = personas["valid_to"].astype("datetime64[us, UTC]")

    tcols = {
        k: np.concatenate([p["touches"][k] + (p["offset"] if k == "cust" else 0) for p in parts])
        for k in parts[0]["touches"]
    }
    t_us = base_us + np.round(tcols["time"] * 1e6).astype(np.int64)
    t_order = np.lexsort((t_us, tcols["cust"]))
    touches = pd.DataFrame(
        {
            "customer_id": pd.Series(ids[tcols["cust"][t_order]]).astype("str"),
            "timestamp": pd.to_datetime(t_us[t_order], unit="us", utc=True).as_unit("us"),
            "journey_id": pd.Series(
                np.array(D.JOURNEYS, dtype=object)[tcols["journey"][t_order]]
            ).astype("str"),
            "channel": pd.Categorical.from_codes(
                tcols["ch"][t_order].astype(np.int16), categories=list(D.CHANNELS)
            ),
            "persona": pd.Series(persona_names[tcols["persona"][t_order]]).astype("str"),
            "responded": tcols["responded"][t_order],
        }
    )
    crng = np.random.default_rng(np.random.SeedSequence([int(locals_params["random_state"]), 13]))
    draws = crng.random((n, 3))
    customers["email_opt_in"] = draws[:, 0] < D.OPT_IN["email"]
    customers["sms_opt_in"] = draws[:, 1] < D.OPT_IN["sms"]
    customers["push_opt_in"] = customers["has_app"].to_numpy() & (draws[:, 2] < D.OPT_IN["push"])
    uplift = pd.DataFrame(
        D.UPLIFT,
        index=pd.Index(D.PERSONAS, name="persona"),
        columns=pd.Index(D.JOURNEYS, name="journey_id"),
    )
    response = pd.DataFrame(
        D.RESPONSE,
        index=pd.Index(D.PERSONAS, name="persona"),
        columns=pd.Index(D.JOURNEYS, name="journey_id"),
    )
    journeys = pd.DataFrame(
        {
            "journey_id": list(D.JOURNEYS),
            "channel": list(D.JOURNEY_CHANNEL),
            "trigger": list(D.JOURNEY_TRIGGER),
            "designed_steps": [list(D.DESIGNED_STEPS[j]) for j in D.JOURNEYS],
        }
    )
    incidents = pd.DataFrame(
        {
            "name": [i.name for i in ctx.incidents],
            "channel": [i.channel for i in ctx.incidents],
            "start": [t_start + pd.Timedelta(days=i.start_day) for i in ctx.incidents],
            "end": [t_start + pd.Timedelta(days=i.end_day) for i in ctx.incidents],
            "source": [i.source for i in ctx.incidents],
            "target": [i.target for i in ctx.incidents],
            "factor": [i.factor for i in ctx.incidents],
            "description": [i.description for i in ctx.incidents],
        },
        columns=["name", "channel", "start", "end", "source", "target", "factor", "description"],
    )
    persona_designs = pd.DataFrame(
        {
            "persona": list(D.PERSONAS),
            "description": list(D.PERSONA_DESCRIPTIONS),
            "weight": D.PERSONA_WEIGHTS,
            "sessions_per_day": D.SESSION_RATE,
            **{f"share_{c}": D.CHANNEL_MIX[:, i] for i, c in enumerate(D.SESSION_CHANNELS)},
            "return_probability": D.RETURN_PROB,
        }
    )
    return SyntheticJourneys(
        events,
        customers,
        personas,
        touches,
        response,
        journeys,
        incidents,
        persona_designs,
        locals_params,
        uplift,
    )
