"""Moved to :mod:`journeymine.features.encode`; kept for ``actions._index``, which still imports
``canonical_log`` and ``timestamps_us`` from here (delete when it imports
:mod:`journeymine.features`)."""

from journeymine.features.encode import canonical_log, timestamps_us

__all__ = ["canonical_log", "timestamps_us"]
