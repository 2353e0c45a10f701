"""`execute`, `status`, `retry`, `report`, `catchup` and `cleanup`: their options, and a handler that passes them on.

The same commands work on both profiles: on aws every chunk is a Glue job, locally a process
started by a local runner and recorded in the registry under the lake root; ``--runner local``
on aws runs the chunks as local processes too, against the profile's S3 locations. The use cases
(planning, checks, starting, waiting, and what they show) live in ``control.batches``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import fields
from typing import Any

from job_helpers.control.batches.catchup import CatchupRequest, catchup
from job_helpers.control.batches.cleanup_jobs import CleanupRequest, cleanup_jobs
from job_helpers.control.batches.execute import ExecuteRequest, execute
from job_helpers.control.batches.retry import RetryRequest, retry
from job_helpers.control.batches.status import StatusRequest, status, write_report
from job_helpers.control.context import CliContext
from job_helpers.control.local_on_aws import RUNNERS
from job_helpers.control.number_options import ascii_whole_number

# Where "today" is for relative dates: UTC, or the machine's time zone (a crontab line's).
DATE_ZONES = ("utc", "local")
# Each command's use case, and the request its options fill (an option the command lacks keeps the default).
USE_CASES: dict[str, tuple[Callable[[CliContext, Any], int], type]] = {
    "execute": (execute, ExecuteRequest),
    "status": (status, StatusRequest),
    "retry": (retry, RetryRequest),
    "report": (write_report, StatusRequest),
    "catchup": (catchup, CatchupRequest),
    "cleanup": (cleanup_jobs, CleanupRequest),
}


def register(subparsers: argparse._SubParsersAction) -> None:
    execute = subparsers.add_parser(
        "execute",
        help="create and start one job per chunk of a date range",
        description=(
            "Split --from..--to into chunks of at most --days-per-job days and create and start one "
            "job per chunk, named <name_prefix>-<batch>-<from>-<to> and tagged with the project tag, "
            "the batch id and the job key. The batch id is the UTC start time with milliseconds, e.g. "
            "20261125T101500.123Z. A job that is not date-ranged runs once without dates: give it "
            "none of --from, --to and --days-per-job (an empty value counts as not given, as the "
            "Makefile passes all three). Bad input exits with status 2 and creates nothing."
        ),
    )
    execute.add_argument("--job", required=True, metavar="KEY", help="job key from config.yml")
    execute.add_argument(
        "--from",
        dest="start",
        metavar="DATE",
        help="first day: YYYY-MM-DD, today, yesterday or today-N in UTC (date-ranged jobs only)",
    )
    execute.add_argument(
        "--to", dest="end", metavar="DATE", help="last day, inclusive, in the same forms (date-ranged jobs only)"
    )
    execute.add_argument(
        "--days-per-job", dest="days_per_job", metavar="N", help="days per chunk (date-ranged jobs only; default 1)"
    )
    execute.add_argument(
        "--dates-in",
        dest="dates_in",
        type=str.lower,
        choices=DATE_ZONES,
        default="utc",
        help="the zone whose today relative dates count from: utc (default) or local, this machine's "
        "time zone, as a crontab line that make schedule prints fires in",
    )
    execute.add_argument(
        "--logical-time",
        dest="logical_time",
        metavar="TIME",
        help="the time a schedule's firing was meant for, with its offset (the crontab line make schedule prints "
        "passes it): relative dates count from its day, and the batch is the schedule's (status --schedule)",
    )
    execute.add_argument("--wait", action="store_true", help="show progress until every run ends, then a summary")
    execute.add_argument(
        "--dry-run", action="store_true", help="print the plan and create nothing (no build or credentials needed)"
    )
    execute.add_argument("--json", action="store_true", help="with --dry-run: print the plan as a JSON array")
    execute.add_argument("--yes", action="store_true", help="start a batch of more jobs than project.max_jobs_per_batch")
    _add_runner(execute)
    execute.add_argument(
        "--execution-class",
        dest="execution_class",
        type=str.upper,
        metavar="STANDARD|FLEX",
        help="Glue execution class of this batch's jobs (default: the job's execution_class, else STANDARD)",
    )
    execute.set_defaults(handler=run)

    status = subparsers.add_parser(
        "status",
        help="summary of a batch's runs (the latest batch by default)",
        description=(
            "Reads every run of the jobs tagged with the batch id: per chunk its state, attempts, duration, "
            "DPU-hours, records read and written and error, then the batch's cost and where each failure's log is."
        ),
    )
    status.add_argument("--batch", metavar="ID", help="batch id printed by execute (default: the latest batch)")
    _add_schedule(status)
    _add_runner(status)
    status.add_argument("--json", action="store_true", help="print the summary as JSON (nothing else on standard output)")
    status.add_argument(
        "--log-lines",
        type=_log_lines,
        default=0,
        metavar="N",
        help="under each failed chunk, the last N lines of its log (Glue: the driver's output, with the traceback)",
    )
    status.set_defaults(handler=run)

    again = subparsers.add_parser(
        "retry",
        help="start again the chunks of a batch whose latest run failed",
        description=(
            "Starts one new run of each chunk of the batch whose latest run ended FAILED, ERROR, TIMEOUT or "
            "STOPPED, on the job the batch created (same build, same arguments). Succeeded and still "
            "active chunks are left alone, and so is a chunk whose run report says it succeeded. Each "
            "chunk is claimed before it starts, so two retries at once start it once."
        ),
    )
    again.add_argument("--batch", metavar="ID", help="batch id printed by execute (default: the latest batch)")
    _add_schedule(again)
    again.add_argument("--wait", action="store_true", help="show progress until every new run ends, then a summary")
    again.add_argument("--json", action="store_true", help="print the started runs (and the summary) as JSON")
    again.set_defaults(handler=run)

    page = subparsers.add_parser(
        "report",
        help="write a batch's timeline, DPU-hours and failures as one HTML file under build/reports/",
        description="A self-contained page (inline CSS and SVG, nothing fetched) drawn from the same data as status --json.",
    )
    page.add_argument("--batch", metavar="ID", help="batch id printed by execute (default: the latest batch)")
    _add_schedule(page)
    page.set_defaults(handler=run)

    catch = subparsers.add_parser(
        "catchup",
        help="start the days a job's schedule should have covered since a date but no succeeded run covers",
        description=(
            "Compares the days the schedule's firings up to now cover (its cron and window, from --since on) with "
            "the days covered by succeeded run reports of the job (any run: a firing, a retry, a catch-up, a "
            "backfill), leaves out days a run is still working on, and starts the rest as one batch tagged "
            "for-schedule, in chunks of the schedule's days per firing: status --schedule then shows them with "
            "the firings, and retry works on them. Nothing missing starts nothing."
        ),
    )
    catch.add_argument("--job", required=True, metavar="KEY", help="the scheduled job's key from config.yml")
    catch.add_argument(
        "--since",
        required=True,
        metavar="DATE",
        help="first day to check: YYYY-MM-DD, today, yesterday or today-N (where the schedule fires: UTC on aws)",
    )
    catch.add_argument("--days-per-job", dest="days_per_job", metavar="N", help="days per chunk (default: the schedule's)")
    catch.add_argument("--wait", action="store_true", help="show progress until every run ends, then a summary")
    catch.add_argument("--dry-run", action="store_true", help="print the missing days and the plan; start nothing")
    catch.add_argument("--json", action="store_true", help="with --dry-run: print the plan as a JSON array")
    catch.add_argument("--yes", action="store_true", help="start a batch of more jobs than project.max_jobs_per_batch")
    catch.set_defaults(handler=run)

    clean = subparsers.add_parser(
        "cleanup",
        help="delete the project's jobs whose latest run has ended",
        description=(
            "Considers only jobs carrying the project tag. Jobs with a run still waiting or running are "
            "skipped; jobs never started are kept unless --include-never-run is given."
        ),
    )
    clean.add_argument("--dry-run", action="store_true", help="list what would be removed; delete nothing")
    clean.add_argument("--include-never-run", action="store_true", help="also delete jobs that were never started")
    _add_runner(clean)
    clean.add_argument("--json", action="store_true", help="print the counts and one entry per job as JSON (nothing else)")
    clean.set_defaults(handler=run)


def _add_schedule(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--schedule",
        metavar="KEY",
        help="the runs of job KEY's schedule instead of a batch: one chunk per range of days its firings, retries "
        "and catch-ups covered, and the days still missing",
    )


def _add_runner(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runner",
        choices=RUNNERS,
        help="where the chunks run: glue (the aws default) or local processes (the local profile always; "
        "on aws against its S3 locations, with their own registry)",
    )


def run(args: argparse.Namespace, context: CliContext) -> int:
    use_case, request = USE_CASES[args.command]
    values = {field.name: getattr(args, field.name) for field in fields(request) if hasattr(args, field.name)}
    return use_case(context, request(**values))


def _log_lines(text: str) -> int:
    """--log-lines: a whole number from 1 to 10,000 (GetLogEvents returns at most 10,000 events)."""
    lines = ascii_whole_number(text)
    if lines is None or not 1 <= lines <= 10_000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of lines from 1 to 10000")
    return lines
