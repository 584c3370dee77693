"""The one exception hierarchy of journeymine.

Every error raised on purpose by journeymine derives from :class:`JourneymineError` and also
from the matching built-in, so ``except ValueError`` in user code keeps working.

Messages follow one pattern: what was wrong, what is allowed, how to fix it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = [
    "ConfigError",
    "DataQualityWarning",
    "EmptyLogError",
    "EventLogError",
    "JourneymineError",
    "MissingColumnError",
    "ModelError",
    "NotFittedError",
    "RowsDroppedWarning",
    "UnknownActivityError",
]


class JourneymineError(Exception):
    """Base class of every error journeymine raises on purpose."""


class EventLogError(JourneymineError, ValueError):
    """An event log is malformed: bad dtypes, nulls, unparseable timestamps, duplicates...

    Attributes
    ----------
    problems : list of str
        Every problem found, one sentence each (validation collects all, then raises once).
    """

    def __init__(self, message: str, problems: Sequence[str] | None = None) -> None:
        super().__init__(message)
        self.problems: list[str] = list(problems) if problems else [message]


class EmptyLogError(EventLogError):
    """The log has no events (after reading, filtering or windowing)."""


class MissingColumnError(EventLogError, KeyError):
    """A required column is absent. The message lists available columns and the closest match."""

    def __str__(self) -> str:  # KeyError would wrap the message in quotes
        return str(self.args[0]) if self.args else ""


class UnknownActivityError(JourneymineError, KeyError):
    """An activity named by the caller (funnel step, designed journey...) is not in the log."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ConfigError(JourneymineError, ValueError):
    """An argument or a configuration value is out of its allowed range."""


class NotFittedError(JourneymineError, ValueError, AttributeError):
    """An estimator was used before ``fit``."""


class ModelError(JourneymineError, ValueError):
    """A saved model cannot be used: corrupted, tampered, untrusted types, wrong version/schema."""


class DataQualityWarning(UserWarning):
    """Something in the data looks wrong but was not changed (e.g. duplicate events kept)."""


class RowsDroppedWarning(UserWarning):
    """Rows were dropped because the caller asked for it; the message says how many and why."""


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """Return the candidate closest to ``name`` (case-insensitive), or None when nothing is close.

    Examples
    --------
    >>> closest("custmer_id", ["customer_id", "timestamp"])
    'customer_id'
    >>> closest("zzz", ["customer_id"]) is None
    True
    """
    import difflib

    pool = {str(c).lower(): str(c) for c in candidates}
    match = difflib.get_close_matches(name.lower(), list(pool), n=1, cutoff=0.6)
    return pool[match[0]] if match else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A `` Did you mean 'x'?`` suffix, or an empty string."""
    match = closest(name, candidates)
    return f" Did you mean {match!r}?" if match else ""
