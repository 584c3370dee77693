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
from journeymine.personas._frame import canonical_log, timestamps_us
from journeymine.schema import ACTIVITY, CHANNEL, CUSTOMER_ID, JOURNEY_ID

__all__ = ["EventIndex"]


class EventIndex:
    """A log prepared for as-of counts (second resolution).

    Parameters
    ----------
    log : DataFrame
        Canonical event log.
    product_column : str, optional
        Column naming the product an event is about (for product suppressions).
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
        self.activity = np.asarray(log[ACTIVITY].astype(str).to_numpy(), dtype=object)
        self.channel = (
            np.asarray(log[CHANNEL].astype(str).to_numpy(), dtype=object)
            if CHANNEL in log.columns
            else None
        )
        self.journey = (
            np.asarray(log[JOURNEY_ID].astype(object).to_numpy(), dtype=object)
            if JOURNEY_ID in log.columns
            else np.full(len(log), None, dtype=object)
        )
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

    # -- keyed lookups ------------------------------------------------------------------------
    def _sorted(self, name: Any, mask: np.ndarray, group: np.ndarray) -> tuple[Any, Any]:
        if name not in self._keys:
            idx = np.flatnonzero(mask)
            keys = group[idx] * self.span + self.t[idx]
            o = np.argsort(keys, kind="stable")
            self._keys[name] = (keys[o], idx[o])
        return self._keys[name]

    def _acts(self, acts: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        return self._sorted(("act", acts), np.isin(self.activity, acts), self.code)

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
        mask = np.isin(self.activity, acts) & (self.product >= 0)
        keys, _ = self._sorted(("prod", acts), mask, group)
        g = codes * n_prod + np.maximum(products, 0)
        hi = np.searchsorted(keys, g * self.span + t, side="left")
        lo = np.searchsorted(keys, g * self.span + np.maximum(t - within, 0), side="left")
        return np.where((codes >= 0) & (products >= 0), hi - lo, 0)

    def touches(
        self, touch_activities: tuple[str, ...], channel_of: dict[str, str]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Mask of touch events and the channel of each event (the log's channel column, or the
        channel of the journey that sends the activity)."""
        mask = np.isin(self.activity, touch_activities)
        if self.channel is not None:
            return mask, self.channel
        ch = np.array([channel_of.get(a, "") for a in self.activity], dtype=object)
        return mask, ch

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
