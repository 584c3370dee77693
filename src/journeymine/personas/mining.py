"""Persona mining: features -> a view -> reduce -> cluster, with settings derived from the data.

Pipeline of :class:`PersonaMiner`
---------------------------------
1. **Features**: :class:`~journeymine.personas.CustomerFeaturizer` on the log (or a feature
   frame given directly).
2. **Eligibility**: customers with fewer than ``min_events`` events get ``-1`` with reason
   ``"too few events"``: their features are too noisy to place.
3. **View** (``method="mixture"``, the default): the vocabulary-free feature families of
   :mod:`journeymine.personas.view`, each column weighed by its split-half reliability.
   ``method="density"``: the role-based :data:`DEFAULT_PERSONA_FEATURES`, standard (or robust)
   scaling clipped to +-5, constant columns dropped.
4. **Reduction**: PCA (or TruncatedSVD): 92% of the view's variance for the mixture; searched
   for the density method.
5. **Clustering**: the consensus Gaussian mixture of :mod:`journeymine.personas.mixture`
   (customers weighed by how well their behaviour is measured, the count scanned), or the
   HDBSCAN search and neighbour vote of :mod:`journeymine.personas.density`, on a random
   subsample of at most ``max_fit_samples`` eligible customers; every eligible customer is then
   labelled (``-1`` = noise).
6. **Quality**: noise share, silhouette on at most 5,000 clustered customers, stability (the
   adjusted Rand index between the fit's labels and refits on ``n_bootstrap`` resamples), and
   the persona pairs no profile tells apart.

Examples
--------
>>> from journeymine.datasets import make_journeys
>>> log = make_journeys(n_customers=600, days=90, random_state=0).events
>>> miner = PersonaMiner(min_events=10, n_bootstrap=0, random_state=0).fit(log)
>>> int(miner.labels_.max()) >= 1
True
>>> set(miner.label_reasons_.unique()) <= {"persona", "noise", "too few events"}
True
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin

from journeymine.compat import positional_deprecated
from journeymine.exceptions import ConfigError
from journeymine.personas.density import (
    Vote,
    density_search,
    extend_vote,
    hdbscan_clusterer,
)
from journeymine.personas.features import CustomerFeaturizer, _check_fitted
from journeymine.personas.miner_inputs import (
    MIN_EVENTS,
    MIN_EVENTS_FLOOR,
    check_enough_eligible,
    check_halves,
    check_miner_params,
    checked_min_events,
    event_counts,
    feature_frame,
    is_log,
    min_persona_size,
    resolve_min_events,
)
from journeymine.personas.miner_labels import (
    customer_labels,
    mixture_membership,
    persona_centroids,
)
from journeymine.personas.miner_view import (
    customer_evidence,
    fit_reducer,
    fit_view,
    mixture_dimensions,
    view_of,
)
from journeymine.personas.mixture import MAX_OVERLAP
from journeymine.personas.persona_ids import label_mapping, map_labels
from journeymine.personas.persona_law import (
    PersonaLaw,
    fit_persona_law,
    half_features,
    session_views,
)
from journeymine.personas.quality import fit_quality
from journeymine.personas.view import (
    DEFAULT_PERSONA_FEATURES,
    FAMILY_PERSONA_FEATURES,
    select_features,
)

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_PERSONA_FEATURES",
    "FAMILY_PERSONA_FEATURES",
    "PersonaMiner",
    "select_features",
]


@positional_deprecated(("min_cluster_size", "n_components", "random_state"))
@dataclass(kw_only=True, eq=False, repr=False)  # BaseEstimator's repr, identity eq/hash
class PersonaMiner(ClusterMixin, BaseEstimator):
    """Behavioural personas: a Gaussian mixture over a reliability-weighted, vocabulary-free view
    of customer features (default), or density clustering (HDBSCAN).

    Parameters
    ----------
    min_cluster_size : int, optional
        Smallest persona, in customers of the fitted subsample. Default: searched among 1% and
        2% of the fitted customers (at least 10) for ``"density"``; 1% (at least 10) for
        ``"mixture"``, whose count scan stops before a smaller persona.
    n_components : int, optional
        Dimensions after reduction. Default: searched among the counts reaching 50/60/70% of
        the variance.
    min_samples : int, optional
        HDBSCAN ``min_samples`` (density smoothing). Default: searched among 10 and 20.
    method : {"mixture", "density"}, default "mixture"
        ``"density"``: HDBSCAN on :data:`DEFAULT_PERSONA_FEATURES`
        (:mod:`journeymine.personas.density`).
        ``"mixture"``: the vocabulary-free family view (:mod:`journeymine.personas.view`,
        every family at equal weight), PCA to 92% of its variance, and a tied-covariance
        Gaussian mixture chosen by consensus over 6 resampled fits
        (:mod:`journeymine.personas.mixture`); the persona count is the largest at which no
        two personas overlap by more than 3% and every persona reappears across the resampled
        fits (cluster-wise Jaccard >= 0.5), unless ``n_personas`` is given. The mixture is
        then refitted with each customer's measurement noise (``deconvolve``). Every eligible
        customer gets its most likely persona except outliers beyond the 99.9% limit of a t law
        fitted to the distances to their persona (:mod:`journeymine.personas.tails`): "noise".
    n_personas : int, optional
        Fix the number of personas (``method="mixture"`` only).
    max_overlap : float, default 0.03
        ``method="mixture"``: the largest overlap of two personas on held-out customers for a
        count to be chosen (within (0, 0.5); ``search_["overlap"]`` shows each count's).
    exclude_activities : list of str, optional
        Activities left out of the family view's activity mix and transitions
        (``method="mixture"``). Default: when fitting a log, the activities of which more than
        half of the events carry a ``journey_id`` (reactions to touches); none when fitting a
        feature frame.
    reliability_weighting : bool or mapping, default True
        ``method="mixture"`` on a log: weigh each view column by its split-half reliability
        (:func:`~journeymine.personas.view.split_half_reliability`: how well one half of each
        customer's sessions predicts the other), so features that are chance at the customer
        level (rates over a handful of events) do not split personas. A feature frame carries
        no sessions: pass the reliabilities as a mapping (column -> value in [0, 1]), as
        :func:`~journeymine.personas.track_personas` does. ``False``: every column weighs
        fully. The reliabilities used are in ``scaler_.weights_``; columns under 0.1 are named
        in the log.
    deconvolve : bool, default True
        ``method="mixture"`` with reliability weighting, on a log (or a feature frame with
        :meth:`fit`'s ``halves``): a customer seen on ``n`` events has covariance ``B + S / n``
        around its persona, ``S`` the noise of one event measured on the session halves
        (:mod:`journeymine.personas.deconvolution`): a thinly measured customer is placed by
        what its few events measure. ``False``: the tied mixture's probabilities.
    min_events : int or "auto", default "auto"
        Customers with fewer events get ``-1`` ("too few events"). ``"auto"``: 10, or the
        median customer's event count where that is lower (at least 3), so that on a log of
        short cases (helpdesk tickets of 4 events) most customers still get a persona; and
        where that finds a single persona, 3, since the shorter histories may be what differs
        (BPIC 2012: one persona among the applications with 10 events or more, five with the
        quickly declined ones). The value used is :attr:`min_events_` (logged). An integer
        needs the ``log_events`` feature when fitting a feature frame (``"auto"`` without it:
        1).
    features : "default", "all" or list of str
        Columns used for clustering (names or ``prefix*`` patterns); see
        :data:`DEFAULT_PERSONA_FEATURES`.
    scaling : {"standard", "robust"}, default "standard"
    reduction : {"pca", "svd"}, default "pca"
    max_fit_samples : int, default 20000
        HDBSCAN runs on at most this many eligible customers; the rest are labelled by the
        nearest-neighbour rule.
    n_neighbors : int, default 15
        Neighbours of the extension vote.
    min_vote : float, default 0.5
        Smallest vote share to get a persona.
    reach : float, default 1.5
        Distance limit of the extension, in multiples of the 99th percentile of clustered
        customers' own neighbour distance.
    n_bootstrap : int, default 3
        Bootstrap refits for the stability score (0 to skip).
    featurizer : CustomerFeaturizer, optional
        Used when fitting a log (default ``CustomerFeaturizer()``). With a feature frame, a
        fitted featurizer says how its features were made: pass the one whose ``transform``
        made the frame to get the personas of its log.
    core_dist_n_jobs : int, default 1
        Threads for HDBSCAN core distances.
    random_state : int, default 0
    show_progress : bool, default False
        Progress bar over the parameter search.

    Attributes
    ----------
    labels_ : Series of int
        Persona per customer (index customer_id); ``-1`` means no persona.
    label_reasons_ : Series of str
        ``"persona"``, ``"noise"`` (eligible but not close to any persona) or
        ``"too few events"``.
    min_events_ : int
        The events a customer needed for a persona (``min_events`` resolved).
    probabilities_ : Series of float
        Confidence of the persona (0 for ``-1``).
    features_ : DataFrame
        All features per customer (what :func:`persona_profiles` describes).
    embedding_ : DataFrame
        Reduced coordinates of the eligible customers.
    profiles_ : DataFrame
        :func:`~journeymine.personas.persona_profiles` of the result.
    quality_ : dict
        ``n_customers``, ``n_eligible``, ``n_personas``, ``noise_share`` (among eligible),
        ``dbcv``, ``silhouette``, ``stability_ari`` (mean), ``stability_runs`` and
        ``indistinct_pairs``: pairs of persona ids that no feature tells apart (|Cohen's d|
        below 0.2 on every feature; see :func:`~journeymine.personas.profiles.indistinct_pairs`).
    search_ : DataFrame
        Every candidate of the parameter search with its score (per persona count, with BIC
        and stability, for ``method="mixture"``).
    scaler_ : FamilyScaler or scaler
        The view's scaling (``FamilyScaler`` for ``method="mixture"``: ``families_`` and
        ``dropped_`` say which families were used and which were left out, and why).
    mixture_ : GaussianMixture
        The chosen consensus mixture (``method="mixture"``).
    deconvolved_ : DeconvolvedMixture or None
        That mixture refitted with each customer's measurement noise (``deconvolve``), whose
        probabilities and distances the labels use; ``None`` when not modelled (a feature
        frame, no reliability weighting, ``deconvolve=False``, or too few customers with two
        sessions).
    evidence_events_ : float or None
        ``n0`` of the evidence weights ``n / (n + n0)`` (``method="mixture"`` with reliability
        weighting; else ``None``): a customer seen on ``n`` events weighs that much in the
        consensus fit (and, without :attr:`deconvolved_`, scatters ``1 + n0 / n`` times as much
        around their persona, so the noise ellipsoid widens by that).
    noise_limit_, tail_dof_ : float
        Squared distance to its persona beyond which a customer is noise, and the degrees of
        freedom of the t law fitted to the log's distances that set it (``inf``: Gaussian;
        :mod:`journeymine.personas.tails`; ``method="mixture"``).
    value_prior_ : Ridge or None
        The order value a thinly measured customer is shrunk towards, predicted from the rest
        of the view (:mod:`journeymine.personas.value_prior`); ``None`` when the view has no
        order value or too few customers with repeated valued purchases.
    n_components_, min_cluster_size_, min_samples_ : int
        The chosen parameters.
    columns_ : list of str
        Features used for clustering.
    centroids_ : DataFrame
        Mean reduced coordinates per persona.

    Examples
    --------
    >>> from journeymine.datasets import make_journeys
    >>> log = make_journeys(n_customers=600, days=90, random_state=0).events
    >>> miner = PersonaMiner(n_bootstrap=0, random_state=0).fit(log)
    >>> miner.labels_.index.equals(miner.features_.index)
    True
    """

    min_cluster_size: int | None = None
    n_components: int | None = None
    random_state: int = 0
    min_samples: int | None = None
    method: Literal["density", "mixture"] = "mixture"
    n_personas: int | None = None
    max_overlap: float = MAX_OVERLAP
    exclude_activities: Sequence[str] | None = None
    reliability_weighting: bool | Mapping[str, float] = True
    deconvolve: bool = True
    min_events: int | str = "auto"
    features: Literal["default", "all"] | Sequence[str] = "default"
    scaling: Literal["standard", "robust"] = "standard"
    reduction: Literal["pca", "svd"] = "pca"
    max_fit_samples: int = 20_000
    n_neighbors: int = 15
    min_vote: float = 0.5
    reach: float = 1.5
    n_bootstrap: int = 3
    featurizer: CustomerFeaturizer | None = None
    core_dist_n_jobs: int = 1
    show_progress: bool = False

    # -- fit ----------------------------------------------------------------------------------
    def fit(
        self,
        X: pd.DataFrame,
        y: Any = None,
        halves: tuple[pd.DataFrame, pd.DataFrame] | None = None,
    ) -> PersonaMiner:
        """Find personas in an event log or a feature frame.

        Parameters
        ----------
        X : DataFrame
            A canonical event log, or features (index customer_id, numeric columns) such as
            ``CustomerFeaturizer().fit_transform(log)``.
        y : ignored
        halves : (DataFrame, DataFrame), optional
            With a feature frame: the features of two halves of each customer's sessions
            (:func:`~journeymine.personas.persona_law.half_features` of its log), on which
            ``deconvolve`` measures the noise of one event (a log gives them itself).

        Returns
        -------
        self

        Raises
        ------
        ConfigError
            Bad parameters, too few eligible customers, or only constant features.
        EmptyLogError
            No events / customers.
        """
        check_miner_params(self.get_params(deep=False))
        self._halves = check_halves(X, halves)
        # Small dense algebra (k x d matrices, one pass per EM step): BLAS threads only add
        # synchronisation, and on a busy machine they made the mixture search 15x slower.
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):
            self._fit(X)
            if (
                self.min_events == "auto"
                and self.quality_["n_personas"] == 1
                and self.min_events_ > MIN_EVENTS_FLOOR
                and (self._n_events(self.features_) >= MIN_EVENTS_FLOOR).sum()
                > self.quality_["n_eligible"]
            ):
                # one persona among the long histories: what tells customers apart may be
                # in the short ones (BPIC 2012's quickly declined applications)
                logger.info(
                    "min_events='auto': one persona among customers with >= %d events; "
                    "fitted again with the shorter histories too (>= %d events)",
                    self.min_events_,
                    MIN_EVENTS_FLOOR,
                )
                self._fit(X, MIN_EVENTS_FLOOR)
        self._halves = None  # used while fitting; a fitted miner does not keep them
        return self

    def _fit(self, X: pd.DataFrame, min_events: int | None = None) -> PersonaMiner:
        self.featurizer_, feats = feature_frame(X, self.featurizer)
        if self.method == "mixture" and is_log(X) and self._halves is None and self.featurizer_:
            # the log's session halves: the view's reliability and the measurement noise
            self._halves = half_features(X, self.featurizer_, int(self.random_state))
        self.value_prior_: Any = None
        self.evidence_events_: float | None = None
        cols = select_features(feats.columns, self.features)
        n_events = self._n_events(feats)
        self.min_events_ = (
            resolve_min_events(self.min_events, n_events, counted="log_events" in feats.columns)
            if min_events is None
            else min_events
        )
        if self.min_events == "auto" and min_events is None:
            logger.info(
                "min_events='auto': %d events a customer (%s)",
                self.min_events_,
                "the log's customers have that many"
                if self.min_events_ == MIN_EVENTS
                else "the median customer's count; the log's cases are short",
            )
        eligible = n_events >= self.min_events_
        n_elig = check_enough_eligible(eligible, self.min_events_, self.min_cluster_size)
        params, elig_feats = self.get_params(deep=False), feats.loc[eligible]
        cols, scaler, Z, self.value_prior_ = fit_view(
            params, X, elig_feats, cols, self.featurizer_, self._halves
        )
        self.columns_ = cols
        self.scaler_ = scaler
        rng = np.random.default_rng(self.random_state)
        n_fit = min(n_elig, self.max_fit_samples)
        fit_idx = np.sort(rng.choice(n_elig, size=n_fit, replace=False))

        full = fit_reducer(Z[fit_idx], self.reduction, self.n_components, self.random_state)
        self.reducer_ = full
        if self.method == "mixture":
            n_elig_events = n_events[eligible]
            emb, lab_e, prob_e = self._fit_mixture(full, Z, fit_idx, n_elig_events, X)
        else:
            emb, lab_e, prob_e = self._fit_density(full, Z, fit_idx, n_fit)
        nc = emb.shape[1]

        ids = feats.index
        self.labels_, self.probabilities_, self.label_reasons_ = customer_labels(
            ids, eligible, lab_e, prob_e
        )
        self.features_ = feats
        self.embedding_ = pd.DataFrame(
            emb, index=ids[eligible], columns=[f"c{i}" for i in range(nc)]
        )
        el = self.labels_.to_numpy()[eligible]
        self.centroids_ = persona_centroids(self.embedding_, el)
        self._mapping = label_mapping(lab_e, el)
        self.quality_ = fit_quality(self, emb, fit_idx, el, n_elig, len(feats))
        self._profile(X if is_log(X) else None)
        return self

    def _profile(self, log: pd.DataFrame | None) -> None:
        """``profiles_`` of the current labels, and the pairs no feature tells apart in
        ``quality_["indistinct_pairs"]``."""
        from journeymine.personas.profiles import persona_profiles

        self.profiles_ = persona_profiles(self.features_, self.labels_, log=log)
        pairs = self.profiles_.attrs.get("indistinct_pairs", [])
        self.quality_["indistinct_pairs"] = [
            (int(r["persona_a"]), int(r["persona_b"])) for r in pairs
        ]

    def _fit_density(
        self, full: Any, Z: np.ndarray, fit_idx: np.ndarray, n_fit: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """HDBSCAN parameter search on the subsample, then the extension vote
        (:func:`journeymine.personas.density.density_search`)."""
        fit = density_search(
            full,
            Z,
            fit_idx,
            n_components=self.n_components,
            min_cluster_size=self.min_cluster_size,
            min_samples=self.min_samples,
            vote=self._vote(),
            core_dist_n_jobs=int(self.core_dist_n_jobs),
            show_progress=bool(self.show_progress),
        )
        self.search_ = fit.search
        self.n_components_, self.min_cluster_size_, self.min_samples_ = (
            fit.n_components,
            fit.min_cluster_size,
            fit.min_samples,
        )
        self.hdbscan_ = fit.clusterer
        self._core, self._core_labels = fit.core, fit.core_labels
        lab_e, prob_e = self._extend(fit.embedding)
        return fit.embedding, lab_e, prob_e

    def _fit_mixture(
        self,
        full: Any,
        Z: np.ndarray,
        fit_idx: np.ndarray,
        n_events: np.ndarray,
        X: Any,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The persona law (:func:`~journeymine.personas.persona_law.fit_persona_law`): the
        consensus Gaussian mixture on the subsample, refitted with each customer's measurement
        noise measured on the session halves of the log ``X`` (or those given to :meth:`fit`
        with a feature frame); every eligible customer gets its most likely persona unless it
        is an outlier."""
        nc = mixture_dimensions(full, self.n_components)
        emb = full.transform(Z)[:, :nc]
        evidence = customer_evidence(n_events, self.scaler_)  # weights and n0, or None
        self.evidence_events_ = None if evidence is None else evidence[1]
        views = None
        if self.deconvolve and evidence is not None and (self._halves is not None or is_log(X)):
            embed = lambda f: full.transform(self._view(f))[:, :nc]  # noqa: E731
            views = session_views(self._halves, embed, nc)
        fit = fit_persona_law(
            emb,
            fit_idx,
            n_events,
            evidence,
            views,
            n_personas=self.n_personas,
            max_overlap=self.max_overlap,
            min_size=min_persona_size(self.min_cluster_size, len(fit_idx)),
            random_state=self.random_state,
        )
        law = fit.law
        self.mixture_, self.spread_, self.deconvolved_ = law.mixture, law.spread, law.deconvolved
        self._mixture_stability = fit.consensus.stability
        self.search_ = fit.consensus.search.assign(n_components=nc)
        self.n_components_, self.min_cluster_size_, self.min_samples_ = nc, 0, 0
        self.noise_limit_, self.tail_dof_ = fit.limit, fit.dof
        return emb, fit.labels, fit.probabilities

    def _law(self) -> PersonaLaw:
        return PersonaLaw(self.mixture_, self.spread_, self.evidence_events_, self.deconvolved_)

    def _view(self, features: pd.DataFrame) -> np.ndarray:
        return view_of(features, self.scaler_, self.columns_, self.value_prior_, self.featurizer_)

    def _hdbscan(self, hdbscan: Any, mcs: int, ms: int) -> Any:
        return hdbscan_clusterer(hdbscan, mcs, ms, int(self.core_dist_n_jobs))

    def _n_events(self, feats: pd.DataFrame) -> np.ndarray:
        return event_counts(feats, self.min_events)

    def _vote(self) -> Vote:
        return Vote(int(self.n_neighbors), float(self.min_vote), float(self.reach))

    def _extend(
        self, emb: np.ndarray, core: np.ndarray | None = None, core_labels: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Nearest-clustered-neighbour vote (:func:`journeymine.personas.density.extend_vote`)."""
        core = self._core if core is None else core
        core_labels = self._core_labels if core_labels is None else core_labels
        return extend_vote(emb, core, core_labels, self._vote())

    # -- use ----------------------------------------------------------------------------------
    def _fitted(self) -> None:
        _check_fitted(self, "labels_")

    def embed(self, features: pd.DataFrame) -> pd.DataFrame:
        """Reduced coordinates of customers in this miner's space (scaled, clipped, reduced).

        Parameters
        ----------
        features : DataFrame
            Features with (at least) the columns :attr:`columns_`, e.g. from
            ``miner.featurizer_.transform(other_log)``.
        """
        self._fitted()
        missing = [c for c in self.columns_ if c not in features.columns]
        if missing:
            raise ConfigError(f"features lack columns {missing} used by this miner.")
        emb = self.reducer_.transform(self._view(features))[:, : self.n_components_]
        return pd.DataFrame(emb, index=features.index, columns=self.embedding_.columns)

    def predict(self, features: pd.DataFrame) -> pd.Series:
        """Nearest-persona rule for new customers' features (``-1`` when none is close).

        HDBSCAN itself cannot label new points; this applies the extension vote of ``fit``.
        For production scoring of live customers use the persona-assignment model, which is
        trained on journey prefixes.
        """
        emb = self.embed(features).to_numpy()
        if self.method == "mixture":
            lab = self._law().labels(emb, self._n_events(features), self.noise_limit_)[0]
        else:
            lab, _ = self._extend(emb)
        mapped = map_labels(lab, self._mapping)
        return pd.Series(mapped, index=features.index, name="persona")

    def membership(
        self,
        features: pd.DataFrame,
        *,
        by_evidence: bool = False,
        min_events: int | None = None,
    ) -> tuple[pd.Series, pd.Series, pd.DataFrame]:
        """Persona, its probability and every persona's probability for customers' features
        (``method="mixture"``): the soft memberships behind :meth:`predict`.

        Customers with fewer than ``min_events`` events (default: the miner's own) get ``-1``
        and no memberships; outliers (beyond the noise limit of their persona) get ``-1`` and
        probability 0. A lower ``min_events`` gives the customers the fit left out memberships.

        The deconvolved mixture (:attr:`deconvolved_`) weighs how many events each customer
        was seen on. Without it the mixture's probabilities treat every customer as perfectly
        measured. ``by_evidence=True`` raises the likelihood of each customer seen on ``n``
        events to its weight ``n / (n + n0)`` (``n0`` = :attr:`evidence_events_`) before
        combining it with the persona shares, the label its most probable persona: every
        customer without :attr:`deconvolved_`, with it only those under :attr:`min_events_`
        (thinner than any it was fitted on, whose memberships it would extrapolate).

        Returns
        -------
        labels : Series of int (index customer_id)
        probability : Series of float
        posterior : DataFrame
            Customers x persona ids; each eligible row sums to 1.

        Examples
        --------
        >>> from journeymine.datasets import make_journeys
        >>> log = make_journeys(n_customers=600, days=90, random_state=0).events
        >>> m = PersonaMiner(method="mixture", n_bootstrap=0, min_events=5).fit(log)
        >>> lab, prob, post = m.membership(m.features_)
        >>> bool((lab == m.labels_).all()), post.shape[1] == m.quality_["n_personas"]
        (True, True)

        Every customer, those under ``min_events`` too, the thinnest tempered:

        >>> lab1, _, post1 = m.membership(m.features_, by_evidence=True, min_events=1)
        >>> bool((lab1[lab < 0] >= 0).any()), bool(np.allclose(post1.sum(axis=1), 1.0))
        (True, True)
        """
        self._fitted()
        if self.method != "mixture":
            raise ConfigError(
                "membership() needs PersonaMiner(method='mixture'): HDBSCAN gives no "
                "probabilities for new customers; use predict()."
            )
        min_events = self.min_events_ if min_events is None else checked_min_events(min_events)
        n_ev = self._n_events(features)
        eligible = n_ev >= min_events
        emb = self.embed(features[eligible]).to_numpy() if eligible.any() else None
        return mixture_membership(
            self._law(),
            self.noise_limit_,
            self._mapping,
            int(self.quality_["n_personas"]),
            (emb, n_ev, eligible, features.index),
            by_evidence=by_evidence,
            fitted_events=self.min_events_,
        )

    def fit_predict(self, X: pd.DataFrame, y: Any = None) -> pd.Series:
        """Fit and return :attr:`labels_`."""
        return self.fit(X).labels_
