"""Canonical column names, dtypes, type aliases and plausibility limits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal

import numpy as np
import pandas as pd

CUSTOMER_ID: Final = "customer_id"
"""Column of the customer (the case of every journey statistic): text, never null."""
TIMESTAMP: Final = "timestamp"
"""Column of the event time: :data:`TIMESTAMP_DTYPE` (UTC, microseconds), never null."""
ACTIVITY: Final = "activity"
"""Column of what happened (``"visit"``, ``"purchase"``...): a category, never blank."""
CHANNEL: Final = "channel"
"""Optional column of where it happened (``"web"``, ``"app"``, ``"email"``...): a category."""
SESSION_ID: Final = "session_id"
"""Optional column of the session of the event (text); :func:`journeymine.sessionize` adds it."""
JOURNEY_ID: Final = "journey_id"
"""Optional column of the designed journey (campaign) an outbound touch belongs to (text)."""
VALUE: Final = "value"
"""Optional column of the event's amount (float64; money or quantity), NaN when none."""
EVENT_ID: Final = "event_id"
"""Optional column of the event's own id in the source system (text)."""
DEVICE_ID: Final = "device_id"
"""Optional column of the device or cookie (text), for :func:`journeymine.stitch_identities`."""

REQUIRED_COLUMNS: Final[tuple[str, ...]] = (CUSTOMER_ID, TIMESTAMP, ACTIVITY)
"""The columns every canonical log has: ``customer_id``, ``timestamp``, ``activity``."""
OPTIONAL_COLUMNS: Final[tuple[str, ...]] = (
    CHANNEL,
    SESSION_ID,
    JOURNEY_ID,
    VALUE,
    EVENT_ID,
    DEVICE_ID,
)
"""The columns a canonical log may have besides the required ones."""
CANONICAL_COLUMNS: Final[tuple[str, ...]] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
"""Every canonical column, in the order :func:`validate` puts them (other columns follow)."""
ID_COLUMNS: Final[tuple[str, ...]] = (CUSTOMER_ID, SESSION_ID, JOURNEY_ID, EVENT_ID, DEVICE_ID)
CATEGORY_COLUMNS: Final[tuple[str, ...]] = (ACTIVITY, CHANNEL)
TIMESTAMP_DTYPE: Final = pd.DatetimeTZDtype(unit="us", tz="UTC")
"""The dtype of the ``timestamp`` column: UTC, microsecond resolution."""
STRING_DTYPE: Final = "str"
MICROS_PER_UNIT: Final[Mapping[str, int]] = MappingProxyType({"s": 1_000_000, "ms": 1_000, "us": 1})
"""Microseconds in one tick of a timestamp unit (``"s"``, ``"ms"``, ``"us"``): the exact
integer factor from int64 ticks to the microseconds of :data:`TIMESTAMP_DTYPE`. Nanoseconds
are absent on purpose: they do not convert by a factor (divide by 1000)."""

_MAX_ROWS_SHOWN = 5
# an offset only counts after a time of day: "2025-01-01" ends in "-01" but has no offset
_OFFSET_RE = r"\d:\d\d(?::\d\d(?:[.,]\d+)?)?\s*(?:[Zz]|UTC|GMT|[+-]\d\d(?::?\d\d)?)\s*$"

Duplicates = Literal["warn", "raise", "drop", "keep"]
TimestampUnit = Literal["s", "ms", "us", "ns"]
PlausibleRange = tuple[str | dt.datetime | pd.Timestamp, str | dt.datetime | pd.Timestamp]
"""A ``(start, end)`` range of plausible event times, as :data:`PLAUSIBLE_RANGE`."""

PLAUSIBLE_RANGE: Final[tuple[str, str]] = ("1990-01-01", "2100-01-01")
"""Default range of plausible event times: ``[start, end)``, naive bounds read as UTC.

Event timestamps outside it are refused by :func:`validate` and by every reader (or dropped and
counted with ``drop_invalid=True``): dates such as 0001-01-01, 1900-01-01, 2150-01-01 or
9999-12-31 are placeholders, two-digit years or epoch numbers read in the wrong unit
(milliseconds read as seconds land in year 56972), never real customer events. Override it per
call with ``plausible_range=("1970-01-01", "2200-01-01")``, or disable the check with
``plausible_range=None``. Other entry points that take event times (the service, the next best
action) use the same setting through :func:`plausible_bounds` and
:func:`implausible_timestamps`.
"""

MAX_ABS_VALUE: Final[float] = 1e15
"""Largest plausible ``abs(value)`` of one event (money or quantity).

Larger values (and ``inf``, ``-inf``) are refused by :func:`validate` (or dropped and counted with
``drop_invalid=True``): 1e15 is more than any single purchase in any currency unit, and sums of
values below it stay finite and exact to one unit up to ~9e15 (``1e308`` doubles to ``inf``).
Missing values (NaN) are allowed.
"""

_MAX_TEXT: Final = f"{MAX_ABS_VALUE:.0e}".replace("e+", "e")  # '1e15'
# epoch magnitudes: below 1e8 nothing is recognisable, then one unit per factor of 1000
_EPOCH_EDGES: Final = np.array([1e8, 1e11, 1e14, 1e17])
_EPOCH_UNITS: Final[tuple[TimestampUnit, ...]] = ("s", "ms", "us", "ns")
_EPOCH_NAMES: Final = ("seconds", "milliseconds", "microseconds", "nanoseconds")
_PER_SECOND: Final = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}
# a numeric date with the day and the month first: 01/02/2025, 1.2.25, 13-01-2025 10:00
_DAY_MONTH_RE: Final = r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](?:\d{4}|\d{2})(?!\d)"
# pandas reads these words as the time of reading, never an event time
_NOW_WORDS: Final = ("now", "today")
