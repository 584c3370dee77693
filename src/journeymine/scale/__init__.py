"""Journey analytics at scale: out of core with DuckDB (Parquet folders larger than memory).

- :class:`OutOfCoreLog`: DFG, variants and customer features from a folder of Parquet files
  under a DuckDB memory limit, without a pandas frame of the whole log.
"""

from __future__ import annotations

from journeymine.scale.outofcore import OutOfCoreLog

__all__ = ["OutOfCoreLog"]
