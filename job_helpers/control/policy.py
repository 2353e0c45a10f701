"""glue_role_policy.json rendered for the configured buckets: least privilege for what the jobs do."""

from __future__ import annotations

import json
from pathlib import Path

from job_helpers.control.config import Settings, render_references
from job_helpers.storage import split_s3

KMS_STATEMENT = "KmsForEncryptedBuckets"
# Listing is needed on every bucket a job touches: without it S3 answers 403, not 404, for a missing key.
LIST_STATEMENT = "ListJobBuckets"


def policy_values(settings: Settings) -> dict[str, str]:
    """ARNs the template refers to, per data set and for the secrets and tables the jobs read.

    ``<name>.staging_arn`` covers the hidden sibling folders (``.staging-<leaf>-…``,
    ``.trash-<leaf>-…``) that whole-table publishes rename through.
    """
    region = settings.region or ""
    values = {"region": region, "kms_key_arn": settings.kms_key_arn or ""}
    for name, url in settings.datasets.items():
        bucket, prefix = split_s3(url)
        parent, _, leaf = prefix.rstrip("/").rpartition("/")
        values[f"{name}.bucket_arn"] = f"arn:aws:s3:::{bucket}"
        values[f"{name}.objects_arn"] = f"arn:aws:s3:::{bucket}/{prefix}*"
        values[f"{name}.staging_arn"] = f"arn:aws:s3:::{bucket}/{parent + '/' if parent else ''}.*-{leaf}-*"
    secret = str((settings.resolved.get("stedi") or {}).get("pseudonym_secret") or "")
    values["stedi.pseudonym_secret_arn"] = f"arn:aws:secretsmanager:{region}:*:secret:{secret}-*"
    sensors = settings.jobs.get("sensor_timeseries_export")
    if sensors is not None:
        database = sensors.arguments.get("--timestream-database", "*")
        table = sensors.arguments.get("--timestream-table", "*")
        values["sensors.timestream_table_arn"] = f"arn:aws:timestream:{region}:*:database/{database}/table/{table}"
    return values


def render_policy(template: Path, settings: Settings) -> dict:
    """The policy document: listing on every configured bucket; the KMS statement only with a key."""
    document = json.loads(render_references(template.read_text(encoding="utf-8"), policy_values(settings)))
    buckets = sorted({f"arn:aws:s3:::{split_s3(url)[0]}" for url in settings.datasets.values()})
    for statement in document["Statement"]:
        if statement.get("Sid") == LIST_STATEMENT:
            statement["Resource"] = buckets
    if not settings.kms_key_arn:
        document["Statement"] = [s for s in document["Statement"] if s.get("Sid") != KMS_STATEMENT]
    return document
