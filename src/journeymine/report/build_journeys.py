"""The journey report: what the data says (:func:`journey_report_data`), the key findings as
text (:func:`journey_findings`, pure) and the HTML page (:func:`journey_report`)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from journeymine.compat import renamed_keywords
from journeymine.report import journeys as figures
from journeymine.report._common import (
    DEFAULT_K,
    NO_PERSONA_NAME,
    check_k,
    check_log,
    check_positive_int,
    customer_event_order,
    format_duration,
    format_share,
    period_text,
)
from journeymine.report._groups import customer_groups
from journeymine.report.channels import channel_switch_data, channel_switch_figure
from journeymine.report.html import Section, write_html
from journeymine.report.process_map import process_map_data, process_map_figure
from journeymine.schema import CHANNEL, CUSTOMER_ID

__all__ = ["JourneyReportData", "journey_findings", "journey_report", "journey_report_data"]


@dataclass(frozen=True)
class JourneyReportData:
    """Everything the journey report shows, computed (no HTML).

    Built by :func:`journey_report_data`. Each frame is what its figure draws (e.g.
    ``process_map`` for :func:`~journeymine.report.process_map_figure`), so a section can be
    drawn again on its own; :func:`journey_findings` reads it for the key findings.

    Attributes
    ----------
    n_customers, n_events : int
    period : str
        First to last day of the log.
    n_channels : int or None
        Channels of the log (None without a channel column).
    start_channels : Series or None
        Share of customers by the channel of their first event, largest first.
    process_map : DataFrame
        :func:`~journeymine.report.process_map_data` of the whole log.
    variants : DataFrame
        :func:`~journeymine.report.variants_data` on ``max_steps`` steps.
    max_steps : int
        Steps the journeys are compared on.
    funnel_steps : list of str
    funnel_text : str
    funnel, funnel_by_group : DataFrame or None
        The funnel, and per persona / segment (None when not drawn).
    paths_from : str or None
    paths : DataFrame or None
    group_maps : list of (str, DataFrame)
        A process map per large persona / segment.
    switches : DataFrame or None
        Channel switches (None without a channel column).
    group : str
        ``"persona"`` or the ``segment`` column.
    segment : str or None
        The column that segments customers (``segment=`` of :func:`journey_report_data`);
        ``by``, its old name, still reads it until the next minor release (with a
        ``FutureWarning``).
    k, top_k : int
    hidden : dict of str to int
        What was hidden for privacy, by kind (in the report's order).

    Examples
    --------
    >>> import journeymine as jm
    >>> from journeymine.report import journey_report_data
    >>> events = jm.datasets.make_journeys(n_customers=150, days=30, random_state=1).events
    >>> data = journey_report_data(events, top_k=10, funnel_steps=["visit", "purchase"])
    >>> data.group, data.funnel_steps, data.n_customers == events["customer_id"].nunique()
    ('persona', ['visit', 'purchase'], True)
    """

    n_customers: int
    n_events: int
    period: str
    n_channels: int | None
    start_channels: pd.Series | None
    process_map: pd.DataFrame
    variants: pd.DataFrame
    max_steps: int
    funnel_steps: list[str]
    funnel_text: str
    funnel: pd.DataFrame | None
    funnel_by_group: pd.DataFrame | None
    paths_from: str | None
    paths: pd.DataFrame | None
    group_maps: list[tuple[str, pd.DataFrame]]
    switches: pd.DataFrame | None
    group: str
    segment: str | None
    k: int
    top_k: int
    hidden: dict[str, int] = field(default_factory=dict)

    @property
    def by(self) -> str | None:
        """The old name of :attr:`segment` (until the next minor release)."""
        warnings.warn(
            "JourneyReportData.by is renamed JourneyReportData.segment; by stops working in "
            "the next minor release.",
            FutureWarning,
            stacklevel=2,
        )
        return self.segment


def _arrow(variant: str) -> str:
    return " → ".join(str(variant).split(figures.VARIANT_SEP))


def _first_channels(log: pd.DataFrame) -> pd.Series:
    """Channel of each customer's first event (earliest timestamp, ties in input order)."""
    cust, order = customer_event_order(log)
    first = order[np.concatenate(([True], cust[order][1:] != cust[order][:-1]))]
    return log[CHANNEL].iloc[first].astype(str)


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


@renamed_keywords(by="segment")
def journey_report_data(
    log: pd.DataFrame,
    *,
    k: int = DEFAULT_K,
    top_k: int = 25,
    max_steps: int = 6,
    funnel_steps: Sequence[str] | None = None,
    paths_from: str | None = None,
    personas: pd.Series | Mapping[str, Any] | None = None,
    persona_names: Mapping[Any, str] | None = None,
    segment: str | None = None,
) -> JourneyReportData:
    """Compute what :func:`journey_report` shows (same parameters, no output file).

    Returns
    -------
    JourneyReportData
        The data of every section (process map, journeys, funnel, paths, maps per persona or
        segment, channel switches) and what was hidden for privacy.

    Examples
    --------
    >>> import journeymine as jm
    >>> from journeymine.report import journey_report_data
    >>> synthetic = jm.datasets.make_journeys(n_customers=120, days=30, random_state=2)
    >>> data = journey_report_data(jm.validate(synthetic.events), segment="channel", top_k=8)
    >>> data.group, data.top_k, "process map edges" in data.hidden
    ('channel', 8, True)
    """
    from journeymine.journeys import dfg, start_activities

    k = check_k(k)
    top_k = int(check_positive_int("top_k", top_k) or top_k)
    max_steps = int(check_positive_int("max_steps", max_steps) or max_steps)
    log = check_log(log, purpose="journey_report")
    n_customers = int(log[CUSTOMER_ID].nunique())
    labels, group = customer_groups(log, personas, persona_names, segment)
    hidden: dict[str, int] = {}
    channels = CHANNEL in log.columns
    start_ch = _first_channels(log).value_counts(normalize=True) if channels else None

    pm = process_map_data(log, top_k=top_k, k=k)
    hidden["process map edges"] = int(pm.attrs.get("hidden_edges", 0))

    # variants: the longest prefix (<= max_steps) whose shown journeys cover >= 25% of customers
    for steps_try in range(max_steps, 1, -1):
        var = figures.variants_data(log, max_steps=steps_try, top_k=15, k=k)
        if float(var["share"].sum()) >= 0.25:
            break
    max_steps = int(var.attrs["max_steps"])
    hidden["journeys"] = int(var.attrs.get("hidden", 0))

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
    fun = fun_by = None
    if len(funnel_steps) >= 2:
        fun = figures.funnel_data(log, funnel_steps, k=k)
        hidden["funnel steps"] = int(fun.attrs.get("hidden", 0))
        if labels is not None:
            fun_by = figures.funnel_data(log, funnel_steps, segment=labels, k=k)
            hidden["funnel steps"] += int(fun_by.attrs.get("hidden", 0))
        if paths_from is None:
            paths_from = funnel_steps[0]

    pth = None
    if paths_from is not None:
        pth = figures.paths_data(log, paths_from, direction="after", max_steps=3, k=k, top_k=8)
        hidden["path links"] = int(pth.attrs.get("hidden", 0))

    maps: list[tuple[str, pd.DataFrame]] = []
    if labels is not None:
        sizes = labels[labels != NO_PERSONA_NAME].value_counts()
        sizes = sizes[sizes >= k].head(4)
        for name in sizes.index:
            pm_p = process_map_data(
                log, top_k=15, k=k, personas=labels, persona=name, start_end=True
            )
            hidden["process map edges"] += int(pm_p.attrs.get("hidden_edges", 0))
            maps.append((str(name), pm_p))

    sw = None
    if channels:
        sw = channel_switch_data(log, k=k)
        hidden["channel cells"] = int(sw.attrs.get("hidden", 0))

    return JourneyReportData(
        n_customers=n_customers,
        n_events=len(log),
        period=period_text(log),
        n_channels=int(log[CHANNEL].nunique()) if channels else None,
        start_channels=start_ch,
        process_map=pm,
        variants=var,
        max_steps=max_steps,
        funnel_steps=list(funnel_steps),
        funnel_text=funnel_text,
        funnel=fun,
        funnel_by_group=fun_by,
        paths_from=paths_from,
        paths=pth,
        group_maps=maps,
        switches=sw,
        group=group,
        segment=segment,
        k=k,
        top_k=top_k,
        hidden=hidden,
    )


def journey_findings(data: JourneyReportData) -> list[str]:
    """The key findings of the journey report, as sentences (pure: no I/O).

    Parameters
    ----------
    data : JourneyReportData
        From :func:`journey_report_data`; each sentence quotes one of its frames, so no log
        is needed.

    Returns
    -------
    list of str
        In the report's order: the log, first channels, the most frequent and the slowest
        frequent step, the most common journey, the funnel's drop-off, the next step after
        ``paths_from``, channel switches and what was hidden for privacy.

    Examples
    --------
    >>> import journeymine as jm
    >>> from journeymine.report import journey_findings, journey_report_data
    >>> events = jm.datasets.make_journeys(n_customers=150, days=30, random_state=1).events
    >>> found = journey_findings(journey_report_data(events, k=5))
    >>> " customers and " in found[0], found[-1].startswith("Privacy: groups of fewer than 5")
    (True, True)
    """
    k = data.k
    summary = [
        f"{data.n_customers:,} customers and {data.n_events:,} events from {data.period}"
        + (f" on {data.n_channels} channels." if data.n_channels is not None else ".")
    ]
    start_ch = data.start_channels
    if start_ch is not None:
        summary.append(
            f"{format_share(start_ch.iloc[0])} of customers start on "
            f"{start_ch.index[0]}"
            + (
                f", {format_share(start_ch.iloc[1])} on {start_ch.index[1]}."
                if len(start_ch) > 1
                else "."
            )
        )
    edges = data.process_map[data.process_map["kind"] == "edge"]
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
    var = data.variants
    if len(var):
        v0 = var.iloc[0]
        summary.append(
            f"The most common journey (first {data.max_steps} steps) is "
            f"{_arrow(v0['variant'])} ({format_share(v0['share'])} of customers)."
        )
    fun = data.funnel
    if fun is not None and len(fun) >= 2:
        worst = fun.iloc[1:].sort_values("step_conversion", ascending=True, kind="stable").iloc[0]
        prev = fun[fun["step"] == worst["step"] - 1]["activity"].iloc[0]
        last = fun.iloc[-1]
        summary.append(
            f"{format_share(last['conversion'])} of customers who {fun.iloc[0]['activity']}"
            f" go on to {last['activity']}; the largest drop-off is between {prev} and "
            f"{worst['activity']} ({format_share(1 - worst['step_conversion'])} lost)."
        )
    if data.paths is not None:
        pth = data.paths
        step1 = pth[pth["step"] == 1].sort_values("cases", ascending=False, kind="stable")
        if len(step1):
            tot = int(step1["cases"].sum())
            summary.append(
                f"After {data.paths_from}, the most common next step is "
                f"{step1['target'].iloc[0]} ({int(step1['cases'].iloc[0]):,} of {tot:,} "
                f"customers shown)."
            )
    sw = data.switches
    if sw is not None and len(sw):
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
    hidden_txt = ", ".join(f"{v:,} {name}" for name, v in data.hidden.items() if v)
    summary.append(
        f"Privacy: groups of fewer than {k} customers are not shown"
        + (f" ({hidden_txt} hidden)." if hidden_txt else " (none had to be hidden).")
    )
    return summary


def _sections(data: JourneyReportData) -> list[Section]:
    k, pm, var = data.k, data.process_map, data.variants
    sections = [
        Section(
            "How customers move",
            [process_map_figure(pm)],
            text="How customers move from one activity to the next. Boxes are activities (with "
            "their number of events); arrows are direct transitions, thicker when more "
            "frequent and coloured by the median time between the two steps.",
            notes=[
                f"Edges taken by fewer than {k} customers are hidden: "
                f"{pm.attrs.get('hidden_edges', 0)}; {pm.attrs.get('beyond_top_k', 0)} less "
                f"frequent edges are beyond the top {data.top_k}."
            ],
        )
    ]
    covered = float(var["share"].sum()) if len(var) else 0.0
    sections.append(
        Section(
            "How journeys begin",
            [figures.variants_figure(var)],
            text=f"Each customer's first {data.max_steps} steps, grouped. The {len(var)} journeys "
            f"shown cover {format_share(covered)} of customers.",
            notes=[
                f"{var.attrs.get('hidden', 0):,} journeys followed by fewer than {k} customers "
                f"({var.attrs.get('hidden_customers', 0):,} customers in total) are not shown."
            ],
        )
    )
    if data.funnel is not None:
        figs = [figures.funnel_figure(data.funnel)]
        if data.funnel_by_group is not None:
            figs.append(
                figures.funnel_figure(data.funnel_by_group, title=f"Funnel by {data.group}")
            )
        sections.append(Section("Where customers drop off", figs, text=data.funnel_text))
    if data.paths is not None:
        sections.append(
            Section(
                f"What customers do after {data.paths_from}",
                [figures.paths_figure(data.paths)],
                text=f"What customers do in the three steps after they first {data.paths_from}.",
                notes=[
                    f"{data.paths.attrs.get('hidden', 0)} links taken by fewer than {k} "
                    f"customers are hidden."
                ],
            )
        )
    maps = [
        process_map_figure(pm_p, title=f"Process map: {name}") for name, pm_p in data.group_maps
    ]
    if maps:
        group = data.group
        sections.append(
            Section(
                f"How each {group} moves",
                maps,
                text="The 15 most frequent transitions of the customers of each of the "
                f"{len(maps)} largest {group} groups."
                if data.segment is not None
                else "The 15 most frequent transitions of the customers of each of the "
                f"{len(maps)} largest personas.",
            )
        )
    if data.switches is not None:
        sections.append(
            Section(
                "How customers switch channels",
                [channel_switch_figure(data.switches)],
                text="For each channel (row), where the customer's next event happens (column).",
            )
        )
    return sections


@renamed_keywords(by="segment")
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
    segment: str | None = None,
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
    paths_from : str, optional
        Activity whose following paths are drawn; default: the first funnel step.
    personas : Series or mapping customer_id -> persona label, optional
        E.g. ``PersonaMiner().fit(log).labels_``: adds the funnel per persona and a process
        map for each of the (up to four) largest personas; ``-1`` means no persona.
    persona_names : mapping label -> name, optional
        Readable persona names for the figures.
    segment : str, optional
        A column of the log that segments customers (e.g. ``"tier"`` or ``"channel"``):
        like ``personas``, adds the funnel per segment and a process map for each of the (up
        to four) largest segments. A customer's segment is the column's value on their first
        event. Not together with ``personas``. CLI: ``jm report --segment COLUMN``. Renamed
        from ``by`` (which still works, with a ``FutureWarning``, until the next minor
        release).
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
    data = journey_report_data(
        log,
        k=k,
        top_k=top_k,
        max_steps=max_steps,
        funnel_steps=funnel_steps,
        paths_from=paths_from,
        personas=personas,
        persona_names=persona_names,
        segment=segment,
    )
    return write_html(
        path,
        title,
        _sections(data),
        journey_findings(data),
        subtitle=f"{data.n_customers:,} customers · {data.period}",
    )
