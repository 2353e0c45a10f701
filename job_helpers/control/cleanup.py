"""Which of the project's jobs ``cleanup`` may delete, and deleting them.

Only jobs carrying the project tag are considered, and only those none of whose runs is still
active (waiting, starting, running or stopping) are deleted: every run counts, not only the
latest, since an older run may still be going. A job never started is deleted only on request,
since it may be a run someone is about to start. The job of a schedule is never deleted here:
``unschedule`` removes it with its trigger.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from job_helpers.control.plan import SCHEDULE_TAG
from job_helpers.control.runs import Backend, JobActive, RunStatus

log = logging.getLogger(__name__)

REMOVED = "REMOVED"
WOULD_REMOVE = "WOULD REMOVE"
SKIPPED = "SKIPPED"


@dataclass(frozen=True)
class CleanupResult:
    job_name: str
    action: str
    reason: str = ""


def decide(job_name: str, runs: Sequence[RunStatus], include_never_run: bool) -> tuple[bool, str]:
    """Whether a project job may be deleted, and why (or why not), from all of its runs."""
    if not runs:
        if include_never_run:
            return True, "never run"
        return False, "never run; pass --include-never-run to delete it"
    active = sorted({run.state for run in runs if not run.ended})
    if active:
        return False, f"a run is still {' and '.join(active)}"
    oldest = datetime.min.replace(tzinfo=UTC)
    latest = max(runs, key=lambda run: run.started_on or oldest)
    return True, f"every run ended, the latest {latest.state}"


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
    runs = backend.job_runs(jobs)
    results = []
    for name in sorted(jobs):
        deletable, reason = decide(name, runs[name], include_never_run)
        if SCHEDULE_TAG in jobs[name]:
            deletable, reason = False, f"started by a schedule; `make unschedule job={jobs[name][SCHEDULE_TAG]}` removes it"
        if not deletable:
            result = CleanupResult(name, SKIPPED, reason)
        elif dry_run:
            result = CleanupResult(name, WOULD_REMOVE, reason)
        else:
            try:
                backend.delete_job(name)
            except JobActive as error:
                result = CleanupResult(name, SKIPPED, str(error))
            else:
                log.info("deleted job %s (%s)", name, reason)
                result = CleanupResult(name, REMOVED, reason)
        on_result(result)
        results.append(result)
    return results
