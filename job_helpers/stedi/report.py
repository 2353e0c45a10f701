"""What a STEDI job did, as one JSON object beside the data: read, rejected, excluded and written counts.

The pipeline summary and the tests read these reports instead of recounting the tables.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date

from job_helpers.storage import Storage, join

SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"


def scope_name(first: date | None, last: date | None) -> str:
    """``all`` for a whole-table run, ``<from>_<to>`` for a date-ranged one."""
    return "all" if first is None or last is None else f"{first.isoformat()}_{last.isoformat()}"


@dataclass
class JobReport:
    """Counts of one run. ``read`` and ``written`` are keyed by table URL."""

    job: str
    scope: str
    read: dict[str, int] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)
    rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    excluded: int = 0
    status: str = SUCCEEDED
    message: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def report_url(report_folder: str, scope: str) -> str:
    return join(report_folder, f"{scope}.json")


def write_report(storage: Storage, report_folder: str, report: JobReport) -> str:
    """Publish the report atomically at ``<report_folder><scope>.json``; returns its URL."""
    url = report_url(report_folder, report.scope)
    storage.write_text(url, report.to_json() + "\n")
    return url


def read_report(storage: Storage, report_folder: str, scope: str = "all") -> JobReport:
    return JobReport(**json.loads(storage.read_text(report_url(report_folder, scope))))
