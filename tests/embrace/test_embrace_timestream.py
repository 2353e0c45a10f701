"""Timestream batch loads: planned from the job's row counts on (moto) S3, one task per stream and day.

moto 5.2.5 does not implement timestream-write's CreateBatchLoadTask or ListBatchLoadTasks, so
the Timestream client is botocore's Stubber, which also checks every request against the API model.
"""

from __future__ import annotations

import json
from datetime import date

import boto3
import pytest
from botocore.stub import Stubber

from job_helpers import cli
from job_helpers.control.backoff import Backoff
from job_helpers.control.commands import timestream_cmd
from job_helpers.embrace.timestream_load import (
    create_tasks,
    estimate_cost,
    notify_slack,
    plan_loads,
    task_request,
    wait_for_tasks,
)

BUCKET = "embrace-wearables"
EXPORT = "Sensors_U02_ALLSITES_20240301_20240331"


@pytest.fixture
def lake(moto_server):
    session = boto3.Session(region_name="us-east-1")
    s3 = session.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    counts = {"acc": {"2024-03-01": 1000, "2024-03-02": 500}, "eda": {"2024-03-01": 40, "2024-04-01": 7}}
    for stream, days in counts.items():
        s3.put_object(Bucket=BUCKET, Key=f"load_counts/export={EXPORT}/stream={stream}.json", Body=json.dumps(days))
    return session


def _stubbed_client():
    client = boto3.client(
        "timestream-write", region_name="us-east-1", endpoint_url="https://ingest.timestream.us-east-1.amazonaws.com"
    )
    return client, Stubber(client)


def test_plan_picks_the_days_and_streams_asked_for(lake):
    from job_helpers.storage import Storage

    loads = plan_loads(
        Storage(lake), f"s3://{BUCKET}/load_counts/", f"s3://{BUCKET}/ready/", date(2024, 3, 1), date(2024, 3, 31), ("acc", "eda")
    )
    assert [(l.stream, l.day, l.rows) for l in loads] == [
        ("acc", "2024-03-01", 1000),
        ("eda", "2024-03-01", 40),
        ("acc", "2024-03-02", 500),
    ]
    assert loads[0].prefix == f"s3://{BUCKET}/ready/export={EXPORT}/stream=acc/date=2024-03-01/"
    assert estimate_cost(loads, 0.5e-6) == pytest.approx(1540 * 0.5e-6)
    only_eda = plan_loads(
        Storage(lake), f"s3://{BUCKET}/load_counts/", f"s3://{BUCKET}/ready/", date(2024, 3, 1), date(2024, 4, 30), ("eda",)
    )
    assert [l.day for l in only_eda] == ["2024-03-01", "2024-04-01"]


def test_tasks_are_created_with_the_multi_measure_mapping(lake):
    from job_helpers.storage import Storage

    loads = plan_loads(
        Storage(lake), f"s3://{BUCKET}/load_counts/", f"s3://{BUCKET}/ready/", date(2024, 3, 1), date(2024, 3, 1), ("acc", "eda")
    )
    client, stubber = _stubbed_client()
    for number, load in enumerate(loads):
        request = task_request(load, "embrace", "readings", f"s3://{BUCKET}/timestream_reports/")
        stubber.add_response("create_batch_load_task", {"TaskId": f"task-{number}"}, request)
    with stubber:
        created = list(create_tasks(client, loads, "embrace", "readings", f"s3://{BUCKET}/timestream_reports/"))
    stubber.assert_no_pending_responses()
    assert [task for _, task in created] == ["task-0", "task-1"]
    acc = task_request(loads[0], "embrace", "readings", f"s3://{BUCKET}/timestream_reports/")
    model = acc["DataModelConfiguration"]["DataModel"]
    assert [m["SourceColumn"] for m in model["DimensionMappings"]] == ["ppt_id", "dev_id"]
    assert model["MultiMeasureMappings"]["TargetMultiMeasureName"] == "acc"
    assert [m["SourceColumn"] for m in model["MultiMeasureMappings"]["MultiMeasureAttributeMappings"]] == ["x", "y", "z"]
    assert acc["DataSourceConfiguration"]["DataSourceS3Configuration"] == {
        "BucketName": BUCKET,
        "ObjectKeyPrefix": f"ready/export={EXPORT}/stream=acc/date=2024-03-01/",
    }


def test_dry_run_prints_rows_and_cost_and_creates_nothing(lake, monkeypatch, capsys):
    monkeypatch.setattr(timestream_cmd, "_client", lambda context: pytest.fail("the dry run must not reach Timestream"))
    code = cli.main(["--profile", "aws", "timestream-load", "--from", "2024-03-01", "--to", "2024-03-31", "--dry-run"])
    out = capsys.readouterr().out
    assert code == 0
    assert "3 task(s), 1,540 row(s)" in out


def test_monitor_polls_until_no_task_is_left_then_stays_silent_without_webhook(monkeypatch):
    client, stubber = _stubbed_client()
    running = {"TaskId": "task-0", "TaskStatus": "IN_PROGRESS", "DatabaseName": "embrace", "TableName": "readings"}
    for tasks in ([running], []):
        for status in ("CREATED", "IN_PROGRESS", "PENDING_RESUME"):
            found = tasks if status == "IN_PROGRESS" else []
            stubber.add_response("list_batch_load_tasks", {"BatchLoadTasks": found}, {"TaskStatus": status})
    seen, delays = [], []
    with stubber:
        polls = wait_for_tasks(client, seen.append, Backoff(1.0, 4.0), sleep=delays.append)
    assert polls == 2 and [len(tasks) for tasks in seen] == [1, 0] and len(delays) == 1
    assert notify_slack(None, "done", opener=lambda *a, **k: pytest.fail("no webhook, no call")) is False
    posted = []

    class Response:
        def __enter__(self):
            return self

        def __exit__(self, *args):
            return False

    assert notify_slack(
        "https://hooks.slack.example/x", "done", opener=lambda request, timeout: posted.append(request) or Response()
    )
    assert json.loads(posted[0].data) == {"text": "done"}
