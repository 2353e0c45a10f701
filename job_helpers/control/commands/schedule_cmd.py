"""`schedule` and `unschedule`: run a date-ranged job every day over the days just ended.

On aws one job is created for the schedule and a tagged Glue SCHEDULED trigger starts it with
relative dates; both carry the ``schedule`` tag, which ``cleanup`` leaves alone. Locally nothing
is installed: the command prints the crontab line that runs the same ``execute``.
"""

from __future__ import annotations

import argparse

from botocore.exceptions import ClientError

from job_helpers.aws import client
from job_helpers.cli import CliContext, UsageError
from job_helpers.control import output
from job_helpers.control.build import BuildMissing, current_artifact
from job_helpers.control.config import refuse_examples
from job_helpers.control.job_options import check_job_arguments
from job_helpers.control.plan import SCHEDULE_TAG, PlanError, parse_days
from job_helpers.control.schedule import (
    MAX_DAYS_BACK,
    crontab_line,
    schedule_name,
    schedule_tags,
    trigger_request,
    window_arguments,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    command = subparsers.add_parser(
        "schedule",
        help="run a date-ranged job every day over the days ending --lag-days before the run date",
        description=(
            "aws: creates one job for the schedule and a Glue SCHEDULED trigger (cron in UTC) that starts it "
            "with --from-date/--to-date as relative dates (today-N), both tagged; cleanup never deletes them. "
            "local: prints the crontab line running the same execute, and installs nothing."
        ),
    )
    command.add_argument("--job", required=True, metavar="KEY", help="date-ranged job key from config.yml")
    command.add_argument(
        "--cron",
        required=True,
        help="Glue cron, six fields, e.g. '0 3 * * ? *': in UTC on aws; locally the crontab line it becomes "
        "fires in the machine's time zone and counts its dates from today there",
    )
    command.add_argument(
        "--lag-days", default="1", metavar="N", help="the window ends N days before the run date (default 1: yesterday)"
    )
    command.add_argument("--days-per-job", default="1", metavar="N", help="days in the window (default 1)")
    command.set_defaults(handler=schedule)

    command = subparsers.add_parser("unschedule", help="remove a job's schedule: its trigger and its job")
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
        days = parse_days(args.days_per_job or "1")
        arguments = window_arguments(int(lag), days)
        if settings.profile == "local":
            return _print_crontab_line(context, crontab_line(args.cron, context.repo_root, job, arguments, days))
        request = trigger_request(job, args.cron, arguments, schedule_tags(settings.tags, job))
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
    name = schedule_name(job)
    if jobs.trigger(name) is not None:
        raise UsageError(f"{job.key} is already scheduled (trigger {name}): `make unschedule job={job.key}` first")
    definition = job_definition(job, artifact, name, settings.glue_role_arn or "", settings.glue_version or "", request["Tags"])
    try:
        jobs.create_job(definition)
    except ClientError as error:
        raise UsageError(
            f"could not create the schedule's job {name}: {error}; `make unschedule job={job.key}` clears a leftover"
        ) from error
    try:
        jobs.create_trigger(request)
    except ClientError:
        jobs.delete_job(name)
        raise
    console = context.console
    console.print(
        f"Scheduled {job.key}: trigger {name} ({request['Schedule']}, UTC) starts job {name}", markup=False, soft_wrap=True
    )
    console.print(
        f"  every run covers {arguments['--from-date']} to {arguments['--to-date']}, resolved when the run starts",
        markup=False,
        soft_wrap=True,
    )
    return 0


def _print_crontab_line(context: CliContext, line: str) -> int:
    """The line alone on standard output, so `make schedule … >> mycrontab` works; the advice on standard error."""
    context.messages.print(
        "Nothing installed. Add this line with `crontab -e`. It fires in the machine's time zone, and its relative "
        "dates count from today in that zone (Glue's trigger reads both in UTC):",
        soft_wrap=True,
    )
    output.data(line)
    return 0


def unschedule(args: argparse.Namespace, context: CliContext) -> int:
    settings = context.settings
    job = settings.job(args.job)
    if settings.profile == "local":
        context.console.print(
            f"Nothing is installed locally: remove the `make execute job={job.key}` line with `crontab -e`.", soft_wrap=True
        )
        return 0
    from job_helpers.control.glue_backend import GlueJobs, glue_client

    session = context.boto3_session
    jobs = GlueJobs(glue_client(session), client("sts", session))
    name = schedule_name(job)
    ours = {**settings.tags, SCHEDULE_TAG: job.key}
    removed = []
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
            f"{job.key} has no schedule of this project (no tagged trigger or job {name})", markup=False, soft_wrap=True
        )
    return 0


def _carries(tags: dict[str, str], wanted: dict[str, str]) -> bool:
    return all(tags.get(key) == value for key, value in wanted.items())
