"""``catchup``: start, as one batch, the days a job's schedule should have covered since a day and no succeeded run did.

The days due are those the schedule's firings up to now cover from ``--since`` on; those a
succeeded run report covers or a run is working on are left out, and the rest start in chunks of
the schedule's days per firing, tagged for-schedule so that ``status --schedule`` shows them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from job_helpers.control.backends import make_backend, make_scheduler
from job_helpers.control.batches import view
from job_helpers.control.batches.start import start_batch
from job_helpers.control.config import JobSpec
from job_helpers.control.context import CliContext
from job_helpers.control.failures import UsageError
from job_helpers.control.job_options import check_job_arguments
from job_helpers.control.output import TextConsole
from job_helpers.control.plan import (
    FOR_SCHEDULE_TAG,
    PlanError,
    check_batch_size,
    job_tags,
    new_batch_id,
    parse_date,
    parse_days,
    plan_days,
)
from job_helpers.control.schedule import Schedule
from job_helpers.control.scheduled_runs import active_days, due_since, missing_days, reported_days, schedule_now


@dataclass(frozen=True)
class CatchupRequest:
    """``catchup``'s options as given."""

    job: str
    since: str
    days_per_job: str | None = None
    wait: bool = False
    dry_run: bool = False
    json: bool = False
    yes: bool = False


def catchup(context: CliContext, request: CatchupRequest) -> int:
    settings = context.settings
    job = settings.job(request.job)
    check_job_arguments(settings, context.repo_root, [job.key], context.overrides)
    if request.json and not request.dry_run:
        raise UsageError("--json prints the plan: use it with --dry-run")
    schedule = _schedule(context, job)
    console = context.messages if request.json else context.console
    missing, days_per_job = _missing(context, console, job, schedule, request)
    if not missing:
        return view.print_json([]) if request.json else 0
    batch = new_batch_id()
    try:
        planned = plan_days(job, batch, missing, days_per_job)
        check_batch_size(len(planned), settings.max_jobs_per_batch, confirmed=request.yes or request.dry_run)
    except PlanError as error:
        raise UsageError(str(error)) from error
    if request.dry_run:
        view.print_plan(context.console, job.key, batch, planned, as_json=request.json)
        return 0
    tags = {**job_tags(settings.tags, batch, job.key), FOR_SCHEDULE_TAG: job.key}
    return start_batch(context, job, batch, planned, tags, request.wait)


def _schedule(context: CliContext, job: JobSpec) -> Schedule:
    schedule = make_scheduler(context).installed(job)
    if schedule is None:
        raise UsageError(
            f"{job.key} has no schedule: catchup starts the days its firings should have covered "
            f"(`make schedule job={job.key} cron=…` first; `make execute` runs any range)"
        )
    return schedule


def _missing(
    context: CliContext, console: TextConsole, job: JobSpec, schedule: Schedule, request: CatchupRequest
) -> tuple[list[date], int]:
    """The days due that no succeeded run covers and no run works on, said on ``console``; and the days per chunk."""
    now = schedule_now(schedule)
    try:
        since = parse_date(request.since, "--since", now.date())
        days_per_job = parse_days(request.days_per_job) if request.days_per_job else schedule.days_per_job
    except PlanError as error:
        raise UsageError(str(error)) from error
    due = due_since(schedule, since, now)
    if not due:
        console.print(
            f"Nothing is due: no firing of {job.key}'s schedule up to now covers a day from {since} on.", soft_wrap=True
        )
        return [], days_per_job
    settings = context.settings
    backend = make_backend(context)
    covered = reported_days(context.storage, settings.datasets["glue_assets"], job, due[0], due[-1])
    active = active_days(backend, settings.tags, job.key) & set(due)
    missing = missing_days(due, covered, active)
    console.print(
        f"{len(due)} day(s) due from {due[0]} to {due[-1]} ({schedule.where}): {len(covered)} covered by a succeeded run, "
        f"{len(active)} being worked on, {len(missing)} missing.",
        markup=False,
        soft_wrap=True,
    )
    return missing, days_per_job
