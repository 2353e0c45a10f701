"""Timestream batch loads of the batch-load-ready CSVs: plan, create at a pace, follow, resume, notify.

Every function takes its client and storage from the caller. One ``CreateBatchLoadTask`` loads
one stream's day (``<stream>/<date>/``: the API's ObjectKeyPrefix pattern allows no ``=``) as
multi-measure records named after the stream, with dimensions ``ppt_id`` and ``dev_id``; each
reading is in it once, whatever exports held it. The row counts come from the files the job wrote
beside the data (``load_counts/<stream>/<date>.json``, rows per device), so a dry run reads no CSV.

Each task is recorded in the ledger (``timestream_ledger``, keyed by stream and day) before it is
created, so a rerun knows what was loaded: it skips a load whose task SUCCEEDED, never starts a
second task for one that is still active or stopped (resumable), and starts a new one for a FAILED
load only when asked (Timestream bills every row it is given, and a task fails on bad rows as often
as on throttling: read its report first). A day loaded before another export added readings to it
(embrace_dedupe recomputes the device-day from every export holding it) has a row count other than
the one loaded: it is named, never loaded again (its earlier readings would be written twice).
Tasks are created while fewer than ``max_active`` tasks are active on the table: a table holds at
most 5 active batch-load tasks and an account 10 (the batch load quotas, ``TABLE_ACTIVE_TASKS``),
and Timestream advises against loading many at once into one database (250 active magnetic
partitions). Task states, from the API's BatchLoadStatus:
CREATED, IN_PROGRESS and PENDING_RESUME are active; SUCCEEDED and FAILED have ended (FAILED: "one
or more errors was detected", some rows may be in); PROGRESS_STOPPED has stopped but can be
resumed (ResumeBatchLoadTask) until its ResumableUntil.
"""

from __future__ import annotations

import json
import logging
import re
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from botocore.exceptions import ClientError

from job_helpers.backoff import Backoff, Pending, poll
from job_helpers.embrace.archives import MEASURES
from job_helpers.embrace.outputs import load_folder
from job_helpers.embrace.timestream_ledger import (
    ACTIVE,
    CREATING,
    FAILED,
    MISSING,
    SUCCEEDED,
    Attempt,
    Entry,
    Ledger,
    LoadKey,
)
from job_helpers.storage import Storage, join, split_s3

log = logging.getLogger(__name__)

# The active states, in the order ListBatchLoadTasks is asked for them.
RUNNING = tuple(sorted(ACTIVE))
# "A table cannot have more than 5 active batch load tasks and an account cannot have more than 10"
# (https://docs.aws.amazon.com/timestream/latest/developerguide/ts-limits.html, Batch load).
TABLE_ACTIVE_TASKS = 5
# Between polls of the tasks: jittered, growing while nothing changes (a task runs for minutes or hours).
POLL = Backoff(base=5.0, cap=120.0)
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


def task_request(load: DayLoad, database: str, table: str, report_prefix: str, client_token: str) -> dict[str, Any]:
    """The CreateBatchLoadTask arguments for one day: multi-measure mapping, dimensions ppt_id and dev_id.

    ``client_token`` makes the request idempotent: sent again, it returns the task already created.
    """
    bucket, key = split_s3(load.prefix)
    report_bucket, report_key = split_s3(report_prefix)
    return {
        "ClientToken": client_token,
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


def load_key(load: DayLoad, database: str, table: str) -> LoadKey:
    return LoadKey(database, table, load.stream, load.day)


# What a rerun does with a load, from the ledger's latest task for it.
CREATE, LOADED, RUNNING_ALREADY, STOPPED_RESUMABLE, FAILED_BEFORE = "create", "loaded", "running", "stopped", "failed"


def decide(latest: Attempt | None, retry_failed: bool, now: datetime) -> str:
    """``create`` for a load never tried, being created, or failed (when asked); else why it is left alone."""
    if latest is None or latest.state == CREATING:
        return CREATE
    if latest.state == SUCCEEDED:
        return LOADED
    if latest.state in ACTIVE:
        return RUNNING_ALREADY
    if latest.resumable(now):
        return STOPPED_RESUMABLE
    # FAILED, MISSING, or stopped past ResumableUntil: the rows may be partly in; a new task loads them all again.
    return CREATE if retry_failed else FAILED_BEFORE


@dataclass(frozen=True)
class Outcome:
    """What a run did with one load: ``what`` is ``created`` or one of ``decide``'s other answers."""

    load: DayLoad
    what: str
    attempt: Attempt | None


def table_tasks(client: Any, database: str, table: str, statuses: Sequence[str] = RUNNING) -> dict[str, dict[str, Any]]:
    """The tasks of ``database.table`` in ``statuses``, by id, following NextToken (other tables' tasks are left out)."""
    tasks: dict[str, dict[str, Any]] = {}
    for status in statuses:
        token = None
        while True:
            page = client.list_batch_load_tasks(TaskStatus=status, **({"NextToken": token} if token else {}))
            for task in page.get("BatchLoadTasks", []):
                if task.get("DatabaseName") == database and task.get("TableName") == table:
                    tasks[task["TaskId"]] = task
            token = page.get("NextToken")
            if not token:
                break
    return tasks


def describe_task(client: Any, task_id: str) -> dict[str, Any]:
    """The task's TaskStatus and ResumableUntil; TaskStatus MISSING when Timestream no longer knows it."""
    try:
        return client.describe_batch_load_task(TaskId=task_id)["BatchLoadTaskDescription"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        return {"TaskId": task_id, "TaskStatus": MISSING}


ENDED = (SUCCEEDED, FAILED, MISSING)


def _task_state(entry: Entry) -> str | None:
    """The state of the entry's latest task, or None when no task id is recorded (none, or one being created)."""
    latest = entry.latest
    return latest.state if latest is not None and latest.task_id else None


class BatchLoads:
    """The batch-load tasks of one Timestream table: created at a pace, followed, resumed, each recorded in the ledger."""

    def __init__(
        self,
        client: Any,
        ledger: Ledger,
        database: str,
        table: str,
        report_prefix: str,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client, self.ledger, self.database, self.table = client, ledger, database, table
        self.report_prefix = report_prefix
        self.backoff, self.sleep, self.clock = backoff or POLL, sleep, clock

    def plan(self, loads: Sequence[DayLoad], retry_failed: bool) -> list[tuple[DayLoad, Entry | None, str]]:
        """Each load with its ledger entry and what a run would do, as recorded (no call to Timestream)."""
        now = self.ledger.clock()
        planned = []
        for load in loads:
            entry = self.ledger.read(load_key(load, self.database, self.table))
            planned.append((load, entry, decide(entry.latest if entry else None, retry_failed, now)))
        return planned

    def load(
        self, loads: Sequence[DayLoad], max_active: int, retry_failed: bool, show: Callable[[Outcome], None]
    ) -> list[Outcome]:
        """One task per load the ledger does not show loaded, running or stopped, never more than ``max_active`` active.

        Before each creation the table's active tasks are counted (ListBatchLoadTasks, plus the
        tasks this run knows are active and the list does not show yet); while there are
        ``max_active`` or more, it polls with backoff. Each outcome is passed to ``show`` as it happens.
        """
        if max_active < 1:
            raise LoadError(f"max_active must be at least 1, not {max_active}")
        tracked: dict[str, Entry] = {}
        outcomes = []
        for load in loads:
            outcome = self._load_one(load, max_active, retry_failed, tracked)
            outcomes.append(outcome)
            show(outcome)
        return outcomes

    def _load_one(self, load: DayLoad, max_active: int, retry_failed: bool, tracked: dict[str, Entry]) -> Outcome:
        """What the ledger says of one load, refreshed from Timestream; a task created when it is due.
        ``tracked`` holds the tasks this run knows are active."""
        key = load_key(load, self.database, self.table)
        entry = self.ledger.read(key)
        if entry is not None and entry.latest is not None and entry.latest.task_id:
            entry = self._refresh(entry)
        latest = entry.latest if entry else None
        what = decide(latest, retry_failed, self.ledger.clock())
        if what == LOADED and entry is not None and entry.rows != load.rows:
            log.warning(
                "%s: task %s loaded %d rows; its files now hold %d (embrace_dedupe recomputed the day since, as when "
                "another export adds readings to it). Timestream keeps what it loaded; nothing is loaded again",
                load.prefix,
                latest.task_id if latest else None,
                entry.rows,
                load.rows,
            )
        if what == CREATE:
            self._wait_for_a_slot(max_active, tracked)
            entry = self._create(load, key, latest)
            what = "created"
        if entry is not None and entry.latest is not None and entry.latest.state in ACTIVE and entry.latest.task_id:
            tracked[entry.latest.task_id] = entry
        return Outcome(load, what, entry.latest if entry else None)

    def follow(self, on_poll: Callable[[list[Entry]], None], resume: bool, deadline: float | None = None) -> list[Entry]:
        """Poll the ledger's unfinished tasks of this table until none is active; returns every entry of the table.

        Only tasks the ledger records are followed (other teams' tasks, on this table or any other,
        are not). With ``resume``, each PROGRESS_STOPPED task still resumable is resumed once
        (ResumeBatchLoadTask) and followed. ``deadline`` (a ``clock()`` time) raises ``DeadlinePassed``.
        """
        entries = {entry.url: entry for entry in self.ledger.entries(self.database, self.table)}
        # Tasks whose state may still change: recorded with an id and neither SUCCEEDED, FAILED nor MISSING.
        unsettled = {url for url, entry in entries.items() if _task_state(entry) not in (None, *ENDED)}
        resumed: set[str] = set()
        previous: dict[str, str | None] | None = None

        def check() -> list[Entry] | Pending:
            nonlocal previous
            listed = table_tasks(self.client, self.database, self.table)
            for url in sorted(unsettled):
                entries[url] = self._observe(entries[url], listed)
                if _task_state(entries[url]) not in ACTIVE:
                    unsettled.discard(url)
            now = self.ledger.clock()
            for url, entry in sorted(entries.items()):
                if resume and url not in resumed and entry.latest is not None and entry.latest.resumable(now):
                    entries[url] = self._resume(entry)
                    resumed.add(url)
                    unsettled.add(url)
            shown = sorted(entries.values(), key=lambda entry: (entry.key.day, entry.key.stream))
            on_poll(shown)
            states = {url: _task_state(entries[url]) for url in unsettled}
            if not any(state in ACTIVE for state in states.values()):
                return shown
            changed, previous = states != previous, states
            return Pending(changed=changed)

        return poll(check, self.backoff, deadline=deadline, sleep=self.sleep, clock=self.clock)

    def _create(self, load: DayLoad, key: LoadKey, latest: Attempt | None) -> Entry:
        """Record the new task as CREATING, create it with the attempt's token, record its id (CREATED)."""
        if latest is not None and latest.state == CREATING:
            entry = self.ledger.read(key)  # a task begun by a run that stopped before recording its id: same token
            assert entry is not None
        else:
            entry = self.ledger.begin(key, load.prefix, load.rows, latest)
        attempt = entry.latest
        assert attempt is not None
        request = task_request(load, self.database, self.table, self.report_prefix, attempt.client_token)
        try:
            task_id = self.client.create_batch_load_task(**request)["TaskId"]
        except ClientError as error:
            raise LoadError(
                f"cannot create the batch load of {load.prefix}: {error} (the ledger keeps its attempt; a rerun sends "
                "the same request again)"
            ) from error
        log.info("batch load %s: %s", task_id, load.prefix)
        return self.ledger.record(entry, attempt.client_token, task_id=task_id, state="CREATED")

    def _wait_for_a_slot(self, max_active: int, tracked: dict[str, Entry]) -> None:
        previous: set[str] | None = None

        def check() -> int | Pending:
            nonlocal previous
            listed = table_tasks(self.client, self.database, self.table)
            for task_id, entry in list(tracked.items()):
                tracked[task_id] = entry = self._observe(entry, listed)
                if entry.latest is None or entry.latest.state not in ACTIVE:
                    del tracked[task_id]
            active = set(listed) | set(tracked)
            if len(active) < max_active:
                return len(active)
            log.info("%d batch load(s) active on %s.%s: waiting for one to end", len(active), self.database, self.table)
            changed, previous = active != previous, active
            return Pending(changed=changed)

        poll(check, self.backoff, sleep=self.sleep, clock=self.clock)

    def _refresh(self, entry: Entry) -> Entry:
        """The entry with its latest task's state as Timestream has it now (SUCCEEDED, FAILED, MISSING are final)."""
        if _task_state(entry) in (None, *ENDED):
            return entry
        return self._observe(entry, {})

    def _observe(self, entry: Entry, listed: dict[str, dict[str, Any]]) -> Entry:
        """Record the latest task's state: from ``listed`` when it is there, else from DescribeBatchLoadTask."""
        attempt = entry.latest
        assert attempt is not None and attempt.task_id is not None
        task = listed.get(attempt.task_id) or describe_task(self.client, attempt.task_id)
        state = task["TaskStatus"]
        until = task.get("ResumableUntil")
        resumable_until = until.isoformat(timespec="seconds") if isinstance(until, datetime) else attempt.resumable_until
        if (state, resumable_until) == (attempt.state, attempt.resumable_until):
            return entry
        log.info("batch load %s: %s -> %s", attempt.task_id, attempt.state, state)
        return self.ledger.record(entry, attempt.client_token, state=state, resumable_until=resumable_until)

    def _resume(self, entry: Entry) -> Entry:
        attempt = entry.latest
        assert attempt is not None and attempt.task_id is not None
        self.client.resume_batch_load_task(TaskId=attempt.task_id)
        log.info("batch load %s resumed", attempt.task_id)
        return self.ledger.record(entry, attempt.client_token, state="PENDING_RESUME")


def notify_slack(webhook_url: str | None, text: str, opener: Callable[..., Any] = urllib.request.urlopen) -> bool:
    """Post ``text`` to a Slack incoming webhook; no URL, no call. Returns whether it posted."""
    if not webhook_url:
        return False
    request = urllib.request.Request(
        webhook_url, data=json.dumps({"text": text}).encode("utf-8"), headers={"Content-Type": "application/json"}
    )
    with opener(request, timeout=10):
        return True
