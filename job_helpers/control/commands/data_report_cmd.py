"""`data-report`: one self-contained HTML page of what a data set's published tables hold."""

from __future__ import annotations

import argparse

from job_helpers.control import output
from job_helpers.control.context import CliContext
from job_helpers.control.data_report import REPORTS
from job_helpers.control.failures import UsageError
from job_helpers.relative_dates import day_option


def register(subparsers: argparse._SubParsersAction) -> None:
    report = subparsers.add_parser(
        "data-report",
        help="draw what a data set's published tables hold as one HTML file under build/reports/",
    )
    report.add_argument("--dataset", required=True, choices=tuple(REPORTS), help="which data set to draw")
    report.add_argument(
        "--from", dest="first", type=day_option, metavar="YYYY-MM-DD", help="first day (or today, yesterday, today-N)"
    )
    report.add_argument(
        "--to", dest="last", type=day_option, metavar="YYYY-MM-DD", help="last day (default: the last day with data)"
    )
    report.set_defaults(handler=run_data_report)


def run_data_report(args: argparse.Namespace, context: CliContext) -> int:
    """Read the tables with a progress line on standard error, then write the page aside and move it into place."""
    from job_helpers.control.data_report import report_page
    from job_helpers.control.data_report.lake import Lake, ReadError
    from job_helpers.control.data_report.page import Window
    from job_helpers.control.data_report.source import Source
    from job_helpers.control.data_report.tables import Catalog, TableError

    if args.first and args.last and args.first > args.last:
        raise UsageError(f"--from {args.first} is after --to {args.last}")
    window = Window(args.first, args.last)
    with context.messages.status(f"Reading the published tables of {args.dataset}") as status:

        def progress(message: str) -> None:
            status.update(output.text(f"{args.dataset}: {message}"))

        try:
            source = Source(
                context.settings, Lake(context.storage, progress), Catalog(context.settings, context.repo_root / "sql"), window
            )
            page = report_page(args.dataset, source)
        except (TableError, ReadError) as error:
            output.error(error)
            return 1
    reports = context.build_dir / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    scope = "" if window.first is None and window.last is None else f"-{window.first or 'start'}_{window.last or 'end'}"
    target = reports / f"data-{args.dataset}{scope}.html"
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text(page, encoding="utf-8")
    partial.replace(target)
    context.console.print(str(target), markup=False, soft_wrap=True)
    return 0
