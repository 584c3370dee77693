"""A saved model as a skops file plus a JSON model card: the parts every model kind shares.

Each model kind (:class:`~journeymine.PersonaModel`, :class:`~journeymine.NextStepModel`)
decides what its card holds and which fields change behaviour; this module computes the card
checksum over those fields and the skops bytes, checks the card's format and package version,
checks the file's SHA-256 and types against the card, and writes or reads the pair atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path
from typing import Any

from journeymine.exceptions import ConfigError, ModelError
from journeymine.io.atomic import write_bytes

__all__ = [
    "artifact",
    "card_checksum",
    "check_artifact_sha256",
    "check_card",
    "check_format_and_version",
    "check_save_path",
    "check_types",
    "integrity",
    "jsonable",
    "package_version",
    "read_model_files",
    "save_model_files",
    "sha256",
    "skops_schema_types",
    "write_model_files",
]


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: mappings (text keys), lists, numbers (a NaN or infinity
    becomes None), text, booleans and None; numpy scalars as Python ones, a DataFrame as a list
    of records, a Timestamp in ISO 8601, anything else as its text.

    Examples
    --------
    >>> import numpy as np
    >>> jsonable({"a": np.int64(3), 1: [np.float32(0.5), float("nan"), np.bool_(True)]})
    {'a': 3, '1': [0.5, None, True]}
    """
    import math

    import numpy as np
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return [{k: jsonable(x) for k, x in row.items()} for row in value.to_dict("records")]
    if isinstance(value, dict):
        return {str(k): jsonable(x) for k, x in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(x) for x in value]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, str | int) or value is None:
        return value
    return str(value)


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def package_version() -> str:
    """The installed journeymine version."""
    import journeymine

    return str(journeymine.__version__)


def skops_schema_types(data: bytes) -> set[str]:
    """Every ``module.class`` named in a skops file's schema (read as JSON, nothing built): what
    a loader checks against its allowlist before letting skops build anything.

    Examples
    --------
    >>> import io, json, zipfile
    >>> buf = io.BytesIO()
    >>> inner = {"__class__": "B", "__module__": "n"}
    >>> schema = {"__class__": "A", "__module__": "m", "content": [inner]}
    >>> with zipfile.ZipFile(buf, "w") as z:
    ...     z.writestr("schema.json", json.dumps(schema))
    >>> sorted(skops_schema_types(buf.getvalue()))
    ['m.A', 'n.B']
    """
    import io
    import json
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as z:
        schema = json.loads(z.read("schema.json"))
    found: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if "__class__" in node or "__module__" in node:
                found.add(f"{node.get('__module__')}.{node.get('__class__')}")
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def card_checksum(card: dict, data: bytes, *, kind: str, fields: Iterable[str]) -> str:
    """SHA-256 of ``"<kind> card\\n"``, the canonical JSON of the card's ``fields`` (sorted
    keys, no spaces; an absent field is ``null``; ``"a.b"`` is sub-field ``b`` of ``a``), a
    newline and the skops bytes."""
    covered: dict[str, Any] = {}
    for name in fields:
        head, _, sub = name.partition(".")
        value = card.get(head)
        if sub:
            value = value.get(sub) if isinstance(value, dict) else None
        covered[name] = value
    try:
        text = json.dumps(
            covered, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
        )
    except (TypeError, ValueError) as exc:  # NaN/inf or a non-JSON value: the card is broken
        raise ModelError(f"the model card holds a value that is not JSON ({exc}).") from exc
    return sha256(f"{kind} card\n".encode() + text.encode("ascii") + b"\n" + data)


def artifact(
    data: bytes, untrusted: list[str], *, file: str, format: str, **versions: str
) -> dict[str, Any]:
    """The card's ``artifact`` block for the skops bytes ``data``: the file name, what it
    holds (``format``), its SHA-256 and size, the ``untrusted`` types it names (sorted, as
    ``skops.io.get_untrusted_types`` lists them), the skops version and any other ``versions``.

    Examples
    --------
    >>> block = artifact(b"abc", [], file="model.skops", format="skops: numpy arrays",
    ...                  sklearn_version="1.5.0")
    >>> block["sha256"][:12], block["bytes"], block["sklearn_version"], "skops_version" in block
    ('ba7816bf8f01', 3, '1.5.0', True)
    """
    import skops

    return {
        "file": file,
        "format": format,
        "sha256": sha256(data),
        "bytes": len(data),
        "untrusted_types": untrusted,
        "skops_version": skops.__version__,
        **versions,
    }


def integrity(card: dict, data: bytes, *, kind: str, fields: Sequence[str]) -> dict[str, Any]:
    """The card's ``integrity`` block: :func:`card_checksum` over ``fields`` and the skops
    bytes ``data``, and what it covers (the loader checks the one, the reader sees the other).

    Examples
    --------
    >>> card = {"kind": "demo", "params": {"a": 1}}
    >>> block = integrity(card, b"abc", kind="demo", fields=("params",))
    >>> block["covers"], block["sha256"] == card_checksum(card, b"abc", kind="demo",
    ...                                                   fields=("params",))
    (['params', 'the skops file'], True)
    """
    return {
        "sha256": card_checksum(card, data, kind=kind, fields=fields),
        "covers": [*fields, "the skops file"],
    }


def _major(version: str) -> str:
    return str(version).split(".", 1)[0]


def check_format_and_version(card: dict, source: str, format_version: int) -> int:
    """Refuse a card without a valid ``format_version``, of a newer one than
    ``format_version``, or saved by another major version of journeymine; return its format."""
    fv = card.get("format_version")
    if not isinstance(fv, int) or isinstance(fv, bool) or fv < 1:
        raise ModelError(f"{source}: the card has no valid format_version ({fv!r}).")
    if fv > format_version:
        raise ModelError(
            f"{source}: model format_version {fv} is newer than this journeymine reads "
            f"({format_version}); upgrade journeymine to load it."
        )
    saved, current = str(card.get("journeymine_version", "?")), package_version()
    if _major(saved) != _major(current):
        raise ModelError(
            f"{source}: package major version mismatch: the model was saved by journeymine "
            f"{saved}, this is {current}. Retrain the model with this version."
        )
    return fv


def check_artifact_sha256(data: bytes, expected: Any, source: str, fix: str) -> None:
    """Refuse skops bytes whose SHA-256 is not the card's ``artifact.sha256``."""
    got = sha256(data)
    if got != expected:
        raise ModelError(
            f"{source}: checksum mismatch: the skops file's SHA-256 is {got[:16]}..., the card "
            f"expects {str(expected)[:16]}... The file is corrupted, truncated, was modified "
            f"after saving or belongs to another card. {fix}"
        )


def check_card(
    card: Any,
    data: bytes,
    source: str,
    *,
    kind: str,
    format_version: int,
    fields: Iterable[str],
    required: dict[str, type],
    covers: str,
    fix: str,
    what: str,
    elsewhere: str,
) -> None:
    """The checks a saved model's card passes before its skops file is read: its ``kind``
    (else "not ``what`` card"; ``elsewhere`` says which loaders take other kinds), format
    and package version (:func:`check_format_and_version`), the types of the ``required``
    fields and of the ``artifact`` and ``integrity`` blocks, the skops file's SHA-256
    (:func:`check_artifact_sha256`) and the card checksum over ``fields``
    (:func:`card_checksum`; ``covers`` says what it covers besides the skops file).

    Examples
    --------
    >>> from journeymine import __version__
    >>> card = {"kind": "demo", "format_version": 1, "journeymine_version": __version__,
    ...         "params": {"a": 1}, "artifact": {"sha256": sha256(b"x")}}
    >>> card["integrity"] = {"sha256": card_checksum(card, b"x", kind="demo", fields=["params"])}
    >>> check_card(card, b"x", "m.skops", kind="demo", format_version=1, fields=["params"],
    ...            required={"params": dict}, covers="the parameters", fix="",
    ...            what="a demo", elsewhere="other models load elsewhere.")
    >>> card["params"]["a"] = 2
    >>> try:
    ...     check_card(card, b"x", "m.skops", kind="demo", format_version=1,
    ...                fields=["params"], required={"params": dict}, covers="the parameters",
    ...                fix="", what="a demo", elsewhere="other models load elsewhere.")
    ... except ModelError as exc:
    ...     print(str(exc)[:60])
    m.skops: the model card was changed after saving: its checks
    """
    if not isinstance(card, dict) or card.get("kind") != kind:
        got = card.get("kind") if isinstance(card, dict) else None
        raise ModelError(f"{source}: not {what} card (kind {got!r}); {elsewhere}")
    check_format_and_version(card, source, format_version)
    problems = [
        f"{key} must be a {typ.__name__}"
        for key, typ in required.items()
        if not isinstance(card.get(key), typ)
    ]
    for key in ("artifact", "integrity"):
        if not isinstance(card.get(key), dict) or not isinstance(card[key].get("sha256"), str):
            problems.append(f"{key}.sha256 must be a text")
    if problems:
        raise ModelError(f"{source}: the model card has invalid values: {'; '.join(problems)}.")
    check_artifact_sha256(data, card["artifact"]["sha256"], source, fix)
    if card_checksum(card, data, kind=kind, fields=fields) != card["integrity"]["sha256"]:
        raise ModelError(
            f"{source}: the model card was changed after saving: its checksum (over the skops "
            f"file, {covers}) does not match. Refit and save the model instead of editing the "
            f"card. {fix}"
        )


def check_types(
    untrusted: list[str], trusted: Collection[str], declared: Iterable[str], source: str
) -> None:
    """Refuse a file holding types outside ``trusted``, or other types than its card
    ``declared`` (``untrusted`` is sorted, from ``skops.io.get_untrusted_types``)."""
    refused = sorted(set(untrusted) - set(trusted))
    if refused:
        raise ModelError(
            f"{source}: the file holds types outside the allowlist: {refused}; nothing was "
            f"loaded (allowlist: {sorted(trusted)})."
        )
    declared = sorted(declared)
    if untrusted != declared:
        raise ModelError(
            f"{source}: the file holds types {untrusted} but the card declares {declared}; "
            f"refusing a file that differs from its card."
        )


def check_skops_types(
    data: bytes,
    *,
    allowed: Collection[str],
    trusted: Collection[str],
    declared: Iterable[str],
    source: str,
    holds: str,
) -> None:
    """Refuse a skops file before loading it: unreadable, holding a type outside ``allowed``
    (every type its schema names), or untrusted types other than ``trusted`` and its card's
    ``declared`` (:func:`check_types`). ``holds`` names the model in the message.

    Examples
    --------
    >>> import skops.io as sio
    >>> data = sio.dumps({"counts": [1.0, 2.0]})
    >>> check_skops_types(data, allowed=skops_schema_types(data), trusted=(), declared=(),
    ...                   source="m.skops", holds="a test model")
    >>> try:
    ...     check_skops_types(data, allowed={"builtins.dict"}, trusted=(), declared=(),
    ...                       source="m.skops", holds="a test model")
    ... except ModelError as exc:
    ...     print(str(exc)[:60])
    m.skops: the file holds types outside the allowlist: ['built
    """
    import skops.io as sio

    try:
        held = skops_schema_types(data)
        untrusted = sorted(sio.get_untrusted_types(data=data))
    except Exception as exc:  # skops raises many kinds on a bad file
        raise ModelError(f"{source}: not a readable skops file ({exc}).") from exc
    outside = sorted(held - set(allowed))
    if outside:
        raise ModelError(
            f"{source}: the file holds types outside the allowlist: {outside}; nothing was "
            f"loaded ({holds} file holds only {sorted(allowed)})."
        )
    check_types(untrusted, trusted, declared, source)


def check_save_path(path: str | os.PathLike[str]) -> Path:
    """The skops path to save to: not ending in ``.json`` (the card's name), in a folder
    that exists."""
    p = Path(path)
    if p.suffix == ".json":
        raise ConfigError(
            f"{p} ends in .json, the name of the model card; save the model as e.g. "
            f"{p.with_suffix('.skops')}."
        )
    if not p.parent.is_dir():
        raise ConfigError(f"folder {p.parent} does not exist; create it first.")
    return p


def write_model_files(path: Path, data: bytes, card: dict) -> None:
    """Write ``path`` (skops bytes) then ``path.with_suffix('.json')`` (card), each
    atomically."""
    write_bytes(path, data)
    write_bytes(
        path.with_suffix(".json"),
        (json.dumps(card, indent=2, sort_keys=True, allow_nan=False) + "\n").encode(),
    )


def save_model_files(
    model: Any,
    path: str | os.PathLike[str],
    to_bytes: Callable[..., tuple[bytes, dict]],
) -> Path:
    """Save ``model`` as a skops file at ``path`` and its card beside it, each atomically (the
    skops file first), and keep the card on the model as ``card_``.

    Parameters
    ----------
    model : object
        A fitted model.
    path : str or path-like
        The skops file: not ending in ``.json`` (the card's name), in a folder that exists.
    to_bytes : callable
        The model kind's serialiser: ``to_bytes(model, file_name=...)`` returns the skops bytes
        and the card, which names the file.

    Returns
    -------
    Path
        The skops file.
    """
    p = check_save_path(path)
    data, card = to_bytes(model, file_name=p.name)
    write_model_files(p, data, card)
    model.card_ = card
    return p


def read_model_files(path: str | os.PathLike[str], saved_by: str) -> tuple[bytes, Any]:
    """The skops bytes at ``path`` and the parsed card ``path.with_suffix('.json')``;
    ``saved_by`` (e.g. ``"PersonaModel.save()"``) is named when the card is missing."""
    p = Path(path)
    card_path = p.with_suffix(".json")
    if not p.is_file():
        raise ModelError(f"model file {p} does not exist.")
    if not card_path.is_file():
        raise ModelError(
            f"model card {card_path} does not exist; a model is the .skops file plus its .json "
            f"card, saved together by {saved_by}."
        )
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelError(f"model card {card_path} is not valid JSON: {exc}") from exc
    return p.read_bytes(), card
