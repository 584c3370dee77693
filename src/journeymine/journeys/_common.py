"""Argument checks and array helpers shared by the journey statistics, conformance and change
detection."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

import numpy as np
import pandas as pd

from journeymine import schema
from journeymine.engine import EncodedLog
from journeymine.exceptions import (
    ConfigError,
    DataQualityWarning,
    EmptyLogError,
    UnknownActivityError,
    did_you_mean,
)
from journeymine.schema import CHANNEL, CUSTOMER_ID, TimeLike, to_micros, to_time_range

__all__ = [
    "UNMAPPED",
    "Segments",
    "TimeLike",
    "activity_code",
    "apply_filters",
    "case_order",
    "check_int",
    "check_window",
    "event_labels",
    "rank_of",
    "segment_labels",
    "sort_cases",
    "sort_labels",
    "to_micros",
]

Segments: TypeAlias = str | Mapping[Any, Any] | pd.Series
UNMAPPED = "<unmapped>"
"""The segment label of events whose segment is unknown (a null, a customer not mapped)."""


def check_int(value: Any, name: str, *, minimum: int = 1, allow_none: bool = False) -> None:
    """Raise :class:`ConfigError` unless ``value`` is an int >= ``minimum`` (or None)."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        allowed = f"an int >= {minimum}" + (" or None" if allow_none else "")
        raise ConfigError(f"{name}={value!r} is not allowed; pass {allowed}.")


def activity_code(enc: EncodedLog, name: Any, *, purpose: str) -> int:
    """Code of activity ``name``; :class:`UnknownActivityError` with did-you-mean if absent."""
    present = enc.present_activities()
    label = str(name)
    if label in present:
        return int(enc.activities.get_loc(label))
    shown = present if len(present) <= 30 else [*present[:30], "..."]
    raise UnknownActivityError(
        f"{purpose}: activity {label!r} is not in the log.{did_you_mean(label, present)} "
        f"The log has {len(present)} activities: {shown}."
    )


def apply_filters(
    enc: EncodedLog,
    *,
    time_range: tuple[TimeLike, TimeLike] | None = None,
    channels: Sequence[str] | None = None,
) -> EncodedLog:
    """Keep events inside ``time_range`` (start inclusive, end exclusive; naive times are UTC)
    and on ``channels``. Raise when nothing is left."""
    mask = None
    if time_range is not None:
        start, end = (to_micros(t, "time_range") for t in to_time_range(time_range))
        t = enc.timestamps
        mask = np.ones(len(t), dtype=bool)
        if start is not None:
            mask &= t >= start
        if end is not None:
            mask &= t < end
    if channels is not None:
        if isinstance(channels, str):
            channels = [channels]
        codes, labels = enc.attribute(CHANNEL, purpose="channels=")
        known = [str(v) for v in labels]
        wanted = []
        for ch in channels:
            if str(ch) not in known:
                raise ConfigError(
                    f"channel {ch!r} is not in the log.{did_you_mean(str(ch), known)} Channels: "
                    f"{known}."
                )
            wanted.append(known.index(str(ch)))
        on = np.isin(codes, np.asarray(wanted, dtype=codes.dtype))
        mask = on if mask is None else mask & on
    if mask is None:
        return enc
    if not mask.any():
        raise EmptyLogError(
            f"no events left after the filters (time_range={time_range!r}, "
            f"channels={channels!r}). Widen them."
        )
    return enc.take(mask)


def event_labels(
    enc: EncodedLog, spec: Segments, *, param: str, purpose: str
) -> tuple[np.ndarray, pd.Index]:
    """Per-event label codes (int32) and labels for ``spec``: a carried column name, or a
    mapping customer_id -> label applied through each event's customer."""
    if isinstance(spec, str):
        return enc.attribute(spec, purpose=purpose)
    if isinstance(spec, Mapping) and not isinstance(spec, pd.Series):
        spec = pd.Series(dict(spec), dtype=object if not spec else None)
    if not isinstance(spec, pd.Series):
        raise ConfigError(
            f"{param}={type(spec).__name__} is not allowed; pass a column name, a dict or a "
            f"pandas Series mapping customer_id to a label."
        )
    if not spec.index.is_unique:
        dup = spec.index[spec.index.duplicated()][:3].tolist()
        raise ConfigError(
            f"{param} maps some customers twice, e.g. {dup}; give one label per customer_id."
        )
    if enc.case == CUSTOMER_ID:
        cust_codes, cust_ids = enc.case_codes, enc.case_ids
    else:
        cust_codes, cust_ids = enc.attribute(CUSTOMER_ID, purpose=f"{param} as a mapping")
    present = np.flatnonzero(np.bincount(cust_codes, minlength=len(cust_ids)))
    ids = cust_ids.take(present)
    labels = spec.reindex(ids)
    missing = labels.isna().to_numpy()
    if missing.any():
        examples = ids[missing][:3].tolist()
        keys = spec.index[:3].tolist()
        raise ConfigError(
            f"{purpose}: {int(missing.sum())} of {len(ids)} customers have no label in {param}, "
            f"e.g. {examples} (the mapping's keys look like {keys}). Every customer_id of the "
            f"log needs a label: add them, e.g. {param}.reindex(ids, fill_value='unknown'), or "
            f"filter the log to the mapped customers."
        )
    seg_codes, seg_labels = pd.factorize(labels.to_numpy(), sort=False)
    per_customer = np.full(len(cust_ids), -1, dtype=np.int32)
    per_customer[present] = seg_codes
    return per_customer[cust_codes], pd.Index(seg_labels)


def sort_labels(labels: pd.Index) -> np.ndarray:
    """Positions that sort ``labels`` (by value, or as text when values do not compare)."""
    try:
        return np.asarray(labels.argsort(), dtype=np.int64)
    except TypeError:
        return np.asarray(pd.Index([str(v) for v in labels]).argsort(), dtype=np.int64)


def rank_of(labels: pd.Index) -> np.ndarray:
    """Rank of every label code in the sorted label order."""
    order = sort_labels(labels)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank


def check_window(value: str | pd.Timedelta, name: str) -> pd.Timedelta:
    """A positive duration (a window, a gap), else :class:`ConfigError` naming ``name``."""
    return schema.check_duration(value, name, examples="'7D', '12h' or pd.Timedelta(days=7)")


def segment_labels(log: pd.DataFrame, segment: str | Mapping[Any, Any] | pd.Series) -> pd.Series:
    """One segment label (str) per event: a column of the log, or a mapping customer -> segment.

    Customers missing from a mapping get the label ``"<unmapped>"`` and a warning with the count.
    """
    if isinstance(segment, str):
        schema.require_columns(log, [segment], purpose=f"segment={segment!r}")
        values = log[segment]
        if values.isna().any():
            n = int(values.isna().sum())
            warnings.warn(
                f"segment column {segment!r} is null in {n} rows; they are grouped under "
                f"{UNMAPPED!r}. Fill the column to silence this warning.",
                DataQualityWarning,
                stacklevel=3,
            )
        return values.astype(object).where(values.notna(), UNMAPPED).astype("str")
    if isinstance(segment, Mapping | pd.Series):
        mapping = segment if isinstance(segment, pd.Series) else pd.Series(dict(segment))
        if mapping.index.has_duplicates:
            raise ConfigError("the segment mapping lists some customers twice; keep one each.")
        mapping = pd.Series(mapping.to_numpy(dtype=object), index=mapping.index.astype("str"))
        values = log[schema.CUSTOMER_ID].astype("str").map(mapping)
        missing = values.isna()
        if missing.any():
            n_cust = log.loc[missing.to_numpy(), schema.CUSTOMER_ID].nunique()
            warnings.warn(
                f"{n_cust} customers of the log are not in the segment mapping; their events "
                f"are grouped under {UNMAPPED!r}. Add them to the mapping or filter the log.",
                DataQualityWarning,
                stacklevel=3,
            )
        return values.astype(object).where(~missing, UNMAPPED).astype("str")
    raise ConfigError(
        f"segment must be a column name or a mapping customer_id -> segment (dict or Series), "
        f"got {type(segment).__name__}."
    )


def case_order(log: pd.DataFrame, case: str = schema.CUSTOMER_ID) -> np.ndarray:
    """Row positions sorted by (case, timestamp), input order breaking ties. Cases are ordered
    by their string value, so the result does not depend on the input order."""
    codes, uniques = pd.factorize(log[case], use_na_sentinel=False)
    names = np.asarray([str(u) for u in uniques], dtype=object)
    rank = np.empty(len(names), dtype=np.int64)
    rank[np.argsort(names, kind="stable")] = np.arange(len(names))
    ts = log[schema.TIMESTAMP].to_numpy(dtype="datetime64[us]").view("int64")
    return np.lexsort((np.arange(len(log)), ts, rank[codes]))


def sort_cases(log: pd.DataFrame, case: str = schema.CUSTOMER_ID) -> pd.DataFrame:
    """Sort by (case, timestamp), input order breaking ties; a new frame, index reset."""
    return log.iloc[case_order(log, case)].reset_index(drop=True)
