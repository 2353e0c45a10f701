"""Reading the STEDI inputs: landing JSON lines (parsed into records and rejects) and published tables.

Landing files are read as text, so each line keeps its raw form and its source file for the
rejects location; ``transform.classify_landing`` does the parsing, and the write of the run's
table counts the lines on the way (``observed.Counts``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType
from pyspark.sql.utils import AnalysisException

from job_helpers.job_failed import JobFailed
from job_helpers.publish import has_published
from job_helpers.stedi.observed import Counts
from job_helpers.stedi.schemas import PARTITION_COLUMN
from job_helpers.stedi.transform import (
    classify_landing,
    in_dates,
    reading_date,
    reject_reasons,
    split_landing,
    utc_date,
)
from job_helpers.storage import Storage


@dataclass(frozen=True)
class Landing:
    """A landing folder parsed: the records (of the run's dates), the rejects, and their counts.

    The counts (``lines``: every non-blank line; ``kept``: the records of the run's dates;
    ``rejected``: the rejects by reason) are observed by the first action that reads the landing,
    the write of the run's table: read them after it. ``parsed`` is the cached parse both frames
    come from; ``release`` frees it.
    """

    records: DataFrame
    rejects: DataFrame
    counts: Counts
    parsed: DataFrame

    @property
    def lines(self) -> int:
        return self.counts["lines"]

    @property
    def kept(self) -> int:
        return self.counts["kept"]

    @property
    def rejected(self) -> dict[str, int]:
        """The rejects by reason (reasons with none left out)."""
        counted = self.counts.as_dict()
        return {reason: counted[reason] for reason in sorted(counted) if reason not in ("lines", "kept") and counted[reason]}

    @property
    def read(self) -> int:
        """The records of the run's dates plus every reject: what the run took in."""
        return self.kept + sum(self.rejected.values())

    def release(self) -> None:
        self.parsed.unpersist()


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
    """Read and parse a landing folder, counting it on the way; with ``days`` and ``date_column`` keep the
    records of those dates.

    Rejects have no trustworthy date, so every run counts all of them; the reject share is taken
    over every line read, so a one-day run is not failed by bad lines of other days. The parse is
    cached: each partition is parsed whole, so the counts cover every line even when a rule
    downstream stops reading early, and the rejects are written from it without parsing again.
    """
    classified = classify_landing(read_lines(spark, url), schema, keys)
    record = F.col("reason").isNull()
    dated = date_column is not None and days is not None
    in_run = record & utc_date(F.col(f"r.{date_column}")).between(*days) if dated else record  # type: ignore[misc]
    reasons = {reason: F.col("reason") == reason for reason in reject_reasons(keys)}
    counts = Counts(classified, lines=F.lit(True), kept=in_run, **reasons)
    parsed = counts.frame.cache()
    records, rejects = split_landing(parsed, schema)
    if dated:
        records = in_dates(records.withColumn(PARTITION_COLUMN, reading_date(date_column)), *days)  # type: ignore[arg-type,misc]
    return Landing(records, rejects, counts, parsed)


def read_table(spark: SparkSession, storage: Storage, url: str, fmt: str, schema: StructType, produced_by: str) -> DataFrame:
    """A published table with its declared schema; a clear error naming the job when none was published there
    (a failed first run of that job leaves its staging folder, which is no table)."""
    if not has_published(storage, url):
        raise JobFailed(f"{url}: no table there yet; run {produced_by} first")
    try:
        return spark.read.schema(schema).format(fmt).load(url)
    except AnalysisException as error:
        raise JobFailed(f"{url}: cannot read it as {fmt}: {error}") from error
