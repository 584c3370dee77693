"""What ``jm`` commands share to print and write tables (see :mod:`journeymine.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["EVENTS", "EventFileArg", "show", "write_csv"]

EventFileArg = Annotated[Path, typer.Argument(help="Event file: CSV, Parquet, JSON Lines or XES.")]
EVENTS = "the event file"
"""How messages name the event file argument."""


def show(frame: Any, rows: int = 15) -> None:
    """Print the first ``rows`` rows of ``frame`` as a plain table."""
    import pandas as pd

    with pd.option_context(
        "display.width", 160, "display.max_columns", 12, "display.max_colwidth", 70
    ):
        typer.echo(frame.head(rows).to_string(index=False))


def write_csv(frame: Any, out: Path | None, *, index: bool = False, quiet: bool = False) -> None:
    """Write ``frame`` to ``out`` atomically (nothing when ``out`` is None)."""
    from journeymine.io.atomic import atomic_path

    if out is None:
        return
    with atomic_path(out) as tmp:
        frame.to_csv(tmp, index=index)
    if not quiet:
        typer.echo(f"wrote {out}")
