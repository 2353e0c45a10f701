"""Which of the project's jobs ``cleanup`` may delete, and deleting them.

Only jobs carrying the project tag are considered, and only those none of whose runs is still
active (waiting, starting, running or stopping) are deleted: every run counts, not only the
latest, since an older run may still be going. A job never started is deleted only on request,
since it may be a run someone is about to start. The job of a schedule is never deleted here:
``unschedule`` removes it with its trigger.

Glue forgets runs (its run history keeps 90 days), so a job it shows no run of may have run long
ago. Such a job counts as ended when nothing about it is newer than that history: Glue created
and last changed it before, and its batch (the time in its ``batch`` tag and name) began before.
Its runs, if it had any, ended long since. The local registry keeps every run, so there an
empty history means never run.

Jobs keep the name they were created with: after ``project.prefix`` or a job's ``name_prefix``
changed, the project's earlier jobs are still found by their tags and are named with why their
name differs (``renamed``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from job_helpers.control.plan import BATCH_TAG, SCHEDULE_TAG
from job_helpers.control.renamed import earlier_prefix
from job_helpers.control.runs import Backend, JobActive, RunStatus

log = logging.getLogger(__name__)

REMOVED = "REMOVED"
WOULD_REMOVE = "WOULD REMOVE"
SKIPPED = "SKIPPED"
BATCH_TIME_FORMAT = "%Y%m%dT%H%M%S.%f%z"


@dataclass(frozen=True)
class CleanupResult:
    job_name: str
    action: str
    reason: str = ""
    # Why the job's name differs from what its job is named now (an earlier prefix), if it does.
    note: str = ""


@dataclass(frozen=True)
class Decision:
    job_name: str
    deletable: bool
    reason: str
    note: str = ""


def batch_time(batch: str | None) -> datetime | None:
    """When a batch began, from its id (``20261125T101500.123Z``); None for anything else."""
    try:
        return datetime.strptime((batch or "").replace("Z", "+0000"), BATCH_TIME_FORMAT)
    except ValueError:
        return None


def decide(
    job_name: str,
    runs: Sequence[RunStatus],
    include_never_run: bool,
    history: timedelta | None = None,
    changed: datetime | None = None,
    batched: datetime | None = None,
    now: datetime | None = None,
) -> tuple[bool, str]:
    """Whether a project job may be deleted, and why (or why not), from all of its runs.

    ``history`` is how long the backend keeps runs (None: for good), ``changed`` when the backend
    created or last modified the job and ``batched`` when its batch began: a job with no run in
    the history that was created, changed and batched before it has ended, whatever runs it had.
    """
    if not runs:
        last = max(changed, batched or changed) if changed is not None else None
        if history is not None and last is not None and last < (now or datetime.now(UTC)) - history:
            return True, (
                f"no run in Glue's {history.days}-day run history, and created, changed and batched before it "
                f"(last {last:%Y-%m-%d}): any run it had ended long ago"
            )
        if include_never_run:
            return True, "never run"
        return False, "never run; pass --include-never-run to delete it"
    active = sorted({run.state for run in runs if not run.ended})
    if active:
        return False, f"a run is still {' and '.join(active)}"
    oldest = datetime.min.replace(tzinfo=UTC)
    latest = max(runs, key=lambda run: run.started_on or oldest)
    return True, f"every run ended, the latest {latest.state}"


def decisions(
    backend: Backend,
    project_tags: Mapping[str, str],
    include_never_run: bool,
    name_prefixes: Mapping[str, str],
    now: datetime | None = None,
) -> list[Decision]:
    """What cleanup would do with each project job, in name order; ``name_prefixes`` (job key → prefix) names renamed ones."""
    jobs = backend.tagged_jobs(project_tags)
    runs = backend.job_runs(jobs)
    unrun = [name for name in jobs if not runs[name]]
    changed = backend.last_changed(unrun) if unrun and backend.run_history is not None else {}
    found = []
    for name in sorted(jobs):
        tags = jobs[name]
        deletable, reason = decide(
            name, runs[name], include_never_run, backend.run_history, changed.get(name), batch_time(tags.get(BATCH_TAG)), now
        )
        if SCHEDULE_TAG in tags:
            deletable, reason = False, f"started by a schedule; `make unschedule job={tags[SCHEDULE_TAG]}` removes it"
        found.append(Decision(name, deletable, reason, earlier_prefix(name, tags, name_prefixes) or ""))
    return found


def cleanup(
    backend: Backend,
    project_tags: Mapping[str, str],
    *,
    dry_run: bool,
    include_never_run: bool,
    name_prefixes: Mapping[str, str],
    on_result: Callable[[CleanupResult], None],
) -> list[CleanupResult]:
    """Delete (or, on a dry run, list) every deletable project job, in name order."""
    results = []
    for decision in decisions(backend, project_tags, include_never_run, name_prefixes):
        name, reason, note = decision.job_name, decision.reason, decision.note
        if not decision.deletable:
            result = CleanupResult(name, SKIPPED, reason, note)
        elif dry_run:
            result = CleanupResult(name, WOULD_REMOVE, reason, note)
        else:
            try:
                backend.delete_job(name)
            except JobActive as error:
                result = CleanupResult(name, SKIPPED, str(error), note)
            else:
                log.info("deleted job %s (%s)", name, reason)
                result = CleanupResult(name, REMOVED, reason, note)
        on_result(result)
        results.append(result)
    return results
