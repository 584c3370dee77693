"""validate (check and fix a log, all problems at once), the canonical_log gate and
summarize."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from journeymine.exceptions import (
    ConfigError,
    DataQualityWarning,
    EmptyLogError,
    EventLogError,
    RowsDroppedWarning,
)
from journeymine.schema._checks import (
    _blank,
    _count,
    _example,
    _note_non_scalar,
    _rows,
    _to_string_ids,
    blank_values,
    check_unique_columns,
    require_columns,
)
from journeymine.schema._codes import (
    _duplicated,
    _Order,
    _ranked_text_codes,
    _to_category,
    _without_unused,
)
from journeymine.schema._columns import (
    _EPOCH_UNITS,
    _MAX_TEXT,
    ACTIVITY,
    CANONICAL_COLUMNS,
    CATEGORY_COLUMNS,
    CHANNEL,
    CUSTOMER_ID,
    EVENT_ID,
    ID_COLUMNS,
    MAX_ABS_VALUE,
    PLAUSIBLE_RANGE,
    REQUIRED_COLUMNS,
    TIMESTAMP,
    VALUE,
    Duplicates,
    PlausibleRange,
    TimestampUnit,
)
from journeymine.schema._time import (
    _check_tz,
    _parse_timestamps,
    _range_problem,
    _range_text,
    implausible_timestamps,
    plausible_bounds,
)


def validate(
    log: pd.DataFrame,
    *,
    tz: str = "UTC",
    timestamp_unit: TimestampUnit | None = None,
    timestamp_format: str | None = None,
    plausible_range: PlausibleRange | None = PLAUSIBLE_RANGE,
    duplicates: Duplicates = "warn",
    drop_invalid: bool = False,
    coerce_ids: bool = False,
    require_channel: bool = False,
    sort: bool = True,
) -> pd.DataFrame:
    """Check an event log and return it in canonical form (a new DataFrame; input untouched).

    All problems are collected, then raised together as one :class:`EventLogError` whose
    ``problems`` attribute lists them. Nothing is dropped or changed silently. Every reader
    (:func:`journeymine.read_events`, :func:`journeymine.read_xes`) ends here, so the rules
    below hold for every source.

    Parameters
    ----------
    log : DataFrame
        Events with at least ``customer_id``, ``timestamp`` and ``activity``.
    tz : str, default "UTC"
        Timezone of naive timestamps (they are localized to it, then converted to UTC).
    timestamp_unit : {"s", "ms", "us", "ns"}, optional
        Unit of numeric (epoch) timestamps. Required when the timestamp column is numeric. A
        column mixing magnitudes (seconds ~1e9 next to milliseconds ~1e12) is refused.
    timestamp_format : str, optional
        strftime format of text timestamps, e.g. ``"%d/%m/%Y %H:%M"``. Without it, ISO 8601 is
        read exactly and other text is parsed value by value; numeric dates written day and
        month first (``01/02/2025``) are then refused when their order is ambiguous or mixed
        within the column (``13/01/2025`` next to ``01/02/2025``).
    plausible_range : (start, end) or None, default :data:`PLAUSIBLE_RANGE`
        Timestamps outside ``[start, end)`` (naive bounds in UTC) are refused, or dropped and
        counted with ``drop_invalid``. ``None`` accepts any date.
    duplicates : {"warn", "raise", "drop", "keep"}, default "warn"
        Duplicate events (same ``event_id``, or rows equal in every column when there is no
        ``event_id``): warn with a :class:`DataQualityWarning` and keep,
        raise, drop (with a :class:`RowsDroppedWarning` giving the count), or keep quietly.
    drop_invalid : bool, default False
        Drop rows with a null or blank id, activity or channel, a null or implausible timestamp,
        or an infinite or implausibly large ``value`` instead of raising; a
        :class:`RowsDroppedWarning` reports the count per reason.
    coerce_ids : bool, default False
        Convert non-string ids (e.g. integers) to strings instead of raising.
    require_channel : bool, default False
        Also require the ``channel`` column.
    sort : bool, default True
        Sort by (customer_id, timestamp), keeping input order among ties.

    Returns
    -------
    DataFrame
        The canonical log, index reset to 0..n-1.

    Raises
    ------
    EmptyLogError
        The log has no rows.
    MissingColumnError
        A required column is missing (the message suggests the closest name).
    ConfigError
        An unknown ``tz`` or ``timestamp_unit``, a malformed ``plausible_range`` or
        ``timestamp_format``.
    EventLogError
        Any other problem; ``err.problems`` lists all of them. Besides nulls, bad dtypes and
        unparseable timestamps: a column name that appears twice, lists or other non-scalar
        values in ``activity``, ``channel``, ``value`` or an id column, an empty or blank
        ``activity``/``channel``/``customer_id``, ambiguous day-month dates, mixed epoch units,
        timestamps outside ``plausible_range``, ``value`` infinite or beyond
        :data:`MAX_ABS_VALUE`.

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({
    ...     "customer_id": ["b", "a", "a"],
    ...     "timestamp": ["2025-01-02 10:00", "2025-01-01 09:00", "2025-01-01 08:00"],
    ...     "activity": ["view", "purchase", "view"],
    ...     "channel": ["web", "app", "web"],
    ... })
    >>> log = validate(raw)
    >>> log[["customer_id", "activity"]].values.tolist()
    [['a', 'view'], ['a', 'purchase'], ['b', 'view']]
    >>> str(log["timestamp"].dtype)
    'datetime64[us, UTC]'
    """
    if not isinstance(log, pd.DataFrame):
        raise EventLogError(
            f"expected a pandas DataFrame of events, got {type(log).__name__}. Read files with "
            f"jm.read_events(path) or build a DataFrame first."
        )
    if duplicates not in ("warn", "raise", "drop", "keep"):
        raise EventLogError(
            f"duplicates={duplicates!r} is not allowed; use 'warn', 'raise', 'drop' or 'keep'."
        )
    if timestamp_format is not None and not isinstance(timestamp_format, str):
        raise ConfigError(
            f"timestamp_format must be a strftime format such as '%d/%m/%Y %H:%M', got "
            f"{type(timestamp_format).__name__}."
        )
    if timestamp_unit is not None and timestamp_unit not in _EPOCH_UNITS:
        raise ConfigError(
            f"timestamp_unit={timestamp_unit!r} is not a unit of epoch timestamps. Use 's', "
            f"'ms', 'us' or 'ns' (seconds, milliseconds, microseconds, nanoseconds; CLI "
            f"--timestamp-unit)."
        )
    _check_tz(tz)
    bounds = plausible_bounds(plausible_range)
    check_unique_columns(log.columns)
    required = (*REQUIRED_COLUMNS, CHANNEL) if require_channel else REQUIRED_COLUMNS
    require_columns(log, required, purpose="an event log")
    if len(log) == 0:
        raise EmptyLogError(
            "the event log is empty (0 rows). Check the file, the filters or the time window."
        )

    problems: list[str] = []
    invalid: dict[str, np.ndarray] = {}
    messages: dict[str, str] = {}  # reason -> full message, when the generic one won't do
    out: dict[str, pd.Series] = {}
    log = log.reset_index(drop=True)
    need_order = sort or duplicates != "keep"
    ranked: tuple[np.ndarray, Any] | None = None

    for col in ID_COLUMNS:
        if col not in log.columns:
            continue
        lists = _note_non_scalar(log[col], col, problems)
        coerce = coerce_ids or lists is not None  # one message per column is enough
        ids, null = _to_string_ids(log[col], col, problems, coerce=coerce)
        out[col] = ids
        if col == CUSTOMER_ID:
            # ids hashed and ranked once (Arrow text): blank ids found among the distinct
            # ones, the ranks reused for the row order
            ranked = _ranked_text_codes(ids) if need_order else None
            if ranked is not None:
                blank = np.append(blank_values(ranked[1]), False)
                empty = blank[ranked[0]]  # null ids (code -1) read False
            else:
                empty = ids.fillna("").str.strip().eq("").to_numpy(dtype=bool) & ~null
            if empty.any():
                null = null | empty
            if null.any():
                invalid["null or empty customer_id"] = null

    ts, bad_ts = _parse_timestamps(
        log[TIMESTAMP], tz=tz, unit=timestamp_unit, fmt=timestamp_format, problems=problems
    )
    out[TIMESTAMP] = ts
    if bad_ts.any():
        invalid["null or unparseable timestamp"] = bad_ts
    if bounds is not None:
        far = implausible_timestamps(ts, bounds) & ~bad_ts
        if far.any():
            reason = f"timestamp outside the plausible range {_range_text(bounds)}"
            invalid[reason] = far
            messages[reason] = _range_problem(log[TIMESTAMP], ts, far, bounds, timestamp_unit)

    for col in CATEGORY_COLUMNS:
        if col not in log.columns:
            continue
        lists = _note_non_scalar(log[col], col, problems)
        out[col] = _to_category(log[col])
        null = out[col].isna().to_numpy() | _blank(out[col])
        if null.any():
            invalid[f"null or empty {col}"] = null

    if VALUE in log.columns:
        v = log[VALUE]
        lists = _note_non_scalar(v, VALUE, problems)
        if lists is not None:
            v = v.where(~lists, None)
        if not pd.api.types.is_numeric_dtype(v.dtype) or pd.api.types.is_bool_dtype(v.dtype):
            num = pd.to_numeric(v, errors="coerce")
            bad = num.isna().to_numpy() & v.notna().to_numpy()
            if bad.any():
                problems.append(
                    f"value must be numeric; {_rows(bad)} are not, e.g. "
                    f"{_example(v[bad].iloc[0])}. Clean the column or map another one to 'value'."
                )
            v = num
        out[VALUE] = v.astype("float64")
        values = out[VALUE].to_numpy()
        with np.errstate(invalid="ignore"):
            huge = ~(np.abs(values) <= MAX_ABS_VALUE) & ~np.isnan(values)
        if huge.any():
            reason = f"value infinite or beyond ±{_MAX_TEXT}"
            invalid[reason] = huge
            messages[reason] = (
                f"value is infinite or beyond ±{_MAX_TEXT} in "
                f"{_count(int(huge.sum()), 'row')}: {_rows(huge)}, e.g. "
                f"{_example(log[VALUE][huge].iloc[0])}. Allowed: finite numbers with "
                f"abs(value) <= {_MAX_TEXT} (schema.MAX_ABS_VALUE); a missing value is "
                f"allowed. Fix or blank these values (check the unit, e.g. cents), keep the "
                f"column under another name, or pass drop_invalid=True to drop these rows (the "
                f"count is reported)."
            )

    keep = np.ones(len(log), dtype=bool)
    for reason, mask in invalid.items():
        if drop_invalid:
            keep &= ~mask
        elif reason in messages:
            problems.append(messages[reason])
        elif reason.startswith("null or unparseable timestamp"):
            if not any(p.startswith("timestamp") for p in problems):
                problems.append(f"timestamp is null in {_rows(mask)}.")
        else:
            problems.append(
                f"{reason} in {_rows(mask)}. Fill them, or pass drop_invalid=True to drop "
                f"these rows (the count is reported)."
            )
    if problems:
        n = len(problems)
        raise EventLogError(
            f"invalid event log: {n} problem{'s' if n > 1 else ''}:\n- " + "\n- ".join(problems),
            problems,
        )

    extras = [c for c in log.columns if c not in CANONICAL_COLUMNS]
    result = pd.DataFrame(
        {c: out[c] for c in CANONICAL_COLUMNS if c in out} | {c: log[c] for c in extras},
        index=log.index,
    )
    if drop_invalid and not keep.all():
        counts = "; ".join(f"{int(m.sum())} with {r}" for r, m in invalid.items() if m.any())
        warnings.warn(
            f"dropped {int((~keep).sum())} of {len(log)} rows (drop_invalid=True): {counts}.",
            RowsDroppedWarning,
            stacklevel=2,
        )
        result = result[keep]
        if len(result) == 0:
            raise EmptyLogError("every row was invalid; nothing is left after drop_invalid=True.")
        if ranked is not None:
            ranked = (ranked[0][keep], ranked[1])
        for col in CATEGORY_COLUMNS:
            if col in result.columns:
                result[col] = _without_unused(result[col])

    order: _Order | None = None
    if duplicates != "keep":
        # without an event_id, a duplicate is a row equal in every column: a start and a
        # complete event at the same instant (XES lifecycle) are two events, not one
        key = [EVENT_ID] if EVENT_ID in result.columns else list(result.columns)
        if key == [EVENT_ID]:
            dup = _duplicated(result, key)
        else:
            # rows equal in every column have the same customer and time: only the rows of a
            # (customer, time) shared by several rows are compared, column by column, exactly
            order = _Order.of(result, ranked)
            dup = order.duplicated(result)
        if dup.any():
            same = ", ".join(key) if len(key) == 1 else "every column"
            what = f"{int(dup.sum())} duplicate events (same {same})"
            if duplicates == "raise":
                raise EventLogError(
                    f"{what} in {_rows(dup)}. Pass duplicates='drop' to drop them or "
                    f"duplicates='keep' to keep them."
                )
            if duplicates == "drop":
                warnings.warn(f"dropped {what}.", RowsDroppedWarning, stacklevel=2)
                result = result[~dup]
                order = order.without(dup) if order is not None else None
            else:
                warnings.warn(
                    f"{what}, kept. Pass duplicates='drop' to remove them or "
                    f"duplicates='keep' to silence this warning.",
                    DataQualityWarning,
                    stacklevel=2,
                )
    if sort:
        return (order or _Order.of(result, ranked)).apply(result)
    return result.reset_index(drop=True)


def _is_canonical(log: pd.DataFrame) -> bool:
    """Canonical dtypes, each column once, required columns present without nulls or blank
    values (a channel may be null), non-empty."""
    cols = log.columns
    if len(log) == 0 or cols.has_duplicates or any(c not in cols for c in REQUIRED_COLUMNS):
        return False
    cust, ts, act = log[CUSTOMER_ID], log[TIMESTAMP], log[ACTIVITY]
    return (
        isinstance(ts.dtype, pd.DatetimeTZDtype)
        and isinstance(act.dtype, pd.CategoricalDtype)
        and pd.api.types.is_string_dtype(act.cat.categories.dtype)
        and pd.api.types.is_string_dtype(cust.dtype)
        and cust.dtype != object
        and (CHANNEL not in cols or isinstance(log[CHANNEL].dtype, pd.CategoricalDtype))
        and not (cust.isna().any() or ts.isna().any() or act.isna().any())
        # blank ids or activities are refused by validate; a canonical dtype does not vouch
        # for the values (a few ms per million rows). A null channel is canonical (other).
        and not _blank(cust).any()
        and not _blank(act).any()
    )


def canonical_log(log: Any) -> pd.DataFrame:
    """The one gate of every entry point that takes an event log DataFrame.

    A log already in canonical form (as :func:`validate` or :func:`journeymine.read_events`
    return it: canonical dtypes, no null id, time or activity) is returned as it is, after a
    few dtype checks and null counts. Anything else goes through :func:`validate` (duplicates
    kept, rows not sorted), so the same malformed log gets the same exception type and message
    from :func:`journeymine.read_events`, :func:`journeymine.dfg`, ``PersonaMiner.fit``,
    :func:`journeymine.check_conformance`, :func:`journeymine.detect_changes` and
    ``next_best_action``.

    Raises
    ------
    EventLogError, MissingColumnError, EmptyLogError, ConfigError
        As :func:`validate`.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeymine.schema import canonical_log
    >>> raw = pd.DataFrame({"customer_id": ["b", "a"], "timestamp": ["2025-01-02", "2025-01-01"],
    ...                     "activity": ["visit", "buy"]})
    >>> log = canonical_log(raw)  # validated: canonical dtypes, rows left in their order
    >>> str(log["timestamp"].dtype), log["customer_id"].tolist(), canonical_log(log) is log
    ('datetime64[us, UTC]', ['b', 'a'], True)
    """
    if isinstance(log, pd.DataFrame) and _is_canonical(log):
        return log
    return validate(log, duplicates="keep", sort=False)


def summarize(log: pd.DataFrame) -> dict[str, Any]:
    """Counts and ranges of a canonical log: customers, events, activities, channels, dates.

    Examples
    --------
    >>> import pandas as pd
    >>> s = summarize(validate(pd.DataFrame({"customer_id": ["a"], "activity": ["x"],
    ...     "timestamp": ["2025-01-01T00:00:00Z"]})))
    >>> s["customers"], s["events"], s["activities"]
    (1, 1, 1)
    """
    require_columns(log, REQUIRED_COLUMNS, purpose="summarize")
    per_customer = log.groupby(CUSTOMER_ID, observed=True).size()
    out: dict[str, Any] = {
        "customers": int(log[CUSTOMER_ID].nunique()),
        "events": len(log),
        "activities": int(log[ACTIVITY].nunique()),
        "channels": int(log[CHANNEL].nunique()) if CHANNEL in log.columns else 0,
        "start": log[TIMESTAMP].min(),
        "end": log[TIMESTAMP].max(),
        "events_per_customer_median": float(per_customer.median()) if len(log) else 0.0,
    }
    if CHANNEL in log.columns:
        out["channel_counts"] = {
            str(k): int(v) for k, v in log[CHANNEL].value_counts(sort=True).items() if v
        }
    return out
