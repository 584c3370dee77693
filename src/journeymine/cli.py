"""The ``jm`` command line.

Examples
--------
Generate synthetic data, then validate it::

    jm generate data/sample --customers 2000 --random-state 7
    jm validate data/sample/events.parquet
    jm validate export.csv --map user=customer_id --map ts=timestamp --map event=activity
"""

from __future__ import annotations

import json
import logging
import sys
import time
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer

from journeymine.exceptions import JourneymineError

app = typer.Typer(
    name="jm",
    help="journeymine: journey analytics and persona mining for customer event logs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

MapOpt = Annotated[
    list[str] | None,
    typer.Option("--map", "-m", help="Column mapping SOURCE=CANONICAL, e.g. user=customer_id. "
                 "Repeat for each column."),
]
PresetOpt = Annotated[
    str | None,
    typer.Option(help="Column preset of a common export: ga4, segment, amplitude, mixpanel."),
]
TzOpt = Annotated[str, typer.Option(help="Timezone of naive timestamps.")]
UnitOpt = Annotated[
    str | None, typer.Option(help="Unit of numeric (epoch) timestamps: s, ms, us or ns.")
]


def _fail(message: str, code: int = 2) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _parse_map(pairs: list[str] | None) -> dict[str, str] | None:
    if not pairs:
        return None
    out: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            _fail(f"--map expects SOURCE=CANONICAL (e.g. user=customer_id), got {pair!r}.")
        src, dst = pair.split("=", 1)
        out[src.strip()] = dst.strip()
    return out


def _read(path: Path, mapping: list[str] | None, preset: str | None, tz: str,
          unit: str | None, **kw: Any) -> Any:
    from journeymine.io import read_events

    return read_events(path, columns=_parse_map(mapping), preset=preset, tz=tz,
                       timestamp_unit=unit, **kw)


@app.command()
def validate(
    path: Annotated[Path, typer.Argument(help="Event file: CSV, Parquet, JSON Lines or XES.")],
    map: MapOpt = None,
    preset: PresetOpt = None,
    tz: TzOpt = "UTC",
    timestamp_unit: UnitOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Check an event log and print a summary; exit code 1 when the log is invalid.

    Example: jm validate data/sample/events.parquet
    """
    from journeymine.schema import summarize

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            log = _read(path, map, preset, tz, timestamp_unit)
        except FileNotFoundError as exc:
            _fail(str(exc))
        except JourneymineError as exc:
            problems = getattr(exc, "problems", [str(exc)])
            typer.secho(f"INVALID: {path}", fg=typer.colors.RED, err=True)
            for p in problems:
                typer.echo(f"  - {p}", err=True)
            raise typer.Exit(1) from None
    s = summarize(log)
    notes = [str(w.message) for w in caught]
    if as_json:
        typer.echo(json.dumps(s | {"warnings": notes}, default=str, indent=2))
        return
    typer.secho(f"VALID: {path}", fg=typer.colors.GREEN)
    typer.echo(f"  customers   {s['customers']:,}")
    typer.echo(f"  events      {s['events']:,}")
    typer.echo(f"  activities  {s['activities']:,}")
    typer.echo(f"  channels    {s['channels']:,}"
               + (f"  ({', '.join(f'{k} {v:,}' for k, v in s['channel_counts'].items())})"
                  if s.get("channel_counts") else ""))
    typer.echo(f"  from        {s['start']}")
    typer.echo(f"  to          {s['end']}")
    typer.echo(f"  events per customer (median) {s['events_per_customer_median']:.1f}")
    for n in notes:
        typer.secho(f"  warning: {n}", fg=typer.colors.YELLOW)


@app.command()
def generate(
    out: Annotated[Path, typer.Argument(help="Folder to write events and ground truth to.")],
    customers: Annotated[int, typer.Option(help="Number of customers.")] = 2000,
    days: Annotated[int, typer.Option(help="Length of the period in days.")] = 180,
    start: Annotated[str, typer.Option(help="First day (UTC).")] = "2025-01-01",
    random_state: Annotated[int, typer.Option(help="Seed; same seed, same data.")] = 7,
    incidents: Annotated[bool, typer.Option(help="Schedule the default incidents.")] = True,
    csv_rows: Annotated[int, typer.Option(help="Also write the first N events as CSV.")] = 0,
) -> None:
    """Generate synthetic multichannel journeys with ground truth (events.parquet + tables).

    Example: jm generate data/sample --customers 2000 --random-state 7 --csv-rows 2000
    """
    from journeymine.datasets import make_journeys, save_journeys
    from journeymine.exceptions import ConfigError

    t0 = time.perf_counter()
    try:
        data = make_journeys(customers, days=days, start=start, random_state=random_state,
                             incidents="default" if incidents else None, show_progress=True)
    except ConfigError as exc:
        _fail(str(exc))
    save_journeys(data, out, csv_rows=csv_rows)
    typer.echo(f"wrote {len(data.events):,} events of {customers:,} customers to {out} "
               f"in {time.perf_counter() - t0:.1f} s")


@app.command()
def demo(
    data: Annotated[Path, typer.Argument(help="Folder with events.parquet (the sample).")] = Path(
        "data/sample"),
    out: Annotated[Path, typer.Option(help="Folder for reports and models.")] = Path("reports"),
) -> None:
    """Run the whole pipeline on a sample folder and write reports.

    Example: jm demo data/sample --out reports
    """
    from journeymine.pipeline import run_demo

    try:
        run_demo(data, out, echo=typer.echo)
    except (JourneymineError, FileNotFoundError) as exc:
        _fail(str(exc))


def main() -> None:  # pragma: no cover - entry point
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
