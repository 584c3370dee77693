"""Journey statistics and customer features on a Spark DataFrame (``journeymine[spark]``).

One definition per statistic for both engines where it can be: statistics whose counts add up
over disjoint sets of customers (variants, funnels, channel switches) and the customer features
run the local code on buckets of whole customers (``applyInPandas``) and add the counts; the
DFG, whose median and 90th percentile do not add up, is one Spark SQL query with the local
definitions (window ``lead``, exact ``percentile`` with linear interpolation). Results equal
:func:`journeymine.dfg`, :func:`journeymine.variants`, :func:`journeymine.funnel`,
:func:`journeymine.channel_switches` and ``CustomerFeaturizer.transform`` on the same events.

Every function starts with :func:`spark_events`, the gate: the first rows go through
:func:`journeymine.schema.validate` on the driver, so a missing column or epoch numbers fail
before any job with the same exception and message as the local path; the timestamp must be a
Spark ``timestamp``; nulls anywhere are counted in one job. Timestamps travel as integer
microseconds (``unix_micros``), so results do not depend on the session time zone. Events of a
customer at the same instant keep the order in which Spark reads them
(``monotonically_increasing_id``: the input order for a DataFrame made from pandas or one
file).

A job on a cluster::

    from pyspark.sql import SparkSession
    from journeymine.scale import spark as jms

    spark = SparkSession.builder.getOrCreate()
    events = spark.read.parquet("s3://bucket/events/")   # customer_id, timestamp, activity...
    edges = jms.spark_dfg(events)                         # a pandas DataFrame on the driver
    top = jms.spark_variants(events, top_k=20)
    steps = jms.spark_funnel(events, ["view", "cart", "purchase"], within="7D")
    features = jms.spark_customer_features(events, featurizer)   # a Spark DataFrame
    features.write.parquet("s3://bucket/features/")
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from journeymine.engine import encode
from journeymine.exceptions import ConfigError, EventLogError, UnknownActivityError, did_you_mean
from journeymine.journeys import (
    channel_switches,
    funnel_frame,
    step_counts,
    variants,
)
from journeymine.schema import (
    ACTIVITY,
    CHANNEL,
    CUSTOMER_ID,
    JOURNEY_ID,
    SESSION_ID,
    TIMESTAMP,
    VALUE,
    check_duration,
    validate,
)

__all__ = [
    "spark_channel_switches",
    "spark_customer_features",
    "spark_dfg",
    "spark_events",
    "spark_funnel",
    "spark_variants",
]

_SAMPLE_ROWS = 1000
TIME_US = "__jm_t_us"
"""The column of event times in integer microseconds on the executors (no time zone involved)."""
BUCKET_COLUMNS = (CHANNEL, SESSION_ID, JOURNEY_ID, VALUE)
"""The optional canonical columns a bucket of events carries to the executors (those
:func:`local_log` reads back)."""
_T = TIME_US
_R = "__jm_row"
_BUCKET = "__jm_bucket"


def spark_events(spark_df: Any, *, channel: bool = False) -> Any:
    """The gate of every Spark function: check ``spark_df`` as the local path would, and
    return its canonical columns (``customer_id``, ``__jm_t_us`` microseconds, ``activity``,
    ``channel``, ``session_id``, ``journey_id`` and ``value`` when present, ``__jm_row`` the
    read order).

    Parameters
    ----------
    spark_df : pyspark.sql.DataFrame
        Events with canonical column names; ``timestamp`` of Spark type ``timestamp``.
    channel : bool, default False
        Also require ``channel``.

    Raises
    ------
    MissingColumnError, EventLogError, EmptyLogError
        The first rows fail :func:`journeymine.schema.validate` (the local message); the
        timestamp is not a Spark timestamp; nulls or blanks anywhere (counted).

    Examples
    --------
    >>> events = spark.read.parquet("events/")  # doctest: +SKIP
    >>> spark_events(events).columns  # doctest: +SKIP
    ['customer_id', '__jm_t_us', 'activity', 'channel', '__jm_row']
    """
    from pyspark.sql import functions as F

    sample = spark_df.limit(_SAMPLE_ROWS).toPandas()
    required = (CUSTOMER_ID, TIMESTAMP, ACTIVITY, CHANNEL) if channel else None
    validate(sample, duplicates="keep", sort=False, require_channel=required is not None)
    types = dict(spark_df.dtypes)
    if types[TIMESTAMP] != "timestamp":
        raise EventLogError(
            f"column {TIMESTAMP!r} has Spark type {types[TIMESTAMP]}; journey statistics on "
            f"Spark need a timestamp (with time zone). Convert it first, e.g. "
            f"df.withColumn('timestamp', F.to_timestamp('timestamp')) for ISO text, or "
            f"F.timestamp_micros / F.timestamp_seconds for epoch numbers."
        )
    names = [CUSTOMER_ID, TIMESTAMP, ACTIVITY] + ([CHANNEL] if CHANNEL in types else [])

    def blank(name: str) -> Any:
        col = F.col(name)
        if name == TIMESTAMP:
            return col.isNull()
        return col.isNull() | (F.trim(col.cast("string")) == "")

    counts = spark_df.agg(*[F.sum(blank(n).cast("long")).alias(n) for n in names]).first()
    problems = [f"null or empty {n} in {int(counts[n])} rows" for n in names if counts[n]]
    if problems:
        raise EventLogError(
            f"invalid event log: {len(problems)} problem{'s' if len(problems) > 1 else ''}:\n- "
            + "\n- ".join(problems)
            + "\nClean the events first (on Spark, rows are not dropped).",
            problems,
        )
    cols = [
        F.col(CUSTOMER_ID).cast("string").alias(CUSTOMER_ID),
        F.unix_micros(F.col(TIMESTAMP)).alias(_T),
        F.col(ACTIVITY).cast("string").alias(ACTIVITY),
    ]
    for name in BUCKET_COLUMNS:
        if name in types:
            cols.append(F.col(name).cast("double" if name == VALUE else "string").alias(name))
    cols.append(F.monotonically_increasing_id().alias(_R))
    return spark_df.select(*cols)


def events_in_micros(spark_df: Any, optional: Iterable[str]) -> Any:
    """The events of ``spark_df`` as the executors read them: ``customer_id`` and ``activity``
    as text, the time as :data:`TIME_US` microseconds and the ``optional`` columns present, as
    they are. Unlike :func:`spark_events` nothing is checked: a text ``timestamp`` is parsed by
    Spark (an unparseable one becomes null, for the caller to report on the executors).

    Parameters
    ----------
    spark_df : pyspark.sql.DataFrame
        Events (or a stream of them) with ``customer_id``, ``timestamp`` and ``activity``.
    optional : iterable of str
        Further columns to carry, each once; the caller keeps only those ``spark_df`` has.

    Returns
    -------
    pyspark.sql.DataFrame
        ``customer_id, __jm_t_us, activity`` and the ``optional`` columns.

    Examples
    --------
    >>> events_in_micros(spark.createDataFrame(log), [CHANNEL]).columns  # doctest: +SKIP
    ['customer_id', '__jm_t_us', 'activity', 'channel']
    """
    from pyspark.sql import functions as F

    ts = F.col(TIMESTAMP)
    if not dict(spark_df.dtypes)[TIMESTAMP].startswith("timestamp"):
        ts = F.to_timestamp(ts)
    return spark_df.select(
        F.col(CUSTOMER_ID).cast("string").alias(CUSTOMER_ID),
        F.unix_micros(ts).alias(TIME_US),
        F.col(ACTIVITY).cast("string").alias(ACTIVITY),
        *[F.col(c) for c in dict.fromkeys(optional)],
    )


def local_log(pdf: pd.DataFrame, activities: Sequence[str] | None = None) -> pd.DataFrame:
    """A bucket of canonical events on an executor (``customer_id``, :data:`TIME_US`,
    ``activity`` and the optional canonical columns; rows in read order when the read position
    ``__jm_row`` is there) as a canonical pandas log; ``activities`` fixes the activity
    categories (all of the whole log). Shared by the scale-out statistics and ``assign_spark``."""
    if _R in pdf.columns:
        pdf = pdf.sort_values(_R, kind="stable")
    act = pdf[ACTIVITY].astype(object)
    log = pd.DataFrame(
        {
            CUSTOMER_ID: pd.array(pdf[CUSTOMER_ID].astype(object), dtype="str"),
            TIMESTAMP: pd.to_datetime(pdf[_T].to_numpy(dtype=np.int64), unit="us", utc=True),
            ACTIVITY: pd.Categorical(act, categories=sorted(activities))
            if activities is not None
            else act.astype("category"),
        }
    )
    if CHANNEL in pdf.columns:
        log[CHANNEL] = pdf[CHANNEL].astype(object).astype("category").to_numpy()
    for name in (SESSION_ID, JOURNEY_ID):
        if name in pdf.columns:
            log[name] = pd.array(pdf[name].astype(object).to_numpy(), dtype="str")
    if VALUE in pdf.columns:
        log[VALUE] = pd.to_numeric(pdf[VALUE], errors="raise").to_numpy(dtype="float64")
    log[TIMESTAMP] = log[TIMESTAMP].astype("datetime64[us, UTC]")
    return log.reset_index(drop=True)


def per_bucket(
    events: Any,
    fn: Callable[[pd.DataFrame], pd.DataFrame],
    schema: str,
    n_buckets: int | None,
) -> Any:
    """``fn`` on the events of each bucket of whole customers (a hash of the id), as a Spark
    DataFrame of ``schema``; ``n_buckets`` defaults to ``spark.sql.shuffle.partitions``."""
    from pyspark.sql import functions as F

    spark = events.sparkSession
    if n_buckets is None:
        n_buckets = int(spark.conf.get("spark.sql.shuffle.partitions", "200"))
    if isinstance(n_buckets, bool) or not isinstance(n_buckets, int) or n_buckets < 1:
        raise ConfigError(f"n_buckets must be a positive integer, got {n_buckets!r}.")
    bucketed = events.withColumn(_BUCKET, F.pmod(F.xxhash64(F.col(CUSTOMER_ID)), F.lit(n_buckets)))

    def run(pdf: pd.DataFrame) -> pd.DataFrame:
        return fn(pdf.drop(columns=[_BUCKET]))

    return bucketed.groupBy(_BUCKET).applyInPandas(run, schema=schema)


def spark_dfg(spark_df: Any) -> pd.DataFrame:
    """:func:`journeymine.dfg` of a Spark DataFrame of events (one Spark SQL query).

    Returns
    -------
    DataFrame
        ``source, target, count, cases, mean_seconds, median_seconds, p90_seconds``; by count
        descending, then source and target (pandas, on the driver).

    Examples
    --------
    >>> spark_dfg(spark.createDataFrame(log))  # doctest: +SKIP
      source target  count  cases  mean_seconds  median_seconds  p90_seconds
    0   view   cart      2      2         150.0           150.0        174.0
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    ev = spark_events(spark_df)
    w = Window.partitionBy(CUSTOMER_ID).orderBy(_T, _R)
    pairs = ev.select(
        F.col(CUSTOMER_ID),
        F.col(ACTIVITY).alias("source"),
        F.lead(ACTIVITY).over(w).alias("target"),
        (F.lead(_T).over(w) - F.col(_T)).alias("d"),
    ).where(F.col("target").isNotNull())
    stats = (
        pairs.groupBy("source", "target")
        .agg(
            F.count(F.lit(1)).alias("count"),
            F.countDistinct(CUSTOMER_ID).alias("cases"),
            (F.avg("d") / 1e6).alias("mean_seconds"),
            F.percentile(F.col("d"), F.array(F.lit(0.5), F.lit(0.9))).alias("q"),
        )
        .toPandas()
    )
    q = np.array(stats.pop("q").tolist(), dtype=float).reshape(-1, 2) / 1e6
    stats["median_seconds"], stats["p90_seconds"] = q[:, 0], q[:, 1]
    return _sorted_pairs(stats, "source", "target", "count").astype(
        {"count": np.int64, "cases": np.int64, "mean_seconds": float}
    )


def _sorted_pairs(frame: pd.DataFrame, a: str, b: str, count: str) -> pd.DataFrame:
    """Rows by ``count`` descending, then labels ``a`` and ``b`` in code-point order."""

    def rank(s: pd.Series) -> np.ndarray:
        return np.unique(s.astype(object).to_numpy(), return_inverse=True)[1].reshape(-1)

    order = np.lexsort((rank(frame[b]), rank(frame[a]), -frame[count].to_numpy()))
    out = frame.iloc[order].reset_index(drop=True)
    for col in (a, b):
        out[col] = pd.array(out[col].astype(object), dtype="str")
    return out


def spark_variants(
    spark_df: Any, *, top_k: int | None = None, n_buckets: int | None = None
) -> pd.DataFrame:
    """:func:`journeymine.variants` of a Spark DataFrame: the local variants of each bucket
    of customers, their case counts added.

    Parameters
    ----------
    spark_df : pyspark.sql.DataFrame
        Events (see :func:`spark_events`).
    top_k : int, optional
        Only the ``top_k`` most common variants.
    n_buckets : int, optional
        Buckets of customers (default ``spark.sql.shuffle.partitions``).

    Examples
    --------
    >>> spark_variants(events, top_k=10)  # doctest: +SKIP
    """
    from pyspark.sql import functions as F

    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ConfigError(f"top_k={top_k!r} is not allowed; pass an int >= 1 or None.")
    ev = spark_events(spark_df)

    def local(pdf: pd.DataFrame) -> pd.DataFrame:
        if len(pdf) == 0:
            return pd.DataFrame({"variant": [], "length": [], "cases": []})
        v = variants(local_log(pdf))
        return pd.DataFrame(
            {
                "variant": v["variant"].astype(object),
                "length": v["length"].astype(np.int64),
                "cases": v["cases"].astype(np.int64),
            }
        )

    parts = per_bucket(ev, local, "variant string, length long, cases long", n_buckets)
    out = (
        parts.groupBy("variant", "length")
        .agg(F.sum("cases").alias("cases"))
        .orderBy(F.col("cases").desc(), F.col("variant").asc())
        .toPandas()
    )
    n_cases = int(ev.select(CUSTOMER_ID).distinct().count())
    if top_k is not None:
        out = out.head(top_k)
    out = out.reset_index(drop=True)
    out["variant"] = pd.array(out["variant"].astype(object), dtype="str")
    out["length"] = out["length"].astype(np.int64)
    out["cases"] = out["cases"].astype(np.int64)
    out["share"] = out["cases"] / n_cases
    return out


def spark_channel_switches(spark_df: Any, *, n_buckets: int | None = None) -> pd.DataFrame:
    """:func:`journeymine.channel_switches` of a Spark DataFrame (local counts per bucket of
    customers, added; shares from the totals).

    Examples
    --------
    >>> spark_channel_switches(events)  # doctest: +SKIP
    """
    from pyspark.sql import functions as F

    ev = spark_events(spark_df, channel=True)

    def local(pdf: pd.DataFrame) -> pd.DataFrame:
        empty = pd.DataFrame({"from_channel": [], "to_channel": [], "count": []})
        if len(pdf) < 2:
            return empty
        sw = channel_switches(local_log(pdf))
        if len(sw) == 0:
            return empty
        return pd.DataFrame(
            {
                "from_channel": sw["from_channel"].astype(object),
                "to_channel": sw["to_channel"].astype(object),
                "count": sw["count"].astype(np.int64),
            }
        )

    parts = per_bucket(ev, local, "from_channel string, to_channel string, count long", n_buckets)
    out = parts.groupBy("from_channel", "to_channel").agg(F.sum("count").alias("count"))
    frame = out.toPandas()
    frame["count"] = frame["count"].astype(np.int64)
    frame = _sorted_pairs(frame, "from_channel", "to_channel", "count")
    rows = frame.groupby("from_channel", sort=False)["count"].transform("sum")
    frame["share"] = frame["count"] / rows.to_numpy()
    return frame


def spark_funnel(
    spark_df: Any,
    steps: Sequence[str],
    *,
    within: str | pd.Timedelta | dt.timedelta | None = None,
    n_buckets: int | None = None,
) -> pd.DataFrame:
    """:func:`journeymine.funnel` (without ``by``) of a Spark DataFrame: the local step counts
    of each bucket of customers, added.

    Raises
    ------
    UnknownActivityError
        A step is not an activity of the events (the message suggests the closest one).

    Examples
    --------
    >>> spark_funnel(events, ["view", "cart", "purchase"], within="7D")  # doctest: +SKIP
    """
    from pyspark.sql import functions as F

    if isinstance(steps, str) or not isinstance(steps, Sequence) or len(steps) == 0:
        raise ConfigError(
            f"steps={steps!r} is not allowed; pass a non-empty list of activities in funnel "
            f"order, e.g. ['view_product', 'add_to_cart', 'purchase']."
        )
    within_us = None
    if within is not None:
        delta = check_duration(within, "within", examples="'7D', '30min' or a Timedelta")
        within_us = int(delta // pd.Timedelta(1, unit="us"))
    ev = spark_events(spark_df)
    activities = sorted(r[0] for r in ev.select(ACTIVITY).distinct().collect())
    for s in steps:
        label = str(s)
        if label not in activities:  # the message of the local path
            shown = activities if len(activities) <= 30 else [*activities[:30], "..."]
            raise UnknownActivityError(
                f"funnel step: activity {label!r} is not in the log."
                f"{did_you_mean(label, activities)} The log has {len(activities)} activities: "
                f"{shown}."
            )
    names = [str(s) for s in steps]
    schema = ", ".join(f"s{k} long" for k in range(len(names)))

    def local(pdf: pd.DataFrame) -> pd.DataFrame:
        if len(pdf) == 0:
            return pd.DataFrame({f"s{k}": [0] for k in range(len(names))})
        enc = encode(local_log(pdf, activities))
        codes = [int(enc.activities.get_loc(s)) for s in names]
        counts = step_counts(enc, codes, within_us)[:, 0]
        return pd.DataFrame({f"s{k}": [int(n)] for k, n in enumerate(counts)})

    parts = per_bucket(ev, local, schema, n_buckets)
    total = parts.agg(*[F.sum(f"s{k}").alias(f"s{k}") for k in range(len(names))]).first()
    counts = np.array([[int(total[f"s{k}"] or 0)] for k in range(len(names))], dtype=np.int64)
    if counts[0, 0] == 0:
        return funnel_frame(counts, names, pd.Index([0]), None).iloc[:0]
    return funnel_frame(counts, names, pd.Index([0]), None)


def spark_customer_features(spark_df: Any, featurizer: Any, *, n_buckets: int | None = None) -> Any:
    """``featurizer.transform`` of every customer of a Spark DataFrame, bucket by bucket of
    customers on the executors.

    Parameters
    ----------
    spark_df : pyspark.sql.DataFrame
        Events (see :func:`spark_events`).
    featurizer : CustomerFeaturizer
        Fitted (e.g. on a sample of customers collected to the driver).
    n_buckets : int, optional
        Buckets of customers (default ``spark.sql.shuffle.partitions``).

    Returns
    -------
    pyspark.sql.DataFrame
        ``customer_id`` and one double column per feature (``get_feature_names_out()``).

    Examples
    --------
    >>> featurizer = CustomerFeaturizer().fit(sample_log)  # doctest: +SKIP
    >>> spark_customer_features(events, featurizer).write.parquet("features/")  # doctest: +SKIP
    """
    from journeymine.exceptions import EmptyLogError

    names = [str(n) for n in featurizer.get_feature_names_out()]
    ev = spark_events(spark_df)
    spark = ev.sparkSession
    bc = spark.sparkContext.broadcast(featurizer)
    fields = ", ".join(f"`{n.replace('`', '``')}` double" for n in names)
    schema = f"{CUSTOMER_ID} string, {fields}"

    def local(pdf: pd.DataFrame) -> pd.DataFrame:
        empty = pd.DataFrame({CUSTOMER_ID: pd.Series([], dtype=object)} | {n: [] for n in names})
        if len(pdf) == 0:
            return empty
        try:
            X = bc.value.transform(local_log(pdf))
        except EmptyLogError:  # no customer of this bucket has events in the window
            return empty
        out = X.reset_index()
        out[CUSTOMER_ID] = out[CUSTOMER_ID].astype(object)
        return out[[CUSTOMER_ID, *names]]

    return per_bucket(ev, local, schema, n_buckets)
