"""``jm personas``: mine personas, track them over time windows, write their report (see
:mod:`journeymine.cli`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from journeymine.cli_paths import Output, check_outputs
from journeymine.cli_read import ReadOptions, read_customer_table, reads_events
from journeymine.cli_show import EVENTS, EventFileArg, show, write_csv
from journeymine.cli_values import check_choice

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["personas"]


def _check_incomplete(value: str) -> str:
    return check_choice(value, ("drop", "keep"), "a way to handle incomplete windows")


def _check_smoothing(value: str) -> str:
    return check_choice(value, ("hmm", "margin"), "a way to tie a customer's windows together")


def _check_recall(value: float) -> float:
    if not 0 < value <= 1:
        raise typer.BadParameter(
            f"expects a share of the movers in (0, 1], got {value:g}; e.g. --movers-recall 0.9."
        )
    return value


def _check_min_events(value: str) -> str:
    if value == "auto" or (value.isdigit() and int(value) >= 1):
        return value
    raise typer.BadParameter(
        f"expects auto or a whole number of events >= 1, got {value!r}; e.g. --min-events 3."
    )


def _echo_overlapping_counts(miner: Any) -> None:
    """Larger persona counts the scan turned down for overlap alone: say how to force one."""
    from journeymine.personas.mixture import overlapping_counts

    if getattr(miner, "method", None) != "mixture":
        return
    limit = miner.max_overlap
    for k, ov, jac in overlapping_counts(miner.search_, limit)[:1]:
        typer.echo(
            f"{k} personas were reproducible (Jaccard {jac:.2f}) but two overlapped by "
            f"{ov:.1%} on held-out customers (limit {limit:.1%}, --max-overlap); "
            f"--n-personas {k} forces them."
        )


def _echo_hard_pairs(tracks: Any, top: int = 3) -> None:
    """The persona pairs one window tells apart least well (``tracks.confusion()``): moves
    between them are the least certain."""
    from journeymine.report.persona_tracking import describe_hard_pairs, hard_pairs

    pairs = hard_pairs(tracks, top)
    if pairs:
        typer.echo(
            "Personas a window tells apart least well (moves between them are the least "
            "certain): " + describe_hard_pairs(pairs, tracks.names.iloc[-1]) + "."
        )


def _validity(
    log: pd.DataFrame, miner: Any, outcome: str, cutoff: str, attributes: pd.DataFrame | None
) -> Any:
    """The check of --validity-outcome, honest: the personas the report shows were mined on the
    whole log, outcome window included, so the check mines them again with the same settings on
    the events before the cutoff only and scores their soft memberships."""
    from sklearn.base import clone

    from journeymine.exceptions import ConfigError, JourneymineError
    from journeymine.personas import persona_validity
    from journeymine.schema import TIMESTAMP, to_timestamp

    t = to_timestamp(cutoff, "--validity-cutoff")
    history = log[log[TIMESTAMP] < t]
    if history.empty:
        raise ConfigError(
            f"--validity-cutoff {cutoff}: no event before it (the log starts "
            f"{log[TIMESTAMP].min():%Y-%m-%d}); give a date inside the log, e.g. two thirds "
            f"of the way through."
        )
    try:
        before = clone(miner).fit(history)
    except JourneymineError as exc:
        raise ConfigError(
            f"--validity-cutoff {cutoff}: the {len(history):,} events before it cannot be mined "
            f"for the check's personas ({exc}); give a later cutoff or a lower --min-events."
        ) from exc
    typer.echo(
        f"\nvalidity: personas mined again on the {len(history):,} events before {cutoff} "
        f"({int(before.quality_['n_personas'])} personas; the ones above have seen the "
        f"outcome's window), scored by their memberships"
    )
    _, _, memberships = before.membership(before.features_)
    return persona_validity(
        log, memberships, outcome=outcome, cutoff=cutoff, attributes=attributes, miner=before
    )


@reads_events
def personas(
    path: EventFileArg,
    out: Annotated[Path, typer.Option(help="Folder for labels, profiles and tracking.")] = Path(
        "personas"
    ),
    windows: Annotated[
        str | None,
        typer.Option(
            help="Also track personas over windows: auto (the most equal windows that still "
            "hold the whole log's personas, said in the log), or e.g. 60D or MS."
        ),
    ] = None,
    incomplete: Annotated[
        str,
        typer.Option(
            callback=_check_incomplete,
            help="Windows ending after the last day of the log: drop them (their events are "
            "not used) or keep them, cut at that day (a shorter last window).",
        ),
    ] = "drop",
    smoothing: Annotated[
        str,
        typer.Option(
            callback=_check_smoothing,
            help="With --windows: hmm (a customer's persona is a hidden state over the "
            "windows, its migration learnt from the log; prints the expected share of movers) "
            "or margin (a customer moves when the new persona is 0.5 more probable).",
        ),
    ] = "hmm",
    refine: Annotated[
        bool,
        typer.Option(
            help="With --windows and --smoothing hmm: smooth the windows again with evidence "
            "from a classifier trained on the first pass's labels (finds more of the persona "
            "changes and reports more moves; about a third more time).",
        ),
    ] = False,
    movers_recall: Annotated[
        float,
        typer.Option(
            callback=_check_recall,
            help="With --windows and --smoothing hmm: movers.csv lists, per pair of windows, "
            "the fewest customers expected to hold this share of the customers who changed "
            "persona (more finds more of them, at a lower precision).",
        ),
    ] = 0.95,
    min_events: Annotated[
        str,
        typer.Option(
            callback=_check_min_events,
            help="Customers with fewer events: -1. auto: 10, or the median customer's count "
            "where the log's cases are shorter (at least 3); 3 where that leaves one persona.",
        ),
    ] = "auto",
    n_personas: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Fix the number of personas instead of the largest count that stays "
            "separable on held-out customers.",
        ),
    ] = None,
    max_overlap: Annotated[
        float | None,
        typer.Option(
            min=0.001,
            max=0.49,
            help="Largest overlap of two personas on held-out customers (share of one "
            "persona's customers explained by the other) for a persona count to be chosen. "
            "Default: PersonaMiner's (0.03).",
        ),
    ] = None,
    random_state: Annotated[int, typer.Option(help="Seed.")] = 0,
    report: Annotated[
        Path | None,
        typer.Option(
            help="Also write the persona report (self-contained HTML: profiles, and with "
            "--windows sizes over time and migration), e.g. personas.html."
        ),
    ] = None,
    k: Annotated[
        int, typer.Option(min=1, help="Report: hide groups of fewer than k customers.")
    ] = 10,
    validity_outcome: Annotated[
        str | None,
        typer.Option(
            help="Report: also check whether the personas predict this outcome after "
            "--validity-cutoff, against recency/frequency/value, e.g. activity:purchase or "
            "churn (see journeymine.persona_validity).",
        ),
    ] = None,
    validity_cutoff: Annotated[
        str | None,
        typer.Option(
            metavar="DATE",
            help="Report: the cutoff of the validity check, e.g. 2025-03-01 (events before it "
            "are the history, the outcome comes from the events after it).",
        ),
    ] = None,
    validity_attributes: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            metavar="FILE",
            help="Report: also compare the personas with these customer attributes (e.g. "
            "demographics; CSV or Parquet with a customer_id column, one row per customer); "
            "needs --validity-outcome.",
        ),
    ] = None,
    *,
    read: ReadOptions,
) -> None:
    """Mine behavioural personas (a Gaussian mixture); optionally track them over windows.

    Writes labels.csv (customer_id, persona, name; -1 = no persona), profiles.csv and, with
    --windows, persona_sizes.csv, persona_events.csv, migration.csv and movers.csv (per pair of
    windows, the customers most likely to have changed persona: --movers-recall of the expected
    movers, with --smoothing hmm); with --report, the
    persona report (with --validity-outcome and --validity-cutoff, it also says whether the
    personas predict that outcome better than recency/frequency/value).

    Example: jm personas data/sample/events.parquet --out personas --windows auto
    --report personas/personas.html
    """
    from journeymine.exceptions import ConfigError
    from journeymine.personas import PersonaMiner, track_personas
    from journeymine.personas.miner_inputs import lower_min_events

    if (validity_outcome is None) != (validity_cutoff is None):
        raise ConfigError(
            "--validity-outcome and --validity-cutoff go together: give both, e.g. "
            "--validity-outcome activity:purchase --validity-cutoff 2025-03-01."
        )
    if validity_attributes is not None and validity_outcome is None:
        raise ConfigError(
            "--validity-attributes compares the personas with your attributes in the validity "
            "check: also give --validity-outcome and --validity-cutoff."
        )
    if validity_outcome is not None and report is None:
        raise ConfigError(
            "--validity-outcome adds a section to the persona report: also give --report, "
            "e.g. --report personas.html."
        )
    if refine and (windows is None or smoothing != "hmm"):
        raise ConfigError(
            "--refine is a second pass of the hidden-state model over the windows: give "
            "--windows (e.g. --windows 90D) and keep --smoothing hmm, or drop --refine."
        )
    tracked = ("persona_sizes.csv", "persona_events.csv", "migration.csv", "movers.csv")
    inside = ("labels.csv", "profiles.csv", *(tracked if windows else ()))
    check_outputs(
        [
            Output("--out", out, folder=True, inside=inside),
            Output("--report", report, example="personas.html"),
        ],
        {EVENTS: path},
    )
    attributes = (  # read before any work: a bad file fails fast
        None
        if validity_attributes is None
        else read_customer_table(validity_attributes, "--validity-attributes", "attributes")
    )
    log = read.load(path)
    miner = PersonaMiner(
        min_events=min_events if min_events == "auto" else int(min_events),
        n_personas=n_personas,
        max_overlap=PersonaMiner.max_overlap if max_overlap is None else max_overlap,
        random_state=random_state,
    ).fit(log)
    tracks = (
        track_personas(
            log,
            windows=windows,
            miner=(
                PersonaMiner(n_personas=n_personas, max_overlap=miner.max_overlap)
                if n_personas or max_overlap is not None
                else None
            ),
            min_events=miner.min_events_,
            random_state=random_state,
            incomplete=incomplete,
            smoothing=smoothing,
            refine=refine,
        )
        if windows
        else None
    )
    out.mkdir(parents=True, exist_ok=True)
    profiles = miner.profiles_
    labels = miner.labels_.rename("persona").to_frame()
    labels["name"] = labels["persona"].map(profiles["name"]).fillna("no persona")
    write_csv(labels, out / "labels.csv", index=True, quiet=True)
    plain = [c for c in profiles.columns if profiles[c].dtype == object and c != "name"]
    write_csv(profiles.drop(columns=plain), out / "profiles.csv", index=True, quiet=True)
    q = miner.quality_
    tail = ""
    if math.isfinite(getattr(miner, "tail_dof_", math.inf)):
        tail = f", beyond their persona's tail (a t law, {miner.tail_dof_:.0f} degrees of freedom)"
    typer.secho(
        f"{q['n_personas']} persona{'s' * (q['n_personas'] != 1)} among "
        f"{q['n_customers']:,} customers "
        f"(no persona {q['noise_share']:.1%} of eligible{tail}; stability ARI "
        f"{q['stability_ari']:.3f})",
        bold=True,
    )
    if q["n_customers"] and q["n_eligible"] < q["n_customers"] / 2:
        typer.secho(
            f"Only {q['n_eligible']:,} of {q['n_customers']:,} customers have at least "
            f"--min-events {miner.min_events_} events; the others get no persona. For short "
            f"cases (a few events each) lower it, e.g. --min-events "
            f"{lower_min_events(miner.min_events_)}.",
            fg="yellow",
        )
    show(profiles[["name", "size", "share"]].reset_index(), 30)
    if n_personas is None:
        _echo_overlapping_counts(miner)
    listed: list[pd.DataFrame] = []  # per pair of windows, the movers list (hmm only)
    if tracks is not None:
        write_csv(tracks.sizes, out / "persona_sizes.csv", index=True, quiet=True)
        write_csv(tracks.events, out / "persona_events.csv", quiet=True)
        write_csv(tracks.migration, out / "migration.csv", quiet=True)
        if tracks.move_probability is not None:
            import pandas as pd

            # per pair of windows, the customers expected to hold --movers-recall of the movers
            listed = [tracks.movers(w, recall=movers_recall) for w in range(1, len(tracks.windows))]
            movers = [
                m.reset_index().assign(window=tracks.windows["start"][w + 1])
                for w, m in enumerate(listed)
            ]
            write_csv(
                pd.concat(movers, ignore_index=True)
                if movers
                else pd.DataFrame(columns=["customer_id", "move_probability", "window"]),
                out / "movers.csv",
                quiet=True,
            )
        n_windows = len(tracks.windows)
        typer.secho(f"\nTracked over {n_windows} window{'' if n_windows == 1 else 's'}:", bold=True)
        show(tracks.events, 30)
        for r in tracks.movement().itertuples():
            typer.echo(
                f"{r.from_window:%Y-%m-%d} -> {r.to_window:%Y-%m-%d}: {r.moved_share:.1%} of "
                f"{r.customers:,} customers with a persona in both windows changed persona; "
                f"{r.confident_moved_share:.1%} of the {r.confident:,} with a persona "
                f"probability of at least 0.9 in both"
                + (
                    ""
                    if r.expected_moved_share != r.expected_moved_share  # NaN: no move model
                    else f"; expected share of movers {r.expected_moved_share:.1%}"
                )
            )
        if tracks.move_probability is not None:
            _echo_hard_pairs(tracks)
        for w, m in enumerate(listed):
            pair = (
                f"movers.csv, {tracks.windows['start'][w]:%Y-%m-%d} -> "
                f"{tracks.windows['start'][w + 1]:%Y-%m-%d}: "
            )
            if m.empty:  # nobody with a persona in both windows, or nobody likely to move
                lab = tracks.labels.iloc[:, [w, w + 1]]
                if not ((lab >= 0).sum(axis=1) == 2).any():
                    typer.echo(
                        pair + "nobody listed: no customer has a persona in both windows (the "
                        "customers' histories are shorter than the windows), so the windows "
                        "show how the persona mix changed (persona_sizes.csv), not who moved"
                    )
                else:
                    typer.echo(pair + "nobody listed: no customer is expected to have moved")
                continue
            typer.echo(
                pair + f"{len(m):,} customers expected to "
                f"hold {m.attrs['expected_recall']:.0%} of the "
                f"{m.attrs['expected_movers']:,.0f} expected movers (expected precision "
                f"{m.attrs['expected_precision']:.0%}; --movers-recall {movers_recall:g})"
            )
    typer.echo(f"\nwrote {out}")
    if report is not None:
        from journeymine.report import persona_report

        validity = (
            None
            if validity_outcome is None or validity_cutoff is None
            else _validity(log, miner, validity_outcome, validity_cutoff, attributes)
        )
        if validity is not None:
            typer.secho("\nDo these personas mean something?", bold=True)
            typer.echo(validity.summary())
        written = persona_report(
            miner,
            report,
            tracking=tracks,
            validity=validity,
            k=k,
            movers_recall=movers_recall,
        )
        typer.echo(f"wrote {written}")
