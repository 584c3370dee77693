"""Column presets for common analytics exports.

A preset maps the columns of a well-known export to canonical columns, so that
``jm.read_events(path, preset="ga4")`` needs no ``columns=`` mapping. Columns a preset does not
mention are kept as extra columns. Expected input (one row per event, nested fields flattened):

``ga4`` -- Google Analytics 4 BigQuery export (``events_*`` tables, flattened)
    ``user_pseudo_id`` (device/cookie id, also -> device_id), ``event_timestamp`` (INT64
    microseconds since epoch), ``event_name``, ``platform`` (``WEB``, ``ANDROID``, ``IOS``).
    Optional: ``user_id`` (your login id; preferred over ``user_pseudo_id`` where present),
    ``ga_session_id`` (flattened from ``event_params``; a number unique within a user only),
    ``event_value_in_usd``.
``segment`` -- Segment warehouse ``tracks`` table
    ``user_id`` and/or ``anonymous_id`` (``user_id`` preferred; ``anonymous_id`` also ->
    device_id), ``timestamp`` (ISO 8601 text or timestamp), ``event``. Optional: ``id``
    (message id -> event_id),
    ``context_library_name`` (``analytics.js`` -> web, ``analytics-ios``/``analytics-android``
    -> app). Other ``context_*`` columns (``context_page_url``, ``context_ip``...) are kept.
``amplitude`` -- Amplitude export API (one JSON object per line)
    ``user_id`` and/or ``device_id`` (``user_id`` preferred where present), ``event_time``
    (UTC text ``2025-01-31 14:05:00.123000``), ``event_type``. Optional: ``platform``
    (``Web`` -> web, ``iOS``/``Android`` -> app), ``session_id`` (session start in epoch ms,
    ``-1`` for none), ``uuid`` (-> event_id).
``xes`` -- an event log with the XES standard's attribute names (pm4py's CSV/Parquet)
    ``case:concept:name`` (the case -> customer_id), ``concept:name`` (-> activity),
    ``time:timestamp``. ``org:resource``, ``lifecycle:transition`` and ``case:*`` attributes
    are kept as they are.
``mixpanel`` -- Mixpanel raw export with ``properties`` flattened
    ``distinct_id``, ``time`` (epoch seconds), ``event``. Optional: ``mp_lib`` (``web`` -> web,
    ``android``/``iphone``/``swift``/``react-native`` -> app), ``$insert_id`` (-> event_id),
    ``$device_id`` (-> device_id). ``$os``, ``$browser``, ``$city``... are kept.

Channel values not listed in a preset's mapping are kept as they are. The ga4, segment and
amplitude presets fill ``customer_id`` with the login id where there is one, else the device id,
and also keep the device id as ``device_id``, so that :func:`journeymine.io.stitch_identities`
can then join a device's anonymous events to the customer who logged in on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from journeymine import schema
from journeymine.exceptions import ConfigError, did_you_mean
from journeymine.schema import TimestampUnit

__all__ = ["PRESETS", "Preset", "get_preset"]


@dataclass(frozen=True)
class Preset:
    """How to read one kind of analytics export.

    Parameters
    ----------
    name : str
        Short name used as ``read_events(..., preset=name)``.
    description : str
        The export it reads and the columns it expects.
    customer_id : tuple of str
        Source columns for ``customer_id`` in order of preference: the first non-null value of
        the columns present wins (e.g. a login ``user_id`` before an anonymous id).
    columns : Mapping[str, str]
        Other source column -> canonical column.
    required : tuple of str
        Source columns (besides at least one ``customer_id`` column) that must be present; the
        other columns of ``columns`` are optional.
    timestamp_unit : {"s", "ms", "us", "ns"}, optional
        Unit of epoch-number timestamps; None for text timestamps.
    channel_values : Mapping[str, str]
        Raw channel value -> canonical channel name; other values are kept as they are.

    Examples
    --------
    >>> from journeymine.io import PRESETS
    >>> PRESETS["mixpanel"].timestamp_unit
    's'
    >>> PRESETS["ga4"].channel_values["IOS"]
    'app'
    """

    name: str
    description: str
    customer_id: tuple[str, ...]
    columns: Mapping[str, str] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    timestamp_unit: TimestampUnit | None = None
    channel_values: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # read-only copies: a preset is shared by every read that names it
        object.__setattr__(self, "columns", MappingProxyType(dict(self.columns)))
        object.__setattr__(self, "channel_values", MappingProxyType(dict(self.channel_values)))


_APP = "app"
_WEB = "web"

_PRESETS = (
    Preset(
        name="ga4",
        description=(
            "Google Analytics 4 BigQuery export, flattened: user_pseudo_id, "
            "event_timestamp (microseconds), event_name, platform (WEB/ANDROID/IOS); "
            "optional user_id (preferred), ga_session_id, event_value_in_usd."
        ),
        customer_id=("user_id", "user_pseudo_id"),
        columns={
            "user_pseudo_id": schema.DEVICE_ID,
            "event_timestamp": schema.TIMESTAMP,
            "event_name": schema.ACTIVITY,
            "platform": schema.CHANNEL,
            "ga_session_id": schema.SESSION_ID,
            "event_value_in_usd": schema.VALUE,
        },
        required=("event_timestamp", "event_name"),
        timestamp_unit="us",
        channel_values={"WEB": _WEB, "ANDROID": _APP, "IOS": _APP},
    ),
    Preset(
        name="segment",
        description=(
            "Segment warehouse tracks table: user_id and/or anonymous_id (user_id "
            "preferred), timestamp, event; optional id (-> event_id), "
            "context_library_name (-> channel); other context_* columns are kept."
        ),
        customer_id=("user_id", "anonymous_id"),
        columns={
            "anonymous_id": schema.DEVICE_ID,
            "timestamp": schema.TIMESTAMP,
            "event": schema.ACTIVITY,
            "id": schema.EVENT_ID,
            "context_library_name": schema.CHANNEL,
        },
        required=("timestamp", "event"),
        channel_values={
            "analytics.js": _WEB,
            "analytics-next": _WEB,
            "analytics-ios": _APP,
            "analytics-android": _APP,
            "analytics-react-native": _APP,
        },
    ),
    Preset(
        name="amplitude",
        description=(
            "Amplitude export: user_id and/or device_id (user_id preferred), event_time "
            "(UTC text), event_type; optional platform (-> channel), session_id, "
            "uuid (-> event_id). device_id is also kept as the canonical device_id."
        ),
        customer_id=("user_id", "device_id"),
        columns={
            "event_time": schema.TIMESTAMP,
            "event_type": schema.ACTIVITY,
            "platform": schema.CHANNEL,
            "session_id": schema.SESSION_ID,
            "uuid": schema.EVENT_ID,
            "device_id": schema.DEVICE_ID,
        },
        required=("event_time", "event_type"),
        channel_values={"Web": _WEB, "iOS": _APP, "Android": _APP},
    ),
    Preset(
        name="mixpanel",
        description=(
            "Mixpanel raw export, properties flattened: distinct_id, time (epoch "
            "seconds), event; optional mp_lib (-> channel), $insert_id (-> event_id), "
            "$device_id (-> device_id)."
        ),
        customer_id=("distinct_id",),
        columns={
            "time": schema.TIMESTAMP,
            "event": schema.ACTIVITY,
            "mp_lib": schema.CHANNEL,
            "$insert_id": schema.EVENT_ID,
            "$device_id": schema.DEVICE_ID,
        },
        required=("time", "event"),
        timestamp_unit="s",
        channel_values={
            "web": _WEB,
            "android": _APP,
            "iphone": _APP,
            "swift": _APP,
            "react-native": _APP,
        },
    ),
    Preset(
        name="xes",
        description=(
            "An event log with the XES standard's names, as pm4py and process mining tools "
            "write them to CSV or Parquet: case:concept:name (the case), concept:name "
            "(the activity), time:timestamp; other columns (org:resource, case:*) are kept."
        ),
        customer_id=("case:concept:name",),
        columns={"concept:name": schema.ACTIVITY, "time:timestamp": schema.TIMESTAMP},
        required=("concept:name", "time:timestamp"),
    ),
)
PRESETS: Mapping[str, Preset] = MappingProxyType({p.name: p for p in _PRESETS})
"""The presets by name."""


def get_preset(name: str | Preset) -> Preset:
    """Return the preset called ``name`` (a :class:`Preset` is returned as it is).

    Examples
    --------
    >>> get_preset("ga4").name
    'ga4'
    >>> get_preset("ga")
    Traceback (most recent call last):
    ...
    journeymine.exceptions.ConfigError: unknown preset 'ga'. Did you mean 'ga4'? ...
    """
    if isinstance(name, Preset):
        return name
    if isinstance(name, str) and name in PRESETS:
        return PRESETS[name]
    hint = did_you_mean(name, PRESETS) if isinstance(name, str) else ""
    raise ConfigError(
        f"unknown preset {name!r}.{hint} Available presets: {sorted(PRESETS)}; or pass "
        f"columns={{'your_column': 'customer_id', ...}} instead."
    )
