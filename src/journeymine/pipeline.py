"""The end-to-end pipeline behind ``jm demo``.

Read and validate a log, mine journeys, detect changes, mine personas and track them over time,
train and save the persona model, assign held-back customers, and write the HTML reports. Every
step is seeded, so the printed numbers are the same on every run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from journeymine import schema
from journeymine.exceptions import EventLogError
from journeymine.io import read_events
from journeymine.io.atomic import atomic_path, write_text
from journeymine.schema import summarize

__all__ = ["DemoState", "check_demo_log", "run_demo"]

logger = logging.getLogger(__name__)

FUNNEL = ("visit", "view_product", "add_to_cart", "checkout", "purchase")
MIN_CHANGE_DAYS = 4
"""Days a log must span for change detection with daily bins and changes of two days or more."""
DEMO_FILES = (
    "personas.csv",
    "persona_model.skops",
    "persona_model.json",
    "assignments.csv",
    "next_best_actions.csv",
    "actions.html",
    "journeys.html",
    "changes.html",
    "personas.html",
    "summary.json",
)
"""Files :func:`run_demo` writes into its output folder."""


def span_days(log: pd.DataFrame) -> int:
    """Calendar days (UTC) from the first to the last event, both included; 0 for no events."""
    if not len(log):
        return 0
    ts = log[schema.TIMESTAMP]
    return int((ts.max().normalize() - ts.min().normalize()).days) + 1


@dataclass
class DemoState:
    """What the demo computed, step by step (returned by :func:`run_demo`)."""

    out: Path
    random_state: int = 0
    holdout_share: float = 0.1
    log: pd.DataFrame | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, Path] = field(default_factory=dict)
    objects: dict[str, Any] = field(default_factory=dict)


def _read(state: DemoState, events: Path) -> None:
    state.log = read_events(events)
    check_demo_log(state.log, events, policy=state.objects.get("policy"))
    s = summarize(state.log)
    state.summary["log"] = {
        k: s[k] for k in ("customers", "events", "activities", "channels", "start", "end")
    }


def check_demo_log(
    log: pd.DataFrame, source: str | Path = "the log", *, policy: Any = None
) -> None:
    """Refuse, before any work, a log the demo's steps cannot run on.

    The demo runs every step with the settings of the synthetic sample: changes per
    ``channel``, a ``visit`` to ``purchase`` funnel, and the sample policy (or ``policy``),
    whose touches are recognised by ``activity`` and ``journey_id``.

    Parameters
    ----------
    log : DataFrame
        Canonical event log.
    source : str or Path
        Named in the message.
    policy : Policy, optional
        The next-best-action policy of the demo (default: the sample policy).

    Raises
    ------
    EventLogError
        One message listing everything the log lacks, with the fix.
    """
    from journeymine.datasets import sample_policy

    problems = []
    missing = [c for c in (schema.CHANNEL, schema.JOURNEY_ID) if c not in log.columns]
    if missing:
        problems.append(f"no column {' or '.join(map(repr, missing))}")
    activities = set(log[schema.ACTIVITY].astype(str).unique())
    absent = [a for a in ("visit", "purchase") if a not in activities]
    if absent:
        problems.append(f"no {' or '.join(map(repr, absent))} activity (the demo's funnel)")
    days = span_days(log)
    if days < MIN_CHANGE_DAYS:
        problems.append(
            f"it spans {days} day{'s' * (days != 1)} (change detection needs at least "
            f"{MIN_CHANGE_DAYS})"
        )
    if schema.JOURNEY_ID in log.columns:
        policy = sample_policy() if policy is None else policy
        touched = schema.isin_values(
            log[schema.ACTIVITY], {j.activity for j in policy.journeys}
        ) & schema.isin_values(log[schema.JOURNEY_ID], {j.name for j in policy.journeys})
        if not touched.any():
            which = "the sample policy's" if policy == sample_policy() else "the policy's"
            problems.append(f"no touch of {which} journeys (activity + journey_id)")
    if problems:
        raise EventLogError(
            f"{source} cannot run the demo: {'; '.join(problems)}. `jm demo` runs on a sample "
            f"made by `jm generate DIR`; analyse your own log with the single commands (jm mine, "
            f"jm changes, jm report, jm personas, jm nba)."
        )


def _journeys(state: DemoState) -> None:
    from journeymine.journeys import dfg, encode, funnel, variants

    assert state.log is not None
    enc = encode(state.log)
    edges = dfg(enc)
    top = variants(enc, max_steps=4, top_k=1)
    steps = [a for a in FUNNEL if a in set(state.log[schema.ACTIVITY].cat.categories)]
    fun = funnel(state.log, steps) if len(steps) >= 2 else None
    state.summary["journeys"] = {
        "edges": len(edges),
        "top_edge": f"{edges.iloc[0]['source']} -> {edges.iloc[0]['target']}",
        "top_4_step_variant": top.iloc[0]["variant"],
        "funnel_conversion": round(float(fun["conversion"].iloc[-1]), 4)
        if fun is not None
        else None,
    }


def _changes(state: DemoState) -> None:
    from journeymine.journeys.change import detect_changes

    assert state.log is not None
    changes = detect_changes(state.log)
    state.objects["changes"] = changes
    state.summary["changes"] = [
        f"{r.metric} {r.what} on {r.channel}: {r.baseline:.3g} -> {r.changed:.3g} "
        f"from {r.start:%Y-%m-%d} to {r.end:%Y-%m-%d}"
        for r in changes.drop_duplicates("incident").itertuples()
    ]


def _split(state: DemoState) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training log and the held-back ("live") customers' log (computed once)."""
    if "split" in state.objects:
        return state.objects["split"]
    assert state.log is not None
    customers = pd.Index(state.log[schema.CUSTOMER_ID].unique())
    held = _holdout(customers, state.holdout_share, state.random_state)
    live = state.log[schema.CUSTOMER_ID].isin(held).to_numpy()
    state.objects["split"] = (state.log[~live], state.log[live])
    return state.objects["split"]


def _personas(state: DemoState) -> None:
    from journeymine.personas import PersonaMiner, track_personas

    train, _ = _split(state)
    miner = PersonaMiner(random_state=state.random_state).fit(train)
    tracks = track_personas(state.log, random_state=state.random_state)
    state.objects["miner"] = miner
    state.objects["tracks"] = tracks
    q = miner.quality_
    state.summary["personas"] = {
        "personas": int(q["n_personas"]),
        "names": [str(n) for n in miner.profiles_["name"]],
        "noise_share": round(float(q["noise_share"]), 4),
        "stability_ari": round(float(q["stability_ari"]), 4),
        "windows": len(tracks.windows),
        "lifecycle_events": len(tracks.events),
    }
    truth = state.objects.get("truth")
    if truth is not None:
        from sklearn.metrics import adjusted_rand_score

        lab = miner.labels_[miner.labels_ >= 0]
        first = truth.reindex(lab.index)
        ok = first.notna().to_numpy()
        state.summary["personas"]["ari_vs_truth"] = round(
            float(adjusted_rand_score(first[ok], lab[ok])), 4
        )
    labels = miner.labels_.rename("persona").to_frame()
    labels["name"] = labels["persona"].map(miner.profiles_["name"]).fillna("no persona")
    with atomic_path(state.out / "personas.csv") as tmp:
        labels.to_csv(tmp)
    state.artifacts["persona labels"] = state.out / "personas.csv"


def _model(state: DemoState) -> None:
    from journeymine.assignment import PersonaModel, assign_many

    train, live = _split(state)
    miner = state.objects["miner"]
    found = int(miner.quality_["n_personas"])
    if found < 2:  # nothing to tell apart: no classifier, the rest of the demo goes on
        reason = (
            f"the persona step found {found} persona(s) on {len(miner.labels_):,} customers: "
            "no assignment model to train (a longer log or more customers may show more)"
        )
        state.summary["assignment"] = {"skipped": reason}
        return
    model = PersonaModel(random_state=state.random_state).fit(
        train, miner.labels_, names=miner.profiles_["name"]
    )
    path = model.save(state.out / "persona_model.skops")
    state.objects["model"] = model
    state.artifacts["persona model"] = Path(path)
    scored = assign_many(live, model)
    with atomic_path(state.out / "assignments.csv") as tmp:
        scored.to_csv(tmp, index=False)
    state.artifacts["assignments of held-back customers"] = state.out / "assignments.csv"
    metrics = model.card_["metrics"]
    state.summary["assignment"] = {
        "held_back_customers": len(scored),
        "abstained_share": round(float(scored["abstained"].mean()), 4),
        "accuracy_by_events": {
            str(row["events"]): round(float(row["accuracy"]), 4)
            for row in metrics["by_events_seen"]
        },
        "calibration_error": round(float(metrics["ece"]), 4),
    }
    truth = state.objects.get("truth")
    if truth is not None:  # the generator's true persona, via the persona's majority
        miner = state.objects["miner"]
        lab = miner.labels_[miner.labels_ >= 0]
        majority = truth.reindex(lab.index).groupby(lab).agg(lambda v: v.mode().iloc[0])
        got = scored[~scored["abstained"]]
        right = (
            got["persona"].map(majority).to_numpy() == truth.reindex(got["customer_id"]).to_numpy()
        )
        state.summary["assignment"]["held_back_accuracy_vs_truth"] = round(float(right.mean()), 4)


def _actions(state: DemoState) -> None:
    """Next best action with the demo's policy (default: the sample policy): response rates
    per mined persona, today's decisions, and a backtest of the logged touches."""
    from journeymine.actions import ResponseModel, backtest, next_best_action
    from journeymine.datasets import sample_policy
    from journeymine.report import actions_report

    policy = state.objects.get("policy") or sample_policy()
    labels = state.objects["miner"].labels_
    responses = ResponseModel().fit(state.log, labels, policy)
    decisions = next_best_action(state.log, policy, responses, labels)
    bt = backtest(state.log, policy, responses, labels)
    path = state.out / "next_best_actions.csv"
    with atomic_path(path) as tmp:
        decisions.actions.to_csv(tmp, index=False)
    state.artifacts["next best actions"] = path
    names = state.objects["miner"].profiles_["name"].to_dict()
    state.artifacts["actions report"] = actions_report(
        bt, state.out / "actions.html", responses=responses, decisions=decisions,
        persona_names=names,
    )  # fmt: skip
    total = bt.summary.loc["*"]
    state.summary["actions"] = {
        "decided": len(decisions.actions),
        "by_action": decisions.actions["action"].fillna("(nothing)").value_counts().to_dict(),
        "backtest_touches": int(total["touches"]),
        "backtest_agree_share": round(float(total["agree_share"]), 4),
        "backtest_suppressed": int(total["blocked_suppressed"]),
        "backtest_capped": int(total["blocked_capped"]),
        "response_rate_agree": round(float(total["response_rate_agree"]), 4),
        "response_rate_blocked": round(float(total["response_rate_blocked"]), 4),
    }


def _reports(state: DemoState) -> None:
    from journeymine.report import change_report, journey_report, persona_report

    assert state.log is not None
    state.artifacts["journey report"] = journey_report(state.log, state.out / "journeys.html")
    state.artifacts["change report"] = change_report(
        state.log, state.out / "changes.html", changes=state.objects.get("changes")
    )
    if "miner" in state.objects:
        state.artifacts["persona report"] = persona_report(
            state.objects["miner"],
            state.out / "personas.html",
            tracking=state.objects.get("tracks"),
            model_card=state.objects.get("model"),
        )


def run_demo(
    data_dir: str | Path,
    out_dir: str | Path,
    echo: Callable[[str], Any] = logger.info,
    *,
    random_state: int = 0,
    show_progress: bool | None = None,
    policy: Any = None,
) -> DemoState:
    """Run every step on ``data_dir/events.parquet``, writing reports, the persona model and
    ``summary.json`` to ``out_dir``.

    ``policy`` (a :class:`~journeymine.actions.Policy` or a YAML/JSON file) is the
    next-best-action policy of the demo; default: :func:`journeymine.datasets.sample_policy`.
    CLI: ``jm demo --policy FILE``.

    Examples
    --------
    >>> import tempfile
    >>> from journeymine.datasets import make_journeys, save_journeys
    >>> with tempfile.TemporaryDirectory() as d:
    ...     _ = save_journeys(make_journeys(n_customers=300, days=60, random_state=0), d)
    ...     state = run_demo(d, d, echo=lambda s: None, show_progress=False)
    >>> state.summary["log"]["customers"] <= 300
    True
    """
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    events = data_dir / "events.parquet"
    if not events.exists():
        raise FileNotFoundError(
            f"no events.parquet in {data_dir}. Create the sample with `make sample` or "
            f"`jm generate {data_dir}`."
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    state = DemoState(out=out_dir, random_state=random_state)
    if policy is not None:
        from journeymine.actions import Policy

        state.objects["policy"] = policy if isinstance(policy, Policy) else Policy.from_file(policy)
        state.summary["policy"] = str(policy) if not isinstance(policy, Policy) else "given"
    truth_file = data_dir / "customers.parquet"
    if truth_file.exists():  # ground truth of a generated data set: used to score the demo
        truth = pd.read_parquet(truth_file, columns=["customer_id", "persona"])
        state.objects["truth"] = truth.set_index("customer_id")["persona"]
    steps: list[tuple[str, Callable[[], None]]] = [
        ("read and validate", lambda: _read(state, events)),
        ("mine journeys", lambda: _journeys(state)),
        ("detect changes", lambda: _changes(state)),
        ("mine personas", lambda: _personas(state)),
        ("train persona model", lambda: _model(state)),
        ("next best action", lambda: _actions(state)),
        ("write reports", lambda: _reports(state)),
    ]
    bar = tqdm(
        steps,
        desc="journeymine demo",
        unit="step",
        disable=not show_progress if show_progress is not None else None,
    )
    for name, step in bar:
        bar.set_postfix_str(name)
        step()
    bar.close()

    s = state.summary["log"]
    echo(
        f"log: {s['customers']:,} customers, {s['events']:,} events, {s['activities']} "
        f"activities, {s['channels']} channels, {s['start']:%Y-%m-%d} to {s['end']:%Y-%m-%d}"
    )
    j = state.summary["journeys"]
    echo(
        f"journeys: {j['edges']} directly-follows edges; most frequent {j['top_edge']}; "
        f"top 4-step variant {j['top_4_step_variant']}; visit-to-purchase funnel "
        f"{j['funnel_conversion']:.1%}"
    )
    for line in state.summary["changes"]:
        echo(f"change: {line}")
    p = state.summary["personas"]
    ari = f", ARI vs true personas {p['ari_vs_truth']:.3f}" if "ari_vs_truth" in p else ""
    echo(
        f"personas: {p['personas']} ({', '.join(p['names'])}); no persona "
        f"{p['noise_share']:.1%}; stability ARI {p['stability_ari']:.3f}{ari}; "
        f"{p['windows']} windows, {p['lifecycle_events']} births/deaths/splits/merges"
    )
    a = state.summary["assignment"]
    acc = ", ".join(f"{k} events {v:.1%}" for k, v in (a.get("accuracy_by_events") or {}).items())
    echo(
        f"assignment skipped: {a['skipped']}"
        if "skipped" in a
        else f"assignment: {a['held_back_customers']} held-back customers scored, "
        f"{a['abstained_share']:.1%} abstained; accuracy by events seen: {acc}; "
        f"calibration error {a['calibration_error']:.3f}"
        + (
            f"; held-back customers matching their true persona "
            f"{a['held_back_accuracy_vs_truth']:.1%}"
            if "held_back_accuracy_vs_truth" in a
            else ""
        )
    )
    n = state.summary["actions"]
    top = ", ".join(f"{k} {v:,}" for k, v in list(n["by_action"].items())[:3])
    echo(
        f"next best action: {n['decided']:,} customers ({top}, ...); backtest of "
        f"{n['backtest_touches']:,} logged touches: policy agrees with "
        f"{n['backtest_agree_share']:.1%}, would suppress {n['backtest_suppressed']} "
        f"(returned products), cap {n['backtest_capped']}; observed response "
        f"{n['response_rate_agree']:.1%} where it agrees vs {n['response_rate_blocked']:.1%} "
        f"where it would not send"
    )
    path = out_dir / "summary.json"
    write_text(path, json.dumps(state.summary, indent=2, default=str))
    state.artifacts["summary"] = path
    for what, p in state.artifacts.items():
        echo(f"{what}: {p}")
    return state


def _holdout(customers: pd.Index, share: float, random_state: int) -> np.ndarray:
    """Customers held back from training, chosen with a seeded generator."""
    rng = np.random.default_rng(random_state)
    return np.sort(
        rng.choice(customers.to_numpy(), size=max(1, int(len(customers) * share)), replace=False)
    )
