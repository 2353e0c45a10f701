"""`ddl` and `policy`: the Athena tables and the Glue role policy, rendered from config."""

from __future__ import annotations

import argparse
import json

from botocore.config import Config

from job_helpers.cli import CliContext, UsageError
from job_helpers.control.config import load_settings
from job_helpers.control.ddl import DdlError, parse_check, render_statements, run_on_athena
from job_helpers.control.policy import render_policy


def register(subparsers: argparse._SubParsersAction) -> None:
    ddl = subparsers.add_parser(
        "ddl",
        help="render every sql/ DDL file from config; run it on Athena (aws) or register it in the local metastore (local)",
    )
    ddl.add_argument("--print", action="store_true", help="print the rendered statements and run nothing")
    ddl.set_defaults(handler=run_ddl)
    policy = subparsers.add_parser(
        "policy", help="print glue_role_policy.json rendered for the aws profile's buckets, region and KMS key"
    )
    policy.set_defaults(handler=run_policy)


def run_ddl(args: argparse.Namespace, context: CliContext) -> int:
    settings = context.settings
    sql_dir = context.repo_root / "sql"
    try:
        statements = list(render_statements(sql_dir, settings))
        if args.print:
            for statement in statements:
                print(f"-- {statement.source}\n{statement.sql};\n")
            return 0
        if settings.profile == "aws":
            athena = context.boto3_session.client("athena", config=Config(retries={"mode": "adaptive", "max_attempts": 10}))
            run_on_athena(
                statements, athena, settings, lambda s, state: context.console.print(f"{state:<10} {s.source}")
            )
        else:
            from job_helpers.control.local_sql import register as register_locally
            from job_helpers.control.local_sql import sql_session

            spark = sql_session(settings.lake_root)
            parse_check(statements, spark)
            for local in register_locally(spark, statements, settings.athena_database):
                context.console.print(f"REGISTERED {local.source} as {local.table}")
    except DdlError as error:
        raise UsageError(str(error)) from error
    context.console.print(f"{len(statements)} statement(s) from {sql_dir} OK for profile {settings.profile}")
    return 0


def run_policy(args: argparse.Namespace, context: CliContext) -> int:
    settings = context.settings
    if settings.profile != "aws":
        settings = load_settings(context.config_path, "aws", context.overrides)
    print(json.dumps(render_policy(context.repo_root / "glue_role_policy.json", settings), indent=2))
    return 0
