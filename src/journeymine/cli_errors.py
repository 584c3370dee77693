"""How ``jm`` fails: one line saying what was wrong and how to fix it, and an exit code.

Every command of the ``jm`` app runs inside :class:`CliGroup`, the one error handler of the
command line:

- exit code **2** for usage errors: bad options, configuration or policy files, paths
  (:class:`~journeymine.exceptions.ConfigError` and every other
  :class:`~journeymine.exceptions.JourneymineError` that is not about the data, YAML errors,
  ``OSError`` and ``ValueError``); **1** for data errors
  (:class:`~journeymine.exceptions.EventLogError` and its subclasses, running out of memory)
  and for internal errors. :func:`exit_code` is the one table.
- the message is one line (:func:`one_line`); hints that name a Python keyword of the library
  (``timestamp_unit='ms'``, ``columns={...}``) are rewritten to the command's CLI options
  (``--timestamp-unit ms``, ``--map SOURCE=CANONICAL``) by :func:`cli_hint`.
- no traceback, except for an unexpected exception with ``jm --debug`` or ``JM_DEBUG=1``.
- Python warnings are logged, one line each, instead of printed with a source path and a
  line of code.
"""

from __future__ import annotations

import ast
import contextlib
import json
import logging
import os
import re
import shlex
import sys
import traceback
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import typer
from typer.core import TyperGroup

from journeymine.exceptions import EventLogError, JourneymineError

__all__ = [
    "DATA",
    "USAGE",
    "CliGroup",
    "cli_hint",
    "current_command",
    "describe",
    "exit_code",
    "one_line",
    "set_debug",
    "summarize_problems",
    "warnings_to_log",
]

USAGE = 2
"""Exit code of a usage error: an option, a configuration file or a path is wrong."""
DATA = 1
"""Exit code of a data error (the event log), and of an internal error."""

logger = logging.getLogger("journeymine.cli")

# library keyword -> the CLI option that sets it, where the names differ
_ALIASES = {"columns": "map", "n_customers": "customers"}
_MAX_PROBLEMS = 3
_state: dict[str, Any] = {"debug": False, "command": None}


def set_debug(on: bool) -> None:
    """Show tracebacks (``jm --debug``; also ``JM_DEBUG=1``)."""
    _state["debug"] = bool(on)


def current_command() -> Any:
    """The command being run (``None`` outside the ``jm`` app)."""
    return _state["command"]


def _debug() -> bool:
    return bool(_state["debug"]) or os.environ.get("JM_DEBUG", "") not in ("", "0")


def _is_click_error(exc: BaseException) -> bool:
    """A usage error of the command-line parser (click's, or the copy typer ships)."""
    return all(hasattr(exc, a) for a in ("format_message", "exit_code", "show"))


def _is_yaml_error(exc: BaseException) -> bool:
    yaml = sys.modules.get("yaml")  # never imported: cannot be a YAML error
    return yaml is not None and isinstance(exc, yaml.YAMLError)


def exit_code(exc: BaseException) -> int:
    """The exit code of a failure: the one table of exception classes -> codes.

    Parameters
    ----------
    exc : BaseException

    Returns
    -------
    int
        :data:`DATA` (1) for data errors and internal errors, :data:`USAGE` (2) for usage
        errors.

    Examples
    --------
    >>> from journeymine.exceptions import ConfigError, EmptyLogError
    >>> exit_code(ConfigError("x")), exit_code(EmptyLogError("x")), exit_code(KeyError("x"))
    (2, 1, 1)
    """
    if isinstance(exc, typer.Exit) or _is_click_error(exc):
        return int(getattr(exc, "exit_code", USAGE))
    if isinstance(exc, EventLogError | MemoryError):
        return DATA
    if isinstance(exc, JourneymineError | OSError | ValueError):
        return USAGE
    if _is_yaml_error(exc):
        return USAGE
    return DATA


def _known(exc: BaseException) -> bool:
    return (
        isinstance(exc, JourneymineError | OSError | ValueError | MemoryError)
        or _is_click_error(exc)
        or _is_yaml_error(exc)
    )


def _options(command: Any) -> dict[str, Any]:
    """The command's options by parameter name (arguments are not options)."""
    if command is None:
        return {}
    return {
        p.name: p
        for p in command.params
        if p.name and getattr(p, "param_type_name", "") == "option" and p.opts
    }


def _long(option: Any) -> str:
    return str(max(option.opts, key=len))


def _map_flags(flag: str, value: str) -> str:
    """``{'CaseID': 'customer_id'}`` as ``--map CaseID=customer_id`` (one flag a pair); any
    other value as the placeholder ``--map SOURCE=CANONICAL``."""
    try:
        pairs = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        pairs = None
    if (
        not (
            isinstance(pairs, dict)
            and pairs
            and all(isinstance(k, str) and isinstance(v, str) for k, v in pairs.items())
        )
        or "your_name" in pairs
    ):
        return f"{flag} SOURCE=CANONICAL"
    return " ".join(f"{flag} {shlex.quote(f'{k}={v}')}" for k, v in pairs.items())


def cli_hint(message: str, command: Any) -> str:
    """Rewrite library keywords in ``message`` to the command's CLI options.

    ``timestamp_unit='ms'`` becomes ``--timestamp-unit ms``, ``columns={...}`` becomes
    ``--map SOURCE=CANONICAL``, a message starting with a keyword (``n_customers must be...``)
    names the option; keywords the command has no option for are left alone, and so are
    keywords inside a call (``detect_changes(by=[...])``).

    Parameters
    ----------
    message : str
    command : click command or None
        The command that failed; ``None`` leaves the message as it is.

    Returns
    -------
    str
    """
    options = _options(command)
    if not options:
        return message
    # "e.g. jm.read_events(path, columns={...})": the CLI spells only the arguments
    message = re.sub(r"(?:jm\.)?read_events\(\s*\w+\s*,\s*([^()]*)\)", r"\1", message)
    if "plausible_range" in options:  # a pair in Python, START,END or none on the command line
        message = re.sub(
            r"(?<![\w(.\[-])plausible_range=\(([^()]*)\)",
            lambda m: (
                "--plausible-range "
                + ",".join(part.strip().strip("'\"") for part in m.group(1).split(",")).upper()
            ),
            message,
        )
        message = re.sub(
            r"\(None accepts any date; CLI --plausible-range\)", "(or none for any date)", message
        )
    for keyword in sorted({*options, *_ALIASES}, key=len, reverse=True):
        option = options.get(_ALIASES.get(keyword, keyword))
        if option is None:
            continue
        flag = _long(option)

        def replace(m: re.Match[str], option: Any = option, flag: str = flag) -> str:
            value = m.group("value")
            if option.name == "map":
                return _map_flags(flag, value)
            if getattr(option, "is_flag", False):
                return flag
            if value == "()":
                return f"{flag} ''"
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = shlex.quote(value[1:-1])  # '%d/%m/%Y %H:%M' stays one argument
            return f"{flag} {value}"

        message = re.sub(
            rf"(?<![\w(.\[-]){re.escape(keyword)}=(?P<value>'[^']*'|\"[^\"]*\"|\(\)|\{{[^}}]*\}}|"
            rf"\.\.\.|[^\s,;)]+)",
            replace,
            message,
        )
        # a bare keyword: at the start, or anywhere when it cannot be an English word (min_events)
        where = r"(?<![\w.'\"-])" if "_" in keyword else "^"
        message = re.sub(rf"{where}{re.escape(keyword)}\b(?![=(])", flag, message)
    message = re.sub(r"\s*\(CLI --[\w-]+\)", "", message)  # "(CLI --x)": said already
    message = re.sub(r"; CLI --[\w-]+\)", ")", message)
    return re.sub(r"\(CLI --[\w-]+; ", "(", message)


def summarize_problems(problems: Sequence[str], source: object | None = None) -> str:
    """One line listing the first problems of an event log (and how many more there are).

    Parameters
    ----------
    problems : sequence of str
    source : path or str, optional
        The file; named in the message and in the `jm validate` hint.

    Returns
    -------
    str

    Examples
    --------
    >>> summarize_problems(["a.", "b.", "c.", "d.", "e."], "x.csv")
    'x.csv is not a valid event log: a; b; c (+2 more: `jm validate x.csv` lists them all).'
    """
    lines = [one_line(p).rstrip(".") for p in problems]
    shown = "; ".join(lines[:_MAX_PROBLEMS])
    more = len(lines) - _MAX_PROBLEMS
    what = f"`jm validate {source}`" if source is not None else "`jm validate`"
    tail = f" (+{more} more: {what} lists them all)" if more > 0 else ""
    head = f"{source} is not a valid event log: " if source is not None else ""
    return f"{head}{shown}{tail}."


def _event_log_message(exc: EventLogError) -> str:
    problems = getattr(exc, "problems", None) or [str(exc)]
    return one_line(str(exc)) if len(problems) <= 1 else summarize_problems(problems)


def _yaml_message(exc: BaseException) -> str:
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    if "constructor for the tag" in problem or "tag" in (getattr(exc, "context", "") or ""):
        fix = (
            "YAML tags such as !!python/object are not allowed; write plain mappings, lists, "
            "strings and numbers"
        )
    else:
        fix = "fix the YAML syntax (indentation, brackets, ':' after each key), or use JSON"
    return f"the YAML file is not valid{where}: {problem}; {fix}."


def _os_message(exc: OSError) -> str:
    if exc.filename is None or not exc.strerror:
        return one_line(str(exc))
    fixes = {
        PermissionError: "check its permissions or choose another path",
        IsADirectoryError: "it is a folder; give a file path",
        NotADirectoryError: "a part of the path is a file, not a folder; choose another path",
        FileNotFoundError: "check the path",
        FileExistsError: "remove it or choose another path",
    }
    fix = next((f for cls, f in fixes.items() if isinstance(exc, cls)), "check the path")
    return f"{exc.strerror}: {exc.filename}; {fix}."


def _sentence(text: str) -> str:
    text = one_line(text)
    return text if text.endswith((".", "?", "!")) else text + "."


def one_line(text: str) -> str:
    """``text`` with every run of whitespace (newlines too) folded into one space.

    Examples
    --------
    >>> one_line("a\\n  - b\\n  - c")
    'a - b - c'
    """
    return " ".join(str(text).split())


def describe(exc: BaseException, command: Any = None) -> str:
    """The one-line message for a failure, with CLI options in its hints.

    Parameters
    ----------
    exc : BaseException
    command : click command, optional
        The command that failed (for :func:`cli_hint`).

    Returns
    -------
    str
    """
    if _is_click_error(exc):
        ctx = getattr(exc, "ctx", None)
        where = f" See `{ctx.command_path} --help`." if ctx is not None else ""
        return _sentence(exc.format_message()) + where  # type: ignore[attr-defined]
    if isinstance(exc, EventLogError):
        text = _event_log_message(exc)
    elif _is_yaml_error(exc):
        text = _yaml_message(exc)
    elif isinstance(exc, json.JSONDecodeError):
        text = (
            f"not valid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}; fix the JSON "
            f"syntax (double-quoted keys and strings, no trailing commas)."
        )
    elif isinstance(exc, OSError):
        text = _os_message(exc)
    elif isinstance(exc, MemoryError):
        text = "not enough memory for this input; use a smaller log or a machine with more memory."
    elif isinstance(exc, JourneymineError | ValueError):
        text = one_line(str(exc)) or type(exc).__name__
    else:
        return (
            f"internal error: {type(exc).__name__}: {one_line(str(exc)).rstrip('.')}. Re-run with "
            f"`jm --debug ...` (or JM_DEBUG=1) to see the traceback, and please report it."
        )
    return cli_hint(text, command)


@contextlib.contextmanager
def warnings_to_log(command: Any = None) -> Iterator[None]:
    """Log Python warnings as one line each (no source path, no line of code).

    Parameters
    ----------
    command : click command, optional
        Hints in the warnings name this command's options (see :func:`cli_hint`).
    """

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: Any = None,
        line: str | None = None,
    ) -> None:
        logger.warning("%s", cli_hint(one_line(str(message)), _state["command"] or command))

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = show
        yield


def _report(exc: BaseException) -> int:
    command = _state["command"]
    if _debug():
        traceback.print_exception(exc)
    typer.secho(f"error: {describe(exc, command)}", fg=typer.colors.RED, err=True)
    return exit_code(exc)


class CliGroup(TyperGroup):
    """The ``jm`` command group: every command runs inside its one error handler."""

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple[str | None, Any, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        _state["command"] = command  # named in hints; set before the command parses options
        return name, command, rest

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        _state.update(debug=False, command=None)
        try:
            with warnings_to_log():
                rv = super().main(
                    args=args,
                    prog_name=prog_name,
                    complete_var=complete_var,
                    standalone_mode=False,
                    **extra,
                )
            code = rv if isinstance(rv, int) else 0
        except typer.Exit as exc:
            code = int(exc.exit_code)
        except typer.Abort:
            typer.echo("Aborted.", err=True)
            code = DATA
        except Exception as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # `jm` alone: the help, exit code 2
                exc.show()  # type: ignore[attr-defined]
                code = USAGE
            elif not _known(exc) and _debug():
                raise
            else:
                code = _report(exc)
        if standalone_mode:
            sys.exit(code)
        return code
