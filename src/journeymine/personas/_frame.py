"""Moved to :mod:`journeymine.features.encode`. Kept as a re-export of ``canonical_log`` and
``timestamps_us`` because ``actions._index`` (another package) still imports them from here;
delete it when it imports :mod:`journeymine.features`."""

from journeymine.features.encode import canonical_log, timestamps_us

__all__ = ["canonical_log", "timestamps_us"]
