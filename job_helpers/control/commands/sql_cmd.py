"""`ddl` and `policy`: the Athena tables and the three IAM policies, rendered from config."""

from __future__ import annotations

import argparse

from job_helpers.control import output
from job_helpers.control.backends import make_sql_engine
from job_helpers.control.config import load_settings
from job_helpers.control.context import CliContext
from job_helpers.control.ddl import DdlError, render_statements
from job_helpers.control.failures import UsageError
from job_helpers.control.policy import TEMPLATES, PolicyError, render_policy


def register(subparsers: argparse._SubParsersAction) -> None:
    ddl = subparsers.add_parser(
        "ddl",
        help="render every sql/ DDL file from config; run it on Athena (aws) or register it with the local engine (local)",
    )
    ddl.add_argument("--print", action="store_true", help="print the rendered statements and run nothing")
    ddl.set_defaults(handler=run_ddl)
    policy = subparsers.add_parser(
        "policy", help="print an IAM policy rendered for the aws profile's buckets, region, account and KMS key"
    )
    policy.add_argument(
        "--who",
        choices=sorted(TEMPLATES),
        default="glue-role",
        help="glue-role: what the Glue jobs run as (glue_role_policy.json); operator: what the person running make needs "
        "(operator_policy.json); scheduler: what EventBridge Scheduler starts the schedules' jobs as (scheduler_role_policy.json)",
    )
    policy.set_defaults(handler=run_policy)


def run_ddl(args: argparse.Namespace, context: CliContext) -> int:
    settings = context.settings
    sql_dir = context.repo_root / "sql"
    try:
        statements = list(render_statements(sql_dir, settings))
        if args.print:
            output.data("".join(f"-- {statement.source}\n{statement.sql};\n\n" for statement in statements))
            return 0
        make_sql_engine(context).apply(statements, context.console.print)
    except DdlError as error:
        raise UsageError(str(error)) from error
    context.console.print(f"{len(statements)} statement(s) from {sql_dir} OK for profile {settings.profile}")
    return 0


def run_policy(args: argparse.Namespace, context: CliContext) -> int:
    settings = load_settings(context.config_path, "aws", context.overrides)
    try:
        document = render_policy(context.repo_root / TEMPLATES[args.who], settings, context.repo_root / "sql")
    except (PolicyError, DdlError) as error:
        raise UsageError(str(error)) from error
    output.json_data(document)
    return 0
