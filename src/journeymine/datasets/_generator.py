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
from journeymine.datasets._chunk import _build_cum, _chunk, _Ctx
from journeymine.exceptions import ConfigError

__all__ = ["SyntheticJourneys", "make_journeys"]

CHUNK = 20_000  # customers per chunk; part of the seed contract, do not change lightly


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

    Examples
    --------
    :func:`make_journeys` returns one:

    >>> from journeymine.datasets import make_journeys
    >>> data = make_journeys(200, days=60, random_state=0)
    >>> data.events.columns.tolist()
    ['customer_id', 'timestamp', 'activity', 'channel', 'journey_id', 'value', 'product']
    >>> len(data.customers), data.response.shape  # the response is persona x journey
    (200, (6, 7))

    The ground truth says who changed persona on the change day (day 30 of 60 here):

    >>> data.params["persona_change_day"]
    30
    >>> before, after = data.persona_at("2025-01-15"), data.persona_at("2025-02-25")
    >>> moved = before != after.reindex(before.index)
    >>> changed = data.customers.set_index("customer_id")["changed"]
    >>> bool((moved == changed.reindex(before.index)).all())
    True
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
