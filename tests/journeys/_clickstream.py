"""An e-commerce clickstream generator written independently of ``journeymine.datasets``, for
checking change detection on logs the toolkit was not tuned on.

What differs from ``make_journeys`` on purpose: naive timestamps, other activity and platform
names, a different session grammar, a strong weekly rhythm in traffic *and* in conversion
(weekend sessions browse more and buy less), bursty traffic (day-level AR(1) log-intensity
plus campaign bursts of 1-4 days that bring several times the traffic), heavy-tailed user
activity, and day-level random effects on every transition (overdispersion with
autocorrelation). Incidents multiply one transition on one platform over a period.

Used by ``tests/journeys/test_change.py`` and ``benchmarks/bench_change.py``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

PLATFORMS = ("desktop", "ios", "android")
# activity -> list of (next activity, base weight); "" ends the session
GRAMMAR: dict[str, list[tuple[str, float]]] = {
    "landing": [("category", 4), ("site_search", 3), ("item_page", 2), ("", 1.5)],
    "category": [("item_page", 5), ("category", 1.5), ("site_search", 1), ("", 2)],
    "site_search": [("item_page", 5), ("site_search", 1), ("error_page", 0.15), ("", 1.5)],
    "item_page": [
        ("basket_add", 2),
        ("item_page", 2.5),
        ("category", 1),
        ("help_center", 0.15),
        ("", 2.5),
    ],
    "basket_add": [("basket", 3), ("item_page", 1.5), ("", 1)],
    "basket": [("checkout_start", 3), ("item_page", 1), ("", 1.5)],
    "checkout_start": [("payment", 4), ("basket", 0.7), ("error_page", 0.1), ("", 1.2)],
    "payment": [("order_placed", 6), ("error_page", 0.2), ("help_center", 0.2), ("", 1)],
    "order_placed": [("", 1)],
    "error_page": [("landing", 1), ("", 2)],
    "help_center": [("landing", 0.5), ("", 2)],
}
# transitions that intent (and the weekend) pushes up or down: forward steps of the funnel
FORWARD = {
    ("item_page", "basket_add"),
    ("basket_add", "basket"),
    ("basket", "checkout_start"),
    ("checkout_start", "payment"),
    ("payment", "order_placed"),
}


@dataclass(frozen=True)
class ClickIncident:
    """On ``platform`` from day ``start_day`` for ``days`` days, the weight of ``source ->
    target`` is multiplied by ``factor`` (the lost weight ends the session)."""

    platform: str
    start_day: int
    days: int
    source: str
    target: str
    factor: float


def make_clickstream(
    n_users: int = 600,
    *,
    days: int = 182,
    start: str = "2024-03-04",
    sessions_per_user: float = 12.0,
    incidents: tuple[ClickIncident, ...] = (),
    weekend_traffic: float = 1.5,
    weekend_effect: float = -0.5,
    burst_rate: float = 0.04,
    noise_sd: float = 0.25,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events (customer_id, timestamp naive, activity, channel) and the incidents table
    (name, channel, start, end, source, target) of a bursty, weekly-seasonal clickstream.

    ``sessions_per_user`` is the mean number of sessions per user over the period (about 10
    events per session): 600 users make about 30k events.
    """
    rng = np.random.default_rng(seed)
    day0 = pd.Timestamp(start)
    # day-level traffic: weekly rhythm x AR(1) noise x campaign bursts
    dow = (day0.day_of_week + np.arange(days)) % 7
    weekend = dow >= 5
    level = np.zeros(days)
    for d in range(1, days):
        level[d] = 0.7 * level[d - 1] + rng.normal(0, 0.2)
    burst = np.ones(days)
    d = 0
    while d < days:
        if rng.random() < burst_rate:
            length = int(rng.integers(1, 5))
            burst[d : d + length] *= rng.uniform(2.0, 4.0)
            d += length
        d += 1
    traffic = np.where(weekend, weekend_traffic, 1.0) * np.exp(level) * burst
    traffic = traffic / traffic.sum() * n_users * sessions_per_user
    n_sessions = rng.poisson(traffic)
    # users: heavy-tailed activity, a main platform, an intent level
    activity = rng.lognormal(0.0, 1.0, n_users)
    activity /= activity.sum()
    main_platform = rng.choice(len(PLATFORMS), n_users, p=[0.5, 0.3, 0.2])
    intent = rng.normal(0.0, 0.6, n_users)
    # day-level random effect per platform and forward transition (autocorrelated)
    eff = np.zeros((days, len(PLATFORMS)))
    for d in range(1, days):
        eff[d] = 0.6 * eff[d - 1] + rng.normal(0, noise_sd * 0.8, len(PLATFORMS))
    rows_c, rows_t, rows_a, rows_p = [], [], [], []
    for d in range(days):
        users = rng.choice(n_users, n_sessions[d], p=activity)
        for u in users:
            plat = main_platform[u] if rng.random() < 0.85 else rng.integers(len(PLATFORMS))
            push = intent[u] + eff[d, plat] + (weekend_effect if weekend[d] else 0.0)
            hour = rng.choice(24, p=_HOURS)
            t = day0 + pd.Timedelta(days=d, hours=int(hour), seconds=int(rng.integers(3600)))
            act = "landing"
            for _ in range(40):
                rows_c.append(u)
                rows_t.append(t)
                rows_a.append(act)
                rows_p.append(plat)
                nxt, w = zip(*GRAMMAR[act], strict=True)
                w = np.array(w, dtype=float)
                for i, b in enumerate(nxt):
                    if (act, b) in FORWARD:
                        w[i] *= np.exp(push)
                    for inc in incidents:
                        if (
                            PLATFORMS[plat] == inc.platform
                            and inc.start_day <= d < inc.start_day + inc.days
                            and (act, b) == (inc.source, inc.target)
                        ):
                            lost = w[i] * (1 - inc.factor)
                            w[i] -= lost
                            w[nxt.index("")] += lost
                act = nxt[rng.choice(len(w), p=w / w.sum())]
                if not act:
                    break
                t = t + pd.Timedelta(seconds=int(rng.exponential(50)) + 2)
    events = pd.DataFrame(
        {
            "customer_id": pd.Series(rows_c).map(lambda u: f"u{u:05d}"),
            "timestamp": pd.to_datetime(pd.Series(rows_t)),
            "activity": rows_a,
            "channel": np.asarray(PLATFORMS, dtype=object)[np.asarray(rows_p, dtype=int)],
        }
    )
    truth = pd.DataFrame(
        {
            "name": [f"{i.platform}_{i.source}_{i.target}" for i in incidents],
            "channel": [i.platform for i in incidents],
            "start": [day0 + pd.Timedelta(days=i.start_day) for i in incidents],
            "end": [day0 + pd.Timedelta(days=i.start_day + i.days) for i in incidents],
            "source": [i.source for i in incidents],
            "target": [i.target for i in incidents],
        }
    )
    return events, truth


_H = np.array([1, 0.5, 0.3, 0.3, 0.3, 0.5, 1, 2, 3, 3.5, 3.5, 3.5, 4, 3.5, 3.5, 3.5, 3.5, 4, 5,
               6, 6.5, 6, 4, 2], dtype=float)  # fmt: skip
_HOURS = _H / _H.sum()
