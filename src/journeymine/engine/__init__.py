"""Execution engine for journey statistics: the encoded log and DuckDB helpers.

:func:`encode` turns a log (DataFrame or Parquet/CSV path) into an :class:`EncodedLog` of integer
codes sorted once; the statistics in :mod:`journeymine.journeys` share it. DuckDB (imported
lazily) reads files directly and runs the grouped aggregations (distinct counts, quantiles).

Examples
--------
>>> import pandas as pd
>>> from journeymine.engine import encode
>>> enc = encode(pd.DataFrame({"customer_id": ["a", "a"], "activity": ["x", "y"],
...     "timestamp": pd.to_datetime(["2025-01-02", "2025-01-01"], utc=True)}))
>>> enc.activities[enc.activity_codes].tolist()
['y', 'x']
"""

from journeymine.engine._duckdb import (
    connect,
    edge_statistics,
    file_columns,
    quote_ident,
    read_file_columns,
)
from journeymine.engine._encode import EncodedLog, LogInput, as_encoded, encode
from journeymine.engine._order import stable_order, tie_positions

__all__ = [
    "EncodedLog",
    "LogInput",
    "as_encoded",
    "connect",
    "edge_statistics",
    "encode",
    "file_columns",
    "quote_ident",
    "read_file_columns",
    "stable_order",
    "tie_positions",
]
