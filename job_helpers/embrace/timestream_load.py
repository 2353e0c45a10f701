"""Timestream batch loads of the batch-load-ready CSVs: plan, create, watch, notify.

Every function takes its client and storage from the caller. One ``CreateBatchLoadTask`` loads
one stream's day (``<stream>/<date>/``: the API's ObjectKeyPrefix pattern allows no ``=``) as
multi-measure records named after the stream, with dimensions ``ppt_id`` and ``dev_id``; each
reading is in it once, whatever exports held it. The row counts come from the files the job wrote
beside the data (``load_counts/<stream>/<date>.json``, rows per device), so a dry run reads no CSV.
"""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from botocore.exceptions import ClientError

from job_helpers.backoff import Backoff, Pending, poll
from job_helpers.embrace.archives import MEASURES
from job_helpers.embrace.outputs import load_folder
from job_helpers.storage import Storage, join, split_s3

log = logging.getLogger(__name__)

RUNNING = ("CREATED", "IN_PROGRESS", "PENDING_RESUME")
# Timestream for LiveAnalytics is closed to new customers since 2025-06-20 (the banner of every page
# of its developer guide): an account that never used it can create no database or table.
AVAILABILITY = (
    "https://docs.aws.amazon.com/timestream/latest/developerguide/AmazonTimestreamForLiveAnalytics-availability-change.html"
)
UNREACHABLE = frozenset({"AccessDeniedException", "ResourceNotFoundException"})
COUNTS_FILE = re.compile(r"(?P<stream>[a-z]+)/(?P<day>\d{4}-\d{2}-\d{2})\.json")


class LoadError(Exception):
    """A batch load cannot be planned or created; the message names the location or task."""


@dataclass(frozen=True)
class DayLoad:
    """One batch-load task: a stream's day, where its files are, and its rows."""

    stream: str
    day: str
    rows: int
    prefix: str


def plan_loads(storage: Storage, load_counts: str, ready: str, first: date, last: date, streams: Sequence[str]) -> list[DayLoad]:
    """The days of ``first..last`` that have batch-load-ready rows, per stream."""
    loads = []
    root = load_counts.rstrip("/") + "/"
    for stored in storage.list(load_counts):
        match = COUNTS_FILE.fullmatch(stored.url[len(root) :])
        if not match or match["stream"] not in streams:
            continue
        day = match["day"]
        if not first.isoformat() <= day <= last.isoformat():
            continue
        rows = sum(int(count) for count in json.loads(storage.read_text(stored.url)).values())
        if rows:
            loads.append(DayLoad(match["stream"], day, rows, join(ready, load_folder(match["stream"], day))))
    return sorted(loads, key=lambda load: (load.day, load.stream))


def estimate_cost(loads: Sequence[DayLoad], price_per_write: float) -> float:
    """USD for the loads: one write per multi-measure row (each well under 1 KB)."""
    return sum(load.rows for load in loads) * price_per_write


def task_request(load: DayLoad, database: str, table: str, report_prefix: str) -> dict[str, Any]:
    """The CreateBatchLoadTask arguments for one day: multi-measure mapping, dimensions ppt_id and dev_id."""
    bucket, key = split_s3(load.prefix)
    report_bucket, report_key = split_s3(report_prefix)
    return {
        "TargetDatabaseName": database,
        "TargetTableName": table,
        "DataModelConfiguration": {
            "DataModel": {
                "TimeColumn": "time",
                "TimeUnit": "MILLISECONDS",
                "DimensionMappings": [{"SourceColumn": name, "DestinationColumn": name} for name in ("ppt_id", "dev_id")],
                "MultiMeasureMappings": {
                    "TargetMultiMeasureName": load.stream,
                    "MultiMeasureAttributeMappings": [
                        {"SourceColumn": name, "TargetMultiMeasureAttributeName": name, "MeasureValueType": "DOUBLE"}
                        for name in MEASURES[load.stream]
                    ],
                },
            }
        },
        "DataSourceConfiguration": {
            "DataSourceS3Configuration": {"BucketName": bucket, "ObjectKeyPrefix": key},
            "CsvConfiguration": {"ColumnSeparator": ","},
            "DataFormat": "CSV",
        },
        "ReportConfiguration": {
            "ReportS3Configuration": {"BucketName": report_bucket, "ObjectKeyPrefix": report_key.rstrip("/") or "reports"}
        },
    }


def check_target(client: Any, database: str, table: str) -> None:
    """Before any task is created: the database and table exist and the caller may use them.

    AccessDenied or ResourceNotFound becomes one ``LoadError`` line that names the availability
    change and where the same rows already are (the clean Parquet table, through Athena).
    """
    try:
        client.describe_database(DatabaseName=database)
        client.describe_table(DatabaseName=database, TableName=table)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code not in UNREACHABLE:
            raise
        raise LoadError(
            f"Timestream table {database}.{table} is out of reach ({code} on {error.operation_name}). Amazon Timestream "
            f"for LiveAnalytics is closed to new customers since 2025-06-20 ({AVAILABILITY}), so an account that never "
            "used it cannot create the table; if yours did, create it or grant timestream:DescribeTable (make policy "
            "who=operator). The same rows are in the Parquet table embrace_clean: make ddl, then make query (Athena)"
        ) from error


def create_tasks(
    client: Any, loads: Sequence[DayLoad], database: str, table: str, report_prefix: str
) -> Iterator[tuple[DayLoad, str]]:
    """Create one task per load, yielding each task id as it is created."""
    for load in loads:
        try:
            task_id = client.create_batch_load_task(**task_request(load, database, table, report_prefix))["TaskId"]
        except client.exceptions.ClientError as error:
            raise LoadError(f"cannot create the batch load of {load.prefix}: {error}") from error
        log.info("batch load %s: %s", task_id, load.prefix)
        yield load, task_id


def running_tasks(client: Any) -> list[dict[str, Any]]:
    """Every batch-load task that has not ended, following NextToken."""
    tasks: list[dict[str, Any]] = []
    for status in RUNNING:
        token = None
        while True:
            page = client.list_batch_load_tasks(TaskStatus=status, **({"NextToken": token} if token else {}))
            tasks.extend(page.get("BatchLoadTasks", []))
            token = page.get("NextToken")
            if not token:
                break
    return tasks


def wait_for_tasks(
    client: Any,
    on_poll: Callable[[list[dict[str, Any]]], None],
    backoff: Backoff = Backoff(base=5.0, cap=120.0),
    deadline: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Poll until no task is running; returns the polls made.

    The jittered delay between polls grows while the running tasks stay the same and drops back
    when one starts or ends. ``deadline`` (a ``clock()`` time) raises ``DeadlinePassed`` once passed.
    """
    polls = 0
    previous: set[str] | None = None

    def check() -> int | Pending:
        nonlocal polls, previous
        tasks = running_tasks(client)
        polls += 1
        on_poll(tasks)
        if not tasks:
            return polls
        running = {task["TaskId"] for task in tasks}
        changed, previous = running != previous, running
        return Pending(changed=changed)

    return poll(check, backoff, deadline=deadline, sleep=sleep, clock=clock)


def notify_slack(webhook_url: str | None, text: str, opener: Callable[..., Any] = urllib.request.urlopen) -> bool:
    """Post ``text`` to a Slack incoming webhook; no URL, no call. Returns whether it posted."""
    if not webhook_url:
        return False
    request = urllib.request.Request(
        webhook_url, data=json.dumps({"text": text}).encode("utf-8"), headers={"Content-Type": "application/json"}
    )
    with opener(request, timeout=10):
        return True
