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

import numpy as np
import pandas as pd

from journeymine.assignment._assign import assign_many
from journeymine.assignment._model import PersonaModel
from journeymine.assignment._persist import model_from_bytes, model_to_bytes
from journeymine.exceptions import ConfigError, EventLogError, MissingColumnError, did_you_mean
from journeymine.schema import (
    ACTIVITY,
    CHANNEL,
    CUSTOMER_ID,
    JOURNEY_ID,
    SESSION_ID,
    TIMESTAMP,
    VALUE,
)

__all__ = ["OUTPUT_SCHEMA", "assign_spark"]

#: Spark schema of the result (DDL).
OUTPUT_SCHEMA = (
    f"{CUSTOMER_ID} string, persona long, name string, probability double, abstained boolean, "
    f"n_events long, unknown_activities array<string>, unknown_channels array<string>"
)
_BUCKET = "__jm_bucket"
_T_US = "__jm_t_us"
# executor-side cache: card checksum (skops bytes and behavioural card fields) -> loaded model
_MODELS: dict[str, PersonaModel] = {}


def _model_on_executor(data: bytes, card_json: str) -> PersonaModel:
    card = json.loads(card_json)
    # the same classifiers with another threshold or names are another model
    key = card.get("integrity", {}).get("sha256") or card["artifact"]["sha256"]
    model = _MODELS.get(key)
    if model is None:
        model = model_from_bytes(data, card, source="broadcast model")
        _MODELS[key] = model
    return model


def _score_group(pdf: pd.DataFrame, data: bytes, card_json: str) -> pd.DataFrame:
    model = _model_on_executor(data, card_json)
    if pdf[_T_US].isna().any():
        raise EventLogError(
            f"{int(pdf[_T_US].isna().sum())} events have a null or unparseable timestamp; "
            f"clean the timestamp column before scoring."
        )
    log = pd.DataFrame(
        {
            CUSTOMER_ID: pd.array(pdf[CUSTOMER_ID].astype(object), dtype="str"),
            TIMESTAMP: pd.to_datetime(pdf[_T_US].to_numpy(dtype=np.int64), unit="us", utc=True),
            ACTIVITY: pdf[ACTIVITY].astype(object).astype("category"),
        }
    )
    if CHANNEL in pdf.columns:
        log[CHANNEL] = pdf[CHANNEL].astype(object).astype("category")
    for col in (JOURNEY_ID, SESSION_ID):
        if col in pdf.columns:
            log[col] = pd.array(pdf[col].astype(object), dtype="str")
    if VALUE in pdf.columns:
        log[VALUE] = pd.to_numeric(pdf[VALUE], errors="raise").astype("float64")
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
    from pyspark.sql import functions as F

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
    spark = spark_df.sparkSession
    if n_buckets is None:
        n_buckets = int(spark.conf.get("spark.sql.shuffle.partitions", "200"))
    if isinstance(n_buckets, bool) or not isinstance(n_buckets, int) or n_buckets < 1:
        raise ConfigError(f"n_buckets must be a positive integer, got {n_buckets!r}.")
    data, card = model_to_bytes(model)
    card_json = json.dumps(card)
    bc = spark.sparkContext.broadcast((data, card_json))
    optional = [c for c in (CHANNEL, JOURNEY_ID, SESSION_ID, VALUE) if c in columns]
    ts_type = dict(spark_df.dtypes)[TIMESTAMP]
    ts = F.col(TIMESTAMP)
    if not ts_type.startswith("timestamp"):
        ts = F.to_timestamp(ts)
    df = spark_df.select(
        F.col(CUSTOMER_ID).cast("string").alias(CUSTOMER_ID),
        F.unix_micros(ts).alias(_T_US),
        F.col(ACTIVITY).cast("string").alias(ACTIVITY),
        *[F.col(c) for c in optional],
        F.pmod(F.xxhash64(F.col(CUSTOMER_ID)), F.lit(n_buckets)).alias(_BUCKET),
    )

    def score(pdf: pd.DataFrame) -> pd.DataFrame:
        payload, cj = bc.value
        return _score_group(pdf, payload, cj)

    return df.groupBy(_BUCKET).applyInPandas(score, schema=OUTPUT_SCHEMA)
