"""The three IAM policies, rendered for the configured buckets: least privilege for what the code does.

``glue-role`` (glue_role_policy.json) is what the Glue jobs run as; ``operator``
(operator_policy.json) is what the person running ``make`` needs for build, execute, status,
cleanup, schedule, catchup, ddl, query, pipeline, timestream-load, monitor, ingest, restore, verify
and config-check (every bucket's region, the stack's outputs); ``scheduler``
(scheduler_role_policy.json) is what EventBridge Scheduler starts the schedules' jobs as. ``make
stack`` is not theirs: an account administrator runs it once. Beyond the API calls the code makes, each policy grants what AWS
documents its features need from the caller, listed in ``PREREQUISITES`` with the page that says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from job_helpers.control.config import Settings, render_references
from job_helpers.control.ddl import render_statements
from job_helpers.dataset import PolicyContext
from job_helpers.datasets import registered
from job_helpers.storage import split_s3

TEMPLATES = {"glue-role": "glue_role_policy.json", "operator": "operator_policy.json", "scheduler": "scheduler_role_policy.json"}
# The jobs use the profile's key; the operator also the ingest key (ingest.kms_key_arn).
JOB_KMS_STATEMENT, OPERATOR_KMS_STATEMENT = "KmsForEncryptedBuckets", "KmsForEncryptedData"
# Listing is needed on every bucket the policy reads or writes: without it S3 answers 403, not
# 404, for a missing key. Filled in with the buckets of the policy's own object ARNs.
LIST_STATEMENT = "ListBuckets"
JOB_CODE_STATEMENT = "ReadJobCode"
# The job role's reads and writes: each registered data set's, filled in from the registry; every
# job also writes its run report under the assets' runs/ folder.
READ_INPUTS_STATEMENT, WRITE_OUTPUTS_STATEMENT = "ReadInputs", "WriteOutputs"
JOB_RUNS_RESOURCE = "{glue_assets.prefix_arn}runs/*"
JOBS_STATEMENT = "ManageProjectJobs"
TRIGGERS_STATEMENT = "RemoveProjectGlueTriggers"
PASS_SCHEDULER_ROLE_STATEMENT = "PassTheSchedulerRole"
SCHEDULED_JOBS_STATEMENT = "StartTheScheduledJobs"
TABLES_STATEMENT = "ReadTableData"
INGEST_STATEMENT = "IngestObjects"
BUCKET_REGIONS_STATEMENT = "FindBucketRegions"
TIMESTREAM_BUCKETS_STATEMENT = "TimestreamLoadBuckets"
# The batch loads' source and report locations: Timestream needs GetBucketAcl on their buckets.
TIMESTREAM_LOAD_DATASETS = ("embrace.timestream_ready", "embrace.timestream_reports")
OBJECT_ARN = re.compile(r"^arn:aws:s3:::([^/]+)/")
LOCATION = re.compile(r"LOCATION\s+'(s3://[^']+)'", re.IGNORECASE)


class PolicyError(Exception):
    """The policy cannot be rendered from this configuration; the message names the key."""


@dataclass(frozen=True)
class Prerequisite:
    """Actions AWS documents a feature needs from the caller beyond the API calls the code makes.

    ``statements`` are the Sids of the template statements that grant them; ``source`` is the page
    of AWS's documentation that lists them. tests/control/test_policies.py checks both ways: each of these
    is granted where it says, and a policy grants nothing beyond the code's calls and these.
    """

    feature: str
    actions: tuple[str, ...]
    statements: tuple[str, ...]
    source: str


PREREQUISITES: dict[str, tuple[Prerequisite, ...]] = {
    "glue-role": (
        Prerequisite(
            "Glue writes the job's logs as the role",
            ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"),
            ("GlueJobLogs",),
            "https://docs.aws.amazon.com/glue/latest/dg/create-service-policy.html",
        ),
        Prerequisite(
            "Glue publishes the job's metrics as the role",
            ("cloudwatch:PutMetricData",),
            ("GlueJobMetrics",),
            "https://docs.aws.amazon.com/glue/latest/dg/create-service-policy.html",
        ),
        Prerequisite(
            "reading and writing SSE-KMS objects",
            ("kms:Decrypt", "kms:GenerateDataKey"),
            (JOB_KMS_STATEMENT,),
            "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html",
        ),
    ),
    "operator": (
        Prerequisite(
            "CreateJob with Tags",
            ("glue:TagResource",),
            (JOBS_STATEMENT,),
            "https://docs.aws.amazon.com/glue/latest/dg/monitor-tags.html",
        ),
        Prerequisite(
            "CreateSchedule passes the schedule's execution role to EventBridge Scheduler",
            ("iam:PassRole",),
            (PASS_SCHEDULER_ROLE_STATEMENT,),
            "https://docs.aws.amazon.com/scheduler/latest/UserGuide/security_iam_id-based-policy-examples.html",
        ),
        Prerequisite(
            "CreateJob passes the job role to Glue",
            ("iam:PassRole",),
            ("PassTheJobRole",),
            "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_passrole.html",
        ),
        Prerequisite(
            "Athena DDL and queries read and change the Glue catalog as the caller",
            (
                "glue:GetDatabase",
                "glue:CreateDatabase",
                "glue:GetTable",
                "glue:GetTables",
                "glue:CreateTable",
                "glue:GetPartition",
                "glue:GetPartitions",
                "glue:BatchGetPartition",
            ),
            ("ProjectTablesInTheGlueCatalog",),
            "https://docs.aws.amazon.com/athena/latest/ug/fine-grained-access-to-glue-resources.html",
        ),
        Prerequisite(
            "Athena finds the query results bucket",
            ("s3:GetBucketLocation",),
            (BUCKET_REGIONS_STATEMENT,),
            "https://repost.aws/knowledge-center/athena-output-bucket-error",
        ),
        Prerequisite(
            "Timestream batch load reads each source bucket",
            ("s3:GetObject", "s3:GetBucketAcl", "s3:ListBucket"),
            ("TimestreamLoadFiles", TIMESTREAM_BUCKETS_STATEMENT, LIST_STATEMENT),
            "https://docs.aws.amazon.com/timestream/latest/developerguide/batch-load-prerequisites.html",
        ),
        Prerequisite(
            "Timestream batch load writes its report to each report bucket",
            ("s3:PutObject", "s3:GetBucketAcl"),
            ("TimestreamLoadReports", TIMESTREAM_BUCKETS_STATEMENT),
            "https://docs.aws.amazon.com/timestream/latest/developerguide/batch-load-prerequisites.html",
        ),
        Prerequisite(
            "CreateBatchLoadTask and ResumeBatchLoadTask write the records with the caller's timestream:WriteRecords",
            ("timestream:WriteRecords",),
            ("TimestreamBatchLoads",),
            "https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazontimestream.html",
        ),
        Prerequisite(
            "reading and writing SSE-KMS objects",
            ("kms:Decrypt", "kms:GenerateDataKey"),
            (OPERATOR_KMS_STATEMENT,),
            "https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html",
        ),
        Prerequisite(
            "a SecureString subject-map parameter under a customer managed key",
            ("kms:Encrypt", "kms:Decrypt"),
            (OPERATOR_KMS_STATEMENT,),
            "https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-setting-up.html",
        ),
    ),
    "scheduler": (
        Prerequisite(
            "EventBridge Scheduler's universal target calls Glue's StartJobRun as the schedule's execution role",
            ("glue:StartJobRun",),
            (SCHEDULED_JOBS_STATEMENT,),
            "https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-targets-universal.html",
        ),
    ),
}


def _account(settings: Settings) -> str:
    match = re.match(r"^arn:aws[\w-]*:iam::(\d{12}):role/", settings.glue_role_arn or "")
    if match is None:
        raise PolicyError(f"profiles.aws.glue_role_arn: {settings.glue_role_arn!r} is not an IAM role ARN; set GLUE_ROLE_ARN")
    return match.group(1)


def _objects_arn(url: str) -> str:
    bucket, prefix = split_s3(url)
    return f"arn:aws:s3:::{bucket}/{prefix}*"


def policy_values(settings: Settings) -> dict[str, str]:
    """ARNs the templates refer to, per data set and for the role, tables, secrets and parameters.

    ``<name>.prefix_arn`` is the data set's folder without the trailing ``*`` (for narrower
    folders below it); ``<name>.staging_arn`` covers the hidden sibling folders
    (``.staging-<leaf>-…``, ``.trash-<leaf>-…``) that earlier STEDI publishes renamed through and
    left behind after a crash; a run deletes what it finds there. Each registered data set adds the
    values of its own statements (its ``RolePolicy.values``).
    """
    region = settings.region or ""
    account = _account(settings)
    group = settings.resolved["project"]["prefix"]
    stack = settings.stack.name if settings.stack else "glue-etl"
    values = {
        "region": region,
        "account": account,
        "glue_role_arn": settings.glue_role_arn or "",
        "athena.workgroup_arn": f"arn:aws:athena:{region}:{account}:workgroup/{settings.athena_workgroup}",
        "glue.catalog_arn": f"arn:aws:glue:{region}:{account}:catalog",
        "glue.database_arn": f"arn:aws:glue:{region}:{account}:database/{settings.athena_database}",
        "glue.tables_arn": f"arn:aws:glue:{region}:{account}:table/{settings.athena_database}/*",
        "glue.output_log_streams_arn": f"arn:aws:logs:{region}:{account}:log-group:/aws-glue/jobs/output:log-stream:*",
        "scheduler.group_arn": f"arn:aws:scheduler:{region}:{account}:schedule-group/{group}",
        "scheduler.schedules_arn": f"arn:aws:scheduler:{region}:{account}:schedule/{group}/*",
        "stack_arn": f"arn:aws:cloudformation:{region}:{account}:stack/{stack}/*",
    }
    for name, url in settings.datasets.items():
        values.update(_dataset_arns(name, url))
    job_arguments = {key: job.arguments for key, job in settings.jobs.items()}
    for dataset in registered():
        if dataset.role.values:
            values.update(dataset.role.values(PolicyContext(region, account, settings.section(dataset.name), job_arguments)))
    return values


def _dataset_arns(name: str, url: str) -> dict[str, str]:
    bucket, prefix = split_s3(url)
    parent, _, leaf = prefix.rstrip("/").rpartition("/")
    return {
        f"{name}.bucket_arn": f"arn:aws:s3:::{bucket}",
        f"{name}.prefix_arn": f"arn:aws:s3:::{bucket}/{prefix}",
        f"{name}.objects_arn": f"arn:aws:s3:::{bucket}/{prefix}*",
        f"{name}.staging_arn": f"arn:aws:s3:::{bucket}/{parent + '/' if parent else ''}.*-{leaf}-*",
    }


def _ingest_objects(settings: Settings) -> list[str]:
    urls = [url for name, url in settings.datasets.items() if name.startswith("ingest.")]
    ingest = settings.section("ingest")
    if ingest and ingest.archive_url:
        urls.append(ingest.archive_url)
    return sorted({_objects_arn(url) for url in urls})


def _kms_keys(settings: Settings) -> list[str]:
    """The profile's key and the ingest one (``ingest.kms_key_arn``, which falls back to the profile's)."""
    ingest = settings.section("ingest")
    ingest_key = ingest.kms_key_arn if ingest else None
    return sorted({key for key in (settings.kms_key_arn, ingest_key) if key})


def _table_objects(sql_dir: Path, settings: Settings) -> list[str]:
    """Every S3 location a DDL file gives a table, as the object ARN Athena reads."""
    locations = {match for statement in render_statements(sql_dir, settings) for match in LOCATION.findall(statement.sql)}
    return sorted(_objects_arn(url) for url in locations)


def _resources(statement: dict) -> list[str]:
    resource = statement.get("Resource", [])
    return [resource] if isinstance(resource, str) else list(resource)


def _buckets(statements: Iterable[dict]) -> list[str]:
    found = set()
    for statement in statements:
        if statement.get("Sid") == JOB_CODE_STATEMENT:
            continue
        for arn in _resources(statement):
            match = OBJECT_ARN.match(arn)
            if match:
                found.add(f"arn:aws:s3:::{match.group(1)}")
    return sorted(found)


def render_policy(template: Path, settings: Settings, sql_dir: Path | None = None) -> dict:
    """The policy document of ``template`` for ``settings``.

    The registered data sets' statements are added to the job role's (after its listing statement),
    and statements whose resources depend on more than one value are filled in here: the job
    role's reads and writes (from the registry), the project's job names, the tables' locations
    (from ``sql_dir``), the ingest data sets and, last, listing on every bucket the other statements
    touch. A statement left with no resource (a KMS one when no key is set) is dropped.
    """
    values = policy_values(settings)
    document = json.loads(render_references(template.read_text(encoding="utf-8"), values))
    if template.name == TEMPLATES["glue-role"]:
        document["Statement"] = _with_dataset_statements(document["Statement"], values)
    fills = _fills(settings, values, sql_dir or template.parent / "sql")
    for statement in document["Statement"]:
        if statement.get("Sid") in fills:
            statement["Resource"] = fills[statement["Sid"]]()
    document["Statement"] = [s for s in document["Statement"] if s["Resource"] != []]
    for statement in document["Statement"]:
        if statement.get("Sid") == LIST_STATEMENT:
            statement["Resource"] = _buckets(document["Statement"])
    return document


def _with_dataset_statements(statements: list[dict], values: Mapping[str, str]) -> list[dict]:
    """The job role's statements with each registered data set's own, rendered, after the listing one."""
    own = [
        json.loads(render_references(json.dumps(statement), values))
        for dataset in registered()
        for statement in dataset.role.statements
    ]
    at = next(index for index, statement in enumerate(statements) if statement.get("Sid") == LIST_STATEMENT) + 1
    return [*statements[:at], *own, *statements[at:]]


def _registered_objects(kind: str, values: Mapping[str, str]) -> list[str]:
    """The ``reads`` or ``writes`` of every registered data set, rendered; the job role's run reports are written too."""
    declared = [arn for dataset in registered() for arn in getattr(dataset.role, kind)]
    if kind == "writes":
        declared.insert(0, JOB_RUNS_RESOURCE)
    return [render_references(arn, values) for arn in declared]


def _fills(settings: Settings, values: Mapping[str, str], sql_dir: Path) -> dict[str, Callable[[], list[str]]]:
    """How each statement filled in here gets its resources (called only for statements the template has)."""
    account, region = values["account"], values["region"]
    jobs = settings.jobs.values()
    return {
        READ_INPUTS_STATEMENT: lambda: _registered_objects("reads", values),
        WRITE_OUTPUTS_STATEMENT: lambda: _registered_objects("writes", values),
        JOBS_STATEMENT: lambda: sorted({f"arn:aws:glue:{region}:{account}:job/{job.name_prefix}-*" for job in jobs}),
        TRIGGERS_STATEMENT: lambda: sorted(
            {f"arn:aws:glue:{region}:{account}:trigger/{job.name_prefix}-scheduled" for job in jobs}
        ),
        PASS_SCHEDULER_ROLE_STATEMENT: lambda: [settings.scheduler_role_arn] if settings.scheduler_role_arn else [],
        SCHEDULED_JOBS_STATEMENT: lambda: sorted(
            {f"arn:aws:glue:{region}:{account}:job/{job.name_prefix}-scheduled" for job in jobs if job.date_ranged}
        ),
        TABLES_STATEMENT: lambda: _table_objects(sql_dir, settings),
        INGEST_STATEMENT: lambda: _ingest_objects(settings),
        JOB_KMS_STATEMENT: lambda: [settings.kms_key_arn] if settings.kms_key_arn else [],
        OPERATOR_KMS_STATEMENT: lambda: _kms_keys(settings),
        BUCKET_REGIONS_STATEMENT: lambda: sorted(
            {f"arn:aws:s3:::{bucket}" for bucket in (settings.resolved.get("buckets") or {}).values()}
        ),
        TIMESTREAM_BUCKETS_STATEMENT: lambda: sorted(
            {
                f"arn:aws:s3:::{split_s3(settings.datasets[name])[0]}"
                for name in TIMESTREAM_LOAD_DATASETS
                if name in settings.datasets
            }
        ),
    }
