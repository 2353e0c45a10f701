"""What a valid sensor reading is, and the reason a reading is rejected.

Both sources (raw JSON lines and the Timestream query API) produce the same columns, so the
checks live here once: ``sensor_id``, ``temperature``, ``status``, ``event_time`` (epoch ms),
plus ``source`` (where the reading came from) and ``record`` (its original text, kept for rejects).
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

STATUSES = ("OK", "WARNING", "ERROR")
"""Ordered from best to worst: a second with several readings keeps the worst."""

MIN_TEMPERATURE = -50.0
MAX_TEMPERATURE = 250.0
"""Physically plausible range; the sensors report 10-180, anything outside is a fault."""

READING_SCHEMA = StructType(
    [
        StructField("sensor_id", StringType()),
        StructField("temperature", DoubleType()),
        StructField("status", StringType()),
        StructField("event_time", LongType()),
    ]
)

FRAME_SCHEMA = StructType(
    [
        *READING_SCHEMA.fields,
        StructField("source", StringType()),
        StructField("record", StringType()),
        StructField("reason", StringType()),
        StructField("arrival", LongType()),
    ]
)
"""What every source hands to the export: the reading, where it came from, its original text
(rejects only), why it is rejected (null if usable), and the epoch second whose hour a reject is
filed under (the raw folder's hour, or the reading's own time)."""


def reject_reason(extra: Column | None = None) -> Column:
    """The first problem found with a reading, or null when it is valid.

    ``extra`` is a source-specific check evaluated after the common ones (e.g. a raw reading
    must lie in its folder's hour or the hour before).
    """
    reason = (
        F.when(F.col("sensor_id").isNull() | (F.trim("sensor_id") == ""), F.lit("missing field: sensor_id"))
        .when(F.col("temperature").isNull(), F.lit("missing field: temperature"))
        .when(F.col("status").isNull(), F.lit("missing field: status"))
        .when(F.col("event_time").isNull(), F.lit("missing field: event_time"))
        .when(
            F.isnan("temperature") | (F.col("temperature") < MIN_TEMPERATURE) | (F.col("temperature") > MAX_TEMPERATURE),
            F.lit(f"temperature out of range [{MIN_TEMPERATURE:g}, {MAX_TEMPERATURE:g}]"),
        )
        .when(~F.col("status").isin(*STATUSES), F.lit(f"bad status (expected one of {', '.join(STATUSES)})"))
        .when(F.col("event_time") < 0, F.lit("event_time before 1970"))
    )
    return reason if extra is None else F.coalesce(reason, extra)


def hour_partition(epoch_seconds: Column) -> tuple[Column, Column]:
    """``dt`` (YYYY-MM-DD) and ``hour`` (HH) of an epoch second, in UTC whatever the session zone."""
    days = F.floor(epoch_seconds / 86400).cast("int")
    dt = F.date_format(F.date_from_unix_date(days), "yyyy-MM-dd")
    hour = F.lpad(F.floor(F.pmod(epoch_seconds, 86400) / 3600).cast("string"), 2, "0")
    return dt, hour
