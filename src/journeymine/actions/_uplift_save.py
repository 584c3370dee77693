"""Saving and loading an UpliftModel: a skops file (numpy arrays only, types checked against an
allowlist before anything is built) plus a JSON card (parameters, journeys, priors, checksums)
through :mod:`journeymine.io.cards`. Never pickle. :func:`write_checked` (the skops file and
its card written) and :func:`read_checked` (the files read and checked before the skops file is
loaded) serve the FeatureUplift's too.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from journeymine.exceptions import ModelError

__all__ = [
    "ALLOWED_TYPES",
    "CHECKSUMMED_FIELDS",
    "FIX",
    "FORMAT",
    "FORMAT_VERSION",
    "KIND",
    "CardFormat",
    "load_uplift",
    "read_checked",
    "save_uplift",
    "write_checked",
]


# -- persistence: skops (numpy arrays only) + JSON card through journeymine.io.cards ------------
@dataclass(frozen=True)
class CardFormat:
    """What a saved model's card is: its ``kind``, the format ``version`` written (and the
    newest read), the card ``fields`` its checksum covers (with the skops bytes); and what a
    reader is told: the method that writes it (``saved_by``), ``what`` it holds, the fields
    it must have (``required``, name -> type), what the checksum ``covers`` and where the
    other kinds of model load (``elsewhere``)."""

    kind: str
    version: int
    fields: tuple[str, ...]
    saved_by: str
    what: str
    required: dict[str, type]
    covers: str
    elsewhere: str


FORMAT_VERSION = 1
KIND = "journeymine.UpliftModel"
#: Types an UpliftModel file may hold (checked in the file's schema before anything is built).
ALLOWED_TYPES: frozenset[str] = frozenset(
    {"builtins.dict", "builtins.list", "builtins.str", "builtins.int", "numpy.ndarray"}
)
#: Card fields covered by the integrity checksum (with the skops bytes).
CHECKSUMMED_FIELDS: tuple[str, ...] = (
    "kind",
    "format_version",
    "journeymine_version",
    "params",
    "journeys",
    "priors",
    "missing_control",
    "artifact.sha256",
    "artifact.untrusted_types",
)
#: The UpliftModel card's format.
FORMAT = CardFormat(
    KIND,
    FORMAT_VERSION,
    CHECKSUMMED_FIELDS,
    saved_by="UpliftModel.save()",
    what="an UpliftModel",
    required={"params": dict, "journeys": list, "priors": list},
    covers="the parameters, journeys and priors",
    elsewhere="a FeatureUplift loads with FeatureUplift.load (from the command line: "
    "`jm serve --responses FILE` serves it; `jm nba` and `jm backtest` fit one with "
    "--feature-uplift PERSONA_MODEL), persona models with jm.load_model, next-step models "
    "with NextStepModel.load.",
)
#: What a message about broken files tells to do (the actions' models are saved the same way).
FIX = "Restore the files saved together, or fit the model again and save it with model.save(path)."


def save_uplift(model: Any, path: str | os.PathLike[str]) -> Path:
    """Write a fitted UpliftModel as a skops file plus its JSON card (see UpliftModel.save)."""
    from journeymine.io import cards

    p = cards.check_save_path(path)
    state = {"counts": np.asarray(model.counts_, dtype=np.float64), "personas": model.personas_}
    body: dict[str, Any] = {
        "params": {
            "prior_strength": float(model.prior_strength),
            "discount": float(model.discount),
            "shrinkage": str(getattr(model, "shrinkage", "fixed")),
            "change_alpha": (
                None if getattr(model, "change_alpha", None) is None else float(model.change_alpha)
            ),
            "change_scope": str(getattr(model, "change_scope", "cell")),
        },
        "journeys": list(model.journeys_),
        "priors": [None if np.isnan(v) else float(v) for v in model.priors_],
        "missing_control": list(model.missing_control_),
        "summary": {
            "personas": [int(x) for x in model.personas_],
            "touches": int(model.counts_[0, :, 0].sum()),
            "holdouts": int(model.counts_[0, :, 2].sum()),
        },
    }
    write_checked(p, FORMAT, state, body, holds="skops: dict of numpy arrays (counts, personas)")
    return p


def write_checked(
    path: Path,
    fmt: CardFormat,
    state: dict[str, Any],
    body: dict[str, Any],
    *,
    holds: str,
    **versions: str,
) -> None:
    """Write ``state`` as a skops file at ``path`` and its card beside it: the kind and format
    version of ``fmt`` and the package version, the model's ``body`` fields, the ``artifact``
    block (what the file ``holds`` and any other ``versions``,
    :func:`journeymine.io.cards.artifact`) and the checksum over ``fmt.fields``
    (:func:`journeymine.io.cards.integrity`); what :func:`read_checked` reads back."""
    import zipfile

    import skops.io as sio

    from journeymine.io import cards

    data = sio.dumps(state, compression=zipfile.ZIP_DEFLATED)
    card: dict[str, Any] = {
        "kind": fmt.kind,
        "format_version": fmt.version,
        "journeymine_version": cards.package_version(),
        **body,
        "artifact": cards.artifact(
            data,
            sorted(sio.get_untrusted_types(data=data)),
            file=path.name,
            format=holds,
            **versions,
        ),
    }
    card["integrity"] = cards.integrity(card, data, kind=fmt.kind, fields=fmt.fields)
    cards.write_model_files(path, data, card)


def read_checked(
    path: str | os.PathLike[str], fmt: CardFormat, *, allowed: Collection[str]
) -> tuple[bytes, dict[str, Any]]:
    """The skops bytes and the card of a model saved at ``path`` in the card format ``fmt``,
    after every check made before the skops file is loaded: the card's kind, versions, fields,
    checksums (:func:`journeymine.io.cards.check_card`, with ``fmt``'s words) and the types
    the file holds (only ``allowed``, exactly those the card declares)."""
    from journeymine.io import cards

    data, card = cards.read_model_files(path, fmt.saved_by)
    source = str(path)
    cards.check_card(
        card,
        data,
        source,
        kind=fmt.kind,
        format_version=fmt.version,
        fields=fmt.fields,
        required=fmt.required,
        covers=fmt.covers,
        fix=FIX,
        what=fmt.what,
        elsewhere=fmt.elsewhere,
    )
    cards.check_skops_types(
        data,
        allowed=allowed,
        trusted=(),
        declared=card["artifact"].get("untrusted_types", []),
        source=source,
        holds=fmt.what,
    )
    return data, card


def load_uplift(path: str | os.PathLike[str], cls: Any) -> Any:
    """Read what :func:`save_uplift` wrote, every check first, into a new ``cls`` (the
    UpliftModel class; passed in so that this module does not import it)."""
    import skops.io as sio

    data, card = read_checked(path, FORMAT, allowed=ALLOWED_TYPES)
    source = str(path)
    try:
        state = sio.loads(data, trusted=[])
        counts = np.asarray(state["counts"], dtype=np.float64)
        personas = np.asarray(state["personas"], dtype=np.int64)
        model = cls(**card["params"])
        journeys = [str(j) for j in card["journeys"]]
        priors = np.array([np.nan if v is None else float(v) for v in card["priors"]])
        if counts.shape != (len(personas), len(journeys), 4) or len(priors) != len(journeys):
            raise ValueError(
                f"counts of shape {counts.shape} for {len(personas)} personas and "
                f"{len(journeys)} journeys"
            )
    except (TypeError, ValueError, KeyError) as exc:
        raise ModelError(f"{source}: the model does not match its card ({exc}). {FIX}") from exc
    model.journeys_, model.personas_, model.counts_, model.priors_ = (
        journeys,
        personas,
        counts,
        priors,
    )
    model.missing_control_ = [str(j) for j in card.get("missing_control", [])]
    model._build()
    return model
