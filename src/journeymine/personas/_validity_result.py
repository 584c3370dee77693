"""The result of :func:`~journeymine.personas.persona_validity`: AUCs with intervals, what the
personas add, outcome rates per persona, stability, a plain-English summary and a JSON-ready
dict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from journeymine.io import cards

__all__ = ["FEATURE_SETS", "PersonaValidity"]

#: The three feature sets compared, in the order of :attr:`PersonaValidity.auc`.
FEATURE_SETS: tuple[str, ...] = ("personas", "rfv", "personas+rfv")


@dataclass(frozen=True, eq=False)
class PersonaValidity:
    """The result of :func:`persona_validity`.

    Attributes
    ----------
    auc : DataFrame
        One row per feature set (``"personas"``, ``"rfv"``, ``"personas+rfv"``): cross-validated
        ``auc`` with its bootstrap 95% interval ``ci_low``, ``ci_high``.
    added_auc : float
        AUC of ``personas+rfv`` minus AUC of ``rfv``: what the personas add to the baseline.
    added_auc_ci : (float, float)
        Paired bootstrap 95% interval of :attr:`added_auc`.
    by_persona : DataFrame
        One row per persona: ``persona``, ``size`` (customers; the sum of memberships for soft
        labels), ``n_positive``, ``outcome_rate`` and ``lift`` (rate / overall rate).
    stability_ari : float or None
        Mean adjusted Rand index of the miner's refits on resampled customers with its own
        labels; None when no ``miner`` was given.
    n_customers : int
        Customers scored (with an event before the cutoff; for a journey's response, those
        the journey touched in the window).
    n_positive : int
        Customers with the outcome.
    outcome : str
        What the outcome is, in words, with its window.
    stability_runs : tuple of float
        ARI of each refit (empty without ``miner``).
    notes : tuple of str
        What was left out or assumed (e.g. no ``value`` column, stability not measured).
    params : dict
        cutoff, window end, cv, n_bootstrap, random_state, label kind, RFV features used and
        ``persona_weights``, the weight of the persona columns in ``personas+rfv`` chosen on
        each training fold (0 = left out); with ``attributes``, their names and
        ``attribute_persona_weights`` (the same for ``personas+attributes``).
    added_to_attributes : float or None
        With ``attributes``: AUC of ``personas+attributes`` minus AUC of ``attributes``.
    added_to_attributes_ci : (float, float) or None
        Its paired bootstrap 95% interval.
    persona_names : dict
        Persona id -> name, from the ``miner`` given (empty without one): the personas of this
        check may be another miner's than a report's (e.g. mined before the cutoff).

    Examples
    --------
    :func:`persona_validity` returns one:

    >>> from journeymine.datasets import make_journeys
    >>> from journeymine.personas import PersonaMiner, persona_validity
    >>> log = make_journeys(600, days=90, random_state=0).events
    >>> miner = PersonaMiner(n_bootstrap=0, random_state=0).fit(
    ...     log[log["timestamp"] < "2025-03-02"])
    >>> v = persona_validity(log, miner.labels_, outcome="purchase", cutoff="2025-03-02",
    ...                      horizon="14D", n_bootstrap=20, miner=miner, stability_runs=2)
    >>> v.outcome
    "activity 'purchase' [2025-03-02 00:00:00, 2025-03-16 00:00:00)"
    >>> auc = v.auc.set_index("feature_set")["auc"]
    >>> bool(abs(v.added_auc - (auc["personas+rfv"] - auc["rfv"])) < 1e-12)
    True
    >>> v.by_persona.columns.tolist()
    ['persona', 'size', 'n_positive', 'outcome_rate', 'lift']
    >>> per = v.by_persona  # one row per persona; the customers scored add up
    >>> v.n_customers == int(per["size"].sum()), v.n_positive == int(per["n_positive"].sum())
    (True, True)
    >>> len(v.stability_runs), 0 <= v.stability_ari <= 1
    (2, True)
    """

    auc: pd.DataFrame
    added_auc: float
    added_auc_ci: tuple[float, float]
    by_persona: pd.DataFrame
    stability_ari: float | None
    n_customers: int
    n_positive: int
    outcome: str
    stability_runs: tuple[float, ...] = ()
    notes: tuple[str, ...] = ()
    params: dict[str, Any] = field(default_factory=dict)
    added_to_attributes: float | None = None
    added_to_attributes_ci: tuple[float, float] | None = None
    persona_names: dict[int, str] = field(default_factory=dict)

    def _auc(self, feature_set: str) -> tuple[float, float, float]:
        row = self.auc.set_index("feature_set").loc[feature_set]
        return float(row["auc"]), float(row["ci_low"]), float(row["ci_high"])

    def summary(self) -> str:
        """A few plain-English lines: the AUCs, what the personas add, the personas with the
        highest and lowest outcome rate, and the stability."""
        p, r, b = (self._auc(s) for s in FEATURE_SETS)
        lo, hi = self.added_auc_ci
        rate = self.n_positive / self.n_customers
        lines = [
            f"Outcome: {self.outcome}: {self.n_positive:,} of {self.n_customers:,} customers "
            f"({rate:.1%}).",
            f"Personas predict it with AUC {p[0]:.2f} [{p[1]:.2f}, {p[2]:.2f}]; "
            f"recency/frequency/value alone {r[0]:.2f} [{r[1]:.2f}, {r[2]:.2f}]; together "
            f"{b[0]:.2f} ({self.added_auc:+.2f} [{lo:+.2f}, {hi:+.2f}]).",
        ]
        weights = self.params.get("persona_weights") or []
        if weights and not any(weights):
            lines.append(
                f"The personas add nothing to recency/frequency/value: the combined model gave "
                f"them no weight in any of the {len(weights)} folds."
            )
        elif lo > 0:
            lines.append(
                "The personas add to recency/frequency/value (the 95% interval of the gain is "
                "above 0)."
            )
        elif hi < 0:
            lines.append(
                "Adding the personas makes the baseline worse (the 95% interval of the gain is "
                "below 0)."
            )
        else:
            lines.append(
                "The personas add nothing measurable to recency/frequency/value (the 95% "
                "interval of the gain covers 0)."
            )
        if self.added_to_attributes is not None and self.added_to_attributes_ci is not None:
            a, ab = self._auc("attributes"), self._auc("personas+attributes")
            alo, ahi = self.added_to_attributes_ci
            verdict = (
                "better than"
                if p[1] > a[2]
                else "worse than"
                if p[2] < a[1]
                else "not measurably different from"
            )
            adds = "add to them" if alo > 0 else "add nothing measurable to them"
            lines.append(
                f"Your attributes ({', '.join(self.params.get('attributes', []))}) alone: AUC "
                f"{a[0]:.2f} [{a[1]:.2f}, {a[2]:.2f}]; the personas are {verdict} them and "
                f"{adds} ({ab[0]:.2f} together, {self.added_to_attributes:+.2f} "
                f"[{alo:+.2f}, {ahi:+.2f}])."
            )
        if p[1] <= 0.5:
            lines.append(
                "On their own the personas are not better than chance here (the interval of "
                "their AUC reaches 0.5)."
            )
        table = self.by_persona[self.by_persona["size"] > 0]
        if len(table) >= 2:
            # column by column: a row of mixed dtypes would show persona 3 as 3.0
            hi_, lo_ = table["lift"].idxmax(), table["lift"].idxmin()
            who, rate, lift = table["persona"], table["outcome_rate"], table["lift"]
            lines.append(
                f"Highest rate: persona {who[hi_]} ({rate[hi_]:.1%}, lift {lift[hi_]:.2f}); "
                f"lowest: persona {who[lo_]} ({rate[lo_]:.1%}, lift {lift[lo_]:.2f})."
            )
        if self.stability_ari is None:
            lines.append(
                "Stability under resampling not measured: pass miner= (the fitted PersonaMiner "
                "that made the labels) to refit it on resampled customers."
            )
        else:
            lines.append(
                f"Stability under resampling: mean ARI {self.stability_ari:.2f} over "
                f"{len(self.stability_runs)} refits on bootstrap samples of the customers "
                f"(1 = the same personas every time)."
            )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tables as lists of records)."""
        plain = cards.jsonable
        return {
            "outcome": self.outcome,
            "n_customers": self.n_customers,
            "n_positive": self.n_positive,
            "auc": plain(self.auc),
            "added_auc": plain(self.added_auc),
            "added_auc_ci": plain(self.added_auc_ci),
            "added_to_attributes": plain(self.added_to_attributes),
            "added_to_attributes_ci": plain(self.added_to_attributes_ci),
            "by_persona": plain(self.by_persona),
            "stability_ari": plain(self.stability_ari),
            "stability_runs": plain(self.stability_runs),
            "notes": list(self.notes),
            "params": plain(self.params),
            "persona_names": {str(p): n for p, n in self.persona_names.items()},
            "summary": self.summary(),
        }
