"""Journey reconstruction: directly-follows graphs, variants, funnels, paths and durations;
conformance to designed journeys (:func:`check_conformance`) and change detection
(:func:`detect_changes`, :func:`compare_periods`, :func:`compare_segments`).

Every statistic accepts a canonical DataFrame, the path of a Parquet/CSV file (read by DuckDB)
or an :class:`~journeymine.engine.EncodedLog` from :func:`journeymine.encode`, and returns a tidy
pandas DataFrame. Encode once when computing several statistics on a large log.

Examples
--------
>>> import journeymine as jm
>>> log = jm.datasets.make_journeys(n_customers=200, days=60, random_state=0).events
>>> enc = jm.encode(log)
>>> isinstance(enc, jm.journeys.EncodedLog), enc.n_cases == log["customer_id"].nunique()
(True, True)
>>> edges, top = jm.dfg(enc, top_k=5), jm.variants(enc, max_steps=3, top_k=5)
>>> len(edges), len(top)
(5, 5)
"""

from journeymine.engine import EncodedLog, encode
from journeymine.journeys._dfg import bottlenecks, dfg, end_activities, start_activities
from journeymine.journeys._durations import durations
from journeymine.journeys._funnel import funnel
from journeymine.journeys._funnel import funnel_frame as funnel_frame
from journeymine.journeys._funnel import step_counts as step_counts
from journeymine.journeys._paths import channel_switches, paths
from journeymine.journeys._variants import SEPARATOR as SEPARATOR
from journeymine.journeys._variants import variants
from journeymine.journeys.change import compare_periods, compare_segments, detect_changes
from journeymine.journeys.conformance import (
    ConformanceResult,
    check_conformance,
    journey_instances,
)

__all__ = [
    "ConformanceResult",
    "EncodedLog",
    "bottlenecks",
    "channel_switches",
    "check_conformance",
    "compare_periods",
    "compare_segments",
    "detect_changes",
    "dfg",
    "durations",
    "encode",
    "end_activities",
    "funnel",
    "journey_instances",
    "paths",
    "start_activities",
    "variants",
]
