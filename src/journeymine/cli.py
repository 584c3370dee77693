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
import time
import warnings
from pathlib import Path
from typing import Annotated, Any, cast

import typer

from journeymine.exceptions import JourneymineError
from journeymine.schema import TimestampUnit

app = typer.Typer(
    name="jm",
    help="journeymine: journey analytics and persona mining for customer event logs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EventFileArg = Annotated[Path, typer.Argument(help="Event file: CSV, Parquet, JSON Lines or XES.")]
MapOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        "-m",
        help="Column mapping SOURCE=CANONICAL, e.g. user=customer_id. Repeat for each column.",
    ),
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


def _read(
    path: Path, mapping: list[str] | None, preset: str | None, tz: str, unit: str | None, **kw: Any
) -> Any:
    from journeymine.io import read_events

    return read_events(
        path,
        columns=_parse_map(mapping),
        preset=preset,
        tz=tz,
        timestamp_unit=cast(TimestampUnit | None, unit),
        **kw,
    )


@app.command()
def validate(
    path: EventFileArg,
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
        data = make_journeys(
            customers,
            days=days,
            start=start,
            random_state=random_state,
            incidents="default" if incidents else None,
            show_progress=True,
        )
    except ConfigError as exc:
        _fail(str(exc))
    save_journeys(data, out, csv_rows=csv_rows)
    typer.echo(
        f"wrote {len(data.events):,} events of {customers:,} customers to {out} "
        f"in {time.perf_counter() - t0:.1f} s"
    )


def _load(path: Path, map: list[str] | None, preset: str | None, tz: str, unit: str | None) -> Any:
    try:
        return _read(path, map, preset, tz, unit)
    except FileNotFoundError as exc:
        _fail(str(exc))
    except JourneymineError as exc:
        problems = getattr(exc, "problems", [str(exc)])
        _fail(f"{path} is not a valid event log:\n  - " + "\n  - ".join(problems), code=1)


def _show(frame: Any, rows: int = 15) -> None:
    import pandas as pd

    with pd.option_context(
        "display.width", 160, "display.max_columns", 12, "display.max_colwidth", 70
    ):
        typer.echo(frame.head(rows).to_string(index=False))


def _labels(labels: Path, events: Path) -> Any:
    """customer_id, persona[, name] from `jm personas` (labels.csv) or `jm assign`."""
    import pandas as pd

    if not labels.exists():
        _fail(f"no labels file {labels}: create it with `jm personas {events} --out DIR`.")
    table = pd.read_csv(labels, dtype={"customer_id": str})
    missing = {"customer_id", "persona"} - set(table.columns)
    if missing:
        _fail(
            f"{labels} lacks columns {sorted(missing)}; expected customer_id, persona[, name]"
            f" as written by `jm personas` or `jm assign`."
        )
    if not pd.api.types.is_integer_dtype(table["persona"]):
        _fail(f"{labels}: the persona column must hold integer ids (-1 = none).")
    return table


def _write_csv(frame: Any, out: Path | None) -> None:
    if out is not None:
        frame.to_csv(out, index=False)
        typer.echo(f"wrote {out}")


@app.command()
def mine(
    path: EventFileArg,
    out: Annotated[Path | None, typer.Option(help="Folder for CSV outputs.")] = None,
    top_k: Annotated[int, typer.Option(help="Edges and variants to print.")] = 15,
    max_steps: Annotated[int, typer.Option(help="Variants on the first N steps.")] = 4,
    funnel: Annotated[
        str | None,
        typer.Option(help="Comma-separated funnel steps, e.g. visit,add_to_cart,purchase."),
    ] = None,
    map: MapOpt = None,
    preset: PresetOpt = None,
    tz: TzOpt = "UTC",
    timestamp_unit: UnitOpt = None,
) -> None:
    """Mine journeys: directly-follows graph, variants, start/end activities, funnel.

    Example: jm mine data/sample/events.parquet --out out/ --funnel visit,add_to_cart,purchase
    """
    from journeymine import journeys as J

    log = _load(path, map, preset, tz, timestamp_unit)
    enc = J.encode(log)
    tables = {
        "dfg": J.dfg(enc),
        "variants": J.variants(enc, max_steps=max_steps),
        "start_activities": J.start_activities(enc),
        "end_activities": J.end_activities(enc),
    }
    if funnel:
        try:
            tables["funnel"] = J.funnel(log, [s.strip() for s in funnel.split(",") if s.strip()])
        except JourneymineError as exc:
            _fail(str(exc))
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
            frame.to_csv(out / f"{name}.csv", index=False)
        typer.echo(f"\nwrote {', '.join(f'{n}.csv' for n in tables)} to {out}")


@app.command()
def changes(
    path: EventFileArg,
    out: Annotated[Path | None, typer.Option(help="CSV file for the detected changes.")] = None,
    by: Annotated[str, typer.Option(help="Comma-separated columns to scan within.")] = "channel",
    map: MapOpt = None,
    preset: PresetOpt = None,
    tz: TzOpt = "UTC",
    timestamp_unit: UnitOpt = None,
) -> None:
    """Detect when and where journeys changed (change points in daily rates per channel).

    Example: jm changes data/sample/events.parquet --out changes.csv
    """
    from journeymine.journeys import detect_changes

    log = _load(path, map, preset, tz, timestamp_unit)
    try:
        found = detect_changes(log, by=tuple(c.strip() for c in by.split(",") if c.strip()))
    except JourneymineError as exc:
        _fail(str(exc))
    if found.empty:
        typer.echo("no change found")
    else:
        _show(
            found[
                [
                    "incident",
                    "metric",
                    *[c for c in ("channel",) if c in found],
                    "what",
                    "start",
                    "end",
                    "baseline",
                    "changed",
                    "q_value",
                ]
            ],
            30,
        )
    _write_csv(found, out)


@app.command()
def report(
    path: EventFileArg,
    out: Annotated[Path, typer.Option(help="Folder for the HTML reports.")] = Path("reports"),
    k: Annotated[int, typer.Option(help="Hide paths taken by fewer than k customers.")] = 10,
    map: MapOpt = None,
    preset: PresetOpt = None,
    tz: TzOpt = "UTC",
    timestamp_unit: UnitOpt = None,
) -> None:
    """Write the journey map and change reports: self-contained HTML files that open offline.

    Example: jm report data/sample/events.parquet --out reports --k 10
    """
    from journeymine.report import change_report, journey_report

    log = _load(path, map, preset, tz, timestamp_unit)
    out.mkdir(parents=True, exist_ok=True)
    try:
        written = [
            journey_report(log, out / "journeys.html", k=k),
            change_report(log, out / "changes.html", k=k),
        ]
    except JourneymineError as exc:
        _fail(str(exc))
    for p in written:
        typer.echo(f"wrote {p}")


@app.command()
def personas(
    path: EventFileArg,
    out: Annotated[Path, typer.Option(help="Folder for labels, profiles and tracking.")] = Path(
        "personas"
    ),
    windows: Annotated[
        str | None, typer.Option(help="Also track personas over windows, e.g. 30D or MS.")
    ] = None,
    min_events: Annotated[int, typer.Option(help="Customers with fewer events: -1.")] = 10,
    random_state: Annotated[int, typer.Option(help="Seed.")] = 0,
    map: MapOpt = None,
    preset: PresetOpt = None,
    tz: TzOpt = "UTC",
    timestamp_unit: UnitOpt = None,
) -> None:
    """Mine behavioural personas (HDBSCAN); optionally track them over time windows.

    Writes labels.csv (customer_id, persona, name; -1 = no persona), profiles.csv and, with
    --windows, persona_sizes.csv, persona_events.csv and migration.csv.

    Example: jm personas data/sample/events.parquet --out personas --windows 60D
    """
    from journeymine.personas import PersonaMiner, track_personas

    log = _load(path, map, preset, tz, timestamp_unit)
    try:
        miner = PersonaMiner(min_events=min_events, random_state=random_state).fit(log)
        tracks = (
            track_personas(log, windows=windows, min_events=min_events, random_state=random_state)
            if windows
            else None
        )
    except JourneymineError as exc:
        _fail(str(exc))
    out.mkdir(parents=True, exist_ok=True)
    profiles = miner.profiles_
    labels = miner.labels_.rename("persona").to_frame()
    labels["name"] = labels["persona"].map(profiles["name"]).fillna("no persona")
    labels.to_csv(out / "labels.csv")
    profiles.drop(
        columns=[c for c in profiles.columns if profiles[c].dtype == object and c != "name"]
    ).to_csv(out / "profiles.csv")
    q = miner.quality_
    typer.secho(
        f"{q['n_personas']} personas among {q['n_customers']:,} customers "
        f"(no persona {q['noise_share']:.1%} of eligible; stability ARI "
        f"{q['stability_ari']:.3f})",
        bold=True,
    )
    _show(profiles[["name", "size", "share"]].reset_index(), 30)
    if tracks is not None:
        tracks.sizes.to_csv(out / "persona_sizes.csv")
        tracks.events.to_csv(out / "persona_events.csv", index=False)
        tracks.migration.to_csv(out / "migration.csv", index=False)
        typer.secho(f"\nTracked over {len(tracks.windows)} windows:", bold=True)
        _show(tracks.events, 30)
    typer.echo(f"\nwrote {out}")


@app.command()
def train(
    path: Annotated[Path, typer.Argument(help="Event file the personas were mined on.")],
    labels: Annotated[Path, typer.Option(help="labels.csv from `jm personas`.")],
    model: Annotated[Path, typer.Option(help="Where to save the model (.skops + .json card).")] = (
        Path("persona_model.skops")
    ),
    random_state: Annotated[int, typer.Option(help="Seed.")] = 0,
    map: MapOpt = None,
    preset: PresetOpt = None,
    tz: TzOpt = "UTC",
    timestamp_unit: UnitOpt = None,
) -> None:
    """Train the persona-assignment model on persona labels and save it (skops + JSON card).

    Example: jm train data/sample/events.parquet --labels personas/labels.csv --model m.skops
    """

    from journeymine.assignment import PersonaModel

    log = _load(path, map, preset, tz, timestamp_unit)
    table = _labels(labels, path)
    y = table.set_index("customer_id")["persona"]
    names = (
        table[table["persona"] >= 0].drop_duplicates("persona").set_index("persona")["name"]
        if "name" in table.columns
        else None
    )
    try:
        fitted = PersonaModel(random_state=random_state).fit(log, y, names=names)
    except JourneymineError as exc:
        _fail(str(exc))
    saved = fitted.save(model)
    typer.secho(f"saved {saved} (+ model card {Path(saved).with_suffix('.json')})", bold=True)
    for row in fitted.card_["metrics"]["by_events_seen"]:
        typer.echo(
            f"  after {row['events']!s:>3} events: accuracy {row['accuracy']:.1%}, "
            f"abstained {row['abstention_rate']:.1%}"
        )
    typer.echo(f"  calibration error (ECE) {fitted.card_['metrics']['ece']:.3f}")


@app.command()
def assign(
    path: Annotated[Path, typer.Argument(help="Events of the customers to assign.")],
    model: Annotated[Path, typer.Option(help="Saved persona model (.skops).")],
    out: Annotated[Path | None, typer.Option(help="CSV for the assignments.")] = None,
    map: MapOpt = None,
    preset: PresetOpt = None,
    tz: TzOpt = "UTC",
    timestamp_unit: UnitOpt = None,
) -> None:
    """Assign every customer of a log to a persona (or abstain) with a saved model.

    Example: jm assign new_events.parquet --model persona_model.skops --out assignments.csv
    """
    from journeymine.assignment import assign_many, load_model

    log = _load(path, map, preset, tz, timestamp_unit)
    try:
        fitted = load_model(model)
        scored = assign_many(log, fitted)
    except FileNotFoundError as exc:
        _fail(str(exc))
    except JourneymineError as exc:
        _fail(str(exc))
    counts = scored["name"].value_counts()
    typer.secho(f"{len(scored):,} customers assigned:", bold=True)
    for name, n in counts.items():
        typer.echo(f"  {name:<30} {n:>8,}")
    _write_csv(scored, out)


PolicyOpt = Annotated[Path, typer.Option(help="Policy file (YAML or JSON), see examples/.")]
PersonasOpt = Annotated[
    Path, typer.Option(help="customer_id,persona CSV from `jm personas` or `jm assign`.")
]


def _policy_inputs(path: Path, policy: Path, personas: Path, *read: Any) -> tuple[Any, ...]:
    from journeymine.actions import Policy, ResponseModel

    log = _load(path, *read)
    table = _labels(personas, path)
    labels = table.set_index("customer_id")["persona"]
    try:
        pol = Policy.from_file(policy)
        responses = ResponseModel().fit(log, labels, pol)
    except JourneymineError as exc:
        _fail(str(exc))
    return log, pol, responses, labels


@app.command()
def nba(
    path: EventFileArg,
    policy: PolicyOpt,
    personas: PersonasOpt,
    at: Annotated[
        str | None, typer.Option(help="Decision time (default: just after the last event).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="CSV for the chosen actions.")] = None,
    why_not: Annotated[
        Path | None, typer.Option(help="CSV with the reason for every losing option.")
    ] = None,
    responses_out: Annotated[
        Path | None,
        typer.Option(help="Save the learned response rates (JSON) for `jm serve --responses`."),
    ] = None,
    map: MapOpt = None,
    preset: PresetOpt = None,
    tz: TzOpt = "UTC",
    timestamp_unit: UnitOpt = None,
) -> None:
    """Next best action for every customer: which journey to send now, and why not the others.

    Response rates per persona x journey are learned from the log's own touches.

    Example: jm nba data/sample/events.parquet --policy examples/policy.yaml
    --personas personas/labels.csv --out actions.csv --why-not why_not.csv
    """
    from journeymine.actions import next_best_action

    log, pol, responses, labels = _policy_inputs(
        path, policy, personas, map, preset, tz, timestamp_unit
    )
    try:
        d = next_best_action(log, pol, responses, labels, at=at)
    except JourneymineError as exc:
        _fail(str(exc))
    counts = d.actions["action"].fillna("(nothing)").value_counts()
    typer.secho(f"{len(d.actions):,} customers, decided at {d.actions['at'].iloc[0]}:", bold=True)
    for name, n in counts.items():
        typer.echo(f"  {name:<30} {n:>8,}")
    typer.echo("why not (losing options):")
    for reason, n in d.why_not["reason"].value_counts().items():
        typer.echo(f"  {reason:<30} {n:>8,}")
    _write_csv(d.actions, out)
    _write_csv(d.why_not, why_not)
    if responses_out is not None:
        typer.echo(f"wrote {responses.save(responses_out)}")


@app.command()
def backtest(
    path: EventFileArg,
    policy: PolicyOpt,
    personas: PersonasOpt,
    out: Annotated[Path | None, typer.Option(help="CSV with one row per logged touch.")] = None,
    map: MapOpt = None,
    preset: PresetOpt = None,
    tz: TzOpt = "UTC",
    timestamp_unit: UnitOpt = None,
) -> None:
    """Replay the log's touches through a policy: agreement, blocked touches by reason, and
    observed response rates where the policy agrees vs would have blocked.

    Example: jm backtest data/sample/events.parquet --policy examples/policy.yaml
    --personas personas/labels.csv
    """
    from journeymine.actions import backtest as run_backtest

    log, pol, responses, labels = _policy_inputs(
        path, policy, personas, map, preset, tz, timestamp_unit
    )
    try:
        bt = run_backtest(log, pol, responses, labels)
    except JourneymineError as exc:
        _fail(str(exc))
    cols = ["touches", "agree_share", "blocked", "blocked_suppressed", "blocked_capped"]
    cols += ["response_rate_agree", "response_rate_blocked"]
    typer.secho("backtest (one row per journey sent; * = all):", bold=True)
    typer.echo(bt.summary[cols].round(3).to_string())
    _write_csv(bt.points, out)


@app.command()
def serve(
    model: Annotated[Path, typer.Option(help="Saved persona model (.skops).")],
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    api_key: Annotated[
        str | None,
        typer.Option(envvar="JOURNEYMINE_API_KEY", help="API key clients send as X-API-Key."),
    ] = None,
    watch: Annotated[
        float | None,
        typer.Option(
            help="Reload the model file when it changes (seconds; default 2 with --workers > 1)."
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes (each holds the model; one per core).")
    ] = 1,
    policy: Annotated[
        Path | None, typer.Option(help="Policy file: adds POST /v1/next-best-action.")
    ] = None,
    responses: Annotated[
        Path | None, typer.Option(help="Response rates from `jm nba --responses-out`.")
    ] = None,
) -> None:
    """Serve persona assignment over HTTP (FastAPI + uvicorn; OpenAPI docs at /docs).

    Example: JOURNEYMINE_API_KEY=secret jm serve --model persona_model.skops --port 8000
    """
    try:
        from journeymine.assignment.service import serve as run
    except ImportError as exc:
        _fail(f"{exc}. Install the service extra: pip install 'journeymine[serve]'.")
    if not model.exists():
        _fail(f"no model file {model}: train one with `jm train` (or run `make demo`).")
    try:
        run(
            model,
            host=host,
            port=port,
            api_key=api_key,
            watch_interval=watch,
            workers=workers,
            policy_path=policy,
            responses_path=responses,
        )
    except JourneymineError as exc:
        _fail(str(exc))


@app.command()
def demo(
    data: Annotated[Path, typer.Argument(help="Folder with events.parquet (the sample).")] = Path(
        "data/sample"
    ),
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
    main()
