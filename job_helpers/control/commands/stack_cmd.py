"""`stack deploy`, `stack delete` and `stack template`: the account's setup as one CloudFormation stack."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from rich.table import Table

from job_helpers.aws import client
from job_helpers.control import output
from job_helpers.control.config import refuse_examples
from job_helpers.control.context import CliContext
from job_helpers.control.failures import UsageError
from job_helpers.control.stack import Change, Proposal, Resource, apply, delete, discard, find_stack, outputs, propose, resources
from job_helpers.control.stack_template import KEY_OUTPUT, ROLE_ARN, StackError, render_template, setting_hints, stack_settings

DEPLOY = (
    "Renders one CloudFormation template from config.yml (the job role with the policy `make policy` prints, every "
    "bucket, the KMS key unless profiles.aws.kms_key_arn names one, the Glue database, the Athena workgroup and its "
    "result location, the STEDI key secret), creates a change set, shows what it would add, modify or remove, and "
    "applies it once you agree (or at once with --yes). Needs an administrator's credentials: it creates an IAM role."
)
DELETE = (
    "Deletes the stack: the job role, the Glue database and the Athena workgroup go; the buckets (with their data), "
    "the KMS key and the secret are kept (DeletionPolicy Retain) and listed, for you to delete by hand if you mean to."
)


def register(subparsers: argparse._SubParsersAction) -> None:
    stack = subparsers.add_parser("stack", help="set up the AWS account: the stack rendered from config.yml")
    actions = stack.add_subparsers(dest="action", required=True, metavar="<action>")
    deploy = actions.add_parser("deploy", help="create or update the stack through a change set", description=DEPLOY)
    deploy.add_argument("--yes", action="store_true", help="apply the change set without asking")
    deploy.set_defaults(handler=run_deploy)
    remove = actions.add_parser("delete", help="delete the stack, keeping buckets, key and secret", description=DELETE)
    remove.add_argument("--yes", action="store_true", help="delete without asking")
    remove.set_defaults(handler=run_delete)
    template = actions.add_parser("template", help="print the template rendered from config.yml; deploy nothing")
    template.set_defaults(handler=run_template)


def _cloudformation(context: CliContext):
    return client("cloudformation", context.boto3_session)


def run_template(args: argparse.Namespace, context: CliContext) -> int:
    output.json_data(render_template(context.settings, context.repo_root))
    return 0


def run_deploy(args: argparse.Namespace, context: CliContext) -> int:
    settings = context.settings
    refuse_examples(settings)
    name = stack_settings(settings).name
    _same_account(context)
    cfn = _cloudformation(context)
    existing = find_stack(cfn, name)
    template = render_template(settings, context.repo_root, outputs(existing).get(KEY_OUTPUT) if existing else None)
    try:
        proposal = propose(cfn, name, template, settings.tags)
        if proposal is None:
            context.console.print(f"stack {name} already matches config.yml: nothing to change")
            _show_outputs(context, find_stack(cfn, name) or {})
            return 0
        _show_changes(context, proposal)
        if not args.yes and not _agreed(context, f"Apply these changes to stack {name}?"):
            discard(cfn, proposal)
            context.console.print("nothing applied; the change set is deleted")
            return 0
        stack = apply(cfn, proposal, lambda status: context.messages.print(f"stack {name}: {status}", markup=False))
    except StackError as error:
        output.error(error)
        return 1
    _show_outputs(context, stack)
    return 0


def _same_account(context: CliContext) -> None:
    """The role ARN in config.yml names the account the stack is deployed to; refuse another one."""
    settings = context.settings
    match = ROLE_ARN.match(settings.glue_role_arn or "")
    account = client("sts", context.boto3_session).get_caller_identity()["Account"]
    if match is not None and match["account"] != account:
        raise UsageError(
            f"profiles.aws.glue_role_arn names account {match['account']} but your credentials are in account {account}: "
            f"set GLUE_ROLE_ARN=arn:aws:iam::{account}:role/{match['name']} (the stack creates that role), or switch AWS_PROFILE"
        )


def _show_changes(context: CliContext, proposal: Proposal) -> None:
    verb = "create" if proposal.creating else "update"
    table = Table("action", "resource", "name", "type", "", title=f"Change set to {verb} stack {proposal.stack_name}")
    for row in change_rows(proposal.changes):
        table.add_row(*row)
    context.console.print(table)
    counts = {action: sum(c.action == action for c in proposal.changes) for action in ("Add", "Modify", "Remove")}
    context.console.print(f"{counts['Add']} to add, {counts['Modify']} to modify, {counts['Remove']} to remove")


def change_rows(changes: Sequence[Change]) -> list[tuple[str, str, str, str, str]]:
    """Action, resource, its name in AWS (once it exists), type, and whether it is replaced: additions, changes, removals."""
    order = {"Add": 0, "Modify": 1, "Remove": 2}
    ordered = sorted(changes, key=lambda c: (order.get(c.action, 3), c.logical_id))
    replaced = {"True": "replaced", "Conditional": "may be replaced"}
    return [(c.action, c.logical_id, c.physical_id, c.resource_type, replaced.get(c.replacement, "")) for c in ordered]


def _agreed(context: CliContext, question: str) -> bool:
    """Ask on the terminal; with no terminal to answer (standard input closed), refuse naming yes=1."""
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError as error:
        raise UsageError(f"{question} needs an answer and standard input is closed: run again with yes=1 (--yes)") from error
    return answer.strip().lower() in ("y", "yes")


def _show_outputs(context: CliContext, stack: dict) -> None:
    found = outputs(stack)
    table = Table("output", "value", title=f"Stack {stack.get('StackName', '')} ({stack.get('StackStatus', '')})")
    for key in sorted(found):
        table.add_row(key, found[key])
    context.console.print(table)
    for hint in setting_hints(found, context.settings):
        context.console.print(f"next: {hint}", markup=False, soft_wrap=True)


def run_delete(args: argparse.Namespace, context: CliContext) -> int:
    settings = context.settings
    name = stack_settings(settings).name
    cfn = _cloudformation(context)
    stack = find_stack(cfn, name)
    if stack is None:
        context.console.print(f"no stack {name} in {settings.region}: nothing to delete")
        return 0
    found = resources(cfn, name)
    _show_resources(context, name, found)
    if not args.yes and not _agreed(context, f"Delete stack {name}?"):
        context.console.print("nothing deleted")
        return 0
    try:
        delete(cfn, stack, lambda status: context.messages.print(f"stack {name}: {status}", markup=False))
    except StackError as error:
        output.error(error)
        return 1
    kept = [resource for resource in found if resource.retained]
    context.console.print(f"stack {name} deleted; {len(kept)} resource(s) kept with their data:")
    for resource in kept:
        context.console.print(f"  {resource.resource_type} {resource.physical_id}", markup=False)
    return 0


def _show_resources(context: CliContext, name: str, found: Sequence[Resource]) -> None:
    table = Table("resource", "type", "on delete", title=f"Stack {name}")
    for resource in sorted(found, key=lambda r: (r.retained, r.logical_id)):
        fate = "kept (DeletionPolicy Retain)" if resource.retained else "deleted"
        table.add_row(resource.physical_id or resource.logical_id, resource.resource_type, fate)
    context.console.print(table)
