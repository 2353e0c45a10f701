"""Both IAM policies: linted with parliament, and granting every AWS action the code calls.

The actions come from the source: every ``<client>.<operation>(`` call, paginator and S3
transfer in the files a job can run is checked against the job role's policy; those in the rest
of job_helpers (the CLI and what only it runs), plus the shared storage layer, against the
operator's. An operation is mapped to its IAM action through botocore's model. Beyond those, a
policy grants exactly what AWS documents its features need from the caller
(``policy.PREREQUISITES``, each with its documentation page), and each of those is granted.
"""

from __future__ import annotations

import ast
import fnmatch
import json
from functools import cache
from pathlib import Path

import boto3
import pytest
from botocore import xform_name
from parliament import analyze_policy_string

from job_helpers.control.config import load_settings
from job_helpers.control.policy import PREREQUISITES, TEMPLATES, render_policy
from job_helpers.datasets import registered
from tests.support.project_imports import REPO, reachable

# The control plane's services, then those each registered data set calls (its DataSet.services).
CONTROL_SERVICES = ("s3", "glue", "athena", "sts", "logs", "cloudformation", "service-quotas", "scheduler")
SHIPPED_DATASETS = ("sitewise", "stedi", "sensors", "embrace", "ingest")
SERVICES = tuple(dict.fromkeys((*CONTROL_SERVICES, *(service for dataset in registered() for service in dataset.services))))
# Method names more than one of those services has: the one the project means.
MEANT = {"get_query_results": "athena", "describe_endpoints": "timestream-query", "update_table": "glue"}
# Operations whose IAM action is not <prefix>:<Operation>; None: no permission needed.
S3_ACTIONS = {
    "HeadObject": ["s3:GetObject"],
    "ListObjectsV2": ["s3:ListBucket"],
    "CopyObject": ["s3:GetObject", "s3:PutObject"],
    "DeleteObjects": ["s3:DeleteObject"],
    "CreateMultipartUpload": ["s3:PutObject"],
    "UploadPart": ["s3:PutObject"],
    "CompleteMultipartUpload": ["s3:PutObject"],
}
SPECIAL = {("sts", "GetCallerIdentity"): [], ("timestream-query", "Query"): ["timestream:Select"]}
# boto3's managed transfers: the operations they send, as IAM actions.
TRANSFERS = {
    "upload_file": ["s3:PutObject", "s3:AbortMultipartUpload"],
    "upload_fileobj": ["s3:PutObject", "s3:AbortMultipartUpload"],
    "download_file": ["s3:GetObject"],
    "download_fileobj": ["s3:GetObject"],
    "copy": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
    "create_transfer_manager": ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
}
# Clients of these services discover their endpoint first (DescribeEndpoints).
DISCOVERY = {"timestream-query", "timestream-write"}
# What make stack and make stack-delete call: they run once, as an account administrator (they
# create an IAM role and a KMS key), never with the operator policy, which only reads the stack.
ADMINISTRATOR = {
    "cloudformation:CreateChangeSet",
    "cloudformation:DescribeChangeSet",
    "cloudformation:ExecuteChangeSet",
    "cloudformation:DeleteChangeSet",
    "cloudformation:DeleteStack",
    "cloudformation:GetTemplate",
    "cloudformation:ListStackResources",
    "cloudformation:DescribeStackEvents",
}


@cache
def _operations() -> dict[str, list[tuple[str, str]]]:
    session = boto3.Session(region_name="us-east-1")
    methods: dict[str, list[tuple[str, str]]] = {}
    for service in SERVICES:
        model = session.client(service).meta.service_model
        for operation in model.operation_names:
            methods.setdefault(xform_name(operation), []).append((service, operation))
    return methods


@cache
def _prefix(service: str) -> str:
    model = boto3.Session(region_name="us-east-1").client(service).meta.service_model
    return model.signing_name or model.endpoint_prefix


def iam_actions(service: str, operation: str) -> list[str]:
    if service == "s3" and operation in S3_ACTIONS:
        return S3_ACTIONS[operation]
    actions = list(SPECIAL.get((service, operation), [f"{_prefix(service)}:{operation}"]))
    if service in DISCOVERY:
        actions.append(f"{_prefix(service)}:DescribeEndpoints")
    return actions


def actions_called(files) -> dict[str, set[str]]:
    """IAM action -> the ``file:line`` places in ``files`` whose AWS calls need it."""
    found: dict[str, set[str]] = {}
    for path in files:
        for action, place in _actions_in(path):
            found.setdefault(action, set()).add(place)
    return found


@cache
def _actions_in(path: Path) -> tuple[tuple[str, str], ...]:
    """The (IAM action, ``file:line``) pairs of one file's AWS calls; each file is parsed once per session."""
    methods = _operations()
    where = path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else path.name
    found: list[tuple[str, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        name = node.func.attr
        if name in ("get_paginator", "can_paginate") and node.args and isinstance(node.args[0], ast.Constant):
            name = node.args[0].value
        actions: list[str] = []
        if name in TRANSFERS:
            actions = TRANSFERS[name]
        elif name in methods:
            candidates = [c for c in methods[name] if name not in MEANT or c[0] == MEANT[name]]
            assert len(candidates) == 1, f"{where}:{node.lineno}: {name} is an operation of {candidates}; add it to MEANT"
            actions = iam_actions(*candidates[0])
        found += [(action, f"{where}:{node.lineno}") for action in actions]
    return tuple(found)


@cache
def _job_files() -> frozenset[Path]:
    files: set[Path] = set()
    for script in (REPO / "jobs").glob("*.py"):
        files |= set(reachable(script)[0])
    return frozenset(files)


@cache
def _operator_files() -> frozenset[Path]:
    every = {path.resolve() for path in (REPO / "job_helpers").rglob("*.py")}
    return frozenset((every - _job_files()) | {(REPO / "job_helpers" / "storage.py").resolve()})


def _settings(*overrides: str):
    return load_settings(REPO / "config.yml", "aws", list(overrides), environ={})


def _policy(who: str, *overrides: str) -> dict:
    return render_policy(REPO / TEMPLATES[who], _settings(*overrides))


def allowed(policy: dict, action: str) -> bool:
    for statement in policy["Statement"]:
        patterns = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if statement["Effect"] == "Allow" and any(fnmatch.fnmatch(action.lower(), p.lower()) for p in patterns):
            return True
    return False


KMS = "profiles.aws.kms_key_arn=arn:aws:kms:us-east-1:123456789012:key/k"
SCHEDULER = "profiles.aws.scheduler_role_arn=arn:aws:iam::123456789012:role/glue-etl-scheduler"


@pytest.mark.parametrize("who", sorted(TEMPLATES))
@pytest.mark.parametrize("overrides", [(), (KMS,), (KMS, SCHEDULER)], ids=["no-kms", "kms", "kms-scheduler-role"])
def test_parliament_finds_nothing_in_the_policy(who, overrides):
    policy = _policy(who, *overrides)
    findings = analyze_policy_string(json.dumps(policy), include_community_auditors=False).findings
    assert [(f.issue, f.detail) for f in findings] == []


def test_parliament_would_flag_a_policy_that_grants_too_widely():
    policy = _policy("glue-role")
    policy["Statement"].append({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"})
    findings = analyze_policy_string(json.dumps(policy), include_community_auditors=False).findings
    assert [f.issue for f in findings] == ["RESOURCE_STAR"]


def test_the_job_role_grants_every_action_the_jobs_call():
    policy = _policy("glue-role", KMS)
    needed = actions_called(_job_files())
    assert {"s3:GetObject", "s3:PutObject", "iotsitewise:ListTimeSeries", "timestream:Select"} <= set(needed)
    missing = {action: sorted(places) for action, places in needed.items() if not allowed(policy, action)}
    assert missing == {}


def test_the_operator_policy_grants_every_action_make_calls():
    policy = _policy("operator", KMS)
    needed = actions_called(_operator_files())
    assert {"glue:CreateJob", "athena:StartQueryExecution", "timestream:CreateBatchLoadTask", "ssm:PutParameter"} <= set(needed)
    assert {"cloudformation:DescribeStacks", "s3:GetBucketLocation", "logs:GetLogEvents", "timestream:DescribeTable"} <= set(
        needed
    )
    assert {"glue:ListJobs", "glue:GetJob", "servicequotas:GetServiceQuota"} <= set(needed), "execute counts the account's jobs"
    assert {"scheduler:CreateSchedule", "scheduler:GetSchedule", "scheduler:DeleteSchedule"} <= set(needed)
    assert ADMINISTRATOR <= set(needed), "make stack's calls are found, and left to the administrator"
    missing = {
        action: sorted(places) for action, places in needed.items() if action not in ADMINISTRATOR and not allowed(policy, action)
    }
    assert missing == {}
    assert not any(allowed(policy, action) for action in ADMINISTRATOR)


def _documented(who: str) -> set[str]:
    return {action for prerequisite in PREREQUISITES[who] for action in prerequisite.actions}


@pytest.mark.parametrize("who", sorted(TEMPLATES))
def test_each_policy_grants_nothing_beyond_the_code_and_awss_documented_prerequisites(who):
    # EventBridge Scheduler, not the code, calls what the scheduler role grants.
    files = {"glue-role": _job_files(), "operator": _operator_files()}.get(who, set())
    needed = set(actions_called(files)) | _documented(who)
    granted = {a for s in _policy(who, KMS, SCHEDULER)["Statement"] for a in s["Action"]}
    assert sorted(granted - needed) == []


@pytest.mark.parametrize("who", sorted(TEMPLATES))
def test_every_documented_prerequisite_is_granted_where_it_says_and_names_its_source(who):
    """Issue 19.1: Timestream batch loads need s3:GetBucketAcl on the source and report buckets; an allow-list hid its absence."""
    keys = (KMS, "ingest.kms_key_arn=arn:aws:kms:us-east-1:123456789012:key/i", SCHEDULER)
    statements = {s["Sid"]: s for s in _policy(who, *keys)["Statement"]}
    for prerequisite in PREREQUISITES[who]:
        assert prerequisite.source.startswith(("https://docs.aws.amazon.com/", "https://repost.aws/knowledge-center/"))
        granting = [statements[sid] for sid in prerequisite.statements if sid in statements]
        assert len(granting) == len(prerequisite.statements), f"{prerequisite.feature}: a statement is missing"
        for action in prerequisite.actions:
            assert any(action in s["Action"] for s in granting), f"{prerequisite.feature}: {action} ({prerequisite.source})"


def test_timestream_batch_loads_may_read_the_acl_of_their_source_and_report_buckets():
    policy = _policy("operator", "datasets.embrace.timestream_reports.bucket=assets")
    acl = [s for s in policy["Statement"] if "s3:GetBucketAcl" in s["Action"]]
    assert [s["Resource"] for s in acl] == [["arn:aws:s3:::embrace-wearables", "arn:aws:s3:::glue-etl-assets"]]
    listing = next(s for s in policy["Statement"] if s["Sid"] == "ListBuckets")
    assert "arn:aws:s3:::embrace-wearables" in listing["Resource"]
    files = next(s for s in policy["Statement"] if s["Sid"] == "TimestreamLoadFiles")
    assert "arn:aws:s3:::embrace-wearables/timestream_ready/*" in files["Resource"]
    reports = next(s for s in policy["Statement"] if s["Sid"] == "TimestreamLoadReports")
    assert reports["Resource"] == ["arn:aws:s3:::glue-etl-assets/timestream_reports/*"]


def test_the_check_notices_an_action_no_policy_grants(tmp_path):
    source = tmp_path / "probe.py"
    source.write_text("def probe(glue):\n    glue.update_job(JobName='x', JobUpdate={})\n", encoding="utf-8")
    needed = actions_called([source])
    assert needed == {"glue:UpdateJob": {"probe.py:2"}}
    assert not allowed(_policy("operator", KMS), "glue:UpdateJob")


def _resources(policy: dict) -> list[str]:
    return [r for s in policy["Statement"] for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])]


def test_the_job_role_reads_only_what_the_jobs_read():
    policy = _policy("glue-role")
    resources = _resources(policy)
    assert "arn:aws:s3:::sitewise-cold-tier/raw/*" in resources
    assert "arn:aws:s3:::sitewise-cold-tier/asset_metadata/*" in resources
    assert "arn:aws:s3:::sitewise-cold-tier/*" not in resources
    assert not any("reference/" in r for r in resources), "the sensor reference tables are read by Athena only"
    assert not any("clinical-ingest" in r for r in resources), "no job touches the ingest buckets"
    listing = next(s for s in policy["Statement"] if s["Sid"] == "ListBuckets")
    assert "arn:aws:s3:::glue-etl-assets/glue/runs/*" in resources, "jobs write their run reports (records read and written)"
    # A data set added since (make new-job) brings its own bucket, and only that.
    added = {f"arn:aws:s3:::{bucket}" for d in registered() if d.name not in SHIPPED_DATASETS for bucket in d.example_buckets}
    assert listing["Resource"] == sorted(
        {
            "arn:aws:s3:::embrace-wearables",
            "arn:aws:s3:::glue-etl-assets",
            "arn:aws:s3:::sensor-timeseries-lake",
            "arn:aws:s3:::sitewise-cold-tier",
            "arn:aws:s3:::stedi-lakehouse",
            *added,
        }
    )


def test_the_operator_passes_only_the_job_role_and_manages_only_the_project_jobs():
    policy = _policy("operator", "profiles.aws.glue_role_arn=arn:aws:iam::210987654321:role/etl")
    passing = [s for s in policy["Statement"] if "iam:PassRole" in s["Action"]]
    assert [s["Resource"] for s in passing] == [["arn:aws:iam::210987654321:role/etl"]]
    assert passing[0]["Condition"] == {"StringEquals": {"iam:PassedToService": "glue.amazonaws.com"}}
    jobs = next(s for s in policy["Statement"] if s["Sid"] == "ManageProjectJobs")
    assert "arn:aws:glue:us-east-1:210987654321:job/glue-etl-sitewise-repartition-*" in jobs["Resource"]
    assert all(r.startswith("arn:aws:glue:us-east-1:210987654321:job/glue-etl-") for r in jobs["Resource"])
    assert "arn:aws:s3:::clinical-ingest-landing/eeg/*" in _resources(policy)
    assert not any(s["Sid"].startswith("Kms") for s in policy["Statement"])
    with_key = _policy("operator", "ingest.kms_key_arn=arn:aws:kms:us-east-1:123456789012:key/ingest")
    kms = next(s for s in with_key["Statement"] if s["Sid"] == "KmsForEncryptedData")
    assert kms["Resource"] == ["arn:aws:kms:us-east-1:123456789012:key/ingest"]


def test_the_operator_passes_the_scheduler_role_to_eventbridge_scheduler_only_and_schedules_in_the_project_group():
    """Issue 19.2: schedules are EventBridge Scheduler's, in the project's schedule group, run as the scheduler role."""
    policy = _policy("operator", SCHEDULER)
    passing = {s["Sid"]: s for s in policy["Statement"] if "iam:PassRole" in s["Action"]}
    assert passing["PassTheSchedulerRole"]["Resource"] == ["arn:aws:iam::123456789012:role/glue-etl-scheduler"]
    assert passing["PassTheSchedulerRole"]["Condition"] == {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}
    schedules = next(s for s in policy["Statement"] if s["Sid"] == "ManageProjectSchedules")
    assert schedules["Resource"] == ["arn:aws:scheduler:us-east-1:123456789012:schedule/glue-etl/*"]
    group = next(s for s in policy["Statement"] if s["Sid"] == "FindTheScheduleGroup")
    assert group["Resource"] == ["arn:aws:scheduler:us-east-1:123456789012:schedule-group/glue-etl"]
    assert "PassTheSchedulerRole" not in {s["Sid"] for s in _policy("operator")["Statement"]}, "no role, no pass"
    assert not allowed(policy, "glue:CreateTrigger"), "schedule creates no Glue trigger any more"


def test_the_scheduler_role_may_only_start_the_jobs_of_schedules():
    (statement,) = _policy("scheduler")["Statement"]
    assert statement["Action"] == ["glue:StartJobRun"]
    assert "arn:aws:glue:us-east-1:123456789012:job/glue-etl-sitewise-repartition-scheduled" in statement["Resource"]
    assert all(arn.endswith("-scheduled") for arn in statement["Resource"])
    assert not any("stedi-customer-trusted" in arn for arn in statement["Resource"]), "a job without dates has no schedule"
