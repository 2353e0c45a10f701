"""``config check``'s look at the account behind the profile: the region, the buckets' regions, the stack's outputs.

Only the aws profile has an account; the local profile's config is checked by loading it alone.
"""

from __future__ import annotations

import os

from job_helpers.aws import client
from job_helpers.control import output
from job_helpers.control.aws_region import Region, check_buckets
from job_helpers.control.context import CliContext
from job_helpers.control.stack import find_stack, outputs
from job_helpers.control.stack_template import KEY_OUTPUT, drift, render_template, setting_hints, stack_settings


def check_account(context: CliContext) -> None:
    """On aws: say the region, then, with credentials, check the account; nothing on the local profile."""
    settings = context.settings
    if settings.profile != "aws":
        return
    context.console.print(f"AWS region {settings.region} ({settings.region_source})")
    _check_account(context)


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
