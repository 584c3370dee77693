"""Journey-level series per time bin: conversion along paths to a goal (a funnel given or the
top paths found), the share of sessions with an error/support activity, and the share of
slow steps (time between steps); see :mod:`journeymine.journeys.change`.

Every series is binomial and counted per session, in the bin of the session's first event
(funnel paths: the bin of the path's first step).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pandas as pd

from journeymine import schema
from journeymine.exceptions import ConfigError
from journeymine.journeys.change._log import _US, _activity_codes, _Log, _session_starts
from journeymine.journeys.change.scan import _Series
from journeymine.journeys.change.series import (
    SKIP_EMPTY,
    SKIP_SUPPORT,
    _binomial_series,
    _edge_parts,
    _frequent,
    _per_bin,
    _Skip,
)

#: activity names counted as errors or support contacts when ``error_activities`` is not given
ERROR_PATTERN = re.compile(
    r"error|fail|crash|timeout|exception|problem|complain|support|help|contact|call_?cent",
    re.IGNORECASE,
)
_PATH_STEPS = 2  # steps before the goal in an automatic path
_N_PATHS = 3  # automatic paths to the goal


def find_goal(lg: _Log, log: pd.DataFrame | None = None) -> str | None:
    """The log's goal activity, or None.

    The rule: the activity carrying most of the positive ``value`` column when the log has
    one (a purchase carries revenue); otherwise, among activities found in 0.5% to 50% of
    the sessions that end at least half of the sessions they occur in, the one reached
    deepest into its sessions (most events before it, on average); on a sample of 200,000
    sessions in larger logs. An error page that ends sessions early is thus not taken for the
    goal.
    """
    if log is not None and schema.VALUE in log.columns:
        v = pd.to_numeric(log[schema.VALUE], errors="coerce")
        pos = v.notna() & (v > 0)
        if pos.sum() >= 30:
            share = log.loc[pos, schema.ACTIVITY].astype(str).value_counts(normalize=True)
            if share.iloc[0] >= 0.5:
                return str(share.index[0])
    first, end = _session_starts(lg)
    n_sess = len(first)
    if n_sess == 0:
        return None
    n_act = len(lg.acts)
    # on large logs an even sample of 200,000 sessions is enough
    stride = max(1, n_sess // 200_000)
    pos = np.flatnonzero(lg.session % stride == 0) if stride > 1 else np.arange(len(lg.act))
    # one count per (session, activity): first occurrence only
    key = lg.session[pos] * n_act + lg.act[pos]
    order = np.argsort(key, kind="stable")
    ks = key[order]
    firsts = pos[order[np.r_[True, ks[1:] != ks[:-1]]]]
    acts = lg.act[firsts]
    in_sess = np.bincount(acts, minlength=n_act)
    depth = np.bincount(acts, weights=firsts - first[lg.session[firsts]], minlength=n_act)
    last_act = lg.act[end[::stride] - 1]
    ends = np.bincount(last_act, minlength=n_act)
    share = in_sess / len(last_act)
    ok = (share >= 0.005) & (share <= 0.5) & (ends >= 0.5 * np.maximum(in_sess, 1))
    if not ok.any():
        return None
    mean_depth = np.where(ok, depth / np.maximum(in_sess, 1), -1.0)
    best = int(np.argmax(mean_depth))
    return str(lg.acts[best]) if mean_depth[best] >= 2 else None


def top_paths(lg: _Log, goal: str, *, n_paths: int = _N_PATHS) -> list[tuple[str, ...]]:
    """The most frequent paths to ``goal``: the last ``_PATH_STEPS`` distinct activities
    before the first goal event of a session, then the goal (sessions reaching the goal)."""
    (g,) = _activity_codes(lg, [goal], "goal")
    first, _ = _session_starts(lg)
    hit = np.flatnonzero(lg.act == g)
    if not len(hit):
        return []
    sess = lg.session[hit]
    keep = np.r_[True, sess[1:] != sess[:-1]]
    hit, sess = hit[keep], sess[keep]
    if len(hit) > 5_000:  # an even sample of the goal sessions is enough to rank paths
        pick = np.linspace(0, len(hit) - 1, 5_000).astype(np.int64)
        hit, sess = hit[pick], sess[pick]
    counts: dict[tuple[str, ...], int] = {}
    acts = lg.act
    for h, s in zip(hit.tolist(), sess.tolist(), strict=True):
        seen: list[int] = []
        for p in range(h - 1, int(first[s]) - 1, -1):
            a = int(acts[p])
            if a != g and a not in seen:
                seen.append(a)
                if len(seen) == _PATH_STEPS:
                    break
        if seen:
            path = (*(str(lg.acts[a]) for a in reversed(seen)), goal)
            counts[path] = counts.get(path, 0) + 1
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [p for p, _ in ranked[:n_paths]]


def _path_series(
    lg: _Log,
    b: np.ndarray,
    t_len: int,
    paths: Sequence[tuple[str, ...]],
    min_support: int,
    skipped: list[_Skip],
) -> list[_Series]:
    """Per path (a, ..., goal): sessions with ``a`` (trials, in the bin of their first ``a``)
    that go on through the path's steps in order to the goal (successes)."""
    out: list[_Series] = []
    n_g = len(lg.groups)
    n = len(lg.act)
    sess_end = _session_starts(lg)[1][lg.session]  # end of each event's session
    for path in paths:
        codes = _activity_codes(lg, list(path), "funnel")
        ma = np.flatnonzero(lg.act == codes[0])
        if not len(ma):
            continue
        sa = lg.session[ma]
        start = ma[np.r_[True, sa[1:] != sa[:-1]]]  # first step a of each session
        cur = start.copy()
        ok = np.ones(len(start), dtype=bool)
        for c in codes[1:]:
            pos_c = np.flatnonzero(lg.act == c)
            j = np.searchsorted(pos_c, cur + 1)
            nxt = np.where(j < len(pos_c), pos_c[np.minimum(j, max(len(pos_c) - 1, 0))], n)
            ok &= (nxt < sess_end[start]) & (j < len(pos_c))
            cur = np.where(ok, nxt, cur)
        _binomial_series(
            "journeys",
            (lg.group[start], b[start], ok),
            (n_g, t_len),
            (path[0], path[-1], " > ".join(path)),
            min_support,
            out,
            skipped,
        )
    return out


def error_activities(lg: _Log, given: Sequence[str] | None) -> list[str]:
    """The error/support activities: those given, else the names matching ``ERROR_PATTERN``."""
    if given is not None:
        _activity_codes(lg, list(given), "error_activities")
        return list(given)
    return [str(a) for a in lg.acts if ERROR_PATTERN.search(str(a))]


def _error_series(
    lg: _Log,
    b: np.ndarray,
    t_len: int,
    names: Sequence[str],
    min_support: int,
    skipped: list[_Skip],
) -> list[_Series]:
    """Share of sessions (in the bin of their first event) with an error/support activity."""
    n_g = len(lg.groups)
    what = "sessions with " + (" or ".join(names) if len(names) <= 3 else "error/support")
    if not names:
        for code in range(n_g):
            skipped.append(_Skip("errors", code, "", None, "sessions with errors", 0, SKIP_EMPTY))
        return []
    first, _ = _session_starts(lg)
    codes = _activity_codes(lg, list(names), "error_activities")
    flag = np.zeros(len(lg.acts), dtype=bool)
    flag[codes] = True
    is_err = flag[lg.act]
    has = np.zeros(len(first), dtype=bool)
    has[lg.session[is_err]] = True
    out: list[_Series] = []
    _binomial_series(
        "errors",
        (lg.group[first], b[first], has),
        (n_g, t_len),
        (", ".join(names), None, what),
        min_support,
        out,
        skipped,
        support_of="successes",
    )
    return out


def _step_time_series(
    lg: _Log, b: np.ndarray, t_len: int, min_support: int, skipped: list[_Skip]
) -> list[_Series]:
    """Per frequent edge ``a -> b``: the share of its transitions slower than the edge's
    median time over the whole log (a slowdown is a rise, a speed-up a drop)."""
    n_act = len(lg.acts)
    src = np.flatnonzero(lg.nxt >= 0)
    dt = lg.ts[lg.nxt[src]] - lg.ts[src]
    ekey = (lg.group[src] * n_act + lg.act[src]) * n_act + lg.act[lg.nxt[src]]
    frequent, idx, rare, rare_n = _frequent(ekey, len(lg.groups) * n_act * n_act, min_support)
    for e, c in zip(rare.tolist(), rare_n.tolist(), strict=True):
        g, s, t = _edge_parts(e, n_act)
        what = f"{lg.acts[s]} -> {lg.acts[t]} slow"
        skipped.append(
            _Skip("step_times", g, str(lg.acts[s]), str(lg.acts[t]), what, c, SKIP_SUPPORT)
        )
    if not len(frequent):
        return []
    hit = idx >= 0
    row, d, bins = idx[hit], dt[hit], b[src][hit]
    order = np.lexsort((d, row))
    row_s, d_s = row[order], d[order]
    starts = np.searchsorted(row_s, np.arange(len(frequent)))
    ends = np.searchsorted(row_s, np.arange(len(frequent)), side="right")
    median = d_s[(starts + ends - 1) // 2]
    slow = d > median[row]
    trials = _per_bin(row, bins, len(frequent), t_len)
    succ = _per_bin(row[slow], bins[slow], len(frequent), t_len)
    out = []
    for r, e in enumerate(frequent.tolist()):
        g, s, t = _edge_parts(e, n_act)
        secs = median[r] / _US
        what = f"{lg.acts[s]} -> {lg.acts[t]} slower than {_fmt_seconds(secs)}"
        out.append(
            _Series(
                "step_times",
                g,
                str(lg.acts[s]),
                str(lg.acts[t]),
                succ[r],
                trials[r],
                "binomial",
                what=what,
            )
        )
    return out


def _fmt_seconds(secs: float) -> str:
    if secs < 120:
        return f"{secs:.0f}s"
    if secs < 7200:
        return f"{secs / 60:.0f}min"
    if secs < 172_800:
        return f"{secs / 3600:.0f}h"
    return f"{secs / 86_400:.0f}d"


def check_funnel(funnel: object) -> tuple[str, ...]:
    if (
        isinstance(funnel, str)
        or not isinstance(funnel, Sequence)
        or len(funnel) < 2
        or not all(isinstance(a, str) for a in funnel)
    ):
        raise ConfigError(
            f"funnel must be a list of at least two activity names, e.g. ['add_to_cart', "
            f"'checkout', 'purchase'], got {funnel!r}."
        )
    return tuple(funnel)
