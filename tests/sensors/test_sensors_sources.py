"""Both sources: raw files across a day boundary (late arrivals, defects, odd names) and the
Timestream Query API through botocore's Stubber, each feeding the same export."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import boto3
from botocore.stub import Stubber
from sensor_lake import published_files

from job_helpers.sensors.read import Chunk, list_raw_files, raw_batches, timestream_chunk
from job_helpers.sensors.timestream import hour_queries, timestream_client
from job_helpers.sensors.transform import hour_grids
from job_helpers.sensors.write import export_chunk
from job_helpers.storage import Storage

MIDNIGHT = datetime(2024, 3, 2, tzinfo=UTC)


def ms(seconds: float) -> int:
    return int(MIDNIGHT.timestamp() * 1000 + round(seconds * 1000))


def line(sensor: str, temperature: float, status: str, at: float) -> str:
    return json.dumps({"sensor_id": sensor, "temperature": temperature, "status": status, "event_time": ms(at)})


def curated(spark, url: str) -> list[tuple]:
    frame = spark.read.parquet(url).selectExpr("sensor_id", "date_format(time, 'yyyy-MM-dd HH:mm:ss')", "temperature", "status")
    return sorted(tuple(row) for row in frame.collect())


def rejects(url: str) -> list[dict]:
    return sorted(
        (
            json.loads(text)
            for path in published_files(Path(url.removeprefix("file://")), "*.json")
            for text in path.read_text().splitlines()
        ),
        key=lambda reject: reject["reason"],
    )


def test_raw_chunks_take_late_arrivals_from_the_next_days_first_hour(tasks, spark, tmp_path):
    raw = tmp_path / "raw"
    files = {
        "2024/03/01/23/firehose-1-2024-03-01-23-00-00-abc": [line("s1", 10.0, "OK", -2), ""],
        # Buffered into the next day's first folder: one from 23:59:59 (day 1), one of its own hour.
        "2024/03/02/00/firehose-1-2024-03-02-00-05-00-def": [
            line("s1", 12.0, "WARNING", -0.5),
            line("s1", 20.0, "OK", 1.2),
            '{"sensor_id": "s1", "temperature": ',
            json.dumps({"sensor_id": "s1", "status": "OK", "event_time": ms(2)}),
        ],
        "2024/03/02/00/_SUCCESS": [line("s1", 99.0, "OK", 3)],
        "2024/03/02/00/.tmp-partial": [line("s1", 99.0, "OK", 3)],
        # Two hours after its event: no chunk is sure to read it, so it is rejected.
        "2024/03/02/02/firehose-1-2024-03-02-02-00-00-ghi": [line("s1", 30.0, "OK", 30), line("s1", 31.0, "ERROR", 7201)],
    }
    for name, lines in files.items():
        (raw / name).parent.mkdir(parents=True, exist_ok=True)
        (raw / name).write_text("\n".join(lines) + "\n")
    out, bad = (tmp_path / "curated").as_uri() + "/", (tmp_path / "rejects").as_uri() + "/"
    storage = Storage()
    day1, day2 = date(2024, 3, 1), date(2024, 3, 2)

    listed = list_raw_files(storage, raw.as_uri() + "/", day1, day1)
    assert [url.rsplit("/", 1)[1] for url in listed] == [
        "firehose-1-2024-03-01-23-00-00-abc",
        "firehose-1-2024-03-02-00-05-00-def",
    ]
    first = export_chunk(
        tasks, storage, Chunk(raw.as_uri(), day1, day1, raw_batches(listed, day1, day1, tasks=2)), hour_grids, out, bad
    )
    assert (first.readings_in, first.rows_out, first.rejects) == (2, 2, 0)
    assert curated(spark, out) == [
        ("s1", "2024-03-01 23:59:58", 10.0, "OK"),
        ("s1", "2024-03-01 23:59:59", 12.0, "WARNING"),
    ]

    listed = list_raw_files(storage, raw.as_uri() + "/", day2, day2)
    second = export_chunk(
        tasks, storage, Chunk(raw.as_uri(), day2, day2, raw_batches(listed, day2, day2, tasks=2)), hour_grids, out, bad
    )
    assert (second.sensors, second.readings_in, second.rejects) == (1, 2, 3)
    assert curated(spark, out)[2:] == [
        ("s1", "2024-03-02 00:00:01", 20.0, "OK"),
        ("s1", "2024-03-02 02:00:01", 31.0, "ERROR"),
    ]
    found = rejects(bad)
    assert [reject["reason"].split(",")[0].split(" (")[0] for reject in found] == [
        "event_time is outside its folder's hour and the hour before",
        "malformed JSON",
        "missing field: temperature",
    ]
    assert found[1]["record"] == '{"sensor_id": "s1", "temperature": '
    assert found[1]["source"].endswith("2024/03/02/00/firehose-1-2024-03-02-00-05-00-def")
    assert sorted(p.parent.name for p in published_files(tmp_path / "rejects", "*.json")) == ["hour=00", "hour=02"]


COLUMN_INFO = [
    {"Name": "sensor_id", "Type": {"ScalarType": "VARCHAR"}},
    {"Name": "temperature", "Type": {"ScalarType": "DOUBLE"}},
    {"Name": "status", "Type": {"ScalarType": "VARCHAR"}},
    {"Name": "event_time", "Type": {"ScalarType": "BIGINT"}},
]


def page(rows: list[tuple], token: str | None = None) -> dict:
    response = {
        "QueryId": "q-1",
        "ColumnInfo": COLUMN_INFO,
        "Rows": [
            {"Data": [{"NullValue": True} if value is None else {"ScalarValue": str(value)} for value in row]} for row in rows
        ],
        "QueryStatus": {"ProgressPercentage": 100.0, "CumulativeBytesScanned": 1, "CumulativeBytesMetered": 1},
    }
    if token:
        response["NextToken"] = token
    return response


def test_timestream_pages_feed_the_same_export(tasks, spark, tmp_path):
    client = timestream_client(boto3.Session(region_name="us-east-1"))
    assert client.meta.config.retries["mode"] == "adaptive"
    day = date(2024, 3, 1)
    queries = hour_queries("sensors", "readings", day, day)
    assert len(queries) == 24 and 'FROM "sensors"."readings"' in queries[0]
    base = int(datetime(2024, 3, 1, tzinfo=UTC).timestamp() * 1000)
    with Stubber(client) as stub:
        for hour, query in enumerate(queries):
            if hour == 0:
                # Timestream may answer with an empty page and a token while the query still runs.
                stub.add_response("query", page([], "t1"), {"QueryString": query})
                stub.add_response(
                    "query",
                    page([("s1", 10.0, "OK", base + 100), ("s1", None, "OK", base + 1500)], "t2"),
                    {"QueryString": query, "NextToken": "t1"},
                )
                stub.add_response(
                    "query",
                    page([("s1", 16.0, "ERROR", base + 3900), ("s2", 50.0, "BROKEN", base + 50)]),
                    {"QueryString": query, "NextToken": "t2"},
                )
            else:
                stub.add_response("query", page([]), {"QueryString": query})
        chunk = timestream_chunk(client, "sensors", "readings", day, day)
        summary = export_chunk(
            tasks, Storage(), chunk, hour_grids, (tmp_path / "c").as_uri() + "/", (tmp_path / "r").as_uri() + "/"
        )
        stub.assert_no_pending_responses()
    assert (summary.sensors, summary.readings_in, summary.rows_out, summary.rejects) == (1, 2, 4, 2)
    assert curated(spark, (tmp_path / "c").as_uri()) == [
        ("s1", "2024-03-01 00:00:00", 10.0, "OK"),
        ("s1", "2024-03-01 00:00:01", 12.0, "OK"),
        ("s1", "2024-03-01 00:00:02", 14.0, "OK"),
        ("s1", "2024-03-01 00:00:03", 16.0, "ERROR"),
    ]
    assert [(r["reason"].split(" (")[0], r["source"]) for r in rejects((tmp_path / "r").as_uri())] == [
        ("bad status", "timestream:sensors.readings"),
        ("missing field: temperature", "timestream:sensors.readings"),
    ]
