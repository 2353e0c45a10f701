"""Readings from an Amazon Timestream table through the Query API, shaped like the raw source.

The table is expected in the load generator's multi-measure form: dimension ``sensor_id`` and
measures ``temperature`` (DOUBLE) and ``status`` (VARCHAR). A chunk is queried one hour at a
time so each query stays small; every query is paginated with ``NextToken`` (the paginator also
handles the empty first pages Timestream returns while a query runs), and throttling is left to
botocore's adaptive retry mode rather than sleeps of our own.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Iterator

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from job_helpers.sensors.readings import reject_reason

log = logging.getLogger(__name__)

COLUMNS = ("sensor_id", "temperature", "status", "event_time")
QUERY = (
    'SELECT sensor_id, temperature, status, to_milliseconds(time) AS event_time FROM "{database}"."{table}" '
    "WHERE time >= from_milliseconds({start}) AND time < from_milliseconds({end})"
)


class TimestreamError(Exception):
    """A query's answer is not what the export expects; the message names the query and the fix."""


def timestream_client(boto3_session: Any = None) -> Any:
    """A Timestream query client that backs off on throttling by itself (adaptive retries)."""
    import boto3
    from botocore.config import Config

    session = boto3_session or boto3.Session()
    return session.client("timestream-query", config=Config(retries={"mode": "adaptive", "max_attempts": 10}))


def hour_queries(database: str, table: str, first: date, last: date) -> list[str]:
    """One query per UTC hour of the chunk, in time order."""
    start = datetime.combine(first, time(), timezone.utc)
    hours = ((last - first).days + 1) * 24
    queries = []
    for n in range(hours):
        begin = start + timedelta(hours=n)
        end = begin + timedelta(hours=1)
        queries.append(
            QUERY.format(database=database, table=table, start=_ms(begin), end=_ms(end))
        )
    return queries


def query_rows(client: Any, query: str) -> Iterator[tuple[str | None, ...]]:
    """Every row of one query as strings in ``COLUMNS`` order, following NextToken to the end."""
    for page in client.get_paginator("query").paginate(QueryString=query):
        names = [column["Name"] for column in page.get("ColumnInfo", [])]
        missing = [name for name in COLUMNS if name not in names]
        if page.get("Rows") and missing:
            raise TimestreamError(
                f"query {page.get('QueryId', '?')} has no column(s) {', '.join(missing)}; the table needs "
                "dimension sensor_id and measures temperature and status (see job_helpers/sensors/timestream.py)"
            )
        positions = [names.index(name) for name in COLUMNS] if not missing else []
        for row in page.get("Rows", []):
            data = row["Data"]
            yield tuple(_scalar(data[position]) for position in positions)


def read_timestream(spark: SparkSession, client: Any, database: str, table: str, first: date, last: date) -> DataFrame:
    """The chunk's readings from Timestream, with the same columns and checks as the raw source."""
    rows: list[tuple[str | None, ...]] = []
    for query in hour_queries(database, table, first, last):
        rows.extend(query_rows(client, query))
    log.info("%d reading(s) from Timestream %s.%s for %s..%s", len(rows), database, table, first, last)
    text = spark.createDataFrame(rows, StructType([StructField(name, StringType()) for name in COLUMNS]))
    readings = text.select(
        "sensor_id",
        F.col("temperature").cast("double").alias("temperature"),
        "status",
        F.col("event_time").cast("long").alias("event_time"),
        F.lit(f"timestream:{database}.{table}").alias("source"),
        F.to_json(F.struct(*COLUMNS)).alias("text"),
    )
    reason = reject_reason()
    return readings.select(
        "sensor_id",
        "temperature",
        "status",
        "event_time",
        "source",
        F.when(reason.isNotNull(), F.col("text")).alias("record"),
        reason.alias("reason"),
        F.coalesce(F.floor(F.col("event_time") / 1000), F.lit(_ms(datetime.combine(first, time(), timezone.utc)) // 1000))
        .cast("long")
        .alias("arrival"),
    )


def _scalar(datum: dict) -> str | None:
    if datum.get("NullValue"):
        return None
    if "ScalarValue" not in datum:
        raise TimestreamError(f"expected a scalar value, got {json.dumps(datum)[:200]}; select scalar columns only")
    return datum["ScalarValue"]


def _ms(moment: datetime) -> int:
    return int(moment.timestamp()) * 1000
