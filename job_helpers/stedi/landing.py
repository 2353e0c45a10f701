"""Landing JSON lines parsed one line at a time, so a bad line becomes a reject instead of a failure.

Reading the files as text keeps the raw line and its source file for the rejects location; the
parse itself is a pure DataFrame transform that the tests drive with hand-made lines.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

CORRUPT = "_corrupt_record"
MALFORMED = "malformed JSON"


def read_lines(spark: SparkSession, url: str) -> DataFrame:
    """Every line of every file under ``url`` with the file it came from (``value``, ``source_file``)."""
    return spark.read.text(url).select("value", F.input_file_name().alias("source_file"))


def parse_landing(lines: DataFrame, schema: StructType, keys: tuple[str, ...]) -> tuple[DataFrame, DataFrame]:
    """Split landing lines into records of ``schema`` and rejects (source_file, reason, record).

    Blank lines are not records and are skipped. A line that is not a JSON object, or whose fields
    do not fit the schema, is rejected as malformed; one without a key field names the missing
    fields. Nothing else is dropped.
    """
    parse_schema = StructType([*schema.fields, StructField(CORRUPT, StringType(), True)])
    options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT}
    parsed = lines.where(F.trim("value") != "").select(
        "source_file", "value", F.from_json("value", parse_schema, options).alias("r")
    )
    parsed = parsed.withColumn("reason", _reason(keys))
    records = parsed.where(F.col("reason").isNull()).select(*[F.col(f"r.{f.name}").alias(f.name) for f in schema.fields])
    rejects = parsed.where(F.col("reason").isNotNull()).select("source_file", "reason", F.col("value").alias("record"))
    return records, rejects


def _reason(keys: tuple[str, ...]) -> Column:
    missing = F.concat_ws(", ", *[F.when(F.col(f"r.{key}").isNull(), F.lit(key)) for key in keys])
    return F.when(F.col("r").isNull() | F.col(f"r.{CORRUPT}").isNotNull(), F.lit(MALFORMED)).when(
        missing != "", F.concat(F.lit("missing key field: "), missing)
    )
