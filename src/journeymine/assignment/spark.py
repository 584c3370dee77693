"""Batch persona scoring on Spark (``pip install journeymine[spark]``).

:func:`assign_spark` hashes customers into buckets, groups the events by bucket and runs
:func:`~journeymine.assignment.assign_many` on each group with ``applyInPandas``: every customer's
events land in one group, and each group is scored vectorised. The model travels to the
executors as its skops bytes and card (a broadcast variable) and is re-loaded there with the
same checks and trusted-type list as :func:`~journeymine.assignment.load_model` (once per
executor process). Timestamps are passed as integer microseconds (``unix_micros``), so the
result does not depend on the Spark session time zone and equals ``assign_many`` exactly.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from journeymine.assignment._assign import assign_many
from journeymine.assignment._model import PersonaModel
from journeymine.assignment._persist import model_from_bytes, model_to_bytes
from journeymine.exceptions import ConfigError, EventLogError, MissingColumnError, did_you_mean
from journeymine.scale.spark import (
    BUCKET_COLUMNS,
    TIME_US,
    events_in_micros,
    local_log,
    per_bucket,
)
from journeymine.schema import ACTIVITY, CUSTOMER_ID, TIMESTAMP

__all__ = ["OUTPUT_SCHEMA", "assign_spark"]

#: Spark schema of the result (DDL).
OUTPUT_SCHEMA = (
    f"{CUSTOMER_ID} string, persona long, name string, probability double, abstained boolean, "
    f"n_events long, unknown_activities array<string>, unknown_channels array<string>"
)
# executor-side cache: card checksum (skops bytes and behavioural card fields) -> loaded model
_MODELS: dict[str, PersonaModel] = {}


def _model_on_executor(data: bytes, card_json: str) -> PersonaModel:
    card = json.loads(card_json)
    # the same classifiers with another threshold or names are another model
    key = card.get("integrity", {}).get("sha256") or card["artifact"]["sha256"]
    model = _MODELS.get(key)
    if model is None:
        model = model_from_bytes(data, card, PersonaModel, source="broadcast model")
        _MODELS[key] = model
    return model


def _score_group(pdf: pd.DataFrame, data: bytes, card_json: str) -> pd.DataFrame:
    model = _model_on_executor(data, card_json)
    if pdf[TIME_US].isna().any():
        raise EventLogError(
            f"{int(pdf[TIME_US].isna().sum())} events have a null or unparseable timestamp; "
            f"clean the timestamp column before scoring."
        )
    log = local_log(pdf)
    out = assign_many(log, model)
    out["unknown_activities"] = [list(x) for x in out["unknown_activities"]]
    out["unknown_channels"] = [list(x) for x in out["unknown_channels"]]
    out[CUSTOMER_ID] = out[CUSTOMER_ID].astype(object)
    out["name"] = out["name"].astype(object)
    return out


def assign_spark(spark_df: Any, model: PersonaModel, *, n_buckets: int | None = None) -> Any:
    """Persona of every customer of a Spark DataFrame of events.

    Parameters
    ----------
    spark_df : pyspark.sql.DataFrame
        Events with canonical column names: ``customer_id`` (string), ``timestamp``
        (timestamp), ``activity`` (string); optional ``channel``, ``journey_id``,
        ``session_id``, ``value``. Other columns are ignored.
    model : PersonaModel
        A fitted or loaded model (it is serialised with skops and re-loaded on the executors).
    n_buckets : int, optional
        Groups of customers scored together (default ``spark.sql.shuffle.partitions``).

    Returns
    -------
    pyspark.sql.DataFrame
        :data:`OUTPUT_SCHEMA`: one row per customer, the same values as
        :func:`~journeymine.assignment.assign_many` on the same events.
    """
    if not isinstance(model, PersonaModel):
        raise ConfigError(f"model must be a fitted PersonaModel, got {type(model).__name__}.")
    model._fitted()
    columns = list(spark_df.columns)
    missing = [c for c in (CUSTOMER_ID, TIMESTAMP, ACTIVITY) if c not in columns]
    if missing:
        raise MissingColumnError(
            f"missing column {missing[0]!r}.{did_you_mean(missing[0], columns)} assign_spark "
            f"needs customer_id, timestamp and activity; available columns: {columns}."
        )
    data, card = model_to_bytes(model)
    card_json = json.dumps(card)
    bc = spark_df.sparkSession.sparkContext.broadcast((data, card_json))
    df = events_in_micros(spark_df, [c for c in BUCKET_COLUMNS if c in columns])

    def score(pdf: pd.DataFrame) -> pd.DataFrame:
        payload, cj = bc.value
        return _score_group(pdf, payload, cj)

    return per_bucket(df, score, OUTPUT_SCHEMA, n_buckets)
