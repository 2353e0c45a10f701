"""``execute``: plan one job's date range as chunks, print the plan (``--dry-run``) or start it as a batch.

Everything is checked before anything is created: the job and its ``--set`` arguments, the
execution class, the runner, the dates (relative ones resolved once, from UTC's today, this
machine's or a schedule firing's logical time) and the batch's size.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from job_helpers.control.backends import runner_of
from job_helpers.control.batches import view
from job_helpers.control.batches.start import start_batch
from job_helpers.control.config import JobSpec, execution_class_problem
from job_helpers.control.context import CliContext
from job_helpers.control.failures import UsageError
from job_helpers.control.job_options import check_job_arguments
from job_helpers.control.plan import FOR_SCHEDULE_TAG, PlanError, PlannedRun, check_batch_size, job_tags, new_batch_id, plan_runs
from job_helpers.relative_dates import NotADate, local_today, logical_day, utc_today


@dataclass(frozen=True)
class ExecuteRequest:
    """``execute``'s options as given (an empty date option counts as not given)."""

    job: str
    start: str | None = None
    end: str | None = None
    days_per_job: str | None = None
    dates_in: str = "utc"
    logical_time: str | None = None
    wait: bool = False
    dry_run: bool = False
    json: bool = False
    yes: bool = False
    runner: str | None = None
    execution_class: str | None = None


def execute(context: CliContext, request: ExecuteRequest) -> int:
    job = _checked_job(context, request)
    logical_time = (request.logical_time or "").strip()
    batch = new_batch_id()
    planned = _plan(context, job, batch, request, logical_time)
    given = (("--from", request.start), ("--to", request.end))
    view.print_resolved(context.messages if request.json else context.console, given, request.dates_in, logical_time, planned)
    if request.dry_run:
        view.print_plan(context.console, job.key, batch, planned, as_json=request.json)
        return 0
    tags = job_tags(context.settings.tags, batch, job.key)
    if logical_time:
        tags[FOR_SCHEDULE_TAG] = job.key
    return start_batch(context, job, batch, planned, tags, request.wait, request.runner)


def _checked_job(context: CliContext, request: ExecuteRequest) -> JobSpec:
    """The job, with ``--execution-class`` applied, once its arguments, the options and the runner are checked."""
    settings = context.settings
    job = settings.job(request.job)
    check_job_arguments(settings, context.repo_root, [job.key], context.overrides)
    if request.execution_class:
        problem = execution_class_problem(request.execution_class, job.worker_type)
        if problem:
            raise UsageError(f"--execution-class: {problem}")
        job = replace(job, execution_class=request.execution_class)
    if request.json and not request.dry_run:
        raise UsageError("--json prints the plan: use it with --dry-run")
    runner_of(context, request.runner)
    return job


def _plan(context: CliContext, job: JobSpec, batch: str, request: ExecuteRequest, logical_time: str) -> list[PlannedRun]:
    try:
        today = _today(request.dates_in, logical_time)
    except NotADate as error:
        raise UsageError(f"--logical-time: {error}") from error
    try:
        if logical_time and not job.date_ranged:
            raise PlanError(
                f"--logical-time names a schedule's firing, which passes a window of days: {job.key} is not date-ranged"
            )
        planned = plan_runs(
            job, batch, request.start or None, request.end or None, request.days_per_job or None, today, logical_time
        )
        check_batch_size(len(planned), context.settings.max_jobs_per_batch, confirmed=request.yes or request.dry_run)
    except PlanError as error:
        raise UsageError(str(error)) from error
    return planned


def _today(dates_in: str, logical_time: str) -> date:
    """The day relative dates count from: the logical time's, else today in UTC or (``--dates-in local``) here."""
    if not logical_time:
        return local_today() if dates_in == "local" else utc_today()
    if dates_in == "local":
        raise UsageError("--logical-time carries its own zone (its offset): drop --dates-in")
    return logical_day(logical_time)
