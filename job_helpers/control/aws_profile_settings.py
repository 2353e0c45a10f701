"""``profiles.aws``: the Glue role and version, the region, the KMS key and the scheduler's role, checked.

Parsed by ``config.py`` when the aws profile is chosen; the values land on ``Settings``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from job_helpers.config_fields import IAM_ROLE_ARN, KMS_KEY_ARN, Switch, Text
from job_helpers.control import aws_region

WHERE = "profiles.aws"
KEYS = (
    "aws_profile",
    "region",
    "cross_region_buckets",
    "glue_role_arn",
    "glue_version",
    "kms_key_arn",
    "scheduler_role_arn",
    "job_arguments",
    "local_runner",
    "stack",
)
GLUE_ROLE = Text(
    IAM_ROLE_ARN, "is not an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>); set GLUE_ROLE_ARN or edit config.yml"
)
CROSS_REGION_BUCKETS = Switch(False)
# The jobs need Python 3.11, which Glue runs from 5.0 on.
LEAST_GLUE_VERSION = (5, 0)
REGION_NAME = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")


def parse(options: Mapping[str, Any], environ: Mapping[str, str], problems: list[str]) -> dict[str, Any]:
    """The aws profile's values by their ``Settings`` names; each bad one is added to ``problems``."""
    role = GLUE_ROLE.read(options, "glue_role_arn", WHERE, problems)
    aws_profile = str(options.get("aws_profile") or "") or None
    region = _region(str(options.get("region") or ""), aws_profile, environ, problems)
    return {
        "aws_profile": aws_profile,
        "region": region.name if region else None,
        "region_source": region.source if region else None,
        "cross_region_buckets": CROSS_REGION_BUCKETS.read(options, "cross_region_buckets", WHERE, problems),
        "glue_role_arn": role,
        "glue_version": _glue_version(str(options.get("glue_version") or ""), problems),
        "kms_key_arn": KMS_KEY_ARN.read(options, "kms_key_arn", WHERE, problems) or None,
        "scheduler_role_arn": _scheduler_role(str(options.get("scheduler_role_arn") or ""), role, problems),
    }


def _glue_version(version: str, problems: list[str]) -> str:
    if not re.fullmatch(r"\d+\.\d+", version, re.ASCII) or tuple(map(int, version.split("."))) < LEAST_GLUE_VERSION:
        problems.append(f"{WHERE}.glue_version: {version!r} must be 5.0 or newer (the jobs need Python 3.11)")
    return version


def _region(
    configured: str, aws_profile: str | None, environ: Mapping[str, str], problems: list[str]
) -> aws_region.Region | None:
    """The region boto3 would use (config.yml's first), checked to look like one."""
    region, problem = aws_region.region_problem(configured, aws_profile, environ)
    if problem:
        problems.append(problem)
    elif region and not REGION_NAME.fullmatch(region.name):
        problems.append(f"{WHERE}.region: {region.name!r} ({region.source}) is not an AWS region such as us-east-1")
    return region


def _scheduler_role(role: str, glue_role: str, problems: list[str]) -> str | None:
    """The role EventBridge Scheduler starts jobs as: empty, or a role in the Glue role's account."""
    if role and not (IAM_ROLE_ARN.fullmatch(role) and _account_of(role) == _account_of(glue_role)):
        problems.append(
            f"{WHERE}.scheduler_role_arn: {role!r} must be an IAM role ARN in the account of glue_role_arn, "
            "or empty; set SCHEDULER_ROLE_ARN or edit config.yml"
        )
    return role or None


def _account_of(role_arn: str) -> str:
    return role_arn.split(":")[4] if role_arn.count(":") >= 5 else ""
