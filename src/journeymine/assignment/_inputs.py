"""One live customer's events (a list of dicts or a small DataFrame) checked and encoded for
the numpy aggregates: :func:`parse_events` (plain Python and numpy; ISO strings or datetimes).
Whole logs are encoded by :func:`journeymine.features.encode_log`.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from journeymine.exceptions import EmptyLogError, EventLogError, did_you_mean
from journeymine.features import MAX_ABS_VALUE, Encoded, Vocab, cents
from journeymine.schema import (
    ACTIVITY,
    CHANNEL,
    CUSTOMER_ID,
    JOURNEY_ID,
    SESSION_ID,
    TIMESTAMP,
    VALUE,
)

__all__ = ["parse_events", "parse_time"]

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_EPOCH_NAIVE = _dt.datetime(1970, 1, 1)
_US = _dt.timedelta(microseconds=1)
_EPOCH_TS = pd.Timestamp(0, tz="UTC")
_US_TD = pd.Timedelta(microseconds=1)
_MAX_SHOWN = 5


# ---------------------------------------------------------------------------------------------
# one customer's events (list of dicts / small DataFrame)
# ---------------------------------------------------------------------------------------------
def _fail(problems: list[str]) -> EventLogError:
    n = len(problems)
    shown = problems[:_MAX_SHOWN]
    more = f"\n- ... and {n - _MAX_SHOWN} more" if n > _MAX_SHOWN else ""
    return EventLogError(
        f"invalid events: {n} problem{'s' if n > 1 else ''}:\n- " + "\n- ".join(shown) + more,
        problems,
    )


def parse_time(value: Any) -> tuple[int, bool] | None:
    """A timestamp as :func:`~journeymine.assignment.assign` reads it.

    Parameters
    ----------
    value : str, datetime, numpy.datetime64 or Timestamp
        An ISO 8601 string (``"2025-03-01T10:15:00Z"``), a ``datetime`` or a numpy/pandas
        time; a naive time is UTC.

    Returns
    -------
    tuple of (int, bool) or None
        Microseconds since 1970-01-01 UTC and whether the value carried a time zone; None when
        it cannot be parsed.

    Examples
    --------
    >>> parse_time("1970-01-01T00:00:01Z")
    (1000000, True)
    >>> parse_time("not a time") is None
    True
    """
    if type(value) is str:  # the common case first: an ISO 8601 string
        try:
            d = _dt.datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            if d.tzinfo is None:
                return (d - _EPOCH_NAIVE) // _US, False
            return (d - _EPOCH) // _US, True
    if isinstance(value, pd.Timestamp):
        if pd.isna(value):
            return None
        aware = value.tzinfo is not None
        try:
            utc = value.tz_convert("UTC") if aware else value.tz_localize("UTC")
            return int((utc - _EPOCH_TS) // _US_TD), aware
        except (OverflowError, ValueError):  # e.g. "-1": a year pandas reads but cannot shift
            return None
    if isinstance(value, str):
        try:
            d = _dt.datetime.fromisoformat(value.strip())
        except ValueError:
            if value.strip().lower() in ("now", "today"):  # pandas reads the clock, not a date
                return None
            try:
                ts = pd.Timestamp(value)
            except (ValueError, TypeError, OverflowError):
                return None
            if pd.isna(ts):  # "NaN", "NaT", "" and the like: pandas' missing time
                return None
            return parse_time(ts)
    elif isinstance(value, _dt.datetime):
        d = value
    elif isinstance(value, np.datetime64):
        if np.isnat(value):
            return None
        return int(value.astype("datetime64[us]").astype(np.int64)), False
    else:
        return None
    if d.tzinfo is None:
        return (d - _EPOCH_NAIVE) // _US, False
    return (d - _EPOCH) // _US, True


def _is_null(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT


def _code(value: Any, codes: Mapping[str, int], unknown: set[str], other: int) -> int | None:
    """The code of a text field (as text; ``other`` for a value not in ``codes``, which is
    added to ``unknown``), or None when it is null."""
    if type(value) is not str:
        if _is_null(value):
            return None
        value = str(value)
    code = codes.get(value)
    if code is None:
        unknown.add(value)
        return other
    return code


def _records(events: Any) -> list[Mapping[str, Any]]:
    if isinstance(events, pd.DataFrame):
        return events.to_dict(orient="records")
    if isinstance(events, Mapping):
        raise EventLogError(
            "events must be a list of event dicts (or a DataFrame), got a single dict. Wrap "
            "it in a list: assign([event], model)."
        )
    if isinstance(events, str | bytes) or not isinstance(events, Sequence):
        raise EventLogError(
            f"events must be a list of dicts with keys customer_id, timestamp, activity "
            f"(channel, journey_id, session_id, value optional) or a DataFrame; got "
            f"{type(events).__name__}."
        )
    return list(events)


def parse_events(
    events: Any, vocab: Vocab, *, customer_id: str | None = None
) -> tuple[str, Encoded, tuple[str, ...], tuple[str, ...]]:
    """Parse one customer's events.

    Parameters
    ----------
    events : list of dict or DataFrame
        Canonical keys: ``customer_id`` (unless passed separately), ``timestamp`` (ISO 8601
        string, ``datetime`` or ``numpy.datetime64``; naive times are UTC), ``activity``;
        optional ``channel``, ``journey_id``, ``session_id``, ``value``. Other keys are
        ignored.
    vocab : Vocab
    customer_id : str, optional
        The customer; when given, events may omit ``customer_id`` (if present it must match).

    Returns
    -------
    customer_id, encoded events, unknown activities, unknown channels
    """
    spec = vocab.spec
    records = _records(events)
    if not records:
        raise EmptyLogError(
            "no events: a customer needs at least one event to be assigned a persona."
        )
    if customer_id is not None and (not isinstance(customer_id, str) or not customer_id.strip()):
        raise EventLogError(f"customer_id must be a non-empty string, got {customer_id!r}.")
    n = len(records)
    problems: list[str] = []
    t = np.empty(n, dtype=np.int64)
    act = np.empty(n, dtype=np.int32)
    ch = np.empty(n, dtype=np.int32)
    jraw = np.full(n, -1, dtype=np.int64)
    jv = np.full(n, -1, dtype=np.int64)
    v = np.full(n, np.nan)
    sid = np.full(n, -1, dtype=np.int64)
    n_act, n_ch = len(spec.activities), len(spec.channels)
    unknown_act: set[str] = set()
    unknown_ch: set[str] = set()
    journeys: dict[str, int] = {}
    sessions: dict[str, int] = {}
    aware_seen = naive_seen = False
    cid = customer_id
    has_session_key = False
    act_codes, ch_codes, j_codes = vocab.activity, vocab.channel, vocab.journey
    for i, e in enumerate(records):
        # the common case (JSON: dicts of strings) takes the exact-type branches first
        if type(e) is not dict and not isinstance(e, Mapping):
            problems.append(f"event {i} is a {type(e).__name__}, not a dict.")
            continue
        if (
            TIMESTAMP not in e
            or ACTIVITY not in e
            or (customer_id is None and CUSTOMER_ID not in e)
        ):
            missing = [k for k in (TIMESTAMP, ACTIVITY) if k not in e]
            if customer_id is None and CUSTOMER_ID not in e:
                missing.insert(0, CUSTOMER_ID)
            hint = "".join(
                did_you_mean(m, [str(k) for k in e if k not in (CUSTOMER_ID, TIMESTAMP)])
                for m in missing
            )
            problems.append(
                f"event {i} has no {', '.join(map(repr, missing))} (keys: {sorted(map(str, e))})."
                f"{hint}"
            )
            continue
        c = e.get(CUSTOMER_ID)
        if c is None:  # absent or null: the customer given separately
            c = customer_id
        if c is None or c != cid:
            if not isinstance(c, str) or not c.strip():
                problems.append(
                    f"event {i}: customer_id must be a non-empty string, got {c!r} (ids are "
                    f"text so that '007' and '7' stay different)."
                )
            elif cid is None:
                cid = c
            else:
                problems.append(
                    f"event {i} belongs to customer {c!r}, not {cid!r}: assign() scores one "
                    f"customer; use assign_many(log, model) for several."
                )
        ts = e[TIMESTAMP]
        parsed = parse_time(ts) if type(ts) is str or not _is_null(ts) else None
        if parsed is None:
            problems.append(
                f"event {i}: timestamp {ts!r} could not be parsed. Use ISO 8601 such as "
                f"'2025-01-31T14:05:00Z' or a datetime."
            )
        else:
            t[i] = parsed[0]
            if parsed[1]:
                aware_seen = True
            else:
                naive_seen = True
        code = _code(e[ACTIVITY], act_codes, unknown_act, n_act)
        if code is None:
            problems.append(f"event {i}: activity is null.")
        else:
            act[i] = code
        code = _code(e.get(CHANNEL), ch_codes, unknown_ch, n_ch)
        ch[i] = n_ch if code is None else code
        j = e.get(JOURNEY_ID)
        if j is not None and (type(j) is str or not _is_null(j)):
            j = j if type(j) is str else str(j)
            jraw[i] = journeys.setdefault(j, len(journeys))
            jv[i] = j_codes.get(j, -1)
        val = e.get(VALUE)
        if val is not None and not _is_null(val):
            try:
                num = float(val)
            except (TypeError, ValueError):
                problems.append(f"event {i}: value {val!r:.60} is not a number.")
                num = math.nan
            except OverflowError:  # an integer beyond the range of a double
                num = math.inf
            if not math.isnan(num):  # NaN (also the text "nan") means "no value"
                if math.isfinite(num) and abs(num) <= MAX_ABS_VALUE:
                    v[i] = num
                else:
                    problems.append(
                        f"event {i}: value {val!r:.60} is out of range (a finite number with "
                        f"|value| <= {MAX_ABS_VALUE:g}); send the event's amount, or null."
                    )
        if SESSION_ID in e:
            has_session_key = True
            s = e[SESSION_ID]
            if s is not None and (type(s) is str or not _is_null(s)):
                s = s if type(s) is str else str(s)
                sid[i] = sessions.setdefault(s, len(sessions))
    if aware_seen and naive_seen:
        problems.append(
            "timestamps mix values with a timezone offset and values without one; the naive "
            "ones are ambiguous. Give every timestamp an offset (e.g. 'Z')."
        )
    if spec.use_session_id and not has_session_key and not problems:
        problems.append(
            "this model builds sessions from session_id (it was trained on a log with one) "
            "but no event has a 'session_id'; send it with each event."
        )
    if problems:
        raise _fail(problems)
    assert cid is not None
    ev = Encoded(
        cust=np.zeros(n, dtype=np.int64),
        n_customers=1,
        t=t,
        act=act,
        ch=ch,
        jraw=jraw,
        jv=jv,
        cents=cents(v),
        valued=np.isfinite(v),
        sid=sid,
    )
    return cid, ev, tuple(sorted(unknown_act)), tuple(sorted(unknown_ch))
