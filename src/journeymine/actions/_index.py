"""As-of questions about a log, vectorised over many (customer, time) decision points.

Events are keyed by ``customer_code * span + second`` and sorted once per activity set, so "how
many events of these activities in ``[t - w, t)``" and "the latest one before ``t``" are two
``searchsorted`` calls for any number of points. Only events strictly before a point's time
count: a decision at the time of a logged touch does not see that touch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from journeymine.exceptions import ConfigError
from journeymine.features import canonical_log, timestamps_us
from journeymine.schema import ACTIVITY, CHANNEL, CUSTOMER_ID, JOURNEY_ID

__all__ = ["EventIndex"]


class EventIndex:
    """A log prepared for as-of counts at many (customer, time) decision points.

    The gates of :func:`~journeymine.actions.next_best_action` and
    :func:`~journeymine.actions.backtest`, and the deciders of
    :func:`journeymine.datasets.simulate`, ask it: how many events of these activities did each
    customer have in ``[t - within, t)``, and when was the latest one before ``t``. Times have
    second resolution on the index's own clock (:meth:`points` turns customer ids and times
    into it); only events strictly before a point count.

    Parameters
    ----------
    log : DataFrame
        Canonical event log.
    product_column : str, optional
        Column naming the product an event is about (for product suppressions).

    Attributes
    ----------
    customers : Index
        The log's customers, sorted; a customer's code is its position (-1: not in the log).
    end : int
        One second after the log's last event, on the index's clock.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeymine.actions import EventIndex
    >>> log = pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "b"],
    ...     "timestamp": pd.to_datetime(["2025-03-01 09:00", "2025-03-02 09:00",
    ...                                  "2025-03-05 09:00", "2025-03-02 10:00"], utc=True),
    ...     "activity": ["email_sent", "visit", "email_sent", "visit"]})
    >>> index = EventIndex(log)
    >>> codes, t = index.points(["a", "b", "z"], pd.to_datetime(["2025-03-06"] * 3, utc=True))
    >>> codes.tolist()
    [0, 1, -1]
    >>> index.count(("email_sent",), codes, t, within=7 * 86400).tolist()  # in the last 7 days
    [2, 0, 0]
    >>> when, row = index.last(("visit",), codes, t)
    >>> index.to_timestamp(when[:2]).strftime("%Y-%m-%d %H:%M").tolist()
    ['2025-03-02 09:00', '2025-03-02 10:00']
    """

    def __init__(self, log: pd.DataFrame, product_column: str | None = None) -> None:
        log = canonical_log(log, what="actions")
        codes, customers = pd.factorize(log[CUSTOMER_ID], sort=True)
        self.customers = pd.Index(customers, name=CUSTOMER_ID, dtype="str")
        t = timestamps_us(log) // 1_000_000
        self.t0 = int(t.min()) - 1
        self.t = t - self.t0  # >= 1
        self.end = int(self.t.max()) + 1  # one second after the last event
        # keys are customer * span + second: decision times up to ~8.5 years after the log's
        # end stay inside their customer's key range (times are clipped into [0, span - 1])
        self.span = self.end + 2**28
        self.code = codes.astype(np.int64)
        # names as integer codes: every mask below is a lookup, not a string comparison
        self.act_code, self.act_names = _factorize(log[ACTIVITY])
        self.ch_code: np.ndarray | None = None
        self.ch_names = pd.Index([])
        if CHANNEL in log.columns:
            self.ch_code, self.ch_names = _factorize(log[CHANNEL])
        self.j_code: np.ndarray = np.full(len(log), -1, dtype=np.int64)
        self.j_names = pd.Index([])
        if JOURNEY_ID in log.columns:
            self.j_code, self.j_names = _factorize(log[JOURNEY_ID])
        if product_column is not None and product_column in log.columns:
            prod, self.products = pd.factorize(log[product_column], use_na_sentinel=True)
            self.product = prod.astype(np.int64)
        else:
            self.products = pd.Index([])
            self.product = np.full(len(log), -1, dtype=np.int64)
        self.first = np.full(len(customers), 0, dtype=np.int64)
        order = np.lexsort((self.t, self.code))
        starts = np.flatnonzero(np.r_[True, np.diff(self.code[order]) != 0])
        self.first[self.code[order][starts]] = self.t[order][starts]
        self._keys: dict[Any, tuple[np.ndarray, np.ndarray]] = {}

    # -- points ------------------------------------------------------------------------------
    def points(self, customer_ids: Any, times: Any) -> tuple[np.ndarray, np.ndarray]:
        """Customer codes (-1 = not in the log) and times (seconds on the index's clock)."""
        codes = self.customers.get_indexer(pd.Index(np.asarray(customer_ids, dtype=object)))
        ts = pd.DatetimeIndex(pd.to_datetime(times, utc=True))
        if ts.isna().any():
            raise ConfigError("decision times must not be missing.")
        sec = ts.as_unit("us").asi8 // 1_000_000 - self.t0
        return codes.astype(np.int64), np.clip(sec, 0, self.span - 1).astype(np.int64)

    # -- masks ----------------------------------------------------------------------------------
    def is_activity(self, acts: tuple[str, ...]) -> np.ndarray:
        """Events whose activity is one of ``acts``."""
        return _lookup(self.act_names, acts)[self.act_code]

    def is_journey(self, name: str) -> np.ndarray:
        """Events whose journey_id is ``name``."""
        return _lookup(self.j_names, (name,))[self.j_code]

    def has_journey(self) -> np.ndarray:
        """Events with a journey_id."""
        return self.j_code >= 0

    def journey_name(self, rows: np.ndarray) -> np.ndarray:
        """journey_id of the given rows (None where null)."""
        names = np.array([*self.j_names.astype(str), None], dtype=object)
        return names[self.j_code[rows]]

    def on_channel(self, channel: str, channel_of: dict[str, str]) -> np.ndarray:
        """Events on ``channel``: the log's channel column, or (without one) the channel of the
        journey that sends the activity."""
        if self.ch_code is not None:
            return _lookup(self.ch_names, (channel,))[self.ch_code]
        return self.is_activity(tuple(a for a, c in channel_of.items() if c == channel))

    # -- keyed lookups ------------------------------------------------------------------------
    def _sorted(self, name: Any, mask: np.ndarray, group: np.ndarray) -> tuple[Any, Any]:
        if name not in self._keys:
            idx = np.flatnonzero(mask)
            keys = group[idx] * self.span + self.t[idx]
            o = np.argsort(keys, kind="stable")
            self._keys[name] = (keys[o], idx[o])
        return self._keys[name]

    def _acts(self, acts: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        return self._sorted(("act", acts), self.is_activity(acts), self.code)

    def count(
        self, acts: tuple[str, ...], codes: np.ndarray, t: np.ndarray, within: int
    ) -> np.ndarray:
        """Events of ``acts`` per point in ``[t - within, t)``."""
        keys, _ = self._acts(acts)
        hi = np.searchsorted(keys, codes * self.span + t, side="left")
        lo = np.searchsorted(keys, codes * self.span + np.maximum(t - within, 0), side="left")
        return np.where(codes >= 0, hi - lo, 0)

    def last(
        self, acts: tuple[str, ...], codes: np.ndarray, t: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Time (-1 if none) and row of the latest event of ``acts`` before ``t``."""
        keys, rows = self._acts(acts)
        return self._last(keys, rows, codes, codes, t)

    def _last(
        self, keys: np.ndarray, rows: np.ndarray, group: np.ndarray, codes: np.ndarray, t: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        i = np.searchsorted(keys, group * self.span + t, side="left") - 1
        ok = (codes >= 0) & (i >= 0)
        ok[ok] &= keys[i[ok]] // self.span == group[ok]
        when = (
            np.where(ok, keys[np.maximum(i, 0)] % self.span, -1) if len(keys) else -np.ones_like(t)
        )
        row = np.where(ok, rows[np.maximum(i, 0)], -1) if len(keys) else -np.ones_like(t)
        return when, row

    def count_product(
        self,
        acts: tuple[str, ...],
        codes: np.ndarray,
        products: np.ndarray,
        t: np.ndarray,
        within: int,
    ) -> np.ndarray:
        """Events of ``acts`` about the given product per point in ``[t - within, t)``."""
        n_prod = max(len(self.products), 1)
        group = self.code * n_prod + np.maximum(self.product, 0)
        mask = self.is_activity(acts) & (self.product >= 0)
        keys, _ = self._sorted(("prod", acts), mask, group)
        g = codes * n_prod + np.maximum(products, 0)
        hi = np.searchsorted(keys, g * self.span + t, side="left")
        lo = np.searchsorted(keys, g * self.span + np.maximum(t - within, 0), side="left")
        return np.where((codes >= 0) & (products >= 0), hi - lo, 0)

    def count_masked(
        self, name: Any, mask: np.ndarray, codes: np.ndarray, t: np.ndarray, within: int
    ) -> np.ndarray:
        """Like :meth:`count` for any event mask, cached under ``name``."""
        keys, _ = self._sorted(name, mask, self.code)
        hi = np.searchsorted(keys, codes * self.span + t, side="left")
        lo = np.searchsorted(keys, codes * self.span + np.maximum(t - within, 0), side="left")
        return np.where(codes >= 0, hi - lo, 0)

    def last_masked(
        self, name: Any, mask: np.ndarray, codes: np.ndarray, t: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`last` for any event mask, cached under ``name``."""
        keys, rows = self._sorted(name, mask, self.code)
        return self._last(keys, rows, codes, codes, t)

    def to_timestamp(self, seconds: np.ndarray) -> pd.DatetimeIndex:
        return pd.to_datetime((np.asarray(seconds) + self.t0) * 1_000_000, unit="us", utc=True)


def _factorize(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes (-1 for null) and the names, for a categorical or any column."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy().astype(np.int64), pd.Index(values.cat.categories)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes.astype(np.int64), pd.Index(uniques)


def _lookup(names: pd.Index, wanted: tuple[str, ...]) -> np.ndarray:
    """A bool table over ``names`` plus a last False entry that code -1 (null) indexes."""
    table = np.zeros(len(names) + 1, dtype=bool)
    if len(names):
        table[:-1] = np.isin(np.asarray(names.astype(str), dtype=object), list(wanted))
    return table
