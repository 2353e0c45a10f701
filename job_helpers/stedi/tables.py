"""Reading and atomically publishing STEDI tables through Hadoop's FileSystem (file:// and s3://).

A write goes to a hidden sibling folder first (``.staging-<leaf>-<id>``, outside the table's
prefix, so neither Athena nor Spark sees it) and is then committed by renames:

* a whole-table write replaces the table folder: old folder renamed aside, new one renamed in,
  old one deleted;
* a date-ranged write replaces exactly the ``reading_date=…`` partitions of the range (dynamic
  partition overwrite), deleting a partition of the range that now has no rows.

Locally a rename is atomic; on S3 Hadoop copies then deletes, so the window is the copy of one
folder, never a half-written file, and a failed write leaves the published table untouched.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date, timedelta
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType
from pyspark.sql.utils import AnalysisException

from job_helpers.stedi.errors import StediError
from job_helpers.stedi.schemas import PARTITION_COLUMN

log = logging.getLogger(__name__)

FORMATS = ("parquet", "json")


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


def publish(
    frame: DataFrame,
    url: str,
    fmt: str,
    *,
    partitioned: bool = False,
    first: date | None = None,
    last: date | None = None,
) -> None:
    """Write ``frame`` aside, then commit it at ``url``: the whole table, or the dates first..last."""
    if fmt not in FORMATS:
        raise TableError(f"output format {fmt!r} is not one of {', '.join(FORMATS)}")
    spark = frame.sparkSession
    staging = _sibling(url, f".staging-{_leaf(url)}-{uuid.uuid4().hex}")
    writer = frame.write.mode("errorifexists").format(fmt)
    if partitioned:
        writer = writer.partitionBy(PARTITION_COLUMN)
    writer.save(staging)
    fs = _filesystem(spark, url)
    try:
        if first is None or last is None:
            _swap(spark, fs, staging, url)
        else:
            day = first
            while day <= last:
                partition = f"{PARTITION_COLUMN}={day.isoformat()}/"
                _swap(spark, fs, staging + partition, url + partition)
                day += timedelta(days=1)
    finally:
        fs.delete(_path(spark, staging), True)
    log.info("published %s (%s)", url, "whole table" if first is None else f"{first}..{last}")


def _swap(spark: SparkSession, fs: Any, new: str, target: str) -> None:
    """Replace ``target`` by ``new`` (which may be absent: the target is then removed)."""
    target_path = _path(spark, target)
    trash = None
    if fs.exists(target_path):
        trash = _path(spark, _sibling(target, f".trash-{_leaf(target)}-{uuid.uuid4().hex}"))
        if not fs.rename(target_path, trash):
            raise TableError(f"{target}: could not move the old version aside; check write access")
    new_path = _path(spark, new)
    if fs.exists(new_path):
        fs.mkdirs(target_path.getParent())
        if not fs.rename(new_path, target_path):
            if trash is not None:
                fs.rename(trash, target_path)
            raise TableError(f"{target}: could not move the new version in; the old one is kept")
    if trash is not None:
        fs.delete(trash, True)


def _leaf(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def _sibling(url: str, name: str) -> str:
    parent, _, leaf = url.rstrip("/").rpartition("/")
    if not leaf or parent.endswith(":/") or parent.endswith(":"):
        raise TableError(f"{url}: a table needs its own folder below the bucket or lake root")
    return f"{parent}/{name}/"


def _path(spark: SparkSession, url: str) -> Any:
    return spark._jvm.org.apache.hadoop.fs.Path(url)


def _filesystem(spark: SparkSession, url: str) -> Any:
    return _path(spark, url).getFileSystem(spark._jsc.hadoopConfiguration())
