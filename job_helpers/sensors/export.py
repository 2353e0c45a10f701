"""One chunk of days: readings from either source to the curated table and the rejects location.

Ownership makes reruns and overlapping chunks safe: a usable reading belongs to the chunk whose
days contain its event time, a reject to the chunk whose days contain its ``arrival`` hour.
Both outputs are written with dynamic partition overwrite, so a chunk replaces exactly the
``dt/hour`` partitions it produces and never touches another chunk's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from pyspark import StorageLevel
from pyspark.sql import DataFrame, DataFrameWriter
from pyspark.sql import Observation
from pyspark.sql import functions as F

from job_helpers.sensors.readings import hour_partition
from job_helpers.sensors.transform import to_second_grid

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportSummary:
    first: date
    last: date
    sensors: int
    readings_in: int
    rows_out: int
    rejects: int

    def line(self) -> str:
        return (
            f"{self.first}..{self.last}: {self.sensors} sensor(s), {self.readings_in:,} reading(s) in, "
            f"{self.rows_out:,} row(s) out, {self.rejects:,} reject(s)"
        )


def chunk_bounds(first: date, last: date) -> tuple[int, int]:
    """The chunk's half-open range in epoch seconds: [first 00:00, day after last 00:00) UTC."""
    start = datetime.combine(first, time(), timezone.utc)
    end = datetime.combine(last + timedelta(days=1), time(), timezone.utc)
    return int(start.timestamp()), int(end.timestamp())


def export_chunk(readings: DataFrame, first: date, last: date, curated_url: str, rejects_url: str) -> ExportSummary:
    """Write the chunk's grid to ``curated_url`` and its rejects to ``rejects_url``; return the counts.

    ``readings`` has the columns of ``readings.FRAME_SCHEMA``, from either source.
    """
    start, end = chunk_bounds(first, last)
    usable = F.col("reason").isNull()
    owned = F.when(usable, (F.col("event_time") >= start * 1000) & (F.col("event_time") < end * 1000)).otherwise(
        (F.col("arrival") >= start) & (F.col("arrival") < end)
    )
    chunk = readings.where(owned).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        counts = chunk.agg(
            F.count_if(usable).alias("readings"),
            F.count_if(~usable).alias("rejects"),
            F.count_distinct(F.when(usable, F.col("sensor_id"))).alias("sensors"),
        ).first()
        if counts["rejects"]:
            dt, hour = hour_partition(F.col("arrival"))
            rejected = chunk.where(~usable).select("reason", "source", "record", dt.alias("dt"), hour.alias("hour"))
            _overwrite_partitions(rejected.write.format("json"), rejects_url)
            log.warning("%d reading(s) rejected for %s..%s, see %s", counts["rejects"], first, last, rejects_url)
        written = Observation("rows_out")
        grid = to_second_grid(chunk.where(usable).select("sensor_id", "temperature", "status", "event_time"))
        _overwrite_partitions(grid.observe(written, F.count(F.lit(1)).alias("rows")).write.format("parquet"), curated_url)
        rows_out = written.get["rows"] if counts["readings"] else 0
    finally:
        chunk.unpersist()
    summary = ExportSummary(first, last, counts["sensors"], counts["readings"], rows_out, counts["rejects"])
    log.info("%s -> %s", summary.line(), curated_url)
    return summary


def _overwrite_partitions(writer: DataFrameWriter, url: str) -> None:
    """Replace only the dt/hour partitions present in the data, whatever the session's default."""
    writer.mode("overwrite").option("partitionOverwriteMode", "dynamic").partitionBy("dt", "hour").save(url)
