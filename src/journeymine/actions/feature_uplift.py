"""Expected incremental response per *customer*, from their persona memberships and features.

:class:`~journeymine.actions.UpliftModel` gives every customer the membership-weighted uplift of
the persona cells, so customers of one cell share one estimate even when the cell mixes
personas whose best journeys differ (and the customers the miner leaves out share one
"unplaced" row). :class:`FeatureUplift` adds what the customer's own features say: per journey,
an L2-penalised logistic regression of the outcome on ``x`` = [the memberships, a few principal
components of the standardised features], a treatment flag and its interaction with ``x``,
fitted on the log's touches (treated) and holdouts (control), the same points as the cell model.
A customer's feature uplift is the predicted outcome rate with the touch minus without it; the
rate used for decisions is ``blend`` x that + ``(1 - blend)`` x the cell model's uplift for the
customer. A journey without touches and holdouts, or without an outcome and a non-outcome among
them, keeps the cell model's uplift.

The strong default penalty (``C=0.03``) pulls the feature uplifts towards small values (on
#13's simulator to about half of the cells' on average); with the blend the result ranks
customers by their features while the cell model, updated with every outcome
(:meth:`FeatureUplift.update`), keeps learning. The blend is fixed, not set by the evidence: on a
thin log the feature uplifts are near 0 and the blended uplift is below the cells' (a cold start,
``log=None``, gives the cells' own); lower ``blend`` there. The defaults were chosen on #13's
simulator (tuning seeds 401-408: mined memberships, a 14-day random pilot, 21 days of decisions;
see ``benchmarks/bench_actions.py``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from journeymine.actions.policy import Policy
from journeymine.actions.uplift import UpliftModel, _points, check_memberships
from journeymine.exceptions import ConfigError, NotFittedError

__all__ = ["FeatureUplift"]


class FeatureUplift(BaseEstimator):
    """Per-customer uplift from persona memberships and customer features, blended with the
    persona cells of an :class:`~journeymine.actions.UpliftModel`.

    Parameters
    ----------
    base : UpliftModel, optional
        The cell model (cloned and fitted by :meth:`fit`; default ``UpliftModel()``).
    n_components : int, default 8
        Principal components of the standardised features used (at most the number of
        feature columns and customers).
    C : float, default 0.03
        Inverse L2 strength of the per-journey logistic regressions (scikit-learn's ``C``).
    blend : float, default 0.75
        Weight of the feature model in the uplift used for decisions, in [0, 1]; 0 gives the
        cell model's uplift.
    max_iter : int, default 3000
        Iterations of the logistic regressions' solver.
    random_state : int, default 0
        Seeds the principal components.

    Attributes
    ----------
    base_ : UpliftModel
        The fitted cell model (updated by :meth:`update`).
    scaler_, pca_ : StandardScaler, PCA
        The features' standardisation and principal components.
    components_ : DataFrame
        Standardised components per customer of the features given to :meth:`fit`.
    models_ : list of LogisticRegression or None
        Per journey of the policy; None where the journey keeps the cell model's uplift.
    journeys_ : list of str

    Examples
    --------
    Two kinds of customer share one persona cell; a feature tells them apart, and only the
    customers with the high feature respond to the touch:

    >>> import numpy as np, pandas as pd
    >>> from journeymine.actions import Policy
    >>> policy = Policy.from_dict({"journeys": [{"name": "offer", "channel": "email",
    ...     "activity": "email_sent"}], "response_window": "24h"})
    >>> rng = np.random.default_rng(0)
    >>> ids = [f"c{i}" for i in range(800)]
    >>> high = np.arange(800) % 2 == 1
    >>> rows = []
    >>> for i, c in enumerate(ids):
    ...     touched = rng.random() < 0.5
    ...     rows.append((c, "2025-01-01 09:00", "email_sent" if touched else "holdout", "offer"))
    ...     if rng.random() < 0.05 + (0.3 if touched and high[i] else 0.0):
    ...         rows.append((c, "2025-01-01 12:00", "purchase", None))
    >>> log = pd.DataFrame(rows, columns=["customer_id", "timestamp", "activity", "journey_id"])
    >>> one_cell = pd.DataFrame({0: np.ones(800)}, index=ids)
    >>> feats = pd.DataFrame({"f": high + rng.normal(0, 0.3, 800)}, index=ids)
    >>> m = FeatureUplift(n_components=1, blend=1.0).fit(log, one_cell, feats, policy)
    >>> up = m.rates(one_cell)[:, 0]
    >>> bool(up[high].mean() > 2 * up[~high].mean())
    True
    """

    def __init__(
        self,
        *,
        base: UpliftModel | None = None,
        n_components: int = 8,
        C: float = 0.03,
        blend: float = 0.75,
        max_iter: int = 3000,
        random_state: int = 0,
    ) -> None:
        self.base = base
        self.n_components = n_components
        self.C = C
        self.blend = blend
        self.max_iter = max_iter
        self.random_state = random_state

    def _check_params(self) -> None:
        if self.base is not None and not isinstance(self.base, UpliftModel):
            raise ConfigError(
                f"base must be an UpliftModel (e.g. UpliftModel(prior_strength=5)) or None, "
                f"got {type(self.base).__name__}."
            )
        for name in ("n_components", "max_iter"):
            n = getattr(self, name)
            if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {n!r}.")
        if not isinstance(self.C, int | float) or isinstance(self.C, bool) or not self.C > 0:
            raise ConfigError(
                f"C must be > 0 (the inverse L2 strength; smaller pulls the feature uplifts "
                f"harder towards 0), got {self.C!r}."
            )
        b = self.blend
        if not isinstance(b, int | float) or isinstance(b, bool) or not 0 <= b <= 1:
            raise ConfigError(
                f"blend must be in [0, 1] (the feature model's weight; 0 is the cell model), "
                f"got {self.blend!r}."
            )

    def fit(
        self,
        log: pd.DataFrame | None,
        memberships: pd.DataFrame,
        features: pd.DataFrame,
        policy: Policy,
    ) -> FeatureUplift:
        """Fit the cell model and, per journey, the feature model on ``log``'s touches and
        holdouts.

        Parameters
        ----------
        log : DataFrame or None
            Canonical log with the policy's touches and holdouts (``journey_id`` set), as for
            :meth:`UpliftModel.fit`; None for a cold start (the cells' priors only).
        memberships : DataFrame
            Soft memberships indexed by customer_id, one column per persona id (e.g. the
            third value of ``PersonaMiner.membership``).
        features : DataFrame
            Numeric customer features indexed by customer_id (e.g. ``miner.features_``);
            customers missing from it get the mean components.
        policy : Policy
        """
        self._check_params()
        if not isinstance(policy, Policy):
            raise ConfigError(f"policy must be a Policy, got {type(policy).__name__}.")
        if not isinstance(memberships, pd.DataFrame):
            raise ConfigError(
                f"memberships must be a DataFrame of soft memberships (customers x persona ids, "
                f"e.g. PersonaMiner.membership(...)[2]), got {type(memberships).__name__}; for "
                f"hard labels use UpliftModel."
            )
        check_memberships(memberships)
        X = _numeric(features)
        base = UpliftModel() if self.base is None else clone(self.base)
        self.base_ = base.fit(log, memberships, policy)
        self.journeys_ = list(self.base_.journeys_)
        k = int(min(self.n_components, X.shape[1], X.shape[0]))
        self.scaler_ = StandardScaler().fit(X)
        self.pca_ = PCA(k, random_state=self.random_state).fit(self.scaler_.transform(X))
        comps = self.pca_.transform(self.scaler_.transform(X))
        self._comp_scale = StandardScaler().fit(comps)
        self.components_ = pd.DataFrame(
            self._comp_scale.transform(comps), index=features.index.astype(str)
        )
        self.models_: list[LogisticRegression | None] = [None] * len(self.journeys_)
        cust, j, held, y = _points(log, policy) if log is not None else ([], [], [], [])
        if len(cust):
            A = self._design(memberships.reindex(cust).fillna(0.0))
            t = (~np.asarray(held, dtype=bool)).astype(np.float64)[:, None]
            y = np.asarray(y, dtype=bool)
            for jj in range(len(self.journeys_)):
                s = np.asarray(j) == jj
                arms, outcomes = np.unique(t[s]), np.unique(y[s])
                if len(arms) < 2 or len(outcomes) < 2:
                    continue  # nothing to contrast: the cell model's uplift
                D = np.hstack([A[s], t[s], A[s] * t[s]])
                clf = LogisticRegression(C=float(self.C), max_iter=int(self.max_iter))
                self.models_[jj] = clf.fit(D, y[s])
        return self

    def _fitted(self) -> None:
        if not hasattr(self, "models_"):
            raise NotFittedError("this FeatureUplift is not fitted yet; call fit() first.")

    def _design(self, memberships: pd.DataFrame) -> np.ndarray:
        """[persona weights without the pooled row, components] per row of ``memberships``."""
        W = self.base_.weights(memberships)[:, 1:]
        Z = self.components_.reindex(memberships.index.astype(str)).fillna(0.0).to_numpy()
        return np.hstack([W, Z])

    def _check_input(self, memberships: Any) -> pd.DataFrame:
        self._fitted()
        if not isinstance(memberships, pd.DataFrame):
            raise ConfigError(
                f"FeatureUplift needs the customers' soft memberships as a DataFrame indexed by "
                f"customer_id (the features are looked up by it), got "
                f"{type(memberships).__name__}."
            )
        return memberships

    def feature_rates(self, memberships: pd.DataFrame) -> np.ndarray:
        """The feature model's uplift per customer (rows) and journey (columns): outcome rate
        with the touch minus without it (the cell model's where a journey has no model)."""
        m = self._check_input(memberships)
        out = self.base_.rates(m)
        A = self._design(m)
        one, zero = np.ones((len(A), 1)), np.zeros((len(A), 1))
        for jj, clf in enumerate(self.models_):
            if clf is not None:
                p1 = clf.predict_proba(np.hstack([A, one, A]))[:, 1]
                p0 = clf.predict_proba(np.hstack([A, zero, 0.0 * A]))[:, 1]
                out[:, jj] = p1 - p0
        return out

    def rates(self, memberships: pd.DataFrame) -> np.ndarray:
        """Expected uplift per customer (rows) and journey (columns): ``blend`` x the feature
        model's + ``(1 - blend)`` x the cell model's."""
        m = self._check_input(memberships)
        b = float(self.blend)
        return b * self.feature_rates(m) + (1 - b) * self.base_.rates(m)

    def sample(self, memberships: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
        """One draw for Thompson sampling: the cell model's posterior draw in the cell part,
        the feature model's estimate in the rest."""
        m = self._check_input(memberships)
        b = float(self.blend)
        return b * self.feature_rates(m) + (1 - b) * self.base_.sample(m, rng)

    def update(self, *args: Any, **kwargs: Any) -> FeatureUplift:
        """Add outcomes to the cell model (:meth:`UpliftModel.update`); the feature model keeps
        what :meth:`fit` learned."""
        self._fitted()
        self.base_.update(*args, **kwargs)
        return self

    def weights(self, memberships: Any) -> np.ndarray:
        """The cell model's persona weights (:meth:`UpliftModel.weights`)."""
        self._fitted()
        return self.base_.weights(memberships)

    def evidence(self, memberships: Any) -> tuple[np.ndarray, np.ndarray]:
        """The cell model's evidence (:meth:`UpliftModel.evidence`)."""
        self._fitted()
        return self.base_.evidence(memberships)


def _numeric(features: Any) -> np.ndarray:
    """The features as a finite float matrix (missing values at the column mean), checked."""
    if not isinstance(features, pd.DataFrame) or features.shape[1] == 0 or len(features) < 2:
        raise ConfigError(
            "features must be a DataFrame indexed by customer_id with at least one numeric "
            "column and two customers (e.g. PersonaMiner(...).fit(log).features_)."
        )
    bad = [c for c in features.columns if not pd.api.types.is_numeric_dtype(features[c])]
    if bad:
        raise ConfigError(
            f"features must be numeric; columns {bad[:5]} are not (drop or encode them)."
        )
    X = features.astype(np.float64)
    if np.isinf(X.to_numpy()).any():
        raise ConfigError("features must be finite; replace the infinite values.")
    return X.fillna(X.mean()).fillna(0.0).to_numpy()
