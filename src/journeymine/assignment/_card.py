"""The model card of a :class:`~journeymine.assignment.PersonaModel`: what it holds (classes,
features, spec, parameters, training fingerprint, buckets, metrics), the schema and versions a
saved model is checked against, and the checksum over the fields that change behaviour."""

from __future__ import annotations

import datetime as _dt
import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from journeymine.exceptions import ConfigError
from journeymine.features import FeatureSpec
from journeymine.io import cards
from journeymine.schema import (
    ACTIVITY,
    CANONICAL_COLUMNS,
    CHANNEL,
    CUSTOMER_ID,
    JOURNEY_ID,
    REQUIRED_COLUMNS,
    SESSION_ID,
    TIMESTAMP_DTYPE,
    VALUE,
)

if TYPE_CHECKING:
    from journeymine.assignment._model import PersonaModel

__all__ = [
    "CHECKSUMMED_FIELDS",
    "FORMAT_VERSION",
    "KIND",
    "SCHEMA_VERSION",
    "TRUSTED_TYPES",
    "UNASSIGNED",
    "UNASSIGNED_NAME",
    "bucket_summary",
    "card_checksum",
    "fingerprint",
    "names_from",
    "package_version",
    "schema_descriptor",
    "training_card",
]

UNASSIGNED = -1
UNASSIGNED_NAME = "unassigned"
KIND = "journeymine.PersonaModel"
#: Saved-model format written by this version (2: the card checksum covers the behavioural
#: card fields too; :func:`~journeymine.assignment.load_model` still reads format 1).
FORMAT_VERSION = 2
#: Version of the canonical-schema contract a model relies on; bump it when the meaning of a
#: canonical column changes without a name change (names and dtypes are compared as well).
SCHEMA_VERSION = 1

#: Types outside skops' default trusted set that a PersonaModel file may contain.
TRUSTED_TYPES: frozenset[str] = frozenset(
    {
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._TemperatureScaling",
        "sklearn.calibration._SigmoidCalibration",
    }
)


#: Card fields (``artifact.untrusted_types`` is the one sub-field) that change what a loaded
#: model does or whether it loads; the format-2 checksum covers them and the skops bytes.
CHECKSUMMED_FIELDS: tuple[str, ...] = (
    "kind",
    "format_version",
    "journeymine_version",
    "schema",
    "feature_spec",
    "feature_names",
    "classes",
    "unassigned",
    "as_of",
    "model",
    "params",
    "artifact.untrusted_types",
)


def schema_descriptor() -> dict[str, Any]:
    """The canonical schema a model was built for (compared when a model is loaded)."""
    return {
        "version": SCHEMA_VERSION,
        "columns": list(CANONICAL_COLUMNS),
        "required": list(REQUIRED_COLUMNS),
        "timestamp_dtype": str(TIMESTAMP_DTYPE),
    }


def card_checksum(card: dict, data: bytes) -> str:
    """SHA-256 of the canonical JSON of the card's :data:`CHECKSUMMED_FIELDS` (sorted keys, no
    spaces; an absent field is ``null``) followed by the skops bytes (format 2)."""
    return cards.card_checksum(card, data, kind=KIND, fields=CHECKSUMMED_FIELDS)


def fingerprint(log: pd.DataFrame, t: np.ndarray, order: np.ndarray) -> str:
    """SHA-256 over per-event hashes of the canonical columns in (customer, time) order."""
    h = hashlib.sha256()
    h.update(b"journeymine-log-v1")
    for col in (CUSTOMER_ID, ACTIVITY, CHANNEL, JOURNEY_ID, SESSION_ID):
        h.update(col.encode())
        if col in log.columns:
            values = log[col].to_numpy(dtype=object, na_value=None)[order]
            h.update(pd.util.hash_array(values.astype(str), categorize=True).tobytes())
            h.update(pd.isna(values).tobytes())
    h.update(np.ascontiguousarray(t[order]).tobytes())
    if VALUE in log.columns:
        v = log[VALUE].to_numpy(dtype=np.float64, na_value=np.nan)[order]
        h.update(np.where(np.isnan(v), 0.0, v).tobytes() + np.isnan(v).tobytes())
    return h.hexdigest()


def names_from(names: Any, classes: np.ndarray) -> dict[int, str]:
    if names is None:
        mapping: dict[Any, Any] = {}
    elif isinstance(names, pd.DataFrame):
        if "name" not in names.columns:
            raise ConfigError(
                f"names as a DataFrame needs a 'name' column (e.g. miner.profiles_), got "
                f"columns {list(names.columns)}."
            )
        mapping = names["name"].to_dict()
    elif isinstance(names, pd.Series):
        mapping = names.to_dict()
    elif isinstance(names, Mapping):
        mapping = dict(names)
    else:
        raise ConfigError(
            f"names must be a mapping persona id -> name, a Series or miner.profiles_, got "
            f"{type(names).__name__}."
        )
    out = {}
    for c in classes:
        name = mapping.get(int(c), mapping.get(str(int(c))))
        out[int(c)] = str(name) if name is not None and not pd.isna(name) else f"persona {c}"
    return out


def package_version() -> str:
    import journeymine

    return str(journeymine.__version__)


def bucket_summary(
    estimators: list[Any], edges: tuple[int, ...], row_bucket: np.ndarray, row_customer: np.ndarray
) -> list[dict[str, Any]]:
    """Per bucket of events seen: its range, the personas its classifier knows and the
    training rows and customers it was fitted on."""
    buckets = []
    lows = (0, *edges)
    for i, est in enumerate(estimators):
        hi = edges[i] if i < len(edges) else None
        m = row_bucket == i
        buckets.append(
            {
                "events": f"{lows[i] + 1}-{hi}" if hi is not None else f">{lows[i]}",
                "personas": [int(c) for c in est.classes_],
                "n_rows": int(m.sum()),
                "n_customers": len(np.unique(row_customer[m])),
            }
        )
    return buckets


def training_card(
    model: PersonaModel,
    spec: FeatureSpec,
    counts: np.ndarray,
    training: dict[str, Any],
    metrics: dict[str, Any],
) -> dict[str, Any]:
    """The card of a freshly fitted model (``model.card_``).

    Parameters
    ----------
    model : PersonaModel
        The fitted model (its parameters, classes and persona names).
    spec : FeatureSpec
        The model's live spec.
    counts : ndarray of int
        Labelled customers per class of ``model.classes_``.
    training : dict
        What it was trained on (fingerprint, counts, buckets).
    metrics : dict
        Held-out metrics (:func:`~journeymine.assignment._metrics.holdout_metrics`), or empty.

    Returns
    -------
    dict
        JSON-serialisable; saving adds ``model``, ``artifact`` and ``integrity``.
    """
    return {
        "format_version": FORMAT_VERSION,
        "kind": KIND,
        "journeymine_version": package_version(),
        "created_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "schema": schema_descriptor(),
        "classes": [
            {
                "persona": int(c),
                "name": model.persona_names_[int(c)],
                "n_customers": int(n),
            }
            for c, n in zip(model.classes_, counts, strict=True)
        ],
        "unassigned": {"persona": UNASSIGNED, "name": UNASSIGNED_NAME},
        "feature_names": model.feature_names_,
        "feature_spec": spec.to_dict(),
        "as_of": "last_event",
        "params": {
            "abstain_threshold": float(model.abstain_threshold),
            "prefix_cuts": [None if k is None else int(k) for k in model.prefix_cuts],
            "calibration": model.calibration,
            "classifier": "logistic regression on standardised features, one per bucket "
            "of events seen",
            "C": float(model.C),
            "cv": int(model.cv),
            "validation_size": float(model.validation_size),
            "refit": bool(model.refit),
            "random_state": int(model.random_state),
        },
        "training": training,
        "metrics": metrics,
    }
