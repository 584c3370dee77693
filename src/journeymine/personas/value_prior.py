"""A thinly measured customer's order value, shrunk towards that of customers who behave alike.

The featurizer shrinks each customer's mean order value towards the log's mean by
``prior_strength`` pseudo-purchases (``order_value_log``). Where personas differ in value, that
one global prior puts every customer without a valued purchase at the same point, far from the
value of their own persona: a persona of researchers then splits into those who bought in the
window and those who did not. For the persona view the prior is instead *predicted from the
customer's other behaviour*: a ridge regression, fitted on the customers with at least
:data:`MIN_PURCHASES` valued purchases, from the rest of the view to their log mean order value.
A customer with ``n`` valued purchases keeps ``n / (n + prior_strength)`` of their own mean and
takes the rest from the prediction, as before from the global prior.

The number of valued purchases is read back from the two features that carry it
(``log_value``, the log of the total value, and ``order_value_log``), inverting the
featurizer's formula: no extra pass over the log.

Examples
--------
>>> import numpy as np, pandas as pd
>>> from journeymine.features import FeatureSpec
>>> spec = FeatureSpec(activities=("buy",), channels=("web",), as_of_us=0,
...                    order_value_prior=50.0, prior_strength=2.0)
>>> value = np.array([0.0, 300.0, 30.0])          # totals; purchases 0, 3, 1
>>> n = np.array([0, 3, 1])
>>> feats = pd.DataFrame({"log_value": np.log1p(value),
...                       "order_value_log": np.log1p((value + 2 * 50.0) / (n + 2))})
>>> valued_purchases(feats, spec).tolist()
[0.0, 3.0, 1.0]
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.linear_model import Ridge

from journeymine.features import FeatureSpec

__all__ = [
    "MIN_PURCHASES",
    "ORDER_VALUE",
    "fit_value_prior",
    "valued_purchases",
    "with_value_prior",
]

logger = logging.getLogger(__name__)

ORDER_VALUE = "order_value_log"
TOTAL_VALUE = "log_value"
#: Valued purchases a customer needs for their mean order value to teach the prediction.
MIN_PURCHASES = 2
#: Fewest such customers for a prediction; with fewer the featurizer's global prior stays.
MIN_TEACHERS = 20


def valued_purchases(feats: pd.DataFrame, spec: FeatureSpec) -> np.ndarray:
    """Valued purchases per customer, read back from ``log_value`` and ``order_value_log``
    (see the module docstring); 0 where the total value is not positive."""
    return _value_and_count(feats, spec)[1]


def _value_and_count(feats: pd.DataFrame, spec: FeatureSpec) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's total value and valued purchases (:func:`valued_purchases`)."""
    value = np.expm1(feats[TOTAL_VALUE].to_numpy(dtype=np.float64))
    mean = np.expm1(feats[ORDER_VALUE].to_numpy(dtype=np.float64))
    k, prior = float(spec.prior_strength), float(spec.order_value_prior)
    n = np.divide(value + k * prior, mean, out=np.zeros_like(mean), where=mean > 0) - k
    return value, np.where(value > 0, np.maximum(np.round(n), 0.0), 0.0)


def fit_value_prior(
    Z: np.ndarray, feats: pd.DataFrame, columns: Sequence[str], spec: FeatureSpec | None
) -> Ridge | None:
    """The ridge regression from the view's other columns to the log mean order value of the
    customers with at least :data:`MIN_PURCHASES` valued purchases; ``None`` (with a log
    line) when the view has no order value, the spec is unknown or too few customers teach."""
    if ORDER_VALUE not in columns or spec is None or TOTAL_VALUE not in feats.columns:
        return None
    value, n = _value_and_count(feats, spec)
    teach = n >= MIN_PURCHASES
    if int(teach.sum()) < MIN_TEACHERS:
        logger.info(
            "order value: %d customers with %d+ valued purchases (fewer than %d); the thinly "
            "measured keep the log's mean order value as their prior",
            int(teach.sum()),
            MIN_PURCHASES,
            MIN_TEACHERS,
        )
        return None
    target = np.log1p(value[teach] / n[teach])
    return Ridge(alpha=1.0).fit(_others(Z, columns)[teach], target)


def with_value_prior(
    feats: pd.DataFrame, Z: np.ndarray, columns: Sequence[str], model: Ridge, spec: FeatureSpec
) -> pd.DataFrame:
    """``feats`` with ``order_value_log`` shrunk towards the prior ``model`` predicts from the
    view's other columns ``Z`` (module docstring)."""
    value, n = _value_and_count(feats, spec)
    prior = np.expm1(model.predict(_others(Z, columns)))
    k = float(spec.prior_strength)
    out = feats.copy()
    out[ORDER_VALUE] = np.log1p(np.maximum((value + k * prior) / (n + k), 0.0))
    return out


def _others(Z: np.ndarray, columns: Sequence[str]) -> np.ndarray:
    keep = [i for i, c in enumerate(columns) if c != ORDER_VALUE]
    return Z[:, keep]
