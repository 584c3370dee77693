"""How :class:`~journeymine.personas.PersonaMiner` builds its view of the customers: which
activities are left out as reactions, how reliable each view column is, which columns are
constant, how much each customer weighs in the fit, the scaled view itself (:func:`fit_view` at
fit time, :func:`view_of` for new customers) and its reduction (:func:`fit_reducer`).

The view itself (feature families, :class:`~journeymine.personas.view.FamilyScaler`, split-half
reliability) is :mod:`journeymine.personas.view`; this module holds the miner's decisions on
top of it, with the log lines and warnings a user reads.

Examples
--------
>>> import pandas as pd
>>> M = pd.DataFrame({"a": [1.0, 2.0], "b": [0.5, 0.5], "c": [3.0, 1.0]})
>>> varying_columns(M, ["a", "b", "c"], quiet=True)
['a', 'c']
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA, TruncatedSVD
from sklearn.preprocessing import RobustScaler, StandardScaler

from journeymine.exceptions import ConfigError, DataQualityWarning
from journeymine.personas.features import CustomerFeaturizer
from journeymine.personas.miner_inputs import is_log
from journeymine.personas.value_prior import fit_value_prior, with_value_prior
from journeymine.personas.view import (
    CLIP,
    FamilyScaler,
    checked_reliability,
    evidence_weights,
    log_reliability,
    reaction_activities,
    view_columns,
)

__all__ = [
    "customer_evidence",
    "family_view_of",
    "fit_reducer",
    "fit_view",
    "left_out_reactions",
    "mixture_dimensions",
    "varying_columns",
    "view_of",
    "view_reliability",
]

logger = logging.getLogger(__name__)

#: Share of the view's variance kept for the mixture (behaviour has many small dimensions).
MIXTURE_VARIANCE = 0.92


def left_out_reactions(X: Any) -> frozenset[str]:
    """The reaction activities (:func:`~journeymine.personas.view.reaction_activities`) of a
    log, logged when there are any; none for a feature frame.

    Examples
    --------
    >>> left_out_reactions(pd.DataFrame({"x": [1.0]}))
    frozenset()
    """
    if not is_log(X):
        return frozenset()
    out = reaction_activities(X)
    if out:
        logger.info(
            "persona view: %d reaction activities left out of the activity mix (more than "
            "half of their events carry a journey_id): %s",
            len(out),
            sorted(out),
        )
    return out


def view_reliability(
    given: bool | Mapping[str, float],
    X: Any,
    halves: tuple[pd.DataFrame, pd.DataFrame] | None,
    feature_columns: pd.Index,
    excluded: frozenset[str],
) -> pd.Series | None:
    """Split-half reliability of the view's columns, as ``reliability_weighting`` asks:
    the mapping ``given`` checked, or measured on the features of the log ``X``'s two
    session ``halves`` (:func:`~journeymine.personas.persona_law.half_features`); ``None``
    when not asked for, when fitting a feature frame, or when too few customers have two
    sessions.

    Examples
    --------
    >>> cols = pd.Index(["order_value_log", "events_per_session"])
    >>> view_reliability({"order_value_log": 0.4}, None, None, cols, frozenset()).to_dict()
    {'order_value_log': 0.4}
    """
    cols = [c for cs in view_columns(feature_columns, None, excluded).values() for c in cs]
    if isinstance(given, Mapping):
        return checked_reliability(given, cols, what="reliability_weighting")
    if not given or not is_log(X):
        return None
    return log_reliability(halves, cols)


def varying_columns(
    M: pd.DataFrame, cols: list[str], quiet: bool, stacklevel: int = 3
) -> list[str]:
    """``cols`` without the columns constant in ``M`` (the eligible customers' features), which
    are named in the log (``quiet``) or in a :class:`~journeymine.exceptions.DataQualityWarning`
    (attributed ``stacklevel`` frames up); a :class:`~journeymine.exceptions.ConfigError` when
    fewer than two are left."""
    std = M.std(ddof=0).to_numpy()
    constant = [c for c, s in zip(cols, std, strict=True) if not s > 1e-12]
    if constant:
        msg = f"dropped {len(constant)} constant feature(s) from clustering: {constant}."
        if quiet:
            logger.info(msg)  # e.g. channels without organic sessions (email, sms)
        else:
            warnings.warn(msg, DataQualityWarning, stacklevel=stacklevel)
        cols = [c for c in cols if c not in constant]
    if len(cols) < 2:
        raise ConfigError(
            f"fewer than 2 non-constant features to cluster on ({cols}); every customer "
            f"looks the same. Use features='all' or a longer time window."
        )
    return cols


def customer_evidence(n_events: np.ndarray, scaler: Any) -> tuple[np.ndarray, float] | None:
    """Each customer's weight in the fit and ``n0``
    (:func:`~journeymine.personas.view.evidence_weights`); ``None`` for a scaler other than
    :class:`~journeymine.personas.view.FamilyScaler` or one without reliabilities.

    Examples
    --------
    >>> from sklearn.preprocessing import StandardScaler
    >>> customer_evidence(np.array([10, 20]), StandardScaler()) is None
    True
    """
    if not isinstance(scaler, FamilyScaler):
        return None
    return evidence_weights(n_events, scaler)


def family_view_of(
    feats: pd.DataFrame,
    excluded: frozenset[str],
    reliability: Mapping[str, float] | None,
    featurizer: CustomerFeaturizer | None,
) -> tuple[FamilyScaler, np.ndarray, Any]:
    """The mixture's persona view of the eligible customers' ``feats``: the fitted
    :class:`~journeymine.personas.view.FamilyScaler`, the scaled view and the order-value prior
    (:mod:`journeymine.personas.value_prior`; ``None`` without one), the value column scaled on
    the shrunk values the view will see.

    Examples
    --------
    >>> from journeymine.datasets import make_journeys
    >>> log = make_journeys(300, days=60, random_state=0).events
    >>> fz = CustomerFeaturizer()
    >>> feats = fz.fit_transform(log)
    >>> view, Z, prior = family_view_of(feats, frozenset(), None, fz)
    >>> Z.shape == (len(feats), len(view.columns_)), prior is not None
    (True, True)
    """
    view = FamilyScaler(exclude_activities=excluded, reliability=reliability)
    Z = view.fit_transform(feats)
    spec = None if featurizer is None else featurizer.spec_
    prior = fit_value_prior(Z, feats, view.columns_, spec)
    if prior is not None and spec is not None:
        Z = view.fit_transform(with_value_prior(feats, Z, view.columns_, prior, spec))
    return view, Z, prior


def fit_view(
    params: Mapping[str, Any],
    X: Any,
    feats: pd.DataFrame,
    cols: list[str],
    featurizer: CustomerFeaturizer | None,
    halves: tuple[pd.DataFrame, pd.DataFrame] | None = None,
) -> tuple[list[str], Any, np.ndarray, Any]:
    """The view a miner with ``params`` (``get_params()``) clusters, fitted on the eligible
    customers' ``feats``: the columns used, the fitted scaler, the scaled view and the
    order-value prior (``None`` without one).

    ``method="mixture"`` with the default features: the family view (:func:`family_view_of`)
    without the reaction activities, weighed by the reliabilities ``reliability_weighting``
    asks for (measured on the log's session ``halves``, :func:`view_reliability`).
    Otherwise ``cols`` without the constant ones, standard (or robust) scaled and
    clipped to +-``CLIP``.

    Examples
    --------
    >>> M = pd.DataFrame({"a": [1.0, 3.0], "b": [0.5, 0.5], "c": [3.0, 1.0]})
    >>> params = {"method": "density", "features": "default", "scaling": "standard"}
    >>> cols, scaler, Z, prior = fit_view(params, M, M, ["a", "b", "c"], None)
    >>> cols, Z.tolist(), prior
    (['a', 'c'], [[-1.0, 1.0], [1.0, -1.0]], None)
    """
    features = params["features"]
    if params["method"] == "mixture" and isinstance(features, str) and features == "default":
        given = params["exclude_activities"]
        excluded = left_out_reactions(X) if given is None else frozenset(str(a) for a in given)
        reliability = view_reliability(
            params["reliability_weighting"], X, halves, feats.columns, excluded
        )
        scaler, Z, prior = family_view_of(feats, excluded, reliability, featurizer)
        return list(scaler.columns_), scaler, Z, prior
    # attributed to PersonaMiner.fit, which calls _fit, which calls this
    cols = varying_columns(feats[cols], cols, quiet=features == "default", stacklevel=4)
    scaler = StandardScaler() if params["scaling"] == "standard" else RobustScaler()
    Z = np.clip(scaler.fit_transform(feats[cols].to_numpy()), -CLIP, CLIP)
    return cols, scaler, Z, None


def view_of(
    features: pd.DataFrame,
    scaler: Any,
    columns: list[str],
    value_prior: Any,
    featurizer: CustomerFeaturizer | None,
) -> np.ndarray:
    """The view of customers' ``features`` under a fitted ``scaler`` (from :func:`fit_view`):
    the family view, its order value shrunk by ``value_prior`` when there is one; or the
    ``columns`` scaled and clipped to +-``CLIP``.

    Examples
    --------
    >>> M = pd.DataFrame({"a": [1.0, 3.0], "c": [3.0, 1.0]})
    >>> scaler = StandardScaler().fit(M.to_numpy())
    >>> view_of(pd.DataFrame({"a": [2.0], "c": [1.0]}), scaler, ["a", "c"], None, None).tolist()
    [[0.0, -1.0]]
    """
    if isinstance(scaler, FamilyScaler):
        Z = scaler.transform(features)
        if value_prior is None:
            return Z
        spec = featurizer.spec_  # type: ignore[union-attr]
        return scaler.transform(with_value_prior(features, Z, scaler.columns_, value_prior, spec))
    return np.clip(scaler.transform(features[columns].to_numpy()), -CLIP, CLIP)


def fit_reducer(
    Z: np.ndarray, reduction: str, n_components: int | None, random_state: int
) -> PCA | TruncatedSVD:
    """PCA (``reduction="pca"``) or TruncatedSVD of the view ``Z`` of the fitted customers, to
    at most 30 dimensions; a :class:`~journeymine.exceptions.ConfigError` when ``n_components``
    asks for more than there are.

    Examples
    --------
    >>> Z = np.random.default_rng(0).normal(size=(40, 5))
    >>> fit_reducer(Z, "pca", None, 0).n_components
    5
    """
    n_cols = Z.shape[1]
    max_nc = min(n_cols, len(Z) - 1, 30)
    full = (PCA if reduction == "pca" else TruncatedSVD)(
        n_components=max_nc if reduction == "pca" else max(1, min(max_nc, n_cols - 1)),
        random_state=random_state,
    ).fit(Z)
    if n_components is not None and n_components > full.n_components:
        raise ConfigError(
            f"n_components={n_components} exceeds the {full.n_components} "
            f"available dimensions ({n_cols} features)."
        )
    return full


def mixture_dimensions(reducer: PCA | TruncatedSVD, n_components: int | None) -> int:
    """How many of ``reducer``'s dimensions the mixture clusters: ``n_components`` when given,
    else the fewest reaching ``MIXTURE_VARIANCE`` of the view's variance (at least 2).

    Examples
    --------
    >>> Z = np.random.default_rng(0).normal(size=(40, 5)) * [10.0, 1.0, 1.0, 0.1, 0.1]
    >>> reducer = fit_reducer(Z, "pca", None, 0)
    >>> mixture_dimensions(reducer, None), mixture_dimensions(reducer, 4)
    (2, 4)
    """
    if n_components is not None:
        return int(n_components)
    cum = np.cumsum(reducer.explained_variance_ratio_)
    return int(min(max(np.searchsorted(cum, MIXTURE_VARIANCE) + 1, 2), reducer.n_components))
