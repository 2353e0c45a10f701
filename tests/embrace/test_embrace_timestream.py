"""Timestream batch loads: planned from the job's row counts on (moto) S3, one task per stream and day (all devices, all exports).

moto 5.2.5 does not implement timestream-write's CreateBatchLoadTask or ListBatchLoadTasks, so
the Timestream client is botocore's Stubber, which also checks every request against the API model.
"""

from __future__ import annotations

import json
import re
from datetime import date

import boto3
import pytest
from botocore.stub import Stubber

from job_helpers import cli
from job_helpers.backoff import Backoff, DeadlinePassed
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
    counts = {"acc": {"2024-03-01": (600, 400), "2024-03-02": (500,)}, "eda": {"2024-03-01": (40,), "2024-04-01": (7,)}}
    for stream, days in counts.items():
        for day, rows in days.items():
            devices = {f"fc096/DEV{number}": count for number, count in enumerate(rows)}
            s3.put_object(Bucket=BUCKET, Key=f"load_counts/{stream}/{day}.json", Body=json.dumps(devices))
    # Counts of the former layouts (per export) name folders no longer written: never planned.
    s3.put_object(Bucket=BUCKET, Key=f"load_counts/{EXPORT}/acc.json", Body=json.dumps({"2024-03-01": 9}))
    s3.put_object(
        Bucket=BUCKET,
        Key="load_counts/export=Sensors_U02_FC_20240301_20240331/stream=acc.json",
        Body=json.dumps({"2024-03-01": 9}),
    )
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
    assert [(load.stream, load.day, load.rows) for load in loads] == [
        ("acc", "2024-03-01", 1000),
        ("eda", "2024-03-01", 40),
        ("acc", "2024-03-02", 500),
    ]
    assert loads[0].prefix == f"s3://{BUCKET}/ready/acc/2024-03-01/"
    assert estimate_cost(loads, 0.5e-6) == pytest.approx(1540 * 0.5e-6)
    only_eda = plan_loads(
        Storage(lake), f"s3://{BUCKET}/load_counts/", f"s3://{BUCKET}/ready/", date(2024, 3, 1), date(2024, 4, 30), ("eda",)
    )
    assert [load.day for load in only_eda] == ["2024-03-01", "2024-04-01"]


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
        "ObjectKeyPrefix": "ready/acc/2024-03-01/",
    }


def model_violations(shape, value, path: str) -> list[str]:
    """Where ``value`` breaks ``shape`` of a botocore model: required members, types, lengths, patterns, enums.

    botocore checks only types and required members before sending; the service also applies the
    rest (patterns as whole-string matches), so a request that passes the Stubber can still be refused.
    """
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected a structure"]
        problems = [f"{path}.{name}: required" for name in shape.required_members if name not in value]
        for name, item in value.items():
            member = shape.members.get(name)
            problems += (
                [f"{path}.{name}: not in the model"] if member is None else model_violations(member, item, f"{path}.{name}")
            )
        return problems
    if kind == "list":
        problems = (
            [f"{path}: {len(value)} item(s), outside {meta.get('min', 0)}..{meta.get('max', 'any')}"]
            if not (meta.get("min", 0) <= len(value) <= meta.get("max", len(value)))
            else []
        )
        return problems + [
            p for index, item in enumerate(value) for p in model_violations(shape.member, item, f"{path}[{index}]")
        ]
    if kind == "string":
        if not isinstance(value, str):
            return [f"{path}: expected a string"]
        problems = []
        if not meta.get("min", 0) <= len(value) <= meta.get("max", len(value)):
            problems.append(f"{path}: length {len(value)} outside {meta.get('min', 0)}..{meta.get('max', 'any')}")
        if "pattern" in meta and not re.fullmatch(meta["pattern"], value):
            problems.append(f"{path}: {value!r} does not match {meta['pattern']}")
        if shape.enum and value not in shape.enum:
            problems.append(f"{path}: {value!r} is not one of {shape.enum}")
        return problems
    expected = {"boolean": bool, "long": int, "integer": int, "double": float}.get(kind)
    return [f"{path}: expected {kind}"] if expected and not isinstance(value, expected) else []


def test_every_create_batch_load_task_parameter_is_one_the_api_accepts(lake):
    """Issue 10.2: the former export=/stream=/date= prefix broke ObjectKeyPrefix's pattern, refusing every load."""
    from job_helpers.storage import Storage

    shape = (
        boto3.client("timestream-write", region_name="us-east-1")
        .meta.service_model.operation_model("CreateBatchLoadTask")
        .input_shape
    )
    loads = plan_loads(
        Storage(lake),
        f"s3://{BUCKET}/load_counts/",
        f"s3://{BUCKET}/timestream_ready/",
        date(2024, 3, 1),
        date(2024, 4, 30),
        ("acc", "eda", "temp"),
    )
    assert {load.stream for load in loads} == {"acc", "eda"}
    for load in loads:
        request = task_request(load, "embrace", "readings", f"s3://{BUCKET}/timestream_reports/")
        assert model_violations(shape, request, "CreateBatchLoadTask") == []
    former = task_request(loads[0], "embrace", "readings", f"s3://{BUCKET}/timestream_reports/")
    former["DataSourceConfiguration"]["DataSourceS3Configuration"]["ObjectKeyPrefix"] = (
        f"ready/export={EXPORT}/stream=acc/date=2024-03-01/"
    )
    (problem,) = model_violations(shape, former, "CreateBatchLoadTask")
    assert "ObjectKeyPrefix" in problem


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


def test_monitor_stops_at_its_deadline_while_tasks_still_run():
    class Client:
        def list_batch_load_tasks(self, TaskStatus, **_):
            return {"BatchLoadTasks": [{"TaskId": "task-0"}] if TaskStatus == "IN_PROGRESS" else []}

    seen, times = [], iter(range(100))
    with pytest.raises(DeadlinePassed):
        wait_for_tasks(Client(), seen.append, Backoff(1.0, 4.0), deadline=2, sleep=lambda _: None, clock=lambda: next(times))
    assert len(seen) == 4
