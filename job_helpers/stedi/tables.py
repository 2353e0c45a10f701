"""Reading STEDI tables, and publishing them through ``job_helpers.publish`` (file:// and s3://).

Spark writes a run's table under ``<table>/_staging/<run id>/`` (readers skip ``_`` folders);
``publish`` then moves the files into place and deletes what the run's partitions no longer hold:
the whole table, or the ``reading_date=…`` partitions of a date range (a date of the range without
rows is emptied). Spark's part files carry a random id, so a rerun, even after a run killed while
publishing, deletes every file of those partitions that is not its own: one copy is left.
A reader sees old or new files of a partition throughout, never neither.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType
from pyspark.sql.utils import AnalysisException

from job_helpers.publish import PublishError, ShrinkGuard, discard_staging, new_run_id, publish, staging_url
from job_helpers.stedi.errors import StediError
from job_helpers.stedi.report import scope_name
from job_helpers.stedi.schemas import PARTITION_COLUMN
from job_helpers.storage import Storage

log = logging.getLogger(__name__)

FORMATS = ("parquet", "json")
OLD_LAYOUT = (".staging-", ".trash-")


class TableError(StediError):
    """A table could not be read or published; the message names its location."""


def read_table(spark: SparkSession, url: str, fmt: str, schema: StructType, produced_by: str) -> DataFrame:
    """A published table with its declared schema; a clear error naming the job when it is missing."""
    if not _filesystem(spark, url).exists(_path(spark, url)):
        raise TableError(f"{url}: no table there yet; run {produced_by} first")
    try:
        return spark.read.schema(schema).format(fmt).load(url)
    except AnalysisException as error:
        raise TableError(f"{url}: cannot read it as {fmt}: {error}") from error


def publish_table(
    frame: DataFrame,
    storage: Storage,
    url: str,
    fmt: str,
    *,
    partitioned: bool = False,
    first: date | None = None,
    last: date | None = None,
    shrink_guard: ShrinkGuard | None = None,
) -> None:
    """Write ``frame`` aside, then publish it at ``url``: the whole table, or the dates first..last."""
    if fmt not in FORMATS:
        raise TableError(f"output format {fmt!r} is not one of {', '.join(FORMATS)}")
    days = _days(first, last) if partitioned and first is not None and last is not None else None
    ranged = days is not None
    run_id = new_run_id(scope_name(first, last) if ranged else "all")
    staging = staging_url(url, run_id)
    remove_old_layout(storage, url)
    try:
        writer = frame.write.mode("errorifexists").format(fmt)
        if partitioned:
            writer = writer.partitionBy(PARTITION_COLUMN)
        writer.save(staging)
        owned = [f"{PARTITION_COLUMN}={day.isoformat()}/" for day in days] if days is not None else [""]
        publish(storage, url, run_id, staged_files(storage, staging), owned, shrink_guard=shrink_guard)
    except PublishError as error:
        raise TableError(str(error)) from error
    finally:
        discard_staging(storage, url, run_id)
    log.info("published %s (%s)", url, f"{first}..{last}" if ranged else "whole table")


def staged_files(storage: Storage, staging: str) -> dict[str, set[str]]:
    """The data files Spark wrote under ``staging`` by folder; its markers and checksums (``_*``, ``.*``) left out."""
    staged: dict[str, set[str]] = {}
    for stored in storage.list(staging):
        folder, _, name = stored.url[len(staging) :].rpartition("/")
        if not name.startswith(("_", ".")):
            staged.setdefault(folder, set()).add(name)
    return staged


def remove_old_layout(storage: Storage, url: str) -> None:
    """Delete the ``.staging-<table>-*`` and ``.trash-<table>-*`` siblings earlier versions left after a crash
    (a trash folder may hold a whole old table, PII included)."""
    parent, _, leaf = url.rstrip("/").rpartition("/")
    if not leaf or parent.endswith(":") or parent.endswith(":/"):
        return  # a table at the root of a bucket had no siblings
    for kind in OLD_LAYOUT:
        count = storage.delete_prefix(f"{parent}/{kind}{leaf}-")
        if count:
            log.warning(
                "removed %d file(s) of %s/%s%s-* left by an interrupted run of an earlier version", count, parent, kind, leaf
            )


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _path(spark: SparkSession, url: str) -> Any:
    jvm: Any = spark._jvm
    return jvm.org.apache.hadoop.fs.Path(url)


def _filesystem(spark: SparkSession, url: str) -> Any:
    return _path(spark, url).getFileSystem(spark._jsc.hadoopConfiguration())
