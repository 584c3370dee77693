"""The persona model a service serves: :class:`ModelHolder` loads it, reloads it atomically
(requests in flight keep the model they started with; a bad new file keeps the old one) and
polls its files for a watcher; and the next-step model found beside it.

Hot reload: ``POST /v1/model/reload`` or a file watcher (``watch_interval``) loads the new file
completely (with every check of :func:`~journeymine.assignment.load_model`) and only then
swaps the model reference; requests in flight keep the model they started with. A bad new
file keeps the old model and the reload answers 409 with the reason (file names only: the
server's folders are not shown; the full message goes to the server log).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from journeymine.assignment import PersonaModel, load_model
from journeymine.exceptions import ConfigError, ModelError

__all__ = ["NEXT_STEP_SUFFIX", "ModelHolder", "default_next_step_path", "next_step_of"]

logger = logging.getLogger(__name__)


class ModelHolder:
    """The served model of the file ``path`` (loaded now: a bad file fails here), swapped in
    one reference assignment by :meth:`reload`. ``check(model)``, when set, vets a reloaded
    model before the swap (a ``ConfigError`` refuses it, e.g. a FeatureUplift served for other
    personas)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.check: Callable[[PersonaModel], Any] | None = None
        self.model: PersonaModel = load_model(path)
        self.loaded_at = time.time()
        self.stamp = self._stamp()
        self.failed_stamp: tuple[float, ...] | None = None
        self.last_error: str | None = None

    def _stamp(self) -> tuple[float, ...]:
        out = []
        for p in (self.path, self.path.with_suffix(".json")):
            try:
                out.append(p.stat().st_mtime)
            except OSError:
                out.append(-1.0)
        return tuple(out)

    @property
    def sha256(self) -> str | None:
        artifact: dict[str, Any] = self.model.card_.get("artifact", {})
        return artifact.get("sha256")

    def reload(self) -> PersonaModel:
        """Load the file completely, then swap; on failure keep the current model."""
        with self._lock:
            stamp = self._stamp()
            try:
                model = load_model(self.path)
                if self.check is not None:
                    try:
                        self.check(model)
                    except ConfigError as exc:
                        raise ModelError(f"{self.path.name}: {exc}") from exc
            except ModelError as exc:
                self.failed_stamp = stamp
                self.last_error = str(exc)
                logger.error("model reload failed, keeping the current model: %s", exc)
                raise
            self.model = model  # one reference assignment: atomic for readers
            self.loaded_at = time.time()
            self.stamp = stamp
            self.failed_stamp = None
            self.last_error = None
            logger.info("model reloaded from %s (sha256 %s)", self.path, self.sha256)
            return model

    def poll(self) -> None:
        stamp = self._stamp()
        if stamp != self.stamp and stamp != self.failed_stamp:
            # a failure is logged and the old model kept; retried when the files change again
            with contextlib.suppress(ModelError):
                self.reload()


# ---------------------------------------------------------------------------------------------


#: The next-step model ``create_app`` finds beside a persona model ``m.skops``.
NEXT_STEP_SUFFIX = ".nextstep.skops"


def default_next_step_path(model_path: str | os.PathLike[str]) -> Path:
    """``<model>.nextstep.skops`` beside the persona model.

    Examples
    --------
    >>> default_next_step_path("models/persona.skops").as_posix()
    'models/persona.nextstep.skops'
    """
    path = Path(model_path)
    return path.with_name(path.stem + NEXT_STEP_SUFFIX)


def next_step_of(model_path: Any, path: Any) -> Any:
    """``next_step(events, customer_id) -> dict`` of the next-step model (given, or found
    beside the persona model), or None without one. Loaded now: a bad file fails here."""
    if path is None:
        path = default_next_step_path(model_path)
        if not path.exists():
            return None
    path = Path(path)
    if not path.exists():
        raise ConfigError(
            f"next_step_path {path}: no such file; save one with NextStepModel.save, or leave "
            f"the option out."
        )
    from journeymine.nextstep import load_next_step_model

    model = load_next_step_model(path)

    def next_step(events: Any, customer_id: str) -> dict[str, Any]:
        return dict(model.predict_customer(events, customer_id=customer_id).to_dict())

    return next_step


def without_folders(message: str, path: Path) -> str:
    """``message`` with the model's folder removed from every path in it (a client of the
    service learns the file names, not where the server keeps them)."""
    folders = {str(path.parent), str(path.parent.absolute()), str(path.parent.resolve())}
    for folder in sorted(folders, key=len, reverse=True):
        if folder not in ("", "."):
            message = message.replace(folder.rstrip(os.sep) + os.sep, "")
    return message
