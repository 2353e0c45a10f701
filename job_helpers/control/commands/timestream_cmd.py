"""`timestream-load` and `monitor`: batch loads of the embrace_dedupe output into Amazon Timestream."""

from __future__ import annotations

import argparse
import os

from rich.table import Table

from job_helpers.aws import client
from job_helpers.cli import CliContext, UsageError
from job_helpers.control.config import ConfigError, refuse_examples
from job_helpers.embrace.archives import Selection
from job_helpers.embrace.settings import TimestreamSettings
from job_helpers.embrace.timestream_load import (
    AVAILABILITY,
    LoadError,
    check_target,
    create_tasks,
    estimate_cost,
    notify_slack,
    plan_loads,
    wait_for_tasks,
)
from job_helpers.relative_dates import day_option

# Said in --help of both commands: a new account cannot use them.
CLOSED = (
    "Amazon Timestream for LiveAnalytics is closed to new customers since 2025-06-20 "
    f"({AVAILABILITY}); accounts that never used it cannot load into it. The same rows are in the Parquet "
    "table embrace_clean, which Athena queries (make ddl, make query)."
)


def register(subparsers: argparse._SubParsersAction) -> None:
    load = subparsers.add_parser(
        "timestream-load",
        help="create one Timestream batch-load task per stream and day",
        description="Creates one Timestream batch-load task per export, stream and day of the embrace_dedupe output, "
        "after checking that the database and table can be reached. " + CLOSED,
    )
    load.add_argument(
        "--from", dest="first", required=True, type=day_option, help="first day: YYYY-MM-DD, today, yesterday or today-N"
    )
    load.add_argument(
        "--to", dest="last", required=True, type=day_option, help="last day: YYYY-MM-DD, today, yesterday or today-N"
    )
    load.add_argument("--streams", default="all", help="acc,eda,temp (any of them) or all")
    load.add_argument("--dry-run", action="store_true", help="print rows and the cost estimate; create nothing")
    load.set_defaults(handler=run_load)
    monitor = subparsers.add_parser(
        "monitor",
        help="list running Timestream batch loads until none is left",
        description="Lists the account's running Timestream batch-load tasks until none is left. " + CLOSED,
    )
    monitor.set_defaults(handler=run_monitor)


def _options(context: CliContext) -> TimestreamSettings:
    """``embrace.timestream`` (parsed with config.yml)."""
    embrace = context.settings.embrace
    if embrace is None:
        raise ConfigError("config.yml has no embrace: section; add embrace.timestream (database, table)")
    return embrace.timestream


def _client(context: CliContext):
    return client("timestream-write", context.boto3_session)


def run_load(args: argparse.Namespace, context: CliContext) -> int:
    if not args.dry_run:
        refuse_examples(context.settings)
    if args.last < args.first:
        raise UsageError(f"--to {args.last} is before --from {args.first}: swap them")
    try:
        streams = Selection.from_text(args.streams, "all", ".*").streams
    except ValueError as error:
        raise UsageError(str(error)) from error
    options = _options(context)
    datasets = context.settings.datasets
    loads = plan_loads(
        context.storage, datasets["embrace.load_counts"], datasets["embrace.timestream_ready"], args.first, args.last, streams
    )
    table = Table("day", "stream", "rows", title=f"Timestream loads into {options.database}.{options.table}")
    for load in loads:
        table.add_row(load.day, load.stream, f"{load.rows:,}")
    context.console.print(table)
    rows = sum(load.rows for load in loads)
    context.console.print(
        f"{len(loads)} task(s), {rows:,} row(s), about ${estimate_cost(loads, options.price_per_write):,.2f} "
        f"at ${options.price_per_write} per write"
    )
    if args.dry_run or not loads:
        if not loads:
            context.console.print(f"nothing to load for {args.first}..{args.last}; run embrace_dedupe for those dates first")
        return 0
    report = datasets["embrace.timestream_reports"]
    if not report.startswith("s3://") or not loads[0].prefix.startswith("s3://"):
        raise UsageError("Timestream loads from S3 only: run with profile=aws (the local profile's data sets are folders)")
    timestream = _client(context)
    try:
        check_target(timestream, options.database, options.table)
        for load, task_id in create_tasks(timestream, loads, options.database, options.table, report):
            context.console.print(f"{task_id}  {load.stream} {load.day}")
    except LoadError as error:
        raise UsageError(str(error)) from error
    context.console.print("follow them with `make monitor`")
    return 0


def run_monitor(args: argparse.Namespace, context: CliContext) -> int:
    options = _options(context)

    def show(tasks: list[dict]) -> None:
        if not tasks:
            context.console.print("no batch load is running")
            return
        table = Table("task", "status", "database.table", "created")
        for task in tasks:
            table.add_row(
                task["TaskId"],
                task["TaskStatus"],
                f"{task.get('DatabaseName')}.{task.get('TableName')}",
                str(task.get("CreationTime", "")),
            )
        context.console.print(table)

    polls = wait_for_tasks(_client(context), show)
    webhook = os.environ.get(options.slack_webhook_env) if options.slack_webhook_env else None
    if notify_slack(webhook, f"Timestream batch loads into {options.database}.{options.table} have finished"):
        context.console.print("completion notice sent to Slack")
    context.console.print(f"done after {polls} poll(s)")
    return 0
