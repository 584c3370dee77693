"""The persona report: what the data says (:func:`persona_report_data`), the key findings as
text (:func:`persona_findings`, pure) and the HTML page (:func:`persona_report`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from journeymine.exceptions import ConfigError
from journeymine.personas.traits import feature_words
from journeymine.report import personas as figures
from journeymine.report._common import DEFAULT_K, check_k, format_share
from journeymine.report.html import Section, write_html
from journeymine.report.model_card import model_card_data, model_card_figure
from journeymine.report.next_steps import persona_next_steps_data, persona_next_steps_findings
from journeymine.report.validity import persona_validity_findings, persona_validity_tables

if TYPE_CHECKING:
    from journeymine.personas.validity import PersonaValidity

__all__ = ["PersonaReportData", "persona_findings", "persona_report", "persona_report_data"]


@dataclass(frozen=True)
class PersonaReportData:
    """Everything the persona report shows, computed (no HTML).

    Built by :func:`persona_report_data`; the fields that come from tracking, a model card,
    a validity check or next steps are None when that input was not given.

    Attributes
    ----------
    profiles : DataFrame
        :func:`~journeymine.report.persona_profile_data` (personas under ``k`` hidden).
    meta : DataFrame
        Name and size per persona shown (index persona).
    total : int
        Customers of the personas shown.
    table : DataFrame
        The profiles table (customers, share, main channels when known).
    sizes, migration : DataFrame or None
        Persona sizes over time and migration links (with ``tracking``).
    lifecycle : DataFrame or None
        Births, deaths, splits and merges (with ``tracking``).
    card : DataFrame or None
        :func:`~journeymine.report.model_card_data` (with ``model_card``).
    validity : PersonaValidity or None
    k : int
    next_steps : DataFrame or None
        :func:`~journeymine.report.next_steps.persona_next_steps_data` (with ``next_steps``).

    Examples
    --------
    >>> import pandas as pd
    >>> from journeymine.report import persona_report_data
    >>> profiles = pd.DataFrame({"persona": [0, 0, 1, 1], "name": ["App", "App", "Web", "Web"],
    ...     "size": [50, 50, 40, 40], "feature": ["app_share", "web_share"] * 2,
    ...     "effect": [2.1, -0.8, -1.0, 2.4]})
    >>> data = persona_report_data(profiles)
    >>> data.total, data.meta["name"].tolist(), data.sizes is None
    (90, ['App', 'Web'], True)
    """

    profiles: pd.DataFrame
    meta: pd.DataFrame
    total: int
    table: pd.DataFrame
    sizes: pd.DataFrame | None
    migration: pd.DataFrame | None
    lifecycle: pd.DataFrame | None
    card: pd.DataFrame | None
    validity: Any
    k: int
    next_steps: pd.DataFrame | None = None


def _profiles_of(profiles: Any) -> Any:
    return getattr(profiles, "profiles_", profiles)


def persona_report_data(
    profiles: Any,
    *,
    tracking: Any = None,
    model_card: Any = None,
    validity: PersonaValidity | None = None,
    next_steps: pd.DataFrame | None = None,
    k: int = DEFAULT_K,
    movers_recall: float = 0.95,
) -> PersonaReportData:
    """Compute what :func:`persona_report` shows (same parameters, no output file).

    Returns
    -------
    PersonaReportData
        The profiles of the personas of at least ``k`` customers, with what ``tracking``,
        ``model_card``, ``validity`` and ``next_steps`` add.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeymine.report import persona_report_data
    >>> profiles = pd.DataFrame({"persona": [0, 1, 2], "name": ["Loyal", "New", "Rare"],
    ...     "size": [300, 120, 4], "feature": ["frequency"] * 3, "effect": [1.5, -1.2, 3.0]})
    >>> persona_report_data(profiles, k=10).meta.index.tolist()  # persona 2 is under k
    [0, 1]
    """
    k = check_k(k)
    prof = figures.persona_profile_data(profiles, k=k)
    meta = prof.drop_duplicates("persona").set_index("persona")[["name", "size"]]
    total = int(meta["size"].sum())
    table = meta.reset_index().rename(columns={"size": "customers"})
    table["share"] = [format_share(s / total) if total else "" for s in table["customers"]]
    full = _profiles_of(profiles)
    if isinstance(full, pd.DataFrame) and "main_channels" in full.columns:
        channels = full["main_channels"].to_dict()
        table["main channels"] = [
            ", ".join(f"{c} {format_share(v)}" for c, v in (channels.get(p) or [])[:3])
            for p in table["persona"]
        ]
    sizes = mig = lifecycle = None
    if tracking is not None:
        sizes = figures.persona_sizes_data(tracking, k=k)
        mig = figures.persona_migration_data(tracking, k=k, movers_recall=movers_recall)
        lifecycle = _lifecycle_table(tracking)
    card = model_card_data(model_card) if model_card is not None else None
    if validity is not None:
        _check_validity(validity)
    steps = None
    if next_steps is not None:
        labels = getattr(profiles, "labels_", None)
        if labels is None and isinstance(next_steps, pd.DataFrame):
            labels = next_steps.get("persona")
        if labels is None:
            raise ConfigError(
                "next_steps needs each customer's persona: pass the fitted PersonaMiner as "
                "profiles (its labels_), or add a 'persona' column to next_steps."
            )
        steps = persona_next_steps_data(next_steps, labels, meta["name"].to_dict(), k=k)
    return PersonaReportData(
        prof, meta, total, table, sizes, mig, lifecycle, card, validity, k, steps
    )


def persona_findings(data: PersonaReportData) -> list[str]:
    """The key findings of the persona report, as sentences (pure: no I/O).

    Parameters
    ----------
    data : PersonaReportData
        From :func:`persona_report_data`; what it lacks (tracking, a model card) adds no
        sentence.

    Returns
    -------
    list of str
        The personas and the largest, each persona's strongest trait, the lifecycle and the
        largest migration (with tracking), the assignment accuracy (with a model card) and the
        privacy rule. (The validity findings are the text of their own section:
        :func:`~journeymine.report.persona_validity_findings`.)

    Examples
    --------
    >>> import pandas as pd
    >>> from journeymine.report import persona_findings, persona_report_data
    >>> profiles = pd.DataFrame({"persona": [0, 0, 1, 1], "name": ["Loyal"] * 2 + ["New"] * 2,
    ...     "size": [300, 300, 100, 100], "feature": ["app_share", "recency"] * 2,
    ...     "effect": [1.8, -0.4, -0.2, 1.1]})
    >>> for line in persona_findings(persona_report_data(profiles)):
    ...     print(line)
    2 personas; the largest is Loyal (75% of assigned customers).
    Loyal: app share 1.8 SD more than other customers.
    New: recency 1.1 SD more than other customers.
    Privacy: groups of fewer than 10 customers are not shown.
    """
    meta, total = data.meta, data.total
    summary: list[str] = []
    if len(meta):
        big = meta.sort_values("size", ascending=False, kind="stable").iloc[0]
        summary.append(
            f"{len(meta)} personas; the largest is {big['name']} "
            f"({format_share(big['size'] / total)} of assigned customers)."
        )
    for p, g in data.profiles.dropna(subset=["effect"]).groupby("persona", sort=True):
        top = g.loc[g["effect"].abs().idxmax()]
        direction = "more" if top["effect"] > 0 else "less"
        summary.append(
            f"{meta.loc[p, 'name']}: {feature_words(str(top['feature']))} "
            f"{abs(top['effect']):.1f} SD {direction} than other customers."
        )
    lifecycle = data.lifecycle
    if lifecycle is not None and len(lifecycle):
        counts = lifecycle["event"].value_counts()
        summary.append(
            "Persona lifecycle: "
            + ", ".join(f"{int(n)} {ev}{'s' * (n > 1)}" for ev, n in counts.items())
            + "."
        )
    mig = data.migration
    if mig is not None and len(mig):
        summary += _migration_findings(mig)
    if data.card is not None:
        acc = data.card[data.card["panel"] == "accuracy_by_events"]
        if len(acc):
            bits = [
                f"{r.y:.0%} after {r.label} events"
                if r.label != "all"
                else f"{r.y:.0%} on full histories"
                for r in acc.itertuples()
            ]
            summary.append("Persona assignment accuracy: " + ", ".join(bits) + ".")
    if data.next_steps is not None and len(data.next_steps):
        summary += persona_next_steps_findings(data.next_steps.head(3))
    summary.append(f"Privacy: groups of fewer than {data.k} customers are not shown.")
    return summary


def _migration_findings(mig: pd.DataFrame) -> list[str]:
    """Persona changes among customers with a persona in both windows (a customer who gains or
    loses a persona, e.g. by reaching ``min_events``, has not changed persona), and those
    gains and losses on their own line."""
    names = mig.attrs.get("names") or {}
    src = pd.to_numeric(mig["from_persona"], errors="coerce")
    dst = pd.to_numeric(mig["to_persona"], errors="coerce")
    both = (src >= 0) & (dst >= 0)
    labelled = int(mig.loc[both, "customers"].sum())
    moved = mig[both & (src != dst)]
    n_moved = int(moved["customers"].sum())
    text = (
        f"{format_share(n_moved / labelled) if labelled else '0%'} of customers with a persona "
        f"in consecutive windows changed persona"
    )
    if len(moved):
        m0 = moved.sort_values("customers", ascending=False, kind="stable").iloc[0]
        text += (
            f"; the largest move is {names.get(m0['from_persona'], m0['from_persona'])}"
            f" → {names.get(m0['to_persona'], m0['to_persona'])} "
            f"({int(m0['customers']):,} customers, {m0['from_window']} → "
            f"{m0['to_window']})"
        )
    if "confident" in mig.columns and labelled:
        sure = int(mig.loc[both, "confident"].sum())
        sure_moved = int(moved["confident"].sum())
        if sure:
            text += (
                f". Of the {sure:,} whose persona probability was at least 0.9 in both windows, "
                f"{format_share(sure_moved / sure)} changed (the moves to trust; the others "
                f"include relabelling of customers between two close personas)"
            )
    if "expected_moves" in mig.columns and labelled:
        expected = float(pd.to_numeric(mig.loc[both, "expected_moves"]).sum(min_count=1))
        if expected == expected:  # NaN without the tracking's move model
            text += (
                f". Given every window, the expected share of customers who changed persona is "
                f"{format_share(expected / labelled)}"
            )
    lists = mig.attrs.get("movers") or []
    listed = sum(int(m["listed"]) for m in lists)
    if listed >= int(mig.attrs.get("k", 1)):
        precision = sum(m["listed"] * m["expected_precision"] for m in lists) / listed
        text += (
            f". The {listed:,} customers most likely to have changed persona are expected to "
            f"hold {mig.attrs['movers_recall']:.0%} of the movers, at an expected precision of "
            f"{format_share(precision)} (tracks.movers(); movers.csv of jm personas --windows)"
        )
    out = [text + "."]
    hard = mig.attrs.get("hard_pairs") or []
    if hard:
        out.append(
            "A window's events tell these personas apart least well, so moves between them "
            "are the least certain: "
            + figures.describe_hard_pairs(hard, names)
            + " (tracks.confusion())."
        )
    gained = int(mig.loc[(src < 0) & (dst >= 0), "customers"].sum())
    lost = int(mig.loc[(src >= 0) & (dst < 0), "customers"].sum())
    if gained or lost:
        out.append(
            f"Besides, {gained:,} customers got a persona from one window to the next and "
            f"{lost:,} had none in the next (too few events or outliers there)."
        )
    return out


def _hidden_personas_note(hidden: int | None, k: int) -> str:
    """The note under a per-persona figure or table: how many personas ``k`` hid."""
    if hidden:
        return f"{hidden} personas with fewer than {k} customers hidden."
    return f"Every persona has at least {k} customers; none is hidden."


def _sections(data: PersonaReportData) -> list[Section]:
    k, prof = data.k, data.profiles
    sections = [
        Section(
            "Persona profiles",
            [figures.persona_profile_figure(prof)],
            text="Each persona's most distinguishing behaviour, as standardised differences from "
            "all other customers.",
            table=data.table,
            notes=[_hidden_personas_note(prof.attrs.get("hidden"), k)],
        )
    ]
    if data.sizes is not None and data.migration is not None:
        lifecycle, mig = data.lifecycle, data.migration
        sections.append(
            Section(
                "Persona sizes over time",
                [figures.persona_sizes_figure(data.sizes)],
                text="Customers per persona in each window; persona ids are matched "
                "across windows.",
                table=lifecycle if lifecycle is not None and len(lifecycle) else None,
            )
        )
        sections.append(
            Section(
                "Persona migration",
                [figures.persona_migration_figure(mig)],
                text="How customers move between personas from one window to the next.",
                notes=[
                    f"{mig.attrs.get('hidden', 0)} links with fewer than {k} customers "
                    f"({mig.attrs.get('hidden_customers', 0):,} customers) hidden."
                ],
            )
        )
    if data.card is not None:
        sections.append(
            Section(
                "Persona assignment model",
                [model_card_figure(data.card)],
                text="How well the live assignment model recognises a customer's persona "
                "from their first events, and whether its probabilities can be trusted.",
            )
        )
    if data.next_steps is not None:
        hidden = data.next_steps.attrs.get("hidden", 0)
        sections.append(
            Section(
                "What each persona does next",
                [],
                text="From a next-step model (NextStepModel) on each customer's journey so "
                "far: the most likely next activity (share of the persona's customers for whom "
                "it is the most likely), the next channel and the time to the next event.",
                table=data.next_steps.drop(columns=["persona"]),
                notes=[f"{hidden} personas with fewer than {k} predictions hidden."]
                if hidden
                else [],
            )
        )
    if data.validity is not None:
        sections.extend(_validity_sections(data.validity, k, data.meta["name"].to_dict()))
    return sections


def persona_report(
    profiles: Any,
    path: str | Path,
    *,
    tracking: Any = None,
    model_card: Any = None,
    validity: PersonaValidity | None = None,
    next_steps: pd.DataFrame | None = None,
    k: int = DEFAULT_K,
    title: str = "Customer personas",
    movers_recall: float = 0.95,
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
    next_steps : DataFrame, optional
        ``NextStepModel.predict(log)`` for the persona's customers: adds "What each persona
        does next" (most likely next activities, channel, time to the next event, outcome
        probability). Needs the fitted miner as ``profiles`` (or a ``persona`` column).
    k : int, default 10
        Personas, migration links and cells with fewer than ``k`` customers are hidden.
    title : str, default "Customer personas"
    movers_recall : float, default 0.95
        With ``tracking`` from ``smoothing="hmm"``: the summary counts the customers most
        likely to have changed persona, the fewest expected to hold this share of the movers
        (``tracking.movers(recall=...)``).

    Returns
    -------
    Path

    Examples
    --------
    >>> import pathlib, shutil, tempfile
    >>> import pandas as pd
    >>> from journeymine.report import persona_report
    >>> profiles = pd.DataFrame({"persona": [0, 1], "name": ["Loyal", "New"], "size": [300, 120],
    ...     "feature": ["frequency", "recency"], "effect": [1.5, -1.2]})
    >>> folder = tempfile.mkdtemp()
    >>> path = persona_report(profiles, pathlib.Path(folder) / "personas.html")
    >>> "2 personas; the largest is Loyal" in path.read_text(encoding="utf-8")
    True
    >>> shutil.rmtree(folder)
    """
    data = persona_report_data(
        profiles,
        tracking=tracking,
        model_card=model_card,
        validity=validity,
        next_steps=next_steps,
        k=k,
        movers_recall=movers_recall,
    )
    return write_html(
        path,
        title,
        _sections(data),
        persona_findings(data),
        subtitle=f"{data.total:,} customers with a persona" if data.total else "",
    )


def _check_validity(validity: Any) -> None:
    from journeymine.personas.validity import PersonaValidity

    if not isinstance(validity, PersonaValidity):
        raise ConfigError(
            f"validity must be a PersonaValidity (from journeymine.persona_validity), got "
            f"{type(validity).__name__}."
        )


def _validity_sections(validity: Any, k: int, names: dict[Any, str]) -> list[Section]:
    """The "Do these personas mean something?" section and its per-persona table."""
    _check_validity(validity)
    findings = persona_validity_findings(validity, k=k)
    # the check may have its own personas (e.g. mined before its cutoff): its names first
    auc, by = persona_validity_tables(validity, k=k, persona_names=validity.persona_names or names)
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
            notes=[_hidden_personas_note(hidden, k)],
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
