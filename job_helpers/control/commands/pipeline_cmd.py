"""`pipeline`: run a pipeline of config.yml end to end and print what each job did and every table's size."""

from __future__ import annotations

import argparse

from rich.table import Table

from job_helpers.control import output
from job_helpers.control.backends import make_pipeline_runner
from job_helpers.control.config import pipeline_spec
from job_helpers.control.context import CliContext
from job_helpers.control.job_options import check_job_arguments
from job_helpers.control.pipeline import JobOutcome, PipelineResult, run_jobs, table_counts


def register(subparsers: argparse._SubParsersAction) -> None:
    pipeline = subparsers.add_parser(
        "pipeline",
        help="run a pipeline's jobs in order (locally in one process and Spark session; on aws start, wait, next)",
    )
    pipeline.add_argument("--name", required=True, help="pipeline name under pipelines: in config.yml, e.g. stedi")
    pipeline.set_defaults(handler=run_pipeline)


def run_pipeline(args: argparse.Namespace, context: CliContext) -> int:
    settings = context.settings
    spec = pipeline_spec(settings, args.name)
    check_job_arguments(settings, context.repo_root, spec.jobs, context.overrides)
    console = context.console

    def on_job(outcome: JobOutcome) -> None:
        colour = "green" if outcome.state == "SUCCEEDED" else "red"
        console.print(
            output.text(f"{outcome.state:<10}", colour) + output.text(f" {outcome.job} in {outcome.seconds:.1f}s {outcome.error}")
        )

    runner = make_pipeline_runner(context, spec, console.print)
    result = run_jobs(settings, spec, runner, context.storage, on_job=on_job)
    print_summary(context, result, table_counts(settings.datasets, spec.tables, result.outcomes))
    return 0 if result.succeeded else 1


def print_summary(context: CliContext, result: PipelineResult, counts: dict[str, int | None]) -> None:
    jobs = Table(title=f"pipeline {result.name}: {result.seconds:.1f}s")
    for column in ("job", "state", "seconds", "read", "rejected", "excluded", "written"):
        jobs.add_column(column, justify="left" if column in ("job", "state") else "right")
    for outcome in result.outcomes:
        report = outcome.report
        jobs.add_row(
            outcome.job,
            outcome.state,
            f"{outcome.seconds:.1f}",
            f"{report.records_read:,}" if report else "",
            f"{report.records_rejected:,}" if report else "",
            f"{report.excluded:,}" if report else "",
            f"{report.records_written:,}" if report else "",
        )
    tables = Table(title="tables")
    tables.add_column("table")
    tables.add_column("rows", justify="right")
    tables.add_column("location")
    for name, count in counts.items():
        tables.add_row(name, "" if count is None else f"{count:,}", context.settings.datasets[name])
    context.console.print(jobs)
    context.console.print(tables)
