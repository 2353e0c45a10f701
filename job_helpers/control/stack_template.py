"""The account's setup as one CloudFormation template, rendered from config.yml (never kept by hand).

Every resource is named from config: the job role from ``profiles.aws.glue_role_arn`` (with the
policy ``make policy`` prints), one bucket per name under ``buckets``, the Glue database and the
Athena workgroup from ``athena``, the workgroup's result location from ``datasets.athena_results``,
the STEDI key secret from ``stedi.pseudonym_secret``, and, with ``profiles.aws.scheduler_role_arn``,
the role EventBridge Scheduler starts the schedules' jobs as (``make policy who=scheduler``) and
the project's schedule group (``project.prefix``, tagged); so a changed name is a changed template.

Buckets block public access, encrypt by default (SSE-KMS, or SSE-S3 with
``profiles.aws.stack.encryption: s3``), version the bucket the subject map lives in and expire its
replaced versions (earlier maps hold names) after ``ingest.subject_map.noncurrent_version_days``,
and abort multipart uploads a killed ingest left in the deep archive. Data is
never deleted by CloudFormation: buckets, the KMS key and the secret are retained when the stack
is deleted or a rename replaces them (DeletionPolicy and UpdateReplacePolicy Retain).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from job_helpers.control.config import ConfigError, Settings
from job_helpers.control.policy import TEMPLATES, render_policy
from job_helpers.control.schedule import schedule_group
from job_helpers.control.stack_settings import StackSettings
from job_helpers.storage import split_s3

ROLE, KEY, KEY_ALIAS, DATABASE, WORKGROUP, SECRET, SCHEDULER_ROLE, SCHEDULE_GROUP = (
    "JobRole",
    "DataKey",
    "DataKeyAlias",
    "GlueDatabase",
    "AthenaWorkGroup",
    "PseudonymKey",
    "SchedulerRole",
    "ScheduleGroup",
)
# Outputs that name what the account now has; config check compares them with config.yml.
ROLE_OUTPUT, KEY_OUTPUT, SCHEDULER_ROLE_OUTPUT = "JobRoleArn", "DataKeyArn", "SchedulerRoleArn"
RETAIN = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
# Days after which S3 aborts an upload a killed ingest left unfinished (its parts are billed until then).
ABORT_UPLOADS_AFTER_DAYS = 7
ROLE_ARN = re.compile(r"^arn:aws[\w-]*:iam::(?P<account>\d{12}):role(?P<path>/(?:[^/]+/)*)(?P<name>[^/]+)$")
# A stand-in for the key the stack creates, replaced by its Fn::GetAtt once the policy is rendered.
KEY_PLACEHOLDER = "arn:aws:kms:stack:000000000000:key/created-by-the-stack"


class StackError(Exception):
    """CloudFormation refused or rolled back the stack; the message says which resource and why."""


def stack_settings(settings: Settings) -> StackSettings:
    """``profiles.aws.stack``, or its defaults when config.yml has none."""
    return settings.stack or StackSettings()


def creates_key(settings: Settings, stack_key_arn: str | None) -> bool:
    """The stack makes (and keeps making) the data key while kms_key_arn is empty or names the key it made."""
    if stack_settings(settings).encryption != "kms":
        return False
    return not settings.kms_key_arn or settings.kms_key_arn == stack_key_arn


def logical_id(prefix: str, name: str) -> str:
    """A CloudFormation logical id (letters and digits) for a config name: ``ingest_archive`` → ``BucketIngestArchive``."""
    return prefix + "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", name) if part)


def bucket_ids(settings: Settings) -> dict[str, str]:
    """Bucket name → logical id, one resource per distinct bucket (the first logical name in order names it)."""
    buckets = {str(logical): str(bucket) for logical, bucket in (settings.resolved.get("buckets") or {}).items()}
    ids: dict[str, str] = {}
    for logical, bucket in sorted(buckets.items()):
        ids.setdefault(bucket, logical_id("Bucket", logical))
    clashes = sorted(i for i in set(ids.values()) if list(ids.values()).count(i) > 1)
    if clashes:
        raise ConfigError(
            f"buckets: logical names that differ only in punctuation give the same resource id ({', '.join(clashes)}); rename one"
        )
    return ids


def render_template(settings: Settings, repo_root: Path, stack_key_arn: str | None = None) -> dict[str, Any]:
    """The stack's template for ``settings``; ``stack_key_arn`` is the key an earlier deploy of it created."""
    if settings.profile != "aws":
        raise ConfigError("the stack sets up an AWS account: run it with profile=aws")
    options = stack_settings(settings)
    if settings.athena_workgroup == "primary":
        raise ConfigError(
            "athena.workgroup: 'primary' is every account's own workgroup, which a stack cannot create; "
            "name the project's (ATHENA_WORKGROUP, default glue-etl)"
        )
    match = ROLE_ARN.match(settings.glue_role_arn or "")
    if match is None:
        raise ConfigError(f"profiles.aws.glue_role_arn: {settings.glue_role_arn!r} is not an IAM role ARN; set GLUE_ROLE_ARN")
    key = creates_key(settings, stack_key_arn)
    data_key: Any = {"Fn::GetAtt": [KEY, "Arn"]} if key else settings.kms_key_arn
    resources: dict[str, Any] = {ROLE: _role(settings, repo_root, options, match, key)}
    outputs: dict[str, Any] = {
        ROLE_OUTPUT: _output("the role the Glue jobs run as (GLUE_ROLE_ARN)", {"Fn::GetAtt": [ROLE, "Arn"]})
    }
    if key:
        resources[KEY] = _key(options)
        resources[KEY_ALIAS] = {
            "Type": "AWS::KMS::Alias",
            "Properties": {"AliasName": f"alias/{options.name}-data", "TargetKeyId": {"Ref": KEY}},
        }
        outputs[KEY_OUTPUT] = _output("the KMS key of the buckets (KMS_KEY_ARN)", {"Fn::GetAtt": [KEY, "Arn"]})
    for bucket, resource_id in bucket_ids(settings).items():
        resources[resource_id] = _bucket(settings, options, bucket, data_key)
        outputs[resource_id] = _output(f"bucket {bucket}", bucket)
    resources[DATABASE] = {
        "Type": "AWS::Glue::Database",
        "Properties": {
            "CatalogId": {"Ref": "AWS::AccountId"},
            "DatabaseInput": {"Name": settings.athena_database, "Description": "Tables of the project's data sets (make ddl)"},
        },
    }
    outputs[DATABASE] = _output("the Glue database make ddl creates the tables in", settings.athena_database)
    results = settings.datasets["athena_results"]
    resources[WORKGROUP] = _workgroup(settings, options, results, data_key)
    outputs[WORKGROUP] = _output("the Athena workgroup of make ddl and make query", settings.athena_workgroup)
    outputs["AthenaResults"] = _output("where the workgroup writes query results", results)
    scheduler = ROLE_ARN.match(settings.scheduler_role_arn or "")
    if scheduler is not None:
        resources[SCHEDULER_ROLE] = _scheduler_role(settings, repo_root, options, scheduler)
        outputs[SCHEDULER_ROLE_OUTPUT] = _output(
            "the role EventBridge Scheduler starts the schedules' jobs as (SCHEDULER_ROLE_ARN)",
            {"Fn::GetAtt": [SCHEDULER_ROLE, "Arn"]},
        )
        resources[SCHEDULE_GROUP] = {
            "Type": "AWS::Scheduler::ScheduleGroup",
            "Properties": {"Name": schedule_group(settings), "Tags": [{"Key": settings.tag_key, "Value": settings.tag_value}]},
        }
        outputs[SCHEDULE_GROUP] = _output("the schedule group of make schedule", schedule_group(settings))
    stedi = settings.section("stedi")
    if stedi is not None and stedi.pseudonymise and stedi.pseudonym_secret:
        resources[SECRET] = {
            "Type": "AWS::SecretsManager::Secret",
            **RETAIN,
            "Properties": {
                "Name": stedi.pseudonym_secret,
                "Description": "Key of the STEDI curated tables' pseudonyms (HMAC-SHA256); a new key changes every pseudonym",
                "GenerateSecretString": {"PasswordLength": 64, "ExcludePunctuation": True},
            },
        }
        outputs[SECRET] = _output("the STEDI pseudonym key secret", stedi.pseudonym_secret)
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"{settings.tag_value}: the account's setup, rendered from config.yml by make stack (edit config.yml, not this)",
        "Resources": resources,
        "Outputs": outputs,
    }


def _output(description: str, value: Any) -> dict[str, Any]:
    return {"Description": description, "Value": value}


def _role(settings: Settings, repo_root: Path, options: StackSettings, match: re.Match, key: bool) -> dict[str, Any]:
    """The job role with the policy ``make policy`` prints (its KMS statement on the stack's key when it makes one)."""
    rendered = settings if not key else replace(settings, kms_key_arn=KEY_PLACEHOLDER)
    policy = _replace(
        render_policy(repo_root / TEMPLATES["glue-role"], rendered, repo_root / "sql"),
        KEY_PLACEHOLDER,
        {"Fn::GetAtt": [KEY, "Arn"]},
    )
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": match["name"],
            "Path": match["path"],
            "Description": f"The Glue jobs of {settings.tag_value} run as this role (make stack)",
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"}, "Action": "sts:AssumeRole"}],
            },
            "Policies": [{"PolicyName": f"{options.name}-jobs", "PolicyDocument": policy}],
        },
    }


def _scheduler_role(settings: Settings, repo_root: Path, options: StackSettings, match: re.Match) -> dict[str, Any]:
    """The role EventBridge Scheduler assumes, for this account's schedules only, to start the schedules' jobs."""
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "RoleName": match["name"],
            "Path": match["path"],
            "Description": f"EventBridge Scheduler starts the scheduled Glue jobs of {settings.tag_value} as this role (make stack)",
            "AssumeRolePolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "scheduler.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                        "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
                    }
                ],
            },
            "Policies": [
                {
                    "PolicyName": f"{options.name}-schedules",
                    "PolicyDocument": render_policy(repo_root / TEMPLATES["scheduler"], settings, repo_root / "sql"),
                }
            ],
        },
    }


def _replace(value: Any, old: str, new: Any) -> Any:
    """``value`` with every string equal to ``old`` replaced by ``new`` (at any depth)."""
    if isinstance(value, dict):
        return {k: _replace(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, old, new) for v in value]
    return copy.deepcopy(new) if value == old else value


def _key(options: StackSettings) -> dict[str, Any]:
    """A symmetric key with yearly rotation whose use IAM policies in the account decide (the key's default policy)."""
    return {
        "Type": "AWS::KMS::Key",
        **RETAIN,
        "Properties": {
            "Description": f"Data of stack {options.name}: buckets, Athena results",
            "EnableKeyRotation": True,
            "KeyPolicy": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "TheAccountGrantsUseThroughIam",
                        "Effect": "Allow",
                        "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
                        "Action": "kms:*",
                        "Resource": "*",
                    }
                ],
            },
        },
    }


def _encryption(settings: Settings, options: StackSettings, bucket: str, data_key: Any) -> dict[str, Any]:
    if options.encryption == "s3":
        return {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    ingest = settings.section("ingest")
    own_key = (
        ingest.kms_key_arn
        if ingest and bucket in _ingest_buckets(settings) and ingest.kms_key_arn != settings.kms_key_arn
        else None
    )
    return {
        "ServerSideEncryptionConfiguration": [
            {
                "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": own_key or data_key},
                "BucketKeyEnabled": True,
            }
        ]
    }


def _ingest_buckets(settings: Settings) -> set[str]:
    urls = [url for name, url in settings.datasets.items() if name.startswith("ingest.")]
    if settings.section("ingest"):
        urls.append(settings.section("ingest").archive_url)
    return {split_s3(url)[0] for url in urls if url.startswith("s3://")}


def _bucket(settings: Settings, options: StackSettings, bucket: str, data_key: Any) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "BucketName": bucket,
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        },
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        "BucketEncryption": _encryption(settings, options, bucket, data_key),
    }
    rules = []
    ingest = settings.section("ingest")
    if ingest and ingest.archive_url.startswith("s3://") and split_s3(ingest.archive_url)[0] == bucket:
        prefix = split_s3(ingest.archive_url)[1]
        rules.append(
            {
                "Id": "DeepArchiveUnfinishedUploads",
                "Status": "Enabled",
                **({"Prefix": prefix} if prefix else {}),
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_UPLOADS_AFTER_DAYS},
            }
        )
    if ingest and ingest.map_store == "s3" and ingest.s3_bucket == bucket:
        properties["VersioningConfiguration"] = {"Status": "Enabled"}
        rules.append(
            {
                "Id": "ReplacedVersionsExpire",
                "Status": "Enabled",
                "NoncurrentVersionExpiration": {"NoncurrentDays": ingest.map_versions_days},
            }
        )
    if rules:
        properties["LifecycleConfiguration"] = {"Rules": rules}
    return {"Type": "AWS::S3::Bucket", **RETAIN, "Properties": properties}


def _workgroup(settings: Settings, options: StackSettings, results: str, data_key: Any) -> dict[str, Any]:
    encryption = (
        {"EncryptionOption": "SSE_S3"} if options.encryption == "s3" else {"EncryptionOption": "SSE_KMS", "KmsKey": data_key}
    )
    return {
        "Type": "AWS::Athena::WorkGroup",
        "Properties": {
            "Name": settings.athena_workgroup,
            "Description": f"Queries of {settings.tag_value} (make ddl, make query)",
            "State": "ENABLED",
            "WorkGroupConfiguration": {
                "EnforceWorkGroupConfiguration": True,
                "PublishCloudWatchMetricsEnabled": True,
                "ResultConfiguration": {"OutputLocation": results, "EncryptionConfiguration": encryption},
            },
        },
    }


def setting_hints(outputs: Mapping[str, str], settings: Settings) -> list[str]:
    """What to set in config.yml (or its variables) for what the stack created: the role's and the key's ARNs."""
    hints = []
    role = outputs.get(ROLE_OUTPUT)
    if role is not None and role != settings.glue_role_arn:
        hints.append(
            f"the stack's job role is {role} but profiles.aws.glue_role_arn is {settings.glue_role_arn}: set GLUE_ROLE_ARN={role}"
        )
    scheduler = outputs.get(SCHEDULER_ROLE_OUTPUT)
    if scheduler is not None and scheduler != settings.scheduler_role_arn:
        hints.append(
            f"the stack's scheduler role is {scheduler} but profiles.aws.scheduler_role_arn is "
            f"{settings.scheduler_role_arn or 'empty'}: set SCHEDULER_ROLE_ARN={scheduler}"
        )
    key = outputs.get(KEY_OUTPUT)
    if key is not None and settings.kms_key_arn != key and stack_settings(settings).encryption == "kms":
        hints.append(
            f"the stack encrypts with KMS key {key} but profiles.aws.kms_key_arn is {settings.kms_key_arn or 'empty'}: "
            f"set KMS_KEY_ARN={key} so that make policy and ingest use it"
        )
    return hints


def drift(outputs: Mapping[str, str], template: Mapping[str, Any]) -> list[str]:
    """The outputs named in config.yml (buckets, database, workgroup, …) that the deployed stack holds otherwise."""
    found = []
    for name, output in template["Outputs"].items():
        expected = output["Value"]
        if not isinstance(expected, str) or outputs.get(name) == expected:
            continue
        deployed = f"is {outputs[name]}" if name in outputs else "is missing"
        found.append(f"stack output {name} ({output['Description']}) {deployed}, config.yml gives {expected}: run make stack")
    return found
