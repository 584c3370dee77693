"""The persona model's aggregates of one live customer, updated event by event:
:class:`LiveAggregates`.

:func:`journeymine.features.aggregates.numpy_aggregates` computes a customer's integer
aggregates from the whole history; a live customer's history only grows, mostly at its end,
so the service keeps the aggregates with a small *carry* (the open session, the previous
session's last channel, the touches that can still get a response) and folds each new event in
O(1): counts, sums and the closed sessions' contributions are final once added; the open
session's contributions are added when it is read (:meth:`LiveAggregates.row`). The state is
plain JSON, stored with the customer (``StateStore.set_persona``) so that every worker and
machine continues from it.

Definitions are those of :mod:`journeymine.features` (gap-based sessions); the result equals
``numpy_aggregates`` on the same events bit for bit (``tests/service/test_live_aggregates.py``
compares them event by event on generated customers). Events folded must come in the
customer's time order (ties: order of arrival); an event older than the last one folded
(a late event) cannot be folded: the service then folds the whole history again in time order,
so a late event gives the state it would have given in order. Models that build sessions
from ``session_id`` are not supported here (:meth:`LiveAggregates.supports` is False): the
service assigns them from the whole history.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from journeymine.features.encode import MAX_ABS_VALUE, Vocab
from journeymine.features.spec import US_PER_HOUR, US_PER_SECOND

__all__ = ["LiveAggregates"]

_FORMAT = 1


class LiveAggregates:
    """One customer's aggregates for a model's vocabulary, folded event by event.

    Parameters
    ----------
    vocab : Vocab
        The persona model's lookups (``model.vocab_``).

    Examples
    --------
    >>> from journeymine.features.spec import FeatureSpec
    >>> from journeymine.features.encode import Vocab
    >>> spec = FeatureSpec(activities=("visit", "purchase"), channels=("web",), as_of_us=0,
    ...                    purchase_activities=("purchase",))
    >>> agg = LiveAggregates(Vocab.of(spec))
    >>> agg.add({"activity": "visit", "channel": "web"}, 0)
    >>> agg.add({"activity": "purchase", "channel": "web", "value": 9.99}, 60_000_000)
    >>> row = agg.row()
    >>> int(row[spec.aggregate_names.index("n_sessions")])
    1
    >>> int(row[spec.aggregate_names.index("value_cents")])
    999
    """

    def __init__(self, vocab: Vocab) -> None:
        spec = vocab.spec
        self.vocab = vocab
        self.spec = spec
        names = spec.aggregate_names
        self._pos = {name: i for i, name in enumerate(names)}
        self.n_act = len(spec.activities) + 1
        self.n_ch = len(spec.channels) + 1
        plan = vocab.plan
        self._touch = [bool(x) for x in plan.touch]
        self._purchase = [bool(x) for x in plan.purchase]
        self._cart = [bool(x) for x in plan.cart]
        self._browse = [bool(x) for x in plan.browse]
        self._tr = {int(k): int(v) for k, v in enumerate(plan.tr_lookup) if v >= 0}
        chans = (*spec.channels, "__other__")
        self._c_act = self._cols([f"act:{a}" for a in (*spec.activities, "__other__")])
        self._c_ch = self._cols([f"ch:{c}" for c in chans])
        self._c_sch = self._cols([f"sch:{c}" for c in chans])
        self._c_osch = self._cols([f"osch:{c}" for c in chans])
        self._c_touch = self._cols([f"touch:{j}" for j in spec.journeys])
        self._c_resp = self._cols([f"resp:{j}" for j in spec.journeys])
        self._c_tr = self._cols([f"tr:{x}>{y}" for x, y in spec.transitions])
        self._c_hour = self._cols([f"hour:{h:02d}" for h in range(24)])
        self._c_wday = self._cols([f"wday:{d}" for d in range(7)])
        self.width = len(names)
        self.reset()

    def _cols(self, keys: list[str]) -> list[int]:
        return [self._pos.get(k, -1) for k in keys]

    @staticmethod
    def supports(vocab: Vocab) -> bool:
        """Whether the model's sessions are gap-based (the ones folded here)."""
        return not vocab.spec.use_session_id

    def reset(self) -> None:
        """Forget every event."""
        self.agg = [0] * self.width  # everything final: closed sessions, counts, sums
        self.n = 0
        self.first = 0
        self.last = 0
        self.last_day: int | None = None
        # the open session (session events only)
        self.s_n = 0
        self.s_t0 = 0
        self.s_t1 = 0
        self.s_flags = [False, False, False, False]  # browse, cart, purchase, journey
        self.s_last_ch = -1
        self.s_last_act = -1
        self.prev_last_ch: int | None = None  # last channel of the session before the open one
        self.org_last: int | None = None  # last_organic_us of the closed sessions
        # touches that can still get a response: [t, journey_id, journey code]
        self.pending: list[list[Any]] = []
        self.resp_now: list[str] = []  # journeys of the session events at time ``last``

    # -- folding ------------------------------------------------------------------------------
    def _inc(self, col: int, by: int = 1) -> None:
        if col >= 0:
            self.agg[col] += by

    def _set(self, name: str, value: int) -> None:
        col = self._pos.get(name, -1)
        if col >= 0:
            self.agg[col] = value

    def _scalar(self, name: str, by: int = 1) -> None:
        self._inc(self._pos.get(name, -1), by)

    def add(self, event: Mapping[str, Any], t_us: int) -> None:
        """Fold one event at ``t_us`` (microseconds UTC), which must not be older than the
        last event folded (ValueError otherwise: fold the history again in time order)."""
        t = int(t_us)
        if self.n and t < self.last:
            raise ValueError(
                f"event at {t} is older than the last one folded ({self.last}); fold the "
                f"customer's events again in time order."
            )
        vocab = self.vocab
        act_name = event.get("activity")
        act = vocab.activity.get(str(act_name), self.n_act - 1)
        ch_name = event.get("channel")
        ch = self.n_ch - 1 if ch_name is None else vocab.channel.get(str(ch_name), self.n_ch - 1)
        j = event.get("journey_id")
        jraw = None if j is None else str(j)
        jv = -1 if jraw is None else vocab.journey.get(jraw, -1)
        if self.n == 0:
            self.first = t
        elif t > self.last:
            self.resp_now = []
        self.n += 1
        self.last = t
        self._scalar("n_events")
        self._inc(self._c_act[act])
        self._inc(self._c_ch[ch])
        value = event.get("value")
        if self._purchase[act] and value is not None:
            v = float(value)
            if math.isfinite(v) and abs(v) <= MAX_ABS_VALUE:
                self._scalar("value_cents", math.floor(v * 100.0 + 0.5))
                self._scalar("n_valued_purchases")
        rw = int(self.spec.response_window_us)
        if self._touch[act]:
            self._scalar("n_touches")
            if jv >= 0:
                self._inc(self._c_touch[jv])
            if jraw is not None:
                if jraw in self.resp_now:  # a response at the same time, arrived before
                    self._responded(jv)
                else:
                    self.pending.append([t, jraw, jv])
            return
        # a session event: responses first (touches within the window before it)
        if jraw is not None:
            keep = []
            for p in self.pending:
                if p[1] == jraw and p[0] + rw >= t:
                    self._responded(p[2])
                else:
                    keep.append(p)
            self.pending = keep
            self.resp_now.append(jraw)
        self.pending = [p for p in self.pending if p[0] + rw >= t]
        self._session_event(t, act, ch, jraw is not None)

    def _responded(self, jv: int) -> None:
        self._scalar("n_responded")
        if jv >= 0:
            self._inc(self._c_resp[jv])

    def _session_event(self, t: int, act: int, ch: int, journey: bool) -> None:
        self._scalar("n_session_events")
        self._inc(self._c_sch[ch])
        hours = t // US_PER_HOUR
        day = hours // 24
        self._inc(self._c_hour[hours - day * 24])
        self._inc(self._c_wday[(day + 3) % 7])
        if self.last_day is None or day != self.last_day:
            self._scalar("n_active_days")
        self.last_day = day
        self._set("last_session_us", t)
        self._scalar("session_t_rel_s", (t - self.first) // US_PER_SECOND)
        if self.s_n and t - self.s_t1 <= self.spec.session_gap_us:  # the open session goes on
            self._scalar("n_transitions")
            k = self._tr.get(self.s_last_act * self.n_act + act)
            if k is not None:
                self._inc(self._c_tr[k])
            self.s_n += 1
        else:
            if self.s_n:
                self._close()
            self.s_n, self.s_t0 = 1, t
            self.s_flags = [False, False, False, False]
        self.s_t1 = t
        self.s_last_ch = ch
        self.s_last_act = act
        flags = self.s_flags
        flags[0] |= self._browse[act]
        flags[1] |= self._cart[act]
        flags[2] |= self._purchase[act]
        flags[3] |= journey

    def _session_terms(self) -> list[tuple[str | int, int]]:
        """What the open session adds (column name or position, amount)."""
        browse, cart, purchase, journey = self.s_flags
        out: list[tuple[str | int, int]] = [
            ("n_sessions", 1),
            ("n_single_event_sessions", int(self.s_n == 1)),
            ("session_us", self.s_t1 - self.s_t0),
            ("sessions_browse", int(browse)),
            ("sessions_browse_purchase", int(browse and purchase)),
            ("sessions_cart", int(cart)),
            ("sessions_cart_no_purchase", int(cart and not purchase)),
            ("sessions_purchase", int(purchase)),
        ]
        if self.prev_last_ch is not None:
            out.append(("session_channel_switches", int(self.prev_last_ch != self.s_last_ch)))
        if not journey:
            out += [
                ("n_organic_sessions", 1),
                (self._c_osch[self.s_last_ch], 1),
                ("organic_t_rel_s", (self.s_t0 - self.first) // US_PER_SECOND),
            ]
        return out

    def _apply(self, agg: list[int], terms: Iterable[tuple[str | int, int]]) -> None:
        for key, by in terms:
            col = self._pos.get(key, -1) if isinstance(key, str) else key
            if col >= 0:
                agg[col] += by

    def _close(self) -> None:
        self._apply(self.agg, self._session_terms())
        if not self.s_flags[3]:
            self.org_last = self.s_t1
        self.prev_last_ch = self.s_last_ch

    # -- reading ------------------------------------------------------------------------------
    def row(self) -> np.ndarray:
        """The aggregates of the events folded so far (``spec.aggregate_names`` order), as
        ``numpy_aggregates`` gives them."""
        agg = list(self.agg)
        org_last = self.org_last
        if self.s_n:
            self._apply(agg, self._session_terms())
            if not self.s_flags[3]:
                org_last = self.s_t1
        for name, value in (
            ("first_us", self.first),
            ("last_us", self.last),
            ("last_organic_us", org_last or 0),
        ):
            col = self._pos.get(name, -1)
            if col >= 0:
                agg[col] = value
        return np.asarray(agg, dtype=np.int64)

    # -- JSON ---------------------------------------------------------------------------------
    def to_json(self) -> str:
        """The state as JSON (see :meth:`from_json`)."""
        return json.dumps(
            {
                "format": _FORMAT,
                "width": self.width,
                "agg": self.agg,
                "n": self.n,
                "first": self.first,
                "last": self.last,
                "last_day": self.last_day,
                "s": [
                    self.s_n,
                    self.s_t0,
                    self.s_t1,
                    self.s_flags,
                    self.s_last_ch,
                    self.s_last_act,
                ],
                "prev_last_ch": self.prev_last_ch,
                "org_last": self.org_last,
                "pending": self.pending,
                "resp_now": self.resp_now,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, vocab: Vocab, raw: str | bytes) -> LiveAggregates:
        """A state saved by :meth:`to_json` for the same vocabulary (ValueError otherwise)."""
        d = json.loads(raw)
        out = cls(vocab)
        if d.get("format") != _FORMAT or d.get("width") != out.width:
            raise ValueError("the saved aggregates are for another model or format.")
        out.agg = [int(x) for x in d["agg"]]
        out.n, out.first, out.last = int(d["n"]), int(d["first"]), int(d["last"])
        out.last_day = d["last_day"]
        s = d["s"]
        out.s_n, out.s_t0, out.s_t1 = int(s[0]), int(s[1]), int(s[2])
        out.s_flags = [bool(x) for x in s[3]]
        out.s_last_ch, out.s_last_act = int(s[4]), int(s[5])
        out.prev_last_ch = d["prev_last_ch"]
        out.org_last = d["org_last"]
        out.pending = [list(p) for p in d["pending"]]
        out.resp_now = list(d["resp_now"])
        return out
