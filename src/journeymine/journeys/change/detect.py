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
from journeymine.journeys._common import check_int, check_window
from journeymine.journeys.change._log import (
    _US,
    Segment,
    _check_alpha,
    _check_metrics,
    _Log,
    _prepare,
    _where,
)
from journeymine.journeys.change._stats import _bh, _ratio
from journeymine.journeys.change.journey_series import (
    _error_series,
    _path_series,
    _step_time_series,
    check_funnel,
    find_goal,
    top_paths,
)
from journeymine.journeys.change.journey_series import error_activities as _error_names
from journeymine.journeys.change.scan import (
    BOOTSTRAP_BELOW,
    ScanFilters,
    _Interval,
    _scan_series,
    _Series,
    bootstrap_p_value,
    n_intervals,
    null_tail_constant,
)
from journeymine.journeys.change.scanned import _scan_table, scan_summary
from journeymine.journeys.change.series import (
    SKIP_SHORT,
    _auto_freq,
    _auto_support,
    _bins,
    _conversion_series,
    _edge_series,
    _Skip,
    _volume_series,
    _weekday_adjust,
)

__all__ = ["detect_changes", "scan_summary"]

logger = logging.getLogger(__name__)

ChangeMetric = Literal["edges", "conversions", "journeys", "errors", "step_times", "volumes"]

_CHANGE_METRICS: tuple[str, ...] = (
    "edges",
    "conversions",
    "journeys",
    "errors",
    "step_times",
    "volumes",
)


def _duration_bins(value: str | pd.Timedelta, width: int, name: str) -> int:
    td = check_window(value, name)
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
    by: Sequence[str] | None = None,
    segment: Segment | None = None,
    metrics: Sequence[ChangeMetric] = ("edges", "journeys", "errors", "volumes"),
    conversions: Sequence[tuple[str, str]] | None = None,
    funnel: Sequence[str] | None = None,
    goal: str | None = None,
    error_activities: Sequence[str] | None = None,
    freq: str = "auto",
    min_support: int | Literal["auto"] = "auto",
    min_duration: str | pd.Timedelta = "auto",
    max_duration: str | pd.Timedelta | None = None,
    min_effect: float = 0.2,
    min_ratio: float = 1.5,
    min_consistency: float = 0.6,
    alpha: float = 0.01,
    max_changes: int = 3,
    open_ended: bool = False,
    merge_gap: str | pd.Timedelta = "auto",
    weekly: bool | Literal["auto"] = "auto",
    session_gap: str | pd.Timedelta = "30min",
    show_progress: bool = False,
) -> pd.DataFrame:
    """Find when journey metrics changed: what, where, from when to when, how much, how sure.

    Parameters
    ----------
    log : DataFrame
        Canonical log (need not be sorted).
    by : list of str, optional
        Columns splitting the series (one series per value combination). ``()`` for none.
        Default: ``("channel",)`` when the log has a ``channel`` column, else none (a process
        log often has no channel; said in the log).
    segment : str or mapping, optional
        A column or a mapping customer -> segment; series are split per segment too, and
        volumes are per active customer of the segment.
    metrics : list, default ("edges", "journeys", "errors", "volumes")
        Series to scan (see :mod:`journeymine.journeys.change`): ``"edges"``,
        ``"conversions"`` (needs ``conversions``), ``"journeys"`` (conversion along the
        ``funnel``, or along the top 3 paths to the ``goal``), ``"errors"`` (share of sessions
        with an error/support activity), ``"step_times"`` (share of an edge's transitions
        slower than its median time), ``"volumes"``.
    conversions : list of (str, str), optional
        Pairs ``(a, b)``: the share of sessions with ``a`` in which ``b`` follows, e.g.
        ``[("checkout", "purchase")]``. Adds ``"conversions"`` to ``metrics`` when given.
    funnel : list of str, optional
        Ordered steps, e.g. ``["add_to_cart", "checkout", "purchase"]``: the share of
        sessions with the first step that go through every step in order, and of each step
        to the next. Adds ``"journeys"`` to ``metrics`` and replaces the automatic paths.
    goal : str, optional
        The goal activity of the automatic paths. Default: found in the log (the activity
        carrying most of a ``value`` column; else, among activities in 0.5%-50% of sessions
        that end at least half of their sessions, the one reached deepest); reported in
        ``.attrs["settings"]["goal"]``.
    error_activities : list of str, optional
        Activities counted by ``"errors"``. Default: activity names matching
        ``error|fail|crash|timeout|exception|problem|complain|support|help|contact``.
    freq : str, default "auto"
        Bin width, a fixed frequency ('D', '12h', '7D'); bins start at midnight UTC for 'D'.
        ``"auto"``: daily for logs spanning 14 to 400 days, hours for shorter logs (at least
        56 bins), 2, 3 or 7 days for longer ones (at most 400 bins).
    min_support : int or "auto", default "auto"
        Scan a series only if it has at least this many events over the whole log in its
        group (edges: transitions; conversions and journeys: sessions with the first step;
        errors: sessions with an error). ``"auto"``: one event in 5,000 of the log, at least
        30 (30 up to 150k events, 200 at 1M, 2,000 at 10M). Skipped series are listed in
        ``.attrs["scan"]``.
    min_duration : str or Timedelta, default "auto"
        Shortest change reported (rounded up to whole bins); ``"auto"``: two bins (two days
        with daily bins), the shortest change that a one-bin spike (a campaign day) cannot
        fake. Use "1D" with daily bins to see one-day changes.
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
        Level of the per-series scan (its p-value is calibrated on the simulated maximum of
        the scan over the same intervals, and near the threshold on a block bootstrap of the
        series itself; see :mod:`journeymine.journeys.change`) and false discovery rate over
        all series (Benjamini-Hochberg) for a change to be reported.
    max_changes : int, default 3
        Most changes looked for per series.
    open_ended : bool, default False
        Also report changes that touch the first or the last bin (the departure or the return
        is not observed, e.g. an incident still going on). Off by default because the edges
        of a log are where extraction artefacts live: returns of purchases made before the
        log started are missing at its start, late steps of recent journeys at its end.
    merge_gap : str or Timedelta, default "auto"
        Detections of one series that move the same way and are at most this far apart are
        merged; detections in one ``by`` group (and segment) within this gap of each other
        form one incident. ``"auto"``: one bin.
    weekly : bool or "auto", default "auto"
        Remove each series' weekday rhythm before scanning (shrunk towards none when noise
        could explain it), so that weekends are not changes. ``"auto"``: with daily bins over
        at least four weeks.
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
        ``dispersion``: the overdispersion of the baseline times the variance inflation from
        its autocorrelation), ``p_value`` (the scan's calibrated p-value), ``q_value``
        (Benjamini-Hochberg over all series), ``ongoing`` (the change lasts until the end of
        the log), ``n_baseline`` and ``n_changed`` (trials, or events for volumes). Empty when
        nothing changed. With daily bins the rates are weekday-adjusted.

        What was scanned is in ``.attrs``: ``"scan"``, one row per series considered
        (``metric``, ``where``, the ``by`` columns, ``what``, ``status``: "scanned", "too
        little support", "too short" or "nothing to measure"; ``support``, ``rate``,
        ``detectable_effect``: the smallest effect detectable with 80% power in a change of
        the shortest duration, ``detectable_drop_to``: the rate such a drop leads to,
        ``weekday_shrinkage``, ``changes`` reported); ``"settings"``, the values used (``freq``,
        ``min_support``, ``min_duration``, ``goal``, ...); ``"summary"``, one line (see
        :func:`scan_summary`).

    Raises
    ------
    ConfigError
        An argument is invalid, or the log is too short for the bins and durations.
    UnknownActivityError
        ``conversions``, ``funnel``, ``goal`` or ``error_activities`` name an activity absent
        from the log.
    EmptyLogError, MissingColumnError, EventLogError
        The log is empty, lacks a ``by`` column, or has nulls in one.

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
    >>> res.attrs["summary"]
    "scanned 1 series (0 skipped); detectable: Cohen's h 2.12"

    With its defaults on the synthetic journeys (bins, support and the goal chosen from the
    log):

    >>> from journeymine.datasets import make_journeys
    >>> data = make_journeys(n_customers=2_000, random_state=0)
    >>> res = detect_changes(data.events)
    >>> res.drop_duplicates("incident")[["where", "what"]].values.tolist()
    [['app', 'checkout -> purchase'], ['web', 'search -> view_product']]
    >>> res.attrs["settings"]["freq"], res.attrs["settings"]["goal"]
    ('1D', 'purchase')
    """
    if not (isinstance(min_support, str) and min_support == "auto"):
        check_int(min_support, "min_support")
    _check_alpha(alpha)
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
    funnel_t = check_funnel(funnel) if funnel is not None else None
    if funnel_t is not None:
        metrics_t = tuple(dict.fromkeys([*metrics_t, "journeys"]))
    if goal is not None and not isinstance(goal, str):
        raise ConfigError(f"goal must be an activity name, got {goal!r}.")
    if not 0 <= float(min_effect) < np.pi:
        raise ConfigError(f"min_effect (Cohen's h) must be within [0, pi), got {min_effect!r}.")
    if not 0.0 <= float(min_consistency) <= 1.0:
        raise ConfigError(f"min_consistency must be within [0, 1], got {min_consistency!r}.")
    if not float(min_ratio) >= 1.0:
        raise ConfigError(f"min_ratio must be >= 1, got {min_ratio!r}.")
    if isinstance(max_changes, bool) or not isinstance(max_changes, int) or max_changes < 1:
        raise ConfigError(f"max_changes must be a positive integer, got {max_changes!r}.")
    if weekly not in (True, False, "auto"):
        raise ConfigError(f"weekly must be True, False or 'auto', got {weekly!r}.")
    lg = _prepare(log, by=by, segment=segment, session_gap=session_gap, purpose="detect_changes")
    freq_used = _auto_freq(lg) if _is_auto(freq) else freq
    b, t_len, origin, width = _bins(lg, freq_used)
    min_bins = 2 if _is_auto(min_duration) else _duration_bins(min_duration, width, "min_duration")
    support = _auto_support(len(lg.ts)) if _is_auto(min_support) else int(min_support)
    max_bins = (
        max(t_len // 2, 1)
        if max_duration is None
        else _duration_bins(max_duration, width, "max_duration")
    )
    gap_bins = (
        1
        if _is_auto(merge_gap)
        else int(check_window(merge_gap, "merge_gap").value // 1000 // width)
    )
    if min_bins > max_bins or t_len < 2 * min_bins:
        raise ConfigError(
            f"the log spans {t_len} bins of {freq_used!r}: too short to find changes of at "
            f"least {min_bins} bins against a baseline. Use a finer freq or a shorter "
            f"min_duration."
        )
    if t_len * max_bins > 20_000_000:
        raise ConfigError(
            f"{t_len} bins x changes up to {max_bins} bins is too many intervals to scan; use "
            f"a coarser freq or a smaller max_duration."
        )
    skipped: list[_Skip] = []
    series: list[_Series] = []
    goal_used: str | None = None
    if "edges" in metrics_t:
        series += _edge_series(lg, b, t_len, support, skipped)
    if "conversions" in metrics_t and conversions is not None:
        series += _conversion_series(lg, b, t_len, pairs, support, skipped)
    if "journeys" in metrics_t:
        if funnel_t is not None:
            paths = [funnel_t, *[funnel_t[i : i + 2] for i in range(len(funnel_t) - 1)]]
            paths = list(dict.fromkeys(paths))
        else:
            goal_used = goal if goal is not None else find_goal(lg, log)
            paths = top_paths(lg, goal_used) if goal_used is not None else []
            if goal_used is None:
                logger.info("metric 'journeys' skipped: no goal activity found (pass goal=...)")
        series += _path_series(lg, b, t_len, paths, support, skipped)
    if "errors" in metrics_t:
        names = _error_names(lg, error_activities)
        series += _error_series(lg, b, t_len, names, support, skipped)
    if "step_times" in metrics_t:
        series += _step_time_series(lg, b, t_len, support, skipped)
    if "volumes" in metrics_t:
        series += _volume_series(lg, b, t_len, support, skipped)
    # series with too few bins holding data cannot show a change against a baseline
    kept = []
    for s in series:
        if _bins_with_data(s) < 2 * min_bins + 2:
            n_sup = int(s.k.sum() if s.kind == "poisson" else s.n.sum())
            skipped.append(_Skip(s.metric, s.group, s.source, s.target, s.what, n_sup, SKIP_SHORT))
        else:
            kept.append(s)
    series = kept
    day_us = 86_400 * _US
    adjust_week = weekly is True or (weekly == "auto" and width == day_us and t_len >= 28)
    if adjust_week:
        dow = ((origin // day_us + np.arange(t_len) + 3) % 7).astype(np.int64)  # 0 = Monday
        for s in series:
            s.weekday = _weekday_adjust(s, dow)
    scanned = n_intervals(t_len, min_bins, max_bins, open_ended)
    null_k = null_tail_constant(t_len, min_bins, max_bins, bool(open_ended)) if series else None
    logger.info("scanning %d series over %d bins (%d skipped)", len(series), t_len, len(skipped))
    iterator: Any = series
    if show_progress:
        from tqdm.auto import tqdm

        iterator = tqdm(series, desc="scanning series", unit="series")
    filters = ScanFilters(
        min_bins=min_bins,
        max_bins=max_bins,
        open_ended=open_ended,
        min_effect=float(min_effect),
        min_ratio=float(min_ratio),
        min_consistency=float(min_consistency),
    )
    found: list[tuple[_Series, _Interval, dict[str, float]]] = []
    family: list[float] = []  # every test made: detections and rejected candidates
    ref: list[int] = []  # index into found, -1 for a rejected candidate
    n_found: list[int] = []
    for s in iterator:
        hits, rejected = _scan_series(
            s,
            filters,
            alpha=float(alpha),
            max_changes=max_changes,
            merge_gap=gap_bins,
            null_k=null_k,
        )
        n_found.append(len(hits))
        for iv, st in hits:
            ref.append(len(found))
            found.append((s, iv, st))
            family.append(st["p_value"])
        if rejected is not None or not hits:
            ref.append(-1)
            family.append(1.0 if rejected is None else rejected)
    columns = _change_columns(lg)
    q_all = _bh(np.array(family))
    # detections near the threshold are checked against their series' own null (block
    # bootstrap); the larger of the two p-values is kept
    rechecked = 0
    detected: dict[int, np.ndarray] = {}
    for s, iv, _ in found:
        detected.setdefault(id(s), np.zeros(t_len, dtype=bool))[iv.start : iv.end] = True
    for pos, r in enumerate(ref):
        if r < 0 or q_all[pos] > alpha or family[pos] <= BOOTSTRAP_BELOW:
            continue
        s, iv, st = found[r]
        p_boot = bootstrap_p_value(
            s,
            detected[id(s)],
            st["deviance"],
            filters,
            scanned=scanned,
        )
        st["p_value"] = max(st["p_value"], p_boot)
        family[pos] = st["p_value"]
        rechecked += 1
    if rechecked:
        q_all = _bh(np.array(family))
    q_found = np.empty(len(found))
    for q, r in zip(q_all, ref, strict=True):
        if r >= 0:
            q_found[r] = q
    rows = []
    reported: dict[int, int] = {}
    for (s, iv, st), q in zip(found, q_found, strict=True):
        if q > alpha:
            continue
        reported[id(s)] = reported.get(id(s), 0) + 1
        group_vals = {c: lg.groups[c].iloc[s.group] for c in lg.groups.columns}
        rows.append(
            {
                "metric": s.metric,
                **group_vals,
                "what": s.what,
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
    if rows:
        out = pd.DataFrame(rows)
        out = _incidents(out, gap_bins)
        out["where"] = _where(out, list(lg.groups.columns))
        for col in ("start", "end"):
            out[col] = pd.to_datetime(out[col].to_numpy(dtype=np.int64), unit="us", utc=True)
        out = out[columns].reset_index(drop=True)
    else:
        out = pd.DataFrame(columns=columns)
    scan = _scan_table(
        lg,
        series,
        skipped,
        reported,
        min_bins=min_bins,
        scanned=scanned,
        alpha=float(alpha),
        min_effect=float(min_effect),
        min_ratio=float(min_ratio),
        null_k=null_k,
    )
    out.attrs["scan"] = scan
    out.attrs["settings"] = {
        "freq": str(freq_used),
        "min_support": support,
        "min_duration": str(pd.Timedelta(microseconds=min_bins * width)),
        "max_duration": str(pd.Timedelta(microseconds=max_bins * width)),
        "bins": t_len,
        "intervals_per_series": scanned,
        "weekday_adjusted": int(sum(s.weekday > 0 for s in series)),
        "goal": goal_used,
        "alpha": float(alpha),
        "bootstrap_checked": rechecked,
    }
    out.attrs["summary"] = scan_summary(scan)
    return out


def _bins_with_data(s: _Series) -> int:
    """Bins with trials (binomial), or the span from the first to the last bin with an event
    (Poisson: the exposure is there every bin, the activity may not exist yet)."""
    if s.kind == "binomial":
        return int((s.n > 0).sum())
    on = np.flatnonzero(s.k > 0)
    return int(on[-1] - on[0] + 1) if len(on) else 0


def _is_auto(value: Any) -> bool:
    return isinstance(value, str) and value == "auto"


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
