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

The penalty ``C`` and the ``blend`` are chosen per fit on the log itself (``"auto"``, the
default): 5-fold cross-validation over customers (every point of a customer in one fold),
scored by the log-loss of the held-out points' outcomes (touched and held out alike) under the
blended outcome rate ``blend`` x the feature model's rate + ``(1 - blend)`` x the cells' rate
for the arm the point was in (whose uplift is exactly the blended uplift). ``C`` is the
penalty of least loss; the blend is the *smallest* whose loss is within one standard error
(paired, over customers) of the least (the one-standard-error rule): the cells unless the
features are shown to help beyond noise. See :class:`FeatureUplift` for why this criterion.

On #13's simulator (``benchmarks/bench_actions.py``, ``feature_uplift_table``; mined
memberships, a random pilot, 21 days of decisions) the cross-validation is cautious. 2,000
customers and a 14-day pilot: it mostly takes C 0.1 and blend 0.25 (0 on 5 of 16 worlds), and
earns min/median 0.885/0.955 of the oracle on tuning seeds 401-408 and 0.932/0.967 on fresh
seeds 433-440, against 0.879/0.947 and 0.930/0.956 for the cells alone and 0.941/0.980 and
0.934/0.973 for ``C=0.03, blend=0.75``, the settings tuned on seeds 401-408 (pass them to use
the simulator's choice). 500 customers and a 7-day pilot (seeds 401-408): 0.733/0.879 chosen,
0.682/0.886 cells, 0.794/0.893 tuned. What the choice buys is that it needs no simulator: on
a log whose features say nothing it keeps the cells (``tests/actions/test_feature_uplift.py``),
where a fixed blend would mix noise into the decisions.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from journeymine.actions._feature_uplift_cv import (
    SOLVER,
    Points,
    contrast,
    cross_validate,
    interact,
    predicted_uplift,
)
from journeymine.actions._feature_uplift_save import (
    TRUSTED_TYPES,
    load_feature_uplift,
    save_feature_uplift,
)
from journeymine.actions.policy import Policy
from journeymine.actions.uplift import UNPLACED, UpliftModel
from journeymine.actions.uplift_points import check_memberships, uplift_points
from journeymine.exceptions import ConfigError, NotFittedError

__all__ = ["BLEND_GRID", "C_GRID", "N_FOLDS", "TRUSTED_TYPES", "FeatureUplift"]

#: Penalties tried when ``C="auto"`` (scikit-learn's inverse L2 strength), weakest last.
C_GRID: tuple[float, ...] = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
#: Weights of the feature model tried when ``blend="auto"``, the cells (0) first.
BLEND_GRID: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
#: Folds over customers of the cross-validation.
N_FOLDS = 5
_AUTO = "auto"


@dataclass(kw_only=True, eq=False, repr=False)  # BaseEstimator's repr, identity eq/hash
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
    C : "auto" or float, default "auto"
        Inverse L2 strength of the per-journey logistic regressions (scikit-learn's ``C``);
        ``"auto"`` chooses it from :data:`C_GRID` by cross-validation on the log.
    blend : "auto" or float, default "auto"
        Weight of the feature model in the uplift used for decisions, in [0, 1]; 0 gives the
        cell model's uplift. ``"auto"`` chooses it from :data:`BLEND_GRID` by
        cross-validation (the one-standard-error rule towards 0).
    max_iter : int, default 3000
        Iterations of the logistic regressions' solver.
    random_state : int, default 0
        Seeds the principal components and the cross-validation folds.

    Attributes
    ----------
    base_ : UpliftModel
        The fitted cell model (updated by :meth:`update`).
    C_ : float or None
        The penalty used (None when no journey had a feature model to fit).
    blend_ : float
        The blend used (0.0 for ``"auto"`` when nothing could be cross-validated).
    cv_ : DataFrame
        One row per (C, blend) tried: ``C``, ``blend``, ``log_loss`` (mean per held-out
        point, the criterion), ``uplift_mse`` (mean squared error of the blended uplift
        against the transformed outcome, for comparison; not used to choose), ``excess`` (over
        the least loss at the chosen C), ``se`` (its paired standard error over customers),
        ``chosen``. Empty when neither setting is ``"auto"`` or the log has nothing to
        contrast.
    scaler_, pca_ : StandardScaler, PCA
        The features' standardisation and principal components.
    components_ : DataFrame
        Standardised components per customer of the features given to :meth:`fit`.
    models_ : list of LogisticRegression or None
        Per journey of the policy; None where the journey keeps the cell model's uplift.
    journeys_ : list of str

    Notes
    -----
    Why this criterion: the log-loss (Bernoulli deviance) of held-out outcomes is a proper
    scoring rule, and every held-out touch and holdout counts, with no propensity to estimate
    (the pilot's share of holdouts differs per journey and per customer's eligibility). It is
    the criterion of :meth:`UpliftModel.score`. The transformed outcome (``y x (t/e - (1-t)/(1-
    e))``, whose squared error targets the uplift alone) weighs each point by ``1/e`` or
    ``1/(1-e)``: at a pilot's size (a few thousand points per journey, a few percent
    responding) its variance swamps the differences between the candidates. The log-loss
    also rewards the baseline rate: the one-standard-error rule keeps the cells unless the
    features lower the loss beyond noise.

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
    >>> m = FeatureUplift(n_components=1).fit(log, one_cell, feats, policy)
    >>> m.blend_ > 0, m.C_ in C_GRID
    (True, True)
    >>> up = m.rates(one_cell)[:, 0]
    >>> bool(up[high].mean() > 2 * up[~high].mean())
    True
    """

    base: UpliftModel | None = None
    n_components: int = 8
    C: float | str = _AUTO
    blend: float | str = _AUTO
    max_iter: int = 3000
    random_state: int = 0

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
        rs = self.random_state
        if isinstance(rs, bool) or not isinstance(rs, int | np.integer) or rs < 0:
            raise ConfigError(
                f"random_state must be an integer >= 0 (it seeds the components and the "
                f"cross-validation folds), got {rs!r}."
            )
        c = _number(self.C)
        if not _is_auto(self.C) and (c is None or not c > 0):
            raise ConfigError(
                f"C must be 'auto' (chosen by cross-validation on the log) or a number > 0 (the "
                f"inverse L2 strength; smaller pulls the feature uplifts harder towards 0), got "
                f"{self.C!r}."
            )
        b = _number(self.blend)
        if not _is_auto(self.blend) and (b is None or not 0 <= b <= 1):
            raise ConfigError(
                f"blend must be 'auto' (chosen by cross-validation on the log) or a number in "
                f"[0, 1] (the feature model's weight; 0 is the cell model), got {self.blend!r}."
            )

    def fit(
        self,
        log: pd.DataFrame | None,
        memberships: pd.DataFrame,
        features: pd.DataFrame,
        policy: Policy,
    ) -> FeatureUplift:
        """Fit the cell model and, per journey, the feature model on ``log``'s touches and
        holdouts, choosing ``C`` and ``blend`` by cross-validation where they are ``"auto"``.

        The fit depends on the content of ``log``, ``memberships`` and ``features``, not on
        their row order: the points are taken by customer id and time, the folds dealt over
        the sorted customer ids (with ``random_state``), the features sorted by customer id.

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
        ids, X = _numeric(features)
        base = UpliftModel() if self.base is None else clone(self.base)
        self.base_ = base.fit(log, memberships, policy)
        self.journeys_ = list(self.base_.journeys_)
        k = int(min(self.n_components, X.shape[1], X.shape[0]))
        self.scaler_ = StandardScaler().fit(X)
        self.pca_ = PCA(k, random_state=self.random_state).fit(self.scaler_.transform(X))
        comps = self.pca_.transform(self.scaler_.transform(X))
        self._comp_scale = StandardScaler().fit(comps)
        self.components_ = pd.DataFrame(self._comp_scale.transform(comps), index=ids)
        self.models_: list[LogisticRegression | None] = [None] * len(self.journeys_)
        auto_c, auto_b = _is_auto(self.C), _is_auto(self.blend)
        self.C_: float | None = None if auto_c else float(self.C)
        self.blend_ = 0.0 if auto_b else float(self.blend)
        self.cv_ = pd.DataFrame(
            columns=["C", "blend", "log_loss", "uplift_mse", "excess", "se", "chosen"]
        )
        cust, j, held, y = (
            uplift_points(log, policy) if log is not None and len(log) else ([], [], [], [])
        )
        if not len(cust):
            return self
        pts = Points(
            np.asarray(cust, dtype=object),
            np.asarray(j, dtype=np.int64),
            (~np.asarray(held, dtype=bool)).astype(np.float64),
            np.asarray(y, dtype=bool),
            self._design(memberships.reindex(cust).fillna(0.0)),
        )
        fits = [jj for jj in range(len(self.journeys_)) if contrast(pts, pts.j == jj)]
        if not fits:
            return self  # nothing to contrast anywhere: the cell model's uplift
        if auto_c or auto_b:  # chosen by cross-validation over customers on the log
            self.C_, self.blend_, self.cv_ = cross_validate(
                pts,
                memberships,
                policy,
                base=self.base,
                Cs=C_GRID if auto_c else (float(self.C),),
                blends=BLEND_GRID if auto_b else (float(self.blend),),
                auto_blend=auto_b,
                n_folds=N_FOLDS,
                random_state=int(self.random_state),
                max_iter=int(self.max_iter),
            )
        for jj in fits:
            s = pts.j == jj
            clf = LogisticRegression(
                C=float(self.C_ or 1.0), solver=SOLVER, max_iter=int(self.max_iter)
            )
            self.models_[jj] = clf.fit(interact(pts.A[s], pts.t[s]), pts.y[s])
        return self

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Save as a skops file (numpy arrays only: the customers' components, the per-journey
        coefficients, the feature transforms) plus a JSON card (``path.with_suffix('.json')``:
        parameters, the chosen ``C_`` and ``blend_``, journeys, the cross-validation table,
        checksums), and the cell model beside them as ``<stem>-cells.skops`` with its own card
        (:meth:`UpliftModel.save`); each file written atomically. The card's checksum covers
        the skops bytes, everything that changes the uplifts and the cell model's card
        checksum. Never pickle. Returns ``path``.

        Examples
        --------
        >>> import tempfile, pathlib, numpy as np, pandas as pd
        >>> from journeymine.actions import Policy
        >>> policy = Policy.from_dict({"journeys": [{"name": "offer", "channel": "email",
        ...     "activity": "email_sent"}], "prior_rate": 0.05})
        >>> soft = pd.DataFrame({0: [1.0, 1.0]}, index=["a", "b"])
        >>> feats = pd.DataFrame({"f": [0.0, 1.0]}, index=["a", "b"])
        >>> m = FeatureUplift().fit(None, soft, feats, policy)
        >>> path = m.save(pathlib.Path(tempfile.mkdtemp()) / "feature_uplift.skops")
        >>> sorted(p.suffix for p in path.parent.iterdir())  # the model's pair, the cells' pair
        ['.json', '.json', '.skops', '.skops']
        >>> bool(np.array_equal(FeatureUplift.load(path).rates(soft), m.rates(soft)))
        True
        """
        self._fitted()
        return save_feature_uplift(self, path)

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], *, trusted: Collection[str] | None = None
    ) -> FeatureUplift:
        """Load a model written by :meth:`save`, refusing (``ModelError``, with the reason and
        the fix) a missing or edited card, another kind of model, a newer format or another
        major version, a skops file that is not the card's, a cell model that is not the one
        saved with it, or a file naming a type outside ``trusted``.

        A loaded model's ``base`` parameter is a new UpliftModel with the saved one's
        parameters; ``base_`` is the saved cell model, which goes on learning with
        :meth:`update`.

        Parameters
        ----------
        path : str or PathLike
            The ``.skops`` file :meth:`save` wrote (its card and the cells' pair beside it).
        trusted : list of str, optional
            The types the skops file may hold, checked in its schema before anything is built;
            default (and the widest allowed) :data:`TRUSTED_TYPES`: ``builtins.dict``,
            ``builtins.list``, ``builtins.str``, ``numpy.ndarray``. A narrower list refuses
            more; a wider one is a ``ConfigError``.
        """
        return load_feature_uplift(path, cls, trusted)

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
        for jj, clf in enumerate(self.models_):
            if clf is not None:
                out[:, jj] = predicted_uplift(clf, A)
        return out

    def rates(self, memberships: pd.DataFrame) -> np.ndarray:
        """Expected uplift per customer (rows) and journey (columns): ``blend_`` x the feature
        model's + ``(1 - blend_)`` x the cell model's."""
        m = self._check_input(memberships)
        b = float(self.blend_)
        return b * self.feature_rates(m) + (1 - b) * self.base_.rates(m)

    @property
    def persona_ids_(self) -> list[int]:
        """The persona ids the model was fitted with (the columns of the memberships given
        to :meth:`fit`), sorted; the membership rows of :meth:`customer_rates` name them."""
        self._fitted()
        return sorted(int(p) for p in self.base_.personas_ if p >= 0)

    def customer_rates(
        self,
        memberships: Any,
        customer_id: str,
        personas: Sequence[int] | None = None,
    ) -> np.ndarray:
        """Expected uplift of every journey for ONE customer, in plain numpy: :meth:`rates` of
        a one-row membership table, without building one (for a live service deciding one
        customer at a time).

        Parameters
        ----------
        memberships : array-like of float, shape (n_personas,)
            The customer's soft memberships (e.g. an assignment model's persona
            probabilities), values in [0, 1] summing to at most 1.
        customer_id : str
            Looks up the customer's components (:attr:`components_`); a customer the model was
            not fitted with gets zero components (the mean customer), as in :meth:`rates`.
        personas : sequence of int, optional
            The persona id of each entry of ``memberships``; default :attr:`persona_ids_`. An id
            the model does not know counts on the pooled row, as in :meth:`rates`.

        Returns
        -------
        ndarray of float, shape (n_journeys,)
            Equal to ``rates(pd.DataFrame([memberships], index=[customer_id],
            columns=personas))[0]`` up to floating-point rounding (the same arithmetic on one
            row).

        Raises
        ------
        ConfigError
            ``memberships`` is not one probability per persona.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> from journeymine.actions import Policy
        >>> policy = Policy.from_dict({"journeys": [{"name": "offer", "channel": "email",
        ...     "activity": "email_sent"}], "prior_rate": 0.05})
        >>> soft = pd.DataFrame({0: [0.9, 0.2], 1: [0.1, 0.8]}, index=["a", "b"])
        >>> feats = pd.DataFrame({"f": [0.0, 1.0]}, index=["a", "b"])
        >>> m = FeatureUplift().fit(None, soft, feats, policy)
        >>> m.persona_ids_
        [0, 1]
        >>> one = m.customer_rates(np.array([0.2, 0.8]), "b")
        >>> bool(np.allclose(one, m.rates(soft.loc[["b"]])[0]))
        True
        """
        pos, rest, comps, index, coef, intercept, fitted = self._row_plan(personas)
        m = np.asarray(memberships, dtype=np.float64).reshape(-1)
        if (
            len(m) != len(pos)
            or not np.isfinite(m).all()
            or (len(m) and (m.min() < 0 or m.max() > 1 or m.sum() > 1 + 1e-6))
        ):
            raise ConfigError(
                f"memberships must be {len(pos)} probabilities (one per persona "
                f"{self.persona_ids_ if personas is None else list(personas)}, in [0, 1], "
                f"summing to at most 1), got {np.asarray(memberships).tolist()!r:.120}."
            )
        W = np.zeros(len(self.base_.personas_))
        for c, at in enumerate(pos):
            W[at] += m[c]  # a persona the model never saw goes to the pooled row
        W[rest] += max(1.0 - W.sum(), 0.0)
        cells = W @ self.base_._mean
        if not fitted:
            return cells
        try:
            row = index.get_loc(str(customer_id))
        except KeyError:
            row = None
        if row is not None and not isinstance(row, int | np.integer):
            raise ConfigError(
                f"customer {customer_id!r} has several rows of components; fit the model on "
                f"features with one row per customer."
            )
        z = np.zeros(comps.shape[1]) if row is None else comps[row]
        A = np.concatenate([W[1:], z])
        treated = np.concatenate([A, [1.0], A])
        control = np.concatenate([A, [0.0], np.zeros_like(A)])
        p1 = _expit(coef @ treated + intercept)
        p0 = _expit(coef @ control + intercept)
        feature = cells.copy()
        feature[fitted] = p1 - p0
        b = float(self.blend_)
        return b * feature + (1 - b) * cells

    def _row_plan(self, personas: Sequence[int] | None) -> tuple[Any, ...]:
        """What :meth:`customer_rates` needs, built once per (fitted model, persona ids): each
        persona's row of the cell model, the row of the unplaced weight, the components as a
        matrix and their index, the stacked coefficients and which journeys have them."""
        self._fitted()
        key = None if personas is None else tuple(int(p) for p in personas)
        plan = getattr(self, "_plan", None)
        if (
            plan is not None
            and plan[0] == key
            and plan[1] is self.base_
            and plan[2] is self.models_
            and plan[3] is self.components_
        ):
            return plan[4]
        ids = self.persona_ids_ if key is None else list(key)
        if any(p < 0 for p in ids) or len(set(ids)) != len(ids):
            raise ConfigError(
                f"personas must be distinct persona ids >= 0 (one per membership), got {ids}."
            )
        rows = {int(p): k for k, p in enumerate(self.base_.personas_)}
        pos = [rows.get(int(p), 0) for p in ids]
        rest = rows.get(UNPLACED, 0)
        fitted = [jj for jj, clf in enumerate(self.models_) if clf is not None]
        clfs = [clf for clf in self.models_ if clf is not None]
        coef = np.array([clf.coef_[0] for clf in clfs], dtype=np.float64)
        intercept = np.array([clf.intercept_[0] for clf in clfs], dtype=np.float64)
        comps = self.components_.to_numpy(dtype=np.float64)
        built = (pos, rest, comps, self.components_.index, coef, intercept, fitted)
        self._plan = (key, self.base_, self.models_, self.components_, built)
        return built

    def sample(self, memberships: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
        """One draw for Thompson sampling: the cell model's posterior draw in the cell part,
        the feature model's estimate in the rest."""
        m = self._check_input(memberships)
        b = float(self.blend_)
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


def _expit(z: np.ndarray) -> np.ndarray:
    """The logistic function, as the logistic regressions' ``predict_proba`` applies it."""
    from scipy.special import expit

    return np.asarray(expit(z))


def _is_auto(value: Any) -> bool:
    return isinstance(value, str) and value == _AUTO


def _number(value: Any) -> float | None:
    """``value`` as a float if it is a number (not a bool), else None."""
    if isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool):
        return float(value)
    return None


def _numeric(features: Any) -> tuple[pd.Index, np.ndarray]:
    """The customer ids (as strings) and the features as a finite float matrix (missing values
    at the column mean), checked; rows sorted by id, so that what is fitted on them does not
    depend on their row order."""
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
    ids = features.index.astype(str)
    order = np.argsort(np.asarray(ids, dtype=object), kind="stable")
    X = features.iloc[order].astype(np.float64)
    if np.isinf(X.to_numpy()).any():
        raise ConfigError("features must be finite; replace the infinite values.")
    return ids[order], X.fillna(X.mean()).fillna(0.0).to_numpy()
