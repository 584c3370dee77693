"""What a scan saw: one row per series considered (scanned or skipped, and why) with the
smallest change it could have detected, and a one-line summary; see
:func:`journeymine.journeys.change.detect_changes`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from journeymine.journeys.change._log import _Log, _where
from journeymine.journeys.change.scan import _Series, power_hint
from journeymine.journeys.change.series import _Skip

__all__ = ["scan_summary"]


def _scan_table(
    lg: _Log,
    series: list[_Series],
    skipped: list[_Skip],
    reported: dict[int, int],
    *,
    min_bins: int,
    scanned: int,
    alpha: float,
    min_effect: float,
    min_ratio: float,
    null_k: float | None,
) -> pd.DataFrame:
    """One row per series considered: scanned or skipped (and why), support, the smallest
    detectable effect and the rate a drop of that size leads to, changes reported."""
    rows = []
    for s in series:
        eff, drop = power_hint(
            s,
            min_bins=min_bins,
            scanned=scanned,
            alpha=alpha,
            min_effect=min_effect,
            min_ratio=min_ratio,
            null_k=null_k,
        )
        n_tot = float(s.n.sum())
        rows.append(
            (
                s.metric,
                s.group,
                s.what,
                "scanned",
                int(s.k.sum() if s.kind == "poisson" else n_tot),
                float(s.k.sum() / n_tot) if n_tot > 0 else float("nan"),
                eff,
                drop,
                s.weekday,
                reported.get(id(s), 0),
            )
        )
    for sk in skipped:
        nan = float("nan")
        rows.append((sk.metric, sk.group, sk.what, sk.reason, sk.support, nan, nan, nan, 0.0, 0))
    cols = [
        "metric",
        "_group",
        "what",
        "status",
        "support",
        "rate",
        "detectable_effect",
        "detectable_drop_to",
        "weekday_shrinkage",
        "changes",
    ]
    table = pd.DataFrame(rows, columns=cols)
    for c in lg.groups.columns:
        table.insert(2, c, lg.groups[c].to_numpy(dtype=object)[table["_group"].to_numpy(int)])
    table.insert(1, "where", _where(table, list(lg.groups.columns)))
    table["support"] = table["support"].astype(np.int64)
    table["changes"] = table["changes"].astype(np.int64)
    return table.drop(columns="_group")


def scan_summary(scan: pd.DataFrame) -> str:
    """One line saying what was scanned and skipped (and why), and the median smallest
    change the scan could detect over the shortest duration (Cohen's h for rates, the rate
    ratio for volumes), from the ``scan`` table in ``detect_changes(...).attrs["scan"]``.

    Examples
    --------
    >>> import pandas as pd
    >>> scan = pd.DataFrame({"metric": ["edges", "edges"], "status": ["scanned",
    ...     "too little support"], "detectable_effect": [0.3, float("nan")]})
    >>> scan_summary(scan)
    "scanned 1 series (1 skipped: 1 too little support); detectable: Cohen's h 0.30"
    """
    on = scan["status"] == "scanned"
    skipped = scan.loc[~on, "status"].value_counts()
    why = ", ".join(f"{n} {reason}" for reason, n in skipped.items())
    text = f"scanned {int(on.sum())} series ({int((~on).sum())} skipped" + (
        f": {why})" if why else ")"
    )
    rate_like = on & (scan["metric"] != "volumes")
    vol = on & (scan["metric"] == "volumes")
    parts = []
    if rate_like.any():
        parts.append(f"Cohen's h {scan.loc[rate_like, 'detectable_effect'].median():.2f}")
    if vol.any():
        lr = float(scan.loc[vol, "detectable_effect"].median())
        parts.append(f"volume ratio x{np.exp(-lr):.2f} or x{np.exp(lr):.2f}")
    if parts:
        text += "; detectable: " + ", ".join(parts)
    return text
