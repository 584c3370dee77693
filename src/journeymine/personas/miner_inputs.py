"""What :class:`~journeymine.personas.PersonaMiner` accepts: its parameters checked, a log or a
feature frame turned into checked features, and each customer's event count.

Examples
--------
>>> import pandas as pd
>>> feats = pd.DataFrame({"log_events": [0.0, 2.3979]}, index=pd.Index(["a", "b"]))
>>> event_counts(feats, min_events=10).tolist()
[0, 10]
>>> is_log(feats)
False
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from journeymine.exceptions import ConfigError, EmptyLogError
from journeymine.personas.features import CustomerFeaturizer
from journeymine.schema import ACTIVITY, CUSTOMER_ID, TIMESTAMP

__all__ = [
    "MIN_EVENTS",
    "MIN_EVENTS_FLOOR",
    "check_enough_eligible",
    "check_min_events",
    "check_miner_params",
    "event_counts",
    "feature_frame",
    "is_log",
    "lower_min_events",
    "resolve_min_events",
]

#: ``min_events="auto"``: the events a customer needs for a persona when the log's customers
#: have that many; fewer on logs of short cases (:func:`resolve_min_events`), never under
#: ``MIN_EVENTS_FLOOR``.
MIN_EVENTS = 10
MIN_EVENTS_FLOOR = 3


def is_log(X: Any) -> bool:
    """Whether ``X`` is an event log rather than a feature frame.

    A frame with two of the three log columns is a log, complete or not: the one gate
    (:func:`journeymine.schema.canonical_log`) then names what is missing, as for every entry
    point.

    Examples
    --------
    >>> is_log(pd.DataFrame({"customer_id": ["a"], "timestamp": [0]}))
    True
    """
    return isinstance(X, pd.DataFrame) and len({CUSTOMER_ID, TIMESTAMP, ACTIVITY} & set(X)) >= 2


def _int_at_least(name: str, value: Any, low: int, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}.")


def check_miner_params(params: Mapping[str, Any]) -> None:
    """Refuse bad :class:`~journeymine.personas.PersonaMiner` parameters (``get_params()``)
    with a :class:`~journeymine.exceptions.ConfigError` naming the first bad one.

    Examples
    --------
    >>> from journeymine.personas import PersonaMiner
    >>> check_miner_params(PersonaMiner().get_params())
    >>> check_miner_params({**PersonaMiner().get_params(), "reach": 0})
    Traceback (most recent call last):
    ...
    journeymine.exceptions.ConfigError: reach must be > 0, got 0.
    """
    _int_at_least("min_cluster_size", params["min_cluster_size"], 2, optional=True)
    _int_at_least("n_components", params["n_components"], 1, optional=True)
    _int_at_least("min_samples", params["min_samples"], 1, optional=True)
    check_min_events(params["min_events"])
    _int_at_least("n_personas", params["n_personas"], 1, optional=True)
    ov = params["max_overlap"]
    if isinstance(ov, bool) or not isinstance(ov, int | float | np.number) or not 0.0 < ov < 0.5:
        raise ConfigError(
            f"max_overlap must be a number within (0, 0.5), the largest share of one persona's "
            f"customers explained by another (default 0.03), got {ov!r}."
        )
    if not isinstance(params.get("deconvolve", True), bool | np.bool_):
        raise ConfigError(
            f"deconvolve must be True (model each customer's measurement noise, the default) "
            f"or False (the tied mixture's own probabilities), got {params['deconvolve']!r}."
        )
    if params["method"] not in ("mixture", "density"):
        raise ConfigError(
            f"method must be 'mixture' (consensus Gaussian mixture on the family view, the "
            f"default) or 'density' (HDBSCAN), got {params['method']!r}."
        )
    _int_at_least("max_fit_samples", params["max_fit_samples"], 50)
    _int_at_least("n_neighbors", params["n_neighbors"], 1)
    _int_at_least("n_bootstrap", params["n_bootstrap"], 0)
    _int_at_least("core_dist_n_jobs", params["core_dist_n_jobs"], 1)
    if params["scaling"] not in ("standard", "robust"):
        raise ConfigError(f"scaling must be 'standard' or 'robust', got {params['scaling']!r}.")
    if params["reduction"] not in ("pca", "svd"):
        raise ConfigError(f"reduction must be 'pca' or 'svd', got {params['reduction']!r}.")
    if not 0.0 <= float(params["min_vote"]) <= 1.0:
        raise ConfigError(f"min_vote must be within [0, 1], got {params['min_vote']!r}.")
    if not float(params["reach"]) > 0:
        raise ConfigError(f"reach must be > 0, got {params['reach']!r}.")


def feature_frame(
    X: Any, featurizer: CustomerFeaturizer | None
) -> tuple[CustomerFeaturizer | None, pd.DataFrame]:
    """The features a miner clusters: an event log featurized by a fitted clone of
    ``featurizer`` (default ``CustomerFeaturizer()``), or a feature frame checked (numeric,
    finite, one row per customer) as float64. Returns the fitted featurizer (for a feature
    frame: ``featurizer`` when it is fitted, the one that made the frame, else ``None``) and
    the features.

    Examples
    --------
    >>> fz, feats = feature_frame(pd.DataFrame({"x": [1, 2]}, index=["a", "b"]), None)
    >>> fz is None, feats["x"].dtype.name
    (True, 'float64')
    """
    if is_log(X):
        fz = featurizer if featurizer is not None else CustomerFeaturizer()
        if not isinstance(fz, CustomerFeaturizer):
            raise ConfigError(f"featurizer must be a CustomerFeaturizer, got {type(fz).__name__}.")
        from sklearn.base import clone

        fitted = clone(fz)
        return fitted, fitted.fit_transform(X)
    if not isinstance(X, pd.DataFrame):
        raise ConfigError(
            f"PersonaMiner.fit expects an event log or a feature DataFrame (index "
            f"customer_id), got {type(X).__name__}."
        )
    if len(X) == 0:
        raise EmptyLogError("the feature frame is empty (0 customers).")
    non_num = [str(c) for c in X.columns if not pd.api.types.is_numeric_dtype(X[c].dtype)]
    if non_num:
        raise ConfigError(
            f"feature frame columns must be numeric; {non_num} are not. Pass an event log "
            f"(with customer_id, timestamp, activity) or CustomerFeaturizer().transform(log)."
        )
    if not np.isfinite(X.to_numpy(dtype=np.float64)).all():
        raise ConfigError("feature frame contains NaN or infinite values; fill them first.")
    if X.index.has_duplicates:
        raise ConfigError("feature frame index (customer_id) has duplicates.")
    # a fitted featurizer given with a feature frame says how its features were made (the
    # order-value prior of the persona view needs its spec)
    made_by = featurizer if featurizer is not None and hasattr(featurizer, "spec_") else None
    return made_by, X.astype(np.float64)


def event_counts(feats: pd.DataFrame, min_events: int | str) -> np.ndarray:
    """Each customer's event count, from the ``log_events`` feature; without it, 1 each when
    ``min_events`` is 1 or ``"auto"``, else a :class:`~journeymine.exceptions.ConfigError`."""
    if "log_events" in feats.columns:
        return np.rint(np.expm1(feats["log_events"].to_numpy())).astype(np.int64)
    if min_events != "auto" and int(min_events) > 1:
        raise ConfigError(
            f"min_events={min_events} needs the 'log_events' feature, which the "
            f"feature frame lacks; include it (CustomerFeaturizer adds it) or pass "
            f"min_events=1."
        )
    return np.full(len(feats), 1, dtype=np.int64)


def checked_min_events(min_events: Any) -> int:
    """``min_events`` of :meth:`~journeymine.personas.PersonaMiner.membership`: an integer of
    at least 1, else a :class:`~journeymine.exceptions.ConfigError`.

    Examples
    --------
    >>> checked_min_events(3)
    3
    >>> checked_min_events(0)
    Traceback (most recent call last):
    ...
    journeymine.exceptions.ConfigError: min_events must be an integer >= 1, got 0.
    """
    if (
        isinstance(min_events, bool)
        or not isinstance(min_events, int | np.integer)
        or min_events < 1
    ):
        raise ConfigError(f"min_events must be an integer >= 1, got {min_events!r}.")
    return int(min_events)


def check_halves(X: Any, halves: Any) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """``halves`` given to :meth:`~journeymine.personas.PersonaMiner.fit`, refused unless
    they are two feature frames and ``X`` is a feature frame (a log gives its own halves).

    Examples
    --------
    >>> check_halves(pd.DataFrame({"x": [1.0]}), None)
    >>> check_halves(pd.DataFrame({"x": [1.0]}), ("a", "b"))
    Traceback (most recent call last):
    ...
    journeymine.exceptions.ConfigError: halves must be two feature frames (the features of ...
    """
    if halves is None:
        return None
    if not (
        isinstance(halves, tuple | list)
        and len(halves) == 2
        and all(isinstance(h, pd.DataFrame) for h in halves)
    ):
        raise ConfigError(
            f"halves must be two feature frames (the features of two halves of each "
            f"customer's sessions, e.g. half_features(log, featurizer)), got a "
            f"{type(halves).__name__}."
        )
    if is_log(X):
        raise ConfigError(
            "halves are for fitting a feature frame; a log gives its own session halves. "
            "Drop halves=, or fit the log's features."
        )
    return halves[0], halves[1]


def min_persona_size(min_cluster_size: int | None, n_fit: int) -> int:
    """Smallest persona of the mixture: ``min_cluster_size`` when given, else 1% of the
    ``n_fit`` fitted customers (at least 10).

    Examples
    --------
    >>> min_persona_size(None, 2000), min_persona_size(None, 300), min_persona_size(25, 300)
    (20, 10, 25)
    """
    if min_cluster_size is not None:
        return int(min_cluster_size)
    return max(10, round(0.01 * n_fit))


def check_min_events(value: Any) -> None:
    """Refuse a ``min_events`` that is neither ``"auto"`` nor an integer >= 1."""
    if value != "auto" and (
        isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1
    ):
        raise ConfigError(f"min_events must be 'auto' or an integer >= 1, got {value!r}.")


def lower_min_events(min_events: int) -> int:
    """The value a hint proposes to someone whose customers fall short of ``min_events``: 3
    (short cases), or one less where ``min_events`` is 3 or below already.

    Examples
    --------
    >>> lower_min_events(10), lower_min_events(3), lower_min_events(1)
    (3, 2, 1)
    """
    return 3 if min_events > 3 else max(1, min_events - 1)


def resolve_min_events(min_events: int | str, n_events: np.ndarray, counted: bool = True) -> int:
    """The events a customer needs for a persona: ``min_events`` itself, or for ``"auto"``
    :data:`MIN_EVENTS` (10), lowered to the median customer's event count on logs of short
    cases (helpdesk tickets of 4 events, loan applications of 6), never below 3; 1 when the
    features carry no event counts (``counted=False``).

    Examples
    --------
    >>> resolve_min_events("auto", np.array([40, 55, 80]))
    10
    >>> resolve_min_events("auto", np.array([3, 4, 4, 5, 9]))
    4
    >>> resolve_min_events("auto", np.array([1, 1, 2]))
    3
    >>> resolve_min_events(7, np.array([1, 1, 2]))
    7
    """
    if min_events != "auto":
        return int(min_events)
    if not counted:
        return 1
    seen = np.asarray(n_events)[np.asarray(n_events) > 0]
    median = float(np.median(seen)) if len(seen) else float(MIN_EVENTS)
    return int(min(MIN_EVENTS, max(MIN_EVENTS_FLOOR, np.floor(median))))


def check_enough_eligible(
    eligible: np.ndarray, min_events: int, min_cluster_size: int | None
) -> int:
    """The number of ``eligible`` customers (those with at least ``min_events`` events); a
    :class:`~journeymine.exceptions.ConfigError` when they are fewer than twice the smallest
    persona (``min_cluster_size``, default 10) or 20.

    Examples
    --------
    >>> check_enough_eligible(np.array([True] * 25 + [False]), 10, None)
    25
    >>> check_enough_eligible(np.array([True] * 5), 10, None)
    Traceback (most recent call last):
    ...
    journeymine.exceptions.ConfigError: too few customers to cluster: 5 of 5 have at least ...
    """
    n_elig = int(eligible.sum())
    need = max(2 * (min_cluster_size or 10), 20)
    if n_elig < need:
        raise ConfigError(
            f"too few customers to cluster: {n_elig} of {len(eligible)} have at least "
            f"min_events={min_events} events, and at least {need} are needed. Lower "
            f"min_events{' or min_cluster_size' if min_cluster_size else ''}, or use a "
            f"longer time window."
        )
    return n_elig
