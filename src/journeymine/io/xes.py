"""Read XES event logs (plain or gzip) into a canonical DataFrame, streaming.

The file is parsed with :func:`lxml.etree.iterparse`; every ``<event>`` and ``<trace>`` is
cleared once read, so memory holds the growing columns, never the XML tree.

Mapping to canonical columns:

- trace ``concept:name`` -> ``customer_id``
- event ``concept:name`` -> ``activity``
- event ``time:timestamp`` -> ``timestamp`` (UTC)
- other event attributes -> columns named with ``:`` replaced by ``_`` (``lifecycle_transition``,
  ``org_resource``)
- other trace attributes -> ``case_<name>`` columns (``case_channel``), if ``case_attributes``

Typed attributes become typed columns: ``int`` -> int64 (``Int64`` when some events lack it),
``float`` -> float64, ``boolean`` -> boolean, ``date`` -> ``datetime64[us, UTC]``, ``string`` and
``id`` -> str. Nested attributes (children of an attribute) and ``list``/``container`` attributes
are skipped.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from lxml import etree

from journeymine import schema
from journeymine.exceptions import (
    EmptyLogError,
    EventLogError,
    MissingColumnError,
    did_you_mean,
)
from journeymine.schema import PLAUSIBLE_RANGE, Duplicates, PlausibleRange

__all__ = ["read_xes"]

_TYPES = ("string", "date", "int", "float", "boolean", "id")
_CONCEPT_NAME = "concept:name"
_TIME = "time:timestamp"


class _Column:
    """Positions (event numbers) and raw text values of one attribute, typed once at the end."""

    __slots__ = ("kinds", "pos", "values")

    def __init__(self) -> None:
        self.pos: list[int] = []
        self.values: list[str] = []
        self.kinds: set[str] = set()


def _typed(col: _Column, n: int, name: str, key: str, file: str) -> pd.Series:
    """A length-``n`` Series from the collected raw values, typed by the XES type.

    Positions are increasing (events are numbered in file order), so values fill in order. An
    attribute given twice in one event (or trace) would shift every later value: refused.
    """
    pos = np.fromiter(col.pos, dtype=np.int64, count=len(col.pos))
    again = np.flatnonzero(pos[1:] <= pos[:-1])
    if len(again):
        trace = key == schema.CUSTOMER_ID
        what = f"trace attribute {_CONCEPT_NAME!r}" if trace else f"attribute {key!r}"
        raise EventLogError(
            f"'{file}': the {what} is given twice for {len(again)} event"
            f"{'s' if len(again) > 1 else ''} (first: event {int(pos[again[0] + 1])}, 0-based "
            f"in file order); its values would be assigned to the wrong events. Allowed: each "
            f"attribute once per {'trace' if trace else 'event'}. Rename or remove the copies in "
            f"the file."
        )
    complete = len(col.pos) == n
    kind = next(iter(col.kinds)) if len(col.kinds) == 1 else "string"
    raw = pd.Series(col.values, dtype=object)
    values: pd.Series
    try:
        if kind == "int":
            values = pd.to_numeric(raw).astype("int64" if complete else "Int64")
        elif kind == "float":
            values = pd.to_numeric(raw).astype("float64")
        elif kind == "boolean":
            lower = raw.str.lower()
            if not lower.isin(["true", "false"]).all():
                raise ValueError("not a boolean")
            values = lower.eq("true").astype("boolean")
        elif kind == "date":
            values = pd.to_datetime(raw, utc=True, format="ISO8601").astype(schema.TIMESTAMP_DTYPE)
        else:
            values = raw.astype("str")
    except (ValueError, TypeError, OverflowError):
        # a value that does not match its declared type: keep the text. The timestamp stays
        # text so that validate() names the rows it cannot parse.
        values = raw if name == schema.TIMESTAMP else raw.astype("str")
    if complete:
        return values.rename(name)
    full = pd.Series(pd.array([None] * n, dtype=values.dtype), name=name)
    full.iloc[pos] = values.to_numpy()
    return full


def _open(path: Path) -> Any:
    with open(path, "rb") as fh:
        magic = fh.read(2)
    return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def _parse(path: Path, case_attributes: bool) -> tuple[dict[str, _Column], int]:
    """Stream the file; return raw columns keyed by XES attribute name and the event count.

    Trace attributes are returned under ``case:<key>`` (``concept:name`` under customer_id).
    """
    event_cols: dict[str, _Column] = {}
    trace_cols: dict[str, tuple[list[int], list[int], list[str], set[str]]] = {}
    kind_of: dict[str, str | None] = {}  # full tag -> XES type, or None to skip
    n = 0
    trace_start = 0

    def attributes(elem: Any) -> list[tuple[str, str, str]]:
        out = []
        for child in elem:
            tag = child.tag
            kind = kind_of.get(tag, "")
            if kind == "":
                local = tag.rpartition("}")[2] if isinstance(tag, str) else ""
                kind = kind_of[tag] = local if local in _TYPES else None
            if kind is None:
                continue
            key = child.get("key")
            value = child.get("value")
            if key is not None and value is not None:
                out.append((key, value, kind))
        return out

    with _open(path) as fh:
        context = etree.iterparse(
            fh,
            events=("end",),
            tag=("{*}event", "{*}trace"),
            huge_tree=True,
            remove_comments=True,
            resolve_entities=False,
            no_network=True,
        )
        for _, elem in context:
            if elem.tag.endswith("event"):
                parent = elem.getparent()
                if parent is not None and parent.tag.endswith("trace"):
                    for key, value, kind in attributes(elem):
                        c = event_cols.get(key)
                        if c is None:
                            c = event_cols[key] = _Column()
                        c.pos.append(n)
                        c.values.append(value)
                        c.kinds.add(kind)
                    n += 1
                elem.clear()
                continue
            # a trace ends: its attributes apply to the events read since it started
            count = n - trace_start
            if count:
                for key, value, kind in attributes(elem):
                    if key != _CONCEPT_NAME and not case_attributes:
                        continue
                    t = trace_cols.get(key)
                    if t is None:
                        t = trace_cols[key] = ([], [], [], set())
                    t[0].append(trace_start)
                    t[1].append(count)
                    t[2].append(value)
                    t[3].add(kind)
            trace_start = n
            elem.clear()
            parent = elem.getparent()
            if parent is not None:  # drop the finished traces from the root
                while elem.getprevious() is not None:
                    del parent[0]
        del context
    cols: dict[str, _Column] = {}
    for key, (starts, counts, values, kinds) in trace_cols.items():
        c = _Column()
        c.kinds = kinds
        cnt = np.asarray(counts, dtype=np.int64)
        c.pos = (np.repeat(np.asarray(starts, dtype=np.int64), cnt) + _ranges(cnt)).tolist()
        c.values = np.repeat(np.asarray(values, dtype=object), cnt).tolist()
        cols[schema.CUSTOMER_ID if key == _CONCEPT_NAME else "case:" + key] = c
    return cols | event_cols, n


def _ranges(counts: np.ndarray) -> np.ndarray:
    """``0..c-1`` for each count ``c``, concatenated."""
    total = int(counts.sum())
    offsets = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(total, dtype=np.int64) - offsets


def read_xes(
    path: str | os.PathLike[str],
    *,
    case_attributes: bool = True,
    channel: str | None = None,
    tz: str = "UTC",
    timestamp_format: str | None = None,
    plausible_range: PlausibleRange | None = PLAUSIBLE_RANGE,
    duplicates: Duplicates = "warn",
    drop_invalid: bool = False,
    validate: bool = True,
) -> pd.DataFrame:
    """Read an XES event log (``.xes`` or ``.xes.gz``) into a canonical DataFrame.

    The result goes through :func:`journeymine.schema.validate`, the gate of every reader: an
    empty ``concept:name`` is refused exactly as an empty activity in a CSV is.

    Parameters
    ----------
    path : str or path-like
        The XES file, plain or gzip-compressed (detected from the content).
    case_attributes : bool, default True
        Keep trace attributes as ``case_<name>`` columns.
    channel : str, optional
        Name of a column (after renaming, e.g. ``"case_channel"`` or ``"org_group"``) to use
        as the canonical ``channel``. Without it the log has no channel column.
    tz : str, default "UTC"
        Timezone of timestamps written without an offset.
    timestamp_format : str, optional
        strftime format of ``time:timestamp`` values that are not ISO 8601 (XES dates are).
    plausible_range : (start, end) or None, default :data:`journeymine.schema.PLAUSIBLE_RANGE`
        Events outside ``[start, end)`` are refused (or dropped with ``drop_invalid``);
        ``None`` accepts any date.
    duplicates : {"warn", "raise", "drop", "keep"}, default "warn"
        Passed to :func:`journeymine.schema.validate`.
    drop_invalid : bool, default False
        Passed to :func:`journeymine.schema.validate`.
    validate : bool, default True
        Validate and sort the result; ``False`` returns the columns in file order, unchecked.

    Returns
    -------
    DataFrame
        The canonical log (``customer_id``, ``timestamp``, ``activity``, optional ``channel``,
        then the other attributes).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    EventLogError
        The file is not well-formed XML, has no events, or the events fail validation.
    MissingColumnError
        ``channel`` names no attribute of the log.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> xes = '''<log xmlns="http://www.xes-standard.org/"><trace>
    ...   <string key="concept:name" value="c1"/><string key="channel" value="web"/>
    ...   <event><string key="concept:name" value="visit"/>
    ...     <date key="time:timestamp" value="2025-01-01T10:00:00.000+01:00"/>
    ...     <int key="items" value="3"/></event>
    ... </trace></log>'''
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.xes"
    >>> _ = path.write_text(xes)
    >>> log = read_xes(path, channel="case_channel")
    >>> log[["customer_id", "activity", "channel", "items"]].values.tolist()
    [['c1', 'visit', 'web', 3]]
    >>> str(log.loc[0, "timestamp"])
    '2025-01-01 09:00:00+00:00'
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no XES file at '{path}' (absolute: '{path.resolve()}'). Check the path."
        )
    try:
        cols, n = _parse(path, case_attributes)
    except etree.XMLSyntaxError as exc:
        raise EventLogError(
            f"'{path.name}' is not a well-formed XES (XML) file: {exc}. Check that the file is "
            f"complete (not truncated) and really XES."
        ) from exc
    except (OSError, EOFError) as exc:  # truncated or corrupt gzip
        raise EventLogError(f"could not read '{path.name}': {exc}.") from exc
    if n == 0:
        raise EmptyLogError(
            f"'{path.name}' has no <event> inside a <trace>. Check that it is an XES event log."
        )
    data: dict[str, pd.Series] = {}
    renames = {
        _CONCEPT_NAME: schema.ACTIVITY,
        _TIME: schema.TIMESTAMP,
    }
    for key, col in cols.items():
        name = renames.get(key) or (key if key == schema.CUSTOMER_ID else key.replace(":", "_"))
        if name in data:  # e.g. both 'org:resource' and 'org_resource'
            continue
        data[name] = _typed(col, n, name, key, path.name)
    frame = pd.DataFrame(data)
    for required in schema.REQUIRED_COLUMNS:  # absent everywhere: validate() reports null rows
        if required not in frame.columns:
            frame[required] = pd.Series([None] * n, dtype=object)
    if channel is not None:
        if channel not in frame.columns:
            raise MissingColumnError(
                f"channel={channel!r} names no attribute of '{path.name}'."
                f"{did_you_mean(channel, frame.columns)} Available columns: "
                f"{[str(c) for c in frame.columns]}. Trace attributes are prefixed with 'case_'."
            )
        frame = frame.rename(columns={channel: schema.CHANNEL})
    first = [c for c in schema.CANONICAL_COLUMNS if c in frame.columns]
    frame = frame[first + [c for c in frame.columns if c not in first]]
    if not validate:
        return frame
    return schema.validate(
        frame,
        tz=tz,
        timestamp_format=timestamp_format,
        plausible_range=plausible_range,
        duplicates=duplicates,
        drop_invalid=drop_invalid,
    )
