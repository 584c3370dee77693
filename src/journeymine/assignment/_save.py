"""Saving a :class:`~journeymine.assignment.PersonaModel`: the skops bytes of its bucket
models and its card (with the artifact's SHA-256 and the integrity checksum), written as a pair
of atomic files. The format and what loading checks are described in
:mod:`journeymine.assignment._persist`."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from journeymine.assignment._card import (
    CHECKSUMMED_FIELDS,
    FORMAT_VERSION,
    KIND,
    TRUSTED_TYPES,
)
from journeymine.exceptions import ConfigError, ModelError
from journeymine.io import cards

if TYPE_CHECKING:
    from journeymine.assignment._model import PersonaModel

__all__ = ["model_to_bytes", "save_model"]


def model_to_bytes(model: PersonaModel, *, file_name: str = "model.skops") -> tuple[bytes, dict]:
    """The skops bytes and the card (with ``artifact`` filled in) of a fitted model."""
    import sklearn
    import skops.io as sio

    model._fitted()
    data = sio.dumps(list(model.estimators_), compression=zipfile.ZIP_DEFLATED)
    untrusted = sorted(sio.get_untrusted_types(data=data))
    unexpected = sorted(set(untrusted) - TRUSTED_TYPES)
    if unexpected:
        raise ModelError(
            f"the model contains types {unexpected} that load_model would refuse (allowlist: "
            f"{sorted(TRUSTED_TYPES)}); it was not saved."
        )
    threshold = model.abstain_threshold
    if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.floating):
        raise ConfigError(f"abstain_threshold must be a number in [0, 1], got {threshold!r}.")
    if not 0.0 <= float(threshold) <= 1.0:
        raise ConfigError(f"abstain_threshold must be a number in [0, 1], got {threshold!r}.")
    card = json.loads(json.dumps(model.card_))
    card.pop("integrity", None)
    card["format_version"] = FORMAT_VERSION
    card["model"] = {
        "bucket_edges": [int(e) for e in model.bucket_edges_],
        "abstain_threshold": float(threshold),
    }
    # what the model does now, not what it did when it was fitted: a renamed persona or a new
    # threshold set in Python is saved (and covered by the checksum)
    card.setdefault("params", {})["abstain_threshold"] = float(threshold)
    for c in card.get("classes", []):
        c["name"] = str(model.persona_names_.get(int(c["persona"]), c["name"]))
    card["artifact"] = cards.artifact(
        data,
        untrusted,
        file=file_name,
        format="skops: list of CalibratedClassifierCV, one per bucket of events seen",
        sklearn_version=sklearn.__version__,
    )
    card["integrity"] = cards.integrity(card, data, kind=KIND, fields=CHECKSUMMED_FIELDS)
    return data, card


def save_model(model: PersonaModel, path: str | os.PathLike[str]) -> Path:
    """Write ``path`` (skops) and ``path.with_suffix('.json')`` (card), each atomically (the
    skops file first, then the card).

    Returns
    -------
    Path
        The skops file.
    """
    return cards.save_model_files(model, path, model_to_bytes)
