"""`schedule` and `unschedule`: run a date-ranged job every day over the days just ended.

On aws one job is created for the schedule (tagged ``schedule``, which ``cleanup`` leaves alone)
and an EventBridge Scheduler schedule in the project's group starts it through StartJobRun with
relative dates and the firing's ``--logical-time``. A Glue trigger an older ``schedule`` made is
replaced (it passed no logical time). Locally nothing is installed: the command prints the
crontab line running the same ``execute`` and records the schedule for ``status`` and ``catchup``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from job_helpers import relative_dates
from job_helpers.aws import client
from job_helpers.control import output
from job_helpers.control.build import BuildMissing, current_artifact
from job_helpers.control.config import JobSpec, Settings, refuse_examples
from job_helpers.control.context import CliContext
from job_helpers.control.cron_calendar import require_a_firing
from job_helpers.control.failures import UsageError
from job_helpers.control.installed_schedules import LocalSchedules, SchedulerSchedules, aws_schedule
from job_helpers.control.job_options import check_job_arguments
from job_helpers.control.plan import SCHEDULE_TAG, PlanError, parse_days
from job_helpers.control.schedule import (
    MAX_DAYS_BACK,
    Schedule,
    crontab_line,
    glue_cron,
    schedule_group,
    schedule_name,
    schedule_request,
    schedule_tags,
    scheduler_name,
    window_arguments,
)

if TYPE_CHECKING:
    from job_helpers.control.glue_backend import GlueJobs


def register(subparsers: argparse._SubParsersAction) -> None:
    command = subparsers.add_parser(
        "schedule",
        help="run a date-ranged job every day over the days ending --lag-days before each firing's day",
        description=(
            "aws: creates one job for the schedule and an EventBridge Scheduler schedule (cron in UTC) in the "
            "project's schedule group that starts it with --from-date/--to-date as relative dates and the "
            "firing's time as --logical-time, from which the job counts them; the job is tagged and cleanup "
            "never deletes it. A Glue trigger an older schedule made is replaced. local: prints the crontab line "
            "running the same execute with the time cron fired it, records the schedule for status and catchup, "
            "and installs nothing."
        ),
    )
    command.add_argument("--job", required=True, metavar="KEY", help="date-ranged job key from config.yml")
    command.add_argument(
        "--cron",
        required=True,
        help="six-field cron, e.g. '0 3 * * ? *': in UTC on aws; locally the crontab line it becomes "
        "fires in the machine's time zone and counts its dates from the local day it fired on",
    )
    command.add_argument(
        "--lag-days", default="1", metavar="N", help="the window ends N days before the firing's day (default 1: yesterday)"
    )
    command.add_argument("--days-per-job", default="1", metavar="N", help="days in the window (default 1)")
    command.set_defaults(handler=schedule)

    command = subparsers.add_parser("unschedule", help="remove a job's schedule and the job it starts")
    command.add_argument("--job", required=True, metavar="KEY", help="job key from config.yml")
    command.set_defaults(handler=unschedule)


def schedule(args: argparse.Namespace, context: CliContext) -> int:
    settings = context.settings
    job = settings.job(args.job)
    if not job.date_ranged:
        raise UsageError(f"job {job.key!r} is not date-ranged: a schedule passes it a window of days")
    check_job_arguments(settings, context.repo_root, [job.key], context.overrides)
    lag = (args.lag_days or "").strip()
    if not lag.isdigit() or len(lag) > len(str(MAX_DAYS_BACK)):
        raise UsageError(f"--lag-days {args.lag_days!r}: give a whole number of days, 0 to {MAX_DAYS_BACK}")
    try:
        require_a_firing(glue_cron(args.cron), relative_dates.now().date())
        days = parse_days(args.days_per_job or "1")
        arguments = window_arguments(int(lag), days)
        if settings.profile == "local":
            line = crontab_line(args.cron, context.repo_root, job, arguments, days)
            cron = glue_cron(args.cron).text
            return _print_crontab_line(context, line, LocalSchedules(settings.lake), job, cron, int(lag), days)
        if not settings.scheduler_role_arn:
            raise UsageError(
                "profiles.aws.scheduler_role_arn is empty: set SCHEDULER_ROLE_ARN to the role EventBridge Scheduler "
                "starts the job as (make stack creates it; make policy who=scheduler prints its policy)"
            )
        request = schedule_request(job, args.cron, arguments, schedule_group(settings), settings.scheduler_role_arn)
    except PlanError as error:
        raise UsageError(str(error)) from error
    refuse_examples(settings)
    try:
        artifact = current_artifact(context.build_dir, settings.datasets["glue_assets"], context.storage)
        artifact.script_url(job.script)
    except BuildMissing as error:
        raise UsageError(str(error)) from error
    from job_helpers.control.glue_backend import GlueJobs, glue_client, job_definition

    session = context.boto3_session
    jobs = GlueJobs(glue_client(session), client("sts", session))
    schedules = SchedulerSchedules(client("scheduler", session), request["GroupName"])
    name = schedule_name(job)
    where = f"{request['GroupName']}/{request['Name']}"
    if schedules.get(request["Name"]) is not None:
        raise UsageError(f"{job.key} is already scheduled (schedule {where}): `make unschedule job={job.key}` first")
    if not schedules.group_exists():
        raise UsageError(
            f"the project's schedule group {request['GroupName']} does not exist: `make stack profile=aws` creates it "
            "(with the scheduler role)"
        )
    console = context.console
    replaced = _remove_trigger(jobs, settings, job)
    if replaced:
        console.print(
            f"Replaced {job.key}'s Glue trigger {name} and its job: their runs counted from the day they started, "
            "not from their firing; the run reports stay, and catchup reads them",
            markup=False,
            soft_wrap=True,
        )
    tags = schedule_tags(settings.tags, job)
    definition = job_definition(job, artifact, name, settings.glue_role_arn or "", settings.glue_version or "", tags)
    try:
        jobs.create_job(definition)
    except ClientError as error:
        raise UsageError(
            f"could not create the schedule's job {name}: {error}; `make unschedule job={job.key}` clears a leftover"
        ) from error
    try:
        schedules.create(request)
    except ClientError:
        jobs.delete_job(name)
        raise
    console.print(
        f"Scheduled {job.key}: schedule {where} ({request['ScheduleExpression']}, UTC) starts job {name}",
        markup=False,
        soft_wrap=True,
    )
    console.print(
        f"  each firing covers {arguments['--from-date']} to {arguments['--to-date']}, counted from the UTC day it "
        "was meant for (--logical-time), however late or often it runs",
        markup=False,
        soft_wrap=True,
    )
    return 0


def _remove_trigger(jobs: GlueJobs, settings: Settings, job: JobSpec) -> bool:
    """Delete the Glue trigger (and its job) an older ``schedule`` made, if this project's; True when one was removed."""
    name = schedule_name(job)
    ours = {**settings.tags, SCHEDULE_TAG: job.key}
    if jobs.trigger(name) is None:
        return False
    if not _carries(jobs.trigger_tags(name), ours):
        raise UsageError(f"a Glue trigger named {name} exists without this project's tags {ours}: rename or remove it first")
    jobs.delete_trigger(name)
    if name in set(jobs.job_names(ours)) and _carries(jobs.job_tags(name), ours):
        jobs.delete_job(name)
    return True


def _print_crontab_line(
    context: CliContext, line: str, schedules: LocalSchedules, job: JobSpec, cron: str, lag: int, days: int
) -> int:
    """The line alone on standard output, so `make schedule … >> mycrontab` works; the advice on standard error."""
    replaced = schedules.get(job.key) is not None
    schedules.save(job.key, cron, lag, days, relative_dates.now())
    context.messages.print(
        "Nothing installed. Add this line with `crontab -e`. It fires in the machine's time zone and passes the "
        "local time it fired as the batch's logical time, from whose day its relative dates count (EventBridge "
        f"Scheduler fires and counts in UTC). Recorded in {schedules.path(job.key)} for status and catchup"
        + ("; it replaces the earlier record, so remove the earlier line." if replaced else "."),
        markup=False,
        soft_wrap=True,
    )
    output.data(line)
    return 0


def unschedule(args: argparse.Namespace, context: CliContext) -> int:
    settings = context.settings
    job = settings.job(args.job)
    if settings.profile == "local":
        recorded = LocalSchedules(settings.lake).delete(job.key)
        context.console.print(
            ("Removed the record of the schedule. " if recorded else "")
            + f"Nothing is installed locally: remove the `make execute job={job.key}` line with `crontab -e`.",
            soft_wrap=True,
        )
        return 0
    from job_helpers.control.glue_backend import GlueJobs, glue_client

    session = context.boto3_session
    jobs = GlueJobs(glue_client(session), client("sts", session))
    name = schedule_name(job)
    ours = {**settings.tags, SCHEDULE_TAG: job.key}
    removed = []
    try:
        schedules = SchedulerSchedules(client("scheduler", session), schedule_group(settings))
        if schedules.get(scheduler_name(job)) is not None:
            schedules.delete(scheduler_name(job))
            removed.append(f"schedule {schedules.group}/{scheduler_name(job)}")
    except PlanError as error:
        raise UsageError(str(error)) from error
    if jobs.trigger(name) is not None and _carries(jobs.trigger_tags(name), ours):
        jobs.delete_trigger(name)
        removed.append(f"trigger {name}")
    if name in set(jobs.job_names(ours)) and _carries(jobs.job_tags(name), ours):
        jobs.delete_job(name)
        removed.append(f"job {name}")
    if removed:
        context.console.print(f"Unscheduled {job.key}: removed {' and '.join(removed)}", markup=False, soft_wrap=True)
    else:
        context.console.print(
            f"{job.key} has no schedule of this project (no schedule, tagged trigger or job {name})", markup=False, soft_wrap=True
        )
    return 0


def installed_schedule(context: CliContext, job: JobSpec) -> Schedule | None:
    """The job's schedule as installed: locally the record ``schedule`` made, on aws its EventBridge
    Scheduler schedule (or the Glue trigger of an older ``schedule``); None when it has none."""
    settings = context.settings
    try:
        if settings.profile == "local":
            return LocalSchedules(settings.lake).get(job.key)
        from job_helpers.control.glue_backend import GlueJobs, glue_client

        session = context.boto3_session
        schedules = SchedulerSchedules(client("scheduler", session), schedule_group(settings))
        jobs = GlueJobs(glue_client(session), client("sts", session))
        return aws_schedule(schedules, jobs, job.key, scheduler_name(job))
    except PlanError as error:
        raise UsageError(str(error)) from error


def _carries(tags: dict[str, str], wanted: dict[str, str]) -> bool:
    return all(tags.get(key) == value for key, value in wanted.items())
