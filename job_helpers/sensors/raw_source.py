"""Raw readings as Firehose lands them: JSON lines under ``YYYY/MM/DD/HH/`` by arrival hour.

Objects are read whatever their names (Firehose writes them without an extension); names that
start with ``.`` or ``_`` are temporary or marker files and skipped. A reading arrives in the
hour it happened or, buffered, in the next one; so a chunk of days reads its own hour folders
plus the first hour after it, and keeps the readings that happened inside the chunk. A reading
whose event time is in neither its folder's hour nor the hour before is rejected: no chunk would
otherwise be sure to see it.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta, timezone
from pathlib import PurePosixPath
from urllib.parse import urlparse

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from job_helpers.sensors.readings import FRAME_SCHEMA, READING_SCHEMA, reject_reason
from job_helpers.storage import Storage, join

log = logging.getLogger(__name__)

CORRUPT = "_corrupt_record"
_FOLDER = r"/(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/]+$"


def hour_prefix(raw_url: str, hour: datetime) -> str:
    """The folder of one arrival hour, e.g. ``<raw>/2024/03/01/07/``."""
    return join(raw_url, f"{hour:%Y/%m/%d/%H}/")


def chunk_hours(first: date, last: date) -> list[datetime]:
    """The arrival hours a chunk reads: every hour of its days and the first hour after them."""
    start = datetime.combine(first, time(), timezone.utc)
    count = ((last - first).days + 1) * 24 + 1
    return [start + timedelta(hours=n) for n in range(count)]


def list_raw_files(storage: Storage, raw_url: str, first: date, last: date) -> list[str]:
    """Every raw object a chunk reads, in URL order."""
    files = []
    for hour in chunk_hours(first, last):
        for stored in storage.list(hour_prefix(raw_url, hour)):
            name = PurePosixPath(urlparse(stored.url).path).name
            if not name.startswith((".", "_")) and stored.size > 0:
                files.append(stored.url)
    log.info("%d raw file(s) under %s for %s..%s", len(files), raw_url, first, last)
    return files


def read_raw(spark: SparkSession, files: list[str]) -> DataFrame:
    """Parse raw JSON lines into readings with a ``reason`` for each one that cannot be used.

    Columns as ``FRAME_SCHEMA``: ``record`` is the line itself for malformed JSON and the parsed
    fields as JSON for other rejects; ``arrival`` is the epoch second of the folder's hour.
    Spark's own JSON reader parses each line once (``from_json`` over text lines would be
    re-evaluated by every filter the optimizer pushes down).
    """
    schema = StructType([*READING_SCHEMA.fields, StructField(CORRUPT, StringType())])
    if not files:
        return spark.createDataFrame([], FRAME_SCHEMA)
    raw = (
        spark.read.schema(schema)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT)
        .json(files)
    )
    source = F.col("_metadata.file_path")
    folder = [F.regexp_extract(source, _FOLDER, group).cast("int") for group in (1, 2, 3, 4)]
    readings = raw.select(
        *READING_SCHEMA.fieldNames(),
        CORRUPT,
        source.alias("source"),
        (F.unix_date(F.make_date(*folder[:3])).cast("long") * 86400 + folder[3] * 3600).alias("arrival"),
    )
    late = (F.col("event_time") < (F.col("arrival") - 3600) * 1000) | (
        F.col("event_time") >= (F.col("arrival") + 3600) * 1000
    )
    reason = F.when(F.col(CORRUPT).isNotNull(), F.lit("malformed JSON, or a field of the wrong type")).otherwise(
        reject_reason(
            F.when(late, F.lit("event_time is outside its folder's hour and the hour before (over an hour late, or early)"))
        )
    )
    record = F.when(reason.isNotNull(), F.coalesce(F.col(CORRUPT), F.to_json(F.struct(*READING_SCHEMA.fieldNames()))))
    return readings.select(
        *READING_SCHEMA.fieldNames(), "source", record.alias("record"), reason.alias("reason"), "arrival"
    )
