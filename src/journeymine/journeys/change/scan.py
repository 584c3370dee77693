"""Scan statistics of one series: the interval departing most from the rest, its evidence
and the detections of a series; see :mod:`journeymine.journeys.change`."""

from __future__ import annotations

import functools
import math
import zlib
from dataclasses import dataclass

import numpy as np

from journeymine.journeys.change._stats import _cohen_h

MAX_LAG = 7  # lags of the residual autocorrelation used for the variance inflation


@dataclass
class _Series:
    metric: str
    group: int
    source: str
    target: str | None
    k: np.ndarray  # successes (binomial) or counts (poisson) per bin
    n: np.ndarray  # trials (binomial) or exposure (poisson) per bin
    kind: str  # "binomial" or "poisson"
    what: str = ""  # readable name, e.g. "checkout -> purchase"
    weekday: float = 0.0  # shrinkage of the weekly rhythm removed (0: none)


@dataclass(frozen=True)
class ScanFilters:
    """What a scanned interval must satisfy to be a candidate (see :func:`_best_interval`)."""

    min_bins: int
    max_bins: int
    open_ended: bool
    min_effect: float
    min_ratio: float
    min_consistency: float


def _loglik(k: np.ndarray, n: np.ndarray, kind: str) -> np.ndarray:
    """Maximised log-likelihood (up to terms that cancel in ratios) of pooled counts."""
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(n > 0, k / np.where(n > 0, n, 1.0), 0.0)
        if kind == "binomial":
            return _xlogy(k, rate) + _xlogy(n - k, 1.0 - rate)
        return _xlogy(k, rate)


def _xlogy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """x * log(y), 0 where x == 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(x == 0, 0.0, x * np.log(np.where(x == 0, 1.0, y)))


def _effect(rate_in: np.ndarray, rate_out: np.ndarray, kind: str) -> np.ndarray:
    if kind == "binomial":
        return _cohen_h(rate_in, rate_out)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(
            np.where(rate_out > 0, rate_in, np.nan) / np.where(rate_out > 0, rate_out, 1.0)
        )


def _dispersion(k: np.ndarray, n: np.ndarray, rate: float, kind: str) -> float:
    """Pearson chi-square / df of the baseline bins around their pooled rate (>= 1)."""
    use = n > 0
    if use.sum() < 3:
        return 1.0
    k, n = k[use].astype(float), n[use].astype(float)
    var = n * rate * (1 - rate) if kind == "binomial" else n * rate
    with np.errstate(divide="ignore", invalid="ignore"):
        x2 = np.where(var > 0, (k - n * rate) ** 2 / np.where(var > 0, var, 1.0), 0.0)
    return max(1.0, float(x2.sum()) / (len(k) - 1))


def _autocorrelation(s: _Series, base: np.ndarray, rate: float, length: int) -> float:
    """Variance inflation of a sum over ``length`` consecutive bins from the autocorrelation
    of the baseline's Pearson residuals: ``1 + 2 sum_j (1 - j/length) rho_j`` over lags
    ``j < min(length, MAX_LAG + 1)`` (Bartlett weights; at least 1). Bins outside the baseline
    or without data break the pairs."""
    if length < 2:
        return 1.0
    use = base & (s.n > 0)
    n = s.n.astype(float)
    var = n * rate * (1 - rate) if s.kind == "binomial" else n * rate
    ok = use & (var > 0)
    if ok.sum() < 8:
        return 1.0
    r = np.where(ok, (s.k - n * rate) / np.sqrt(np.where(ok, var, 1.0)), 0.0)
    r = np.where(ok, r - r[ok].mean(), 0.0)
    denom = float((r * r).sum())
    if denom <= 0:
        return 1.0
    m = ok.astype(float)
    total = 0.0
    for j in range(1, min(length, MAX_LAG + 1)):
        pairs = float((m[:-j] * m[j:]).sum())
        if pairs < 4:
            break
        rho = float((r[:-j] * r[j:]).sum()) / pairs / (denom / ok.sum())
        total += (1 - j / length) * rho
    return max(1.0, 1.0 + 2.0 * total)


def _scanned(t_len: int, min_bins: int, max_bins: int, open_ended: bool) -> tuple[int, int, range]:
    """What the scan covers: the first bin and one past the last bin an interval may hold
    (without the first and last bin unless ``open_ended``), and the interval lengths."""
    lo, hi = (0, t_len) if open_ended else (1, t_len - 1)
    return lo, hi, range(min_bins, min(max_bins, hi - lo) + 1)


def n_intervals(t_len: int, min_bins: int, max_bins: int, open_ended: bool) -> int:
    """Number of intervals the scan compares (the Bonferroni factor of a series)."""
    lo, hi, lengths = _scanned(t_len, min_bins, max_bins, open_ended)
    return int(sum(hi - lo - length + 1 for length in lengths))


def power_hint(
    s: _Series,
    *,
    min_bins: int,
    scanned: int,
    alpha: float,
    min_effect: float,
    min_ratio: float,
    null_k: float | None = None,
) -> tuple[float, float]:
    """Smallest effect the scan would detect with 80% power in a change of ``min_bins`` bins
    at the series' average volume, dispersion and autocorrelation (Cohen's h or log rate
    ratio, never below the ``min_effect``/``min_ratio`` floor), and the rate a drop of that
    size leads to. Ignores the robustness filters (one bin left out, consistency): a hint."""
    t_len = len(s.k)
    n_tot, k_tot = float(s.n.sum()), float(s.k.sum())
    rate = k_tot / n_tot if n_tot > 0 else 0.0
    everything = np.ones(t_len, dtype=bool)
    phi = _dispersion(s.k, s.n, rate, s.kind) * _autocorrelation(s, everything, rate, min_bins)
    z = math.sqrt(_critical_deviance(alpha, scanned, null_k)) + 0.8416
    share = min_bins / t_len
    if s.kind == "binomial":
        n_in, n_out = n_tot * share, n_tot * (1 - share)
        if n_in <= 0 or n_out <= 0:
            return float("inf"), float("nan")
        h = max(z * math.sqrt(phi * (1 / n_in + 1 / n_out)), min_effect)
        if h >= math.pi:
            return float("inf"), float("nan")
        drop = math.sin(max(math.asin(math.sqrt(rate)) - h / 2, 0.0)) ** 2
        return h, drop
    mu_in, mu_out = k_tot * share, k_tot * (1 - share)
    if mu_in <= 0 or mu_out <= 0:
        return float("inf"), float("nan")
    lr = max(z * math.sqrt(phi * (1 / mu_in + 1 / mu_out)), math.log(min_ratio))
    return lr, rate * math.exp(-lr)


_NULL_SIMULATIONS = 1000


@functools.lru_cache(maxsize=32)
def null_tail_constant(t_len: int, min_bins: int, max_bins: int, open_ended: bool) -> float:
    """Constant ``K`` of the tail ``P(max deviance > d) = K d^1.5 exp(-d/2)`` of the scan
    over one series without change, for these bins and interval lengths.

    The null is simulated: ``_NULL_SIMULATIONS`` series of independent standard normal bins
    (a series after its dispersion and autocorrelation are divided out), the maximum over
    the same intervals of the two-sample deviance, and ``K`` fitted at the simulated 90th
    percentile. The form is the tail of a two-parameter Gaussian scan (Siegmund); checked
    against 4,000 simulations at 182 daily bins it matches the 95th, 99th and 99.9th
    percentiles within 12%. Seeded: the same bins give the same constant.
    """
    lo, hi, lengths = _scanned(t_len, min_bins, max_bins, open_ended)
    if not len(lengths):
        return float("nan")
    rng = np.random.default_rng(20_170)
    x = rng.standard_normal((_NULL_SIMULATIONS, t_len))
    c = np.concatenate([np.zeros((len(x), 1)), np.cumsum(x, axis=1)], axis=1)
    total = c[:, -1:]
    maxima = np.zeros(len(x))
    for n in lengths:
        inside = c[:, lo + n : hi + 1] - c[:, lo : hi - n + 1]  # every start in [lo, hi - n]
        rest = max(t_len - n, 1)
        diff = inside / n - (total - inside) / rest
        np.maximum(maxima, (diff * diff).max(axis=1) / (1 / n + 1 / rest), out=maxima)
    d90 = float(np.quantile(maxima, 0.9))
    return 0.1 / (d90**1.5 * math.exp(-d90 / 2))


def scan_p_value(deviance: float, scanned: int, null_k: float | None) -> float:
    """P-value of the largest deviance of a scan: the Bonferroni bound over the ``scanned``
    intervals (chi-square with 1 df), or the simulated scan tail when ``null_k`` is given,
    whichever is smaller."""
    p = max(scanned, 1) * math.erfc(math.sqrt(max(deviance, 0.0) / 2.0))
    if null_k is not None and np.isfinite(null_k) and deviance > 0:
        p = min(p, null_k * deviance**1.5 * math.exp(-deviance / 2))
    return min(1.0, p)


def _critical_deviance(alpha: float, scanned: int, null_k: float | None) -> float:
    """Smallest deviance with ``scan_p_value <= alpha`` (bisection)."""
    lo, hi = 0.0, 400.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if scan_p_value(mid, scanned, null_k) > alpha:
            lo = mid
        else:
            hi = mid
    return hi


def _typical_rate(s: _Series, avail: np.ndarray) -> float:
    """Median of the bin rates weighted by trials/exposure (the series' typical level)."""
    data = avail & (s.n > 0)
    if not data.any():
        return 0.0
    rate = s.k[data] / s.n[data]
    order = np.argsort(rate, kind="stable")
    w = np.cumsum(s.n[data][order].astype(float))
    return float(rate[order][np.searchsorted(w, w[-1] / 2)])


def _departing_bins(
    s: _Series, avail: np.ndarray, base: float, *, min_effect: float, min_ratio: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bins whose own rate is below (``down``) or above (``up``) the typical rate ``base`` by
    the minimum effect, and the bins that have data."""
    data = avail & (s.n > 0)
    rate = np.where(data, s.k / np.where(data, s.n, 1), 0.0)
    if s.kind == "binomial":
        h = _cohen_h(rate, np.full(len(rate), base))
        return data & (h <= -min_effect), data & (h >= min_effect), data
    thr = np.log(min_ratio)
    with np.errstate(divide="ignore"):
        lr = np.log(rate) - np.log(base) if base > 0 else np.where(rate > 0, np.inf, 0.0)
    return data & (lr <= -thr), data & (lr >= thr), data


def _range_extreme(
    values: np.ndarray, st: np.ndarray, en: np.ndarray, *, lowest: bool
) -> np.ndarray:
    """Index of the lowest (or highest) value in each range [st, en) (sparse table)."""
    t_len = len(values)
    v = values if lowest else -values
    levels = [np.arange(t_len)]
    width = 1
    while 2 * width <= t_len:
        prev = levels[-1]
        a, b = prev[: t_len - 2 * width + 1], prev[width : width + t_len - 2 * width + 1]
        levels.append(np.where(v[b] < v[a], b, a))
        width *= 2
    length = en - st
    j = np.floor(np.log2(np.maximum(length, 1))).astype(np.int64)
    out = np.empty(len(st), dtype=np.int64)
    for level in np.unique(j):
        m = j == level
        table = levels[level]
        a, b = table[st[m]], table[en[m] - (1 << int(level))]
        out[m] = np.where(v[b] < v[a], b, a)
    return out


@dataclass
class _Interval:
    start: int
    end: int  # exclusive


def _best_interval(
    s: _Series, avail: np.ndarray, filters: ScanFilters
) -> tuple[_Interval | None, int]:
    """The interval of available bins with the largest likelihood ratio against the rest, among
    those whose effect is large enough and whose bins mostly depart on their own. The ratio
    and the effect are computed without the interval's most extreme bin (robust to one
    spike). Returns the interval and the number of intervals scanned."""
    min_bins, max_bins, open_ended = filters.min_bins, filters.max_bins, filters.open_ended
    min_effect, min_ratio = filters.min_effect, filters.min_ratio
    min_consistency = filters.min_consistency
    t_len = len(s.k)
    k = np.where(avail, s.k, 0).astype(float)
    n = np.where(avail, s.n, 0).astype(float)
    ck, cn = np.r_[0.0, np.cumsum(k)], np.r_[0.0, np.cumsum(n)]
    blocked = np.r_[0, np.cumsum(~avail)]
    lo, hi, lengths = _scanned(t_len, min_bins, max_bins, open_ended)
    starts, ends = [], []
    for length in lengths:
        st = np.arange(lo, hi - length + 1)
        starts.append(st)
        ends.append(st + length)
    if not starts:
        return None, 0
    st, en = np.concatenate(starts), np.concatenate(ends)
    ok = blocked[en] == blocked[st]
    st, en = st[ok], en[ok]
    scanned = len(st)
    k_in, n_in = ck[en] - ck[st], cn[en] - cn[st]
    k_out, n_out = ck[-1] - k_in, cn[-1] - n_in
    good = (n_in > 0) & (n_out > 0)
    if not good.any():
        return None, scanned
    st, en, k_in, n_in, k_out, n_out = (x[good] for x in (st, en, k_in, n_in, k_out, n_out))
    r_out = k_out / n_out
    eff = _effect(k_in / n_in, r_out, s.kind)
    base = _typical_rate(s, avail)
    down, up, data = _departing_bins(s, avail, base, min_effect=min_effect, min_ratio=min_ratio)
    cd, cu, cdata = (np.r_[0, np.cumsum(x)] for x in (down, up, data))
    with_data = np.maximum(cdata[en] - cdata[st], 1)
    falling = eff < 0
    share = np.where(falling, cd[en] - cd[st], cu[en] - cu[st]) / with_data
    # the change must depart and return: the bins just before and after it are not changed
    # the same way (this rejects a shift that merely continues from the edge of the log)
    for a, b in ((np.maximum(st - min_bins, 0), st), (en, np.minimum(en + min_bins, t_len))):
        ctx = np.where(falling, cd[b] - cd[a], cu[b] - cu[a]) / np.maximum(cdata[b] - cdata[a], 1)
        share = np.where(ctx >= min_consistency, 0.0, share)
    # leave out the most extreme bin of each interval (in the interval's direction)
    excess = k - n * base
    drop_low = _range_extreme(excess, st, en, lowest=True)
    drop_high = _range_extreme(excess, st, en, lowest=False)
    x = np.where(falling, drop_low, drop_high)
    multi = (en - st) > 1
    k_t = np.maximum(np.where(multi, k_in - k[x], k_in), 0.0)
    n_t = np.where(multi, n_in - n[x], n_in)
    k_t = np.minimum(k_t, n_t) if s.kind == "binomial" else k_t
    with np.errstate(divide="ignore", invalid="ignore"):
        eff_t = _effect(np.where(n_t > 0, k_t / np.where(n_t > 0, n_t, 1), np.nan), r_out, s.kind)
    eff_t = np.nan_to_num(eff_t, nan=0.0)
    thr = min_effect if s.kind == "binomial" else np.log(min_ratio)
    big = (np.abs(np.nan_to_num(eff, nan=0.0)) >= thr) & (np.sign(eff_t) == np.sign(eff))
    big &= (np.abs(eff_t) >= thr) & (share >= min_consistency) & (n_t > 0)
    if not big.any():
        return None, scanned
    llr = (
        _loglik(k_t, n_t, s.kind)
        + _loglik(k_out, n_out, s.kind)
        - _loglik(k_t + k_out, n_t + n_out, s.kind)
    )
    llr = np.where(big & np.isfinite(llr), llr, -np.inf)
    if not np.isfinite(llr).any():
        return None, scanned
    best = int(np.argmax(llr))
    return _Interval(int(st[best]), int(en[best])), scanned


def _interval_stats(
    s: _Series,
    inside: np.ndarray,
    base: np.ndarray,
    scanned: int,
    typical: float,
    null_k: float | None = None,
) -> dict[str, float]:
    """Values over the whole interval; evidence without its most extreme bin."""
    k_in, n_in = float(s.k[inside].sum()), float(s.n[inside].sum())
    k_out, n_out = float(s.k[base].sum()), float(s.n[base].sum())
    r_in = k_in / n_in if n_in > 0 else float("nan")
    r_out = k_out / n_out if n_out > 0 else float("nan")
    effect = float(_effect(np.array([r_in]), np.array([r_out]), s.kind)[0])
    k_t, n_t = k_in, n_in
    idx = np.flatnonzero(inside)
    if len(idx) > 1:
        excess = s.k[idx] - s.n[idx] * typical
        x = idx[np.argmin(excess) if effect < 0 else np.argmax(excess)]
        k_t, n_t = k_in - float(s.k[x]), n_in - float(s.n[x])
    llr = float(
        _loglik(np.array([k_t]), np.array([n_t]), s.kind)[0]
        + _loglik(np.array([k_out]), np.array([n_out]), s.kind)[0]
        - _loglik(np.array([k_t + k_out]), np.array([n_t + n_out]), s.kind)[0]
    )
    phi = _dispersion(s.k[base], s.n[base], r_out, s.kind) if n_out > 0 else 1.0
    if n_out > 0:
        phi *= _autocorrelation(s, base, r_out, max(len(idx) - 1, 1))
    deviance = max(2.0 * llr, 0.0) / phi
    p = scan_p_value(deviance, scanned, null_k)
    return {
        "baseline": r_out,
        "changed": r_in,
        "effect": effect,
        "deviance": deviance,
        "dispersion": phi,
        "p_value": p,
        "n_baseline": k_out if s.kind == "poisson" else n_out,
        "n_changed": k_in if s.kind == "poisson" else n_in,
    }


def _mask(t_len: int, *intervals: _Interval) -> np.ndarray:
    m = np.zeros(t_len, dtype=bool)
    for iv in intervals:
        m[iv.start : iv.end] = True
    return m


def _scan_series(
    s: _Series,
    filters: ScanFilters,
    *,
    alpha: float,
    max_changes: int,
    merge_gap: int,
    null_k: float | None = None,
) -> tuple[list[tuple[_Interval, dict[str, float]]], float | None]:
    """Detected intervals of one series with their statistics, and the p-value of the first
    rejected candidate (None when every candidate was detected) for the test family."""
    t_len = len(s.k)
    avail = np.ones(t_len, dtype=bool)
    found: list[_Interval] = []
    scanned_first = 0
    rejected_p: float | None = None
    while len(found) < max_changes:
        iv, scanned = _best_interval(s, avail, filters)
        scanned_first = scanned_first or scanned
        if iv is None:
            break
        inside = _mask(t_len, iv)
        st = _interval_stats(
            s, inside, avail & ~inside, scanned_first, _typical_rate(s, avail), null_k
        )
        if st["p_value"] > alpha:
            rejected_p = st["p_value"]
            break
        found.append(iv)
        avail &= ~inside
    if not found:
        return [], rejected_p
    # merge detections that are close and move the same way
    found.sort(key=lambda iv: iv.start)
    base = ~_mask(t_len, *found)
    typical = _typical_rate(s, base)

    def direction(iv: _Interval) -> float:
        st = _interval_stats(s, _mask(t_len, iv), base, scanned_first, typical, null_k)
        return float(np.sign(st["effect"]))

    merged = [found[0]]
    for iv in found[1:]:
        last = merged[-1]
        if iv.start - last.end <= merge_gap and direction(iv) == direction(last):
            merged[-1] = _Interval(last.start, iv.end)
        else:
            merged.append(iv)
    base = ~_mask(t_len, *merged)
    typical = _typical_rate(s, base)
    out = [
        (iv, _interval_stats(s, _mask(t_len, iv), base, scanned_first, typical, null_k))
        for iv in merged
    ]
    return out, rejected_p


BOOTSTRAP_SIMULATIONS = 200
BOOTSTRAP_BELOW = 1e-8  # detections with a smaller p-value are not re-checked


def bootstrap_p_value(
    s: _Series,
    detected: np.ndarray,
    deviance: float,
    filters: ScanFilters,
    *,
    scanned: int,
    sims: int = BOOTSTRAP_SIMULATIONS,
) -> float:
    """P-value of a detection from the series' own null: a circular block bootstrap.

    The bins outside the series' detections (``detected``, a mask) are resampled in blocks
    of ``max(2 * min_bins, 7)`` bins (keeping their overdispersion, sparsity, weekly
    remainder and autocorrelation up to the block length) into ``sims`` series of the
    same length; each is scanned with the same filters and its best interval's deviance
    recorded. The tail ``K d^1.5 exp(-d/2)`` is
    fitted at the bootstrap 90th percentile and evaluated at the observed deviance (the
    bootstrap maximum itself when more than 10% of the series reach it). Seeded by the
    series' name: the same log gives the same p-value.
    """
    t_len = len(s.k)
    min_bins = filters.min_bins
    keep = ~detected
    kb, nb = s.k[keep], s.n[keep]
    if len(kb) < 2 * min_bins + 2:
        return 1.0
    block = min(max(2 * min_bins, 7), len(kb))
    rng = np.random.default_rng(zlib.crc32(f"{s.metric}|{s.group}|{s.what}".encode()))
    n_blocks = -(-t_len // block)
    maxima = np.zeros(sims)
    for b in range(sims):
        starts = rng.integers(0, len(kb), size=n_blocks)
        idx = ((starts[:, None] + np.arange(block)) % len(kb)).ravel()[:t_len]
        sim = _Series(s.metric, s.group, s.source, s.target, kb[idx], nb[idx], s.kind, s.what)
        avail = np.ones(t_len, dtype=bool)
        best, _ = _best_interval(sim, avail, filters)
        if best is not None:
            inside = _mask(t_len, best)
            st = _interval_stats(sim, inside, ~inside, scanned, _typical_rate(sim, avail))
            maxima[b] = st["deviance"]
    exceed = float((maxima >= deviance).mean())
    d90 = float(np.quantile(maxima, 0.9))
    if exceed >= 0.1 or d90 <= 0:
        return max(exceed, 1.0 / (sims + 1))
    k = 0.1 / (d90**1.5 * math.exp(-d90 / 2))
    return min(1.0, max(k * deviance**1.5 * math.exp(-deviance / 2), exceed))
