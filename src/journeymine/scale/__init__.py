"""Journey analytics at scale: out of core with DuckDB (Parquet folders larger than memory).

- :class:`OutOfCoreLog`: DFG, variants and customer features from a folder of Parquet files
  under a DuckDB memory limit, without a pandas frame of the whole log.
- :mod:`journeymine.scale.spark` (import it explicitly; needs PySpark): DFG, variants, funnels,
  channel switches and customer features on a Spark DataFrame, equal to the local results.
"""

from __future__ import annotations

from journeymine.scale.outofcore import OutOfCoreLog

__all__ = ["OutOfCoreLog"]
