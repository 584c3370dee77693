"""The ``jm`` command line.

Every command checks its output paths before it does any work (an output never overwrites an
input), writes every file atomically, and fails with one line that says what was wrong and how
to fix it: exit code 2 for usage errors (options, configuration, paths), 1 for data errors (see
:mod:`journeymine.cli_errors`).

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
import time
import warnings
from pathlib import Path
from typing import Annotated, Any

import typer

from journeymine.cli_actions import backtest, nba
from journeymine.cli_config import load_config
from journeymine.cli_errors import CliGroup, cli_hint, current_command, set_debug
from journeymine.cli_paths import Output, check_memory, check_outputs
from journeymine.cli_personas import personas
from journeymine.cli_read import (
    ReadOptions,
    read_labels,
    read_policy,
    reads_events,
)
from journeymine.cli_show import EVENTS, EventFileArg
from journeymine.cli_show import show as _show
from journeymine.cli_show import write_csv as _write_csv
from journeymine.cli_state import state_app
from journeymine.cli_values import (
    DEFAULT_PLAUSIBLE_RANGE,
    PLAUSIBLE_RANGE_HELP,
    parse_plausible_range,
)
from journeymine.exceptions import ConfigError, EventLogError

app = typer.Typer(
    name="jm",
    help="journeymine: journey analytics and persona mining for customer event logs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # docstring paragraphs re-flowed to the terminal (the "rich" mode keeps their line breaks)
    rich_markup_mode="markdown",
    cls=CliGroup,
)


@app.callback()
def _root(
    debug: Annotated[
        bool,
        typer.Option("--debug", help="Show the traceback of an error (also JM_DEBUG=1)."),
    ] = False,
) -> None:
    set_debug(debug)


@app.command()
@reads_events
def validate(
    path: EventFileArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    *,
    read: ReadOptions,
) -> None:
    """Check an event log and print a summary; exit code 1 and every problem when invalid.

    Example: jm validate data/sample/events.parquet
    """
    from journeymine.io import read_events
    from journeymine.schema import summarize

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            log = read_events(path, **read.kwargs())
        except EventLogError as exc:
            command = current_command()
            typer.secho(f"INVALID: {path}", fg=typer.colors.RED, err=True)
            for p in exc.problems:
                typer.echo(f"  - {cli_hint(' '.join(p.split()), command)}", err=True)
            raise typer.Exit(1) from None
    s = summarize(log)
    command = current_command()
    notes = [cli_hint(" ".join(str(w.message).split()), command) for w in caught]
    if as_json:
        typer.echo(json.dumps(s | {"warnings": notes}, default=str, indent=2))
        return
    typer.secho(f"VALID: {path}", fg=typer.colors.GREEN)
    typer.echo(f"  customers   {s['customers']:,}")
    typer.echo(f"  events      {s['events']:,}")
    typer.echo(f"  activities  {s['activities']:,}")
    typer.echo(
        f"  channels    {s['channels']:,}"
        + (
            f"  ({', '.join(f'{k} {v:,}' for k, v in s['channel_counts'].items())})"
            if s.get("channel_counts")
            else ""
        )
    )
    typer.echo(f"  from        {s['start']}")
    typer.echo(f"  to          {s['end']}")
    typer.echo(f"  events per customer (median) {s['events_per_customer_median']:.1f}")
    for n in notes:
        typer.secho(f"  warning: {n}", fg=typer.colors.YELLOW)


@app.command()
def generate(
    out: Annotated[Path, typer.Argument(help="Folder to write events and ground truth to.")],
    customers: Annotated[int, typer.Option(min=1, help="Number of customers.")] = 2000,
    days: Annotated[int, typer.Option(min=14, help="Length of the period in days.")] = 180,
    start: Annotated[str, typer.Option(help="First day (UTC).")] = "2025-01-01",
    random_state: Annotated[int, typer.Option(help="Seed; same seed, same data.")] = 7,
    incidents: Annotated[bool, typer.Option(help="Schedule the default incidents.")] = True,
    csv_rows: Annotated[int, typer.Option(min=0, help="Also write the first N events as CSV.")] = 0,
) -> None:
    """Generate synthetic multichannel journeys with ground truth (events.parquet + tables).

    Example: jm generate data/sample --customers 2000 --random-state 7 --csv-rows 2000
    """
    from journeymine.datasets import make_journeys, save_journeys, saved_files

    check_outputs([Output("OUT", out, folder=True, inside=saved_files(csv_rows))])
    check_memory(customers, days)
    t0 = time.perf_counter()
    data = make_journeys(
        customers,
        days=days,
        start=start,
        random_state=random_state,
        incidents="default" if incidents else None,
        show_progress=True,
    )
    save_journeys(data, out, csv_rows=csv_rows)
    typer.echo(
        f"wrote {len(data.events):,} events of {customers:,} customers to {out} "
        f"in {time.perf_counter() - t0:.1f} s"
    )


@app.command()
@reads_events
def mine(
    path: EventFileArg,
    out: Annotated[Path | None, typer.Option(help="Folder for CSV outputs.")] = None,
    top_k: Annotated[int, typer.Option(min=1, help="Edges and variants to print.")] = 15,
    max_steps: Annotated[int, typer.Option(min=1, help="Variants on the first N steps.")] = 4,
    funnel: Annotated[
        str | None,
        typer.Option(help="Comma-separated funnel steps, e.g. visit,add_to_cart,purchase."),
    ] = None,
    *,
    read: ReadOptions,
) -> None:
    """Mine journeys: directly-follows graph, variants, start/end activities, funnel.

    Example: jm mine data/sample/events.parquet --out out/ --funnel visit,add_to_cart,purchase
    """
    from journeymine import journeys as J

    names = ["dfg", "variants", "start_activities", "end_activities"] + ["funnel"] * bool(funnel)
    inside = tuple(f"{n}.csv" for n in names)
    check_outputs([Output("--out", out, folder=True, inside=inside)], {EVENTS: path})
    log = read.load(path)
    enc = J.encode(log)
    tables = {
        "dfg": J.dfg(enc),
        "variants": J.variants(enc, max_steps=max_steps),
        "start_activities": J.start_activities(enc),
        "end_activities": J.end_activities(enc),
    }
    if funnel:
        tables["funnel"] = J.funnel(log, _comma_list(funnel))
    typer.secho(f"Directly-follows graph ({len(tables['dfg']):,} edges), top {top_k}:", bold=True)
    _show(tables["dfg"][["source", "target", "count", "cases", "median_seconds"]], top_k)
    typer.secho(f"\nVariants on the first {max_steps} steps, top {top_k}:", bold=True)
    _show(tables["variants"], top_k)
    if "funnel" in tables:
        typer.secho("\nFunnel:", bold=True)
        _show(tables["funnel"])
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for name, frame in tables.items():
            _write_csv(frame, out / f"{name}.csv", quiet=True)
        typer.echo(f"\nwrote {', '.join(f'{n}.csv' for n in tables)} to {out}")


@app.command()
@reads_events
def changes(
    path: EventFileArg,
    out: Annotated[Path | None, typer.Option(help="CSV file for the detected changes.")] = None,
    by: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated columns to scan within ('' for none). Default: channel when "
            "the log has one, else the log as a whole."
        ),
    ] = None,
    *,
    read: ReadOptions,
) -> None:
    """Detect when and where journeys changed (change points in daily rates per channel).

    Example: jm changes data/sample/events.parquet --out changes.csv
    """
    from journeymine.journeys import detect_changes

    check_outputs([Output("--out", out, example="changes.csv")], {EVENTS: path})
    log = read.load(path)
    columns = None if by is None else tuple(_comma_list(by))
    if columns is None and "channel" not in log.columns:
        typer.echo("the log has no channel column: scanning it as a whole")
    found = detect_changes(log, by=columns)
    typer.echo(found.attrs.get("summary", ""))
    if found.empty:
        typer.echo("no change found")
    else:
        shown = ["incident", "metric", *[c for c in ("channel",) if c in found], "what"]
        shown += ["start", "end", "baseline", "changed", "q_value"]
        _show(found[shown], 30)
    _write_csv(found, out)


def _comma_list(text: str) -> list[str]:
    """The items of a comma-separated option value, stripped, empty ones dropped."""
    return [item.strip() for item in text.split(",") if item.strip()]


def _steps(funnel: str | None) -> list[str] | None:
    """The steps of a ``--funnel A,B,C`` value (at least two)."""
    if funnel is None:
        return None
    steps = _comma_list(funnel)
    if len(steps) < 2:
        raise ConfigError(
            f"--funnel {funnel!r}: give at least two comma-separated steps, e.g. "
            f"visit,add_to_cart,purchase."
        )
    return steps


def _check_in_log(log: Any, steps: list[str] | None, segment: str | None) -> None:
    """Refuse, before the work, funnel steps and a --segment column the log does not have."""
    from journeymine.exceptions import did_you_mean
    from journeymine.schema import ACTIVITY, CUSTOMER_ID, TIMESTAMP

    known = set(log[ACTIVITY].astype(str).unique())
    for step in steps or ():
        if step not in known:
            raise ConfigError(
                f"--funnel step {step!r} is not an activity of the log.{did_you_mean(step, known)}"
            )
    usable = [c for c in log.columns if c not in (CUSTOMER_ID, TIMESTAMP)]
    if segment is not None and segment not in usable:
        raise ConfigError(
            f"--segment {segment!r} is not a column of the log.{did_you_mean(segment, usable)} "
            f"Columns: {', '.join(usable)}."
        )


@app.command()
@reads_events
def report(
    path: EventFileArg,
    out: Annotated[Path, typer.Option(help="Folder for the HTML reports.")] = Path("reports"),
    k: Annotated[int, typer.Option(min=1, help="Hide paths taken by fewer than k customers.")] = 10,
    segment: Annotated[
        str | None,
        typer.Option(
            metavar="COLUMN",
            help="Segment the journey report by a column of the log (its value on each "
            "customer's first event): funnel and process map per segment.",
        ),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option(metavar="COLUMN", hidden=True, help="The old name of --segment."),
    ] = None,
    funnel: Annotated[
        str | None,
        typer.Option(
            metavar="A,B,C",
            help="Funnel steps, e.g. visit,add_to_cart,purchase (default: the most common path).",
        ),
    ] = None,
    *,
    read: ReadOptions,
) -> None:
    """Write the journey map and change reports: self-contained HTML files that open offline.

    Changes are detected per channel when the log has a channel column. Example:
    jm report data/sample/events.parquet --out reports --k 10 --segment channel
    --funnel visit,add_to_cart,purchase
    """
    from journeymine.journeys import detect_changes
    from journeymine.pipeline import MIN_CHANGE_DAYS, span_days
    from journeymine.report import change_report, journey_report

    inside = ("journeys.html", "changes.html")
    check_outputs([Output("--out", out, folder=True, inside=inside)], {EVENTS: path})
    if by is not None:  # --by: the old name of --segment, kept for one minor release
        if segment is not None and segment != by:
            raise ConfigError(
                f"--by {by!r} and --segment {segment!r}: --by is the old name of --segment; "
                f"pass --segment only."
            )
        segment = by
    steps = _steps(funnel)
    log = read.load(path)
    _check_in_log(log, steps, segment)
    days = span_days(log)
    if days < MIN_CHANGE_DAYS:
        raise EventLogError(
            f"{path} spans {days} day{'s' * (days != 1)}: too short for the change report "
            f"(change detection needs at least {MIN_CHANGE_DAYS} days); use a log covering more "
            f"days, or `jm mine` for the journey tables."
        )
    found = detect_changes(log)
    out.mkdir(parents=True, exist_ok=True)
    written = [
        journey_report(log, out / "journeys.html", k=k, funnel_steps=steps, segment=segment),
        change_report(log, out / "changes.html", changes=found, k=k),
    ]
    for p in written:
        typer.echo(f"wrote {p}")


app.command()(personas)


@app.command()
@reads_events
def train(
    path: Annotated[Path, typer.Argument(help="Event file the personas were mined on.")],
    labels: Annotated[Path, typer.Option(help="labels.csv from `jm personas`.")],
    model: Annotated[Path, typer.Option(help="Where to save the model (.skops + .json card).")] = (
        Path("persona_model.skops")
    ),
    random_state: Annotated[int, typer.Option(help="Seed.")] = 0,
    *,
    read: ReadOptions,
) -> None:
    """Train the persona-assignment model on persona labels and save it (skops + JSON card).

    Example: jm train data/sample/events.parquet --labels personas/labels.csv --model m.skops
    """
    from journeymine.assignment import PersonaModel

    card = model.with_suffix(".json")
    check_outputs(
        [Output("--model", model, also=(card,), example="persona_model.skops")],
        {EVENTS: path, "--labels": labels},
    )
    table = read_labels(labels, path)
    log = read.load(path)
    y = table.set_index("customer_id")["persona"]
    names = (
        table[table["persona"] >= 0].drop_duplicates("persona").set_index("persona")["name"]
        if "name" in table.columns
        else None
    )
    fitted = PersonaModel(random_state=random_state).fit(log, y, names=names)
    saved = fitted.save(model)
    typer.secho(f"saved {saved} (+ model card {Path(saved).with_suffix('.json')})", bold=True)
    for row in fitted.card_["metrics"]["by_events_seen"]:
        typer.echo(
            f"  after {row['events']!s:>3} events: accuracy {row['accuracy']:.1%}, "
            f"abstained {row['abstention_rate']:.1%}"
        )
    typer.echo(f"  calibration error (ECE) {fitted.card_['metrics']['ece']:.3f}")


@app.command()
@reads_events
def assign(
    path: Annotated[Path, typer.Argument(help="Events of the customers to assign.")],
    model: Annotated[Path, typer.Option(help="Saved persona model (.skops).")],
    out: Annotated[Path | None, typer.Option(help="CSV for the assignments.")] = None,
    *,
    read: ReadOptions,
) -> None:
    """Assign every customer of a log to a persona (or abstain) with a saved model.

    Example: jm assign new_events.parquet --model persona_model.skops --out assignments.csv
    """
    from journeymine.assignment import assign_many, load_model

    inputs = {EVENTS: path, "--model": model, "the model card": model.with_suffix(".json")}
    check_outputs([Output("--out", out, example="assignments.csv")], inputs)
    fitted = load_model(model)
    log = read.load(path)
    scored = assign_many(log, fitted)
    counts = scored["name"].value_counts()
    typer.secho(f"{len(scored):,} customers assigned:", bold=True)
    for name, n in counts.items():
        typer.echo(f"  {name:<30} {n:>8,}")
    _write_csv(scored, out)


app.command()(nba)
app.command()(backtest)
app.add_typer(state_app)


def _check_request_timeout(value: float) -> float:
    if not 0 < value < 86_400:
        raise typer.BadParameter(f"expects a number of seconds in (0, 86400), got {value:g}.")
    return value


@app.command()
def serve(
    model: Annotated[Path, typer.Option(help="Saved persona model (.skops).")],
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port.")] = 8000,
    api_key: Annotated[
        str | None,
        typer.Option(envvar="JOURNEYMINE_API_KEY", help="API key clients send as X-API-Key."),
    ] = None,
    watch: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Reload the model file when it changes (seconds; default 2 with --workers > 1).",
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes (each holds the model; one per core).")
    ] = 1,
    policy: Annotated[
        Path | None, typer.Option(help="Policy file: adds POST /v1/next-best-action.")
    ] = None,
    responses: Annotated[
        Path | None,
        typer.Option(
            help="Rates to decide with: `jm nba --responses-out` (JSON), or an UpliftModel or "
            "FeatureUplift from `jm nba --uplift-out` (.skops beside its .json card; these "
            "need a policy that arbitrates by uplift)."
        ),
    ] = None,
    request_timeout: Annotated[
        float,
        typer.Option(
            envvar="JOURNEYMINE_REQUEST_TIMEOUT",
            metavar="SECONDS",
            callback=_check_request_timeout,
            help="Seconds a client has to send the request headers, then the body (else 408).",
        ),
    ] = 10.0,
    plausible_range: Annotated[
        str,
        typer.Option(
            envvar="JOURNEYMINE_PLAUSIBLE_RANGE",
            metavar="START,END|none",
            callback=parse_plausible_range,
            help=PLAUSIBLE_RANGE_HELP.replace("in the log", "in requests"),
        ),
    ] = DEFAULT_PLAUSIBLE_RANGE,
    config: Annotated[
        Path | None,
        typer.Option(
            envvar="JM_CONFIG",
            metavar="FILE",
            help="Project config file (default: ./journeymine.toml when present): its "
            "plausible_range applies to requests unless --plausible-range is given.",
        ),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            envvar="JOURNEYMINE_STORE",
            metavar="URL",
            help="Customer state store: sqlite:///PATH (default: <model>.state.sqlite beside "
            "the model) or redis://HOST:PORT/DB (several workers or machines). Adds "
            "/v1/events, /v1/customers/{id}, /v1/outcomes and next best action by customer_id.",
        ),
    ] = None,
    access_log: Annotated[
        bool,
        typer.Option(
            "--access-log/--no-access-log",
            help="uvicorn's log line per request (off by default: /metrics counts requests "
            "and their latency, and the line costs about a third of a decision's CPU time).",
        ),
    ] = False,
    *,
    ctx: typer.Context,
) -> None:
    """Serve persona assignment over HTTP (FastAPI + uvicorn; OpenAPI docs at /docs).

    Example: JOURNEYMINE_API_KEY=secret jm serve --model persona_model.skops --port 8000
    """
    try:
        from journeymine.assignment.service import serve as run
    except ImportError as exc:
        raise ConfigError(
            f"{exc}. Install the service extra: pip install 'journeymine[serve]'."
        ) from exc
    settings = load_config(config)
    source = ctx.get_parameter_source("plausible_range")
    if "plausible_range" in settings and (source is None or source.name == "DEFAULT"):
        plausible_range = settings["plausible_range"]
    if not model.exists():
        raise ConfigError(f"no model file {model}: train one with `jm train` (or run `make demo`).")
    run(
        model,
        host=host,
        port=port,
        api_key=api_key,
        watch_interval=watch,
        workers=workers,
        policy_path=policy,
        responses_path=responses,
        request_timeout=request_timeout,
        plausible_range=plausible_range,
        store=store,
        access_log=access_log,
    )


@app.command()
def demo(
    data: Annotated[Path, typer.Argument(help="Folder with events.parquet (the sample).")] = Path(
        "data/sample"
    ),
    out: Annotated[Path, typer.Option(help="Folder for reports and models.")] = Path("reports"),
    policy: Annotated[
        Path | None,
        typer.Option(
            help="Next-best-action policy (YAML or JSON) instead of the sample one, e.g. "
            "examples/policy.yaml edited."
        ),
    ] = None,
) -> None:
    """Run the whole pipeline on a sample folder (made by `jm generate`) and write reports.

    Example: jm demo data/sample --out reports --policy examples/policy.yaml
    """
    from journeymine.pipeline import DEMO_FILES, run_demo

    inputs: dict[str, Path | None] = {
        f"DATA/{n}": data / n for n in ("events.parquet", "customers.parquet")
    }
    check_outputs(
        [Output("--out", out, folder=True, inside=DEMO_FILES)], inputs | {"--policy": policy}
    )
    if policy is not None:
        read_policy(policy)  # a broken policy fails now, in one line, before any work
    run_demo(data, out, echo=typer.echo, policy=policy)


def main() -> None:  # pragma: no cover - the `jm` console script
    """Entry point of the ``jm`` console script: one-line logging, then the app."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
