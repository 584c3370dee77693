"""Tests and effect sizes shared by comparisons and change detection."""

from __future__ import annotations

import numpy as np


def _cohen_h(p_new: np.ndarray, p_old: np.ndarray) -> np.ndarray:
    """Cohen's h = 2 asin(sqrt(p_new)) - 2 asin(sqrt(p_old))."""
    return 2 * np.arcsin(np.sqrt(np.clip(p_new, 0, 1))) - 2 * np.arcsin(
        np.sqrt(np.clip(p_old, 0, 1))
    )


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1.0), np.where(a > 0, np.inf, np.nan))


def _z_test(k_a: np.ndarray, n_a: np.ndarray, k_b: np.ndarray, n_b: np.ndarray) -> np.ndarray:
    """Two-sided pooled two-proportion z-test p-values (1.0 where undefined)."""
    p = (k_a + k_b) / np.maximum(n_a + n_b, 1)
    se = np.sqrt(p * (1 - p) * (1 / np.maximum(n_a, 1) + 1 / np.maximum(n_b, 1)))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (k_b / np.maximum(n_b, 1) - k_a / np.maximum(n_a, 1)) / se
    from scipy import special  # imported on use: scipy is slow to import

    out = special.erfc(np.abs(z) / np.sqrt(2.0))  # two-sided normal tail
    return np.where((se > 0) & np.isfinite(out), out, 1.0)


def _bh(p: np.ndarray) -> np.ndarray:
    if len(p) == 0:
        return np.asarray(p, dtype=float)
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    order = np.argsort(p, kind="stable")
    ranked = p[order] * len(p) / np.arange(1, len(p) + 1)
    q = np.empty_like(p)
    q[order] = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
    return q


def _mwu(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Mann-Whitney U p-value and rank-biserial correlation (positive when ``b`` is larger)."""
    if len(a) == 0 or len(b) == 0:
        return 1.0, float("nan")
    if np.ptp(np.r_[a, b]) == 0:
        return 1.0, 0.0
    from scipy import stats

    res = stats.mannwhitneyu(b, a, alternative="two-sided", method="asymptotic")
    return float(res.pvalue), float(2 * res.statistic / (len(a) * len(b)) - 1)
