"""assign_spark on PySpark local[2] equals assign_many exactly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _spark import local_spark

from journeymine.assignment import PersonaModel, assign_many
from journeymine.exceptions import ConfigError, MissingColumnError

pytestmark = [
    # PySpark 4 warns that it does not fully support pandas 3; the columns used here are plain
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    # ... and its toPandas() still passes copy= to pandas
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated:DeprecationWarning"),
    pytest.mark.slow,
]


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    yield from local_spark("journeymine-tests", "Asia/Kolkata", shuffle_partitions=4)


def test_assign_spark_equals_assign_many(
    spark: Any, model: PersonaModel, log: pd.DataFrame
) -> None:
    from journeymine.assignment.spark import assign_spark

    events = log[log["customer_id"] < "C0000250"]
    pdf = events.astype({"activity": str, "channel": str, "product": str})
    sdf = spark.createDataFrame(pdf)
    out = assign_spark(sdf, model).toPandas().sort_values("customer_id").reset_index(drop=True)
    ref = assign_many(events, model)
    assert list(out["customer_id"]) == list(ref["customer_id"])
    for col in ("persona", "name", "probability", "abstained", "n_events"):
        np.testing.assert_array_equal(out[col].to_numpy(), ref[col].to_numpy(), err_msg=col)
    assert [list(x) for x in out["unknown_activities"]] == [[] for _ in range(len(out))]


def test_assign_spark_unknown_names_and_errors(spark: Any, model: PersonaModel) -> None:
    from journeymine.assignment.spark import assign_spark

    rows = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "timestamp": pd.to_datetime(
                ["2025-02-01 10:00", "2025-02-01 10:01", "2025-02-01 11:00"], utc=True
            ),
            "activity": ["visit", "teleport", "visit"],
            "channel": ["web", "web", "hologram"],
        }
    )
    out = assign_spark(spark.createDataFrame(rows), model, n_buckets=3).toPandas()
    out = out.sort_values("customer_id").reset_index(drop=True)
    assert list(out["unknown_activities"].map(list)) == [["teleport"], []]
    assert list(out["unknown_channels"].map(list)) == [[], ["hologram"]]
    ref = assign_many(rows.astype({"activity": "category", "channel": "category"}), model)
    np.testing.assert_array_equal(out["probability"].to_numpy(), ref["probability"].to_numpy())
    with pytest.raises(MissingColumnError, match="activity"):
        assign_spark(spark.createDataFrame(rows.drop(columns=["activity"])), model)
    with pytest.raises(ConfigError, match="n_buckets"):
        assign_spark(spark.createDataFrame(rows), model, n_buckets=0)
