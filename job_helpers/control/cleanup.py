"""Which of the project's jobs ``cleanup`` may delete, and deleting them.

Only jobs carrying the project tag are considered, and only those whose latest run has ended
are deleted: a job still running or waiting keeps its definition, and a job never started is
deleted only on request, since it may be a run someone is about to start.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Mapping

from job_helpers.control.runs import ENDED_STATES, Backend, RunStatus

log = logging.getLogger(__name__)

REMOVED = "REMOVED"
WOULD_REMOVE = "WOULD REMOVE"
SKIPPED = "SKIPPED"


@dataclass(frozen=True)
class CleanupResult:
    job_name: str
    action: str
    reason: str = ""


def decide(job_name: str, latest: RunStatus | None, include_never_run: bool) -> tuple[bool, str]:
    """Whether a project job may be deleted, and why (or why not)."""
    if latest is None:
        if include_never_run:
            return True, "never run"
        return False, "never run; pass --include-never-run to delete it"
    if latest.state in ENDED_STATES:
        return True, f"latest run {latest.state}"
    return False, f"latest run is {latest.state}"


def cleanup(
    backend: Backend,
    project_tags: Mapping[str, str],
    *,
    dry_run: bool,
    include_never_run: bool,
    on_result: Callable[[CleanupResult], None],
) -> list[CleanupResult]:
    """Delete (or, on a dry run, list) every deletable project job, in name order."""
    jobs = backend.tagged_jobs(project_tags)
    latest = backend.latest_runs(jobs)
    results = []
    for name in sorted(jobs):
        deletable, reason = decide(name, latest[name], include_never_run)
        if not deletable:
            result = CleanupResult(name, SKIPPED, reason)
        elif dry_run:
            result = CleanupResult(name, WOULD_REMOVE, reason)
        else:
            backend.delete_job(name)
            log.info("deleted job %s (%s)", name, reason)
            result = CleanupResult(name, REMOVED, reason)
        on_result(result)
        results.append(result)
    return results
