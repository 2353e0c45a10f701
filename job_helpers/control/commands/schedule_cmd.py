"""`schedule` and `unschedule`: run a date-ranged job every day over the days just ended.

The options are checked here; where the schedule goes (EventBridge Scheduler on aws, a printed
crontab line locally) is the profile's ``Scheduler`` (``control.schedulers``).
"""

from __future__ import annotations

import argparse

from job_helpers import relative_dates
from job_helpers.control.backends import make_scheduler
from job_helpers.control.context import CliContext
from job_helpers.control.cron_calendar import require_a_firing
from job_helpers.control.failures import UsageError
from job_helpers.control.job_options import check_job_arguments
from job_helpers.control.plan import FROM_ARGUMENT, PlanError, parse_date, parse_days
from job_helpers.control.schedule import MAX_DAYS_BACK, glue_cron, window_arguments


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
    today = relative_dates.now().date()
    try:
        require_a_firing(glue_cron(args.cron), today)
        days = parse_days(args.days_per_job or "1")
        arguments = window_arguments(int(lag), days)
        parse_date(arguments[FROM_ARGUMENT], "--lag-days plus --days-per-job: the window's first day", today)
    except PlanError as error:
        raise UsageError(str(error)) from error
    make_scheduler(context).install(job, args.cron, int(lag), days, arguments)
    return 0


def unschedule(args: argparse.Namespace, context: CliContext) -> int:
    make_scheduler(context).remove(context.settings.job(args.job))
    return 0
