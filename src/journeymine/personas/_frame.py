"""Moved to :mod:`journeymine.features.encode`. Kept as a re-export of ``canonical_log`` and
``timestamps_us`` because ``actions._index`` (another package) and ``personas.validity`` /
``personas.dynamic`` still import them from here; delete it when they import
:mod:`journeymine.features`."""

from journeymine.features.encode import canonical_log, timestamps_us

__all__ = ["canonical_log", "timestamps_us"]
