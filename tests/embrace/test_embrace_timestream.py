"""Timestream batch loads: planned from the job's row counts on (moto) S3, one task per stream and day (all devices, all exports).

moto 5.2.5 implements none of timestream-write's batch-load operations, so they are answered by
``timestream_fake`` on a real client (every request still checked against the API model), with
the ledger on moto's S3. The ledger, pacing, reruns and ``monitor`` are in test_timestream_ledger.py.
"""

from __future__ import annotations

import json
import re
from datetime import date

import boto3
import pytest
from timestream_fake import FakeBatchLoads

from job_helpers.backoff import Backoff, DeadlinePassed
from job_helpers.control import cli
from job_helpers.control.commands import timestream_cmd
from job_helpers.embrace.timestream_ledger import Ledger, LoadKey
from job_helpers.embrace.timestream_load import (
    BatchLoads,
    estimate_cost,
    notify_slack,
    plan_loads,
    task_request,
)
from job_helpers.storage import Storage

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


def _fake_client(fake: FakeBatchLoads):
    """A timestream-write client whose batch-load calls ``fake`` answers; its own endpoint URL, so no endpoint
    discovery (moto's DescribeEndpoints names the real ingest host)."""
    client = boto3.client("timestream-write", region_name="us-east-1", endpoint_url="https://fake.timestream.invalid")
    return fake.attach(client)


def _batch_loads(lake, fake: FakeBatchLoads, **options) -> BatchLoads:
    ledger = Ledger(Storage(lake), f"s3://{BUCKET}/timestream_reports/ledger/")
    return BatchLoads(
        _fake_client(fake), ledger, "embrace", "readings", f"s3://{BUCKET}/timestream_reports/", Backoff(0.0, 0.0), **options
    )


def test_plan_picks_the_days_and_streams_asked_for(lake):
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
    loads = plan_loads(
        Storage(lake), f"s3://{BUCKET}/load_counts/", f"s3://{BUCKET}/ready/", date(2024, 3, 1), date(2024, 3, 1), ("acc", "eda")
    )
    fake = FakeBatchLoads()
    outcomes = _batch_loads(lake, fake).load(loads, 5, False, lambda outcome: None)
    assert [(outcome.what, outcome.attempt.task_id) for outcome in outcomes] == [("created", "TASK0001"), ("created", "TASK0002")]
    tokens = [LoadKey("embrace", "readings", load.stream, load.day).client_token(0) for load in loads]
    assert fake.created == [
        task_request(load, "embrace", "readings", f"s3://{BUCKET}/timestream_reports/", token)
        for load, token in zip(loads, tokens, strict=True)
    ]
    acc = fake.created[0]
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
    token = LoadKey("embrace", "readings", "acc", "2024-03-01").client_token(0)
    for load in loads:
        request = task_request(load, "embrace", "readings", f"s3://{BUCKET}/timestream_reports/", token)
        assert model_violations(shape, request, "CreateBatchLoadTask") == []
    former = task_request(loads[0], "embrace", "readings", f"s3://{BUCKET}/timestream_reports/", token)
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


def test_monitor_polls_until_no_task_is_left_then_stays_silent_without_webhook(lake):
    loads = plan_loads(
        Storage(lake), f"s3://{BUCKET}/load_counts/", f"s3://{BUCKET}/ready/", date(2024, 3, 1), date(2024, 3, 1), ("eda",)
    )
    fake, delays = FakeBatchLoads(steps=3), []
    _batch_loads(lake, fake).load(loads, 5, False, lambda outcome: None)
    seen = []
    entries = _batch_loads(lake, fake, sleep=delays.append).follow(seen.append, resume=False)
    assert [entry.latest.state for entry in entries] == ["SUCCEEDED"]
    assert [[entry.latest.state for entry in polled] for polled in seen] == [["CREATED"], ["IN_PROGRESS"], ["SUCCEEDED"]]
    assert len(delays) == 2
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


def test_monitor_stops_at_its_deadline_while_tasks_still_run(lake):
    loads = plan_loads(
        Storage(lake), f"s3://{BUCKET}/load_counts/", f"s3://{BUCKET}/ready/", date(2024, 3, 1), date(2024, 3, 1), ("eda",)
    )
    fake = FakeBatchLoads(steps=1000)
    (outcome,) = _batch_loads(lake, fake).load(loads, 5, False, lambda outcome: None)
    assert (outcome.what, outcome.attempt.state) == ("created", "CREATED")
    seen, times = [], iter(range(100))
    with pytest.raises(DeadlinePassed):
        _batch_loads(lake, fake, clock=lambda: next(times)).follow(seen.append, resume=False, deadline=2)
    assert len(seen) == 4 and [entry.latest.state for entry in seen[-1]] == ["CREATED"]
