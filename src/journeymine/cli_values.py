"""The values of the ``jm`` read options, checked as the options are parsed: each check takes
what the user typed and returns it (normalised where said), or raises ``typer.BadParameter``
with what was wrong and what is allowed, before any work. :mod:`journeymine.cli_read` gives
them to the options; :mod:`journeymine.cli_config` applies the same checks to the values of
the project config file.
"""

from __future__ import annotations

from typing import Any

import typer

from journeymine.exceptions import ConfigError, did_you_mean

__all__ = [
    "DEFAULT_PLAUSIBLE_RANGE",
    "PLAUSIBLE_RANGE_HELP",
    "check_choice",
    "check_duplicates",
    "check_encoding",
    "check_format",
    "check_map",
    "check_sep",
    "check_timestamp_format",
    "check_timezone",
    "check_unit",
    "parse_map",
    "parse_plausible_range",
]

_UNITS = ("s", "ms", "us", "ns")
_FORMATS = ("csv", "parquet", "jsonl", "xes")
_DUPLICATES = ("warn", "raise", "drop", "keep")
#: The default of ``--plausible-range``: :data:`journeymine.schema.PLAUSIBLE_RANGE` as text.
DEFAULT_PLAUSIBLE_RANGE = "1990-01-01,2100-01-01"
PLAUSIBLE_RANGE_HELP = (
    "Dates allowed in the log: START,END (end excluded, e.g. 1990-01-01,2100-01-01), or none to "
    "accept any date."
)


def check_map(pairs: list[str] | None) -> list[str] | None:
    """``--map`` values: each ``SOURCE=CANONICAL``, both sides non-empty."""
    for pair in pairs or ():
        src, sep, dst = pair.partition("=")
        if not sep or not src.strip() or not dst.strip():
            raise typer.BadParameter(
                f"expects SOURCE=CANONICAL (e.g. --map user=customer_id), got {pair!r}."
            )
    return pairs


def parse_map(pairs: list[str] | None) -> dict[str, str] | None:
    """``--map`` values as ``{source: canonical}`` (None when none were given)."""
    if not pairs:
        return None
    return {src.strip(): dst.strip() for src, _, dst in (p.partition("=") for p in pairs)}


def check_timezone(value: str) -> str:
    """Return ``value`` if pandas knows the timezone, else raise a usage error with a fix.

    Parameters
    ----------
    value : str
        An IANA name (``Europe/Paris``), ``UTC`` or a fixed offset (``+02:00``).

    Returns
    -------
    str

    Raises
    ------
    typer.BadParameter
        Naming close IANA names when there are some.
    """
    import pandas as pd

    try:
        pd.Timestamp("2025-01-01").tz_localize(value)
    except Exception:
        import zoneinfo

        hint = did_you_mean(value, zoneinfo.available_timezones())
        raise typer.BadParameter(
            f"{value!r} is not a timezone.{hint} Use an IANA name such as UTC, Europe/Paris or "
            f"America/New_York."
        ) from None
    return value


def check_choice(value: str | None, allowed: tuple[str, ...], what: str, note: str = "") -> Any:
    """``value`` when it is None or one of ``allowed``, else the one-line usage error of an
    option callback: ``'x' is not <what>.`` with a did-you-mean, the choices and ``note``.

    Examples
    --------
    >>> check_choice("ms", ("s", "ms"), "a unit")
    'ms'
    >>> try:
    ...     check_choice("mss", ("s", "ms"), "a unit")
    ... except typer.BadParameter as error:
    ...     print(error.message)
    'mss' is not a unit. Did you mean 'ms'? Use s or ms.
    """
    if value is None or value in allowed:
        return value
    choices = f"{', '.join(allowed[:-1])} or {allowed[-1]}" if len(allowed) > 1 else allowed[0]
    raise typer.BadParameter(
        f"{value!r} is not {what}.{did_you_mean(value, allowed)} Use {choices}{note}."
    )


def check_unit(value: str | None) -> str | None:
    """``--timestamp-unit``: s, ms, us or ns (or None)."""
    return check_choice(
        value,
        _UNITS,
        "a unit of epoch timestamps",
        " (seconds, milliseconds, microseconds or nanoseconds since 1970-01-01)",
    )


def parse_plausible_range(value: Any) -> tuple[str, str] | None:
    """The ``plausible_range`` of a ``--plausible-range`` value: ``START,END`` or ``none``.

    Parameters
    ----------
    value : str, tuple or None
        ``"1990-01-01,2100-01-01"``, ``"none"`` (any date); an already parsed value is
        returned as is.

    Returns
    -------
    (str, str) or None

    Raises
    ------
    typer.BadParameter
        The value is not two dates with START before END, nor ``none``.

    Examples
    --------
    >>> parse_plausible_range("1970-01-01, 2000-01-01")
    ('1970-01-01', '2000-01-01')
    >>> parse_plausible_range("none") is None
    True
    """
    if value is None or isinstance(value, tuple):
        return value
    from journeymine.schema import plausible_bounds

    text = str(value).strip()
    if text.lower() == "none":
        return None
    parts = [part.strip() for part in text.split(",")]
    form = "expects START,END with START before END (e.g. 1990-01-01,2100-01-01) or none"
    if len(parts) != 2 or not all(parts):
        raise typer.BadParameter(f"{form}, got {value!r}.")
    try:
        plausible_bounds((parts[0], parts[1]))
    except ConfigError:
        raise typer.BadParameter(f"{form}, got {value!r}.") from None
    return parts[0], parts[1]


def check_timestamp_format(value: str | None) -> str | None:
    """``--timestamp-format``: a strftime format (with ``%`` codes), or None."""
    if value is None:
        return None
    if "%" not in value:
        raise typer.BadParameter(
            f"{value!r} is not a strftime format; use codes such as '%d/%m/%Y %H:%M'."
        )
    return value


def check_duplicates(value: str) -> str:
    """``--duplicates``: warn, raise, drop or keep."""
    return check_choice(value, _DUPLICATES, "a way to handle duplicate events")


def check_format(value: str | None) -> str | None:
    """``--format``: csv, parquet, jsonl or xes (or None: from the file name)."""
    return check_choice(value, _FORMATS, "a format")


def check_sep(value: str | None) -> str | None:
    """``--sep``: one character (``tab`` or ``\\t`` for a tab), or None to detect it."""
    if value is None:
        return None
    if value in ("\\t", "tab", "TAB"):
        return "\t"
    if len(value) != 1 or value in "\r\n\"'":
        raise typer.BadParameter(
            f"{value!r} is not a field separator; give one character, e.g. --sep ';', "
            f"--sep '|' or --sep tab, or leave it out to detect comma, semicolon, tab or pipe."
        )
    return value


def check_encoding(value: str) -> str:
    """``--encoding``: a text encoding Python knows."""
    import codecs

    try:
        codecs.lookup(value)
    except LookupError:
        raise typer.BadParameter(
            f"{value!r} is not a text encoding; use e.g. utf-8, latin-1 or cp1252."
        ) from None
    return value
