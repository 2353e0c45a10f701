"""Timestream's batch-load API, played in process for the tests: moto 5.2.5 implements none of it.

``FakeBatchLoads.attach(client)`` answers CreateBatchLoadTask, DescribeBatchLoadTask,
ListBatchLoadTasks and ResumeBatchLoadTask of a real botocore client from a ``before-call`` hook,
as botocore's Stubber does, so every request is still built and checked against the service
model (and by the suite's autouse model check); every other operation (DescribeDatabase,
DescribeTable) goes on to the endpoint the client was made with. Answers are checked against the
model's output shapes too.

Tasks behave as the developer guide describes: CREATED, then IN_PROGRESS, then the outcome the
test scripted for the task's ObjectKeyPrefix (SUCCEEDED unless told otherwise). Time is counted
in ListBatchLoadTasks calls (``steps`` calls per state), the call every poll makes. A repeated
ClientToken returns the task it created; PROGRESS_STOPPED tasks can be resumed (PENDING_RESUME,
then IN_PROGRESS again) until ``ResumableUntil``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.awsrequest import AWSResponse

from tests.support.aws_requests import violations

ACTIVE = ("CREATED", "IN_PROGRESS", "PENDING_RESUME")
HANDLED = {"CreateBatchLoadTask", "DescribeBatchLoadTask", "ListBatchLoadTasks", "ResumeBatchLoadTask"}
# Polls in one test before the fake calls it polling forever.
MOST_LIST_CALLS = 3000


@dataclass
class Task:
    task_id: str
    database: str
    table: str
    prefix: str
    outcome: str
    started: int
    status: str = "CREATED"
    resumable_until: datetime | None = None
    resumed_at: int | None = None


@dataclass
class FakeBatchLoads:
    """The account's batch-load tasks; ``outcomes`` maps an ObjectKeyPrefix to how its task ends."""

    outcomes: dict[str, str] = field(default_factory=dict)
    steps: int = 3
    page_size: int = 2
    tasks: dict[str, Task] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)
    created: list[dict] = field(default_factory=list)
    list_calls: int = 0
    # The most tasks active on one table at the moment another was created there.
    most_active_at_create: int = 0

    def attach(self, client: Any) -> Any:
        client.meta.events.register("before-call.timestream-write", self._answer)
        return client

    def add(self, task_id: str, database: str, table: str, status: str, resumable_until: datetime | None = None) -> Task:
        """A task made by someone else (another team, the console), in ``status``, staying there."""
        task = Task(task_id, database, table, f"elsewhere/{task_id}/", status, self.list_calls, status, resumable_until)
        task.outcome = status
        self.tasks[task_id] = task
        return task

    def active(self, database: str, table: str) -> int:
        return sum(1 for t in self.tasks.values() if (t.database, t.table) == (database, table) and t.status in ACTIVE)

    def _answer(self, model: Any, params: dict, **_: Any) -> tuple[AWSResponse, dict] | None:
        if model.name not in HANDLED:
            return None
        self.calls.append(model.name)
        request = json.loads(params["body"] or b"{}")
        try:
            answer = getattr(self, f"_{model.name}")(request)
        except KeyError as missing:
            return _error("ResourceNotFoundException", f"no task {missing}")
        except ValueError as refused:
            return _error("ValidationException", str(refused))
        problems = list(violations(model.output_shape, answer)) if model.output_shape else []
        assert problems == [], f"the fake answered {model.name} outside the model: {problems}"
        return AWSResponse("https://fake.timestream", 200, {}, None), {**answer, "ResponseMetadata": {"HTTPStatusCode": 200}}

    def _advance(self) -> None:
        """One ListBatchLoadTasks call later: each scripted task moves on after ``steps`` calls in a state."""
        self.list_calls += 1
        assert self.list_calls < MOST_LIST_CALLS, "still polling after thousands of ListBatchLoadTasks calls"
        for task in self.tasks.values():
            if task.prefix.startswith("elsewhere/"):
                continue
            since = self.list_calls - (task.resumed_at if task.resumed_at is not None else task.started)
            if task.status == "CREATED" and since >= self.steps:
                task.status = "IN_PROGRESS"
            elif task.status == "PENDING_RESUME" and since >= self.steps:
                task.status = "IN_PROGRESS"
            elif task.status == "IN_PROGRESS" and since >= 2 * self.steps:
                task.status = task.outcome if task.resumed_at is None or task.outcome != "PROGRESS_STOPPED" else "SUCCEEDED"
                if task.status == "PROGRESS_STOPPED":
                    task.resumable_until = datetime.now(UTC) + timedelta(days=1)

    def _CreateBatchLoadTask(self, request: dict) -> dict:
        token = request["ClientToken"]
        self.created.append(request)
        if token in self.tokens:
            return {"TaskId": self.tokens[token]}
        database, table = request["TargetDatabaseName"], request["TargetTableName"]
        self.most_active_at_create = max(self.most_active_at_create, self.active(database, table))
        source = request["DataSourceConfiguration"]["DataSourceS3Configuration"]
        prefix = f"s3://{source['BucketName']}/{source['ObjectKeyPrefix']}"
        task_id = f"TASK{len(self.tasks) + 1:04d}"
        self.tasks[task_id] = Task(task_id, database, table, prefix, self.outcomes.get(prefix, "SUCCEEDED"), self.list_calls)
        self.tokens[token] = task_id
        return {"TaskId": task_id}

    def _DescribeBatchLoadTask(self, request: dict) -> dict:
        task = self.tasks[request["TaskId"]]
        description = {
            "TaskId": task.task_id,
            "TaskStatus": task.status,
            "TargetDatabaseName": task.database,
            "TargetTableName": task.table,
            "CreationTime": datetime(2026, 1, 5, tzinfo=UTC),
        }
        if task.resumable_until is not None:
            description["ResumableUntil"] = task.resumable_until
        return {"BatchLoadTaskDescription": description}

    def _ListBatchLoadTasks(self, request: dict) -> dict:
        if "NextToken" not in request:
            self._advance()
        matching = [t for t in self.tasks.values() if t.status == request.get("TaskStatus", t.status)]
        start = int(request.get("NextToken", 0))
        page = matching[start : start + self.page_size]
        answer: dict[str, Any] = {
            "BatchLoadTasks": [
                {
                    "TaskId": t.task_id,
                    "TaskStatus": t.status,
                    "DatabaseName": t.database,
                    "TableName": t.table,
                    "CreationTime": datetime(2026, 1, 5, tzinfo=UTC),
                    **({"ResumableUntil": t.resumable_until} if t.resumable_until else {}),
                }
                for t in page
            ]
        }
        if start + self.page_size < len(matching):
            answer["NextToken"] = str(start + self.page_size)
        return answer

    def _ResumeBatchLoadTask(self, request: dict) -> dict:
        task = self.tasks[request["TaskId"]]
        if task.status != "PROGRESS_STOPPED" or (task.resumable_until is not None and task.resumable_until <= datetime.now(UTC)):
            raise ValueError(f"task {task.task_id} is {task.status}, not a resumable PROGRESS_STOPPED task")
        task.status, task.resumed_at = "PENDING_RESUME", self.list_calls
        return {}


def _error(code: str, message: str) -> tuple[AWSResponse, dict]:
    parsed = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}
    return AWSResponse("https://fake.timestream", 400, {}, None), parsed
