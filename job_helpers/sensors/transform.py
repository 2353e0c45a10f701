"""Readings to a whole-second grid per sensor and hour: the heart of the export, with no I/O.

This is the whole-second form of Timestream's ``INTERPOLATE_LINEAR`` (temperature) and
``INTERPOLATE_LOCF`` (status) over ``SEQUENCE(min(time), max(time), 1s)``, per sensor and UTC hour:

1. Readings are bucketed to their whole UTC second: temperature averaged, the worst status kept.
2. Each bucket is joined to the sensor's next bucket in the same hour (``lead``), and expanded
   with ``sequence`` + ``explode`` into one row per second up to, not including, that next bucket;
   the last bucket of the hour expands to itself. So every second from the first to the last
   bucket of the hour appears exactly once, and gaps are never bridged across an hour boundary.
3. Temperature moves linearly from the bucket to the next one; status stays the bucket's.

Everything is Spark-native: one shuffle (by hour, which also puts each output partition in one
task, so each ``dt/hour`` folder gets one file), one sort for the window, no Python UDFs.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from job_helpers.sensors.readings import STATUSES, hour_partition

_EXACT = "decimal(38,18)"


def to_second_grid(readings: DataFrame) -> DataFrame:
    """Valid readings (sensor_id, temperature, status, event_time in epoch ms) to one row per sensor and second.

    Output columns: ``sensor_id``, ``time`` (timestamp), ``temperature``, ``status`` and the
    partition columns ``dt`` and ``hour``. The result depends only on the set of readings, not on
    their order or partitioning, so reruns and overlapping chunks write identical rows.
    """
    second = F.floor(F.col("event_time") / 1000)
    dt, hour = hour_partition(F.col("second"))
    rank = F.when(F.col("status") == STATUSES[2], 3).when(F.col("status") == STATUSES[1], 2).otherwise(1)
    buckets = (
        readings.select("sensor_id", "temperature", rank.alias("rank"), second.alias("second"))
        .withColumn("dt", dt)
        .withColumn("hour", hour)
        .repartition("dt", "hour")
        .groupBy("dt", "hour", "sensor_id", "second")
        .agg(
            F.count(F.lit(1)).alias("readings"),
            F.min("temperature").alias("single"),
            # A sum of doubles depends on the order rows arrive in; an exact decimal sum does not.
            F.avg(F.col("temperature").cast(_EXACT)).alias("mean"),
            F.max("rank").alias("rank"),
        )
        .select(
            "dt",
            "hour",
            "sensor_id",
            "second",
            "rank",
            F.when(F.col("readings") == 1, F.col("single")).otherwise(F.col("mean").cast("double")).alias("temperature"),
        )
    )
    window = Window.partitionBy("dt", "hour", "sensor_id").orderBy("second")
    spans = buckets.withColumns(
        {
            "next_second": F.lead("second").over(window),
            "next_temperature": F.lead("temperature").over(window),
        }
    ).withColumn("span", F.coalesce(F.col("next_second") - F.col("second"), F.lit(1)))
    grid = spans.select("*", F.explode(F.sequence(F.lit(0), F.col("span") - 1)).alias("offset"))
    temperature = F.when(F.col("next_second").isNull(), F.col("temperature")).otherwise(
        F.col("temperature")
        + (F.col("next_temperature") - F.col("temperature")) * F.col("offset") / F.col("span")
    )
    return grid.select(
        "sensor_id",
        F.timestamp_seconds(F.col("second") + F.col("offset")).alias("time"),
        temperature.alias("temperature"),
        F.element_at(F.array(*[F.lit(status) for status in STATUSES]), F.col("rank")).alias("status"),
        "dt",
        "hour",
    )
