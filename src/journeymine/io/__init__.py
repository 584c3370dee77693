"""Reading, writing and shaping event logs.

- :func:`read_events`: CSV, Parquet, JSON Lines, XES or a DataFrame -> canonical log, with a
  column mapping or a :data:`PRESETS` entry (GA4, Segment, Amplitude, Mixpanel exports)
- :func:`read_xes`: streaming XES reader
- :func:`write_events`: Parquet/CSV/JSON Lines that read back unchanged
- :func:`sessionize`: sessions from inactivity gaps
- :func:`stitch_identities`: link device/cookie ids to customers
"""

from journeymine.io._tabular import read_events, write_events
from journeymine.io.identity import StitchReport, stitch_identities
from journeymine.io.presets import PRESETS, Preset
from journeymine.io.sessions import sessionize
from journeymine.io.xes import read_xes

__all__ = [
    "PRESETS",
    "Preset",
    "StitchReport",
    "read_events",
    "read_xes",
    "sessionize",
    "stitch_identities",
    "write_events",
]
