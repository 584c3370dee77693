"""Report builders: a complete self-contained HTML file with computed key findings.

* :func:`journey_report`: process map, most common journeys, paths, funnel, channel switches.
* :func:`persona_report`: persona profiles, sizes over time, migration, assignment model card.
* :func:`change_report`: what changed, where, when, how sure (change detection timeline).

All respect the minimum group size ``k``: anything supported by fewer than ``k`` customers is
removed from figures and tables, and the report says how much was hidden.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from journeymine.exceptions import ConfigError
from journeymine.report._common import (
    DEFAULT_K,
    check_k,
    check_log,
    check_positive_int,
    format_duration,
    format_share,
)
from journeymine.report.change import (
    _is_rate,
    change_incidents_data,
    change_timeline_data,
    change_timeline_figure,
    describe_change,
    metric_label,
)
from journeymine.report.html import Section, write_html
from journeymine.report.journeys import (
    VARIANT_SEP,
    channel_switch_data,
    channel_switch_figure,
    funnel_data,
    funnel_figure,
    paths_data,
    paths_figure,
    variants_data,
    variants_figure,
)
from journeymine.report.model_card import model_card_data, model_card_figure
from journeymine.report.personas import (
    persona_migration_data,
    persona_migration_figure,
    persona_profile_data,
    persona_profile_figure,
    persona_sizes_data,
    persona_sizes_figure,
    persona_validity_findings,
    persona_validity_tables,
)
from journeymine.report.process_map import process_map_data, process_map_figure
from journeymine.schema import CHANNEL, CUSTOMER_ID, TIMESTAMP

if TYPE_CHECKING:
    from journeymine.personas.validity import PersonaValidity

__all__ = ["actions_report", "change_report", "journey_report", "persona_report"]

logger = logging.getLogger(__name__)


def _arrow(variant: str) -> str:
    return " → ".join(str(variant).split(VARIANT_SEP))


def _period(log: pd.DataFrame) -> str:
    lo, hi = log[TIMESTAMP].min(), log[TIMESTAMP].max()
    return f"{lo:%Y-%m-%d} to {hi:%Y-%m-%d}"


def _first_channels(log: pd.DataFrame) -> pd.Series:
    """Channel of each customer's first event (earliest timestamp, ties in input order)."""
    cust, _ = pd.factorize(log[CUSTOMER_ID], sort=False)
    ts = log[TIMESTAMP].to_numpy(dtype="datetime64[us]").view("int64")
    order = np.lexsort((ts, cust))
    first = order[np.concatenate(([True], cust[order][1:] != cust[order][:-1]))]
    return log[CHANNEL].iloc[first].astype(str)


_NO_PERSONA_NAME = "no persona"


def _persona_labels(
    log: pd.DataFrame,
    personas: pd.Series | Mapping[str, Any],
    names: Mapping[Any, str] | None,
) -> pd.Series:
    """Readable persona label of every customer of the log ("no persona" for -1 / missing)."""
    raw = personas if isinstance(personas, pd.Series) else pd.Series(dict(personas))
    if not isinstance(raw, pd.Series):
        raise ConfigError("personas must be a Series or mapping customer_id -> persona label.")
    raw = raw.copy()
    raw.index = raw.index.astype(str)
    customers = pd.Index(log[CUSTOMER_ID].unique()).astype(str)
    missing = int((~customers.isin(raw.index)).sum())
    if missing == len(customers):
        raise ConfigError(
            "personas= labels none of the log's customers: its index must be customer_id "
            "(e.g. PersonaMiner().fit(log).labels_)."
        )
    if missing:
        logger.info("%d customers have no persona label; shown as %r", missing, _NO_PERSONA_NAME)
    lab = raw.reindex(customers)

    def name(v: Any) -> str:
        if v is None or (isinstance(v, float) and np.isnan(v)) or v == -1 or v == "-1":
            return _NO_PERSONA_NAME
        if names and v in names:
            return f"{v}: {names[v]}"
        return str(v)

    return pd.Series([name(v) for v in lab], index=customers, name="persona")


def _segment_labels(log: pd.DataFrame, by: str) -> pd.Series:
    """Each customer's value of column ``by`` on their first event (as text)."""
    from journeymine.exceptions import did_you_mean

    if not isinstance(by, str) or by not in log.columns or by in (CUSTOMER_ID, TIMESTAMP):
        usable = [c for c in log.columns if c not in (CUSTOMER_ID, TIMESTAMP)]
        raise ConfigError(
            f"by={by!r} is not a column of the log.{did_you_mean(str(by), usable)} "
            f"Columns: {usable}."
        )
    first = (
        log[[CUSTOMER_ID, TIMESTAMP, by]]
        .sort_values([CUSTOMER_ID, TIMESTAMP], kind="stable")
        .drop_duplicates(CUSTOMER_ID)
        .set_index(CUSTOMER_ID)[by]
    )
    labels = first.astype(object).where(first.notna(), "(none)").astype(str)
    labels.index = labels.index.astype(str)
    return labels.rename(by)


def _main_path(graph: pd.DataFrame, first: str, length: int) -> list[str]:
    """Greedy most common path: from ``first``, follow the most frequent edge to an activity
    not yet on the path."""
    path = [first]
    edges = graph.assign(source=graph["source"].astype(str), target=graph["target"].astype(str))
    while len(path) < length:
        nxt = edges[(edges["source"] == path[-1]) & ~edges["target"].isin(path)]
        if nxt.empty:
            break
        path.append(
            str(
                nxt.sort_values(["count", "target"], ascending=[False, True], kind="stable")[
                    "target"
                ].iloc[0]
            )
        )
    return path


def journey_report(
    log: pd.DataFrame,
    path: str | Path,
    *,
    k: int = DEFAULT_K,
    top_k: int = 25,
    max_steps: int = 6,
    funnel_steps: Sequence[str] | None = None,
    paths_from: str | None = None,
    personas: pd.Series | Mapping[str, Any] | None = None,
    persona_names: Mapping[Any, str] | None = None,
    by: str | None = None,
    title: str = "Customer journeys",
) -> Path:
    """Write a self-contained HTML report of the customer journeys in a log.

    Sections: process map (top ``top_k`` transitions), most common journeys (first
    ``max_steps`` steps), paths after an activity (Sankey), funnel, channel switches. The key
    findings at the top are computed from the same data.

    Parameters
    ----------
    log : DataFrame
        Canonical event log (``jm.validate``).
    path : str or Path
        Output ``.html`` file.
    k : int, default 10
        Minimum group size: journeys, paths, map edges and table rows supported by fewer than
        ``k`` customers are removed; the report says how many.
    top_k : int, default 25
        Transitions drawn in the process map.
    max_steps : int, default 6
        Journeys are compared on their first ``max_steps`` steps, or fewer: the longest
        prefix whose 15 most common journeys cover at least 25% of customers.
    funnel_steps : sequence of str, optional
        Funnel steps; default: the most common path from the most common first activity.
    personas : Series or mapping customer_id -> persona label, optional
        E.g. ``PersonaMiner().fit(log).labels_``: adds the funnel per persona and a process
        map for each of the (up to four) largest personas; ``-1`` means no persona.
    persona_names : mapping label -> name, optional
        Readable persona names for the figures.
    paths_from : str, optional
        Activity whose following paths are drawn; default: the first funnel step.
    by : str, optional
        A column of the log that segments customers (e.g. ``"segment"`` or ``"channel"``):
        like ``personas``, adds the funnel per segment and a process map for each of the (up
        to four) largest segments. A customer's segment is the column's value on their first
        event. Not together with ``personas``. CLI: ``jm report --by COLUMN``.
    title : str, default "Customer journeys"

    Returns
    -------
    Path

    Examples
    --------
    >>> import tempfile, journeymine as jm
    >>> log = jm.validate(jm.datasets.make_journeys(n_customers=200, days=60,
    ...                                             random_state=0).events)
    >>> out = jm.journey_report(log, tempfile.mkdtemp() + "/journeys.html")
    >>> out.read_text(encoding="utf-8").count("data-figure=") >= 4
    True
    """
    from journeymine.journeys import dfg, start_activities

    k = check_k(k)
    top_k = int(check_positive_int("top_k", top_k) or top_k)
    max_steps = int(check_positive_int("max_steps", max_steps) or max_steps)
    log = check_log(log, purpose="journey_report")
    n_customers = int(log[CUSTOMER_ID].nunique())
    if by is not None and personas is not None:
        raise ConfigError("give personas= or by=, not both: the report segments one way.")
    labels = _persona_labels(log, personas, persona_names) if personas is not None else None
    group = "persona"
    if by is not None:
        labels, group = _segment_labels(log, by), str(by)
    summary: list[str] = []
    sections: list[Section] = []
    hidden_total: dict[str, int] = {}

    channels = CHANNEL in log.columns
    summary.append(
        f"{n_customers:,} customers and {len(log):,} events from {_period(log)}"
        + (f" on {log[CHANNEL].nunique()} channels." if channels else ".")
    )
    if channels:
        start_ch = _first_channels(log).value_counts(normalize=True)
        summary.append(
            f"{format_share(start_ch.iloc[0])} of customers start on "
            f"{start_ch.index[0]}"
            + (
                f", {format_share(start_ch.iloc[1])} on {start_ch.index[1]}."
                if len(start_ch) > 1
                else "."
            )
        )

    # process map
    pm = process_map_data(log, top_k=top_k, k=k)
    hidden_total["process map edges"] = int(pm.attrs.get("hidden_edges", 0))
    edges = pm[pm["kind"] == "edge"]
    notes = [
        f"Edges taken by fewer than {k} customers are hidden: "
        f"{pm.attrs.get('hidden_edges', 0)}; {pm.attrs.get('beyond_top_k', 0)} less "
        f"frequent edges are beyond the top {top_k}."
    ]
    if len(edges):
        top_edge = edges.iloc[0]
        summary.append(
            f"The most frequent step is {top_edge['source']} → {top_edge['target']} "
            f"({int(top_edge['count']):,} times by {int(top_edge['cases']):,} customers, median "
            f"{format_duration(top_edge['median_seconds'])})."
        )
        frequent = edges[edges["count"] >= edges["count"].quantile(0.5)]
        slow = frequent.sort_values("median_seconds", ascending=False, kind="stable").iloc[0]
        summary.append(
            f"The slowest frequent step is {slow['source']} → {slow['target']} (median "
            f"{format_duration(slow['median_seconds'])})."
        )
    sections.append(
        Section(
            "How customers move",
            [process_map_figure(pm)],
            text="How customers move from one activity to the next. Boxes are activities (with "
            "their number of events); arrows are direct transitions, thicker when more "
            "frequent and coloured by the median time between the two steps.",
            notes=notes,
        )
    )

    # variants: the longest prefix (<= max_steps) whose shown journeys cover >= 25% of customers
    for steps_try in range(max_steps, 1, -1):
        var = variants_data(log, max_steps=steps_try, top_k=15, k=k)
        if float(var["share"].sum()) >= 0.25:
            break
    max_steps = int(var.attrs["max_steps"])
    hidden_total["journeys"] = int(var.attrs.get("hidden", 0))
    if len(var):
        v0 = var.iloc[0]
        summary.append(
            f"The most common journey (first {max_steps} steps) is "
            f"{_arrow(v0['variant'])} ({format_share(v0['share'])} of customers)."
        )
    covered = float(var["share"].sum()) if len(var) else 0.0
    sections.append(
        Section(
            "How journeys begin",
            [variants_figure(var)],
            text=f"Each customer's first {max_steps} steps, grouped. The {len(var)} journeys shown "
            f"cover {format_share(covered)} of customers.",
            notes=[
                f"{var.attrs.get('hidden', 0):,} journeys followed by fewer than {k} customers "
                f"({var.attrs.get('hidden_customers', 0):,} customers in total) are not shown."
            ],
        )
    )

    # funnel
    graph = dfg(log)
    if funnel_steps is None:
        starts = start_activities(log)
        begin = str(starts.sort_values("count", ascending=False, kind="stable")["activity"].iloc[0])
        funnel_steps = _main_path(graph, begin, 5)
        funnel_text = (
            "Customers reaching each step of the most common path, in order (each "
            "step after the previous one)."
        )
    else:
        funnel_steps = list(funnel_steps)
        funnel_text = "Customers reaching each step, in order (each step after the previous one)."
    if len(funnel_steps) >= 2:
        fun = funnel_data(log, funnel_steps, k=k)
        hidden_total["funnel steps"] = int(fun.attrs.get("hidden", 0))
        if len(fun) >= 2:
            worst = (
                fun.iloc[1:].sort_values("step_conversion", ascending=True, kind="stable").iloc[0]
            )
            prev = fun[fun["step"] == worst["step"] - 1]["activity"].iloc[0]
            last = fun.iloc[-1]
            summary.append(
                f"{format_share(last['conversion'])} of customers who {fun.iloc[0]['activity']}"
                f" go on to {last['activity']}; the largest drop-off is between {prev} and "
                f"{worst['activity']} ({format_share(1 - worst['step_conversion'])} lost)."
            )
        figs = [funnel_figure(fun)]
        if labels is not None:
            by_p = funnel_data(log, funnel_steps, by=labels, k=k)
            hidden_total["funnel steps"] += int(by_p.attrs.get("hidden", 0))
            figs.append(funnel_figure(by_p, title=f"Funnel by {group}"))
        sections.append(Section("Where customers drop off", figs, text=funnel_text))
        if paths_from is None:
            paths_from = funnel_steps[0]

    # paths
    if paths_from is not None:
        pth = paths_data(log, paths_from, direction="after", max_steps=3, k=k, top_k=8)
        hidden_total["path links"] = int(pth.attrs.get("hidden", 0))
        step1 = pth[pth["step"] == 1].sort_values("cases", ascending=False, kind="stable")
        if len(step1):
            tot = int(step1["cases"].sum())
            summary.append(
                f"After {paths_from}, the most common next step is {step1['target'].iloc[0]} "
                f"({int(step1['cases'].iloc[0]):,} of {tot:,} customers shown)."
            )
        sections.append(
            Section(
                f"What customers do after {paths_from}",
                [paths_figure(pth)],
                text=f"What customers do in the three steps after they first {paths_from}.",
                notes=[
                    f"{pth.attrs.get('hidden', 0)} links taken by fewer than {k} customers are "
                    f"hidden."
                ],
            )
        )

    # one process map per large persona
    if labels is not None:
        sizes = labels[labels != _NO_PERSONA_NAME].value_counts()
        sizes = sizes[sizes >= k].head(4)
        maps = []
        for name in sizes.index:
            pm_p = process_map_data(
                log, top_k=15, k=k, personas=labels, persona=name, start_end=True
            )
            hidden_total["process map edges"] += int(pm_p.attrs.get("hidden_edges", 0))
            maps.append(process_map_figure(pm_p, title=f"Process map: {name}"))
        if maps:
            sections.append(
                Section(
                    f"How each {group} moves",
                    maps,
                    text="The 15 most frequent transitions of the customers of each of the "
                    f"{len(maps)} largest {group} groups."
                    if by is not None
                    else "The 15 most frequent transitions of the customers of each of the "
                    f"{len(maps)} largest personas.",
                )
            )

    # channel switches
    if channels:
        sw = channel_switch_data(log, k=k)
        hidden_total["channel cells"] = int(sw.attrs.get("hidden", 0))
        if len(sw):
            same = sw[sw["from_channel"].astype(str) == sw["to_channel"].astype(str)]
            stay = float(same["count"].sum() / sw["count"].sum()) if sw["count"].sum() else 0.0
            diff = sw[sw["from_channel"].astype(str) != sw["to_channel"].astype(str)]
            text = f"{format_share(stay)} of consecutive events stay on the same channel"
            if len(diff):
                d0 = diff.sort_values("count", ascending=False, kind="stable").iloc[0]
                text += (
                    f"; the most common switch is {d0['from_channel']} → "
                    f"{d0['to_channel']} ({int(d0['count']):,} times)"
                )
            summary.append(text + ".")
        sections.append(
            Section(
                "How customers switch channels",
                [channel_switch_figure(sw)],
                text="For each channel (row), where the customer's next event happens (column).",
            )
        )

    hidden_txt = ", ".join(f"{v:,} {name}" for name, v in hidden_total.items() if v)
    summary.append(
        f"Privacy: groups of fewer than {k} customers are not shown"
        + (f" ({hidden_txt} hidden)." if hidden_txt else " (none had to be hidden).")
    )
    return write_html(
        path, title, sections, summary, subtitle=f"{n_customers:,} customers · {_period(log)}"
    )


# ---------------------------------------------------------------- personas
def _profiles_of(profiles: Any) -> Any:
    return getattr(profiles, "profiles_", profiles)


def persona_report(
    profiles: Any,
    path: str | Path,
    *,
    tracking: Any = None,
    model_card: Any = None,
    validity: PersonaValidity | None = None,
    k: int = DEFAULT_K,
    title: str = "Customer personas",
) -> Path:
    """Write a self-contained HTML report on personas.

    Parameters
    ----------
    profiles : PersonaMiner or profiles DataFrame
        A fitted miner (its ``profiles_``, ``features_`` and ``labels_``), the output of
        ``persona_profiles`` or a long frame with ``persona, name, size, feature, effect``.
    path : str or Path
        Output ``.html`` file.
    tracking : track_personas result, optional
        Adds persona sizes over time and the migration Sankey.
    model_card : PersonaModel or mapping, optional
        A fitted assignment model (its ``card_``) or a model card mapping
        (``accuracy_by_events`` / ``by_events_seen``, ``calibration`` / ``reliability``).
    validity : PersonaValidity, optional
        A :func:`journeymine.persona_validity` result: adds the section "Do these personas
        mean something?" (AUC of personas, recency/frequency/value and both, the AUC the
        personas add, and the outcome rate and lift of each persona).
    k : int, default 10
        Personas, migration links and cells with fewer than ``k`` customers are hidden.
    title : str, default "Customer personas"

    Returns
    -------
    Path
    """
    k = check_k(k)
    prof = persona_profile_data(profiles, k=k)
    summary: list[str] = []
    sections: list[Section] = []
    meta = prof.drop_duplicates("persona").set_index("persona")[["name", "size"]]
    total = int(meta["size"].sum())
    if len(meta):
        big = meta.sort_values("size", ascending=False, kind="stable").iloc[0]
        summary.append(
            f"{len(meta)} personas; the largest is {big['name']} "
            f"({format_share(big['size'] / total)} of assigned customers)."
        )
    for p, g in prof.dropna(subset=["effect"]).groupby("persona", sort=True):
        top = g.loc[g["effect"].abs().idxmax()]
        direction = "more" if top["effect"] > 0 else "less"
        summary.append(
            f"{meta.loc[p, 'name']}: {str(top['feature']).replace('_', ' ')} "
            f"{abs(top['effect']):.1f} SD {direction} than other customers."
        )
    table = meta.reset_index().rename(columns={"size": "customers"})
    table["share"] = [format_share(s / total) if total else "" for s in table["customers"]]
    full = _profiles_of(profiles)
    if isinstance(full, pd.DataFrame) and "main_channels" in full.columns:
        channels = full["main_channels"].to_dict()
        table["main channels"] = [
            ", ".join(f"{c} {format_share(v)}" for c, v in (channels.get(p) or [])[:3])
            for p in table["persona"]
        ]
    sections.append(
        Section(
            "Persona profiles",
            [persona_profile_figure(prof)],
            text="Each persona's most distinguishing behaviour, as standardised differences from "
            "all other customers.",
            table=table,
            notes=[
                f"{prof.attrs['hidden']} personas with fewer than {k} customers hidden."
                if prof.attrs.get("hidden")
                else f"Every persona has at least {k} customers; none is hidden."
            ],
        )
    )
    if tracking is not None:
        sizes = persona_sizes_data(tracking, k=k)
        mig = persona_migration_data(tracking, k=k)
        lifecycle = _lifecycle_table(tracking)
        if lifecycle is not None and len(lifecycle):
            counts = lifecycle["event"].value_counts()
            summary.append(
                "Persona lifecycle: "
                + ", ".join(f"{int(n)} {ev}{'s' * (n > 1)}" for ev, n in counts.items())
                + "."
            )
        sections.append(
            Section(
                "Persona sizes over time",
                [persona_sizes_figure(sizes)],
                text="Customers per persona in each window; persona ids are matched "
                "across windows.",
                table=lifecycle if lifecycle is not None and len(lifecycle) else None,
            )
        )
        moved = mig[mig["from_persona"] != mig["to_persona"]]
        if len(mig):
            all_moves = int(mig["customers"].sum())
            n_moved = int(moved["customers"].sum())
            text = (
                f"{format_share(n_moved / all_moves) if all_moves else '0%'} of customers "
                f"shown changed persona between consecutive windows"
            )
            if len(moved):
                m0 = moved.sort_values("customers", ascending=False, kind="stable").iloc[0]
                names = mig.attrs.get("names") or {}
                src_name = names.get(m0["from_persona"], m0["from_persona"])
                text += (
                    f"; the largest move is {src_name}"
                    f" → {names.get(m0['to_persona'], m0['to_persona'])} "
                    f"({int(m0['customers']):,} customers, {m0['from_window']} → "
                    f"{m0['to_window']})"
                )
            summary.append(text + ".")
        sections.append(
            Section(
                "Persona migration",
                [persona_migration_figure(mig)],
                text="How customers move between personas from one window to the next.",
                notes=[
                    f"{mig.attrs.get('hidden', 0)} links with fewer than {k} customers "
                    f"({mig.attrs.get('hidden_customers', 0):,} customers) hidden."
                ],
            )
        )
    if model_card is not None:
        card = model_card_data(model_card)
        acc = card[card["panel"] == "accuracy_by_events"]
        if len(acc):
            bits = [
                f"{r.y:.0%} after {r.label} events"
                if r.label != "all"
                else f"{r.y:.0%} on full histories"
                for r in acc.itertuples()
            ]
            summary.append("Persona assignment accuracy: " + ", ".join(bits) + ".")
        sections.append(
            Section(
                "Persona assignment model",
                [model_card_figure(card)],
                text="How well the live assignment model recognises a customer's persona "
                "from their first events, and whether its probabilities can be trusted.",
            )
        )
    if validity is not None:
        sections.extend(_validity_sections(validity, k, meta["name"].to_dict()))
    summary.append(f"Privacy: groups of fewer than {k} customers are not shown.")
    return write_html(
        path,
        title,
        sections,
        summary,
        subtitle=f"{total:,} customers with a persona" if total else "",
    )


def _validity_sections(validity: Any, k: int, names: dict[Any, str]) -> list[Section]:
    """The "Do these personas mean something?" section and its per-persona table."""
    from journeymine.personas.validity import PersonaValidity

    if not isinstance(validity, PersonaValidity):
        raise ConfigError(
            f"validity must be a PersonaValidity (from journeymine.persona_validity), got "
            f"{type(validity).__name__}."
        )
    findings = persona_validity_findings(validity, k=k)
    auc, by = persona_validity_tables(validity, k=k, names=names)
    lo, hi = validity.added_auc_ci
    hidden = int(by.attrs.get("hidden", 0))
    return [
        Section(
            "Do these personas mean something?",
            text=" ".join(findings),
            table=auc,
            notes=[
                "AUC: how well each model ranks customers with the outcome above those "
                "without (0.5 = chance, 1 = perfect), cross-validated; intervals are bootstrap "
                "95% intervals. "
                f"Added AUC: {validity.added_auc:+.3f} [{lo:+.3f}, {hi:+.3f}]."
            ],
        ),
        Section(
            "Outcome rate by persona",
            text=f"Outcome: {validity.outcome}. Lift = the persona's rate / the rate of all "
            f"{validity.n_customers:,} scored customers "
            f"({validity.n_positive / max(validity.n_customers, 1):.1%}).",
            table=by,
            notes=[
                f"{hidden} personas with fewer than {k} customers hidden."
                if hidden
                else f"Every persona has at least {k} customers; none is hidden."
            ],
        ),
    ]


def _lifecycle_table(tracking: Any) -> pd.DataFrame | None:
    """Births, deaths, splits and merges of personas (``track_personas(...).events``)."""
    events = getattr(tracking, "events", None)
    if events is None and isinstance(tracking, dict):
        events = tracking.get("events")
    if not isinstance(events, pd.DataFrame) or "event" not in events.columns:
        return None
    out = events.copy()
    if "window" in out.columns:
        out["window"] = [
            w.strftime("%Y-%m-%d") if isinstance(w, pd.Timestamp) else str(w) for w in out["window"]
        ]
    for col in ("personas", "into"):
        if col in out.columns:
            out[col] = [
                ", ".join(map(str, v)) if isinstance(v, list | tuple | np.ndarray) else str(v)
                for v in out[col]
            ]
    return out


# ---------------------------------------------------------------- changes
def change_report(
    log: pd.DataFrame | None,
    path: str | Path,
    *,
    changes: pd.DataFrame | None = None,
    k: int = DEFAULT_K,
    top: int = 20,
    title: str = "What changed",
    **detect_kwargs: Any,
) -> Path:
    """Write a self-contained HTML report of detected changes.

    Parameters
    ----------
    log : DataFrame or None
        Canonical event log; ``jm.detect_changes(log, **detect_kwargs)`` is run unless
        ``changes`` is given.
    path : str or Path
        Output ``.html`` file.
    changes : DataFrame, optional
        A ``detect_changes`` result to report instead of running it.
    k : int, default 10
        Changes whose support (``customers``/``support`` column, when present) is below ``k``
        are hidden.
    top : int, default 20
        Report at most this many changes (strongest evidence first).
    title : str, default "What changed"
    **detect_kwargs
        Passed to ``jm.detect_changes`` (e.g. ``by=("channel",)``, ``freq="D"``).

    Returns
    -------
    Path
    """
    k = check_k(k)
    if changes is None:
        if log is None:
            raise ConfigError("change_report needs a log, or changes=detect_changes(log).")
        from journeymine.journeys.change import detect_changes

        log = check_log(log, purpose="change_report")
        changes = detect_changes(log, **detect_kwargs)
    elif detect_kwargs:
        raise ConfigError(
            f"detect_changes arguments {sorted(detect_kwargs)} were given together with "
            f"changes=; pass one or the other."
        )
    if not isinstance(changes, pd.DataFrame):
        raise ConfigError(f"changes must be a DataFrame, got {type(changes).__name__}.")
    support_col = next((c for c in ("customers", "support", "cases") if c in changes.columns), None)
    hidden = 0
    if support_col is not None:
        small = changes[support_col].to_numpy() < k
        hidden = int(small.sum())
        changes = changes[~small]
    data = change_timeline_data(changes, top=top)
    summary: list[str] = []
    if len(data) == 0:
        summary.append("No significant change was detected.")
    else:
        summary.append(f"{len(data)} change{'s' * (len(data) > 1)} detected.")
        strongest = data.sort_values("q_value", kind="stable", na_position="last")
        for _, row in strongest.head(5).iterrows():
            q = row["q_value"]
            summary.append(
                describe_change(row).capitalize() + (f" (q = {q:.1g})." if np.isfinite(q) else ".")
            )
    period = None
    if log is not None:
        period = (log[TIMESTAMP].min(), log[TIMESTAMP].max())
    incidents = change_incidents_data(changes) if "incident" in changes.columns else None
    scanned = changes.attrs.get("summary")
    sections = []
    if incidents is not None and len(incidents):
        summary.insert(1, f"{len(incidents)} incident{'s' * (len(incidents) > 1)}.")
        sections.append(
            Section(
                "Incidents",
                [],
                text="Changes on one channel (and segment) that overlap in time form one "
                "incident, strongest evidence first; affected journeys are the paths to the goal "
                "and conversions whose rate fell.",
                table=_incident_table(incidents),
                notes=[f"What was scanned: {scanned}."] if scanned else [],
            )
        )
    elif scanned:
        summary.append(f"What was scanned: {scanned}.")
    sections += [
        Section(
            "Timeline of changes",
            [change_timeline_figure(data, period=period)],
            text="Each bar is a period in which a rate departed from its baseline and came back "
            "(or had not yet come back at the end of the data).",
            table=_change_table(data),
            notes=[f"{hidden} changes supported by fewer than {k} customers hidden."]
            if hidden
            else [],
        )
    ]
    subtitle = f"{_period(log)}" if log is not None else ""
    return write_html(path, title, sections, summary, subtitle=subtitle)


def _incident_table(incidents: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "incident": incidents["incident"],
            "where": incidents["where"],
            "from": incidents["start"].dt.strftime("%Y-%m-%d"),
            "to": incidents["end"].dt.strftime("%Y-%m-%d"),
            "what": incidents["headline"],
            "how much": incidents["how_much"],
            "evidence": [
                f"deviance {d:.0f}, q = {q:.1g}" if np.isfinite(q) else ""
                for d, q in zip(incidents["evidence"], incidents["q_value"], strict=True)
            ],
            "series": incidents["series"],
            "affected journeys": incidents["affected_journeys"],
        }
    )


def _change_table(data: pd.DataFrame) -> pd.DataFrame:
    rate = [_is_rate(m) for m in data["metric"]]
    fmt = [
        (format_share(b), format_share(v)) if is_rate else (f"{b:,.3g}", f"{v:,.3g}")
        for b, v, is_rate in zip(data["baseline"], data["value"], rate, strict=True)
    ]
    return pd.DataFrame(
        {
            "metric": [metric_label(m) for m in data["metric"]],
            "where": data["where"],
            "what": data["what"],
            "from": data["start"].dt.strftime("%Y-%m-%d"),
            "to": data["end"].dt.strftime("%Y-%m-%d"),
            "baseline": [f[0] for f in fmt],
            "during": [f[1] for f in fmt],
            "effect": [f"{e:+.2f}" if np.isfinite(e) else "" for e in data["effect"]],
            "q-value": [f"{q:.2g}" if np.isfinite(q) else "" for q in data["q_value"]],
        }
    )


def actions_report(
    backtest: Any,
    path: str | Path,
    *,
    responses: Any = None,
    decisions: Any = None,
    persona_names: Mapping[int, str] | None = None,
    k: int = DEFAULT_K,
    title: str = "Next best action",
) -> Path:
    """Write a self-contained HTML report of a policy: its backtest on the logged touches, the
    response rates that arbitrate between journeys and, optionally, today's decisions.

    Parameters
    ----------
    backtest : Backtest
        ``journeymine.actions.backtest(log, policy, responses, personas)``.
    path : str or Path
        Output ``.html`` file.
    responses : ResponseModel, optional
        Adds the persona x journey response-rate heatmap (cells with fewer than ``k`` touches
        hidden).
    decisions : Decisions, optional
        ``next_best_action(...)``: adds the chosen actions and the reasons of the losing options.
    persona_names : mapping, optional
        Persona id -> readable name (e.g. ``miner.profiles_["name"]``).
    k : int, default 10
    title : str

    Returns
    -------
    Path
    """
    from journeymine.report.actions import (
        backtest_data,
        backtest_figure,
        response_rates_data,
        response_rates_figure,
    )

    k = check_k(k)
    summary_table = getattr(backtest, "summary", None)
    points = getattr(backtest, "points", None)
    if not isinstance(summary_table, pd.DataFrame) or not isinstance(points, pd.DataFrame):
        raise ConfigError(
            "actions_report needs a Backtest (journeymine.actions.backtest(...)), got "
            f"{type(backtest).__name__}."
        )
    total = summary_table.loc["*"]
    findings = [
        f"{int(total['touches']):,} logged touches replayed: the policy sends the same journey "
        f"for {format_share(total['agree_share'])} of them.",
        f"It would not have sent {int(total['blocked']):,}: "
        + ", ".join(
            f"{int(total[f'blocked_{r}']):,} {r.replace('_', ' ')}"
            for r in ("suppressed", "capped", "min_gap", "not_eligible", "outranked")
            if total[f"blocked_{r}"]
        )
        + ".",
    ]
    if np.isfinite(total["response_rate_agree"]) and np.isfinite(total["response_rate_blocked"]):
        findings.append(
            f"Observed response: {format_share(total['response_rate_agree'])} on the touches it "
            f"agrees with vs {format_share(total['response_rate_blocked'])} on those it would "
            f"not send."
        )
    sections = [
        Section(
            "The policy against the logged touches",
            [backtest_figure(backtest_data(points))],
            text="Every logged touch is replayed as a decision on the customer's events before "
            "it. Where the policy would not send the logged journey, the bar says which gate "
            "stops it.",
            table=summary_table.reset_index()[
                [
                    "sent",
                    "touches",
                    "agree_share",
                    "blocked",
                    "blocked_suppressed",
                    "blocked_capped",
                    "response_rate_agree",
                    "response_rate_blocked",
                ]
            ].round(3),
        )
    ]
    if responses is not None:
        table = getattr(responses, "table_", None)
        if not isinstance(table, pd.DataFrame):
            raise ConfigError("responses must be a fitted ResponseModel.")
        rates = response_rates_data(table, dict(persona_names or {}), k=k)
        sections.append(
            Section(
                "Who answers which journey",
                [response_rates_figure(rates)],
                text="These rates arbitrate between eligible journeys: each customer gets the "
                "journey with the highest expected response for their persona.",
                notes=[f"{rates.attrs['hidden']} cells with fewer than {k} touches hidden."]
                if rates.attrs["hidden"]
                else [],
            )
        )
    if decisions is not None:
        actions = getattr(decisions, "actions", None)
        why = getattr(decisions, "why_not", None)
        if not isinstance(actions, pd.DataFrame) or not isinstance(why, pd.DataFrame):
            raise ConfigError("decisions must be next_best_action(...) output.")
        chosen = actions["action"].fillna("(nothing)").value_counts()
        table = (
            why.groupby(["journey", "reason"]).size().unstack(fill_value=0)
            if len(why)
            else pd.DataFrame(index=pd.Index([], name="journey"))
        )
        table.insert(0, "chosen", actions["action"].value_counts().reindex(table.index))
        table = table.fillna(0).astype("int64")
        small = table.sum(axis=1) < k
        hidden = int(small.sum())
        findings.append(
            f"Now: {len(actions):,} customers decided; most common action "
            f"{chosen.index[0]} ({chosen.iloc[0]:,})."
        )
        sections.append(
            Section(
                "Decisions now, and why not the others",
                [],
                text="Per journey: the customers it is chosen for now and, for everyone else, "
                "the gate it failed.",
                table=table[~small].reset_index(),
                notes=[f"{hidden} journeys with fewer than {k} decisions hidden."]
                if hidden
                else [],
            )
        )
    return write_html(path, title, sections, findings)
