"""Saving and loading a :class:`PersonaModel`: a skops file plus a JSON model card.

Format (``format_version`` 2)
-----------------------------
- ``<name>.skops``: the list of fitted ``CalibratedClassifierCV`` (one per bucket of events
  seen), written with ``skops.io.dumps`` (zip, deflated). Never pickle.
- ``<name>.json``: the model card (``PersonaModel.card_``) plus ``artifact``: the skops file's
  name, size and SHA-256, the skops/scikit-learn versions that wrote it and the types skops
  does not trust by default (``untrusted_types``), ``model``: bucket edges and the abstain
  threshold, and ``integrity``: the SHA-256 of the canonical JSON of every card field that
  changes behaviour (:data:`CHECKSUMMED_FIELDS`: persona ids and names, bucket edges, abstain
  threshold, parameters, features, schema, trusted types...) followed by the skops bytes.
  Descriptive fields (``metrics``, ``training``, ``created_at``, the rest of ``artifact``) are
  not covered: editing them changes nothing.

Format 1 (journeymine 0.1.0 fixtures) is still read: its checksum covers the skops bytes only.
Re-saving such a model (``load_model(path).save(path)``) writes format 2.

Loading refuses (with :class:`~journeymine.exceptions.ModelError`, naming what differs and
how to fix it):

1. a card of a newer ``format_version``, or another major version of journeymine;
2. a card field of the wrong type or out of range (e.g. ``abstain_threshold`` outside
   [0, 1], persona ids that are not unique integers, an unknown calibration);
3. a skops file whose SHA-256 is not the card's (corrupted, truncated, tampered or paired with
   the wrong card);
4. a model built for another canonical schema, or whose feature spec no longer gives the card's
   feature names (features changed since the model was trained), or that this code cannot
   compute;
5. any type outside :data:`TRUSTED_TYPES` (our explicit allowlist), or a type set other than
   the card's;
6. (format 2) a card whose behavioural fields were changed after saving (e.g. swapped persona
   names or a new threshold): change the model in Python and save it again instead. The file is
   then loaded with ``skops.io.loads(data, trusted=[...])`` naming exactly the allowed types:
   never "trust everything".

The checksums guard against corruption, mismatched pairs and hand edits; they are not a
signature (someone who can rewrite both files can recompute them). The allowlist is what keeps
a crafted file from running code.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

import numpy as np

from journeymine.assignment._card import (
    CHECKSUMMED_FIELDS,
    FORMAT_VERSION,
    KIND,
    TRUSTED_TYPES,
    UNASSIGNED,
    UNASSIGNED_NAME,
    card_checksum,
    schema_descriptor,
)
from journeymine.assignment._save import model_to_bytes, save_model
from journeymine.assignment._scorer import Scorer
from journeymine.exceptions import ConfigError, JourneymineError, ModelError
from journeymine.features import Encoded, FeatureSpec, Vocab, numpy_aggregates
from journeymine.io import cards

if TYPE_CHECKING:
    from journeymine.assignment._model import PersonaModel

__all__ = [
    "CHECKSUMMED_FIELDS",
    "TRUSTED_TYPES",
    "card_checksum",
    "model_from_bytes",
    "model_to_bytes",
    "read_model",
    "save_model",
]

_CALIBRATIONS = ("temperature", "isotonic", "sigmoid")
_FIX = (
    "Restore the card saved with the model, or change the model in Python (e.g. "
    "model.abstain_threshold, model.persona_names_) and save it again with model.save(path) "
    "(journeymine.assignment.save_model), or retrain it."
)


def _check_card(card: Any, source: str) -> None:
    if not isinstance(card, dict) or card.get("kind") != KIND:
        raise ModelError(f"{source}: not a journeymine PersonaModel card.")
    fv = cards.check_format_and_version(card, source, FORMAT_VERSION)
    schema = card.get("schema")
    now = schema_descriptor()
    if schema != now:
        keys = sorted(
            k for k in set(now) | set(schema or {}) if (schema or {}).get(k) != now.get(k)
        )
        diff = "; ".join(f"{k}: model {(schema or {}).get(k)!r}, now {now.get(k)!r}" for k in keys)
        raise ModelError(f"{source}: schema mismatch ({diff}). Retrain the model.")
    for key in ("feature_spec", "feature_names", "classes", "artifact", "model"):
        if key not in card:
            raise ModelError(f"{source}: the card has no {key!r}; it is incomplete.")
    integrity = card.get("integrity")
    if fv >= 2 and (
        not isinstance(integrity, dict) or not isinstance(integrity.get("sha256"), str)
    ):
        raise ModelError(
            f"{source}: the card has no integrity checksum (format_version {fv} writes one); it "
            f"was edited or is incomplete. {_FIX}"
        )
    if fv < 2 and integrity is not None:
        raise ModelError(
            f"{source}: the card says format_version {fv} but carries a format-2 integrity "
            f"checksum: the card was changed after saving. {_FIX}"
        )


def _is_int(v: Any) -> TypeGuard[int]:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> TypeGuard[float]:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _check_values(card: dict, source: str) -> None:
    """Types and ranges of every card field the loader uses; all problems in one ModelError."""
    problems: list[str] = []
    classes = card["classes"]
    if not isinstance(classes, list) or not classes:
        problems.append(f"classes must be a non-empty list of personas, got {classes!r:.80}")
    else:
        ids = []
        for i, c in enumerate(classes):
            if not isinstance(c, dict):
                problems.append(f"classes[{i}] must be an object, got {c!r:.80}")
                continue
            pid, name = c.get("persona"), c.get("name")
            if not _is_int(pid) or pid < 0:
                problems.append(f"classes[{i}].persona must be an integer >= 0, got {pid!r:.80}")
            else:
                ids.append(pid)
            if not isinstance(name, str) or not name.strip():
                problems.append(f"classes[{i}].name must be a non-empty text, got {name!r:.80}")
        if len(ids) == len(classes) and ids != sorted(set(ids)):
            problems.append(f"classes must list unique persona ids in increasing order, got {ids}")
    model = card["model"]
    if not isinstance(model, dict):
        problems.append(f"model must be an object, got {model!r:.80}")
    else:
        thr = model.get("abstain_threshold")
        if not _is_number(thr) or not 0.0 <= thr <= 1.0:
            problems.append(f"model.abstain_threshold must be a number in [0, 1], got {thr!r:.80}")
        edges = model.get("bucket_edges")
        if (
            not isinstance(edges, list)
            or not all(_is_int(e) and e >= 1 for e in edges)
            or edges != sorted(set(edges))
        ):
            problems.append(
                f"model.bucket_edges must be increasing integers >= 1, got {edges!r:.80}"
            )
    params = card.get("params", {})
    if not isinstance(params, dict):
        problems.append(f"params must be an object, got {params!r:.80}")
        params = {}
    checks: dict[str, tuple[Any, str]] = {
        "abstain_threshold": (lambda v: _is_number(v) and 0.0 <= v <= 1.0, "a number in [0, 1]"),
        "calibration": (lambda v: v in _CALIBRATIONS, f"one of {list(_CALIBRATIONS)}"),
        "C": (lambda v: _is_number(v) and v > 0, "a number > 0"),
        "cv": (lambda v: _is_int(v) and v >= 2, "an integer >= 2"),
        "validation_size": (lambda v: _is_number(v) and 0.0 <= v < 1.0, "a number in [0, 1)"),
        "refit": (lambda v: isinstance(v, bool), "true or false"),
        "random_state": (lambda v: _is_int(v) and 0 <= v < 2**32, "an integer in [0, 2**32)"),
        "prefix_cuts": (
            lambda v: (
                isinstance(v, list)
                and bool(v)
                and all(k is None or (_is_int(k) and k >= 1) for k in v)
            ),
            "a non-empty list of integers >= 1 and/or null",
        ),
    }
    for key, (ok, allowed) in checks.items():
        if key in params and not ok(params[key]):
            problems.append(f"params.{key} must be {allowed}, got {params[key]!r:.80}")
    names = card["feature_names"]
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        problems.append(f"feature_names must be a list of texts, got {names!r:.80}")
    if not isinstance(card["feature_spec"], dict):
        problems.append(f"feature_spec must be an object, got {card['feature_spec']!r:.80}")
    if card.get("as_of", "last_event") != "last_event":
        problems.append(f"as_of must be 'last_event', got {card.get('as_of')!r:.80}")
    art = card["artifact"]
    if not isinstance(art, dict):
        problems.append(f"artifact must be an object, got {art!r:.80}")
    else:
        if not isinstance(art.get("sha256"), str):
            problems.append(f"artifact.sha256 must be a text, got {art.get('sha256')!r:.80}")
        types = art.get("untrusted_types", [])
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            problems.append(f"artifact.untrusted_types must be a list of texts, got {types!r:.80}")
    if problems:
        n = len(problems)
        raise ModelError(
            f"{source}: the model card has {n} invalid value{'s' if n > 1 else ''}: "
            + "; ".join(problems)
            + f". The card was edited or damaged after saving. {_FIX}"
        )


def _check_features(card: dict, source: str) -> FeatureSpec:
    try:
        spec = FeatureSpec.from_dict(card["feature_spec"])
    except (JourneymineError, TypeError, ValueError, KeyError, AttributeError) as exc:
        raise ModelError(f"{source}: feature spec cannot be read: {exc}") from exc
    want = list(card["feature_names"])
    got = list(spec.feature_names)
    if want != got:
        missing = [f for f in want if f not in got]
        extra = [f for f in got if f not in want]
        detail = (
            f"no longer computed: {missing[:5]}{' ...' if len(missing) > 5 else ''}; "
            f"new: {extra[:5]}{' ...' if len(extra) > 5 else ''}"
            if missing or extra
            else "same names in another order"
        )
        raise ModelError(
            f"{source}: feature names mismatch between the model and this journeymine's "
            f"features ({detail}). Retrain the model."
        )
    probe = Encoded(
        cust=np.zeros(1, dtype=np.int64),
        n_customers=1,
        t=np.zeros(1, dtype=np.int64),
        act=np.zeros(1, dtype=np.int32),
        ch=np.zeros(1, dtype=np.int32),
        jraw=np.full(1, -1, dtype=np.int64),
        jv=np.full(1, -1, dtype=np.int64),
        cents=np.zeros(1, dtype=np.int64),
        valued=np.zeros(1, dtype=bool),
        sid=np.full(1, -1, dtype=np.int64),
    )
    try:
        numpy_aggregates(probe, spec)  # refuses a spec with aggregates this version lacks
    except ModelError as exc:
        raise ModelError(f"{source}: {exc}") from exc
    return spec


def model_from_bytes(
    data: bytes, card: dict, cls: type[PersonaModel], *, source: str = "model"
) -> PersonaModel:
    """Rebuild a ``cls`` (the PersonaModel class; passed in so that this module does not
    import it) from skops bytes and its card, with every check of :func:`read_model`."""
    import skops.io as sio

    _check_card(card, source)
    _check_values(card, source)
    art = card["artifact"]
    cards.check_artifact_sha256(data, art.get("sha256"), source, "Re-save or retrain the model.")
    spec = _check_features(card, source)
    try:
        untrusted = sorted(sio.get_untrusted_types(data=data))
    except (zipfile.BadZipFile, KeyError, ValueError, json.JSONDecodeError) as exc:
        raise ModelError(f"{source}: not a readable skops file ({exc}).") from exc
    cards.check_types(untrusted, TRUSTED_TYPES, art.get("untrusted_types", []), source)
    try:
        checksum = card_checksum(card, data) if card["format_version"] >= 2 else None
    except ModelError as exc:
        raise ModelError(f"{source}: {exc} {_FIX}") from exc
    if checksum is not None and checksum != card["integrity"]["sha256"]:
        raise ModelError(
            f"{source}: the model card was changed after saving: its checksum (over the skops "
            f"file and the card fields that change behaviour: persona ids and names, bucket "
            f"edges, abstain threshold, parameters, features, schema, trusted types) does not "
            f"match. {_FIX}"
        )
    try:
        estimators = sio.loads(data, trusted=untrusted)
    except Exception as exc:  # skops raises many kinds on a bad file
        raise ModelError(f"{source}: the skops file could not be loaded: {exc}") from exc
    if not isinstance(estimators, list) or not estimators:
        raise ModelError(f"{source}: the skops file does not hold a list of classifiers.")

    classes = np.asarray([int(c["persona"]) for c in card["classes"]], dtype=np.int64)
    edges = tuple(int(e) for e in card["model"]["bucket_edges"])
    n_features = len(card["feature_names"])
    for est in estimators:
        if getattr(est, "n_features_in_", None) != n_features:
            raise ModelError(
                f"{source}: a classifier expects {getattr(est, 'n_features_in_', '?')} features, "
                f"the card lists {n_features}."
            )
    params = dict(card.get("params", {}))
    model = cls(
        abstain_threshold=float(card["model"]["abstain_threshold"]),
        prefix_cuts=tuple(params.get("prefix_cuts", (3, 5, 10, 20, None))),
        calibration=params.get("calibration", "temperature"),
        random_state=int(params.get("random_state", 0)),
        C=float(params.get("C", 1.0)),
        cv=int(params.get("cv", 5)),
        validation_size=float(params.get("validation_size", 0.2)),
        refit=bool(params.get("refit", True)),
    )
    try:
        scorer = Scorer(estimators, edges, classes)
    except (ConfigError, AttributeError, IndexError, TypeError) as exc:
        raise ModelError(f"{source}: the classifiers do not match the card: {exc}") from exc
    model.spec_ = spec
    model.vocab_ = Vocab.of(spec)
    model.feature_names_ = list(spec.feature_names)
    model.n_features_in_ = n_features
    model.classes_ = classes
    model.persona_names_ = {
        UNASSIGNED: UNASSIGNED_NAME,
        **{int(c["persona"]): str(c["name"]) for c in card["classes"]},
    }
    model.estimators_ = estimators
    model.bucket_edges_ = edges
    model.scorer_ = scorer
    model.card_ = card
    return model


def read_model(path: str | os.PathLike[str], cls: type[PersonaModel]) -> PersonaModel:
    """A ``cls`` (the PersonaModel class) back from the files :meth:`PersonaModel.save` wrote,
    checked first (see :func:`journeymine.assignment.load_model`)."""
    data, card = cards.read_model_files(path, "PersonaModel.save()")
    return model_from_bytes(data, card, cls, source=str(Path(path)))
