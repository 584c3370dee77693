"""Prefix features (one job: the feature matrix of journey prefixes).

A *prefix* is a customer's events up to and including one event; its features describe what is
known at that moment. The vocabulary (:class:`PrefixSpec`) is learnt on the training log and
stored in the model card, so the same columns come out at scoring time.

Features of the prefix ending at event ``i`` (prefix length ``k``):

- ``lag{j}_activity`` (categorical): the last ``n_lags`` activities (``lag1`` = the current one;
  missing before the case starts; unseen activities share one "other" code);
- ``lag{j}_{attr}`` (categorical): the last two values of each categorical attribute (channel
  first, then e.g. product, resource);
- ``count_{a}`` / ``since_{a}``: how often each (frequent) activity occurred in the prefix and the
  seconds since its last occurrence (missing when never);
- ``count_{attr}={value}``: per-value counts of the channel (and of any categorical attribute
  with at most 12 values);
- ``length``, ``run_length`` (repeats of the current activity), ``n_distinct``;
- ``elapsed`` (seconds since the case's first event), ``delta1``/``delta2`` (seconds between the
  last events), ``mean_gap``, ``events_1d``/``events_7d`` (events in the trailing day/week);
- ``hour`` (UTC, fractional) and ``weekday`` of the current event;
- ``last_{num}`` and ``sum_{num}`` of numeric attributes (e.g. ``value``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from journeymine.nextstep._events import Events, attribute_columns, encode_codes, floats, labels

__all__ = ["PrefixSpec", "activity_codes", "prefix_features"]

_DAY = 86_400.0
_MAX_CATEGORIES = 250  # HistGradientBoosting: categories must be < max_bins (255)
_MAX_COUNTED = 40
_MAX_COUNTED_VALUES = 12
_ATTR_LAGS = 2


def _top(values: np.ndarray, limit: int) -> list[str]:
    counts = Counter(v for v in values if v is not None)
    return [v for v, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]]


@dataclass
class PrefixSpec:
    """The vocabulary the features are computed with (learnt by :meth:`learn`)."""

    activities: list[str]
    n_lags: int = 5
    categorical: dict[str, list[str]] = field(default_factory=dict)
    numeric: list[str] = field(default_factory=list)

    @classmethod
    def learn(cls, ev: Events, *, n_lags: int, attributes: Any) -> PrefixSpec:
        cat, num = attribute_columns(ev, attributes)
        categorical = {}
        for c in cat:
            vocab = _top(labels(ev.columns[c]), _MAX_CATEGORIES)
            if vocab:
                categorical[c] = vocab
        return cls(
            activities=_top(ev.activity, _MAX_CATEGORIES),
            n_lags=int(n_lags),
            categorical=categorical,
            numeric=list(num),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "activities": list(self.activities),
            "n_lags": self.n_lags,
            "categorical": {k: list(v) for k, v in self.categorical.items()},
            "numeric": list(self.numeric),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PrefixSpec:
        return cls(
            activities=[str(a) for a in d["activities"]],
            n_lags=int(d["n_lags"]),
            categorical={str(k): [str(x) for x in v] for k, v in d["categorical"].items()},
            numeric=[str(x) for x in d["numeric"]],
        )

    def lookup(self, name: str | None = None) -> dict[str, int]:
        """label -> code of the activities (``name=None``) or of attribute ``name`` (cached)."""
        cache = self.__dict__.setdefault("_lookups", {})
        if name not in cache:
            vocab = self.activities if name is None else self.categorical[name]
            cache[name] = {v: i for i, v in enumerate(vocab)}
        return cache[name]

    @property
    def counted(self) -> list[str]:
        return self.activities[:_MAX_COUNTED]

    @property
    def counted_values(self) -> dict[str, list[str]]:
        return {k: v for k, v in self.categorical.items() if len(v) <= _MAX_COUNTED_VALUES}

    @property
    def feature_names(self) -> list[str]:
        names = [f"lag{j}_activity" for j in range(1, self.n_lags + 1)]
        for c in self.categorical:
            names += [f"lag{j}_{c}" for j in range(1, _ATTR_LAGS + 1)]
        names += [f"count_{a}" for a in self.counted]
        names += [f"since_{a}" for a in self.counted]
        for c, vocab in self.counted_values.items():
            names += [f"count_{c}={v}" for v in vocab]
        names += ["length", "run_length", "n_distinct", "elapsed", "delta1", "delta2"]
        names += ["mean_gap", "events_1d", "events_7d", "hour", "weekday"]
        for c in self.numeric:
            names += [f"last_{c}", f"sum_{c}"]
        return names

    @property
    def categorical_mask(self) -> np.ndarray:
        n_cat = self.n_lags + _ATTR_LAGS * len(self.categorical)
        mask = np.zeros(len(self.feature_names), dtype=bool)
        mask[:n_cat] = True
        return mask


def activity_codes(ev: Events, spec: PrefixSpec) -> np.ndarray:
    """Code of every event's activity in ``spec.activities`` (-1 when unseen)."""
    return encode_codes(ev.activity, spec.lookup())


def _lagged(codes: np.ndarray, rows: np.ndarray, pos: np.ndarray, j: int, other: int) -> Any:
    """Code of the event ``j - 1`` before each row: NaN before the case start, ``other`` for
    missing/unseen values."""
    out = np.full(len(rows), np.nan)
    ok = pos >= j - 1
    c = codes[rows[ok] - (j - 1)].astype(np.float64)
    c[c < 0] = other
    out[ok] = c
    return out


def _counts_at(
    codes: np.ndarray, n_values: int, ev: Events, rows: np.ndarray, whole: bool
) -> np.ndarray:
    """(len(rows), n_values) counts of each code in the prefix ending at each row."""
    if n_values == 0:
        return np.zeros((len(rows), 0))
    if whole:  # rows are the cases' last events: one bincount
        ok = codes >= 0
        flat = np.bincount(
            ev.case[ok] * n_values + codes[ok], minlength=ev.n_cases * n_values
        ).reshape(ev.n_cases, n_values)
        return flat[ev.case[rows]].astype(np.float64)
    out = np.empty((len(rows), n_values))
    before = ev.starts[ev.case[rows]] - 1
    has_before = before >= 0
    for v in range(n_values):
        cs = np.cumsum(codes == v, dtype=np.int64)
        base = np.where(has_before, cs[np.maximum(before, 0)], 0)
        out[:, v] = cs[rows] - base
    return out


def _since_last(
    codes: np.ndarray,
    n_values: int,
    ev: Events,
    rows: np.ndarray,
    case_start: np.ndarray,
    whole: bool = False,
) -> np.ndarray:
    """Seconds since the last occurrence of each code up to each row (NaN when none)."""
    out = np.full((len(rows), n_values), np.nan)
    if whole and n_values:  # rows are the cases' last events: one scatter of last positions
        ok = (codes >= 0) & (codes < n_values)
        last_at = np.full((ev.n_cases, n_values), -1, dtype=np.int64)
        np.maximum.at(last_at, (ev.case[ok], codes[ok]), np.flatnonzero(ok))
        last = last_at[ev.case[rows]]
        seen = last >= 0
        out[seen] = np.broadcast_to(ev.t[rows][:, None], last.shape)[seen] - ev.t[last[seen]]
        return out
    idx = np.arange(ev.n_events)
    for v in range(n_values):
        last = np.maximum.accumulate(np.where(codes == v, idx, -1))[rows]
        ok = last >= case_start
        out[ok, v] = ev.t[rows[ok]] - ev.t[last[ok]]
    return out


def _trailing_counts(ev: Events, rows: np.ndarray, window: float) -> np.ndarray:
    """Events of the same case in ``(t - window, t]`` up to each row."""
    span = float(ev.t.max() - ev.t.min()) + 2 * window + 1.0
    key = ev.case * span + (ev.t - ev.t.min())
    lo = np.searchsorted(key, key[rows] - window, side="right")
    return (rows - lo + 1).astype(np.float64)


def prefix_features(ev: Events, spec: PrefixSpec, rows: np.ndarray | None = None) -> np.ndarray:
    """Feature matrix (float64, one row per prefix end in ``rows``; default: every case's last
    event), columns :attr:`PrefixSpec.feature_names`."""
    whole = rows is None
    if rows is None:
        rows = ev.last
    rows = np.asarray(rows, dtype=np.int64)
    case_start = ev.starts[ev.case[rows]]
    pos = rows - case_start
    n_act = len(spec.activities)
    codes = activity_codes(ev, spec)
    cols: list[np.ndarray] = []
    for j in range(1, spec.n_lags + 1):
        cols.append(_lagged(codes, rows, pos, j, n_act))
    attr_codes = {}
    for c, vocab in spec.categorical.items():
        ac = (
            encode_codes(ev.columns[c], spec.lookup(c))
            if c in ev.columns
            else np.full(ev.n_events, -1)
        )
        attr_codes[c] = ac
        for j in range(1, _ATTR_LAGS + 1):
            cols.append(_lagged(ac, rows, pos, j, len(vocab)))
    counted = spec.counted
    counts = _counts_at(np.where(codes < len(counted), codes, -1), len(counted), ev, rows, whole)
    blocks = [np.column_stack(cols) if cols else np.zeros((len(rows), 0)), counts]
    blocks.append(_since_last(codes, len(counted), ev, rows, case_start, whole))
    for c, vocab in spec.counted_values.items():
        blocks.append(_counts_at(attr_codes[c], len(vocab), ev, rows, whole))
    # run length of the current activity
    idx = np.arange(ev.n_events)
    new_run = np.ones(ev.n_events, dtype=bool)
    new_run[1:] = (ev.activity[1:] != ev.activity[:-1]) | (ev.case[1:] != ev.case[:-1])
    run_start = np.maximum.accumulate(np.where(new_run, idx, 0))
    t = ev.t
    prev1 = np.where(pos >= 1, t[rows] - t[np.maximum(rows - 1, 0)], np.nan)
    prev2 = np.where(pos >= 2, t[np.maximum(rows - 1, 0)] - t[np.maximum(rows - 2, 0)], np.nan)
    elapsed = t[rows] - t[case_start]
    length = (pos + 1).astype(np.float64)
    n_distinct = (counts > 0).sum(axis=1).astype(np.float64)
    if n_act > len(counted):  # rarer activities: counted distinct per prefix only roughly
        n_distinct = n_distinct + 0.0
    tail = [
        length,
        (rows - run_start[rows] + 1).astype(np.float64),
        n_distinct,
        elapsed,
        prev1,
        prev2,
        np.where(pos >= 1, elapsed / np.maximum(pos, 1), np.nan),
        _trailing_counts(ev, rows, _DAY),
        _trailing_counts(ev, rows, 7 * _DAY),
        (t[rows] % _DAY) / 3600.0,
        ((t[rows] // _DAY + 3) % 7).astype(np.float64),
    ]
    for c in spec.numeric:
        v = floats(ev.columns[c]) if c in ev.columns else np.full(ev.n_events, np.nan)
        filled = np.cumsum(np.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0))
        before = case_start - 1
        base = np.where(before >= 0, filled[np.maximum(before, 0)], 0.0)
        tail += [v[rows], filled[rows] - base]
    blocks.append(np.column_stack(tail))
    return np.ascontiguousarray(np.hstack(blocks), dtype=np.float64)
