"""What a :class:`~journeymine.personas.PersonaMiner`'s fitted mixture says about a customer seen
on ``n`` events: each persona's probability, the distance to its persona, and so its label
(the persona, or noise beyond the limit of :mod:`journeymine.personas.tails`).

Two laws:

- **deconvolved** (the default on a log with reliability weighting): the mixture refitted with
  each customer's measurement noise (:mod:`journeymine.personas.deconvolution`): a customer's
  covariance is ``B + S / n``. The noise ``S`` of one event is measured on the log's session
  halves (:func:`half_features`, :func:`session_views`).
- **plain**: the tied Gaussian mixture as fitted, its posterior the same for a customer seen
  on 12 events as for one seen on 300; the noise limit's distances use the customers' spread
  around their persona, widened by ``1 + n0 / n`` (:func:`~journeymine.personas.tails.
  inflation`). Used on feature frames (no sessions to measure the noise on), without
  reliability weighting, or with ``PersonaMiner(deconvolve=False)``.

:func:`fit_persona_law` fits either from the miner's reduced view.

Examples
--------
>>> from sklearn.mixture import GaussianMixture
>>> X = np.random.default_rng(0).normal(size=(500, 2))
>>> law = PersonaLaw(GaussianMixture(1, covariance_type="tied", random_state=0).fit(X))
>>> law.labels(np.array([[0.0, 0.0], [6.0, 6.0]]), np.array([5, 5]), limit=13.8)[0].tolist()
[0, -1]
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.mixture import GaussianMixture

from journeymine.personas.deconvolution import (
    MIN_PAIRS_PER_DIMENSION,
    DeconvolvedMixture,
    measurement_noise,
)
from journeymine.personas.features import CustomerFeaturizer
from journeymine.personas.miner_inputs import event_counts
from journeymine.personas.mixture import ConsensusMixture, fit_consensus_mixture, persona_spread
from journeymine.personas.tails import fitted_noise_limit, inflation, persona_distances
from journeymine.personas.view import session_halves
from journeymine.schema import canonical_log

__all__ = ["LawFit", "PersonaLaw", "fit_persona_law", "half_features", "session_views"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PersonaLaw:
    """A fitted persona mixture as the miner uses it (see the module docstring).

    Parameters
    ----------
    mixture : GaussianMixture
        The consensus mixture (its components are the personas' raw ids).
    spread : ndarray (d, d), optional
        Plain law: the spread of a fully measured customer around its persona, for distances.
    n0 : float, optional
        Plain law: ``n0`` of the evidence weights, which widens the distances by ``1 + n0 / n``.
    deconvolved : DeconvolvedMixture, optional
        The deconvolved law; when given, ``spread`` and ``n0`` are not used.
    """

    mixture: GaussianMixture
    spread: np.ndarray | None = None
    n0: float | None = None
    deconvolved: DeconvolvedMixture | None = None

    @property
    def weights(self) -> np.ndarray:
        """Persona shares (per raw component)."""
        model = self.deconvolved if self.deconvolved is not None else self.mixture
        return np.asarray(model.weights_, dtype=np.float64)

    def posterior(self, X: np.ndarray, n_events: np.ndarray) -> np.ndarray:
        """Each raw component's probability for customers' views ``X`` seen on ``n_events``."""
        if self.deconvolved is not None:
            return self.deconvolved.predict_proba(X, n_events)
        return np.asarray(self.mixture.predict_proba(X))

    def distances(
        self, X: np.ndarray, n_events: np.ndarray, comp: np.ndarray | None = None
    ) -> np.ndarray:
        """Squared distance of each customer to its persona ``comp`` (default: the most
        probable), in the units the noise limit is learned in."""
        if self.deconvolved is not None:
            return self.deconvolved.distances(X, n_events, comp)
        return persona_distances(self.mixture, X, self.spread, inflation(self.n0, n_events), comp)

    def labels(
        self, X: np.ndarray, n_events: np.ndarray, limit: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Most probable raw component, its probability (``-1`` and 0 beyond the squared
        distance ``limit``: noise) and the full posterior."""
        post = self.posterior(X, n_events)
        comp = post.argmax(1)
        far = self.distances(X, n_events, comp) > float(limit)
        return np.where(far, -1, comp), np.where(far, 0.0, post.max(1)), post


def half_features(
    log: Any, featurizer: CustomerFeaturizer, random_state: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The features of the two halves of each customer's sessions
    (:func:`~journeymine.personas.view.session_halves` with the featurizer's session gap, at
    most 20,000 customers drawn with ``random_state``), each featurized by the fitted
    ``featurizer``; ``None`` when one half is empty (no customer has two sessions).

    Examples
    --------
    >>> from journeymine.datasets import make_journeys
    >>> log = make_journeys(200, days=60, random_state=0).events
    >>> a, b = half_features(log, CustomerFeaturizer().fit(log))
    >>> bool(a["log_events"].sum() > 0), list(a.columns) == list(b.columns)
    (True, True)
    """
    log = canonical_log(log)
    gap_us = int(pd.Timedelta(featurizer.session_gap).value // 1000)
    first, second = session_halves(log, gap_us, random_state=random_state)
    if len(first) == 0 or len(second) == 0:
        return None
    return featurizer.transform(first), featurizer.transform(second)


def session_views(
    halves: tuple[pd.DataFrame, pd.DataFrame] | None,
    embed: Callable[[pd.DataFrame], np.ndarray],
    dimensions: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """What the measurement noise is measured on: the views of the customers in both session
    ``halves`` (:func:`half_features`), put in the miner's reduced view of ``dimensions``
    dimensions by ``embed``, and their events in the two halves together. ``None`` (logged)
    when fewer than ten customers per dimension are in both.

    Examples
    --------
    >>> a = pd.DataFrame({"log_events": np.log1p([2.0, 3.0] * 20)}, index=range(40))
    >>> views = session_views((a, a), lambda f: f.to_numpy(), 1)
    >>> views[0].shape, views[2][:2].tolist()
    ((40, 1), [4.0, 6.0])
    >>> session_views(None, lambda f: f.to_numpy(), 1) is None
    True
    """
    both = pd.Index([]) if halves is None else halves[0].index.intersection(halves[1].index)
    if len(both) < MIN_PAIRS_PER_DIMENSION * dimensions:
        logger.info(
            "persona fit: measurement noise not modelled (%d customers with sessions in both "
            "halves, %d needed); the plain mixture's probabilities are used",
            len(both),
            MIN_PAIRS_PER_DIMENSION * dimensions,
        )
        return None
    a, b = (h.loc[both] for h in halves)  # type: ignore[union-attr]
    n = event_counts(a, 1) + event_counts(b, 1)
    return embed(a), embed(b), n.astype(np.float64)


@dataclass(frozen=True)
class LawFit:
    """The result of :func:`fit_persona_law`."""

    #: the fitted law
    law: PersonaLaw
    #: the consensus mixture search (its ``stability`` and ``search``)
    consensus: ConsensusMixture
    #: the noise limit and the degrees of freedom of the t law that set it
    limit: float
    dof: float
    #: each customer's raw component (``-1``: noise) and its probability
    labels: np.ndarray
    probabilities: np.ndarray


def fit_persona_law(
    X: np.ndarray,
    fit_idx: np.ndarray,
    n_events: np.ndarray,
    evidence: tuple[np.ndarray, float] | None,
    views: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    *,
    n_personas: int | None,
    max_overlap: float,
    min_size: int,
    random_state: int,
) -> LawFit:
    """The persona law of the eligible customers' reduced views ``X``: the consensus mixture
    (:func:`~journeymine.personas.mixture.fit_consensus_mixture`) on the rows ``fit_idx``,
    each customer weighing its ``evidence`` (weights and ``n0``) when given; refitted on the
    same rows with each customer's measurement noise when the session ``views``
    (:func:`session_views`) measure it;
    then the noise limit learned from the customers' distances
    (:func:`~journeymine.personas.tails.fitted_noise_limit`) and every customer's label.
    """
    weights, n0 = (None, None) if evidence is None else evidence
    consensus = fit_consensus_mixture(
        X[fit_idx],
        n_personas=n_personas,
        n_resamples=6,
        max_overlap=max_overlap,
        min_size=min_size,
        random_state=random_state,
        sample_weight=None if weights is None else weights[fit_idx],
    )
    mixture = consensus.model
    if views is not None and weights is not None:
        # on the consensus fit's customers (at most max_fit_samples): every one is then placed
        noise = measurement_noise(*views)
        rows = (X[fit_idx], n_events[fit_idx], mixture, noise, weights[fit_idx])
        law = PersonaLaw(mixture, deconvolved=DeconvolvedMixture.fit(*rows))
    else:
        law = PersonaLaw(mixture, persona_spread(mixture, X, weights), n0)
    limit, dof = fitted_noise_limit(law.distances(X, n_events), X.shape[1])
    raw, prob, _ = law.labels(X, n_events, limit)
    return LawFit(law, consensus, limit, dof, raw, prob)
