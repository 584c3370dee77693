"""Expected *incremental* response per persona x journey: treated touches against holdouts.

A *treated* point is a logged touch of one of the policy's journeys (touch activity and
``journey_id``); a *holdout* is an event of ``policy.holdout_activity`` (default ``"holdout"``)
whose ``journey_id`` names the journey that was held back (a random control group, or the
control share of an exploring decider). The outcome of both is the same: an event of
``policy.outcome_activities`` (default ``purchase``) by the customer within
``policy.response_window`` after the point, whatever its journey_id, so a customer who buys
anyway counts for the holdouts as much as for the touches.

Per persona and journey, the treated and the holdout rates have Beta posteriors (Jeffreys
prior plus ``prior_strength`` pseudo-observations at the journey's overall rate); the uplift is
the difference, with its posterior sd and a 95% interval. :meth:`UpliftModel.sample` draws
uplifts from the posteriors (Thompson sampling), :meth:`UpliftModel.update` adds outcomes as
they are observed (learning from the decisions made).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from journeymine.actions._index import EventIndex
from journeymine.actions.policy import Policy
from journeymine.actions.response import touch_rows
from journeymine.exceptions import ConfigError, NotFittedError

__all__ = ["UpliftModel", "outcome_after"]


def outcome_after(index: EventIndex, policy: Policy, rows: np.ndarray) -> np.ndarray:
    """For each row: an event of ``policy.outcome_activities`` by the same customer in
    ``(t, t + response_window]``?"""
    t = index.t[rows]
    w = policy.response_window_s
    return index.count(policy.outcome_activities, index.code[rows], t + w + 1, w) > 0


class UpliftModel(BaseEstimator):
    """Incremental response per persona x journey from touches and holdouts (Beta posteriors).

    Parameters
    ----------
    prior_strength : float, default 10
        Pseudo-observations at the journey's overall treated / holdout rate added to every
        persona's counts.

    Attributes
    ----------
    table_ : DataFrame
        One row per (persona, journey): ``touches``, ``responses`` (outcomes after a touch),
        ``holdouts``, ``holdout_responses``, ``rate_treated``, ``rate_control``, ``uplift``
        (posterior mean of the difference), ``uplift_sd``, ``uplift_lo``/``uplift_hi`` (95%).
        Persona ``-1`` pools every customer.
    journeys_ : list of str

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from journeymine.actions import Policy, UpliftModel
    >>> policy = Policy.from_dict({"journeys": [{"name": "offer", "channel": "email",
    ...     "activity": "email_sent"}], "response_window": "24h"})
    >>> rows = []
    >>> for i in range(200):
    ...     act = "email_sent" if i % 2 else "holdout"
    ...     rows.append((f"c{i}", "2025-01-01 09:00", act, "offer"))
    ...     if i % 4 == 1 or i % 10 == 0:  # a quarter of the touched, a tenth of the held out
    ...         rows.append((f"c{i}", "2025-01-01 12:00", "purchase", None))
    >>> log = pd.DataFrame(rows, columns=["customer_id", "timestamp", "activity", "journey_id"])
    >>> m = UpliftModel(prior_strength=0).fit(log, pd.Series(dtype="int64"), policy)
    >>> row = m.table_.query("persona == -1").iloc[0]
    >>> int(row.touches), int(row.holdouts), round(float(row.uplift), 2)
    (100, 100, 0.3)
    """

    def __init__(self, prior_strength: float = 10.0) -> None:
        self.prior_strength = prior_strength

    # -- fitting -------------------------------------------------------------------------------
    def fit(self, log: pd.DataFrame, personas: pd.Series, policy: Policy) -> UpliftModel:
        """Count touches, holdouts and their outcomes per persona x journey."""
        if not isinstance(policy, Policy):
            raise ConfigError(f"policy must be a Policy, got {type(policy).__name__}.")
        if isinstance(self.prior_strength, bool) or not float(self.prior_strength) >= 0:
            raise ConfigError(f"prior_strength must be >= 0, got {self.prior_strength!r}.")
        names = [j.name for j in policy.journeys]
        self.journeys_ = names
        self.policy_ = policy
        pmap = pd.Series(personas, dtype="float64").dropna().astype("int64")
        known = sorted(set(int(p) for p in pmap.unique() if p >= 0))
        self.personas_ = np.array([-1, *known], dtype=np.int64)
        self.counts_ = np.zeros((len(self.personas_), len(names), 4))  # n_t, y_t, n_c, y_c
        if log is not None and len(log):
            index = EventIndex(log, product_column=None)
            treated = touch_rows(index, policy)
            held = index.is_activity((policy.holdout_activity,))
            named = np.zeros(len(held), dtype=bool)
            for name in names:
                named |= index.is_journey(name)
            rows = np.flatnonzero(treated | (held & named))
            if len(rows):
                y = outcome_after(index, policy, rows)
                cust = index.customers[index.code[rows]]
                persona = pmap.reindex(cust).fillna(-1).astype(np.int64).to_numpy()
                j = pd.Index(names).get_indexer(index.journey_name(rows))
                self.update(persona, j, held[rows], y)
        missing = [
            n
            for k, n in enumerate(names)
            if self.counts_[0, k, 2] == 0 and policy.prior_of(policy.journeys[k]) is None
        ]
        self.missing_control_ = missing
        self._build()
        return self

    def update(self, persona: Any, journey: Any, holdout: Any, outcome: Any) -> UpliftModel:
        """Add observed outcomes: per point the persona id, the journey index (in the policy's
        order; ``-1`` ignored), whether it was a holdout and whether the outcome happened."""
        if not hasattr(self, "counts_"):
            raise NotFittedError("this UpliftModel is not fitted yet; call fit() first.")
        persona = np.asarray(persona, dtype=np.int64)
        journey = np.asarray(journey, dtype=np.int64)
        holdout = np.asarray(holdout, dtype=bool)
        outcome = np.asarray(outcome, dtype=bool)
        ok = journey >= 0
        p_idx = self._persona_index(persona[ok])
        j, h, y = journey[ok], holdout[ok], outcome[ok]
        for rows in (np.zeros_like(p_idx), p_idx):  # pooled row 0 and the persona's own row
            own = rows > 0 if rows is p_idx else np.ones(len(rows), dtype=bool)
            np.add.at(self.counts_, (rows[own], j[own], np.where(h[own], 2, 0)), 1.0)
            np.add.at(self.counts_, (rows[own], j[own], np.where(h[own], 3, 1)), y[own])
        if hasattr(self, "table_"):
            self._build()
        return self

    def _persona_index(self, persona: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(self.personas_, persona)
        pos = np.minimum(pos, len(self.personas_) - 1)
        return np.where(self.personas_[pos] == persona, pos, 0)

    def _posteriors(self) -> tuple[np.ndarray, ...]:
        """Beta parameters (a_t, b_t, a_c, b_c), shape (persona, journey)."""
        c = self.counts_
        k = float(self.prior_strength)
        n_t, y_t, n_c, y_c = c[..., 0], c[..., 1], c[..., 2], c[..., 3]
        pt0 = (y_t[0] + 0.5) / (n_t[0] + 1.0)
        pc0 = (y_c[0] + 0.5) / (n_c[0] + 1.0)
        priors = np.array(
            [
                self.policy_.prior_of(j) if self.policy_.prior_of(j) is not None else 0.0
                for j in self.policy_.journeys
            ]
        )
        # a journey never held out: its control rate is the treated rate minus the prior uplift
        no_c = n_c[0] == 0
        pc0 = np.where(no_c, np.clip(pt0 - priors, 1e-3, 1), pc0)
        kk = np.where(np.arange(len(c))[:, None] == 0, 0.0, k)
        a_t = y_t + 0.5 + kk * pt0
        b_t = n_t - y_t + 0.5 + kk * (1 - pt0)
        strong = np.where(no_c, 1e4, 0.0)  # pin the assumed control rate
        a_c = y_c + 0.5 + (kk + strong) * pc0
        b_c = n_c - y_c + 0.5 + (kk + strong) * (1 - pc0)
        return a_t, b_t, a_c, b_c

    def _build(self) -> None:
        a_t, b_t, a_c, b_c = self._posteriors()
        m_t, m_c = a_t / (a_t + b_t), a_c / (a_c + b_c)
        v_t = m_t * (1 - m_t) / (a_t + b_t + 1)
        v_c = m_c * (1 - m_c) / (a_c + b_c + 1)
        up, sd = m_t - m_c, np.sqrt(v_t + v_c)
        c = self.counts_
        P, J = m_t.shape
        self.table_ = pd.DataFrame(
            {
                "persona": np.repeat(self.personas_, J),
                "journey": np.tile(np.array(self.journeys_, dtype=object), P),
                "touches": c[..., 0].ravel().astype(np.int64),
                "responses": c[..., 1].ravel().astype(np.int64),
                "holdouts": c[..., 2].ravel().astype(np.int64),
                "holdout_responses": c[..., 3].ravel().astype(np.int64),
                "rate_treated": m_t.ravel(),
                "rate_control": m_c.ravel(),
                "uplift": up.ravel(),
                "uplift_sd": sd.ravel(),
                "uplift_lo": (up - 1.96 * sd).ravel(),
                "uplift_hi": (up + 1.96 * sd).ravel(),
            }
        )
        self._mean = up

    # -- answers -------------------------------------------------------------------------------
    def _fitted(self) -> None:
        if not hasattr(self, "table_"):
            raise NotFittedError("this UpliftModel is not fitted yet; call fit() first.")

    def rates(self, personas: np.ndarray) -> np.ndarray:
        """Expected uplift of each journey (columns) for each persona id (rows); unknown
        personas (and -1) get the pooled estimate."""
        self._fitted()
        return self._mean[self._persona_index(np.asarray(personas, dtype=np.int64))]

    def response_rates(self, personas: np.ndarray) -> np.ndarray:
        """Expected outcome rate after a touch (the raw response, organic included)."""
        self._fitted()
        a_t, b_t, _, _ = self._posteriors()
        return (a_t / (a_t + b_t))[self._persona_index(np.asarray(personas, dtype=np.int64))]

    def evidence(self, personas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(touches, holdouts) counted for each persona's own row x journey."""
        self._fitted()
        idx = self._persona_index(np.asarray(personas, dtype=np.int64))
        return self.counts_[idx, :, 0], self.counts_[idx, :, 2]

    def sample(self, personas: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One posterior draw of every journey's uplift per point (Thompson sampling)."""
        self._fitted()
        idx = self._persona_index(np.asarray(personas, dtype=np.int64))
        a_t, b_t, a_c, b_c = (x[idx] for x in self._posteriors())
        return rng.beta(a_t, b_t) - rng.beta(a_c, b_c)
