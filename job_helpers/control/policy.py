"""glue_role_policy.json rendered for the configured buckets: least privilege for what the jobs do."""

from __future__ import annotations

import json
from pathlib import Path

from job_helpers.control.config import Settings, render_references
from job_helpers.storage import split_s3

KMS_STATEMENT = "KmsForEncryptedBuckets"


def policy_values(settings: Settings) -> dict[str, str]:
    """For each data set: ``<name>.bucket_arn``, ``<name>.objects_arn`` and ``<name>.prefix``."""
    values = {"region": settings.region or "", "kms_key_arn": settings.kms_key_arn or ""}
    for name, url in settings.datasets.items():
        bucket, prefix = split_s3(url)
        values[f"{name}.bucket_arn"] = f"arn:aws:s3:::{bucket}"
        values[f"{name}.objects_arn"] = f"arn:aws:s3:::{bucket}/{prefix}*"
        values[f"{name}.prefix"] = f"{prefix}*"
    return values


def render_policy(template: Path, settings: Settings) -> dict:
    """The policy document; the KMS statement is left out when no key is configured."""
    document = json.loads(render_references(template.read_text(encoding="utf-8"), policy_values(settings)))
    if not settings.kms_key_arn:
        document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != KMS_STATEMENT]
    return document
