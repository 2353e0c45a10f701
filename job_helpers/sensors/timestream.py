"""The Amazon Timestream Query API pieces: the client, one query per hour, its pages as rows shaped like raw readings.

The table is expected in the load generator's multi-measure form: dimension ``sensor_id`` and
measures ``temperature`` (DOUBLE) and ``status`` (VARCHAR). A chunk is queried one hour at a
time so each query stays small; every query is paginated with ``NextToken`` (the paginator also
handles the empty first pages Timestream returns while a query runs), and throttling is left to
botocore's adaptive retry mode rather than sleeps of our own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pyarrow as pa

from job_helpers.aws import client
from job_helpers.sensors.transform import READING_SCHEMA

COLUMNS = ("sensor_id", "temperature", "status", "event_time")
QUERY = (
    'SELECT sensor_id, temperature, status, to_milliseconds(time) AS event_time FROM "{database}"."{table}" '
    "WHERE time >= from_milliseconds({start}) AND time < from_milliseconds({end})"
)


class TimestreamError(Exception):
    """A query's answer is not what the export expects; the message names the query and the fix."""


def timestream_client(boto3_session: Any = None) -> Any:
    """A Timestream query client that backs off on throttling by itself (adaptive retries)."""
    return client("timestream-query", boto3_session)


def hour_queries(database: str, table: str, first: date, last: date) -> list[str]:
    """One query per UTC hour of the chunk, in time order."""
    start = datetime.combine(first, time(), UTC)
    hours = ((last - first).days + 1) * 24
    queries = []
    for n in range(hours):
        begin = start + timedelta(hours=n)
        end = begin + timedelta(hours=1)
        queries.append(QUERY.format(database=database, table=table, start=_ms(begin), end=_ms(end)))
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


def readings_table(rows: Iterable[tuple[str | None, ...]]) -> pa.Table:
    """Rows as ``query_rows`` yields them, typed like raw readings; a value that is not a number becomes null."""
    return pa.Table.from_pylist(
        [
            {
                "sensor_id": sensor_id,
                "temperature": _number(temperature, float),
                "status": status,
                "event_time": _number(event_time, int),
            }
            for sensor_id, temperature, status, event_time in rows
        ],
        schema=READING_SCHEMA,
    )


def _number(text: str | None, kind: type) -> Any:
    """The value of a scalar string, or None when it is missing or not a number of that kind."""
    try:
        return None if text is None else kind(text)
    except ValueError:
        return None


def _scalar(datum: dict) -> str | None:
    if datum.get("NullValue"):
        return None
    if "ScalarValue" not in datum:
        raise TimestreamError(f"expected a scalar value, got {json.dumps(datum)[:200]}; select scalar columns only")
    return datum["ScalarValue"]


def _ms(moment: datetime) -> int:
    return int(moment.timestamp()) * 1000
