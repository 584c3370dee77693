"""``jm nba`` and ``jm backtest``: a policy's decisions on a log (see :mod:`journeymine.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from journeymine.cli_paths import Output, check_outputs
from journeymine.cli_read import (
    ReadOptions,
    read_customer_table,
    read_labels,
    read_policy,
    reads_events,
)
from journeymine.cli_show import EVENTS, EventFileArg, write_csv

__all__ = ["backtest", "nba"]

PolicyOpt = Annotated[
    Path, typer.Option(help="Policy file (YAML or JSON), e.g. examples/policy.yaml.")
]
PersonasOpt = Annotated[
    Path, typer.Option(help="customer_id,persona CSV from `jm personas` or `jm assign`.")
]
ArbitrationOpt = Annotated[
    str | None,
    typer.Option(
        help="Override the policy's arbitration: 'uplift' (expected incremental response x "
        "value - cost, learned from touches against holdout events) or 'response' (raw "
        "response rates)."
    ),
]
UpliftModelOpt = Annotated[
    Path | None,
    typer.Option(
        help="A saved UpliftModel or FeatureUplift (.skops with its .json card, from "
        "--uplift-out) instead of fitting one on the log (uplift arbitration); a FeatureUplift "
        "also needs --feature-uplift, the persona model it was fitted with."
    ),
]
FeatureUpliftOpt = Annotated[
    Path | None,
    typer.Option(
        help="A saved persona model (.skops, the one `jm serve --model` serves): fit a "
        "FeatureUplift instead of the cell UpliftModel, per-customer uplift from the model's "
        "persona probabilities (the memberships) and features on the log (uplift arbitration); "
        "with --uplift-model FILE of a saved FeatureUplift, that one is used, not refitted. "
        "Save it with --uplift-out for `jm serve --responses`."
    ),
]
AttributesOpt = Annotated[
    Path | None,
    typer.Option(
        help="CSV customer_id + boolean columns (e.g. has_app) that the policy's consent gates "
        "read (consent: {channel: push, attribute: has_app})."
    ),
]
MembershipsOpt = Annotated[
    Path | None,
    typer.Option(
        help="CSV customer_id + one column per persona id with membership probabilities: "
        "per-customer uplift as the membership-weighted mean (uplift arbitration)."
    ),
]
StrictPolicyOpt = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Fail (instead of warning) when a policy rule names an activity the log never has "
        "or a journey's send activity never occurs in it.",
    ),
]


def _memberships(path: Path) -> Any:
    from journeymine.exceptions import ConfigError

    table = read_customer_table(path, "--memberships", "one column per persona id (probabilities)")
    try:
        table.columns = [int(c) for c in table.columns]
    except ValueError:
        raise ConfigError(
            f"--memberships {path}: the columns after customer_id must be persona ids "
            f"(0, 1, ...), got {list(table.columns)}."
        ) from None
    return table.astype(float)


def _policy_inputs(
    path: Path,
    policy: Path,
    personas: Path,
    read: ReadOptions,
    strict: bool = False,
    *,
    outputs: list[Output],
    arbitration: str | None = None,
    uplift_model: Path | None = None,
    attributes: Path | None = None,
    memberships: Path | None = None,
    feature_uplift: Path | None = None,
) -> tuple[Any, ...]:
    """The command's ``outputs`` checked against the inputs, then policy, labels and tables
    (small files, fast errors), then the log, the policy checked against it (warns, or fails
    with ``strict``), and the model: response rates, or uplift (fitted, or loaded from
    ``uplift_model``, or a FeatureUplift on the probabilities and features of the persona
    model ``feature_uplift``, which are then the memberships returned)."""
    import dataclasses

    from journeymine.actions import ResponseModel, UpliftModel
    from journeymine.actions.policy import ARBITRATIONS
    from journeymine.exceptions import ConfigError

    check_outputs(outputs, {EVENTS: path, "--policy": policy, "--personas": personas})
    pol = read_policy(policy)
    if arbitration is not None:
        if arbitration not in ARBITRATIONS:
            raise ConfigError(
                f"--arbitration must be one of {list(ARBITRATIONS)}, got {arbitration!r}."
            )
        pol = dataclasses.replace(pol, arbitration=arbitration)
    if pol.arbitration != "uplift" and (uplift_model or memberships):
        given = "--uplift-model" if uplift_model else "--memberships"
        raise ConfigError(
            f"{given} needs uplift arbitration: add --arbitration uplift (or arbitration: uplift "
            f"in {policy})."
        )
    if feature_uplift is not None:
        if pol.arbitration != "uplift":
            raise ConfigError(
                f"--feature-uplift needs uplift arbitration: add --arbitration uplift (or "
                f"arbitration: uplift in {policy})."
            )
        if memberships is not None:
            raise ConfigError(
                "--feature-uplift takes the memberships from the persona model's "
                "probabilities; drop --memberships."
            )
        if not Path(feature_uplift).is_file():
            raise ConfigError(
                f"--feature-uplift {feature_uplift}: no such file; give a saved persona model "
                f"(the .skops file `jm serve --model` serves, its .json card beside it)."
            )
    labels = read_labels(personas, path).set_index("customer_id")["persona"]
    attrs = (
        None if attributes is None else read_customer_table(attributes, "--attributes", "booleans")
    )
    if pol.attributes_needed and attrs is None:
        raise ConfigError(
            f"the policy's consent gates read customer attributes {list(pol.attributes_needed)}"
            f": pass --attributes FILE (CSV customer_id,{','.join(pol.attributes_needed)})."
        )
    soft = None if memberships is None else _memberships(memberships)
    model: Any = None
    if uplift_model is not None:
        model = _saved_uplift(uplift_model, feature_uplift)
        if list(model.journeys_) != [j.name for j in pol.journeys]:
            raise ConfigError(
                f"--uplift-model {uplift_model} was fitted for journeys {model.journeys_}, the "
                f"policy has {[j.name for j in pol.journeys]}; fit it again with this policy."
            )
    log = read.load(path)
    pol.check_against(log, strict=strict)
    if feature_uplift is not None:
        from journeymine.actions import FeatureUplift
        from journeymine.assignment import load_model

        persona_model = load_model(feature_uplift)
        soft = persona_model.predict_proba(log)
        if isinstance(model, FeatureUplift):  # saved (--uplift-model): used as it is
            from journeymine.service.rates import check_personas

            try:
                check_personas(model, persona_model.classes_)
            except ConfigError as exc:
                raise ConfigError(
                    f"--feature-uplift {feature_uplift} and --uplift-model {uplift_model}: "
                    f"{exc} Give the persona model the FeatureUplift was fitted with."
                ) from exc
            how = f"loaded from {uplift_model}"
        else:
            model = FeatureUplift().fit(log, soft, persona_model.features(log), pol)
            how = "chosen by cross-validation"
        typer.echo(
            f"FeatureUplift: blend {model.blend_:g} of the feature model ({how}; 0 = the "
            f"persona cells), C {model.C_}"
        )
    if pol.arbitration == "uplift":
        if model is None:
            model = UpliftModel().fit(log, labels if soft is None else soft, pol)
            _echo_choice_certainty(model)
            if model.missing_control_:
                typer.secho(
                    f"no holdout events of {', '.join(model.missing_control_)} in the log: "
                    f"their uplift is the response rate minus the policy's prior_rate (log "
                    f"'{pol.holdout_activity}' events with the journey_id held back).",
                    fg=typer.colors.YELLOW,
                )
    else:
        model = ResponseModel().fit(log, labels, pol)
    return log, pol, model, labels, attrs, soft


def _echo_choice_certainty(model: Any) -> None:
    """Print how sure the fitted uplift is of each persona's best journey (the probability,
    over its posteriors, that the journey it ranks first is the best), in yellow where it is
    below ``UNSURE_BELOW`` (0.8): the log cannot rank that persona's journeys yet."""
    from journeymine.actions.uplift_choice import UNSURE_BELOW

    sure = model.choice_certainty()
    sure = sure[sure["persona"] >= 0]
    if not len(sure):
        return
    typer.echo("best journey per persona by expected net value, and the probability it is:")
    for r in sure.itertuples(index=False):
        typer.secho(
            f"  persona {r.persona}: {r.best} ({r.probability_best:.2f}; runner-up "
            f"{r.runner_up} {r.probability_runner_up:.2f}; {r.touches} touches, {r.holdouts} "
            f"holdouts)",
            fg=typer.colors.YELLOW if r.probability_best < UNSURE_BELOW else None,
        )
    if (sure["probability_best"] < UNSURE_BELOW).any():
        typer.echo(
            f"  below {UNSURE_BELOW:g} the log cannot rank those personas' journeys yet: more "
            f"touches and holdouts (a longer random pilot) settle it."
        )


def _saved_uplift(path: Path, feature_uplift: Path | None) -> Any:
    """The model of --uplift-model: a saved UpliftModel, or a saved FeatureUplift when
    --feature-uplift gives the persona model whose probabilities it reads."""
    from journeymine.actions import FeatureUplift, UpliftModel
    from journeymine.exceptions import ConfigError
    from journeymine.service.rates import load_responses

    model = load_responses(path)
    if isinstance(model, FeatureUplift) and feature_uplift is None:
        raise ConfigError(
            f"--uplift-model {path} is a FeatureUplift: it reads each customer's persona "
            f"probabilities; also give the persona model it was fitted with: --feature-uplift "
            f"PERSONA_MODEL."
        )
    if isinstance(model, UpliftModel) and feature_uplift is not None:
        raise ConfigError(
            f"--uplift-model {path} is an UpliftModel (persona cells) and --feature-uplift fits "
            f"a FeatureUplift: give one of them (or --uplift-model with a saved FeatureUplift)."
        )
    if not isinstance(model, UpliftModel | FeatureUplift):
        raise ConfigError(
            f"--uplift-model {path} holds response rates (jm nba --responses-out), not uplift: "
            f"give a saved UpliftModel or FeatureUplift (jm nba --uplift-out FILE)."
        )
    return model


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
    arbitration: ArbitrationOpt = None,
    uplift_model: UpliftModelOpt = None,
    uplift_out: Annotated[
        Path | None,
        typer.Option(
            help="Save the fitted UpliftModel (.skops + .json card) for --uplift-model, or the "
            "FeatureUplift of --feature-uplift; either for `jm serve --responses`."
        ),
    ] = None,
    attributes: AttributesOpt = None,
    memberships: MembershipsOpt = None,
    feature_uplift: FeatureUpliftOpt = None,
    next_step_model: Annotated[
        Path | None,
        typer.Option(
            help="A saved NextStepModel (.skops with its .json card): its predictions feed the "
            "policy's next_step options (send on the predicted next channel, skip journeys "
            "whose outcome is likely anyway)."
        ),
    ] = None,
    strict: StrictPolicyOpt = False,
    *,
    read: ReadOptions,
) -> None:
    """Next best action for every customer: which journey to send now, and why not the others.

    Response rates per persona x journey are learned from the log's own touches; journeys
    not sent yet use the policy's prior_rate (a cold start: the output says so). With uplift
    arbitration the uplift (touches against holdout events) is learned instead, or loaded with
    --uplift-model; --feature-uplift MODEL fits a FeatureUplift (per-customer uplift from the
    persona model's probabilities and features) that --uplift-out saves for `jm serve
    --responses`.

    Example: jm nba data/sample/events.parquet --policy examples/policy.yaml
    --personas personas/labels.csv --out actions.csv --why-not why_not.csv
    """
    from journeymine.actions import next_best_action

    log, pol, responses, labels, attrs, soft = _policy_inputs(
        path,
        policy,
        personas,
        read,
        strict,
        outputs=[
            Output("--out", out, example="actions.csv"),
            Output("--why-not", why_not, example="why_not.csv"),
            Output("--responses-out", responses_out, example="rates.json"),
            Output("--uplift-out", uplift_out, example="uplift.skops"),
        ],
        arbitration=arbitration,
        uplift_model=uplift_model,
        attributes=attributes,
        memberships=memberships,
        feature_uplift=feature_uplift,
    )
    from journeymine.exceptions import ConfigError

    if responses_out is not None and pol.arbitration == "uplift":
        raise ConfigError(
            "--responses-out saves response rates; with uplift arbitration save the model with "
            "--uplift-out FILE.skops."
        )
    if uplift_out is not None and pol.arbitration != "uplift":
        raise ConfigError("--uplift-out needs uplift arbitration: add --arbitration uplift.")
    steps = _next_steps(next_step_model, log, pol, at)
    d = next_best_action(
        log,
        pol,
        responses,
        labels,
        at=at,
        check="off",
        attributes=attrs,
        memberships=soft,
        next_step=steps,
    )  # the policy was checked against the log above
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
    if uplift_out is not None:
        typer.echo(f"wrote {responses.save(uplift_out)} (+ .json card)")


def _next_steps(path: Path | None, log: Any, pol: Any, at: str | None) -> Any:
    """``NextStepModel.predict`` on the events before the decision time, for --next-step-model
    (``None`` without it)."""
    if path is None:
        return None
    from journeymine.exceptions import ConfigError
    from journeymine.nextstep import load_next_step_model

    if not pol.next_step_channels and pol.skip_outcome_above is None:
        raise ConfigError(
            "--next-step-model needs a policy with a next_step block (channels: {predicted "
            "channel: send channel} and/or skip_outcome_above: P); the policy has none, so the "
            "predictions would change nothing."
        )
    if not Path(path).is_file():
        raise ConfigError(f"--next-step-model {path}: no such file.")
    model = load_next_step_model(path)
    if at is not None:
        import pandas as pd

        t = pd.Timestamp(at)
        t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
        log = log[log["timestamp"] < t]
    steps = model.predict(log)
    typer.echo(f"next steps predicted for {len(steps):,} customers ({path})")
    return steps


@reads_events
def backtest(
    path: EventFileArg,
    policy: PolicyOpt,
    personas: PersonasOpt,
    out: Annotated[Path | None, typer.Option(help="CSV with one row per logged touch.")] = None,
    arbitration: ArbitrationOpt = None,
    uplift_model: UpliftModelOpt = None,
    attributes: AttributesOpt = None,
    memberships: MembershipsOpt = None,
    feature_uplift: FeatureUpliftOpt = None,
    strict: StrictPolicyOpt = False,
    *,
    read: ReadOptions,
) -> None:
    """Replay the log's touches through a policy: agreement, blocked touches by reason, and
    observed response rates where the policy agrees vs would have blocked.

    The rates are fitted as `jm nba` fits them (same options): with --feature-uplift MODEL (or
    --memberships FILE) each touch is decided with the customer's own uplift, as `jm nba` would
    decide for that customer at that time.

    Example: jm backtest data/sample/events.parquet --policy examples/policy.yaml
    --personas personas/labels.csv
    """
    from journeymine.actions import backtest as run_backtest

    log, pol, responses, labels, attrs, soft = _policy_inputs(
        path,
        policy,
        personas,
        read,
        strict,
        outputs=[Output("--out", out, example="backtest.csv")],
        arbitration=arbitration,
        uplift_model=uplift_model,
        attributes=attributes,
        memberships=memberships,
        feature_uplift=feature_uplift,
    )
    bt = run_backtest(log, pol, responses, labels, check="off", attributes=attrs, memberships=soft)
    # every gate that blocked something (they add up to "blocked"), in the engine's order
    gates = [c for c in bt.summary.columns if c.startswith("blocked_") and bt.summary[c].any()]
    cols = ["touches", "agree_share", "blocked", *gates]
    cols += ["response_rate_agree", "response_rate_blocked"]
    typer.secho("backtest (one row per journey sent; * = all):", bold=True)
    typer.echo(bt.summary[cols].round(3).to_string())
    write_csv(bt.points, out)
