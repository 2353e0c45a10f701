"""The STEDI transforms as pure functions of DataFrames: no reading, writing or config here.

Landing lines are parsed one at a time, so a bad line becomes a reject instead of a failure;
the five jobs' own transforms follow.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from job_helpers.stedi.schemas import (
    ACCELEROMETER_LANDING,
    ACCELEROMETER_TRUSTED,
    CUSTOMER_LANDING,
    PARTITION_COLUMN,
    STEP_TRAINER_LANDING,
    STEP_TRAINER_TRUSTED,
)
from job_helpers.stedi.settings import ML_JOINS

MS_PER_DAY = 86_400_000
CORRUPT = "_corrupt_record"
MALFORMED = "malformed JSON"


def classify_landing(lines: DataFrame, schema: StructType, keys: tuple[str, ...]) -> DataFrame:
    """Each landing line (``value``, ``source_file``) parsed into ``r`` with why it is rejected (``reason``, null for a record).

    Blank lines are not records and are skipped. A line that is not a JSON object, or whose fields
    do not fit the schema, is rejected as malformed; one without a key field names the missing
    fields. Nothing else is dropped.
    """
    parse_schema = StructType([*schema.fields, StructField(CORRUPT, StringType(), True)])
    options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": CORRUPT}
    parsed = lines.where(F.trim("value") != "").select(
        "source_file", "value", F.from_json("value", parse_schema, options).alias("r")
    )
    return parsed.withColumn("reason", _reason(keys))


def split_landing(classified: DataFrame, schema: StructType) -> tuple[DataFrame, DataFrame]:
    """Classified lines as records of ``schema`` and rejects (source_file, reason, record)."""
    records = classified.where(F.col("reason").isNull()).select(*[F.col(f"r.{f.name}").alias(f.name) for f in schema.fields])
    rejects = classified.where(F.col("reason").isNotNull()).select("source_file", "reason", F.col("value").alias("record"))
    return records, rejects


def _reason(keys: tuple[str, ...]) -> Column:
    missing = F.concat_ws(", ", *[F.when(F.col(f"r.{key}").isNull(), F.lit(key)) for key in keys])
    return F.when(F.col("r").isNull() | F.col(f"r.{CORRUPT}").isNotNull(), F.lit(MALFORMED)).when(
        missing != "", F.concat(F.lit("missing key field: "), missing)
    )


def reading_date(ms_column: str) -> F.Column:
    """The UTC date of an epoch-millisecond column, whatever the session time zone."""
    return F.expr(f"date_from_unix_date(CAST(floor(`{ms_column}` / {MS_PER_DAY}) AS INT))")


def email_key(column: str) -> F.Column:
    """An email as a key: trimmed and lower-cased, so one customer's casings compare equal."""
    return F.lower(F.trim(F.col(column)))


def in_dates(readings: DataFrame, first: date | None, last: date | None) -> DataFrame:
    """Readings dated first..last inclusive; all of them when no range is given."""
    if first is None or last is None:
        return readings
    return readings.where(F.col(PARTITION_COLUMN).between(F.lit(first), F.lit(last)))


def customer_trusted(customers: DataFrame) -> DataFrame:
    """Customers who agreed to share their data for research (consent date present)."""
    return customers.where(F.col("shareWithResearchAsOfDate").isNotNull()).select(*CUSTOMER_LANDING.fieldNames())


def without_consent(customers: DataFrame) -> DataFrame:
    """The customers ``customer_trusted`` leaves out: no consent date."""
    return customers.where(F.col("shareWithResearchAsOfDate").isNull())


def accelerometer_untrusted(readings: DataFrame, trusted_customers: DataFrame) -> DataFrame:
    """The readings ``accelerometer_trusted`` leaves out: their user is no trusted customer."""
    emails = trusted_customers.select(email_key("email").alias("_key")).distinct()
    return readings.withColumn("_key", email_key("user")).join(emails, "_key", "left_anti")


def accelerometer_trusted(readings: DataFrame, trusted_customers: DataFrame) -> DataFrame:
    """Accelerometer readings of trusted customers (emails compared as keys), accelerometer fields only, dated."""
    emails = trusted_customers.select(email_key("email").alias("_key")).distinct()
    return (
        readings.withColumn("_key", email_key("user"))
        .join(emails, "_key", "left_semi")
        .withColumn("readingTime", F.timestamp_millis("timestamp"))
        .withColumn(PARTITION_COLUMN, reading_date("timestamp"))
        .select(*ACCELEROMETER_TRUSTED.fieldNames())
    )


def latest_per_customer(customers: DataFrame) -> DataFrame:
    """One row per email key: the most recently updated record, ties broken on every other field."""
    order = [F.col("lastUpdateDate").desc_nulls_last(), F.col("registrationDate").desc_nulls_last()]
    order += [F.col(name).asc_nulls_last() for name in CUSTOMER_LANDING.fieldNames() if name != "email"]
    ranked = customers.withColumn("_rank", F.row_number().over(Window.partitionBy(email_key("email")).orderBy(*order)))
    return ranked.where(F.col("_rank") == 1).drop("_rank")


def customer_curated(trusted_customers: DataFrame, trusted_readings: DataFrame) -> DataFrame:
    """Trusted customers with at least one trusted accelerometer reading, one row per customer."""
    users = trusted_readings.select(email_key("user").alias("_key")).distinct()
    with_readings = trusted_customers.withColumn("_key", email_key("email")).join(users, "_key", "left_semi")
    return latest_per_customer(with_readings).select(*CUSTOMER_LANDING.fieldNames())


def curated_drops(trusted_customers: DataFrame, trusted_readings: DataFrame) -> DataFrame:
    """What ``customer_curated`` leaves out, as one row of counts: ``without_readings`` (customers
    with no reading) and ``older_duplicates`` (every record of an email key but the one kept)."""
    users = trusted_readings.select(email_key("user").alias("_key")).distinct().withColumn("_reads", F.lit(True))
    per_key = (
        trusted_customers.withColumn("_key", email_key("email"))
        .join(users, "_key", "left")
        .groupBy("_key")
        .agg(F.count(F.lit(1)).alias("n"), F.max(F.col("_reads").isNotNull()).alias("reads"))
    )
    return per_key.agg(
        F.coalesce(F.sum(F.when(~F.col("reads"), F.col("n")).otherwise(0)), F.lit(0)).alias("without_readings"),
        F.coalesce(F.sum(F.when(F.col("reads"), F.col("n") - 1).otherwise(0)), F.lit(0)).alias("older_duplicates"),
    )


def step_trainer_untrusted(readings: DataFrame, curated_customers: DataFrame) -> DataFrame:
    """The readings ``step_trainer_trusted`` leaves out: their device belongs to no curated customer."""
    return readings.join(curated_customers.select("serialNumber").distinct(), "serialNumber", "left_anti")


def step_trainer_trusted(readings: DataFrame, curated_customers: DataFrame) -> DataFrame:
    """Step-trainer readings of devices that belong to a curated customer, dated."""
    devices = curated_customers.select("serialNumber").distinct()
    return (
        readings.join(devices, "serialNumber", "left_semi")
        .withColumn("sensorReadingTimestamp", F.timestamp_millis("sensorReadingTime"))
        .withColumn(PARTITION_COLUMN, reading_date("sensorReadingTime"))
        .select(*STEP_TRAINER_TRUSTED.fieldNames())
    )


def machine_learning_curated(
    step_readings: DataFrame,
    accelerometer_readings: DataFrame,
    owners: DataFrame,
    owner_column: str,
    join: str = ML_JOINS[0],
) -> DataFrame:
    """Step-trainer readings joined to accelerometer readings taken at the same instant.

    The join is ``sensorReadingTime = timestamp`` between readings of the same customer: the
    device's owner (``owners``: serialNumber, ``owner_column``) is the accelerometer's user. Without
    that condition a step-trainer reading would also pair with other customers' phones that
    happened to record at the same millisecond. Owners compare as email keys (pseudonyms are
    lower-case hex already, so the same comparison serves both). ``join="time-only"`` drops the
    owner condition: the course rubric's join, kept to reproduce its published count.
    """
    if join not in ML_JOINS:
        raise ValueError(f"join {join!r} is not one of {', '.join(ML_JOINS)}")
    step_fields = [*STEP_TRAINER_LANDING.fieldNames(), "sensorReadingTimestamp"]
    accel_fields = [owner_column, *[n for n in ACCELEROMETER_LANDING.fieldNames() if n != "user"]]
    step = step_readings.join(owners.select("serialNumber", owner_column), "serialNumber")
    accel = accelerometer_readings.select(
        *[F.col(name).alias(f"_a_{name}") for name in accel_fields], F.col(PARTITION_COLUMN).alias("_a_date")
    )
    condition = step["sensorReadingTime"] == accel["_a_timestamp"]
    if join == "owner-and-time":
        condition &= F.lower(F.trim(step[owner_column])) == F.lower(F.trim(accel[f"_a_{owner_column}"]))
    joined = step.join(accel, condition)
    return joined.select(
        *[step[name] for name in step_fields],
        *[joined[f"_a_{name}"].alias(name) for name in accel_fields],
        step[PARTITION_COLUMN],
    )


def paired_step_readings(machine_learning: DataFrame) -> DataFrame:
    """The step-trainer readings the ML table holds, each once (one may pair with several accelerometer readings)."""
    return machine_learning.select("serialNumber", "sensorReadingTime").distinct()


def unmatched_step_readings(step_readings: DataFrame, machine_learning: DataFrame) -> DataFrame:
    """Step-trainer readings that no accelerometer reading paired with (the ML table's exclusions)."""
    return step_readings.join(paired_step_readings(machine_learning), ["serialNumber", "sensorReadingTime"], "left_anti")
