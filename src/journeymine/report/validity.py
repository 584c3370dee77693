"""Persona validity in the report: the findings and tables of a
:func:`journeymine.persona_validity` result, with the privacy threshold ``k``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from journeymine.compat import renamed_keywords
from journeymine.exceptions import ConfigError
from journeymine.report._common import (
    DEFAULT_K,
    check_k,
    persona_label,
    suppress_small,
)

__all__ = ["VALIDITY_SETS", "persona_validity_findings", "persona_validity_tables"]


#: How the feature sets of :func:`journeymine.persona_validity` read in the report.
VALIDITY_SETS = {
    "personas": "personas",
    "rfv": "recency/frequency/value",
    "personas+rfv": "personas + recency/frequency/value",
    "attributes": "your attributes",
    "personas+attributes": "personas + your attributes",
}


def _validity_persona_table(validity: Any, k: int) -> tuple[pd.DataFrame, int]:
    by = getattr(validity, "by_persona", None)
    if not isinstance(by, pd.DataFrame):
        raise ConfigError("validity must be a PersonaValidity (journeymine.persona_validity).")
    by = by[by["size"] > 0] if "size" in by.columns else by
    return suppress_small(by, "size", k)


def persona_validity_findings(validity: Any, *, k: int = DEFAULT_K) -> list[str]:
    """Plain-English findings of a :func:`journeymine.persona_validity` result.

    The lines of ``validity.summary()``, except that the personas with the highest and lowest
    outcome rate are chosen among those with at least ``k`` customers (smaller ones are hidden
    in the report), followed by the result's notes.

    Parameters
    ----------
    validity : PersonaValidity
    k : int, default 10
        Personas with fewer customers are left out of the highest/lowest rate line.

    Returns
    -------
    list of str
    """
    k = check_k(k)
    table, _ = _validity_persona_table(validity, k)
    lines = []
    for line in validity.summary().splitlines():
        if line.startswith("Highest rate:"):
            if len(table) < 2:
                continue
            hi, lo = table["lift"].idxmax(), table["lift"].idxmin()
            who, rate, lift = table["persona"], table["outcome_rate"], table["lift"]
            line = (
                f"Highest rate: persona {who[hi]} ({rate[hi]:.1%}, lift {lift[hi]:.2f}); "
                f"lowest: persona {who[lo]} ({rate[lo]:.1%}, lift {lift[lo]:.2f})."
            )
        lines.append(line)
    lines.extend(
        f"Note: {n}." if not str(n).endswith(".") else f"Note: {n}" for n in validity.notes
    )
    return lines


@renamed_keywords(names="persona_names")
def persona_validity_tables(
    validity: Any, *, k: int = DEFAULT_K, persona_names: Mapping[Any, str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The report's two validity tables: AUC with 95% intervals, and outcome rate by persona.

    Parameters
    ----------
    validity : PersonaValidity
    k : int, default 10
        Personas with fewer customers are left out of the outcome-rate table.
    persona_names : mapping, optional
        Persona id -> readable name (``names=`` in 0.1, still accepted with a FutureWarning).

    Returns
    -------
    (auc, by_persona) : DataFrames of strings
        ``auc``: one row per feature set plus the AUC the personas add to
        recency/frequency/value (and to the user's attributes, when the check had them);
        ``by_persona``: personas with at least ``k`` customers
        (``attrs["hidden"]`` counts the others).

    Examples
    --------
    >>> import pandas as pd
    >>> from journeymine.personas import PersonaValidity
    >>> from journeymine.report import persona_validity_findings, persona_validity_tables
    >>> result = PersonaValidity(
    ...     auc=pd.DataFrame({"feature_set": ["personas", "rfv", "personas+rfv"],
    ...                       "auc": [0.61, 0.70, 0.73], "ci_low": [0.58, 0.67, 0.71],
    ...                       "ci_high": [0.64, 0.73, 0.76]}),
    ...     added_auc=0.03, added_auc_ci=(0.01, 0.05),
    ...     by_persona=pd.DataFrame({"persona": [0, 1, 2], "size": [400, 300, 4],
    ...                              "n_positive": [120, 30, 4], "outcome_rate": [0.3, 0.1, 1.0],
    ...                              "lift": [1.9, 0.6, 6.4]}),
    ...     stability_ari=None, n_customers=704, n_positive=154,
    ...     outcome="purchase in the next 30 days", params={})
    >>> auc, by_persona = persona_validity_tables(result, persona_names={0: "Loyal", 1: "New"})
    >>> auc.iloc[-1]["AUC"], by_persona["persona"].tolist(), by_persona.attrs["hidden"]
    ('+0.030', ['0: Loyal', '1: New'], 1)
    >>> persona_validity_findings(result)[3]  # persona 2 has fewer than k = 10 customers
    'Highest rate: persona 0 (30.0%, lift 1.90); lowest: persona 1 (10.0%, lift 0.60).'
    """
    k = check_k(k)
    names = dict(persona_names or {})
    rows = [
        {
            "model": VALIDITY_SETS.get(r.feature_set, str(r.feature_set)),
            "AUC": f"{r.auc:.3f}",
            "95% interval": f"[{r.ci_low:.3f}, {r.ci_high:.3f}]",
        }
        for r in validity.auc.itertuples(index=False)
    ]
    lo, hi = validity.added_auc_ci
    rows.append(
        {
            "model": "added by the personas (personas + RFV minus RFV)",
            "AUC": f"{validity.added_auc:+.3f}",
            "95% interval": f"[{lo:+.3f}, {hi:+.3f}]",
        }
    )
    gain = getattr(validity, "added_to_attributes", None)
    gain_ci = getattr(validity, "added_to_attributes_ci", None)
    if gain is not None and gain_ci is not None:
        rows.append(
            {
                "model": "added by the personas to your attributes",
                "AUC": f"{gain:+.3f}",
                "95% interval": f"[{gain_ci[0]:+.3f}, {gain_ci[1]:+.3f}]",
            }
        )
    auc = pd.DataFrame(rows, columns=["model", "AUC", "95% interval"])
    table, hidden = _validity_persona_table(validity, k)
    soft = bool(len(table)) and not np.allclose(table["size"], np.round(table["size"]))
    out = pd.DataFrame(
        {
            "persona": [persona_label(p, names) for p in table["persona"]],
            "customers": [f"{s:,.1f}" if soft else f"{int(s):,}" for s in table["size"]],
            "with outcome": [f"{n:,.1f}" if soft else f"{int(n):,}" for n in table["n_positive"]],
            "outcome rate": [f"{r:.1%}" for r in table["outcome_rate"]],
            "lift": [f"{x:.2f}" for x in table["lift"]],
        }
    )
    out.attrs["hidden"] = hidden
    return auc, out
