"""Which of a log's own column names is probably which canonical column.

Event logs arrive with the names of the system that wrote them: ``CaseID``, ``user_id``,
``ActivityID``, ``event_name``, ``CompleteTimestamp``, ``event_time``... The canonical names
(:data:`~journeymine.schema.CANONICAL_COLUMNS`) are few, and so are the usual names for them;
:func:`suggest_columns` matches the missing canonical columns against the names that are there
(the usual names first, then the closest spelling), so that an error can say the whole mapping
to pass instead of a placeholder.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence

from journeymine.schema._columns import (
    ACTIVITY,
    CHANNEL,
    CUSTOMER_ID,
    DEVICE_ID,
    EVENT_ID,
    JOURNEY_ID,
    SESSION_ID,
    TIMESTAMP,
    VALUE,
)

__all__ = ["suggest_columns"]

#: canonical column -> usual source names, compared lower-case without separators
USUAL_NAMES: dict[str, tuple[str, ...]] = {
    CUSTOMER_ID: (
        "customerid", "customer", "custid", "caseid", "case", "caseconceptname", "casename",
        "userid", "user", "clientid", "client", "accountid", "account", "householdid",
        "household", "householdkey", "memberid", "member", "personid", "contactid", "visitorid",
    ),
    TIMESTAMP: (
        "timestamp", "time", "timetimestamp", "datetime", "eventtime", "eventtimestamp",
        "completetimestamp", "endtimestamp", "starttimestamp", "occurredat", "createdat",
        "eventdate", "date", "ts",
    ),
    ACTIVITY: (
        "activity", "activityname", "activityid", "conceptname", "event", "eventname",
        "eventtype", "action", "task", "taskname", "step",
    ),
    CHANNEL: ("channel", "channelname", "medium", "touchpoint", "platform"),
    SESSION_ID: ("sessionid", "session", "visitid", "visit"),
    JOURNEY_ID: ("journeyid", "journey", "campaignid", "campaign"),
    VALUE: ("value", "amount", "revenue", "salesvalue", "sales", "price", "spend"),
    EVENT_ID: ("eventid", "eventuuid", "messageid"),
    DEVICE_ID: ("deviceid", "device", "cookieid", "cookie", "anonymousid"),
}  # fmt: skip


def _key(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def suggest_columns(missing: Sequence[str], available: Iterable[str]) -> dict[str, str]:
    """A mapping ``{source name: canonical name}`` for the ``missing`` canonical columns, from
    the ``available`` names: a usual name for that column first (``CaseID`` for
    ``customer_id``), else the closest spelling. Each source name is used once, and a name that
    is already canonical is never proposed for another canonical column.

    Parameters
    ----------
    missing : sequence of str
        Canonical columns the log lacks, in order of importance.
    available : iterable of str
        The log's column names.

    Returns
    -------
    dict
        Source name -> canonical name, for the missing columns a match was found for.

    Examples
    --------
    >>> suggest_columns(["customer_id", "timestamp", "activity"],
    ...                 ["CaseID", "ActivityID", "CompleteTimestamp"])
    {'CaseID': 'customer_id', 'CompleteTimestamp': 'timestamp', 'ActivityID': 'activity'}
    >>> suggest_columns(["customer_id"], ["custmer_id", "activity"])
    {'custmer_id': 'customer_id'}
    >>> suggest_columns(["timestamp"], ["colour"])
    {}

    Raises
    ------
    ConfigError
        ``missing`` or ``available`` given as one string instead of a list of names.
    """
    from journeymine.exceptions import ConfigError
    from journeymine.schema._columns import CANONICAL_COLUMNS

    for what, value in (("missing", missing), ("available", available)):
        if isinstance(value, str | bytes):
            raise ConfigError(
                f"{what} must be a list of column names, got the string {value!r}; pass "
                f"[{value!r}] for one name."
            )
    names = [str(a) for a in available]
    out: dict[str, str] = {}
    for canonical in missing:
        # a canonical column is never another canonical column under a wrong name
        left = [
            a
            for a in names
            if a not in out and (a not in CANONICAL_COLUMNS or canonical not in CANONICAL_COLUMNS)
        ]
        keys = {_key(a): a for a in reversed(left)}  # the first of equal keys wins
        usual = next((keys[u] for u in USUAL_NAMES.get(canonical, ()) if u in keys), None)
        if usual is None:
            close = difflib.get_close_matches(_key(canonical), list(keys), n=1, cutoff=0.6)
            usual = keys[close[0]] if close else None
        if usual is not None:
            out[usual] = canonical
    return out
