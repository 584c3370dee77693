"""Series per time bin built from a log: edges, conversions and volumes per group; the
log-scaled defaults (bin width, support) and the weekly rhythm of daily series."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from journeymine.exceptions import (
    ConfigError,
)
from journeymine.journeys.change._log import _US, _activity_codes, _Log, _segment_of_group
from journeymine.journeys.change.scan import _Series

SKIP_SUPPORT = "too little support"
SKIP_SHORT = "too short"
SKIP_EMPTY = "nothing to measure"


@dataclass
class _Skip:
    """A series that was not scanned, and why."""

    metric: str
    group: int
    source: str
    target: str | None
    what: str
    support: int
    reason: str


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


def _edge_series(
    lg: _Log, b: np.ndarray, t_len: int, min_support: int, skipped: list[_Skip]
) -> list[_Series]:
    n_act = len(lg.acts)
    src_key = lg.group * n_act + lg.act
    has = lg.nxt >= 0
    ekey = src_key[has] * n_act + lg.act[lg.nxt[has]]
    frequent, idx, rare, rare_n = _frequent(ekey, len(lg.groups) * n_act * n_act, min_support)
    for e, c in zip(rare.tolist(), rare_n.tolist(), strict=True):
        g, s, t = _edge_parts(e, n_act)
        src, tgt = str(lg.acts[s]), str(lg.acts[t])
        skipped.append(_Skip("edges", g, src, tgt, f"{src} -> {tgt}", c, SKIP_SUPPORT))
    if not len(frequent):
        return []
    hit = idx >= 0
    k = _per_bin(idx[hit], b[has][hit], len(frequent), t_len)
    src_needed = np.unique(frequent // n_act)
    sidx = np.searchsorted(src_needed, src_key)
    sidx = np.minimum(sidx, len(src_needed) - 1)
    shit = src_needed[sidx] == src_key
    n = _per_bin(sidx[shit], b[shit], len(src_needed), t_len)
    out = []
    for row, e in enumerate(frequent.tolist()):
        g, s, t = _edge_parts(e, n_act)
        src, tgt = str(lg.acts[s]), str(lg.acts[t])
        out.append(
            _Series(
                "edges",
                g,
                src,
                tgt,
                k[row],
                n[np.searchsorted(src_needed, e // n_act)],
                "binomial",
                what=f"{src} -> {tgt}",
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
    return _per_bin(seg, bins, n_seg, t_len)


def _frequent(
    key: np.ndarray, space: int, min_support: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The keys occurring at least ``min_support`` times (sorted), for each element the
    position of its key among them (-1 when rare), and the rare keys with their counts."""
    if space <= 50_000_000:
        counts = np.bincount(key, minlength=space)
        frequent = np.flatnonzero(counts >= min_support)
        rare = np.flatnonzero((counts > 0) & (counts < min_support))
        row = np.full(space, -1, dtype=np.int64)
        row[frequent] = np.arange(len(frequent))
        return frequent, row[key], rare, counts[rare]
    uniq, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    keep = counts >= min_support
    row = np.where(keep, np.cumsum(keep) - 1, -1)
    return uniq[keep], row[inverse], uniq[~keep], counts[~keep]


def _per_bin(rows: np.ndarray, bins: np.ndarray, n_rows: int, t_len: int) -> np.ndarray:
    """How many times each (row, bin) pair occurs: an ``n_rows`` x ``t_len`` array of counts."""
    return np.bincount(rows * t_len + bins, minlength=n_rows * t_len).reshape(n_rows, t_len)


def _edge_parts(edge: int, n_act: int) -> tuple[int, int, int]:
    """Group, source and target activity of an edge key ``(group * n_act + source) * n_act +
    target``."""
    gs, target = divmod(edge, n_act)
    group, source = divmod(gs, n_act)
    return group, source, target


def _volume_series(
    lg: _Log, b: np.ndarray, t_len: int, min_support: int, skipped: list[_Skip]
) -> list[_Series]:
    n_act = len(lg.acts)
    key = lg.group * n_act + lg.act
    frequent, idx, rare, rare_n = _frequent(key, len(lg.groups) * n_act, min_support)
    for e, c in zip(rare.tolist(), rare_n.tolist(), strict=True):
        g, a = divmod(e, n_act)
        name = str(lg.acts[a])
        skipped.append(_Skip("volumes", g, name, None, name, c, SKIP_SUPPORT))
    if not len(frequent):
        return []
    hit = idx >= 0
    k = _per_bin(idx[hit], b[hit], len(frequent), t_len)
    expo = _exposure(lg, b, t_len)
    seg_of_group = _segment_of_group(lg)
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
                what=str(lg.acts[a]),
            )
        )
    return out


def _conversion_series(
    lg: _Log,
    b: np.ndarray,
    t_len: int,
    pairs: Sequence[tuple[str, str]],
    min_support: int,
    skipped: list[_Skip],
) -> list[_Series]:
    out: list[_Series] = []
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
        _binomial_series(
            "conversions",
            (lg.group[p_a], b[p_a], conv[has_a]),
            (n_g, t_len),
            (a_name, b_name, f"{a_name} => {b_name}"),
            min_support,
            out,
            skipped,
        )
    return out


def _binomial_series(
    metric: str,
    trials_at: tuple[np.ndarray, np.ndarray, np.ndarray],
    shape: tuple[int, int],
    names: tuple[str, str | None, str],
    min_support: int,
    out: list[_Series],
    skipped: list[_Skip],
    *,
    support_of: Literal["trials", "successes"] = "trials",
) -> None:
    """Per group, a binomial series of successes over trials counted per bin: appended to
    ``out``, or to ``skipped`` below ``min_support`` trials (or successes, with
    ``support_of="successes"``). ``trials_at`` is (group, bin, success) of every trial,
    ``shape`` (groups, bins), ``names`` (source, target, what)."""
    g, bb, ok = trials_at
    n_g, t_len = shape
    source, target, what = names
    trials = _per_bin(g, bb, n_g, t_len)
    succ = _per_bin(g[ok], bb[ok], n_g, t_len)
    for code in range(n_g):
        support = int((trials if support_of == "trials" else succ)[code].sum())
        if support >= min_support:
            out.append(
                _Series(metric, code, source, target, succ[code], trials[code], "binomial", what)
            )
        else:
            skipped.append(_Skip(metric, code, source, target, what, support, SKIP_SUPPORT))


# --- defaults that scale with the log, and the weekly rhythm --------------------------------
_NICE_WIDTHS = ("1h", "2h", "3h", "6h", "12h", "1D", "2D", "3D", "7D")
MAX_AUTO_BINS = 400
SUPPORT_SHARE = 1 / 5000
MIN_SUPPORT_FLOOR = 30


def _auto_freq(lg: _Log) -> str:
    """Bin width from the log's span: daily bins for spans of two weeks to ``MAX_AUTO_BINS``
    days; shorter logs get the widest of 1h..12h that still gives at least 56 bins (hourly
    for a few days), longer ones the narrowest of 2D, 3D, 7D giving at most 400 bins."""
    span = int(lg.ts.max() - lg.ts.min()) / _US / 86_400 if len(lg.ts) else 0.0
    if 14 <= span <= MAX_AUTO_BINS:
        return "1D"
    if span < 14:
        for w in reversed(_NICE_WIDTHS[:5]):
            if span * 24 / pd.Timedelta(w).total_seconds() * 3600 >= 56:
                return w
        return "1h"
    for w in _NICE_WIDTHS[6:]:
        if span / pd.Timedelta(w).days <= MAX_AUTO_BINS:
            return w
    return "7D"


def _auto_support(n_events: int) -> int:
    """Smallest support of a scanned series: 1 event in 5,000 of the log, at least 30 (200 at
    1M events, 30 below 150k events)."""
    return max(MIN_SUPPORT_FLOOR, int(np.ceil(n_events * SUPPORT_SHARE)))


def _weekday_adjust(s: _Series, dow: np.ndarray) -> float:
    """Remove the series' weekly rhythm in place (daily bins); returns the shrinkage used.

    The rate of each weekday (pooled over the weeks) is compared with the pooled rate; the
    departures are shrunk towards zero by ``max(0, 1 - 6 / X2)`` (positive-part James-Stein,
    ``X2`` the chi-square of the seven weekday rates against their between-week spread), so a
    rhythm that noise could explain is left alone. Binomial series: each bin's successes are
    shifted by ``n * (p_weekday - p)``; Poisson series: the exposure of each bin is multiplied
    by its weekday's rate ratio.
    """
    use = s.n > 0
    if use.sum() < 21:
        return 0.0
    n_tot, k_tot = float(s.n[use].sum()), float(s.k[use].sum())
    p = k_tot / n_tot
    if p <= 0 or (s.kind == "binomial" and p >= 1):
        return 0.0
    kw = np.bincount(dow[use], weights=s.k[use], minlength=7)
    nw = np.bincount(dow[use], weights=s.n[use], minlength=7)
    present = nw > 0
    if present.sum() < 7:
        return 0.0
    pw = kw / np.where(present, nw, 1.0)
    # between-week spread of each weekday's mean: residual variance of the bins around their
    # weekday rate (trial-weighted), divided by the weekday's trials
    rate = np.where(use, s.k / np.where(use, s.n, 1.0), 0.0)
    resid2 = np.where(use, s.n * (rate - pw[dow]) ** 2, 0.0)
    dfw = np.bincount(dow[use], minlength=7) - 1
    if (dfw < 2).any():
        return 0.0
    var_unit = np.bincount(dow[use], weights=resid2[use], minlength=7).sum() / dfw.sum()
    if var_unit <= 0:
        return 0.0
    x2 = float(((pw - p) ** 2 / (var_unit / nw)).sum())
    shrink = max(0.0, 1.0 - 6.0 / x2) if x2 > 0 else 0.0
    if shrink <= 0:
        return 0.0
    if s.kind == "binomial":
        shift = shrink * (pw - p)
        s.k = np.clip(s.k - s.n * shift[dow], 0.0, s.n.astype(float))
    else:
        ratio = np.exp(shrink * np.log(np.maximum(pw, 1e-12) / p))
        s.n = s.n * ratio[dow]
    return shrink
