"""The ledger of Timestream batch loads: which task loads which stream's day, and how it ended.

One JSON object per load (database, table, stream, day: a day's readings of every export, each
once), under ``ledger/`` of the batch-load reports data set, beside Timestream's own reports::

    <embrace.timestream_reports>ledger/<database>/<table>/<stream>/<day>.json
    {"load": {"database": …, "table": …, "stream": …, "day": …, "prefix": …, "rows": …},
     "tasks": [{"client_token": …, "task_id": … or null, "state": …, "resumable_until": … or null,
                "updated_at": …}, …]}

``tasks`` holds every task created for the load, oldest first; the last one is the load's state.
Every change is a conditional write (``Storage.write_if``) over the version that was read: two
commands never both start a task for one load, and a state change that meets a concurrent write
is applied again to the newer object. A task is recorded as ``CREATING`` with its client token
before ``CreateBatchLoadTask`` is sent; if the command dies before the answer is recorded, the next
run sends the same token again, and Timestream answers a token it has seen with the task it
already made instead of a second one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from job_helpers.storage import Storage, WriteConflict, join

CREATING = "CREATING"
ACTIVE = frozenset({"CREATED", "IN_PROGRESS", "PENDING_RESUME"})
SUCCEEDED, FAILED, STOPPED = "SUCCEEDED", "FAILED", "PROGRESS_STOPPED"
# The recorded task is unknown to Timestream (DescribeBatchLoadTask: ResourceNotFound).
MISSING = "MISSING"
# A state change that keeps meeting concurrent writes gives up after this many reads.
CHANGE_ATTEMPTS = 5


class LedgerError(Exception):
    """The ledger cannot be read or changed as asked; the message names the object and what to do."""


@dataclass(frozen=True)
class LoadKey:
    """What a load writes into: one stream's day, in one Timestream table."""

    database: str
    table: str
    stream: str
    day: str

    @property
    def path(self) -> str:
        return f"{self.database}/{self.table}/{self.stream}/{self.day}.json"

    def client_token(self, attempt: int) -> str:
        """The CreateBatchLoadTask token of the load's ``attempt``-th task: the same on every rerun (64 hex digits)."""
        return hashlib.sha256(f"{self.path}#{attempt}".encode()).hexdigest()


@dataclass(frozen=True)
class Attempt:
    """One task created (or being created) for a load."""

    client_token: str
    task_id: str | None
    state: str
    updated_at: str
    resumable_until: str | None = None

    def resumable(self, now: datetime) -> bool:
        """Stopped, and Timestream still resumes it (no ResumableUntil, or one still ahead)."""
        return self.state == STOPPED and (self.resumable_until is None or datetime.fromisoformat(self.resumable_until) > now)

    def describe(self) -> str:
        return f"task {self.task_id} {self.state}" if self.task_id else "a task being created (no id recorded)"


@dataclass(frozen=True)
class Entry:
    """A load's ledger object as read, with the version a change must be conditioned on."""

    url: str
    key: LoadKey
    prefix: str
    rows: int
    attempts: tuple[Attempt, ...]
    version: str | None

    @property
    def latest(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None

    def to_json(self) -> dict[str, Any]:
        key = self.key
        load = {"database": key.database, "table": key.table, "stream": key.stream, "day": key.day}
        return {
            "load": {**load, "prefix": self.prefix, "rows": self.rows},
            "tasks": [attempt.__dict__ for attempt in self.attempts],
        }


def _now() -> datetime:
    return datetime.now(UTC)


class Ledger:
    """The ledger objects under ``root`` (a folder URL, local or S3), read and changed through ``storage``."""

    def __init__(self, storage: Storage, root: str, clock: Callable[[], datetime] = _now) -> None:
        self.storage, self.root, self.clock = storage, root.rstrip("/") + "/", clock

    def url(self, key: LoadKey) -> str:
        return join(self.root, key.path)

    def read(self, key: LoadKey) -> Entry | None:
        return self._read(self.url(key))

    def entries(self, database: str, table: str) -> list[Entry]:
        """Every load recorded for ``database.table``, in key order."""
        found = []
        for stored in self.storage.list(join(self.root, f"{database}/{table}/")):
            if stored.url.endswith(".json"):
                entry = self._read(stored.url)
                if entry is not None:
                    found.append(entry)
        return found

    def begin(self, key: LoadKey, prefix: str, rows: int, seen: Attempt | None) -> Entry:
        """Record a new task for the load as CREATING and return the entry; its token is the new attempt's.

        ``seen`` is the latest task the caller decided on; if the object holds another one by now (a
        concurrent command started a task), nothing is written and ``LedgerError`` says so.
        """

        def change(entry: Entry) -> Entry:
            if entry.latest != seen:
                raise LedgerError(
                    f"{entry.url}: {entry.latest.describe() if entry.latest else 'no task'} was recorded by another "
                    "command since this one read it; let that command finish, then run again"
                )
            attempt = Attempt(key.client_token(len(entry.attempts)), None, CREATING, self._stamp())
            return replace(entry, prefix=prefix, rows=rows, attempts=(*entry.attempts, attempt))

        return self._change(key, prefix, rows, change)

    def record(
        self, entry: Entry, client_token: str, state: str, task_id: str | None = None, resumable_until: str | None = None
    ) -> Entry:
        """Set the state (and the task id or ResumableUntil, when given) of the load's task with ``client_token``."""

        def change(current: Entry) -> Entry:
            if not any(attempt.client_token == client_token for attempt in current.attempts):
                raise LedgerError(f"{current.url}: holds no task with the token being recorded; it was changed by hand")
            attempts = tuple(
                replace(
                    attempt,
                    state=state,
                    task_id=task_id or attempt.task_id,
                    resumable_until=resumable_until or attempt.resumable_until,
                    updated_at=self._stamp(),
                )
                if attempt.client_token == client_token
                else attempt
                for attempt in current.attempts
            )
            return replace(current, attempts=attempts)

        return self._change(entry.key, entry.prefix, entry.rows, change)

    def _stamp(self) -> str:
        return self.clock().isoformat(timespec="seconds")

    def _change(self, key: LoadKey, prefix: str, rows: int, change: Callable[[Entry], Entry]) -> Entry:
        url = self.url(key)
        for _ in range(CHANGE_ATTEMPTS):
            current = self._read(url) or Entry(url, key, prefix, rows, (), None)
            changed = change(current)
            data = json.dumps(changed.to_json(), indent=1).encode("utf-8")
            try:
                version = self.storage.write_if(url, data, current.version)
            except WriteConflict:
                continue
            return replace(changed, version=version)
        raise LedgerError(f"{url}: changed by another command {CHANGE_ATTEMPTS} times while this one wrote it; run again")

    def _read(self, url: str) -> Entry | None:
        stored = self.storage.read_versioned(url)
        if stored is None:
            return None
        try:
            record = json.loads(stored.data)
            load = record["load"]
            key = LoadKey(load["database"], load["table"], load["stream"], load["day"])
            attempts = tuple(Attempt(**task) for task in record["tasks"])
            entry = Entry(url, key, str(load["prefix"]), int(load["rows"]), attempts, stored.version)
        except (ValueError, KeyError, TypeError) as error:
            raise LedgerError(
                f"{url}: not a batch-load ledger object ({type(error).__name__}: {error}); restore it from the bucket's "
                "versions or delete it (its load is then planned again)"
            ) from error
        if entry.url != self.url(key):
            raise LedgerError(f"{url}: records the load {key.path}, which belongs elsewhere; it was moved by hand")
        return entry
