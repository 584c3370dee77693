"""The change report: what the data says (:func:`change_report_data`), the key findings as
text (:func:`change_findings`, pure) and the HTML page (:func:`change_report`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from journeymine.compat import renamed_keywords
from journeymine.exceptions import ConfigError
from journeymine.report import change as figures
from journeymine.report._common import DEFAULT_K, check_k, check_log, format_share, period_text
from journeymine.report.html import Section, write_html
from journeymine.schema import TIMESTAMP

__all__ = ["ChangeReportData", "change_findings", "change_report", "change_report_data"]


@dataclass(frozen=True)
class ChangeReportData:
    """Everything the change report shows, computed (no HTML).

    Built by :func:`change_report_data`; :func:`change_findings` turns it into the sentences
    at the top of the report.

    Attributes
    ----------
    timeline : DataFrame
        :func:`~journeymine.report.change_timeline_data` of the changes shown.
    incidents : DataFrame or None
        :func:`~journeymine.report.change_incidents_data` (when the changes have incidents).
    scanned : str or None
        What the detection scanned (``changes.attrs["summary"]``).
    period : tuple of Timestamp or None
        First and last event of the log (None without a log).
    period_text : str
        The same as text ("" without a log).
    hidden : int
        Changes supported by fewer than ``k`` customers, hidden.
    k : int

    Examples
    --------
    >>> import pandas as pd
    >>> from journeymine.report import change_report_data
    >>> changes = pd.DataFrame({"metric": ["volume"], "channel": ["web"], "what": ["visit"],
    ...     "start": pd.to_datetime(["2025-03-01"], utc=True), "baseline": [1.2], "changed": [0.5],
    ...     "end": pd.to_datetime(["2025-03-06"], utc=True), "effect": [-0.9], "q_value": [1e-4]})
    >>> data = change_report_data(None, changes=changes)
    >>> data.timeline["where"].tolist(), data.incidents is None, data.period_text
    (['web'], True, '')
    """

    timeline: pd.DataFrame
    incidents: pd.DataFrame | None
    scanned: str | None
    period: tuple[pd.Timestamp, pd.Timestamp] | None
    period_text: str
    hidden: int
    k: int


@renamed_keywords(top="top_k")
def change_report_data(
    log: pd.DataFrame | None,
    *,
    changes: pd.DataFrame | None = None,
    k: int = DEFAULT_K,
    top_k: int = 20,
    **detect_kwargs: Any,
) -> ChangeReportData:
    """Compute what :func:`change_report` shows (same parameters, no output file).

    Without ``changes``, the changes are those :func:`~journeymine.journeys.change.detect_changes`
    finds in ``log`` with ``detect_kwargs``.

    Returns
    -------
    ChangeReportData
        The ``top_k`` strongest changes supported by at least ``k`` customers (timeline and
        incidents) and the period of ``log``.

    Examples
    --------
    >>> import journeymine as jm
    >>> from journeymine.report import change_report_data
    >>> synthetic = jm.datasets.make_journeys(n_customers=200, days=60, random_state=0)
    >>> log = jm.validate(synthetic.events)
    >>> data = change_report_data(log, top_k=5, freq="7D")
    >>> len(data.timeline) <= 5, data.period_text.startswith("20")
    (True, True)
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
    data = figures.change_timeline_data(changes, top_k=top_k)
    period = None
    if log is not None:
        period = (log[TIMESTAMP].min(), log[TIMESTAMP].max())
    incidents = figures.change_incidents_data(changes) if "incident" in changes.columns else None
    return ChangeReportData(
        timeline=data,
        incidents=incidents,
        scanned=changes.attrs.get("summary"),
        period=period,
        period_text=period_text(log) if log is not None else "",
        hidden=hidden,
        k=k,
    )


def change_findings(data: ChangeReportData) -> list[str]:
    """The key findings of the change report, as sentences (pure: no I/O).

    Each change is told in words (what moved, from which value to which, between which
    dates), the most significant first.

    Parameters
    ----------
    data : ChangeReportData
        From :func:`change_report_data`, whose changes are already cut at ``k`` and ``top_k``.

    Returns
    -------
    list of str
        How many changes (or none), how many incidents, the five strongest changes described
        and, without incidents, what was scanned.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeymine.report import change_findings, change_report_data
    >>> changes = pd.DataFrame({"metric": ["edge"], "channel": ["app"],
    ...     "what": ["checkout -> purchase"],
    ...     "start": pd.to_datetime(["2025-02-05"], utc=True),
    ...     "end": pd.to_datetime(["2025-02-19"], utc=True),
    ...     "baseline": [0.81], "changed": [0.08], "effect": [-1.9], "q_value": [1e-12]})
    >>> found = change_findings(change_report_data(None, changes=changes))
    >>> found[0], found[1].startswith("App checkout -> purchase (step probability) fell")
    ('1 change detected.', True)
    """
    timeline = data.timeline
    summary: list[str] = []
    if len(timeline) == 0:
        summary.append("No significant change was detected.")
    else:
        summary.append(f"{len(timeline)} change{'s' * (len(timeline) > 1)} detected.")
        strongest = timeline.sort_values("q_value", kind="stable", na_position="last")
        for _, row in strongest.head(5).iterrows():
            q = row["q_value"]
            summary.append(
                figures.describe_change(row).capitalize()
                + (f" (q = {q:.1g})." if np.isfinite(q) else ".")
            )
    incidents = data.incidents
    if incidents is not None and len(incidents):
        summary.insert(1, f"{len(incidents)} incident{'s' * (len(incidents) > 1)}.")
    elif data.scanned:
        summary.append(f"What was scanned: {data.scanned}.")
    return summary


def _sections(data: ChangeReportData) -> list[Section]:
    sections = []
    incidents, scanned, k = data.incidents, data.scanned, data.k
    if incidents is not None and len(incidents):
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
    sections.append(
        Section(
            "Timeline of changes",
            [figures.change_timeline_figure(data.timeline, period=data.period)],
            text="Each bar is a period in which a rate departed from its baseline and came back "
            "(or had not yet come back at the end of the data).",
            table=_change_table(data.timeline),
            notes=[f"{data.hidden} changes supported by fewer than {k} customers hidden."]
            if data.hidden
            else [],
        )
    )
    return sections


@renamed_keywords(top="top_k")
def change_report(
    log: pd.DataFrame | None,
    path: str | Path,
    *,
    changes: pd.DataFrame | None = None,
    k: int = DEFAULT_K,
    top_k: int = 20,
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
    top_k : int, default 20
        Report at most this many changes (strongest evidence first).
    title : str, default "What changed"
    **detect_kwargs
        Passed to ``jm.detect_changes`` (e.g. ``by=("channel",)``, ``freq="D"``).

    Returns
    -------
    Path

    Examples
    --------
    >>> import pathlib, tempfile
    >>> import pandas as pd
    >>> from journeymine.report import change_report
    >>> changes = pd.DataFrame({"metric": ["edge"], "channel": ["app"], "what": ["cart -> buy"],
    ...     "baseline": [0.81], "changed": [0.08], "effect": [-1.9], "q_value": [1e-12],
    ...     "start": pd.to_datetime(["2025-02-05"], utc=True),
    ...     "end": pd.to_datetime(["2025-02-19"], utc=True)})
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     out = pathlib.Path(folder) / "changes.html"
    ...     html = change_report(None, out, changes=changes).read_text(encoding="utf-8")
    >>> "1 change detected." in html
    True
    """
    data = change_report_data(log, changes=changes, k=k, top_k=top_k, **detect_kwargs)
    return write_html(
        path, title, _sections(data), change_findings(data), subtitle=data.period_text
    )


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
    rate = [figures._is_rate(m) for m in data["metric"]]
    fmt = [
        (format_share(b), format_share(v)) if is_rate else (f"{b:,.3g}", f"{v:,.3g}")
        for b, v, is_rate in zip(data["baseline"], data["value"], rate, strict=True)
    ]
    return pd.DataFrame(
        {
            "metric": [figures.metric_label(m) for m in data["metric"]],
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
