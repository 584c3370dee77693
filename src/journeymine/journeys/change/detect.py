"""detect_changes: build the series, scan them, correct over them, group incidents; see
:mod:`journeymine.journeys.change`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from journeymine.exceptions import (
    ConfigError,
)
from journeymine.journeys.change._log import (
    Segment,
    _check_common,
    _check_metrics,
    _Log,
    _prepare,
    _where,
)
from journeymine.journeys.change._stats import _bh, _ratio
from journeymine.journeys.change.scan import _Interval, _scan_series, _Series
from journeymine.journeys.change.series import (
    _bins,
    _conversion_series,
    _edge_series,
    _volume_series,
)
from journeymine.journeys.conformance import _timedelta

__all__ = ["detect_changes"]

logger = logging.getLogger(__name__)

ChangeMetric = Literal["edges", "conversions", "volumes"]

_CHANGE_METRICS: tuple[str, ...] = ("edges", "conversions", "volumes")


def _duration_bins(value: str | pd.Timedelta, width: int, name: str) -> int:
    td = _timedelta(value, name)
    return max(1, int(np.ceil(td.value / 1000 / width)))


def _change_columns(lg: _Log) -> list[str]:
    return [
        "incident",
        "metric",
        "where",
        *lg.groups.columns,
        "what",
        "source",
        "target",
        "start",
        "end",
        "bins",
        "direction",
        "baseline",
        "changed",
        "difference",
        "ratio",
        "effect",
        "effect_measure",
        "deviance",
        "dispersion",
        "p_value",
        "q_value",
        "ongoing",
        "n_baseline",
        "n_changed",
    ]


def detect_changes(
    log: pd.DataFrame,
    *,
    by: Sequence[str] = ("channel",),
    segment: Segment | None = None,
    metrics: Sequence[ChangeMetric] = ("edges", "volumes"),
    conversions: Sequence[tuple[str, str]] | None = None,
    freq: str = "D",
    min_support: int = 200,
    min_duration: str | pd.Timedelta = "2D",
    max_duration: str | pd.Timedelta | None = None,
    min_effect: float = 0.2,
    min_ratio: float = 1.5,
    min_consistency: float = 0.6,
    alpha: float = 0.01,
    max_changes: int = 3,
    open_ended: bool = False,
    merge_gap: str | pd.Timedelta = "1D",
    session_gap: str | pd.Timedelta = "30min",
    show_progress: bool = False,
) -> pd.DataFrame:
    """Find when journey metrics changed: what, where, from when to when, how much, how sure.

    Parameters
    ----------
    log : DataFrame
        Canonical log (need not be sorted).
    by : list of str, default ("channel",)
        Columns splitting the series (one series per value combination). ``()`` for none.
    segment : str or mapping, optional
        A column or a mapping customer -> segment; series are split per segment too, and
        volumes are per active customer of the segment.
    metrics : list of {"edges", "conversions", "volumes"}, default ("edges", "volumes")
        Series to scan (see the module docstring). ``"conversions"`` needs ``conversions``.
    conversions : list of (str, str), optional
        Pairs ``(a, b)``: the share of sessions with ``a`` in which ``b`` follows, e.g.
        ``[("checkout", "purchase")]``. Adds ``"conversions"`` to ``metrics`` when given.
    freq : str, default "D"
        Bin width, a fixed frequency ('D', '12h', '7D'); bins start at midnight UTC for 'D'.
    min_support : int, default 200
        Scan an edge or an activity only if it occurs at least this often in its group over
        the whole log (conversions: sessions with ``a``).
    min_duration : str or Timedelta, default "2D"
        Shortest change reported (rounded up to whole bins). One-day spikes (a campaign day)
        are ignored by default; use "1D" to see them.
    max_duration : str or Timedelta, optional
        Longest change; default half the log's span (a change must be shorter than its
        baseline).
    min_effect : float, default 0.2
        Smallest |Cohen's h| between the changed and the baseline proportion (edges,
        conversions). 0.2 is a "small" effect in Cohen's convention.
    min_ratio : float, default 1.5
        Smallest rate ratio (either way) for volumes.
    min_consistency : float, default 0.6
        Share of the bins of a change (among bins with data) that must depart on their own
        from the series' typical rate (weighted median of bin rates) by ``min_effect`` /
        ``min_ratio``, in the same direction. It keeps one extreme bin (a campaign day) from
        making a longer interval look changed.
    alpha : float, default 0.01
        Level of the per-series scan (Bonferroni over the intervals scanned) and false
        discovery rate over all series (Benjamini-Hochberg) for a change to be reported.
    max_changes : int, default 3
        Most changes looked for per series.
    open_ended : bool, default False
        Also report changes that touch the first or the last bin (the departure or the return
        is not observed, e.g. an incident still going on). Off by default because the edges
        of a log are where extraction artefacts live: returns of purchases made before the
        log started are missing at its start, late steps of recent journeys at its end.
    merge_gap : str or Timedelta, default "1D"
        Detections of one series that move the same way and are at most this far apart are
        merged; detections in one ``by`` group (and segment) within this gap of each other
        form one incident.
    session_gap : str or Timedelta, default "30min"
        Inactivity (or a change of channel) that ends a session, for edges and conversions;
        an existing ``session_id`` column is used as is.
    show_progress : bool, default False
        Show a progress bar over the series.

    Returns
    -------
    DataFrame
        One row per detected change, strongest incident first: ``incident`` (1 = most
        evidence), ``metric``, ``where`` (e.g. ``"app"`` or ``"app / loyal_app_buyer"``), the
        ``by`` columns (and ``segment``), ``what``, ``source``,
        ``target``, ``start`` and ``end`` (UTC, end exclusive), ``bins``, ``direction``
        ("drop"/"rise"), ``baseline`` and ``changed`` (proportion for edges/conversions,
        events per active customer per bin for volumes), ``difference``, ``ratio``, ``effect``
        and ``effect_measure`` (Cohen's h, or the log rate ratio for volumes), ``deviance``
        (likelihood-ratio chi-square of the change without its most extreme bin, divided by
        ``dispersion``, the overdispersion of the baseline), ``p_value`` (Bonferroni over
        intervals), ``q_value`` (Benjamini-Hochberg over all series), ``ongoing`` (the change
        lasts until the end of the log),
        ``n_baseline`` and ``n_changed`` (trials, or events for volumes). Empty when nothing
        changed.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> days = pd.date_range("2025-01-01", periods=40, freq="D", tz="UTC")
    >>> rows = []
    >>> for d, day in enumerate(days):
    ...     p = 0.2 if 20 <= d < 25 else 0.8   # checkouts fail from day 20 to 24
    ...     for i in range(60):
    ...         t = day + pd.Timedelta(hours=12, minutes=i % 50)
    ...         rows.append((f"c{d}_{i}", t, "checkout", "app"))
    ...         if rng.random() < p:
    ...             rows.append((f"c{d}_{i}", t + pd.Timedelta(minutes=1), "purchase", "app"))
    >>> log = pd.DataFrame(rows, columns=["customer_id", "timestamp", "activity", "channel"])
    >>> res = detect_changes(log, metrics=["edges"], min_support=50)
    >>> res[["channel", "what", "direction"]].iloc[0].tolist()
    ['app', 'checkout -> purchase', 'drop']
    >>> str(res["start"].iloc[0].date()), str(res["end"].iloc[0].date())
    ('2025-01-21', '2025-01-26')
    """
    _check_common(min_support, alpha)
    metrics_t = _check_metrics(metrics, _CHANGE_METRICS)
    if conversions is not None:
        ok = isinstance(conversions, Sequence) and len(conversions) > 0
        for pair in conversions if ok else ():
            ok = ok and isinstance(pair, tuple | list) and len(pair) == 2
            ok = ok and all(isinstance(x, str) for x in pair)
        if not ok:
            raise ConfigError(
                f"conversions must be a list of (from, to) activity pairs, got {conversions!r}."
            )
        pairs = [(str(a), str(b)) for a, b in conversions]
        metrics_t = tuple(dict.fromkeys([*metrics_t, "conversions"]))
    elif "conversions" in metrics_t:
        raise ConfigError(
            "metric 'conversions' needs conversions=[(from, to), ...], e.g. "
            "[('checkout', 'purchase')]."
        )
    if not 0 <= float(min_effect) < np.pi:
        raise ConfigError(f"min_effect (Cohen's h) must be within [0, pi), got {min_effect!r}.")
    if not 0.0 <= float(min_consistency) <= 1.0:
        raise ConfigError(f"min_consistency must be within [0, 1], got {min_consistency!r}.")
    if not float(min_ratio) >= 1.0:
        raise ConfigError(f"min_ratio must be >= 1, got {min_ratio!r}.")
    if isinstance(max_changes, bool) or not isinstance(max_changes, int) or max_changes < 1:
        raise ConfigError(f"max_changes must be a positive integer, got {max_changes!r}.")
    lg = _prepare(log, by=by, segment=segment, session_gap=session_gap, purpose="detect_changes")
    b, t_len, origin, width = _bins(lg, freq)
    min_bins = _duration_bins(min_duration, width, "min_duration")
    max_bins = (
        max(t_len // 2, 1)
        if max_duration is None
        else _duration_bins(max_duration, width, "max_duration")
    )
    gap_bins = int(_timedelta(merge_gap, "merge_gap").value // 1000 // width)
    if min_bins > max_bins or t_len < 2 * min_bins:
        raise ConfigError(
            f"the log spans {t_len} bins of {freq!r}: too short to find changes of at least "
            f"{min_bins} bins against a baseline. Use a finer freq or a shorter min_duration."
        )
    if t_len * max_bins > 20_000_000:
        raise ConfigError(
            f"{t_len} bins x changes up to {max_bins} bins is too many intervals to scan; use "
            f"a coarser freq or a smaller max_duration."
        )
    series: list[_Series] = []
    if "edges" in metrics_t:
        series += _edge_series(lg, b, t_len, min_support)
    if "conversions" in metrics_t and conversions is not None:
        series += _conversion_series(lg, b, t_len, pairs, min_support)
    if "volumes" in metrics_t:
        series += _volume_series(lg, b, t_len, min_support)
    logger.info("scanning %d series over %d bins", len(series), t_len)
    iterator: Any = series
    if show_progress:
        from tqdm.auto import tqdm

        iterator = tqdm(series, desc="scanning series", unit="series")
    found: list[tuple[_Series, _Interval, dict[str, float]]] = []
    family: list[float] = []  # every test made: detections and rejected candidates
    ref: list[int] = []  # index into found, -1 for a rejected candidate
    for s in iterator:
        hits, rejected = _scan_series(
            s,
            min_bins=min_bins,
            max_bins=max_bins,
            open_ended=open_ended,
            min_effect=float(min_effect),
            min_ratio=float(min_ratio),
            min_consistency=float(min_consistency),
            alpha=float(alpha),
            max_changes=max_changes,
            merge_gap=gap_bins,
        )
        for iv, st in hits:
            ref.append(len(found))
            found.append((s, iv, st))
            family.append(st["p_value"])
        if rejected is not None or not hits:
            ref.append(-1)
            family.append(1.0 if rejected is None else rejected)
    columns = _change_columns(lg)
    if not found:
        return pd.DataFrame(columns=columns)
    q_all = _bh(np.array(family))
    q_found = np.empty(len(found))
    for q, r in zip(q_all, ref, strict=True):
        if r >= 0:
            q_found[r] = q
    rows = []
    for (s, iv, st), q in zip(found, q_found, strict=True):
        if q > alpha:
            continue
        group_vals = {c: lg.groups[c].iloc[s.group] for c in lg.groups.columns}
        what = (
            f"{s.source} -> {s.target}"
            if s.metric == "edges"
            else f"{s.source} => {s.target}"
            if s.metric == "conversions"
            else s.source
        )
        rows.append(
            {
                "metric": s.metric,
                **group_vals,
                "what": what,
                "source": s.source,
                "target": s.target,
                "start": origin + iv.start * width,
                "end": origin + iv.end * width,
                "bins": iv.end - iv.start,
                "direction": "drop" if st["changed"] < st["baseline"] else "rise",
                "baseline": st["baseline"],
                "changed": st["changed"],
                "difference": st["changed"] - st["baseline"],
                "ratio": float(_ratio(np.array([st["changed"]]), np.array([st["baseline"]]))[0]),
                "effect": st["effect"],
                "effect_measure": "cohen_h" if s.kind == "binomial" else "log_rate_ratio",
                "deviance": st["deviance"],
                "dispersion": st["dispersion"],
                "p_value": st["p_value"],
                "q_value": float(q),
                "ongoing": iv.end >= t_len,
                "n_baseline": int(st["n_baseline"]),
                "n_changed": int(st["n_changed"]),
                "_group": s.group,
                "_start": iv.start,
                "_end": iv.end,
            }
        )
    if not rows:
        return pd.DataFrame(columns=columns)
    out = pd.DataFrame(rows)
    out = _incidents(out, gap_bins)
    out["where"] = _where(out, list(lg.groups.columns))
    for col in ("start", "end"):
        out[col] = pd.to_datetime(out[col].to_numpy(dtype=np.int64), unit="us", utc=True)
    return out[columns].reset_index(drop=True)


def _incidents(out: pd.DataFrame, gap_bins: int) -> pd.DataFrame:
    """Group detections of one group that overlap in time (within ``gap_bins``) into incidents,
    numbered by their strongest evidence; rows sorted by incident then evidence."""
    out = out.sort_values(["_group", "_start", "_end"], kind="stable").reset_index(drop=True)
    label = np.zeros(len(out), dtype=np.int64)
    current, reach, prev_group = -1, -1, None
    for i, (g, s, e) in enumerate(zip(out["_group"], out["_start"], out["_end"], strict=True)):
        if g != prev_group or s > reach + gap_bins:
            current += 1
            reach = e
        else:
            reach = max(reach, e)
        label[i] = current
        prev_group = g
    out["_label"] = label
    strength = out.groupby("_label")["deviance"].max()
    rank = strength.sort_values(ascending=False, kind="stable").index
    number = pd.Series(np.arange(1, len(rank) + 1), index=rank)
    out["incident"] = number.reindex(out["_label"]).to_numpy()
    return out.sort_values(["incident", "deviance"], ascending=[True, False], kind="stable")
