"""One customer's events as time-ordered Python lists answering the decision engine's as-of
questions ("how many of these events in the last W", "the latest one") with :mod:`bisect`:
:class:`Timeline`.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from typing import Any

from journeymine.exceptions import ConfigError

__all__ = ["Timeline"]

_US = 1_000_000
#: the engine's event index keeps decision times within this many seconds after the log
_HORIZON_S = 2**28


class Timeline:
    """One customer's events (and reserved contacts) in time order, answering the engine's
    as-of questions with :mod:`bisect` on small Python lists.

    Times are whole seconds (microseconds floored); only events strictly before a decision
    second count, as in the engine. Rows are positions in time order (ties: the order given).

    Parameters
    ----------
    t_us : sequence of int
        Event times in microseconds UTC, non-decreasing.
    activity, channel, journey, product : sequence of str or None
        Per event (None: null).

    Examples
    --------
    >>> tl = Timeline([0, 2_000_000, 5_000_000], ["visit", "add_to_cart", "visit"],
    ...               ["web", "web", "app"], [None, None, None], [None, "p1", None])
    >>> tl.count(tl.rows_of(("visit",)), 7, 10)
    2
    >>> tl.product[tl.last(tl.rows_of(("add_to_cart",)), 7)]
    'p1'
    """

    def __init__(
        self,
        t_us: Sequence[int],
        activity: Sequence[str],
        channel: Sequence[str | None],
        journey: Sequence[str | None],
        product: Sequence[str | None],
    ) -> None:
        if len(t_us) == 0:
            raise ConfigError("a live decision needs at least one event of the customer.")
        self.sec = [int(t) // _US for t in t_us]
        self.activity = list(activity)
        self.channel = list(channel)
        self.journey = list(journey)
        self.product = list(product)
        self.has_channel = any(c is not None for c in self.channel)
        self.first = min(self.sec)
        self._by_activity: dict[str, list[int]] = {}
        for i, a in enumerate(self.activity):
            self._by_activity.setdefault(a, []).append(i)
        self._rows: dict[Any, tuple[list[int], list[int]]] = {}

    def clip(self, sec: int) -> int:
        """A decision second kept within the engine's index range (one second before the
        first event to ~8.5 years after the last one)."""
        return min(max(sec, self.first - 1), max(self.sec) + _HORIZON_S)

    def _keep(self, key: Any, rows: list[int]) -> tuple[list[int], list[int]]:
        got = (rows, [self.sec[i] for i in rows])
        self._rows[key] = got
        return got

    def rows_of(self, acts: tuple[str, ...] | frozenset[str]) -> tuple[list[int], list[int]]:
        """The events of these activities: (rows, seconds)."""
        got = self._rows.get(acts)
        if got is not None:
            return got
        parts = [self._by_activity[a] for a in set(acts) if a in self._by_activity]
        rows = parts[0] if len(parts) == 1 else sorted(i for part in parts for i in part)
        return self._keep(acts, rows)

    def touches(
        self,
        touch: frozenset[str],
        *,
        journey: str | None = None,
        channel: str | None = None,
        channel_acts: frozenset[str] = frozenset(),
    ) -> tuple[list[int], list[int]]:
        """The touches (events of a touch activity), optionally of one journey or on one
        channel: by the channel column, or without one by the activities the journeys of
        that channel send (``channel_acts``), as the engine."""
        key = ("touch", journey, channel)
        got = self._rows.get(key)
        if got is not None:
            return got
        rows = self.rows_of(touch)[0]
        if journey is not None:
            rows = [i for i in rows if self.journey[i] == journey]
        if channel is not None:
            if self.has_channel:
                rows = [i for i in rows if self.channel[i] == channel]
            else:
                rows = [i for i in rows if self.activity[i] in channel_acts]
        return self._keep(key, rows)

    def product_rows(self, acts: tuple[str, ...], product: str) -> tuple[list[int], list[int]]:
        """The events of these activities about ``product``: (rows, seconds)."""
        key = ("product", acts, product)
        got = self._rows.get(key)
        if got is not None:
            return got
        return self._keep(key, [i for i in self.rows_of(acts)[0] if self.product[i] == product])

    @staticmethod
    def count(selected: tuple[list[int], list[int]], t: int, within: int) -> int:
        """Selected events in ``[t - within, t)``."""
        secs = selected[1]
        return bisect_left(secs, t) - bisect_left(secs, t - within)

    @staticmethod
    def last(selected: tuple[list[int], list[int]], t: int) -> int:
        """Row of the latest selected event before ``t`` (-1: none)."""
        i = bisect_left(selected[1], t) - 1
        return selected[0][i] if i >= 0 else -1
