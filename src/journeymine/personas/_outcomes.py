"""What counts as the outcome after a cutoff, for :func:`~journeymine.personas.persona_validity`:
the outcome window, next-period purchase, an activity, churn, the response to a journey, a
callable or a boolean Series, each turned into one True/False per customer with a clear error
when the outcome cannot be measured."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from journeymine.exceptions import ConfigError, did_you_mean
from journeymine.features.learn import infer_touch_activities
from journeymine.schema import (
    ACTIVITY,
    CUSTOMER_ID,
    JOURNEY_ID,
    check_duration,
    isin_values,
    to_micros,
)

US_PER_DAY = 86_400 * 1_000_000
OUTCOME_KINDS = (
    "'purchase' (with outcome_activities=[...] unless the log has an activity named "
    "'purchase'), 'activity:NAME', 'churn', 'response:JOURNEY', a callable "
    "f(log_after, customers) -> bool Series, or a boolean Series indexed by customer_id"
)


def format_time(us: int) -> str:
    return str(pd.Timestamp(us, unit="us", tz="UTC"))


def outcome_window(t: np.ndarray, cutoff: Any, horizon: Any) -> tuple[int, int, str]:
    """(cutoff, window end) in microseconds and the window in words."""
    if cutoff is None:
        raise ConfigError(
            "cutoff is required: the time that splits the log into the past (features) and "
            "the future (outcome), e.g. cutoff='2025-04-01'."
        )
    c = to_micros(cutoff, "cutoff")
    assert c is not None
    first, last = int(t.min()), int(t.max())
    if not first < c <= last:
        middle = format_time(first + (last - first) // 2)
        raise ConfigError(
            f"cutoff {format_time(c)} is outside the log, which spans {format_time(first)} to "
            f"{format_time(last)}; the cutoff must leave events before it (features) and at or "
            f"after it (outcome). Pick a time inside the log, e.g. cutoff='{middle[:10]}'."
        )
    if horizon is None:
        end = last + 1
    else:
        td = check_duration(horizon, "horizon", examples="'30D', '12W' or pd.Timedelta(days=90)")
        end = c + int(td // pd.Timedelta(microseconds=1))
    return c, end, f"[{format_time(c)[:19]}, {format_time(end)[:19]})"


def _activity_names(log: pd.DataFrame) -> list[str]:
    s = log[ACTIVITY]
    if isinstance(s.dtype, pd.CategoricalDtype):
        return [str(a) for a in s.cat.categories]
    return sorted(map(str, s.dropna().unique()))


def _check_activities(names: Sequence[str], known: Sequence[str], what: str) -> list[str]:
    names = [str(a) for a in names]
    unknown = [a for a in names if a not in set(known)]
    if unknown:
        raise ConfigError(
            f"{what} names activities not in the log: {unknown}."
            f"{did_you_mean(unknown[0], known)} The log's activities: {list(known)[:30]}."
        )
    return names


def _as_list(value: Any, name: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, Sequence) or not value:
        raise ConfigError(f"{name} must be a non-empty list of activity names, got {value!r}.")
    return [str(v) for v in value]


def _responded(
    after: pd.DataFrame,
    journey: str,
    touch: Sequence[str],
    window_us: int,
    t_after: np.ndarray,
    response: Sequence[str] | None = None,
) -> pd.Series:
    """Per touched customer: did a touch of ``journey`` get a response (an event of the same
    customer and journey at most ``window_us`` later whose activity is in ``response``, or,
    without ``response``, is not a touch)?"""
    same = isin_values(after[JOURNEY_ID], [journey])
    is_touch = isin_values(after[ACTIVITY], touch)
    cust, ids = pd.factorize(after[CUSTOMER_ID].astype(str))  # integer keys: one dtype
    touches = pd.DataFrame({"c": cust[same & is_touch], "t": t_after[same & is_touch]})
    is_resp = ~is_touch if response is None else isin_values(after[ACTIVITY], response)
    resp = pd.DataFrame({"c": cust[same & is_resp], "rt": t_after[same & is_resp]})
    touches = touches.sort_values("t", kind="stable")
    resp = resp.sort_values("rt", kind="stable")
    matched = pd.merge_asof(
        touches,
        resp,
        left_on="t",
        right_on="rt",
        by="c",
        direction="forward",
        tolerance=window_us,
    )
    got = matched["rt"].notna().groupby(matched["c"].to_numpy()).any()
    return pd.Series(got.to_numpy(dtype=bool), index=pd.Index(ids[got.index], dtype="str"))


def outcome_labels(
    outcome: Any,
    log: pd.DataFrame,
    t: np.ndarray,
    customers: pd.Index,
    window: tuple[int, int, str],
    *,
    outcome_activities: Any,
    touch_activities: Any,
    response_activities: Any,
    response_window: Any,
) -> tuple[pd.Series, str]:
    """The outcome of each scored customer (a bool Series; its index is the scored customers)
    and its description."""
    c, end, words = window
    in_window = (t >= c) & (t < end)
    after = log[in_window]
    t_after = t[in_window]
    active = pd.Index(after[CUSTOMER_ID].astype(str).unique())
    if outcome_activities is not None and not (isinstance(outcome, str) and outcome == "purchase"):
        raise ConfigError(
            f"outcome_activities is only used with outcome='purchase', got outcome="
            f"{outcome!r}. Drop it, or use outcome='purchase'."
        )
    for name, given in (
        ("touch_activities", touch_activities),
        ("response_activities", response_activities),
    ):
        if given is not None and not (isinstance(outcome, str) and outcome.startswith("response:")):
            raise ConfigError(
                f"{name} is only used with outcome='response:JOURNEY', got outcome="
                f"{outcome!r}. Drop it, or ask for the response to a journey."
            )
    if isinstance(outcome, pd.Series):
        s = outcome.set_axis(pd.Index(outcome.index.astype(str), name=CUSTOMER_ID))
        if s.index.has_duplicates:
            raise ConfigError(
                "the outcome Series has repeated customer_id(s); give one per customer."
            )
        y = _bool_outcome(s, customers, "the outcome Series")
        return y, f"the outcome given as a Series {words}"
    if callable(outcome):
        s = outcome(after, customers)
        if not isinstance(s, pd.Series):
            raise ConfigError(
                f"the outcome callable must return a boolean Series indexed by customer_id, got "
                f"{type(s).__name__}."
            )
        s = s.set_axis(pd.Index(s.index.astype(str), name=CUSTOMER_ID))
        if s.index.has_duplicates:
            raise ConfigError(
                "the outcome callable returned repeated customer_id(s); return one per customer."
            )
        name = getattr(outcome, "__name__", "callable")
        return _bool_outcome(s, customers, f"the outcome callable {name!r}"), f"{name} {words}"
    if not isinstance(outcome, str):
        raise ConfigError(f"outcome={outcome!r} is not allowed; use {OUTCOME_KINDS}.")
    known = _activity_names(log)
    if outcome == "churn":
        y = pd.Series(~customers.isin(active), index=customers)
        return y, f"churn (no event at all) {words}"
    if outcome == "purchase" or outcome.startswith("activity:"):
        if outcome.startswith("activity:"):
            acts = _check_activities([outcome.split(":", 1)[1]], known, "outcome")
        elif outcome_activities is not None:
            acts = _check_activities(
                _as_list(outcome_activities, "outcome_activities"), known, "outcome_activities"
            )
        else:
            acts = [a for a in known if a.lower() == "purchase"]
            if not acts:
                raise ConfigError(
                    f"outcome='purchase' needs to know which activities are purchases, and the "
                    f"log has no activity named 'purchase'. Pass outcome_activities=[...] or "
                    f"outcome='activity:NAME' with names from the log: {known[:30]}."
                )
        hit = isin_values(after[ACTIVITY], acts)
        buyers = pd.Index(after.loc[hit, CUSTOMER_ID].astype(str).unique())
        y = pd.Series(customers.isin(buyers), index=customers)
        what = acts[0] if len(acts) == 1 else acts
        return y, f"activity {what!r} {words}"
    if outcome.startswith("response:"):
        journey = outcome.split(":", 1)[1]
        if JOURNEY_ID not in log.columns:
            raise ConfigError(
                f"outcome={outcome!r} needs a 'journey_id' column (the journey or campaign that "
                f"sent each touch); the log has none. Use another outcome or map the campaign "
                f"column to journey_id when reading."
            )
        journeys = sorted(map(str, log[JOURNEY_ID].dropna().unique()))
        if journey not in journeys:
            raise ConfigError(
                f"journey {journey!r} is not in the log's journey_id."
                f"{did_you_mean(journey, journeys)} "
                f"Known journeys: {journeys[:30]}. Use outcome='response:NAME' with one of them."
            )
        if touch_activities is None:
            found, rule = infer_touch_activities(log, tuple(known))
            touch, how = list(found), f"{rule}, as in CustomerFeaturizer"
        else:
            touch = _check_activities(
                _as_list(touch_activities, "touch_activities"), known, "touch_activities"
            )
            how = "touch_activities"
        td = check_duration(response_window, "response_window", examples="'48h' or '7D'")
        window_us = int(td // pd.Timedelta(microseconds=1))
        response = (
            None
            if response_activities is None
            else _check_activities(
                _as_list(response_activities, "response_activities"),
                known,
                "response_activities",
            )
        )
        got = _responded(after, journey, touch, window_us, t_after, response)
        if got.empty:
            raise ConfigError(
                f"no touch of journey {journey!r} in the outcome window {words}: touches are "
                f"events with that journey_id whose activity is a touch ({how}: {touch}). "
                f"Pass touch_activities=[...] naming the outbound activities (e.g. "
                f"'email_sent'), or move the cutoff/horizon."
            )
        touched = customers[customers.isin(got.index)]
        y = pd.Series(got.reindex(touched).to_numpy(dtype=bool), index=touched)
        what = "response" if response is None else f"response ({', '.join(response)})"
        return y, (
            f"{what} to journey {journey!r} within {_duration_words(td)} of a touch "
            f"{words}, among the customers it touched"
        )
    raise ConfigError(
        f"outcome={outcome!r} is not allowed.{did_you_mean(outcome, ['purchase', 'churn'])} "
        f"Use {OUTCOME_KINDS}."
    )


def _duration_words(td: pd.Timedelta) -> str:
    """'48h', '7D', '90min' style text of a duration."""
    seconds = int(td.total_seconds())
    for unit, size in (("D", 86_400), ("h", 3_600), ("min", 60)):
        if seconds and seconds % size == 0 and (unit != "D" or seconds >= 7 * 86_400):
            return f"{seconds // size}{unit}"
    return str(td)


def _bool_outcome(s: pd.Series, customers: pd.Index, what: str) -> pd.Series:
    missing = customers[~customers.isin(s.index[s.notna()])]
    if len(missing):
        raise ConfigError(
            f"{what} does not cover the customers: {len(missing):,} of {len(customers):,} "
            f"customers with events before the cutoff have no value, e.g. {list(missing[:3])}. "
            f"Give True/False for every customer_id."
        )
    s = s.loc[customers]
    if s.dtype != bool:
        vals = pd.unique(s.to_numpy())
        if not set(vals.tolist()) <= {0, 1}:  # True == 1 and False == 0 in a set
            raise ConfigError(
                f"{what} must hold True/False (or 1/0), got values such as {list(vals[:5])}."
            )
        s = s.astype(bool)
    return s
