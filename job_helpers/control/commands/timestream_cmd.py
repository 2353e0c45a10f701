"""`timestream-load` and `monitor`: batch loads of the embrace_dedupe output into Amazon Timestream.

Both keep the ledger (``<embrace.timestream_reports>ledger/``, see ``timestream_ledger``) and exit 1
naming every load whose task failed or stopped, so a script or schedule sees what a person would.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from rich.table import Table

from job_helpers.aws import client
from job_helpers.control.config import ConfigError, refuse_examples
from job_helpers.control.context import CliContext
from job_helpers.control.failures import Failure, UsageError
from job_helpers.control.number_options import ascii_whole_number
from job_helpers.embrace.archives import Selection
from job_helpers.embrace.settings import TimestreamSettings
from job_helpers.embrace.timestream_ledger import ACTIVE, CREATING, SUCCEEDED, Attempt, Entry, Ledger, LedgerError, LoadKey
from job_helpers.embrace.timestream_load import (
    AVAILABILITY,
    CREATE,
    TABLE_ACTIVE_TASKS,
    BatchLoads,
    DayLoad,
    LoadError,
    Outcome,
    check_target,
    estimate_cost,
    notify_slack,
    plan_loads,
)
from job_helpers.relative_dates import day_option
from job_helpers.storage import join

# Said in --help of both commands: a new account cannot use them.
CLOSED = (
    "Amazon Timestream for LiveAnalytics is closed to new customers since 2025-06-20 "
    f"({AVAILABILITY}); accounts that never used it cannot load into it. The same rows are in the Parquet "
    "table embrace_clean, which Athena queries (make ddl, make query)."
)


LEDGER_FOLDER = "ledger/"


def _max_active(text: str) -> int:
    value = ascii_whole_number(text) or 0
    if not 1 <= value <= TABLE_ACTIVE_TASKS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of tasks from 1 to {TABLE_ACTIVE_TASKS} (a table holds at most "
            f"{TABLE_ACTIVE_TASKS} active batch loads)"
        )
    return value


def register(subparsers: argparse._SubParsersAction) -> None:
    load = subparsers.add_parser(
        "timestream-load",
        help="create one Timestream batch-load task per stream and day, a few at a time, recorded in a ledger",
        description="Creates one Timestream batch-load task per stream and day of the embrace_dedupe output (every export's "
        "readings of the day, each once), "
        "after checking that the database and table can be reached, never more than --max-active active at once. "
        "Each task is recorded in the ledger beside the batch-load reports first: a rerun skips the days whose task "
        "succeeded and never starts a second task for one still running or stopped. Exits 1 naming the days whose "
        "task failed or stopped. " + CLOSED,
    )
    load.add_argument(
        "--from", dest="first", required=True, type=day_option, help="first day: YYYY-MM-DD, today, yesterday or today-N"
    )
    load.add_argument(
        "--to", dest="last", required=True, type=day_option, help="last day: YYYY-MM-DD, today, yesterday or today-N"
    )
    load.add_argument("--streams", default="all", help="acc,eda,temp (any of them) or all")
    load.add_argument(
        "--max-active",
        type=_max_active,
        default=TABLE_ACTIVE_TASKS,
        help=f"create a task only while fewer than this many are active on the table (1-{TABLE_ACTIVE_TASKS}, default "
        f"{TABLE_ACTIVE_TASKS}: Timestream's limit per table; an account holds at most 10)",
    )
    load.add_argument(
        "--retry-failed",
        action="store_true",
        help="start a new task for the days whose task FAILED (or stopped for good): they are loaded and billed in "
        "full again; read the task's report first",
    )
    load.add_argument(
        "--dry-run", action="store_true", help="print each day, its ledger state, rows and the cost estimate; create nothing"
    )
    load.set_defaults(handler=run_load)
    monitor = subparsers.add_parser(
        "monitor",
        help="follow this project's Timestream batch loads until none is active; exit 1 naming failed or stopped ones",
        description="Follows the batch-load tasks the ledger records for the configured database and table (no other "
        "task) until none is active, then names those that failed or stopped and exits 1 if there are any. " + CLOSED,
    )
    monitor.add_argument(
        "--resume",
        action="store_true",
        help="resume each stopped task still resumable (ResumeBatchLoadTask); Timestream advises resuming only while "
        "the database has fewer than 250 active magnetic partitions (CloudWatch ActiveMagneticStorePartitions)",
    )
    monitor.set_defaults(handler=run_monitor)


def _options(context: CliContext) -> TimestreamSettings:
    """``embrace.timestream`` (parsed with config.yml)."""
    embrace = context.settings.section("embrace")
    if embrace is None:
        raise ConfigError("config.yml has no embrace: section; add embrace.timestream (database, table)")
    return embrace.timestream


def _client(context: CliContext):
    return client("timestream-write", context.boto3_session)


def _batch_loads(context: CliContext, options: TimestreamSettings, timestream: Any = None) -> BatchLoads:
    """The table's batch loads with the ledger beside the reports; no client for a dry run, which reads the ledger only."""
    reports = context.settings.datasets["embrace.timestream_reports"]
    ledger = Ledger(context.storage, join(reports, LEDGER_FOLDER))
    return BatchLoads(timestream, ledger, options.database, options.table, reports)


def _task(attempt: Attempt | None) -> str:
    """``<task id> <state>`` of a ledger attempt, or nothing for a load never tried."""
    if attempt is None:
        return ""
    return f"{attempt.task_id or '(being created)'} {attempt.state}"


def _day(load: DayLoad | LoadKey) -> str:
    return f"{load.stream}/{load.day}"


def _rows(load: DayLoad, entry: Entry | None) -> str:
    """The day's rows now; for a day a task loaded with another count (embrace_dedupe recomputed it since), both."""
    if entry is None or entry.latest is None or entry.latest.state != SUCCEEDED or entry.rows == load.rows:
        return f"{load.rows:,}"
    return f"{load.rows:,} ({entry.rows:,} loaded)"


def run_load(args: argparse.Namespace, context: CliContext) -> int:
    if not args.dry_run:
        refuse_examples(context.settings)
    if args.last < args.first:
        raise UsageError(f"--to {args.last} is before --from {args.first}: swap them")
    streams = _streams(args.streams)
    options = _options(context)
    datasets = context.settings.datasets
    loads = plan_loads(
        context.storage, datasets["embrace.load_counts"], datasets["embrace.timestream_ready"], args.first, args.last, streams
    )
    if not loads:
        context.console.print(f"nothing to load for {args.first}..{args.last}; run embrace_dedupe for those dates first")
        return 0
    try:
        planned = _batch_loads(context, options).plan(loads, args.retry_failed)
    except LedgerError as error:
        raise Failure(str(error)) from error
    _print_plan(context, options, loads, planned)
    if args.dry_run:
        return 0
    _load(args, context, options, loads)
    context.console.print("follow them with `make monitor`")
    return 0


def _streams(text: str) -> tuple[str, ...]:
    """The streams ``--streams`` names (``all``, or a list); a bad list is bad input."""
    try:
        return Selection.from_text(text, "all", ".*").streams
    except ValueError as error:
        raise UsageError(str(error)) from error


def _print_plan(
    context: CliContext, options: TimestreamSettings, loads: list[DayLoad], planned: list[tuple[DayLoad, Entry | None, str]]
) -> None:
    """Each day and stream with its rows, what the ledger holds and what happens to it; then the tasks' count and price."""
    table = Table("day", "stream", "rows", "ledger", "plan", title=f"Timestream loads into {options.database}.{options.table}")
    for load, entry, what in planned:
        table.add_row(load.day, load.stream, _rows(load, entry), _task(entry.latest if entry else None), what)
    context.console.print(table)
    to_create = [load for load, _, what in planned if what == CREATE]
    rows = sum(load.rows for load in to_create)
    context.console.print(
        f"{len(to_create)} task(s), {rows:,} row(s), about ${estimate_cost(to_create, options.price_per_write):,.2f} "
        f"at ${options.price_per_write} per write; {len(loads) - len(to_create)} of {len(loads)} day(s) left as the "
        "ledger records them"
    )


def _load(args: argparse.Namespace, context: CliContext, options: TimestreamSettings, loads: list[DayLoad]) -> None:
    """Create the days' batch-load tasks, at most ``--max-active`` at once, saying how each ended; days not loaded fail."""
    report = context.settings.datasets["embrace.timestream_reports"]
    if not report.startswith("s3://") or not loads[0].prefix.startswith("s3://"):
        raise UsageError("Timestream loads from S3 only: run with profile=aws (the local profile's data sets are folders)")
    timestream = _client(context)
    batch_loads = _batch_loads(context, options, timestream)

    def show(outcome: Outcome) -> None:
        load = outcome.load
        context.console.print(f"{load.day} {load.stream}: {outcome.what} ({_task(outcome.attempt)})")

    try:
        check_target(timestream, options.database, options.table)
        outcomes = batch_loads.load(loads, args.max_active, args.retry_failed, show)
    except LoadError as error:
        raise UsageError(str(error)) from error
    except LedgerError as error:
        raise Failure(str(error)) from error
    unfinished = [outcome for outcome in outcomes if outcome.what in ("failed", "stopped")]
    if unfinished:
        raise Failure(
            f"{len(unfinished)} day(s) not loaded: "
            + "; ".join(f"{_day(outcome.load)} {_task(outcome.attempt)}" for outcome in unfinished)
            + f". {_what_next(context)}"
        )


def run_monitor(args: argparse.Namespace, context: CliContext) -> int:
    options = _options(context)

    def show(entries: list[Entry]) -> None:
        active = [entry for entry in entries if entry.latest and entry.latest.state in ACTIVE]
        if not active:
            return
        table = Table("task", "day", "stream", title=f"{len(active)} active of {len(entries)} load(s)")
        for entry in active:
            table.add_row(_task(entry.latest), entry.key.day, entry.key.stream)
        context.console.print(table)

    try:
        entries = _batch_loads(context, options, _client(context)).follow(show, args.resume)
    except LedgerError as error:
        raise Failure(str(error)) from error
    if not entries:
        context.console.print(f"the ledger records no batch load into {options.database}.{options.table}")
        return 0
    unfinished = [entry for entry in entries if entry.latest is None or entry.latest.state != SUCCEEDED]
    succeeded = len(entries) - len(unfinished)
    summary = f"Timestream batch loads into {options.database}.{options.table}: {succeeded} succeeded" + (
        f", {len(unfinished)} not loaded: " + "; ".join(_unfinished(entry) for entry in unfinished) if unfinished else ""
    )
    context.console.print(summary)
    webhook = os.environ.get(options.slack_webhook_env) if options.slack_webhook_env else None
    if notify_slack(webhook, summary):
        context.console.print("notice sent to Slack")
    if unfinished:
        raise Failure(
            f"{len(unfinished)} batch load(s) into {options.database}.{options.table} did not succeed: "
            + "; ".join(_unfinished(entry) for entry in unfinished)
            + f". {_what_next(context)}"
        )
    return 0


def _unfinished(entry: Entry) -> str:
    attempt = entry.latest
    if attempt is None or attempt.state == CREATING:
        return f"{_day(entry.key)} being created (rerun make timestream-load for it)"
    return f"{_day(entry.key)} {_task(attempt)}"


def _what_next(context: CliContext) -> str:
    return (
        f"Each task's report is under {context.settings.datasets['embrace.timestream_reports']}; make monitor resume=1 "
        "resumes stopped tasks; make timestream-load from=… to=… retry_failed=1 starts failed days again (loaded and "
        "billed in full again)"
    )
