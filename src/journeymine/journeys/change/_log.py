"""A sorted, integer-coded view of a log shared by comparisons and change detection."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from journeymine import schema
from journeymine.exceptions import (
    ConfigError,
    EventLogError,
    MissingColumnError,
    did_you_mean,
)
from journeymine.journeys._common import check_int, check_window, segment_labels

logger = logging.getLogger(__name__)

Segment: TypeAlias = str | Mapping[Any, Any] | pd.Series

_SEGMENT = "segment"
_US = 1_000_000


# --- preparing the log --------------------------------------------------------------------------
@dataclass
class _Log:
    """A sorted, integer-coded view of a log (internal)."""

    ts: np.ndarray  # int64 microseconds since epoch, sorted within customer
    cust: np.ndarray  # customer code
    act: np.ndarray  # activity code
    acts: np.ndarray  # activity names by code
    group: np.ndarray  # code of the (by..., segment) group of each event
    groups: pd.DataFrame  # one row per group code
    seg: np.ndarray  # segment code of each event (0 without segment)
    nxt: np.ndarray  # position of the next event in the same session, -1 at a session end
    session: np.ndarray  # session number of each event
    initiated: np.ndarray  # True unless the event is tagged with a journey_id (a CRM touch)
    by: tuple[str, ...] = ()  # the columns splitting the groups (the default resolved)


def _session_starts(lg: _Log) -> tuple[np.ndarray, np.ndarray]:
    """Position of the first and one past the last event of every session (computed once
    per prepared log)."""
    cached = lg.__dict__.get("_session_bounds")
    if cached is None:
        first = np.flatnonzero(np.r_[True, lg.session[1:] != lg.session[:-1]])
        cached = (first, np.r_[first[1:], len(lg.session)])
        lg.__dict__["_session_bounds"] = cached
    return cached


def _segment_of_group(lg: _Log) -> pd.Series:
    """The segment code of every group code (a group lies inside one segment)."""
    return pd.Series(lg.seg).groupby(lg.group).first()


def _names(values: Any, what: str) -> tuple[str, ...]:
    if isinstance(values, str):
        return (values,)
    if not isinstance(values, Sequence) or not all(isinstance(v, str) for v in values):
        raise ConfigError(f"{what} must be a list of names, got {values!r}.")
    return tuple(values)


def _check_metrics(metrics: Any, allowed: tuple[str, ...]) -> tuple[str, ...]:
    names = _names(metrics, "metrics")
    if not names:
        raise ConfigError(f"metrics is empty; choose among {list(allowed)}.")
    for m in names:
        if m not in allowed:
            raise ConfigError(
                f"unknown metric {m!r}.{did_you_mean(m, allowed)} Allowed: {list(allowed)}."
            )
    return tuple(dict.fromkeys(names))


def _prepare(
    log: pd.DataFrame,
    *,
    by: Sequence[str] | None,
    segment: Segment | None,
    session_gap: str | pd.Timedelta,
    purpose: str,
) -> _Log:
    log = schema.canonical_log(log)
    if by is None:  # the default: per channel when there are channels
        by = (schema.CHANNEL,) if schema.CHANNEL in log.columns else ()
        if not by:
            logger.info("%s: the log has no 'channel' column; analysed as a whole", purpose)
    by = _names(by, "by")
    if _SEGMENT in by:
        raise ConfigError(f"{_SEGMENT!r} cannot be a by column; pass segment=... instead.")
    missing = [c for c in by if c not in log.columns]
    if missing:
        available = [str(c) for c in log.columns]
        hints = "".join(did_you_mean(c, available) for c in missing)
        raise MissingColumnError(
            f"{purpose}(by={list(by)}): the log has no column {', '.join(map(repr, missing))}."
            f"{hints} Available columns: {available}. Pass by=() to analyse the log as a "
            f"whole (a process log often has no channel), or name existing columns."
        )
    for col in by:
        if log[col].isna().any():
            raise EventLogError(
                f"by column {col!r} has {int(log[col].isna().sum())} nulls; fill them or "
                f"filter the log (jm.validate(log, drop_invalid=True) drops null channels)."
            )
    gap_us = int(check_window(session_gap, "session_gap").value // 1000)
    n = len(log)
    cust, _ = _codes(log[schema.CUSTOMER_ID], sort=False)
    ts = log[schema.TIMESTAMP].to_numpy(dtype="datetime64[us]").view("int64")
    order = np.lexsort((np.arange(n), ts, cust))
    ts, cust = ts[order], cust[order]
    act, acts = _codes(log[schema.ACTIVITY], sort=True)
    act = act[order]
    parts: list[tuple[str, np.ndarray, np.ndarray]] = []
    for col in by:
        codes, names = _codes(log[col], sort=True)
        parts.append((col, codes[order], names))
    seg = np.zeros(n, dtype=np.int64)
    if segment is not None:
        codes, names = _codes(segment_labels(log, segment), sort=True)
        seg = codes[order]
        parts.append((_SEGMENT, seg, names))
    if parts:
        combined = np.zeros(n, dtype=np.int64)
        for _, codes, names in parts:
            combined = combined * max(len(names), 1) + codes
        space = int(np.prod([max(len(names), 1) for _, _, names in parts]))
        if space <= 50_000_000:
            present = np.bincount(combined, minlength=space) > 0
            uniq = np.flatnonzero(present)
            group = (np.cumsum(present) - 1)[combined]
        else:
            uniq, group = np.unique(combined, return_inverse=True)
        decoded = {}
        rest = uniq.copy()
        for col, _, names in reversed(parts):
            decoded[col] = names[rest % max(len(names), 1)]
            rest //= max(len(names), 1)
        groups = pd.DataFrame({col: pd.Series(decoded[col], dtype="str") for col, _, _ in parts})
        group = group.astype(np.int64)
    else:
        group = np.zeros(n, dtype=np.int64)
        groups = pd.DataFrame(index=[0])
    new = np.ones(n, dtype=bool)
    if n > 1:
        split = (cust[1:] != cust[:-1]) | ((ts[1:] - ts[:-1]) > gap_us)
        if schema.SESSION_ID in log.columns:
            sid = _codes(log[schema.SESSION_ID], sort=False)[0][order]
            split |= sid[1:] != sid[:-1]
        elif schema.CHANNEL in log.columns:
            ch = _codes(log[schema.CHANNEL], sort=False)[0][order]
            split |= ch[1:] != ch[:-1]
        new[1:] = split
    nxt = np.full(n, -1, dtype=np.int64)
    if n > 1:
        cont = ~new[1:]
        nxt[:-1][cont] = np.flatnonzero(cont) + 1
    return _Log(
        by=by,
        ts=ts,
        cust=cust,
        act=act,
        acts=acts,
        group=group,
        groups=groups,
        seg=seg,
        nxt=nxt,
        session=np.cumsum(new) - 1,
        initiated=(
            log[schema.JOURNEY_ID].isna().to_numpy(dtype=bool)[order]
            if schema.JOURNEY_ID in log.columns
            else np.ones(n, dtype=bool)
        ),
    )


def _codes(values: pd.Series, *, sort: bool) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (int64) and the names (str, object array) of a column without nulls.

    Categories keep their order (independent of the row order); other values are sorted when
    ``sort`` (only the distinct values are sorted)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = values.cat.categories
        names = np.asarray([str(c) for c in cats], dtype=object)
        if len(set(names.tolist())) == len(names):
            return values.cat.codes.to_numpy(dtype=np.int64), names
        values = values.astype("str")
    codes, uniq = pd.factorize(values, sort=sort)
    names = np.asarray([str(u) for u in np.asarray(uniq, dtype=object)], dtype=object)
    return codes.astype(np.int64), names


def _activity_codes(lg: _Log, names: Sequence[str], what: str) -> list[int]:
    from journeymine.exceptions import UnknownActivityError

    index = {a: i for i, a in enumerate(lg.acts.tolist())}
    missing = [a for a in names if a not in index]
    if missing:
        parts = " ".join(f"{a!r} is not in the log.{did_you_mean(a, index)}" for a in missing)
        raise UnknownActivityError(
            f"{what} names activities absent from the log: {parts} Log activities: {sorted(index)}."
        )
    return [index[a] for a in names]


def _where(frame: pd.DataFrame, cols: Sequence[str]) -> pd.Series:
    """Readable location of each row: the ``by`` values and the segment joined by " / "
    ("all" when there are none, or for a funnel that runs across channels)."""
    if not cols:
        return pd.Series("all", index=frame.index, dtype="str")
    columns = [frame[c].to_numpy(dtype=object) for c in cols]
    joined = [
        " / ".join(str(v) for v in vals if not pd.isna(v)) or "all"
        for vals in zip(*columns, strict=True)
    ]
    return pd.Series(joined, index=frame.index, dtype="str")


def _check_common(min_support: int, alpha: float) -> None:
    check_int(min_support, "min_support")
    _check_alpha(alpha)


def _check_alpha(alpha: float) -> None:
    """Raise :class:`ConfigError` unless the false discovery rate ``alpha`` is within (0, 1)."""
    if not 0 < float(alpha) < 1:
        raise ConfigError(f"alpha must be within (0, 1), got {alpha!r}.")
