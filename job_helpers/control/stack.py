"""Deploying and deleting the account's stack through CloudFormation, one change set at a time.

``propose`` creates a change set for the rendered template and waits until CloudFormation has
worked out what it would add, modify or remove; the caller shows that and decides: ``apply``
executes it and waits for the stack, ``discard`` drops it. ``delete`` removes the stack; resources
whose DeletionPolicy is Retain (buckets, the KMS key, the secret) stay in the account. Every wait
is ``backoff.poll``; every function takes its CloudFormation client from the caller.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from job_helpers.backoff import Backoff, Pending, poll
from job_helpers.control.stack_template import StackError

WAIT = Backoff(base=2.0, cap=20.0)
# The stack's template creates named IAM roles.
CAPABILITIES = ["CAPABILITY_NAMED_IAM"]
# Stack states that mean the last operation succeeded and a new change set may be made.
SETTLED = frozenset(
    {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE"}
)
# CloudFormation's StatusReason for a change set of an up-to-date stack (it fails such a change set).
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")


@dataclass(frozen=True)
class Change:
    """One resource the change set would add, modify or remove."""

    action: str
    logical_id: str
    resource_type: str
    physical_id: str = ""
    replacement: str = ""


@dataclass(frozen=True)
class Proposal:
    """A change set waiting for a decision; ``creating`` when it would create the stack."""

    stack_name: str
    change_set_id: str
    creating: bool
    changes: tuple[Change, ...]


def find_stack(cfn: Any, name: str) -> dict[str, Any] | None:
    """The stack called ``name``, or None when there is none (CloudFormation answers ValidationError)."""
    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ValidationError" and "does not exist" in str(error):
            return None
        raise
    return stacks[0] if stacks else None


def outputs(stack: Mapping[str, Any]) -> dict[str, str]:
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def propose(
    cfn: Any,
    name: str,
    template: Mapping[str, Any],
    tags: Mapping[str, str],
    backoff: Backoff = WAIT,
    sleep: Callable[[float], None] = time.sleep,
) -> Proposal | None:
    """Create a change set for ``template`` and wait until it is ready; None when the stack already matches."""
    stack = find_stack(cfn, name)
    status = stack["StackStatus"] if stack else None
    creating = stack is None or status == "REVIEW_IN_PROGRESS"
    if not creating and status not in SETTLED:
        if status == "ROLLBACK_COMPLETE":
            raise StackError(
                f"stack {name} failed to create and was rolled back: run `make stack-delete`, then `make stack` again"
            )
        raise StackError(f"stack {name} is {status}: wait until CloudFormation has finished with it (or fix it in the console)")
    created = cfn.create_change_set(
        StackName=name,
        ChangeSetName=f"{name}-{datetime.now(UTC):%Y%m%d%H%M%S}"[:128],
        TemplateBody=json.dumps(template, indent=1, sort_keys=True),
        ChangeSetType="CREATE" if creating else "UPDATE",
        Capabilities=CAPABILITIES,
        Tags=[{"Key": key, "Value": value} for key, value in tags.items()],
        Description="make stack",
    )
    change_set = created["Id"]

    def ready() -> dict[str, Any] | Pending:
        described = cfn.describe_change_set(ChangeSetName=change_set)
        return described if described["Status"] in ("CREATE_COMPLETE", "FAILED") else Pending()

    described = poll(ready, backoff, sleep=sleep)
    if described["Status"] == "FAILED":
        reason = described.get("StatusReason", "")
        if any(text in reason for text in NO_CHANGES):
            cfn.delete_change_set(ChangeSetName=change_set)
            return None
        raise StackError(f"CloudFormation refused the change set for stack {name}: {reason}")
    return Proposal(name, change_set, creating, tuple(_changes(cfn, change_set, described)))


def _changes(cfn: Any, change_set: str, described: dict[str, Any]) -> list[Change]:
    found = []
    page = described
    while True:
        for change in page.get("Changes", []):
            resource = change.get("ResourceChange", {})
            found.append(
                Change(
                    resource.get("Action", ""),
                    resource.get("LogicalResourceId", ""),
                    resource.get("ResourceType", ""),
                    resource.get("PhysicalResourceId", ""),
                    resource.get("Replacement", ""),
                )
            )
        if not page.get("NextToken"):
            return found
        page = cfn.describe_change_set(ChangeSetName=change_set, NextToken=page["NextToken"])


def discard(cfn: Any, proposal: Proposal) -> None:
    """Drop the change set; a stack it would have created (empty, under review) goes with it."""
    cfn.delete_change_set(ChangeSetName=proposal.change_set_id)
    if proposal.creating:
        cfn.delete_stack(StackName=proposal.stack_name)


def apply(
    cfn: Any,
    proposal: Proposal,
    on_status: Callable[[str], None],
    backoff: Backoff = WAIT,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Execute the change set and wait for the stack; the stack when it succeeded, else ``StackError`` with why."""
    cfn.execute_change_set(ChangeSetName=proposal.change_set_id)
    stack = _wait(cfn, proposal.stack_name, on_status, backoff, sleep)
    if stack["StackStatus"] in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        return stack
    raise StackError(
        f"stack {proposal.stack_name} ended {stack['StackStatus']}; CloudFormation rolled back what it had done. "
        + "; ".join(failures(cfn, stack["StackId"]))
    )


def _wait(
    cfn: Any, stack_id: str, on_status: Callable[[str], None], backoff: Backoff, sleep: Callable[[float], None]
) -> dict[str, Any]:
    """Poll the stack until no operation is in progress, telling ``on_status`` each new status."""
    last: list[str] = []

    def settled() -> dict[str, Any] | Pending:
        stack = cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
        status = stack["StackStatus"]
        changed = last[-1:] != [status]
        if changed:
            last.append(status)
            on_status(status)
        return Pending(changed) if status.endswith("_IN_PROGRESS") else stack

    return poll(settled, backoff, sleep=sleep)


def failures(cfn: Any, stack_id: str, limit: int = 5) -> list[str]:
    """The first resources that failed in the stack's latest events, with CloudFormation's reasons."""
    found = []
    for page in cfn.get_paginator("describe_stack_events").paginate(StackName=stack_id):
        for event in page.get("StackEvents", []):
            if event.get("ResourceStatus", "").endswith("_FAILED") and event.get("LogicalResourceId") != event.get("StackName"):
                found.append(
                    f"{event['LogicalResourceId']} ({event.get('ResourceType')}): {event.get('ResourceStatusReason', '')}"
                )
        if len(found) >= limit:
            break
    return found[:limit] or ["see the stack's events in the CloudFormation console"]


@dataclass(frozen=True)
class Resource:
    """A resource of the deployed stack and whether deleting the stack keeps it."""

    logical_id: str
    resource_type: str
    physical_id: str
    retained: bool


def resources(cfn: Any, name: str) -> list[Resource]:
    """The stack's resources; ``retained`` from the DeletionPolicy of the template it was deployed with."""
    body = cfn.get_template(StackName=name)["TemplateBody"]
    template = json.loads(body) if isinstance(body, str) else body
    declared = template.get("Resources", {})
    found = []
    for page in cfn.get_paginator("list_stack_resources").paginate(StackName=name):
        for summary in page.get("StackResourceSummaries", []):
            logical = summary["LogicalResourceId"]
            retained = declared.get(logical, {}).get("DeletionPolicy") == "Retain"
            found.append(Resource(logical, summary["ResourceType"], summary.get("PhysicalResourceId", ""), retained))
    return found


def delete(
    cfn: Any,
    stack: Mapping[str, Any],
    on_status: Callable[[str], None],
    backoff: Backoff = WAIT,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Delete the stack and wait; retained resources stay in the account, the rest is removed."""
    cfn.delete_stack(StackName=stack["StackId"])
    ended = _wait(cfn, stack["StackId"], on_status, backoff, sleep)
    if ended["StackStatus"] != "DELETE_COMPLETE":
        raise StackError(
            f"stack {stack['StackName']} ended {ended['StackStatus']}: " + "; ".join(failures(cfn, stack["StackId"]))
        )
