"""Read and write tabular event logs (CSV, Parquet, JSON Lines) and map columns to the schema."""

from __future__ import annotations

import codecs
import gzip
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Literal, get_args

import numpy as np
import pandas as pd

from journeymine import schema
from journeymine.exceptions import (
    ConfigError,
    EmptyLogError,
    EventLogError,
    MissingColumnError,
    did_you_mean,
)
from journeymine.io._jsonl import read_jsonl, write_jsonl
from journeymine.io._parquet import read_parquet, sorted_categories
from journeymine.io.presets import Preset, get_preset
from journeymine.io.xes import read_xes
from journeymine.schema import PLAUSIBLE_RANGE, Duplicates, PlausibleRange, TimestampUnit

__all__ = ["read_events", "write_events"]

Format = Literal["csv", "parquet", "jsonl", "xes"]
_FORMATS: tuple[str, ...] = get_args(Format)
_SUFFIXES = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".xes": "xes",
}
_GZIP_OK = ("csv", "jsonl", "xes")
# text columns where only an empty field is null, so that ids such as 'NA' or 'None' survive
_TEXT_COLUMNS = (*schema.ID_COLUMNS, schema.ACTIVITY, schema.CHANNEL)
# pandas' default missing-value markers, kept for every other CSV column
_NA_VALUES = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
    "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
]  # fmt: skip


def _format_of(path: Path, format: str | None) -> str:
    """The file format, from ``format`` or the suffix (``.gz`` allowed for text formats)."""
    allowed = f"{list(_FORMATS)} (suffixes {sorted(_SUFFIXES)}, plus '.gz' for csv/jsonl/xes)"
    if format is not None:
        if format not in _FORMATS:
            raise ConfigError(
                f"format={format!r} is not supported.{did_you_mean(str(format), _FORMATS)} "
                f"Allowed: {list(_FORMATS)}."
            )
        return format
    suffixes = [s.lower() for s in path.suffixes]
    gz = bool(suffixes) and suffixes[-1] == ".gz"
    suffix = suffixes[-2] if gz and len(suffixes) > 1 else (suffixes[-1] if suffixes else "")
    fmt = _SUFFIXES.get(suffix)
    if fmt is None or (gz and fmt not in _GZIP_OK):
        raise ConfigError(
            f"cannot tell the format of '{path.name}' from its suffix. Supported: {allowed}. "
            f"Pass format=... if the suffix is unusual (e.g. format='jsonl' for a .json file "
            f"with one object per line)."
        )
    return fmt


_SEPARATORS = (",", ";", "\t", "|")
_SEP_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def _sep_repr(sep: str) -> str:
    """``sep=...`` as a hint: ``sep=";"``, ``sep="\\t"``."""
    return 'sep="\\t"' if sep == "\t" else f"sep={json.dumps(sep)}"


def _check_text_options(sep: str | None, encoding: str) -> None:
    if sep is not None and (not isinstance(sep, str) or len(sep) != 1 or sep in "\r\n\"'"):
        raise ConfigError(
            f'sep={sep!r} is not a field separator; give one character, e.g. sep=";" or '
            f'sep="\\t" (tab), or leave it out to detect comma, semicolon, tab or pipe.'
        )
    try:
        codecs.lookup(encoding)
    except (LookupError, TypeError):
        raise ConfigError(
            f"encoding={encoding!r} is not a text encoding Python knows; use e.g. "
            f'encoding="utf-8", encoding="latin-1" or encoding="cp1252".'
        ) from None


def _encoding_error(path: Path, encoding: str, exc: UnicodeDecodeError) -> EventLogError:
    bad = exc.object[exc.start : exc.start + 1].hex() if exc.object else "?"
    return EventLogError(
        f"'{path.name}' is not valid {encoding} text (byte 0x{bad} cannot be decoded). Pass "
        f'the file\'s encoding, e.g. encoding="latin-1" (or encoding="cp1252" for Windows '
        f"exports), or re-save the file as UTF-8."
    )


def _open_csv_text(path: Path, encoding: str) -> IO[str]:
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding=encoding, newline="")
    return path.open(encoding=encoding, newline="")


def _sniff_sep(path: Path, encoding: str) -> str:
    """The separator of the header line: comma unless ';', tab or '|' clearly outnumber it."""
    with _open_csv_text(path, encoding) as f:
        header = f.readline(1 << 16)
    unquoted = re.sub(r'"[^"]*"', "", header)
    counts = {sep: unquoted.count(sep) for sep in _SEPARATORS}
    best = max(_SEPARATORS[1:], key=lambda sep: counts[sep])
    return best if counts[best] > counts[","] else ","


def _check_one_column(header: list[str], path: Path, sep: str) -> None:
    """A header read as one column holding ';', tab or '|' was split on the wrong separator."""
    if len(header) != 1:
        return
    found = [s for s in _SEPARATORS if s != sep and s in header[0]]
    if found:
        raise EventLogError(
            f"the header of '{path.name}' reads as one column {header[0][:80]!r} when split on "
            f"{_SEP_NAMES.get(sep, repr(sep))}s; the file looks {_SEP_NAMES[found[0]]}-separated."
            f" Pass {_sep_repr(found[0])}."
        )


def _check_mapping(columns: Mapping[str, str] | None) -> dict[str, str]:
    if columns is None:
        return {}
    if not isinstance(columns, Mapping):
        raise ConfigError(
            f"columns must be a dict mapping your column names to canonical names, e.g. "
            f"{{'user': 'customer_id'}}; got {type(columns).__name__}."
        )
    mapping = {str(k): v for k, v in columns.items()}
    for src, dst in mapping.items():
        if dst not in schema.CANONICAL_COLUMNS:
            raise ConfigError(
                f"columns maps {src!r} to {dst!r}, which is not a canonical column."
                f"{did_you_mean(str(dst), schema.CANONICAL_COLUMNS)} Canonical columns: "
                f"{list(schema.CANONICAL_COLUMNS)}. Other columns are kept under their own name."
            )
    targets = list(mapping.values())
    twice = sorted({t for t in targets if targets.count(t) > 1})
    if twice:
        raise ConfigError(
            f"columns maps several source columns to {twice}; each canonical column can come "
            f"from one source column only."
        )
    return mapping


class _Plan:
    """Which source columns become which canonical columns, for one set of available columns."""

    def __init__(self, available: list[str], columns: dict[str, str], preset: Preset | None):
        self.rename: dict[str, str] = {}
        self.coalesce: list[str] = []  # customer_id sources, in order of preference
        self.channel_values: Mapping[str, str] = {}
        if preset is not None:
            user_targets = set(columns.values())
            missing = [c for c in preset.required if c not in available]
            if not any(c in available for c in preset.customer_id):
                missing.insert(0, " or ".join(preset.customer_id))
            if missing and schema.CUSTOMER_ID not in user_targets:
                raise MissingColumnError(
                    f"preset {preset.name!r} expects column(s) {missing} which the data does not "
                    f"have.{did_you_mean(missing[0], available)} Available columns: {available}."
                    f" It reads: {preset.description} Map other names with columns={{...}}."
                )
            self.rename = {
                src: dst
                for src, dst in preset.columns.items()
                if src in available and dst not in user_targets and src not in columns
            }
            if schema.CUSTOMER_ID not in user_targets:
                self.coalesce = [c for c in preset.customer_id if c in available]
            self.channel_values = preset.channel_values
        for src, dst in columns.items():
            if src not in available:
                raise MissingColumnError(
                    f"columns maps {src!r} to {dst!r} but there is no column {src!r}."
                    f"{did_you_mean(src, available)} Available columns: {available}."
                )
            self.rename[src] = dst
        if len(self.coalesce) == 1 and self.coalesce[0] not in self.rename:
            self.rename[self.coalesce[0]] = schema.CUSTOMER_ID
            self.coalesce = []
        produced = set(self.rename.values()) | ({schema.CUSTOMER_ID} if self.coalesce else set())
        for target in sorted(produced):
            if target in available and target not in self.rename:
                raise ConfigError(
                    f"the data already has a column {target!r} and the column mapping would "
                    f"make a second one. Drop the existing column first "
                    f"(df.drop(columns=[{target!r}])) or map it instead of another column."
                )

    def text_columns(self, available: list[str]) -> list[str]:
        """Source columns that must be read as text (ids, activity, channel)."""
        out = set(self.coalesce)
        out |= {src for src, dst in self.rename.items() if dst in _TEXT_COLUMNS}
        out |= {c for c in available if c in _TEXT_COLUMNS and c not in self.rename}
        return [c for c in available if c in out]

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        out = frame.rename(columns=self.rename)
        if self.coalesce:
            cust = frame[self.coalesce[0]]
            for col in self.coalesce[1:]:
                cust = cust.where(cust.notna(), frame[col])
            out.insert(0, schema.CUSTOMER_ID, cust)
        if self.channel_values and schema.CHANNEL in out.columns:
            ch = out[schema.CHANNEL]
            if not isinstance(ch.dtype, pd.CategoricalDtype):
                out[schema.CHANNEL] = ch.replace(dict(self.channel_values))
        return out


def _ids_as_text(s: pd.Series) -> pd.Series:
    """Numbers read from a file as ids become text: 7 -> '7', 7.0 -> '7' (nulls stay null)."""
    if pd.api.types.is_bool_dtype(s.dtype) or not pd.api.types.is_numeric_dtype(s.dtype):
        return s
    null = s.isna()
    values = s[~null]
    if pd.api.types.is_float_dtype(s.dtype):
        finite = np.isfinite(values.to_numpy(dtype=float))
        integral = finite & (np.mod(np.where(finite, values, 0), 1) == 0)
        if integral.all() and (values.abs() < 2**53).all():
            values = values.astype("int64")
    text = values.astype(str)
    return text.reindex(s.index).astype("str")


def _read_parquet(
    path: Path, columns: dict[str, str], preset: Preset | None, fast: dict[str, Any] | None
) -> tuple[Any, _Plan, pd.DataFrame | None, list[str]]:
    """A Parquet file as an Arrow table (None when the log came out canonical), its column
    plan, with ``fast`` the canonical log when it passes the gate as it is
    (:func:`read_parquet`), and the text columns that become
    ``activity`` or ``channel``: these are read as Arrow dictionaries, so their values are
    hashed once per distinct value instead of once per event."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    file_schema = pq.read_schema(path)
    names = [str(n) for n in file_schema.names]
    schema.check_unique_columns(names, source=f"'{path.name}'")
    if not names:
        raise EmptyLogError(f"'{path.name}' holds no events (no columns). Check the file.")
    plan = _Plan(names, columns, preset)
    dictionary: list[str] = []
    for name in names:
        field = file_schema.field(name)
        dst = plan.rename.get(name, name)
        if dst == schema.CHANNEL and plan.channel_values:
            continue  # the preset maps channel values one by one: keep plain text
        if dst in schema.CATEGORY_COLUMNS and (
            pa.types.is_string(field.type) or pa.types.is_large_string(field.type)
        ):
            dictionary.append(name)
    if plan.coalesce or plan.channel_values:
        fast = None  # the plan changes values, not only names
    table, frame = read_parquet(path, plan.rename, dictionary, fast)
    return table, plan, frame, dictionary


def _frame_of_table(table: Any, dictionary: list[str]) -> pd.DataFrame:
    """The DataFrame ``pd.read_parquet`` would give, except that the text columns read as
    Arrow dictionaries (``dictionary``) become categoricals with sorted categories, as
    ``astype("category")`` makes them (a column stored as a dictionary keeps its order)."""
    frame = pd.DataFrame.from_arrow(table)
    for name in dictionary:
        if isinstance(frame[name].dtype, pd.CategoricalDtype):
            frame[name] = sorted_categories(frame[name])
    return frame


def _read_raw(
    path: Path,
    fmt: str,
    columns: dict[str, str],
    preset: Preset | None,
    sep: str | None = None,
    encoding: str = "utf-8",
    fast: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, _Plan | None]:
    """The file as a DataFrame and its column plan. With ``fast`` (the gate's options), a
    Parquet log that passes the gate as it is comes back canonical, with no plan."""
    if fmt == "csv":
        try:
            sep = sep if sep is not None else _sniff_sep(path, encoding)
            text_options = {"sep": sep, "encoding": encoding}
            header = pd.read_csv(path, nrows=0, **text_options).columns.astype(str).tolist()
        except UnicodeDecodeError as exc:
            raise _encoding_error(path, encoding, exc) from exc
        _check_one_column(header, path, sep)
        if any(re.search(r"\.\d+$", c) for c in header):  # maybe pandas renamed a repeated name
            first = pd.read_csv(
                path, header=None, nrows=1, dtype=str, keep_default_na=False, **text_options
            )
            names = [c for c in first.iloc[0].tolist() if c != ""]
            schema.check_unique_columns(names, source=f"the header of '{path.name}'")
        plan = _Plan(header, columns, preset)
        text = set(plan.text_columns(header))
        try:
            frame = pd.read_csv(
                path,
                dtype=dict.fromkeys(text, str),
                keep_default_na=False,
                na_values={c: [""] if c in text else _NA_VALUES for c in header},
                **text_options,
            )
        except UnicodeDecodeError as exc:
            raise _encoding_error(path, encoding, exc) from exc
        return frame, plan
    if fmt == "parquet":
        table, plan, done, dictionary = _read_parquet(path, columns, preset, fast)
        if done is not None:
            return done, None
        frame = _frame_of_table(table, dictionary)
    else:
        frame = read_jsonl(path)
    if len(frame.columns) == 0:
        raise EmptyLogError(f"'{path.name}' holds no events (no columns). Check the file.")
    frame.columns = frame.columns.astype(str)
    available = frame.columns.tolist()
    plan = _Plan(available, columns, preset)
    for col in plan.text_columns(available):
        frame[col] = _ids_as_text(frame[col])
    return frame, plan


def read_events(
    source: str | os.PathLike[str] | pd.DataFrame,
    *,
    format: Format | None = None,
    sep: str | None = None,
    encoding: str = "utf-8",
    columns: Mapping[str, str] | None = None,
    preset: str | Preset | None = None,
    tz: str = "UTC",
    timestamp_unit: TimestampUnit | None = None,
    timestamp_format: str | None = None,
    plausible_range: PlausibleRange | None = PLAUSIBLE_RANGE,
    duplicates: Duplicates = "warn",
    drop_invalid: bool = False,
    coerce_ids: bool = False,
    validate: bool = True,
) -> pd.DataFrame:
    """Read an event log from a file or a DataFrame into canonical form.

    Every format goes through the same gate, :func:`journeymine.schema.validate`, so the same
    bad value gets the same error from a CSV, a Parquet, a JSON Lines or an XES file: column
    names that appear twice, lists in an activity, blank activities, ambiguous day-month dates,
    mixed epoch units, dates outside ``plausible_range`` and infinite values are refused with a
    count, an example and the fix.

    Parameters
    ----------
    source : str, path-like or DataFrame
        A CSV (``.csv``, ``.csv.gz``), Parquet (``.parquet``, ``.pq``), JSON Lines (``.jsonl``,
        ``.ndjson``, optionally ``.gz``) or XES (``.xes``, ``.xes.gz``, read by
        :func:`read_xes`) file, or a DataFrame (never modified).
    format : {"csv", "parquet", "jsonl", "xes"}, optional
        The file format; by default taken from the suffix.
    sep : str, optional
        Field separator of a CSV file, one character (``";"``, ``"\\t"``, ``"|"``). By default
        it is detected from the header line: a comma, unless semicolons, tabs or pipes outside
        quotes outnumber the commas there. A header that still reads as one column holding
        ``;``, a tab or ``|`` is refused naming the ``sep`` to pass. CSV only.
    encoding : str, default "utf-8"
        Text encoding of a CSV file, e.g. ``"latin-1"`` or ``"cp1252"`` for many spreadsheet
        exports. A file that is not valid in it is refused naming the encoding and the fix.
        CSV only.
    columns : dict, optional
        Your column name -> canonical name, e.g. ``{"user": "customer_id", "ts": "timestamp"}``.
        Unmapped columns keep their names. Applied after the preset, overriding it.
    preset : str or Preset, optional
        Column preset of a known export: ``"ga4"``, ``"segment"``, ``"amplitude"``,
        ``"mixpanel"`` (see :data:`journeymine.io.PRESETS`).
    tz : str, default "UTC"
        Timezone of timestamps written without an offset.
    timestamp_unit : {"s", "ms", "us", "ns"}, optional
        Unit of epoch-number timestamps (default: the preset's unit). A column that mixes units
        (seconds next to milliseconds) is refused.
    timestamp_format : str, optional
        strftime format of text timestamps, e.g. ``"%d/%m/%Y %H:%M"``. Needed when dates are
        written day and month first and their order is ambiguous (``01/02/2025``) or mixed;
        ISO 8601 needs none.
    plausible_range : (start, end) or None, default :data:`journeymine.schema.PLAUSIBLE_RANGE`
        Events outside ``[start, end)`` (1990-01-01 to 2100-01-01 by default) are refused, or
        dropped and counted with ``drop_invalid``; ``None`` accepts any date.
    duplicates : {"warn", "raise", "drop", "keep"}, default "warn"
        What to do with duplicate events, see :func:`journeymine.schema.validate`.
    drop_invalid : bool, default False
        Drop rows with null or blank ids/activities, implausible timestamps or values (count
        reported) instead of raising.
    coerce_ids : bool, default False
        Convert non-string ids of a DataFrame source to text (ids read from files always are).
    validate : bool, default True
        Validate, convert and sort (:func:`journeymine.schema.validate`). ``False`` only maps
        the columns.

    Returns
    -------
    DataFrame
        The canonical log.

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    ConfigError
        Unknown format or preset, a ``columns`` target that is not a canonical column, an
        unknown ``encoding``, or ``sep``/``encoding`` given for a source that is not CSV.
    MissingColumnError
        A mapped or required column is absent (the message suggests the closest name).
    EventLogError
        The file cannot be parsed, or the events fail validation.

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"user": ["007", "007"], "ts": ["2025-01-01 10:00", "2025-01-01 09:00"],
    ...                     "what": ["buy", "view"]})
    >>> log = read_events(raw, columns={"user": "customer_id", "ts": "timestamp",
    ...                                 "what": "activity"})
    >>> log[["customer_id", "activity"]].values.tolist()
    [['007', 'view'], ['007', 'buy']]
    >>> "user" in raw.columns  # the input is untouched
    True
    """
    mapping = _check_mapping(columns)
    _check_text_options(sep, encoding)
    not_utf8 = codecs.lookup(encoding).name != "utf-8"
    given = [n for n, on in (("sep", sep is not None), ("encoding", not_utf8)) if on]
    text_given = " and ".join(given) + (" apply" if len(given) > 1 else " applies")
    p = get_preset(preset) if preset is not None else None
    unit = timestamp_unit if timestamp_unit is not None else (p.timestamp_unit if p else None)
    if isinstance(source, pd.DataFrame):
        if given:
            raise ConfigError(
                f"{text_given} to CSV files only; a DataFrame is already parsed. Leave them out."
            )
        schema.check_unique_columns(source.columns)
        available = [str(c) for c in source.columns]
        plan = _Plan(available, mapping, p)
        frame = plan.apply(source)
    elif isinstance(source, str | os.PathLike):
        path = Path(source)
        fmt = _format_of(path, format)
        if given and fmt != "csv":
            raise ConfigError(
                f"{text_given} to CSV files only, and '{path.name}' is read "
                f"as {fmt}. Leave them out (or pass format='csv' if the file is CSV)."
            )
        if not path.is_file():
            where = "is a directory, not a file" if path.is_dir() else "does not exist"
            raise FileNotFoundError(
                f"event log file '{path}' {where} (absolute path '{path.resolve()}'). Check the "
                f"path and the working directory."
            )
        if fmt == "xes":
            frame = read_xes(path, validate=False)
            plan = _Plan(frame.columns.tolist(), mapping, p)
        else:
            fast = None
            if validate and unit is None and timestamp_format is None:
                fast = {"tz": tz, "plausible_range": plausible_range, "duplicates": duplicates}
            try:
                frame, raw_plan = _read_raw(
                    path, fmt, mapping, p, sep=sep, encoding=encoding, fast=fast
                )
            except pd.errors.EmptyDataError as exc:
                raise EmptyLogError(f"'{path.name}' is empty: no header, no events.") from exc
            except (EventLogError, ConfigError):
                raise
            except (ValueError, OSError, EOFError, pd.errors.ParserError) as exc:
                raise EventLogError(
                    f"could not read '{path.name}' as {fmt}: {type(exc).__name__}: {exc}. "
                    f"Check that the file is complete and really {fmt} (or pass format=...)."
                ) from exc
            if raw_plan is None:
                return frame  # canonical already: it passed the gate as it is
            plan = raw_plan
        frame = plan.apply(frame)
    else:
        raise ConfigError(
            f"source must be a file path or a pandas DataFrame, got {type(source).__name__}."
        )
    if not validate:
        return frame
    return schema.validate(
        frame,
        tz=tz,
        timestamp_unit=unit,
        timestamp_format=timestamp_format,
        plausible_range=plausible_range,
        duplicates=duplicates,
        drop_invalid=drop_invalid,
        coerce_ids=coerce_ids,
    )


def write_events(
    log: pd.DataFrame,
    path: str | os.PathLike[str],
    *,
    format: Literal["csv", "parquet", "jsonl"] | None = None,
) -> Path:
    """Write an event log so that :func:`read_events` reads it back unchanged.

    Parquet keeps every dtype. CSV and JSON Lines keep the canonical columns exactly
    (timestamps as ISO 8601 UTC with microseconds); their extra columns are re-inferred on
    reading (numbers, booleans and text round-trip; an empty text value comes back as null).

    Parameters
    ----------
    log : DataFrame
        A canonical log (as returned by :func:`read_events`).
    path : str or path-like
        Destination; ``.parquet``/``.pq``, ``.csv`` or ``.jsonl``/``.ndjson`` (``.gz``
        compresses csv/jsonl). Parent folders must exist.
    format : {"csv", "parquet", "jsonl"}, optional
        Overrides the suffix.

    Returns
    -------
    Path
        ``path``, so that ``read_events(write_events(log, path))`` reads it back.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import pandas as pd
    >>> log = read_events(pd.DataFrame({"customer_id": ["a"], "activity": ["view"],
    ...                                 "timestamp": ["2025-01-01T10:00:00.123456Z"]}))
    >>> path = write_events(log, pathlib.Path(tempfile.mkdtemp()) / "log.csv")
    >>> pd.testing.assert_frame_equal(read_events(path), log)
    """
    if not isinstance(log, pd.DataFrame):
        raise ConfigError(f"log must be a pandas DataFrame, got {type(log).__name__}.")
    schema.require_columns(log, schema.REQUIRED_COLUMNS, purpose="write_events")
    path = Path(path)
    fmt = _format_of(path, format)
    if fmt == "xes":
        raise ConfigError(
            "write_events does not write XES; use .parquet (exact), .csv or .jsonl. The pm4py "
            "adapter can export XES."
        )
    if fmt == "parquet":
        log.to_parquet(path, index=False)
    elif fmt == "csv":
        log.to_csv(path, index=False, date_format="%Y-%m-%dT%H:%M:%S.%f%z")
    else:
        write_jsonl(log, path)
    return path
