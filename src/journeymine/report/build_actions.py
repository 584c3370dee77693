"""The next-best-action report: the key findings as text (:func:`actions_findings`, pure) and
the HTML page (:func:`actions_report`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from journeymine.exceptions import ConfigError
from journeymine.report._common import DEFAULT_K, check_k, format_share
from journeymine.report.html import Section, write_html

if TYPE_CHECKING:
    from journeymine.actions import Backtest, Decisions, ResponseModel

__all__ = ["actions_findings", "actions_report"]


def _backtest_tables(backtest: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    summary_table = getattr(backtest, "summary", None)
    points = getattr(backtest, "points", None)
    if not isinstance(summary_table, pd.DataFrame) or not isinstance(points, pd.DataFrame):
        raise ConfigError(
            "actions_report needs a Backtest (journeymine.actions.backtest(...)), got "
            f"{type(backtest).__name__}."
        )
    return summary_table, points


def _decision_tables(decisions: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    actions = getattr(decisions, "actions", None)
    why = getattr(decisions, "why_not", None)
    if not isinstance(actions, pd.DataFrame) or not isinstance(why, pd.DataFrame):
        raise ConfigError("decisions must be next_best_action(...) output.")
    return actions, why


def actions_findings(backtest: Backtest, decisions: Decisions | None = None) -> list[str]:
    """The key findings of the next-best-action report, as sentences (pure: no I/O).

    Parameters
    ----------
    backtest : Backtest
        ``journeymine.actions.backtest(...)``.
    decisions : Decisions, optional
        ``next_best_action(...)``.

    Returns
    -------
    list of str
        How often the policy agrees with the logged touches, what it would not have sent and
        why, the observed response on both and, with decisions, the most common action now.

    Examples
    --------
    >>> import journeymine as jm
    >>> from journeymine.actions import Policy, ResponseModel, backtest
    >>> from journeymine.report import actions_findings
    >>> data = jm.datasets.make_journeys(n_customers=300, days=60, random_state=0)
    >>> policy = Policy.from_file(jm.datasets.sample_policy_path())
    >>> personas = data.customers.set_index("customer_id")["persona"].astype("category").cat.codes
    >>> model = ResponseModel().fit(data.events, personas, policy)
    >>> found = actions_findings(backtest(data.events, policy, model, personas, check="off"))
    >>> found[0]
    '1,376 logged touches replayed: the policy sends the same journey for 63% of them.'
    """
    summary_table, _ = _backtest_tables(backtest)
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
    if decisions is not None:
        actions, _ = _decision_tables(decisions)
        chosen = actions["action"].fillna("(nothing)").value_counts()
        findings.append(
            f"Now: {len(actions):,} customers decided; most common action "
            f"{chosen.index[0]} ({chosen.iloc[0]:,})."
        )
    return findings


def _certainty_section(certainty: pd.DataFrame, names: dict[int, str]) -> Section:
    """The section of ``UpliftModel.choice_certainty()``: a table per persona, and a note on
    the personas whose best journey the evidence cannot tell yet (below 0.8)."""
    from journeymine.actions.uplift_choice import UNSURE_BELOW

    if not isinstance(certainty, pd.DataFrame):
        raise ConfigError(
            f"certainty must be the DataFrame of UpliftModel.choice_certainty(), got "
            f"{type(certainty).__name__}."
        )
    cols = ["persona", "best", "probability_best", "runner_up", "probability_runner_up"]
    missing = [c for c in (*cols, "touches", "holdouts") if c not in certainty.columns]
    if missing:
        raise ConfigError(
            f"certainty must be UpliftModel.choice_certainty()'s table; it lacks {missing}."
        )
    t = certainty[certainty["persona"] >= 0].copy()
    t.insert(1, "name", [names.get(int(p), f"persona {int(p)}") for p in t["persona"]])
    unsure = int((t["probability_best"] < UNSURE_BELOW).sum())
    return Section(
        "How sure is each persona's choice",
        [],
        text="Per persona, the journey with the best expected net value (uplift x value - "
        "cost, or nothing) and the probability, over the uplift posteriors, that it is the "
        "best; the runner-up and the evidence behind the best.",
        table=t[[*cols[:1], "name", *cols[1:], "touches", "holdouts"]].round(3),
        notes=[
            f"{unsure} of {len(t)} personas below {UNSURE_BELOW:g}: the log cannot rank their "
            f"journeys yet; more touches and holdouts (a longer random pilot) settle it."
        ]
        if unsure
        else [],
    )


def actions_report(
    backtest: Backtest,
    path: str | Path,
    *,
    responses: ResponseModel | None = None,
    decisions: Decisions | None = None,
    persona_names: Mapping[int, str] | None = None,
    k: int = DEFAULT_K,
    title: str = "Next best action",
    ope: Any = None,
    impact: Any = None,
    certainty: pd.DataFrame | None = None,
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
    title : str, default "Next best action"
    ope : DataFrame, optional
        ``evaluate_policy(log, candidate)``: the off-policy estimates, next to the backtest.
    impact : DataFrame, optional
        ``journeymine.datasets.impact_experiment(...)``: the impact experiment.
    certainty : DataFrame, optional
        ``UpliftModel.choice_certainty()``: per persona the best journey and the probability
        that it is; personas below 0.8 are counted in a note (the log cannot rank their
        journeys yet).

    Returns
    -------
    Path
        The HTML file written (``path``).

    Examples
    --------
    >>> import journeymine as jm
    >>> from journeymine.actions import Policy, ResponseModel, backtest
    >>> import pathlib, tempfile
    >>> from journeymine.report import actions_report
    >>> world = jm.datasets.make_journeys(n_customers=200, days=45, random_state=1)
    >>> labels = world.customers.set_index("customer_id")["persona"].astype("category").cat.codes
    >>> rules = Policy.from_file(jm.datasets.sample_policy_path())
    >>> rates = ResponseModel().fit(world.events, labels, rules)
    >>> replay = backtest(world.events, rules, rates, labels, check="off")
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     path = actions_report(replay, pathlib.Path(folder) / "nba.html", responses=rates)
    ...     "logged touches replayed" in path.read_text(encoding="utf-8")
    True
    """
    from journeymine.report.actions import (
        backtest_data,
        backtest_figure,
        response_rates_data,
        response_rates_figure,
        value_sections,
    )

    k = check_k(k)
    summary_table, points = _backtest_tables(backtest)
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
    sections += value_sections(ope=ope, impact=impact)  # OPE next to the backtest counts
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
    if certainty is not None:
        sections.append(_certainty_section(certainty, dict(persona_names or {})))
    if decisions is not None:
        actions, why = _decision_tables(decisions)
        table = (
            why.groupby(["journey", "reason"]).size().unstack(fill_value=0)
            if len(why)
            else pd.DataFrame(index=pd.Index([], name="journey"))
        )
        table.insert(0, "chosen", actions["action"].value_counts().reindex(table.index))
        table = table.fillna(0).astype("int64")
        small = table.sum(axis=1) < k
        hidden = int(small.sum())
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
    return write_html(path, title, sections, actions_findings(backtest, decisions))
