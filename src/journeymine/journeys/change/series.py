"""Series per time bin built from a log: edges, conversions and volumes per group."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from journeymine.exceptions import (
    ConfigError,
)
from journeymine.journeys.change._log import (
    _activity_codes,
    _Log,
)
from journeymine.journeys.change.scan import _Series


def _bins(lg: _Log, freq: str | pd.Timedelta) -> tuple[np.ndarray, int, int, int]:
    """Bin index of each event, number of bins, origin (us) and bin width (us)."""
    try:
        off = to_offset(freq)
        width = int(off.nanos // 1000)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"freq={freq!r} is not a fixed frequency; use e.g. 'D', '12h' or '7D' (calendar "
            f"frequencies such as 'W' or 'MS' have no fixed length)."
        ) from exc
    if width <= 0:
        raise ConfigError(f"freq must be a positive duration, got {freq!r}.")
    origin = int(lg.ts.min() // width * width)
    b = (lg.ts - origin) // width
    return b.astype(np.int64), int(b.max()) + 1, origin, width


def _edge_series(lg: _Log, b: np.ndarray, t_len: int, min_support: int) -> list[_Series]:
    n_act = len(lg.acts)
    src_key = lg.group * n_act + lg.act
    has = lg.nxt >= 0
    ekey = src_key[has] * n_act + lg.act[lg.nxt[has]]
    frequent, idx = _frequent(ekey, len(lg.groups) * n_act * n_act, min_support)
    if not len(frequent):
        return []
    hit = idx >= 0
    k = np.bincount(idx[hit] * t_len + b[has][hit], minlength=len(frequent) * t_len)
    k = k.reshape(len(frequent), t_len)
    src_needed = np.unique(frequent // n_act)
    sidx = np.searchsorted(src_needed, src_key)
    sidx = np.minimum(sidx, len(src_needed) - 1)
    shit = src_needed[sidx] == src_key
    n = np.bincount(sidx[shit] * t_len + b[shit], minlength=len(src_needed) * t_len)
    n = n.reshape(len(src_needed), t_len)
    out = []
    for row, e in enumerate(frequent.tolist()):
        gs, t = divmod(e, n_act)
        g, s = divmod(gs, n_act)
        out.append(
            _Series(
                "edges",
                g,
                str(lg.acts[s]),
                str(lg.acts[t]),
                k[row],
                n[np.searchsorted(src_needed, gs)],
                "binomial",
            )
        )
    return out


def _exposure(lg: _Log, b: np.ndarray, t_len: int) -> np.ndarray:
    """Distinct active customers per (segment, bin): customers with an event not tagged with
    a journey_id (an outbound touch alone does not make a customer active)."""
    n_seg = int(lg.seg.max()) + 1
    m = lg.initiated
    key = (lg.cust[m] * t_len + b[m]) * n_seg + lg.seg[m]
    if len(key):  # events are sorted by customer and time: repeats are adjacent
        key = key[np.r_[True, key[1:] != key[:-1]]]
    if n_seg > 1:
        key = np.unique(key)
    seg, bins = key % n_seg, (key // n_seg) % t_len
    return np.bincount(seg * t_len + bins, minlength=n_seg * t_len).reshape(n_seg, t_len)


def _frequent(key: np.ndarray, space: int, min_support: int) -> tuple[np.ndarray, np.ndarray]:
    """The keys occurring at least ``min_support`` times (sorted) and, for each element, the
    position of its key among them (-1 when rare)."""
    if space <= 50_000_000:
        counts = np.bincount(key, minlength=space)
        frequent = np.flatnonzero(counts >= min_support)
        row = np.full(space, -1, dtype=np.int64)
        row[frequent] = np.arange(len(frequent))
        return frequent, row[key]
    uniq, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    keep = counts >= min_support
    row = np.where(keep, np.cumsum(keep) - 1, -1)
    return uniq[keep], row[inverse]


def _volume_series(lg: _Log, b: np.ndarray, t_len: int, min_support: int) -> list[_Series]:
    n_act = len(lg.acts)
    key = lg.group * n_act + lg.act
    frequent, idx = _frequent(key, len(lg.groups) * n_act, min_support)
    if not len(frequent):
        return []
    hit = idx >= 0
    k = np.bincount(idx[hit] * t_len + b[hit], minlength=len(frequent) * t_len)
    k = k.reshape(len(frequent), t_len)
    expo = _exposure(lg, b, t_len)
    seg_of_group = pd.Series(lg.seg).groupby(lg.group).first()
    out = []
    for row, e in enumerate(frequent.tolist()):
        g, a = divmod(e, n_act)
        out.append(
            _Series(
                "volumes",
                g,
                str(lg.acts[a]),
                None,
                k[row],
                np.maximum(expo[int(seg_of_group[g])], k[row] > 0),
                "poisson",
            )
        )
    return out


def _conversion_series(
    lg: _Log, b: np.ndarray, t_len: int, pairs: Sequence[tuple[str, str]], min_support: int
) -> list[_Series]:
    out = []
    n_sess = int(lg.session.max()) + 1
    pos = np.arange(len(lg.act))
    n_g = len(lg.groups)
    for a_name, b_name in pairs:
        ca, cb = _activity_codes(lg, [a_name, b_name], "conversions")
        first_a = np.full(n_sess, len(pos), dtype=np.int64)
        ma = lg.act == ca
        np.minimum.at(first_a, lg.session[ma], pos[ma])
        last_b = np.full(n_sess, -1, dtype=np.int64)
        mb = lg.act == cb
        np.maximum.at(last_b, lg.session[mb], pos[mb])
        has_a = first_a < len(pos)
        conv = has_a & (last_b > first_a)
        p_a = first_a[has_a]
        g, bb = lg.group[p_a], b[p_a]
        trials = np.bincount(g * t_len + bb, minlength=n_g * t_len).reshape(n_g, t_len)
        succ = np.bincount(g[conv[has_a]] * t_len + bb[conv[has_a]], minlength=n_g * t_len).reshape(
            n_g, t_len
        )
        for code in range(n_g):
            if trials[code].sum() >= min_support:
                out.append(
                    _Series(
                        "conversions", code, a_name, b_name, succ[code], trials[code], "binomial"
                    )
                )
    return out
