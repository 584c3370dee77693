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

Per customer: where personas are soft (``memberships``, customers x persona ids, e.g. the
third value of ``PersonaMiner.membership``), every point counts for each persona with the
customer's membership weight, and a customer's expected uplift is the membership-weighted
mean of the personas' posteriors (the rest of the weight, for customers the miner could not
place, on a row of its own, persona ``-2`` "unplaced", learned from those customers' points
and shrunk to the pooled row like every persona). A hard label is the one-hot special case.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from journeymine.actions._uplift_change import CHANGE_SCOPES, drop_before_changes
from journeymine.actions._uplift_save import load_uplift, save_uplift
from journeymine.actions.policy import Policy
from journeymine.actions.uplift_points import check_memberships, uplift_points
from journeymine.compat import positional_deprecated
from journeymine.exceptions import ConfigError, NotFittedError

__all__ = ["UNPLACED", "UpliftModel"]

UNPLACED = -2  # the row of the customers soft memberships leave (partly) unplaced


@positional_deprecated(("prior_strength", "discount"))
@dataclass(kw_only=True, eq=False, repr=False)  # BaseEstimator's repr, identity eq/hash
class UpliftModel(BaseEstimator):
    """Incremental response per persona x journey from touches and holdouts (Beta posteriors).

    Parameters
    ----------
    prior_strength : float, default 10
        Pseudo-observations at the journey's overall treated / holdout rate added to every
        persona's counts.
    discount : float, default 1
        Each :meth:`update` batch (e.g. one day of outcomes) first multiplies the evidence
        counted so far by ``discount``: 1 keeps everything; below 1 the posteriors follow a
        world whose responses change (evidence halves every ``log(0.5)/log(discount)``
        batches; 0.95: 14), at the price of wider intervals in a stable one.
    shrinkage : {"fixed", "empirical"}, default "fixed"
        ``"fixed"``: every persona's treated and holdout rates get ``prior_strength``
        pseudo-observations at the journey's pooled rate. ``"empirical"`` (empirical Bayes):
        the number is estimated per journey and arm from how much the personas' rates vary
        beyond their sampling noise (method of moments: a Beta prior with the pooled rate as
        mean and the between-persona variance ``tau^2`` has ``rate (1 - rate) / tau^2 - 1``
        observations), so rates that hardly differ between personas are pooled (e.g. the
        holdout rate, from few holdouts) and rates that differ keep their own evidence; at most
        the pooled row's count, and ``prior_strength`` while fewer than two personas have
        evidence.
    change_alpha : float, optional
        A change test for a world whose responses change: after each :meth:`update`, per
        persona x journey and arm (touches, holdouts), a likelihood-ratio test of one change
        point in the outcome rate over the batches counted so far (:meth:`fit`'s log is the
        first batch, each ``update`` call one more), Bonferroni-corrected over the cells, arms
        and candidate points so that ``change_alpha`` bounds the chance of any false alarm in
        one update. Where it rejects, that cell and arm keep only the evidence after the most
        likely change point; every other cell keeps all of its evidence. None (default): no
        test. Unlike ``discount``, it forgets nothing in a stable world; the history it tests
        is not saved by :meth:`save` (a loaded model starts a new one).
    change_scope : {"cell", "persona", "regime"}, default "cell"
        What a change found by the ``change_alpha`` test drops besides the changed cell and
        arm's evidence before the change point. ``"cell"``: nothing else. ``"persona"``: the
        persona's whole row (every journey, both arms) drops its evidence before the change
        point (the strongest, when several of its cells changed): the cells the decider rarely
        sends were measured in the old world too, and with no evidence left a decider with
        ``min_touches``/``min_holdouts`` measures them again. ``"regime"``: as ``"persona"``,
        and when the change points of two personas are at most 7 batches apart (a change of
        the whole market, not of one persona), every row, the pooled one included, drops its
        evidence before the later of them. In #13's exploring run (mined personas, every
        persona's responses changed at once) ``"regime"`` ended higher than ``"cell"`` on 7 of
        8 tuning seeds and lost nothing in a stable world (README, "Exploring from no data").

    Attributes
    ----------
    table_ : DataFrame
        One row per (persona, journey): ``touches``, ``responses`` (outcomes after a touch),
        ``holdouts``, ``holdout_responses``, ``rate_treated``, ``rate_control``, ``uplift``
        (posterior mean of the difference), ``uplift_sd``, ``uplift_lo``/``uplift_hi`` (95%).
        Persona ``-1`` pools every customer; ``-2`` (soft memberships only) holds the customers
        the memberships leave (partly) unplaced.
    journeys_ : list of str
    changes_ : list of dict
        With ``change_alpha``: every change the test found (``update``: which batch, 0 the
        first: the log given to :meth:`fit`, if any; ``persona``, ``journey``, ``arm``:
        ``"treated"`` or ``"holdout"``; ``batches_dropped``; ``statistic``: the likelihood
        ratio statistic).
    regime_from_ : int
        With ``change_scope="regime"``: the batch from which every row counts its evidence
        after the last change found in two personas together (0: none found).

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

    With ``change_alpha``, a cell whose response rate changes keeps only the evidence after
    the change: 10 days of 100 touches at a 10% response, then 10 days at 50%:

    >>> m = UpliftModel(prior_strength=0, change_alpha=0.01).fit(None, pd.Series([0]), policy)
    >>> rng = np.random.default_rng(0)
    >>> for day in range(20):
    ...     y = rng.random(100) < (0.1 if day < 10 else 0.5)
    ...     _ = m.update(np.zeros(100, int), np.zeros(100, int), np.zeros(100, bool), y)
    >>> sorted({(c["persona"], c["arm"]) for c in m.changes_})  # persona -1: the pooled row
    [(-1, 'treated'), (0, 'treated')]
    >>> row = m.table_.query("persona == 0").iloc[0]
    >>> int(row.touches), round(float(row.rate_treated), 1)
    (1000, 0.5)

    With ``change_scope="regime"``, a change found in two personas at once drops the evidence
    from before it everywhere, also for persona 2 whose rate did not change:

    >>> m = UpliftModel(prior_strength=0, change_alpha=0.01, change_scope="regime")
    >>> m = m.fit(None, pd.Series([0, 1, 2]), policy)
    >>> for day in range(20):
    ...     rate = 0.1 if day < 10 else 0.5  # for personas 0 and 1
    ...     y = rng.random(300) < np.r_[np.full(200, rate), np.full(100, 0.1)]
    ...     _ = m.update(np.repeat([0, 1, 2], 100), np.zeros(300, int), np.zeros(300, bool), y)
    >>> m.regime_from_, int(m.table_.query("persona == 2").touches.iloc[0])
    (10, 1000)
    """

    prior_strength: float = 10.0
    discount: float = 1.0
    shrinkage: str = "fixed"
    change_alpha: float | None = None
    change_scope: str = "cell"

    # -- fitting -------------------------------------------------------------------------------
    def fit(
        self,
        log: pd.DataFrame | None,
        personas: pd.Series | pd.DataFrame,
        policy: Policy,
    ) -> UpliftModel:
        """Count touches, holdouts and their outcomes per persona x journey.

        Parameters
        ----------
        log : DataFrame or None
            Canonical log with the policy's touches and holdouts (``journey_id`` set); None or
            an empty log for a cold start (priors only).
        personas : Series or DataFrame
            customer_id -> persona id (hard labels), or soft memberships: a DataFrame indexed
            by customer_id with one column per persona id and values in [0, 1] (rows summing
            to at most 1; what is missing goes to the unplaced row ``-2``), e.g. the posterior of
            ``PersonaMiner(method="mixture").membership(features)``. Points count for each
            persona with the customer's weight.
        policy : Policy
        """
        if not isinstance(policy, Policy):
            raise ConfigError(f"policy must be a Policy, got {type(policy).__name__}.")
        if isinstance(self.prior_strength, bool) or not float(self.prior_strength) >= 0:
            raise ConfigError(f"prior_strength must be >= 0, got {self.prior_strength!r}.")
        if self.shrinkage not in ("fixed", "empirical"):
            raise ConfigError(
                f"shrinkage must be 'fixed' (prior_strength pseudo-observations) or 'empirical' "
                f"(estimated from the spread of the personas' rates), got {self.shrinkage!r}."
            )
        if isinstance(self.discount, bool) or not 0 < float(self.discount) <= 1:
            raise ConfigError(
                f"discount must be in (0, 1] (1 keeps all evidence; e.g. 0.95 halves it every "
                f"14 updates), got {self.discount!r}."
            )
        alpha = self.change_alpha
        if alpha is not None and (isinstance(alpha, bool) or not 0 < float(alpha) < 1):
            raise ConfigError(
                f"change_alpha must be a probability in (0, 1) (e.g. 0.01: at most a 1% chance "
                f"of a false alarm per update) or None for no change test, got {alpha!r}."
            )
        if getattr(self, "change_scope", "cell") not in CHANGE_SCOPES:
            raise ConfigError(
                f"change_scope must be one of {list(CHANGE_SCOPES)} (what a change found by the "
                f"change_alpha test drops: the cell, the persona's row, or every row when two "
                f"personas change together), got {self.change_scope!r}."
            )
        names = [j.name for j in policy.journeys]
        self.journeys_ = names
        self.policy_ = policy
        self.batches_: list[np.ndarray] = []
        self.changes_: list[dict[str, Any]] = []
        self.priors_ = np.array(
            [
                policy.prior_of(j) if policy.prior_of(j) is not None else np.nan
                for j in policy.journeys
            ],
            dtype=np.float64,
        )
        soft = isinstance(personas, pd.DataFrame)
        if soft:
            # a row for the weight the memberships leave unplaced (customers without one)
            known = [UNPLACED, *sorted(check_memberships(personas))]
        else:
            pmap = pd.Series(personas, dtype="float64").dropna().astype("int64")
            known = sorted(set(int(p) for p in pmap.unique() if p >= 0))
        self.personas_ = np.array([-1, *known], dtype=np.int64)
        self.counts_ = np.zeros((len(self.personas_), len(names), 4))  # n_t, y_t, n_c, y_c
        self.regime_from_ = 0  # the change point of the last regime change found (0: none)
        if log is not None and len(log):
            cust, j, held, y = uplift_points(log, policy)
            if len(cust):
                persona: Any
                if soft:
                    persona = personas.reindex(cust)
                else:
                    persona = pmap.reindex(cust).fillna(-1).astype(np.int64).to_numpy()
                self.update(persona, j, held, y)
        missing = [
            n
            for k, n in enumerate(names)
            if self.counts_[0, k, 2] == 0 and policy.prior_of(policy.journeys[k]) is None
        ]
        self.missing_control_ = missing
        self._build()
        return self

    def update(self, persona: Any, journey: Any, holdout: Any, outcome: Any) -> UpliftModel:
        """Add observed outcomes: per point the persona (an id, or a row of memberships: a
        DataFrame with persona-id columns as in :meth:`fit`), the journey index (in the
        policy's order; ``-1`` ignored), whether it was a holdout and whether the outcome
        happened."""
        if not hasattr(self, "counts_"):
            raise NotFittedError("this UpliftModel is not fitted yet; call fit() first.")
        W = self.weights(persona)
        journey = np.asarray(journey, dtype=np.int64)
        holdout = np.asarray(holdout, dtype=bool)
        outcome = np.asarray(outcome, dtype=np.float64)
        if not len(W) == len(journey) == len(holdout) == len(outcome):
            raise ConfigError(
                f"update() needs one persona, journey, holdout and outcome per point; got "
                f"{len(W)}, {len(journey)}, {len(holdout)} and {len(outcome)}."
            )
        ok = journey >= 0
        W, j, h, y = W[ok], journey[ok], holdout[ok], outcome[ok]
        W[:, 0] = 1.0  # the pooled row counts every point
        J = len(self.journeys_)
        batch = np.zeros_like(self.counts_)
        for col, flag, resp in ((0, ~h, 1), (2, h, 3)):
            onehot = np.zeros((len(j), J))
            onehot[np.arange(len(j)), j] = flag
            batch[:, :, col] = W.T @ onehot
            batch[:, :, resp] = W.T @ (onehot * y[:, None])
        # older evidence weighs less (a changing world)
        self.counts_ = self.counts_ * float(self.discount) + batch
        if getattr(self, "change_alpha", None) is not None:
            if not hasattr(self, "batches_"):  # loaded from a file: a new history
                self.batches_, self.changes_ = [], []
                self.regime_from_ = 0
            self.batches_.append(batch)
            drop_before_changes(self)
        if hasattr(self, "table_"):
            self._build()
        return self

    def weights(self, personas: Any) -> np.ndarray:
        """Persona weights per point, shape (points, ``len(personas_)``), column 0 the pooled
        row: one-hot for persona ids (unknown ids and -1 on the pooled row), the memberships
        for a DataFrame of them (the weight they miss on the pooled row)."""
        if not hasattr(self, "personas_"):
            raise NotFittedError("this UpliftModel is not fitted yet; call fit() first.")
        if isinstance(personas, pd.DataFrame):
            cols = check_memberships(personas)
            M = personas.to_numpy(dtype=np.float64, na_value=0.0)
            W = np.zeros((len(M), len(self.personas_)))
            pos = self._persona_index(np.array(cols, dtype=np.int64))
            for c, at in enumerate(pos):
                W[:, at] += M[:, c]  # a persona the model never saw goes to the pooled row
            rest = self._persona_index(np.array([UNPLACED]))[0]  # pooled when there is none
            W[:, rest] += np.clip(1.0 - W.sum(1), 0.0, None)
            return W
        idx = self._persona_index(np.asarray(personas, dtype=np.int64).reshape(-1))
        W = np.zeros((len(idx), len(self.personas_)))
        W[np.arange(len(idx)), idx] = 1.0
        return W

    def _persona_index(self, persona: np.ndarray) -> np.ndarray:
        """Row of each persona id (0, the pooled row, for ids the model does not know)."""
        pos = pd.Index(self.personas_).get_indexer(np.asarray(persona, dtype=np.int64))
        return np.where(pos < 0, 0, pos)

    def _posteriors(self) -> tuple[np.ndarray, ...]:
        """Beta parameters (a_t, b_t, a_c, b_c), shape (persona, journey)."""
        c = self.counts_
        k = float(self.prior_strength)
        n_t, y_t, n_c, y_c = c[..., 0], c[..., 1], c[..., 2], c[..., 3]
        pt0 = (y_t[0] + 0.5) / (n_t[0] + 1.0)
        pc0 = (y_c[0] + 0.5) / (n_c[0] + 1.0)
        priors = np.nan_to_num(self.priors_, nan=0.0)
        # a journey never held out: its control rate is the treated rate minus the prior uplift
        no_c = n_c[0] == 0
        pc0 = np.where(no_c, np.clip(pt0 - priors, 1e-3, 1), pc0)
        pooled = np.arange(len(c))[:, None] == 0
        if getattr(self, "shrinkage", "fixed") == "empirical":
            k_t = np.where(pooled, 0.0, _strength(n_t, y_t, k)[None, :])
            k_c = np.where(pooled, 0.0, _strength(n_c, y_c, k)[None, :])
        else:
            k_t = k_c = np.where(pooled, 0.0, k)
        a_t = y_t + 0.5 + k_t * pt0
        b_t = n_t - y_t + 0.5 + k_t * (1 - pt0)
        strong = np.where(no_c, 1e4, 0.0)  # pin the assumed control rate
        a_c = y_c + 0.5 + (k_c + strong) * pc0
        b_c = n_c - y_c + 0.5 + (k_c + strong) * (1 - pc0)
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

    def score(self, log: pd.DataFrame, personas: pd.Series | pd.DataFrame) -> float:
        """Mean log-likelihood per point of the outcomes of ``log``'s touches and holdouts
        under this model's posterior means (treated rate for a touch, control rate for a
        holdout): higher is better. On customers the model was not fitted on, it compares
        segmentations (e.g. personas at several granularities) by how well they predict the
        outcomes arbitration depends on.

        Examples
        --------
        >>> import pandas as pd
        >>> from journeymine.actions import Policy, UpliftModel
        >>> policy = Policy.from_dict({"journeys": [{"name": "offer", "channel": "email",
        ...     "activity": "email_sent"}], "response_window": "24h"})
        >>> log = pd.DataFrame({"customer_id": ["a", "a", "b"], "timestamp": [
        ...     "2025-01-01 09:00", "2025-01-01 10:00", "2025-01-01 09:00"],
        ...     "activity": ["email_sent", "purchase", "holdout"],
        ...     "journey_id": ["offer", None, "offer"]})
        >>> m = UpliftModel().fit(log, pd.Series([0, 0], index=["a", "b"]), policy)
        >>> m.score(log, pd.Series([0, 0], index=["a", "b"])) < 0
        True
        """
        self._fitted()
        if not hasattr(self, "policy_"):
            raise ConfigError("score() needs the model's policy: use a model fitted here.")
        cust, j, held, y = uplift_points(log, self.policy_)
        if not len(cust):
            raise ConfigError(
                "the log has no touch or holdout of the policy's journeys to score; pass a log "
                "with the touches (journey_id set) and holdout events."
            )
        if isinstance(personas, pd.DataFrame):
            x: Any = personas.reindex(cust).fillna(0.0)
        else:
            x = pd.Series(personas, dtype="float64").reindex(cust).fillna(-1).to_numpy()
        a_t, b_t, a_c, b_c = self._posteriors()
        W = self.weights(x)
        rate = np.where(
            held,
            (W @ (a_c / (a_c + b_c)))[np.arange(len(j)), j],
            (W @ (a_t / (a_t + b_t)))[np.arange(len(j)), j],
        )
        rate = np.clip(rate, 1e-9, 1 - 1e-9)
        return float(np.mean(np.where(y, np.log(rate), np.log1p(-rate))))

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save as a skops file (the counts, numpy arrays only) plus a JSON card
        (``path.with_suffix('.json')``: parameters, journeys, priors, checksums), each written
        atomically. Never pickle.

        Examples
        --------
        >>> import tempfile, pathlib, pandas as pd
        >>> from journeymine.actions import Policy, UpliftModel
        >>> policy = Policy.from_dict({"journeys": [{"name": "offer", "channel": "email",
        ...     "activity": "email_sent"}], "prior_rate": 0.05})
        >>> m = UpliftModel().fit(None, pd.Series([0, 1], index=["a", "b"]), policy)
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "uplift.skops"
        >>> again = UpliftModel.load(m.save(path))
        >>> bool((again.rates([0, 1]) == m.rates([0, 1])).all())
        True
        """
        self._fitted()
        return save_uplift(self, path)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> UpliftModel:
        """Load a model written by :meth:`save`, refusing (``ModelError``, with the reason and
        the fix) a missing or edited card, another kind of model, a newer format or another
        major version, a skops file that is not the card's, or types outside numpy arrays."""
        return load_uplift(path, cls)

    # -- answers -------------------------------------------------------------------------------
    def _fitted(self) -> None:
        if not hasattr(self, "table_"):
            raise NotFittedError("this UpliftModel is not fitted yet; call fit() first.")

    def rates(self, personas: Any) -> np.ndarray:
        """Expected uplift of each journey (columns) per point (rows): for persona ids (unknown
        ones and -1 get the pooled estimate), or for soft memberships (a DataFrame with one
        column per persona id, as in :meth:`fit`) the membership-weighted mean.

        Examples
        --------
        >>> import pandas as pd
        >>> from journeymine.actions import Policy, UpliftModel
        >>> policy = Policy.from_dict({"journeys": [{"name": "offer", "channel": "email",
        ...     "activity": "email_sent"}], "prior_rate": 0.05})
        >>> m = UpliftModel().fit(None, pd.Series([0, 1], index=["a", "b"]), policy)
        >>> soft = pd.DataFrame({0: [0.7], 1: [0.3]}, index=["c"])
        >>> m.rates(soft).shape
        (1, 1)
        """
        self._fitted()
        return self.weights(personas) @ self._mean

    def response_rates(self, personas: Any) -> np.ndarray:
        """Expected outcome rate after a touch (the raw response, organic included)."""
        self._fitted()
        a_t, b_t, _, _ = self._posteriors()
        return self.weights(personas) @ (a_t / (a_t + b_t))

    def evidence(self, personas: Any, last: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(touches, holdouts) counted for each point's persona row x journey (for
        memberships, the membership-weighted counts).

        Parameters
        ----------
        personas : array-like or DataFrame
            Persona ids or memberships, as in :meth:`rates`.
        last : int, optional
            Count only the last ``last`` batches (:meth:`update` calls; in the simulator one
            a day), undiscounted, without what the change test dropped. Needs
            ``change_alpha`` (the model then keeps its batches); a loaded model counts the
            batches since it was loaded. None (default): all evidence, discounted.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from journeymine.actions import Policy, UpliftModel
        >>> policy = Policy.from_dict({"journeys": [{"name": "offer", "channel": "email",
        ...     "activity": "email_sent"}], "prior_rate": 0.05})
        >>> m = UpliftModel(change_alpha=0.01).fit(None, pd.Series([0], index=["a"]), policy)
        >>> for day in range(3):  # 10 touches a day
        ...     _ = m.update(np.zeros(10, int), np.zeros(10, int), np.zeros(10, bool),
        ...                  np.zeros(10))
        >>> float(m.evidence([0])[0][0, 0]), float(m.evidence([0], last=2)[0][0, 0])
        (30.0, 20.0)
        """
        self._fitted()
        W = self.weights(personas)
        if last is None:
            return W @ self.counts_[:, :, 0], W @ self.counts_[:, :, 2]
        if isinstance(last, bool) or not isinstance(last, (int, np.integer)) or last < 1:
            raise ConfigError(f"last must be a number of batches >= 1 or None, got {last!r}.")
        if getattr(self, "change_alpha", None) is None:
            raise ConfigError(
                "evidence(last=...) needs the model's batches, which it keeps with a change "
                "test only: UpliftModel(change_alpha=0.01)."
            )
        recent = getattr(self, "batches_", [])[-int(last) :]
        c = np.sum(recent, axis=0) if recent else np.zeros_like(self.counts_)
        return W @ c[:, :, 0], W @ c[:, :, 2]

    def choice_certainty(
        self, policy: Policy | None = None, n_draws: int = 4000, random_state: int | None = 0
    ) -> pd.DataFrame:
        """Per persona, the best journey by expected net value and the probability, over the
        posteriors, that it is the best: low where the evidence cannot rank the journeys
        (:func:`~journeymine.actions.uplift_choice.choice_certainty`; a loaded model needs
        ``policy``)."""
        from journeymine.actions.uplift_choice import choice_certainty

        return choice_certainty(self, policy, n_draws=n_draws, random_state=random_state)

    def sample(self, personas: Any, rng: np.random.Generator) -> np.ndarray:
        """One posterior draw of every journey's uplift per point (Thompson sampling). For
        memberships the persona is drawn too (from the point's memberships), then the uplift
        from that persona's posterior: a draw from the mixture."""
        self._fitted()
        if not isinstance(rng, np.random.Generator):
            raise ConfigError(
                f"rng must be a numpy Generator (np.random.default_rng(seed)), got "
                f"{type(rng).__name__}."
            )
        W = self.weights(personas)
        if isinstance(personas, pd.DataFrame):
            cum = np.cumsum(W, axis=1)
            u = rng.random(len(W))[:, None] * cum[:, -1:]
            idx = np.minimum((cum <= u).sum(1), W.shape[1] - 1)
        else:
            idx = W.argmax(1)
        a_t, b_t, a_c, b_c = (x[idx] for x in self._posteriors())
        return rng.beta(a_t, b_t) - rng.beta(a_c, b_c)


def _strength(n: np.ndarray, y: np.ndarray, fallback: float) -> np.ndarray:
    """Empirical-Bayes pseudo-observations per journey (columns) for the persona rows of
    counts ``n`` and successes ``y`` (row 0: pooled): the Beta prior whose variance is the
    personas' spread beyond sampling noise (method of moments)."""
    m = (y[0] + 0.5) / (n[0] + 1.0)
    rows_n, rows_y = n[1:], y[1:]
    r = (rows_y + 0.5) / (rows_n + 1.0)
    total = rows_n.sum(0)
    seen = (rows_n >= 1.0).sum(0)
    spread = (rows_n * (r - m) ** 2).sum(0) / np.maximum(total, 1e-12)
    noise = m * (1 - m) * (rows_n / (rows_n + 1.0)).sum(0) / np.maximum(total, 1e-12)
    tau2 = spread - noise
    k = np.where(tau2 > 0, m * (1 - m) / np.maximum(tau2, 1e-300) - 1.0, np.inf)
    k = np.clip(k, 0.0, n[0])
    return np.where(seen >= 2, k, fallback)
