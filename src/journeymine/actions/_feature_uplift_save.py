"""Saving and loading a FeatureUplift: a skops file (numpy arrays only: the customers'
components, the per-journey coefficients, the feature transforms) plus a JSON card (parameters,
the settings chosen, journeys, checksums) through :mod:`journeymine.io.cards`, and beside them
the cell model's own pair (:meth:`UpliftModel.save`, ``<stem>-cells.skops`` and ``.json``),
whose card checksum the FeatureUplift card covers. Never pickle.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from journeymine.actions._uplift_save import FIX, CardFormat, read_checked, write_checked
from journeymine.exceptions import ConfigError, ModelError

__all__ = [
    "CHECKSUMMED_FIELDS",
    "FORMAT_VERSION",
    "KIND",
    "TRUSTED_TYPES",
    "cells_path",
    "load_feature_uplift",
    "save_feature_uplift",
]

FORMAT_VERSION = 1
KIND = "journeymine.FeatureUplift"
#: Every type a FeatureUplift file may hold (checked in the file's schema before anything is
#: built): the default, and the widest list ``FeatureUplift.load(trusted=...)`` accepts.
TRUSTED_TYPES: frozenset[str] = frozenset(
    {"builtins.dict", "builtins.list", "builtins.str", "numpy.ndarray"}
)
#: Card fields covered by the integrity checksum (with the skops bytes).
CHECKSUMMED_FIELDS: tuple[str, ...] = (
    "kind",
    "format_version",
    "journeymine_version",
    "params",
    "chosen",
    "journeys",
    "cells",
    "artifact.sha256",
    "artifact.untrusted_types",
)
_FORMAT = CardFormat(
    KIND,
    FORMAT_VERSION,
    CHECKSUMMED_FIELDS,
    saved_by="FeatureUplift.save()",
    what="a FeatureUplift",
    required={"params": dict, "chosen": dict, "journeys": list, "cells": dict},
    covers="the parameters, the chosen C and blend, the journeys and the cell model's card",
    elsewhere="an UpliftModel loads with UpliftModel.load, persona models with jm.load_model.",
)
_ARRAYS = (
    "customers",
    "components",
    "coef",
    "intercept",
    "has_model",
    "scaler_mean",
    "scaler_scale",
    "pca_components",
    "pca_mean",
    "pca_variance",
    "comp_mean",
    "comp_scale",
)


def cells_path(path: Path) -> Path:
    """Where the cell model of the FeatureUplift saved at ``path`` is: ``<stem>-cells.skops``
    (its card ``<stem>-cells.json``), beside it."""
    return path.with_name(f"{path.stem}-cells.skops")


def save_feature_uplift(model: Any, path: str | os.PathLike[str]) -> Path:
    """Write a fitted FeatureUplift (see FeatureUplift.save): the cells' pair, then the
    skops file and the card."""
    import sklearn

    from journeymine.io import cards

    p = cards.check_save_path(path)
    cells = cells_path(p)
    model.base_.save(cells)
    _, cells_card = cards.read_model_files(cells, "UpliftModel.save()")
    J = len(model.journeys_)
    d = model.components_.shape[1] + len(model.base_.personas_) - 1  # _design's columns
    coef, intercept = np.zeros((J, 2 * d + 1)), np.zeros(J)
    for jj, clf in enumerate(model.models_):
        if clf is not None:
            coef[jj], intercept[jj] = clf.coef_[0], clf.intercept_[0]
    state = {
        "customers": np.asarray(model.components_.index, dtype=str),
        "components": model.components_.to_numpy(dtype=np.float64),
        "coef": coef,
        "intercept": intercept,
        "has_model": np.array([clf is not None for clf in model.models_]),
        "scaler_mean": model.scaler_.mean_,
        "scaler_scale": model.scaler_.scale_,
        "pca_components": model.pca_.components_,
        "pca_mean": model.pca_.mean_,
        "pca_variance": model.pca_.explained_variance_,
        "comp_mean": model._comp_scale.mean_,
        "comp_scale": model._comp_scale.scale_,
    }
    body: dict[str, Any] = {
        "params": {
            **{k: cards.jsonable(v) for k, v in model.get_params(deep=False).items()},
            "base": None if model.base is None else cards.jsonable(model.base.get_params()),
        },
        "chosen": {"C": model.C_, "blend": float(model.blend_)},
        "journeys": list(model.journeys_),
        "cells": {"file": cells.name, "integrity_sha256": cells_card["integrity"]["sha256"]},
        "summary": {
            "customers": len(model.components_),
            "journeys_with_feature_model": [
                n for n, clf in zip(model.journeys_, model.models_, strict=True) if clf is not None
            ],
            "cv": cards.jsonable(model.cv_),
        },
    }
    holds = "skops: dict of numpy arrays (" + ", ".join(_ARRAYS) + ")"
    write_checked(p, _FORMAT, state, body, holds=holds, sklearn_version=sklearn.__version__)
    return p


def load_feature_uplift(
    path: str | os.PathLike[str], cls: Any, trusted: Collection[str] | None = None
) -> Any:
    """Read what :func:`save_feature_uplift` wrote, every check first, into a new ``cls`` (the
    FeatureUplift class; passed in so that this module does not import it)."""
    import skops.io as sio

    from journeymine.actions.uplift import UpliftModel
    from journeymine.io import cards

    data, card = read_checked(path, _FORMAT, allowed=_check_trusted(trusted))
    source = str(path)
    cells = cells_path(Path(path))
    base = UpliftModel.load(cells)
    cells_sha = cards.read_model_files(cells, "FeatureUplift.save()")[1]["integrity"]["sha256"]
    if cells_sha != card["cells"].get("integrity_sha256"):
        raise ModelError(
            f"{source}: the cell model {cells} is not the one saved with this FeatureUplift "
            f"(its card checksum differs from the one this card records). {FIX}"
        )
    try:
        state = sio.loads(data, trusted=[])
        params = dict(card["params"])
        if params.get("base") is not None:
            params["base"] = UpliftModel(**params["base"])
        model = _rebuild(cls(**params), state, base, card)
    except (TypeError, ValueError, KeyError) as exc:
        raise ModelError(f"{source}: the model does not match its card ({exc}). {FIX}") from exc
    return model


def _check_trusted(trusted: Collection[str] | None) -> frozenset[str]:
    """The types the file may hold: ``TRUSTED_TYPES``, or the caller's narrower list."""
    if trusted is None:
        return TRUSTED_TYPES
    if isinstance(trusted, str) or not all(isinstance(t, str) for t in trusted):
        raise ConfigError(
            f"trusted must be a list of type names (e.g. {sorted(TRUSTED_TYPES)}), got {trusted!r}."
        )
    wider = sorted(set(trusted) - TRUSTED_TYPES)
    if wider:
        raise ConfigError(
            f"trusted may only narrow the types a FeatureUplift file holds "
            f"({sorted(TRUSTED_TYPES)}); {wider} cannot be trusted (the model is saved as "
            f"numpy arrays only). Leave trusted unset for the default."
        )
    return frozenset(trusted)


def _rebuild(model: Any, state: dict[str, Any], base: Any, card: dict[str, Any]) -> Any:
    """The fitted model from the arrays of the skops file, checked against the card."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression

    a = {k: np.asarray(state[k]) for k in _ARRAYS}
    journeys = [str(j) for j in card["journeys"]]
    J, (n, k) = len(journeys), a["components"].shape
    d = k + len(base.personas_) - 1
    if journeys != base.journeys_ or a["coef"].shape != (J, 2 * d + 1) or len(a["customers"]) != n:
        raise ValueError(
            f"coefficients of shape {a['coef'].shape} for {J} journeys, {k} components and "
            f"{len(base.personas_) - 1} persona rows"
        )
    model.base_, model.journeys_ = base, journeys
    model.C_ = None if card["chosen"].get("C") is None else float(card["chosen"]["C"])
    model.blend_ = float(card["chosen"]["blend"])
    model.components_ = pd.DataFrame(a["components"], index=pd.Index(a["customers"].astype(str)))
    model.models_ = []
    for jj in range(J):
        if not a["has_model"][jj]:
            model.models_.append(None)
            continue
        clf = LogisticRegression(C=model.C_ or 1.0)
        clf.coef_, clf.intercept_ = (
            a["coef"][jj : jj + 1].copy(),
            a["intercept"][jj : jj + 1].copy(),
        )
        clf.classes_, clf.n_features_in_ = np.array([False, True]), a["coef"].shape[1]
        model.models_.append(clf)
    model.scaler_ = _scaler(a["scaler_mean"], a["scaler_scale"])
    model._comp_scale = _scaler(a["comp_mean"], a["comp_scale"])
    pca = PCA(len(a["pca_components"]), random_state=model.random_state)
    pca.components_, pca.mean_ = a["pca_components"], a["pca_mean"]
    pca.explained_variance_, pca.n_components_ = a["pca_variance"], len(a["pca_components"])
    pca.n_features_in_ = a["pca_components"].shape[1]
    model.pca_ = pca
    model.cv_ = pd.DataFrame(card.get("summary", {}).get("cv") or [])
    return model


def _scaler(mean: np.ndarray, scale: np.ndarray) -> Any:
    """A fitted StandardScaler from its mean and scale."""
    from sklearn.preprocessing import StandardScaler

    s = StandardScaler()
    s.mean_, s.scale_, s.var_ = mean, scale, scale**2
    s.n_features_in_ = len(mean)
    return s
