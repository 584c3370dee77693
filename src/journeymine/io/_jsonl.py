"""JSON Lines event files: one JSON object per line, numbers read exactly, repeated keys
refused; written so that :func:`journeymine.read_events` reads them back."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path
from typing import IO, Literal

import numpy as np
import pandas as pd

from journeymine import schema
from journeymine.exceptions import EventLogError

__all__ = ["read_jsonl", "write_jsonl"]


def _open_text(path: Path, mode: Literal["rt", "wt"]) -> IO[str]:
    if path.suffix.lower() == ".gz":
        return gzip.open(path, mode, encoding="utf-8")
    return open(path, mode, encoding="utf-8")


class _RepeatedKeys(dict[str, object]):
    """A JSON object in which a key appears twice (json keeps the last value silently)."""

    names: list[str]


def _object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    out = dict(pairs)
    if len(out) != len(pairs):
        repeated = _RepeatedKeys(out)
        repeated.names = [k for k, _ in pairs]
        return repeated
    return out


def read_jsonl(path: Path) -> pd.DataFrame:
    """One JSON object per line; numbers are read exactly (pandas' reader rounds floats)."""
    rows = []
    decode = json.JSONDecoder(object_pairs_hook=_object).decode
    with _open_text(path, "rt") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = decode(line)
            except ValueError as exc:
                raise EventLogError(
                    f"line {number} of '{path.name}' is not valid JSON ({exc}). JSON Lines "
                    f"files hold one JSON object per line."
                ) from exc
            if not isinstance(row, dict):
                raise EventLogError(
                    f"line {number} of '{path.name}' is a JSON {type(row).__name__}, not an "
                    f"object. JSON Lines event files hold one object per line."
                )
            if isinstance(row, _RepeatedKeys):
                schema.check_unique_columns(row.names, source=f"line {number} of '{path.name}'")
            rows.append(row)
    return pd.DataFrame(rows)


def _json_default(value: object) -> object:
    if isinstance(value, pd.Timestamp | dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def write_jsonl(log: pd.DataFrame, path: Path) -> None:
    frame = log.astype(object).where(log.notna(), None)
    with _open_text(path, "wt") as fh:
        for row in frame.to_dict("records"):
            fh.write(json.dumps(row, default=_json_default, ensure_ascii=False))
            fh.write("\n")
