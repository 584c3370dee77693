"""The project config file of ``jm``: ``journeymine.toml``, read by every command that reads a log.

It holds the read options a project would otherwise repeat on every command::

    # journeymine.toml
    tz = "Europe/Paris"
    timestamp_format = "%d/%m/%Y %H:%M"
    plausible_range = "2015-01-01,2030-01-01"   # or ["2015-01-01", "2030-01-01"], or "none"

    [columns]                                   # SOURCE = CANONICAL, as --map
    user = "customer_id"
    ts = "timestamp"
    event = "activity"

Keys: ``tz``, ``timestamp_unit``, ``timestamp_format``, ``preset``, ``plausible_range``,
``format``, ``sep``, ``encoding``, ``duplicates``, ``drop_invalid`` and the ``[columns]``
table. The file is ``--config FILE``, else the ``JM_CONFIG`` environment variable, else
``journeymine.toml`` in the
current directory when there is one. An option given on the command line wins over the file;
``--map`` pairs are added to ``[columns]`` (a ``--map`` to the same canonical column replaces
the file's). Unknown keys and bad values are refused (exit code 2) naming the file, the key
and the fix.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import typer

from journeymine.cli_values import (
    check_duplicates,
    check_encoding,
    check_format,
    check_sep,
    check_timestamp_format,
    check_timezone,
    check_unit,
    parse_plausible_range,
)
from journeymine.exceptions import ConfigError, did_you_mean

__all__ = ["CONFIG_FILE", "load_config", "merge_map"]

CONFIG_FILE = "journeymine.toml"
"""The config file looked for in the current directory."""
_MAX_BYTES = 1 << 20


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise typer.BadParameter(f"expects a string, got {value!r}.")
    return value


def _range(value: Any) -> Any:
    if isinstance(value, list):
        if len(value) != 2 or not all(isinstance(v, str) for v in value):
            raise typer.BadParameter(f"expects two dates, got {value!r}.")
        value = ",".join(value)
    return parse_plausible_range(_string(value))


def _checks() -> dict[str, Callable[[Any], Any]]:

    def flag(value: Any) -> bool:
        if not isinstance(value, bool):
            raise typer.BadParameter(f"expects true or false, got {value!r}.")
        return value

    return {
        "tz": lambda v: check_timezone(_string(v)),
        "timestamp_unit": lambda v: check_unit(_string(v)),
        "timestamp_format": lambda v: check_timestamp_format(_string(v)),
        "preset": _string,
        "plausible_range": _range,
        "format": lambda v: check_format(_string(v)),
        "sep": lambda v: check_sep(_string(v)),
        "encoding": lambda v: check_encoding(_string(v)),
        "duplicates": lambda v: check_duplicates(_string(v)),
        "drop_invalid": flag,
    }


def _find(explicit: Path | None) -> Path | None:
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(
                f"--config {explicit}: no such file (or JM_CONFIG); give a {CONFIG_FILE} file."
            )
        return explicit
    here = Path(CONFIG_FILE)
    return here if here.is_file() else None


def load_config(explicit: Path | None = None) -> dict[str, Any]:
    """The read options of the project config file, checked.

    Parameters
    ----------
    explicit : Path, optional
        ``--config`` / ``JM_CONFIG``; default: ``journeymine.toml`` in the current directory.

    Returns
    -------
    dict
        Option name (as :class:`journeymine.cli_read.ReadOptions`) -> value; ``map`` for the
        ``[columns]`` table. Empty when there is no config file.

    Raises
    ------
    ConfigError
        Not TOML, an unknown key (with the closest known one) or a bad value.
    """
    path = _find(explicit)
    if path is None:
        return {}
    if path.stat().st_size > _MAX_BYTES:
        raise ConfigError(f"{path}: a config file of more than 1 MiB; is it the right file?")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}; fix its syntax.") from None
    checks = _checks()
    allowed = [*checks, "columns"]
    out: dict[str, Any] = {}
    for key, value in doc.items():
        if key not in allowed:
            raise ConfigError(
                f"{path}: unknown key {key!r}.{did_you_mean(key, allowed)} Allowed: "
                f"{', '.join(map(repr, allowed))}."
            )
        if key == "columns":
            out["map"] = _columns(value, path)
            continue
        try:
            out[key] = checks[key](value)
        except typer.BadParameter as exc:
            raise ConfigError(f"{path}: {key!r}: {exc.message}") from None
    return out


def _columns(value: Any, path: Path) -> dict[str, str]:
    from journeymine.schema import CANONICAL_COLUMNS

    if not isinstance(value, Mapping):
        raise ConfigError(
            f'{path}: columns must be a table of SOURCE = "CANONICAL" lines under [columns], '
            f'e.g. user = "customer_id".'
        )
    known = list(CANONICAL_COLUMNS)
    for source, target in value.items():
        if not isinstance(target, str) or not target.strip():
            raise ConfigError(
                f"{path}: [columns] {source!r} must name a column as a string, e.g. "
                f'{source} = "customer_id"; got {target!r}.'
            )
        if target not in known:
            moved = (
                f" {source!r} is a setting: write it above [columns] (TOML puts every line "
                f"after a [table] header into that table)."
                if source in _checks()
                else ""
            )
            raise ConfigError(
                f"{path}: [columns] {source!r} = {target!r} is not a canonical column."
                f"{did_you_mean(target, known)} Canonical columns: {', '.join(known)}.{moved}"
            )
    return {str(s): str(t) for s, t in value.items()}


def merge_map(file: dict[str, str] | None, cli: dict[str, str] | None) -> dict[str, str] | None:
    """The config file's ``[columns]`` with the ``--map`` pairs on top: a ``--map`` to the same
    canonical column replaces the file's pair."""
    if not file:
        return cli
    targets = set((cli or {}).values())
    merged = {s: t for s, t in file.items() if t not in targets}
    return merged | (cli or {})
