"""`query`: run one SQL query on Athena (aws) or on the local engine, DuckDB over the lake (local), and print the result."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.table import Table

from job_helpers.control import output
from job_helpers.control.backends import make_sql_engine
from job_helpers.control.config import ConfigError, render_references
from job_helpers.control.context import CliContext
from job_helpers.control.ddl import DdlError, template_values
from job_helpers.control.failures import UsageError


def register(subparsers: argparse._SubParsersAction) -> None:
    query = subparsers.add_parser(
        "query", help="run a query ({database} and data set names are filled in) and print the result as a table"
    )
    source = query.add_mutually_exclusive_group(required=True)
    source.add_argument("--sql", help="the query text")
    source.add_argument("--file", type=Path, help="a .sql file holding one query, e.g. sql/stedi/checks/row_counts.sql")
    query.add_argument(
        "--param",
        dest="params",
        action="append",
        default=[],
        metavar="VALUE",
        help="value for the next ? in the query, as a string literal (repeatable, in order)",
    )
    query.add_argument("--json", action="store_true", help="print one JSON object with columns and rows instead")
    query.add_argument(
        "--debug",
        action="store_true",
        help="show on standard error what the local engine did: each table's files and partitions, the DuckDB SQL, seconds",
    )
    query.set_defaults(handler=run_query_command)


def query_text(args: argparse.Namespace, context: CliContext) -> str:
    if args.file is not None:
        path = args.file if args.file.is_absolute() else Path.cwd() / args.file
        if not path.is_file():
            raise UsageError(f"--file {args.file}: no such file")
        text = path.read_text(encoding="utf-8")
    else:
        text = args.sql
    # Split at newlines only: splitlines() would also split a string literal at \r, \x0c or U+2028.
    body = "\n".join(line for line in text.split("\n") if not line.lstrip().startswith("--")).strip().rstrip(";")
    if not body:
        raise UsageError("the query is empty")
    try:
        return render_references(body, template_values(context.settings))
    except ConfigError as error:
        raise UsageError(f"{args.file or '--sql'}: {error}") from error


def run_query_command(args: argparse.Namespace, context: CliContext) -> int:
    # Imported here: sqlglot takes a fifth of a second to import, which every other command would pay.
    from job_helpers.control.read_only_sql import check_read_only

    engine = make_sql_engine(context)
    sql = query_text(args, context)
    try:
        check_read_only(sql)  # here too, so a refused query never reaches an engine
        log = context.messages.print if args.debug else None
        columns, rows = engine.answer(sql, args.params, log)
    except DdlError as error:
        raise UsageError(str(error)) from error
    if args.json:
        output.json_data({"columns": columns, "rows": rows}, indent=None)
        return 0
    table = Table(caption=f"{len(rows)} row(s)")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*["NULL" if value is None else str(value) for value in row])
    context.console.print(table)
    return 0
