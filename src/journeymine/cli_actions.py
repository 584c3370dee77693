"""``jm nba`` and ``jm backtest``: a policy's decisions on a log (see :mod:`journeymine.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from journeymine.cli_paths import Output, check_outputs
from journeymine.cli_read import ReadOptions, read_labels, read_policy, reads_events
from journeymine.cli_show import EVENTS, EventFileArg, write_csv

__all__ = ["backtest", "nba"]

PolicyOpt = Annotated[
    Path, typer.Option(help="Policy file (YAML or JSON), e.g. examples/policy.yaml.")
]
PersonasOpt = Annotated[
    Path, typer.Option(help="customer_id,persona CSV from `jm personas` or `jm assign`.")
]
StrictPolicyOpt = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Fail (instead of warning) when a policy rule names an activity the log never has "
        "or a journey's send activity never occurs in it.",
    ),
]


def _policy_inputs(
    path: Path, policy: Path, personas: Path, read: ReadOptions, strict: bool = False
) -> tuple[Any, ...]:
    """Policy and labels first (small files, fast errors), then the log, the policy checked
    against it (warns, or fails with ``strict``), and the response rates."""
    from journeymine.actions import ResponseModel

    pol = read_policy(policy)
    labels = read_labels(personas, path).set_index("customer_id")["persona"]
    log = read.load(path)
    pol.check_against(log, strict=strict)
    responses = ResponseModel().fit(log, labels, pol)
    return log, pol, responses, labels


def _say_priors(policy: Any, responses: Any) -> None:
    """Say which response rates are the policy's priors rather than learned from the log."""
    sources = getattr(responses, "sources_", {})
    prior = [j for j in policy.journeys if sources.get(j.name) == "prior"]
    mixed = [j.name for j in policy.journeys if sources.get(j.name) == "log+prior"]
    if prior:
        rates = ", ".join(f"{j.name} {policy.prior_of(j):.3f}" for j in prior)
        head = (
            "response rates are PRIORS from the policy, not learned: the log has no touch of "
            + ("any journey (cold start)" if len(prior) == len(sources) else "these journeys")
        )
        typer.secho(f"{head}: {rates}", fg=typer.colors.YELLOW)
    if mixed:
        typer.echo(
            f"response rates learned from the log, shrunk towards the policy's priors: "
            f"{', '.join(mixed)}"
        )


@reads_events
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
    strict: StrictPolicyOpt = False,
    *,
    read: ReadOptions,
) -> None:
    """Next best action for every customer: which journey to send now, and why not the others.

    Response rates per persona x journey are learned from the log's own touches; journeys
    not sent yet use the policy's prior_rate (a cold start: the output says so).

    Example: jm nba data/sample/events.parquet --policy examples/policy.yaml
    --personas personas/labels.csv --out actions.csv --why-not why_not.csv
    """
    from journeymine.actions import next_best_action

    check_outputs(
        [
            Output("--out", out, example="actions.csv"),
            Output("--why-not", why_not, example="why_not.csv"),
            Output("--responses-out", responses_out, example="rates.json"),
        ],
        {EVENTS: path, "--policy": policy, "--personas": personas},
    )
    log, pol, responses, labels = _policy_inputs(path, policy, personas, read, strict)
    d = next_best_action(log, pol, responses, labels, at=at, check="off")  # checked above
    counts = d.actions["action"].fillna("(nothing)").value_counts()
    typer.secho(f"{len(d.actions):,} customers, decided at {d.actions['at'].iloc[0]}:", bold=True)
    for name, n in counts.items():
        typer.echo(f"  {name:<30} {n:>8,}")
    typer.echo("why not (losing options):")
    for reason, n in d.why_not["reason"].value_counts().items():
        typer.echo(f"  {reason:<30} {n:>8,}")
    _say_priors(pol, responses)
    sources = getattr(responses, "sources_", {})
    d.actions["rate_source"] = d.actions["action"].map(sources)
    write_csv(d.actions, out)
    write_csv(d.why_not, why_not)
    if responses_out is not None:
        typer.echo(f"wrote {responses.save(responses_out)}")


@reads_events
def backtest(
    path: EventFileArg,
    policy: PolicyOpt,
    personas: PersonasOpt,
    out: Annotated[Path | None, typer.Option(help="CSV with one row per logged touch.")] = None,
    strict: StrictPolicyOpt = False,
    *,
    read: ReadOptions,
) -> None:
    """Replay the log's touches through a policy: agreement, blocked touches by reason, and
    observed response rates where the policy agrees vs would have blocked.

    Example: jm backtest data/sample/events.parquet --policy examples/policy.yaml
    --personas personas/labels.csv
    """
    from journeymine.actions import backtest as run_backtest

    check_outputs(
        [Output("--out", out, example="backtest.csv")],
        {EVENTS: path, "--policy": policy, "--personas": personas},
    )
    log, pol, responses, labels = _policy_inputs(path, policy, personas, read, strict)
    bt = run_backtest(log, pol, responses, labels, check="off")  # checked above
    # every gate that blocked something (they add up to "blocked"), in the engine's order
    gates = [c for c in bt.summary.columns if c.startswith("blocked_") and bt.summary[c].any()]
    cols = ["touches", "agree_share", "blocked", *gates]
    cols += ["response_rate_agree", "response_rate_blocked"]
    typer.secho("backtest (one row per journey sent; * = all):", bold=True)
    typer.echo(bt.summary[cols].round(3).to_string())
    write_csv(bt.points, out)
