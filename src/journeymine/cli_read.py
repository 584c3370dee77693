"""The inputs of ``jm`` commands: the shared options of the event log, labels and policies.

:func:`reads_events` adds ``--map``, ``--preset``, ``--format``, ``--sep``, ``--encoding``,
``--tz``, ``--timestamp-unit``, ``--timestamp-format``, ``--plausible-range``,
``--duplicates``, ``--drop-invalid`` and ``--config`` to a command and passes them as one
:class:`ReadOptions` argument ``read``; bad values are refused while the options are parsed,
before any work. Options not given on the command line come from the project config file
(``journeymine.toml``, see :mod:`journeymine.cli_config`). :func:`read_labels` and
:func:`read_policy` read the other inputs.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, cast

import typer

from journeymine.cli_errors import USAGE, describe, exit_code, summarize_problems
from journeymine.cli_values import (
    DEFAULT_PLAUSIBLE_RANGE,
    PLAUSIBLE_RANGE_HELP,
    check_duplicates,
    check_encoding,
    check_format,
    check_map,
    check_sep,
    check_timestamp_format,
    check_timezone,
    check_unit,
    parse_map,
    parse_plausible_range,
)
from journeymine.exceptions import ConfigError, EventLogError, JourneymineError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ReadOptions",
    "read_customer_table",
    "read_labels",
    "read_policy",
    "reads_events",
]

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class ReadOptions:
    """How to read the event log: the values of the shared options."""

    map: dict[str, str] | None = None
    preset: str | None = None
    format: str | None = None
    sep: str | None = None
    encoding: str = "utf-8"
    tz: str = "UTC"
    timestamp_unit: str | None = None
    timestamp_format: str | None = None
    plausible_range: tuple[str, str] | None = ("1990-01-01", "2100-01-01")
    duplicates: str = "warn"
    drop_invalid: bool = False

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`journeymine.io.read_events`: the fields, ``map`` as
        ``columns``."""
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["columns"] = out.pop("map")
        return out

    def load(self, path: Path) -> pd.DataFrame:
        """Read and validate the log at ``path``.

        Parameters
        ----------
        path : Path
            The log file (any format :func:`journeymine.io.read_events` reads).

        Returns
        -------
        DataFrame
            The canonical log, read with this configuration's options.

        Raises
        ------
        EventLogError
            One line naming the file and its first problems.
        """
        from journeymine.io import read_events

        if path.is_dir():
            raise ConfigError(
                f"{path} is a folder; give the event file in it (CSV, Parquet, JSON Lines or XES)."
            )
        try:
            return read_events(path, **self.kwargs())
        except EventLogError as exc:
            raise EventLogError(summarize_problems(exc.problems, path)) from exc


_PARAMS: list[tuple[str, Any, Any]] = [
    (
        "map",
        Annotated[
            list[str] | None,
            typer.Option(
                "--map",
                "-m",
                callback=check_map,
                help="Column mapping SOURCE=CANONICAL, e.g. user=customer_id. Repeat per column.",
            ),
        ],
        None,
    ),
    (
        "preset",
        Annotated[
            str | None,
            typer.Option(
                help="Column preset of a common export: ga4, segment, amplitude, mixpanel, "
                "xes (pm4py's case:concept:name, concept:name, time:timestamp)."
            ),
        ],
        None,
    ),
    (
        "format",
        Annotated[
            str | None,
            typer.Option(
                "--format",
                callback=check_format,
                help="File format when the suffix does not tell: csv, parquet, jsonl or xes.",
            ),
        ],
        None,
    ),
    (
        "sep",
        Annotated[
            str | None,
            typer.Option(
                "--sep",
                callback=check_sep,
                help="Field separator of a CSV file: one character such as ';' or '|', or tab "
                "(default: detected from the header line, comma unless ';', tab or '|' clearly "
                "outnumber it).",
            ),
        ],
        None,
    ),
    (
        "encoding",
        Annotated[
            str,
            typer.Option(
                "--encoding",
                callback=check_encoding,
                help="Text encoding of a CSV file, e.g. latin-1 or cp1252 for many spreadsheet "
                "exports.",
            ),
        ],
        "utf-8",
    ),
    (
        "tz",
        Annotated[
            str,
            typer.Option(callback=check_timezone, help="Timezone of timestamps without an offset."),
        ],
        "UTC",
    ),
    (
        "timestamp_unit",
        Annotated[
            str | None,
            typer.Option(
                callback=check_unit,
                help="Unit of numeric (epoch) timestamps: s, ms, us or ns.",
            ),
        ],
        None,
    ),
    (
        "timestamp_format",
        Annotated[
            str | None,
            typer.Option(
                callback=check_timestamp_format,
                help="strftime format of text timestamps, e.g. '%d/%m/%Y %H:%M' (day first).",
            ),
        ],
        None,
    ),
    (
        "plausible_range",
        Annotated[
            str,
            typer.Option(
                metavar="START,END|none",
                callback=parse_plausible_range,
                help=PLAUSIBLE_RANGE_HELP,
            ),
        ],
        DEFAULT_PLAUSIBLE_RANGE,
    ),
    (
        "duplicates",
        Annotated[
            str,
            typer.Option(
                callback=check_duplicates,
                help="Duplicate events: warn (keep them), raise, drop or keep (silently).",
            ),
        ],
        "warn",
    ),
    (
        "drop_invalid",
        Annotated[
            bool,
            typer.Option(
                "--drop-invalid",
                help="Drop rows with missing ids/activities or bad timestamps (count reported).",
            ),
        ],
        False,
    ),
]


_CONFIG_PARAM: tuple[str, Any, Any] = (
    "config",
    Annotated[
        Path | None,
        typer.Option(
            "--config",
            envvar="JM_CONFIG",
            metavar="FILE",
            help="Project config file (default: ./journeymine.toml when present; template: "
            "examples/journeymine.toml): the columns table (SOURCE = CANONICAL, as --map), tz, "
            "timestamp_unit, timestamp_format, preset, plausible_range, sep, encoding; options "
            "given on the command line win.",
        ),
    ],
    None,
)
_CONTEXT = "jm_context"


def _given(ctx: Any, name: str) -> bool:
    """Was option ``name`` given (command line or environment), not left at its default?"""
    source = ctx.get_parameter_source(name) if ctx is not None else None
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def reads_events(command: F) -> F:
    """Add the shared read options to ``command``; it receives them as ``read: ReadOptions``.

    Parameters
    ----------
    command : callable
        A typer command with a keyword parameter ``read``.

    Returns
    -------
    callable
        The command with the options in its signature (what typer reads).
    """
    signature = inspect.signature(command, eval_str=True)
    params = [p for p in signature.parameters.values() if p.name != "read"]
    extra = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=ann)
        for name, ann, default in [*_PARAMS, _CONFIG_PARAM]
    ]
    extra.append(
        inspect.Parameter(_CONTEXT, inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context)
    )

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from journeymine.cli_config import load_config, merge_map

        ctx = kwargs.pop(_CONTEXT, None)
        config = load_config(kwargs.pop("config", None))
        values = {name: kwargs.pop(name) for name, _, _ in _PARAMS}
        values["map"] = merge_map(config.pop("map", None), parse_map(values["map"]))
        for name, value in config.items():
            if not _given(ctx, name):
                values[name] = value
        return command(*args, read=ReadOptions(**values), **kwargs)

    wrapper.__signature__ = signature.replace(parameters=params + extra)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {
        **{p.name: p.annotation for p in params},
        **{name: ann for name, ann, _ in [*_PARAMS, _CONFIG_PARAM]},
        _CONTEXT: typer.Context,
    }
    return cast(F, wrapper)


def read_labels(labels: Path, events: Path) -> pd.DataFrame:
    """Read persona labels: customer_id, persona[, name] from `jm personas` or `jm assign`.

    Parameters
    ----------
    labels : Path
        The labels CSV.
    events : Path
        The event file they belong to (named in the fix).

    Returns
    -------
    DataFrame

    Raises
    ------
    ConfigError
        The file is missing or lacks the columns, naming the command that writes it.
    """
    if not labels.is_file():
        raise ConfigError(
            f"no labels file {labels}: create it with `jm personas {events} --out DIR`."
        )
    import pandas as pd

    table = pd.read_csv(labels, dtype={"customer_id": str})
    missing = {"customer_id", "persona"} - set(table.columns)
    if missing:
        raise ConfigError(
            f"{labels} lacks columns {sorted(missing)}; expected customer_id, persona[, name]"
            f" as written by `jm personas` or `jm assign`."
        )
    if not pd.api.types.is_integer_dtype(table["persona"]):
        raise ConfigError(f"{labels}: the persona column must hold integer ids (-1 = none).")
    return table


def read_customer_table(path: Path, option: str, what: str) -> pd.DataFrame:
    """A customer_id-indexed table (CSV, or Parquet by its suffix) given to ``option``.

    Parameters
    ----------
    path : Path
    option : str
        The CLI option, named in messages (e.g. ``"--attributes"``).
    what : str
        What the columns after customer_id hold, for the message of a bad file.

    Returns
    -------
    DataFrame
        Indexed by customer_id (text).

    Raises
    ------
    ConfigError
        Missing or unreadable file, no customer_id column, or no other column.
    """
    import pandas as pd

    if not path.is_file():
        raise ConfigError(f"no {option} file {path}: give a CSV with customer_id and {what}.")
    try:
        table = (
            pd.read_parquet(path)
            if path.suffix.lower() in (".parquet", ".pq")
            else pd.read_csv(path, dtype={"customer_id": str})
        )
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{option} {path}: not a readable CSV or Parquet file ({exc}).") from exc
    if "customer_id" not in table.columns or len(table.columns) < 2:
        raise ConfigError(
            f"{option} {path} needs a customer_id column and {what}; its columns are "
            f"{list(table.columns)[:8]}."
        )
    table["customer_id"] = table["customer_id"].astype(str)
    return table.set_index("customer_id")


def read_policy(policy: Path) -> Any:
    """Read the policy file of `--policy`.

    Parameters
    ----------
    policy : Path
        YAML or JSON.

    Returns
    -------
    Policy

    Raises
    ------
    ConfigError
        One line naming the file and what is wrong in it (YAML/JSON syntax, refused tags).
    """
    from journeymine.actions import Policy

    try:
        return Policy.from_file(policy)
    except JourneymineError:
        raise
    except Exception as exc:
        if exit_code(exc) != USAGE:  # not YAML/JSON syntax or an unreadable file: a bug
            raise
        raise ConfigError(f"--policy {policy}: {describe(exc)}") from exc
