"""A local PySpark session for the Spark tests (skipped with a clear reason without Java or
pyspark); each test module asks for its own time zone to show results do not depend on it."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from typing import Any

import pytest


def local_spark(app: str, time_zone: str, shuffle_partitions: int = 4) -> Iterator[Any]:
    """Yield a ``local[2]`` SparkSession whose executors run this interpreter; stop it after."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.skip("Java is not installed: PySpark needs a JVM (Java 17)")
    pyspark_sql = pytest.importorskip("pyspark.sql")
    pytest.importorskip("pyarrow")
    # executors must run this interpreter (it has journeymine installed)
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ["PYSPARK_DRIVER_PYTHON"] = sys.executable
    session = (
        pyspark_sql.SparkSession.builder.master("local[2]")
        .appName(app)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.default.parallelism", "2")
        .config("spark.sql.session.timeZone", time_zone)  # results must not depend on it
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
