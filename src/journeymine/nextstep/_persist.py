"""Saving and loading a :class:`~journeymine.NextStepModel` (one job: files <-> model).

Format (``format_version`` 3; version 2 files, with one blend weight, and version 1 files,
without the count model, still load)
-------------------------------------------------------------------------------------------
- ``<name>.skops``: a dict head -> compiled forest (:class:`~journeymine.nextstep._forest.Forest`
  state: only numpy arrays, texts and integers) and, under ``"ngram"``, the next-activity count
  model (:class:`~journeymine.nextstep._ngram.NGram` state: arrays and integers) when the model
  blends it in, written with ``skops.io.dumps``. Never pickle.
  Before loading, every type named in the file's schema must be in :data:`ALLOWED_TYPES`
  (dict, list, str, int, float, bool, numpy.ndarray): stricter than skops' defaults, which
  also build scikit-learn estimators. The list passed to ``skops.io.loads(trusted=...)``,
  :data:`TRUSTED_TYPES`, is therefore empty.
- ``<name>.json``: the model card: parameters, prefix-feature vocabulary, feature names,
  classes, channels, calibration temperatures, the weight of the trees in the next-activity
  blend (``tree_weight``, the global one, and ``tree_weights``, one per context-length bucket,
  new in format 3), outcome and horizon, the skops file's SHA-256,
  and ``integrity``: the SHA-256 of the canonical JSON of every field that changes what the
  loaded model does (:data:`CHECKSUMMED_FIELDS`) followed by the skops bytes. Descriptive
  fields (``metrics``, ``training``, ``created_at``, the rest of ``artifact``) are not covered.

Loading refuses with :class:`~journeymine.exceptions.ModelError`, saying what is wrong and how
to fix it: a missing file, a card of another kind, a newer format or another major version, a
skops file whose SHA-256 is not the card's, a card edited after saving (checksum), card values
of the wrong type, forests inconsistent with the card, or untrusted types. The checksums guard
against corruption, mismatched pairs and hand edits; they are not a signature.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any, TypeVar

from journeymine.exceptions import ModelError
from journeymine.io import cards

__all__ = [
    "ALLOWED_TYPES",
    "CHECKSUMMED_FIELDS",
    "FORMAT_VERSION",
    "TRUSTED_TYPES",
    "read_next_step_model",
    "save_next_step_model",
]

FORMAT_VERSION = 3
_NGRAM = "ngram"  # the key of the count model in the skops dict (not a head)
#: The model class the loaders rebuild (NextStepModel, passed in by its own module).
_M = TypeVar("_M")
KIND = "journeymine.NextStepModel"
#: Types outside skops' default trusted set a NextStepModel file may contain: none.
TRUSTED_TYPES: frozenset[str] = frozenset()
#: Every type a NextStepModel file may hold at all (skops also trusts scikit-learn estimators
#: by default; this list does not): checked in the file's schema before anything is built.
ALLOWED_TYPES: frozenset[str] = frozenset(
    {
        "builtins.dict",
        "builtins.list",
        "builtins.str",
        "builtins.int",
        "builtins.float",
        "builtins.bool",
        "numpy.ndarray",
    }
)
#: Card fields covered by the integrity checksum (with the skops bytes).
CHECKSUMMED_FIELDS: tuple[str, ...] = (
    "kind",
    "format_version",
    "journeymine_version",
    "params",
    "spec",
    "feature_names",
    "classes",
    "channels",
    "heads",
    "temperatures",
    "tree_weight",
    "tree_weights",
    "artifact.sha256",
    "artifact.untrusted_types",
)
_FIX = "Restore the files saved together, or fit the model again and save it with model.save(path)."


def card_checksum(card: dict, data: bytes) -> str:
    """SHA-256 of the canonical JSON of the card's :data:`CHECKSUMMED_FIELDS` (sorted keys, no
    spaces, absent = null) followed by the skops bytes."""
    fields = CHECKSUMMED_FIELDS
    version = card.get("format_version")
    if version in (1, 2):  # saved before the weights per context length: no tree_weights
        fields = tuple(f for f in fields if f != "tree_weights")
    if version == 1:  # saved before the count model: no tree_weight
        fields = tuple(f for f in fields if f != "tree_weight")
    return cards.card_checksum(card, data, kind=KIND, fields=fields)


def model_to_bytes(model: Any, *, file_name: str = "model.skops") -> tuple[bytes, dict]:
    """The skops bytes and the card of a fitted model."""
    import skops.io as sio

    from journeymine.nextstep._forest import Forest

    model._fitted()
    state: dict[str, Any] = {
        head: (h.to_state() if isinstance(h, Forest) else int(h))
        for head, h in model.heads_.items()
    }
    ngram = model.__dict__.get("ngram_")
    if ngram is not None:
        state[_NGRAM] = ngram.to_state()
    data = sio.dumps(state, compression=zipfile.ZIP_DEFLATED)
    untrusted = sorted(sio.get_untrusted_types(data=data))
    if set(untrusted) - TRUSTED_TYPES:
        raise ModelError(
            f"the model holds types {untrusted} that load_next_step_model would refuse; it was "
            f"not saved."
        )
    params = cards.jsonable(model.get_params())
    params["horizon"] = str(model.horizon)
    card = dict(cards.jsonable({k: v for k, v in model.card_.items() if k != "integrity"}))
    card.update(
        {
            "kind": KIND,
            "format_version": FORMAT_VERSION,
            "journeymine_version": cards.package_version(),
            "params": params,
            "spec": model.spec_.to_dict(),
            "feature_names": list(model.feature_names_),
            "classes": list(model.classes_),
            "channels": list(model.channels_),
            "heads": sorted(model.heads_),
            "temperatures": {k: float(v) for k, v in model.temperatures_.items()},
            "tree_weight": float(model.__dict__.get("tree_weight_", 1.0)),
            "tree_weights": [float(w) for w in _tree_weights(model)],
            "n_iter": {k: int(v) for k, v in model.n_iter_.items()},
            "artifact": cards.artifact(
                data,
                untrusted,
                file=file_name,
                format="skops: dict head -> compiled forest, 'ngram' -> counts (numpy arrays)",
            ),
        }
    )
    card["integrity"] = cards.integrity(card, data, kind=KIND, fields=CHECKSUMMED_FIELDS)
    return data, card


def _tree_weights(model: Any) -> list[float]:
    """The model's weight per context-length bucket (its global weight in each, for a model
    without them)."""
    from journeymine.nextstep._blend import WEIGHT_BUCKETS

    weights = model.__dict__.get("tree_weights_")
    if weights is None:
        return [float(model.__dict__.get("tree_weight_", 1.0))] * len(WEIGHT_BUCKETS)
    return [float(w) for w in weights]


def save_next_step_model(model: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``path`` (skops) then its card ``path.with_suffix('.json')``, each atomically."""
    return cards.save_model_files(model, path, model_to_bytes)


def _check_card(card: Any, source: str) -> None:
    if not isinstance(card, dict) or card.get("kind") != KIND:
        raise ModelError(
            f"{source}: not a NextStepModel card (kind "
            f"{card.get('kind') if isinstance(card, dict) else None!r}); "
            f"persona models load with jm.load_model."
        )
    cards.check_format_and_version(card, source, FORMAT_VERSION)
    problems = []
    types = {
        "params": dict,
        "spec": dict,
        "feature_names": list,
        "classes": list,
        "channels": list,
        "heads": list,
        "temperatures": dict,
        "artifact": dict,
        "integrity": dict,
    }
    for key, typ in types.items():
        if not isinstance(card.get(key), typ):
            problems.append(f"{key} must be a {typ.__name__}, got {card.get(key)!r:.60}")
    if not problems:
        for key in ("feature_names", "classes", "channels", "heads"):
            if not all(isinstance(x, str) for x in card[key]):
                problems.append(f"{key} must list texts")
        for k, v in card["temperatures"].items():
            if isinstance(v, bool) or not isinstance(v, int | float) or not 0.01 <= v <= 100:
                problems.append(f"temperatures.{k} must be a number in [0.01, 100], got {v!r}")
        if not isinstance(card["artifact"].get("sha256"), str):
            problems.append("artifact.sha256 must be a text")
        if not isinstance(card["integrity"].get("sha256"), str):
            problems.append("integrity.sha256 must be a text")
        w = card.get("tree_weight", 1.0)
        if isinstance(w, bool) or not isinstance(w, int | float) or not 0 <= w <= 1:
            problems.append(f"tree_weight must be a number in [0, 1], got {w!r}")
        ws = card.get("tree_weights", [])
        if not isinstance(ws, list) or not all(
            not isinstance(x, bool) and isinstance(x, int | float) and 0 <= x <= 1 for x in ws
        ):
            problems.append(f"tree_weights must list numbers in [0, 1], got {ws!r:.60}")
    if problems:
        raise ModelError(
            f"{source}: the model card has invalid values: " + "; ".join(problems) + f". {_FIX}"
        )


def model_from_bytes(data: bytes, card: dict, cls: type, *, source: str = "model") -> Any:
    """Rebuild a ``cls`` (the NextStepModel class; passed in so that this module does not
    import it) from skops bytes and its card, with every check of :func:`read_next_step_model`."""
    import skops.io as sio

    from journeymine.nextstep import _scoring
    from journeymine.nextstep._blend import WEIGHT_BUCKETS
    from journeymine.nextstep._forest import Forest
    from journeymine.nextstep._ngram import NGram
    from journeymine.nextstep._prefix import PrefixSpec
    from journeymine.nextstep._step import END

    _check_card(card, source)
    cards.check_artifact_sha256(data, card["artifact"]["sha256"], source, _FIX)
    if card_checksum(card, data) != card["integrity"]["sha256"]:
        raise ModelError(
            f"{source}: the model card was changed after saving: its checksum (over the skops "
            f"file and every field that changes behaviour: parameters, vocabulary, features, "
            f"classes, channels, temperatures, trusted types) does not match. Change a model in "
            f"Python and save it again instead of editing the card. {_FIX}"
        )
    cards.check_skops_types(
        data,
        allowed=ALLOWED_TYPES,
        trusted=TRUSTED_TYPES,
        declared=card["artifact"].get("untrusted_types", []),
        source=source,
        holds="a NextStepModel",
    )
    try:
        state = sio.loads(data, trusted=sorted(TRUSTED_TYPES))
    except Exception as exc:
        raise ModelError(f"{source}: the skops file could not be loaded: {exc}") from exc
    params = dict(card["params"])
    n_buckets = len(WEIGHT_BUCKETS)
    try:
        model = cls(**params)
        model._check_params()
        spec = PrefixSpec.from_dict(card["spec"])
        if not isinstance(state, dict) or sorted(set(state) - {_NGRAM}) != sorted(card["heads"]):
            raise ValueError(f"heads {sorted(state) if isinstance(state, dict) else state!r}")
        heads = {
            k: (int(v) if isinstance(v, int) else Forest.from_state(v))
            for k, v in state.items()
            if k != _NGRAM
        }
        ngram = NGram.from_state(state[_NGRAM]) if _NGRAM in state else None
        tree_weight = float(card.get("tree_weight", 1.0))
        # formats 1 and 2: one weight for every context length
        tree_weights = [tree_weight] * n_buckets
        if card.get("format_version", FORMAT_VERSION) >= 3:
            tree_weights = [float(w) for w in card.get("tree_weights", tree_weights)]
        if len(tree_weights) != n_buckets:
            raise ValueError(f"{len(tree_weights)} tree_weights for {n_buckets} buckets")
        if (ngram is None) != (min(tree_weights) >= 1.0):
            raise ValueError(
                f"tree_weight {tree_weight} with{'out' if ngram is None else ''} a count model"
            )
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise ModelError(f"{source}: the model does not match its card ({exc}). {_FIX}") from exc
    names = spec.feature_names
    problems = []
    if names != card["feature_names"]:
        problems.append("the feature names are not those of the stored vocabulary")
    n_classes = len(spec.activities) + (1 if params.get("end_of_case") else 0)
    expected = list(spec.activities) + ([END] if params.get("end_of_case") else [])
    if card["classes"] != expected:
        problems.append("the classes are not the stored activities")
    outputs = {"activity": n_classes, "channel": len(card["channels"]), "outcome": 2}
    for k, h in heads.items():
        if isinstance(h, Forest):
            if h.n_features != len(names):
                problems.append(f"head {k!r} expects {h.n_features} features, not {len(names)}")
            if (
                k in outputs
                and len(h.classes)
                and (h.classes.max() >= outputs[k] or h.classes.min() < 0)
            ):
                problems.append(f"head {k!r} predicts classes the card does not list")
    if ngram is not None and (
        ngram.n_classes != n_classes
        or ngram.n_codes != len(spec.activities) + 1
        or ngram.order > spec.n_lags
    ):
        problems.append("the count model does not match the classes and vocabulary")
    if problems:
        raise ModelError(f"{source}: " + "; ".join(problems) + f". {_FIX}")
    model.spec_ = spec
    model.ngram_ = ngram
    model.tree_weight_ = tree_weight
    model.tree_weights_ = tree_weights
    model.heads_ = heads
    model.classes_ = expected
    model.n_classes_ = n_classes
    model.channels_ = list(card["channels"])
    model.temperatures_ = {k: float(v) for k, v in card["temperatures"].items()}
    for k in heads:
        model.temperatures_.setdefault(k, 1.0)
    model.n_iter_ = {k: int(v) for k, v in card.get("n_iter", {}).items()}
    model.feature_names_ = names
    model.n_features_in_ = len(names)
    model.card_ = card
    _scoring.prepare(model)  # the first prediction does not pay for the scoring tables
    return model


def read_next_step_model(path: str | os.PathLike[str], cls: type[_M]) -> _M:
    """A ``cls`` (the NextStepModel class) back from the two files its ``save`` wrote, every
    check of the module passed before anything is built (see
    :func:`journeymine.nextstep.load_next_step_model`)."""
    data, card = cards.read_model_files(path, "NextStepModel.save()")
    return model_from_bytes(data, card, cls, source=str(Path(path)))
