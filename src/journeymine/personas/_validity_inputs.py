"""What :func:`~journeymine.personas.persona_validity` compares: the personas as a design
matrix (one-hot labels or soft memberships) and the recency/frequency/value baseline
(:data:`RFV_FEATURES`), both for the customers with an event before the cutoff.

Examples
--------
>>> import numpy as np, pandas as pd
>>> customers = pd.Index(["a", "b"], name="customer_id")
>>> before = pd.DataFrame({"customer_id": ["a", "a", "b"]})
>>> t = np.array([0, 86_400_000_000, 86_400_000_000])
>>> rfv_baseline(before, t, customers, cutoff=2 * 86_400_000_000)
             recency_days  n_events  n_active_days  tenure_days
customer_id
a                     1.0       2.0            2.0          2.0
b                     1.0       1.0            1.0          1.0
>>> X, hard, kind = persona_design(pd.Series([0, -1], index=["a", "b"]), customers)
>>> list(X.columns), kind
(['persona:-1', 'persona:0'], 'hard')
>>> attrs = pd.DataFrame({"age": [30, 50], "region": ["N", None]}, index=["a", "b"])
>>> A, scale, names = attribute_design(attrs, customers)
>>> A.columns.tolist(), scale.tolist()
(['age', 'region:N', 'region:missing'], [True, False, False])
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from journeymine.exceptions import ConfigError
from journeymine.personas._outcomes import US_PER_DAY
from journeymine.schema import CUSTOMER_ID, VALUE

__all__ = ["RFV_FEATURES", "attribute_design", "persona_design", "rfv_baseline"]

#: The recency/frequency/value baseline (``monetary`` only when the log has values).
RFV_FEATURES: tuple[str, ...] = (
    "recency_days",
    "n_events",
    "n_active_days",
    "monetary",
    "tenure_days",
)


def persona_design(labels: Any, customers: pd.Index) -> tuple[pd.DataFrame, pd.Series | None, str]:
    """Persona design matrix (one-hot or memberships), the hard labels (None for soft ones)
    and the kind, for ``customers``; :class:`ConfigError` when they do not cover them."""
    if isinstance(labels, pd.DataFrame):
        kind = "soft"
        if labels.shape[1] == 0:
            raise ConfigError("labels (soft memberships) has no columns; give one per persona.")
        bad = [str(c) for c in labels.columns if not pd.api.types.is_numeric_dtype(labels[c])]
        if bad:
            raise ConfigError(
                f"soft-membership labels must be numeric (customers x personas, values in "
                f"[0, 1]); columns {bad} are not. Pass a Series of personas for hard labels."
            )
        index = labels.index
    elif isinstance(labels, pd.Series):
        kind = "hard"
        index = labels.index
    else:
        raise ConfigError(
            f"labels must be a Series of personas indexed by customer_id (e.g. "
            f"PersonaMiner().fit(log).labels_; -1 = no persona) or a DataFrame of soft "
            f"memberships (customers x personas), got {type(labels).__name__}."
        )
    index = pd.Index(index.astype(str), name=CUSTOMER_ID)
    if index.has_duplicates:
        dup = index[index.duplicated()].unique()
        raise ConfigError(
            f"labels has {len(dup)} repeated customer_id(s), e.g. {list(dup[:3])}; give one "
            f"row per customer."
        )
    values = labels.set_axis(index)
    present = values.notna() if kind == "hard" else values.notna().all(axis=1)
    covered = customers.isin(index[np.asarray(present, dtype=bool)])
    if not covered.all():
        missing = customers[~covered]
        raise ConfigError(
            f"labels do not cover the customers: {len(missing):,} of {len(customers):,} "
            f"customers with events before the cutoff have no label (or a missing one), e.g. "
            f"{list(missing[:3])}. Every customer needs a persona (-1 = no persona, its own "
            f"category). Label them with the same miner (e.g. miner.predict(features) or "
            f"jm.assign_many), or drop them from the log before the check."
        )
    values = values.loc[customers]
    if kind == "soft":
        M = values.to_numpy(dtype=np.float64)
        if not np.isfinite(M).all() or (M < 0).any():
            raise ConfigError(
                "soft-membership labels must be finite and >= 0 (probabilities per persona); "
                "fill or clip them first."
            )
        X = pd.DataFrame(M, index=customers, columns=[f"persona:{c}" for c in values.columns])
        return X, None, kind
    hard = values.astype(str) if values.dtype == object else values
    X = pd.get_dummies(hard.astype("category"), prefix="persona", prefix_sep=":", dtype=float)
    return X.set_axis(customers), values, kind


def rfv_baseline(
    before: pd.DataFrame, t: np.ndarray, customers: pd.Index, cutoff: int
) -> pd.DataFrame:
    """Recency, frequency, value and tenure of each customer from the events before cutoff."""
    codes = customers.get_indexer(before[CUSTOMER_ID].astype(str))
    n = len(customers)
    last = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
    first = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.maximum.at(last, codes, t)
    np.minimum.at(first, codes, t)
    n_events = np.bincount(codes, minlength=n).astype(np.float64)
    days = t // US_PER_DAY
    pairs = np.unique(np.column_stack([codes, days]), axis=0)
    n_days = np.bincount(pairs[:, 0], minlength=n).astype(np.float64)
    out: dict[str, np.ndarray] = {
        "recency_days": (cutoff - last) / US_PER_DAY,
        "n_events": n_events,
        "n_active_days": n_days,
        "tenure_days": (cutoff - first) / US_PER_DAY,
    }
    if VALUE in before.columns:
        v = before[VALUE].to_numpy(dtype=np.float64, na_value=np.nan)
        ok = np.isfinite(v)
        if ok.any():
            out["monetary"] = np.bincount(codes[ok], weights=v[ok], minlength=n).astype(float)
    cols = [c for c in RFV_FEATURES if c in out]
    return pd.DataFrame({c: out[c] for c in cols}, index=customers)


def attribute_design(
    attributes: Any, customers: pd.Index
) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """The user's customer attributes (e.g. demographics) as a design matrix for the customers
    among ``customers`` that have a row: numeric columns as they are (standardized later,
    ``scale`` True), any other column one-hot with a missing value as its own category; the
    attribute names used. :class:`ConfigError` for a frame that is not one row per customer,
    a numeric column with missing values, or no customer in common."""
    if not isinstance(attributes, pd.DataFrame):
        raise ConfigError(
            f"attributes must be a DataFrame of customer attributes (e.g. demographics) indexed "
            f"by customer_id, got {type(attributes).__name__}."
        )
    frame = attributes
    if CUSTOMER_ID in frame.columns:
        frame = frame.set_index(CUSTOMER_ID)
    frame = frame.set_axis(pd.Index(frame.index.astype(str), name=CUSTOMER_ID))
    if frame.index.has_duplicates:
        dup = frame.index[frame.index.duplicated()].unique()
        raise ConfigError(
            f"attributes has {len(dup)} repeated customer_id(s), e.g. {list(dup[:3])}; give one "
            f"row per customer."
        )
    if frame.shape[1] == 0:
        raise ConfigError("attributes has no columns; give at least one customer attribute.")
    common = customers[customers.isin(frame.index)]
    if not len(common):
        raise ConfigError(
            f"attributes share no customer_id with the {len(customers):,} customers that have "
            f"events before the cutoff (e.g. {list(customers[:3])} vs "
            f"{list(frame.index[:3])}); index the attributes by the log's customer_id."
        )
    frame = frame.loc[common]
    parts: list[pd.DataFrame] = []
    scale: list[bool] = []
    for col in frame.columns:
        s = frame[col]
        if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
            text = s.astype(object).where(s.notna(), "missing").astype(str)
            dummies = pd.get_dummies(text, prefix=str(col), prefix_sep=":", dtype=float)
            parts.append(dummies)
            scale += [False] * dummies.shape[1]
            continue
        values = s.to_numpy(dtype=np.float64, na_value=np.nan)
        if not np.isfinite(values).all():
            raise ConfigError(
                f"attribute {col!r} is numeric with {int((~np.isfinite(values)).sum()):,} "
                f"missing or infinite values; fill them (e.g. attributes[{col!r}].fillna(...)) "
                f"or turn the column into categories (missing is then its own category)."
            )
        parts.append(pd.DataFrame({str(col): values}, index=common))
        scale.append(True)
    return pd.concat(parts, axis=1), np.asarray(scale, dtype=bool), [str(c) for c in frame.columns]
