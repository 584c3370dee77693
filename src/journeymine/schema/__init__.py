"""The canonical event log: column names, dtypes and :func:`validate`.

This module is the only place where canonical column names are spelled. A canonical log is a
pandas DataFrame with

========== ========================= =========================================================
column     dtype                     meaning
========== ========================= =========================================================
customer_id ``str``                  who (required)
timestamp  ``datetime64[us, UTC]``   when (required; naive input is localized with ``tz``)
activity   ``category``              what (required)
channel    ``category``              where: web, app, email, sms, push, store, call_centre...
                                     (required by multichannel functions, optional otherwise)
session_id ``str``                   optional
journey_id ``str``                   optional: designed journey/campaign that sent a touch
value      ``float64``               optional: money or quantity
event_id   ``str``                   optional: unique event key (used for duplicate checks)
device_id  ``str``                   optional: device/cookie id (identity stitching)
========== ========================= =========================================================

Any other column is kept as it is, after the canonical ones. Rows are sorted by
(customer_id, timestamp), ties kept in input order.

Plausibility rules (:func:`validate` applies them to every reader's output, so they live here once):

- timestamps must fall in :data:`PLAUSIBLE_RANGE` (``1990-01-01`` included to ``2100-01-01``
  excluded) unless ``plausible_range=`` widens, narrows or disables (``None``) it;
- text dates written day and month first (``01/02/2025``) must be unambiguous and in one order
  per column, unless ``timestamp_format=`` says how to read them;
- epoch numbers must all be in one unit (seconds ~1e9, milliseconds ~1e12, microseconds ~1e15,
  nanoseconds ~1e18);
- ``value`` must be finite with ``abs(value) <= MAX_ABS_VALUE`` (``1e15``); missing is allowed;
- ``activity``, ``channel`` and the id columns hold one scalar per event (no lists, arrays or
  dicts); ``activity``, ``channel`` and ``customer_id`` must not be empty or blank;
- every column name appears once.

The package is split by job: ``_columns`` (names, dtypes, limits), ``_checks`` (shared checks
and messages), ``_names`` (:func:`suggest_columns`: which of a log's own column names is which
canonical column), ``_time`` (timestamps), ``_codes`` (integer codes and the row order) and
``_validate`` (:func:`validate`, :func:`canonical_log`, :func:`summarize`). Import the public
names from ``journeymine.schema``.
"""

from __future__ import annotations

from journeymine.schema._checks import blank_values, check_unique_columns, require_columns
from journeymine.schema._checks import check_duration as check_duration
from journeymine.schema._codes import cached_codes as cached_codes
from journeymine.schema._codes import isin_values as isin_values
from journeymine.schema._codes import remember_codes as remember_codes
from journeymine.schema._codes import row_order as row_order
from journeymine.schema._codes import sort_events as sort_events
from journeymine.schema._codes import tied_positions
from journeymine.schema._codes import used_values as used_values
from journeymine.schema._columns import (
    ACTIVITY,
    CANONICAL_COLUMNS,
    CHANNEL,
    CUSTOMER_ID,
    DEVICE_ID,
    EVENT_ID,
    JOURNEY_ID,
    MAX_ABS_VALUE,
    MICROS_PER_UNIT,
    OPTIONAL_COLUMNS,
    PLAUSIBLE_RANGE,
    REQUIRED_COLUMNS,
    SESSION_ID,
    TIMESTAMP,
    TIMESTAMP_DTYPE,
    VALUE,
    PlausibleRange,
)
from journeymine.schema._columns import (
    CATEGORY_COLUMNS as CATEGORY_COLUMNS,
)
from journeymine.schema._columns import (
    ID_COLUMNS as ID_COLUMNS,
)
from journeymine.schema._columns import (
    STRING_DTYPE as STRING_DTYPE,
)
from journeymine.schema._columns import (
    Duplicates as Duplicates,
)
from journeymine.schema._columns import (
    TimestampUnit as TimestampUnit,
)
from journeymine.schema._names import suggest_columns
from journeymine.schema._time import (
    TimeLike,
    implausible_timestamps,
    plausible_bounds,
    to_micros,
    to_time_range,
    to_timestamp,
)
from journeymine.schema._validate import canonical_log, summarize, validate

__all__ = [
    "ACTIVITY",
    "CANONICAL_COLUMNS",
    "CHANNEL",
    "CUSTOMER_ID",
    "DEVICE_ID",
    "EVENT_ID",
    "JOURNEY_ID",
    "MAX_ABS_VALUE",
    "MICROS_PER_UNIT",
    "OPTIONAL_COLUMNS",
    "PLAUSIBLE_RANGE",
    "REQUIRED_COLUMNS",
    "SESSION_ID",
    "TIMESTAMP",
    "TIMESTAMP_DTYPE",
    "VALUE",
    "PlausibleRange",
    "TimeLike",
    "blank_values",
    "canonical_log",
    "check_unique_columns",
    "implausible_timestamps",
    "plausible_bounds",
    "require_columns",
    "suggest_columns",
    "summarize",
    "tied_positions",
    "to_micros",
    "to_time_range",
    "to_timestamp",
    "validate",
]
