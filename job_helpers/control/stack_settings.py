"""``profiles.aws.stack``: the CloudFormation stack ``make stack`` renders from config.yml and deploys.

Parsed with the rest of config.yml (``make config-check`` reports its mistakes with the others); the
template itself is rendered by ``control/stack_template.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from job_helpers.config_fields import Choice, Text
from job_helpers.config_keys import SectionContext, check_keys

SECTION = "profiles.aws.stack"
KEYS = ("name", "encryption")
# kms: SSE-KMS with profiles.aws.kms_key_arn, or with a key the stack creates when that is empty; s3: SSE-S3.
ENCRYPTIONS = ("kms", "s3")
# CloudFormation's StackName pattern (botocore model), at most 128 characters.
STACK_NAME = re.compile(r"[a-zA-Z][-a-zA-Z0-9]{0,127}")
NAME_RULE = "must start with a letter and hold only letters, digits and '-' (128 at most)"


@dataclass(frozen=True)
class StackSettings:
    """The stack's name and how its buckets are encrypted."""

    name: str = "glue-etl"
    encryption: str = "kms"


def parse(node: Any, context: SectionContext, problems: list[str]) -> StackSettings | None:
    """The ``stack`` section of the aws profile; each bad value is added to ``problems``."""
    check_keys(node, KEYS, SECTION, problems)
    if context.profile != "aws":
        return None
    if node is None:
        node = {}
    if not isinstance(node, dict):
        problems.append(f"{SECTION}: expected a mapping ({', '.join(KEYS)})")
        return StackSettings()
    name = Text(STACK_NAME, NAME_RULE, default=StackSettings.name).read(node, "name", SECTION, problems)
    encryption = Choice(ENCRYPTIONS, StackSettings.encryption).read(node, "encryption", SECTION, problems)
    return StackSettings(name, encryption)
