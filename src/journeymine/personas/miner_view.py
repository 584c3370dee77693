"""How :class:`~journeymine.personas.PersonaMiner` builds its view of the customers: which
activities are left out as reactions, how reliable each view column is, which columns are
constant, and how much each customer weighs in the fit.

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

from journeymine.exceptions import ConfigError, DataQualityWarning
from journeymine.personas.features import CustomerFeaturizer
from journeymine.personas.miner_inputs import is_log
from journeymine.personas.value_prior import fit_value_prior, with_value_prior
from journeymine.personas.view import (
    FamilyScaler,
    checked_reliability,
    evidence_weights,
    log_reliability,
    reaction_activities,
    view_columns,
)
from journeymine.schema import canonical_log

__all__ = [
    "customer_evidence",
    "family_view_of",
    "left_out_reactions",
    "varying_columns",
    "view_reliability",
]

logger = logging.getLogger(__name__)


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
    featurizer: CustomerFeaturizer | None,
    feature_columns: pd.Index,
    excluded: frozenset[str],
    random_state: int,
) -> pd.Series | None:
    """Split-half reliability of the view's columns, as ``reliability_weighting`` asks:
    the mapping ``given`` checked, or measured on the log ``X`` with the fitted
    ``featurizer``; ``None`` when not asked for, when fitting a feature frame, or when too few
    customers have two sessions.

    Examples
    --------
    >>> cols = pd.Index(["order_value_log", "events_per_session"])
    >>> view_reliability({"order_value_log": 0.4}, None, None, cols, frozenset(), 0).to_dict()
    {'order_value_log': 0.4}
    """
    cols = [c for cs in view_columns(feature_columns, None, excluded).values() for c in cs]
    if isinstance(given, Mapping):
        return checked_reliability(given, cols, what="reliability_weighting")
    if not given or not is_log(X) or featurizer is None:
        return None
    return log_reliability(
        canonical_log(X),
        featurizer.transform,
        cols,
        session_gap_us=int(pd.Timedelta(featurizer.session_gap).value // 1000),
        random_state=int(random_state),
    )


def varying_columns(M: pd.DataFrame, cols: list[str], quiet: bool) -> list[str]:
    """``cols`` without the columns constant in ``M`` (the eligible customers' features), which
    are named in the log (``quiet``) or in a :class:`~journeymine.exceptions.DataQualityWarning`;
    a :class:`~journeymine.exceptions.ConfigError` when fewer than two are left."""
    std = M.std(ddof=0).to_numpy()
    constant = [c for c, s in zip(cols, std, strict=True) if not s > 1e-12]
    if constant:
        msg = f"dropped {len(constant)} constant feature(s) from clustering: {constant}."
        if quiet:
            logger.info(msg)  # e.g. channels without organic sessions (email, sms)
        else:
            # attributed to PersonaMiner.fit, which calls _fit, which calls this
            warnings.warn(msg, DataQualityWarning, stacklevel=3)
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
