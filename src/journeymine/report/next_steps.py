"""What each persona is likely to do next: a :class:`~journeymine.NextStepModel`'s predictions
summarised per persona for the persona report (pure functions, no model and no I/O here)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from journeymine.compat import renamed_keywords
from journeymine.exceptions import ConfigError
from journeymine.report._common import check_frame, check_k, format_share

__all__ = ["persona_next_steps_data", "persona_next_steps_findings"]

_REQUIRED = ("activity", "probability")


def _top(values: pd.Series, n: int) -> str:
    share = values.value_counts(normalize=True).head(n)
    return ", ".join(f"{a} {format_share(s)}" for a, s in share.items())


def _hours(seconds: float) -> str:
    if not np.isfinite(seconds):
        return ""
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


@renamed_keywords(names="persona_names")
def persona_next_steps_data(
    next_steps: pd.DataFrame,
    labels: pd.Series,
    persona_names: Mapping[Any, str],
    *,
    k: int = 10,
) -> pd.DataFrame:
    """Per persona: customers, the most likely next steps (share of the persona's customers
    for whom each activity is the most likely next one), the mean probability of that step,
    the most likely next channel, the median time to the next event and, when the model was
    fitted with an outcome, the mean probability of the outcome within its horizon.

    Parameters
    ----------
    next_steps : DataFrame
        ``NextStepModel.predict(log)``: index ``customer_id``, columns ``activity``,
        ``probability`` and optionally ``channel``, ``seconds_to_next``, ``p_outcome``.
    labels : Series
        Persona per customer (``-1`` = none; those customers are left out).
    persona_names : mapping
        Persona -> name.
    k : int, default 10
        Personas with fewer than ``k`` customers with a prediction are hidden (privacy).

    Returns
    -------
    DataFrame
        One row per persona shown, largest first; ``attrs["hidden"]`` counts the hidden ones.

    Examples
    --------
    >>> import pandas as pd
    >>> from journeymine.report import persona_next_steps_data
    >>> steps = pd.DataFrame({
    ...     "activity": ["buy", "buy", "browse", "browse", "browse", "browse"],
    ...     "probability": [0.6, 0.5, 0.7, 0.4, 0.5, 0.6],
    ...     "channel": ["app", "app", "web", "web", "app", "web"],
    ...     "seconds_to_next": [3600.0, 7200.0, 86400.0, 43200.0, 86400.0, 86400.0]},
    ...     index=pd.Index(list("abcdef"), name="customer_id"))
    >>> labels = pd.Series([0, 0, 1, 1, 1, 1], index=list("abcdef"))
    >>> t = persona_next_steps_data(steps, labels, {0: "Buyers", 1: "Browsers"}, k=2)
    >>> t[["name", "customers", "most likely next step"]].to_dict("records")[0]
    {'name': 'Browsers', 'customers': 4, 'most likely next step': 'browse 100%'}
    >>> t.loc[0, "next channel"]
    'web 75%, app 25%'
    """
    k = check_k(k)
    check_frame(
        next_steps,
        _REQUIRED,
        what="next_steps",
        hint="Pass NextStepModel.predict(log) (columns activity, probability, channel, "
        "seconds_to_next, p_outcome).",
    )
    lab = pd.Series(labels).reindex(next_steps.index)
    steps = next_steps.assign(persona=lab.to_numpy())
    steps = steps[steps["persona"].notna() & (steps["persona"] >= 0)]
    if len(steps) == 0:
        raise ConfigError(
            "no customer of next_steps has a persona: predict the next steps for the customers "
            "the personas were mined on (same customer_id values)."
        )
    rows: list[dict[str, Any]] = []
    hidden = 0
    for p, g in steps.groupby("persona", sort=True):
        if len(g) < k:
            hidden += 1
            continue
        acts = g["activity"].astype(str)
        top = acts.value_counts().index[0]
        row: dict[str, Any] = {
            "persona": int(p),
            "name": str(persona_names.get(int(p), persona_names.get(p, f"persona {int(p)}"))),
            "customers": len(g),
            "most likely next step": _top(acts, 3),
            "its mean probability": f"{g.loc[acts == top, 'probability'].mean():.0%}",
        }
        if "channel" in g.columns and g["channel"].notna().any():
            row["next channel"] = _top(g["channel"].dropna().astype(str), 2)
        if "seconds_to_next" in g.columns:
            row["median time to next"] = _hours(float(g["seconds_to_next"].median()))
        if "p_outcome" in g.columns:
            row["outcome probability"] = f"{g['p_outcome'].mean():.0%}"
        rows.append(row)
    out = pd.DataFrame(rows)
    if len(out):
        out = out.sort_values("customers", ascending=False, kind="stable").reset_index(drop=True)
    out.attrs["hidden"] = hidden
    return out


def persona_next_steps_findings(table: pd.DataFrame) -> list[str]:
    """One sentence per persona shown: its most likely next step (and channel).

    Examples
    --------
    >>> t = pd.DataFrame({"name": ["Buyers"], "most likely next step": ["buy 80%, browse 20%"],
    ...                   "next channel": ["app 90%"]})
    >>> persona_next_steps_findings(t)
    ['Buyers: next, most likely buy (for 80% of them), on app.']
    """
    out = []
    for r in table.to_dict("records"):
        first = str(r["most likely next step"]).split(", ")[0]
        activity, _, share = first.rpartition(" ")
        text = f"{r['name']}: next, most likely {activity} (for {share} of them)"
        if r.get("next channel"):
            text += f", on {str(r['next channel']).split(', ')[0].rpartition(' ')[0]}"
        out.append(text + ".")
    return out
