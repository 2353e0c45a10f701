"""`config check`, `config show` and `paths`: what the configuration resolves to for a profile."""

from __future__ import annotations

import argparse

import yaml

from job_helpers.control import output
from job_helpers.control.account_check import check_account
from job_helpers.control.context import CliContext


def register(subparsers: argparse._SubParsersAction) -> None:
    config = subparsers.add_parser("config", help="validate or print the resolved configuration")
    actions = config.add_subparsers(dest="action", required=True, metavar="<action>")
    check = actions.add_parser("check", help="validate config.yml for the profile; exit 2 naming each problem")
    check.set_defaults(handler=run_check)
    show = actions.add_parser("show", help="print the configuration resolved for the profile")
    show.add_argument("--json", action="store_true", help="print JSON instead of YAML")
    show.set_defaults(handler=run_show)

    paths = subparsers.add_parser("paths", help="print every data set location, resolved for the profile")
    paths.add_argument("--json", action="store_true", help="print a JSON object of dotted name -> URL")
    paths.set_defaults(handler=run_paths)


def run_check(args: argparse.Namespace, context: CliContext) -> int:
    """Valid config exits 0; example values left in the aws profile are warnings here, errors for build and execute.

    On the aws profile it also says the region, and with credentials checks the account (``account_check``).
    """
    from job_helpers.control.job_options import check_job_arguments

    settings = context.settings
    check_job_arguments(settings, context.repo_root, settings.jobs, context.overrides)
    for example in settings.examples:
        output.warning(example)
    if settings.examples:
        context.messages.print("commands that write to AWS refuse to run with these examples")
    context.console.print(
        f"config.yml is valid for profile {settings.profile}: {len(settings.jobs)} job(s), {len(settings.datasets)} data set(s)"
    )
    check_account(context)
    return 0


def run_show(args: argparse.Namespace, context: CliContext) -> int:
    resolved = context.settings.resolved
    if args.json:
        output.json_data(resolved)
    else:
        output.data(yaml.safe_dump(resolved, sort_keys=False))
    return 0


def run_paths(args: argparse.Namespace, context: CliContext) -> int:
    datasets = context.settings.datasets
    if args.json:
        output.json_data(datasets)
        return 0
    width = max(map(len, datasets))
    output.data("\n".join(f"{name:<{width}}  {url}" for name, url in datasets.items()))
    return 0
