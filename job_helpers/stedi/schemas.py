"""Schemas of every STEDI table, declared once so reads never depend on inference.

Landing field names keep the case of the data. Readings tables add a proper timestamp beside the
epoch-millisecond one and the ``reading_date`` partition column.
"""

from __future__ import annotations

from pyspark.sql.types import (
    DataType,
    DateType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

# JSON tables carry timestamps in the java.sql.Timestamp form: Athena's JSON SerDes read it, and so
# does the local engine's JSON table (Spark's default ISO form with "T" and a zone reads back NULL there).
JSON_TIMESTAMP_FORMAT = "yyyy-MM-dd HH:mm:ss.SSS"
PARTITION_COLUMN = "reading_date"
PSEUDONYM_COLUMN = "customerPseudonym"
# Direct identifiers that curated tables never carry while pseudonymisation is on.
IDENTIFIER_COLUMNS = ("customerName", "email", "phone", "birthDay", "user")


def _struct(*fields: tuple[str, DataType]) -> StructType:
    return StructType([StructField(name, kind, True) for name, kind in fields])


CUSTOMER_LANDING = _struct(
    ("customerName", StringType()),
    ("email", StringType()),
    ("phone", StringType()),
    ("birthDay", StringType()),
    ("serialNumber", StringType()),
    ("registrationDate", LongType()),
    ("lastUpdateDate", LongType()),
    ("shareWithResearchAsOfDate", LongType()),
    ("shareWithPublicAsOfDate", LongType()),
    ("shareWithFriendsAsOfDate", LongType()),
)
ACCELEROMETER_LANDING = _struct(
    ("user", StringType()), ("timestamp", LongType()), ("x", DoubleType()), ("y", DoubleType()), ("z", DoubleType())
)
STEP_TRAINER_LANDING = _struct(
    ("sensorReadingTime", LongType()), ("serialNumber", StringType()), ("distanceFromObject", IntegerType())
)

# Fields a landing record cannot do without: without them it cannot be joined or dated.
CUSTOMER_KEYS = ("email", "serialNumber")
ACCELEROMETER_KEYS = ("user", "timestamp")
STEP_TRAINER_KEYS = ("sensorReadingTime", "serialNumber")

CUSTOMER_TRUSTED = CUSTOMER_LANDING
ACCELEROMETER_TRUSTED = _struct(
    *[(f.name, f.dataType) for f in ACCELEROMETER_LANDING.fields],
    ("readingTime", TimestampType()),
    (PARTITION_COLUMN, DateType()),
)
STEP_TRAINER_TRUSTED = _struct(
    *[(f.name, f.dataType) for f in STEP_TRAINER_LANDING.fields],
    ("sensorReadingTimestamp", TimestampType()),
    (PARTITION_COLUMN, DateType()),
)

# What the step-trainer job needs of curated customers: their devices.
DEVICES = _struct(("serialNumber", StringType()))


def owners_schema(owner_column: str) -> StructType:
    """Curated customers as the ML job reads them: each device and its owner (email or pseudonym)."""
    return _struct(("serialNumber", StringType()), (owner_column, StringType()))


def curated_customer_schema(pseudonymise: bool) -> StructType:
    """Curated customers: the trusted fields, minus direct identifiers when pseudonymised."""
    if not pseudonymise:
        return CUSTOMER_TRUSTED
    kept = [f for f in CUSTOMER_TRUSTED.fields if f.name not in IDENTIFIER_COLUMNS]
    return StructType([StructField(PSEUDONYM_COLUMN, StringType(), True), *kept])


def machine_learning_schema(pseudonymise: bool) -> StructType:
    """The ML table: step-trainer fields, then the accelerometer's (its user pseudonymised or not)."""
    step = [f for f in STEP_TRAINER_TRUSTED.fields if f.name != PARTITION_COLUMN]
    owner = StructField(PSEUDONYM_COLUMN if pseudonymise else "user", StringType(), True)
    accel = [f for f in ACCELEROMETER_LANDING.fields if f.name != "user"]
    return StructType([*step, owner, *accel, StructField(PARTITION_COLUMN, DateType(), True)])
