"""Reading the STEDI inputs: landing JSON lines (parsed into records and rejects) and published tables.

Landing files are read as text, so each line keeps its raw form and its source file for the
rejects location; ``transform.classify_landing`` does the parsing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType
from pyspark.sql.utils import AnalysisException

from job_helpers.job_failed import JobFailed
from job_helpers.stedi.schemas import PARTITION_COLUMN
from job_helpers.stedi.transform import classify_landing, in_dates, reading_date, split_landing


@dataclass(frozen=True)
class Landing:
    """A landing folder parsed: the records (of the run's dates), the rejects, and what was counted.

    ``kept`` counts the records of the run's dates; ``lines`` every non-blank line; ``rejected``
    the rejects by reason.
    """

    records: DataFrame
    rejects: DataFrame
    kept: int
    lines: int
    rejected: dict[str, int]

    @property
    def read(self) -> int:
        """The records of the run's dates plus every reject: what the run took in."""
        return self.kept + sum(self.rejected.values())


def read_lines(spark: SparkSession, url: str) -> DataFrame:
    """Every line of every file under ``url`` with the file it came from (``value``, ``source_file``)."""
    return spark.read.text(url).select("value", F.input_file_name().alias("source_file"))


def landing(
    spark: SparkSession,
    url: str,
    schema: StructType,
    keys: tuple[str, ...],
    days: tuple[date, date] | None = None,
    date_column: str | None = None,
) -> Landing:
    """Read, parse and count a landing folder; with ``days`` and ``date_column`` keep the records of those dates.

    Rejects have no trustworthy date, so every run counts all of them; the reject share is taken
    over every line read, so a one-day run is not failed by bad lines of other days.
    """
    # One parse, cached: every count below and both outputs come from it.
    classified = classify_landing(read_lines(spark, url), schema, keys).cache()
    counts = {row["reason"]: row["count"] for row in classified.groupBy("reason").count().collect()}
    records_in_folder = counts.pop(None, 0)
    rejected = dict(sorted(counts.items()))
    records, rejects = split_landing(classified, schema)
    kept = records_in_folder
    if date_column is not None and days is not None:
        records = in_dates(records.withColumn(PARTITION_COLUMN, reading_date(date_column)), *days)
        kept = records.count()
    return Landing(records, rejects, kept, records_in_folder + sum(rejected.values()), rejected)


def read_table(spark: SparkSession, url: str, fmt: str, schema: StructType, produced_by: str) -> DataFrame:
    """A published table with its declared schema; a clear error naming the job when it is missing."""
    if not _filesystem(spark, url).exists(_path(spark, url)):
        raise JobFailed(f"{url}: no table there yet; run {produced_by} first")
    try:
        return spark.read.schema(schema).format(fmt).load(url)
    except AnalysisException as error:
        raise JobFailed(f"{url}: cannot read it as {fmt}: {error}") from error


def _path(spark: SparkSession, url: str) -> Any:
    jvm: Any = spark._jvm
    return jvm.org.apache.hadoop.fs.Path(url)


def _filesystem(spark: SparkSession, url: str) -> Any:
    return _path(spark, url).getFileSystem(spark._jsc.hadoopConfiguration())
