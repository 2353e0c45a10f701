"""`config check`, `config show` and `paths`: what the configuration resolves to for a profile."""

from __future__ import annotations

import argparse
import os

import yaml

from job_helpers.aws import client
from job_helpers.control import output
from job_helpers.control.aws_region import Region, check_buckets
from job_helpers.control.context import CliContext
from job_helpers.control.stack import find_stack, outputs
from job_helpers.control.stack_template import KEY_OUTPUT, drift, render_template, setting_hints, stack_settings


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

    On the aws profile it also says the region, and with credentials checks the account: every
    bucket that exists in the region, the stack's outputs as config.yml would render them.
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
    if settings.profile == "aws":
        context.console.print(f"AWS region {settings.region} ({settings.region_source})")
        _check_account(context)
    return 0


def _check_account(context: CliContext) -> None:
    """With credentials: the buckets' regions, and the stack's outputs against config.yml when the stack exists."""
    import boto3

    settings = context.settings
    say = context.console.print
    if settings.examples and not os.environ.get("AWS_ENDPOINT_URL"):
        say("example values: the account was not checked")
        return
    session = boto3.Session(profile_name=settings.aws_profile, region_name=settings.region)
    if session.get_credentials() is None:
        say("no AWS credentials: the account was not checked")
        return
    if not settings.cross_region_buckets:
        buckets = {str(k): str(v) for k, v in (settings.resolved.get("buckets") or {}).items()}
        check_buckets(buckets, Region(settings.region or "", settings.region_source or ""), client("s3", session))
        say(f"every bucket that exists is in {settings.region}")
    name = stack_settings(settings).name
    stack = find_stack(client("cloudformation", session), name)
    if stack is None:
        say(f"no stack {name} in {settings.region}: `make stack profile=aws` sets up the account")
        return
    found = outputs(stack)
    template = render_template(settings, context.repo_root, found.get(KEY_OUTPUT))
    problems = setting_hints(found, settings) + drift(found, template)
    say(f"stack {name}: {stack['StackStatus']}, {len(found)} output(s)" + ("" if problems else ", all as config.yml says"))
    for problem in problems:
        output.warning(problem)


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
