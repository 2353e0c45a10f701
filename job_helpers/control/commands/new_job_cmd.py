"""`new-job`: a new data set, or a job in one `new-job` made, written so that its tests pass as made."""

from __future__ import annotations

import argparse

from job_helpers.control.context import CliContext
from job_helpers.control.failures import UsageError
from job_helpers.control.new_job import NewJobError, plan_new_job


def register(subparsers: argparse._SubParsersAction) -> None:
    new_job = subparsers.add_parser(
        "new-job", help="scaffold a job (and its data set when new): package, script, DDL, config, tests"
    )
    new_job.add_argument("--name", required=True, help="the job's key: jobs/<name>.py, config.yml jobs.<name>, its table")
    new_job.add_argument("--dataset", required=True, help="its data set: job_helpers/<dataset>/, made when it does not exist")
    new_job.set_defaults(handler=run_new_job)


def run_new_job(args: argparse.Namespace, context: CliContext) -> int:
    try:
        plan = plan_new_job(context.repo_root, args.name, args.dataset)
    except NewJobError as error:
        raise UsageError(str(error)) from error
    plan.write(context.repo_root)
    for path in sorted(plan.created):
        context.console.print(f"created  {path}")
    for path in sorted(plan.changed):
        context.console.print(f"changed  {path}")
    context.console.print(
        f"Next: fill in job_helpers/{args.dataset}/transform.py (SCHEMA and to_row) and sql/{args.dataset}/{args.name}.sql "
        f"to match, then make sample-data dataset={args.dataset} and make execute job={args.name} from= to= days_per_job="
    )
    return 0
