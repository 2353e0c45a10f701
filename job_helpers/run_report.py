"""What one job run did: the one report type, written by ``runtime.start_job`` for every job.

A run's report lives at ``<glue_assets>runs/<job name>/<run id>.json``; the run id makes it
one file per run, so a retry never overwrites or doubles the figures of an earlier attempt.
``status``, ``report`` and ``pipeline`` read it there. A job that also keeps a report beside its
data (STEDI, Embrace) names a folder, and the same report is written there as ``<scope>.json``.

Before a job publishes an output, its counts must add up (``reconcile``): what it read equals
what it wrote, rejected and dropped by a rule, each counted on its own (the written rows from the
files written aside), so rows lost or doubled on the way fail the run before anything is published.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from job_helpers.storage import Storage, StorageError, join

RUN_REPORTS_ARGUMENT = "--run-reports"
RUN_ID_ARGUMENT = "--JOB_RUN_ID"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"


def scope_name(first: date | None, last: date | None) -> str:
    """``all`` for a whole-table run, ``<from>_<to>`` for a date-ranged one."""
    return "all" if first is None or last is None else f"{first.isoformat()}_{last.isoformat()}"


class CountsDoNotReconcile(Exception):
    """What a run read does not equal what it wrote, rejected and dropped; nothing was published."""


@dataclass
class RunReport:
    """Counts of one run. ``read`` and ``written`` are keyed by the input or output they count.

    ``rejected`` counts records set aside, by reason; ``excluded`` records a rule left out
    (no consent, no match); ``failed`` names the units (days, archives) that failed, with why.
    ``published`` holds, per table published, its row delta (``publish.Published.summary``).
    ``details`` holds what only one job knows (Embrace's refused members, for example).
    """

    job: str = ""
    scope: str = "all"
    status: str = SUCCEEDED
    message: str = ""
    read: dict[str, int] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    excluded: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    published: dict[str, dict[str, Any]] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def records_read(self) -> int:
        return sum(self.read.values())

    @property
    def records_written(self) -> int:
        return sum(self.written.values())

    @property
    def records_rejected(self) -> int:
        return sum(self.rejected.values())

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> RunReport:
        data = json.loads(text)
        if isinstance(data.get("read"), int):
            # The flat counts runs wrote before this report type: status still shows them.
            return cls(read={"records": data["read"]}, written={"records": data.get("written", 0)})
        return cls(**data)


def reconcile(output: str, read: int, written: int, rejected: int = 0, dropped: Mapping[str, int] | None = None) -> None:
    """Fail unless ``read`` = ``written`` + ``rejected`` + every ``dropped`` count (by rule: excluded, duplicates…).

    Called before ``output`` is published, with each count taken on its own, so a mismatch means
    rows were lost or doubled between reading and writing.
    """
    dropped = dict(dropped or {})
    accounted = written + rejected + sum(dropped.values())
    if read != accounted:
        parts = ", ".join([f"{written:,} written", f"{rejected:,} rejected", *(f"{n:,} {why}" for why, n in dropped.items())])
        raise CountsDoNotReconcile(
            f"{output}: counts do not add up: {read:,} read but {accounted:,} accounted for ({parts}), "
            f"{read - accounted:+,} row(s) unexplained; nothing was published"
        )


def reports_prefix(glue_assets_url: str) -> str:
    return join(glue_assets_url, "runs/")


def report_url(prefix: str, job_name: str, run_id: str) -> str:
    return join(prefix, f"{job_name}/{run_id}.json")


def scope_report_url(folder: str, scope: str) -> str:
    return join(folder, f"{scope}.json")


def write_report(storage: Storage, url: str, report: RunReport) -> None:
    storage.write_text(url, report.to_json())


def read_report(storage: Storage, url: str) -> RunReport | None:
    """The run's report, or None when the run wrote none (a run that was killed, or is still running)."""
    try:
        return RunReport.from_json(storage.read_text(url))
    except StorageError:
        return None
