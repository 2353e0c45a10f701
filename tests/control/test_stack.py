"""make stack: the account's setup rendered from config.yml, linted with cfn-lint, deployed on moto's CloudFormation.

moto's CloudFormation creates the buckets (with their encryption), the roles and the KMS key and
skips the resource types it does not model (Glue database, Athena workgroup, secret, schedule group); it applies
neither versioning, lifecycle nor public access blocks, so those are checked in the template,
which cfn-lint validates against CloudFormation's resource schemas.
"""

from __future__ import annotations

import ast
import builtins
import json
from pathlib import Path

import boto3
import cfnlint.api
import pytest
from botocore.stub import Stubber

from job_helpers.control.cli import main
from job_helpers.control.commands.stack_cmd import change_rows
from job_helpers.control.config import ConfigError, load_settings
from job_helpers.control.policy import TEMPLATES, render_policy
from job_helpers.control.stack import Change, Proposal, apply
from job_helpers.control.stack_template import KEY_OUTPUT, SCHEDULER_ROLE_OUTPUT, StackError, render_template, setting_hints

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
SCHEDULER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/schedules/glue-etl-scheduler"
SCHEDULER = f"profiles.aws.scheduler_role_arn={SCHEDULER_ROLE}"
BUCKETS = (
    "clinical-ingest-archive",
    "clinical-ingest-landing",
    "embrace-wearables",
    "glue-etl-assets",
    "sensor-timeseries-lake",
    "sitewise-cold-tier",
    "stedi-lakehouse",
)


def _settings(*overrides: str):
    return load_settings(REPO / "config.yml", "aws", list(overrides), environ={})


def _template(*overrides: str, stack_key_arn: str | None = None) -> dict:
    return render_template(_settings(*overrides), REPO, stack_key_arn)


def lint(template: dict) -> list[str]:
    return [str(match) for match in cfnlint.api.lint(json.dumps(template), regions=["us-east-1"])]


@pytest.mark.parametrize(
    "overrides",
    [
        (),
        ("profiles.aws.stack.encryption=s3",),
        ("profiles.aws.kms_key_arn=arn:aws:kms:us-east-1:123456789012:key/external",),
        ("ingest.subject_map.store=ssm", "profiles.aws.glue_role_arn=arn:aws:iam::123456789012:role/data/etl/jobs"),
        ("stedi.pseudonymise=false", "datasets.ingest_archive.prefix=archive/"),
        (SCHEDULER, "profiles.aws.glue_role_arn=arn:aws:iam::123456789012:role/data/etl/jobs"),
    ],
    ids=["kms-key-of-the-stack", "sse-s3", "external-key", "ssm-map-and-role-path", "no-secret-archive-prefix", "scheduler"],
)
def test_every_rendered_template_passes_cfn_lint(overrides):
    assert lint(_template(*overrides)) == []


def test_cfn_lint_would_name_a_broken_template():
    template = _template()
    rules = template["Resources"]["BucketIngestArchive"]["Properties"]["LifecycleConfiguration"]["Rules"]
    rules[1]["NoncurrentVersionExpiration"] = {"Days": 90}
    template["Resources"]["AthenaWorkGroup"]["Properties"]["State"] = "ON"
    found = lint(template)
    assert any("NoncurrentDays" in line for line in found) and any("'ON'" in line for line in found)


def test_the_template_is_rendered_from_config_and_a_changed_name_changes_it():
    template = _template()
    resources = template["Resources"]
    buckets = {r["Properties"]["BucketName"]: name for name, r in resources.items() if r["Type"] == "AWS::S3::Bucket"}
    assert sorted(buckets) == sorted(BUCKETS)
    assert resources["JobRole"]["Properties"]["RoleName"] == "glue-etl-jobs" and resources["JobRole"]["Properties"]["Path"] == "/"
    assert resources["GlueDatabase"]["Properties"]["DatabaseInput"]["Name"] == "glue_etl"
    workgroup = resources["AthenaWorkGroup"]["Properties"]
    assert workgroup["Name"] == "glue-etl"
    assert workgroup["WorkGroupConfiguration"]["ResultConfiguration"]["OutputLocation"] == "s3://glue-etl-assets/athena-results/"
    assert resources["PseudonymKey"]["Properties"]["Name"] == "glue-etl/stedi/pseudonym-key"

    renamed = _template(
        "buckets.sitewise=plant-7-cold",
        "athena.workgroup=analysts",
        "athena.database=plant",
        "profiles.aws.glue_role_arn=arn:aws:iam::123456789012:role/etl/plant-jobs",
    )
    text = json.dumps(renamed)
    assert "sitewise-cold-tier" not in text and "arn:aws:s3:::plant-7-cold/raw/*" in text
    assert renamed["Resources"]["BucketSitewise"]["Properties"]["BucketName"] == "plant-7-cold"
    assert renamed["Resources"]["AthenaWorkGroup"]["Properties"]["Name"] == "analysts"
    assert renamed["Resources"]["GlueDatabase"]["Properties"]["DatabaseInput"]["Name"] == "plant"
    assert (renamed["Resources"]["JobRole"]["Properties"]["RoleName"], renamed["Resources"]["JobRole"]["Properties"]["Path"]) == (
        "plant-jobs",
        "/etl/",
    )
    shared = _template("buckets.embrace=glue-etl-assets")
    names = [r["Properties"]["BucketName"] for r in shared["Resources"].values() if r["Type"] == "AWS::S3::Bucket"]
    assert sorted(names) == sorted(set(BUCKETS) - {"embrace-wearables"}), (
        "one resource per bucket, however many names point at it"
    )


def test_buckets_block_public_access_encrypt_version_the_subject_map_and_are_never_deleted():
    template = _template("ingest.subject_map.noncurrent_version_days=30")
    resources = template["Resources"]
    key = {"Fn::GetAtt": ["DataKey", "Arn"]}
    for resource in (r for r in resources.values() if r["Type"] == "AWS::S3::Bucket"):
        properties = resource["Properties"]
        assert (resource["DeletionPolicy"], resource["UpdateReplacePolicy"]) == ("Retain", "Retain")
        assert set(properties["PublicAccessBlockConfiguration"].values()) == {True}
        (rule,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
        assert rule == {
            "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key},
            "BucketKeyEnabled": True,
        }
    archive = resources["BucketIngestArchive"]["Properties"]
    assert archive["VersioningConfiguration"] == {"Status": "Enabled"}, "the subject map lives there"
    assert archive["LifecycleConfiguration"]["Rules"] == [
        {"Id": "DeepArchiveUnfinishedUploads", "Status": "Enabled", "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}},
        {"Id": "ReplacedVersionsExpire", "Status": "Enabled", "NoncurrentVersionExpiration": {"NoncurrentDays": 30}},
    ]
    assert not any(
        "VersioningConfiguration" in r["Properties"]
        for n, r in resources.items()
        if n.startswith("Bucket") and n != "BucketIngestArchive"
    )
    assert (resources["DataKey"]["DeletionPolicy"], resources["DataKey"]["Properties"]["EnableKeyRotation"]) == ("Retain", True)
    assert resources["PseudonymKey"]["DeletionPolicy"] == "Retain"
    assert "DeletionPolicy" not in resources["JobRole"] and "DeletionPolicy" not in resources["GlueDatabase"]

    sse_s3 = _template("profiles.aws.stack.encryption=s3")
    assert "DataKey" not in sse_s3["Resources"] and KEY_OUTPUT not in sse_s3["Outputs"]
    (rule,) = sse_s3["Resources"]["BucketAssets"]["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule == {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    assert sse_s3["Resources"]["AthenaWorkGroup"]["Properties"]["WorkGroupConfiguration"]["ResultConfiguration"][
        "EncryptionConfiguration"
    ] == {"EncryptionOption": "SSE_S3"}


def test_the_subject_maps_old_versions_expire_after_the_ingest_sections_days():
    def rules(*overrides: str) -> dict[str, list[dict]]:
        resources = _template(*overrides)["Resources"]
        return {
            name: r["Properties"].get("LifecycleConfiguration", {}).get("Rules", [])
            for name, r in resources.items()
            if r["Type"] == "AWS::S3::Bucket"
        }

    def expiry(found: dict[str, list[dict]]) -> dict[str, int]:
        return {
            name: rule["NoncurrentVersionExpiration"]["NoncurrentDays"]
            for name, listed in found.items()
            for rule in listed
            if "NoncurrentVersionExpiration" in rule
        }

    assert expiry(rules()) == {"BucketIngestArchive": 90}, "config.yml's 90 days, on the map's bucket only"
    moved = rules("ingest.subject_map.s3_object.bucket=assets", "ingest.subject_map.noncurrent_version_days=400")
    assert expiry(moved) == {"BucketAssets": 400}
    assert lint(_template("ingest.subject_map.noncurrent_version_days=400")) == []
    assert expiry(rules("ingest.subject_map.store=ssm")) == {}, "no map object, no versioned bucket"
    with pytest.raises(ConfigError, match=r"ingest.subject_map.noncurrent_version_days: 0 must be a positive whole number"):
        _settings("ingest.subject_map.noncurrent_version_days=0")
    with pytest.raises(ConfigError, match=r"profiles.aws.stack.noncurrent_version_days: unknown key"):
        _settings("profiles.aws.stack.noncurrent_version_days=30")
    local = load_settings(REPO / "config.yml", "local", ["ingest.subject_map.noncurrent_version_days=7"], environ={})
    assert local.section("ingest") is not None and local.section("ingest").map_versions_days == 7


def test_the_job_role_carries_the_policy_make_policy_prints():
    settings = _settings()
    role = _template()["Resources"]["JobRole"]["Properties"]
    (policy,) = role["Policies"]
    printed = render_policy(REPO / TEMPLATES["glue-role"], settings)
    kms = [s for s in policy["PolicyDocument"]["Statement"] if s["Sid"] == "KmsForEncryptedBuckets"]
    assert kms == [
        {
            "Sid": "KmsForEncryptedBuckets",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": [{"Fn::GetAtt": ["DataKey", "Arn"]}],
        }
    ]
    assert [s for s in policy["PolicyDocument"]["Statement"] if s["Sid"] != "KmsForEncryptedBuckets"] == printed["Statement"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "glue.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    external = "arn:aws:kms:us-east-1:123456789012:key/external"
    with_key = _template(f"profiles.aws.kms_key_arn={external}")
    assert "DataKey" not in with_key["Resources"]
    assert with_key["Resources"]["JobRole"]["Properties"]["Policies"][0]["PolicyDocument"] == render_policy(
        REPO / TEMPLATES["glue-role"], _settings(f"profiles.aws.kms_key_arn={external}")
    )
    made = "arn:aws:kms:us-east-1:123456789012:key/made-by-the-stack"
    kept = _template(f"profiles.aws.kms_key_arn={made}", stack_key_arn=made)
    assert "DataKey" in kept["Resources"], "a key the stack made stays in it once kms_key_arn names it"


def test_with_a_scheduler_role_the_stack_makes_it_and_the_tagged_schedule_group():
    """Issue 19.2: EventBridge Scheduler starts each schedule's job as a role that may start those jobs only."""
    assert "SchedulerRole" not in _template()["Resources"] and "ScheduleGroup" not in _template()["Resources"]
    template = _template(SCHEDULER)
    role = template["Resources"]["SchedulerRole"]["Properties"]
    assert (role["RoleName"], role["Path"]) == ("glue-etl-scheduler", "/schedules/")
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "scheduler.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
        }
    ]
    (policy,) = role["Policies"]
    assert policy["PolicyDocument"] == render_policy(REPO / TEMPLATES["scheduler"], _settings(SCHEDULER))
    group = template["Resources"]["ScheduleGroup"]
    assert group == {
        "Type": "AWS::Scheduler::ScheduleGroup",
        "Properties": {"Name": "glue-etl", "Tags": [{"Key": "source", "Value": "glue-etl"}]},
    }
    assert template["Outputs"][SCHEDULER_ROLE_OUTPUT]["Value"] == {"Fn::GetAtt": ["SchedulerRole", "Arn"]}
    made = f"arn:aws:iam::{ACCOUNT}:role/glue-etl-scheduler"
    assert setting_hints({SCHEDULER_ROLE_OUTPUT: made}, _settings()) == [
        f"the stack's scheduler role is {made} but profiles.aws.scheduler_role_arn is empty: set SCHEDULER_ROLE_ARN={made}"
    ]
    with pytest.raises(ConfigError, match="scheduler_role_arn: .* must be an IAM role ARN in the account of glue_role_arn"):
        _settings("profiles.aws.scheduler_role_arn=arn:aws:iam::210987654321:role/elsewhere")


def test_make_stack_creates_the_scheduler_role_with_its_policy(moto_server, capsys):
    assert main(["--profile", "aws", "--set", SCHEDULER, "stack", "deploy", "--yes"]) == 0
    assert "stack glue-etl: CREATE_COMPLETE" in capsys.readouterr().err
    iam = boto3.client("iam", region_name="us-east-1")
    assert iam.get_role(RoleName="glue-etl-scheduler")["Role"]["Arn"] == SCHEDULER_ROLE
    policy = iam.get_role_policy(RoleName="glue-etl-scheduler", PolicyName="glue-etl-schedules")["PolicyDocument"]
    statements = ast.literal_eval(policy)["Statement"] if isinstance(policy, str) else policy["Statement"]
    assert statements == render_policy(REPO / TEMPLATES["scheduler"], _settings(SCHEDULER))["Statement"]


def test_the_stack_refuses_what_it_cannot_create():
    with pytest.raises(ConfigError, match="athena.workgroup: 'primary' is every account's own workgroup"):
        _template("athena.workgroup=primary")
    with pytest.raises(ConfigError, match="profile=aws"):
        render_template(load_settings(REPO / "config.yml", "local", environ={}), REPO)
    with pytest.raises(ConfigError, match=r"profiles.aws.stack.encryption: 'sse' is not one of kms, s3"):
        _settings("profiles.aws.stack.encryption=sse")


@pytest.fixture
def answers(monkeypatch, capsys):
    """Answer the confirmation prompt; record what the user had seen on screen when asked."""
    seen: list[str] = []
    said: list[str] = []

    def answer(text: str | None):
        def ask(prompt: str = "") -> str:
            captured = capsys.readouterr()
            seen.append(captured.out + prompt)
            said.append(captured.err)
            if text is None:
                raise EOFError
            return text

        monkeypatch.setattr(builtins, "input", ask)

    answer.seen = seen
    answer.said = said
    return answer


def _bucket_names() -> set[str]:
    return {b["Name"] for b in boto3.client("s3", region_name="us-east-1").list_buckets()["Buckets"]}


def test_make_stack_shows_the_change_set_asks_then_creates_the_buckets_role_and_key(moto_server, answers, capsys):
    answers("y")
    assert main(["--profile", "aws", "stack", "deploy"]) == 0
    (shown,) = answers.seen
    assert "Change set to create stack glue-etl" in shown and "13 to add, 0 to modify, 0 to remove" in shown
    for name in ("JobRole", "DataKey", "BucketIngestArchive", "GlueDatabase", "AthenaWorkGroup", "PseudonymKey"):
        assert f"Add    │ {name} " in shown
    assert shown.rstrip().endswith("Apply these changes to stack glue-etl? [y/N]")
    assert "AWS region us-east-1 (AWS_DEFAULT_REGION)" in answers.said[0].splitlines(), "said before the change set"
    assert "stack glue-etl: CREATE_COMPLETE" in capsys.readouterr().err

    assert _bucket_names() == set(BUCKETS)
    s3 = boto3.client("s3", region_name="us-east-1")
    (key,) = boto3.client("kms", region_name="us-east-1").list_keys()["Keys"]
    encryption = s3.get_bucket_encryption(Bucket="clinical-ingest-archive")["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert encryption["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert encryption["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"].endswith(key["KeyId"])
    iam = boto3.client("iam", region_name="us-east-1")
    role = iam.get_role(RoleName="glue-etl-jobs")["Role"]
    assert role["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/glue-etl-jobs"
    policy = iam.get_role_policy(RoleName="glue-etl-jobs", PolicyName="glue-etl-jobs")["PolicyDocument"]
    # moto's CloudFormation keeps an inline policy as the repr of the document, its Fn::GetAtt resolved
    statements = ast.literal_eval(policy)["Statement"] if isinstance(policy, str) else policy["Statement"]
    printed = render_policy(REPO / TEMPLATES["glue-role"], _settings(f"profiles.aws.kms_key_arn={key['KeyArn']}"))
    assert statements == printed["Statement"], "the role holds make policy's document, on the key the stack made"

    answers("y")
    assert main(["--profile", "aws", "stack", "deploy"]) == 0
    assert "stack glue-etl already matches config.yml: nothing to change" in capsys.readouterr().out
    assert len(answers.seen) == 1, "nothing to apply, nothing asked"


def test_a_declined_or_unanswered_change_set_applies_nothing(moto_server, answers, capsys):
    cfn = boto3.client("cloudformation", region_name="us-east-1")
    answers("n")
    assert main(["--profile", "aws", "stack", "deploy"]) == 0
    assert "nothing applied; the change set is deleted" in capsys.readouterr().out
    assert _bucket_names() == set() and [s["StackStatus"] for s in cfn.list_stacks()["StackSummaries"]] in (
        [],
        ["DELETE_COMPLETE"],
    )
    answers(None)
    assert main(["--profile", "aws", "stack", "deploy"]) == 2
    out = capsys.readouterr().err
    assert (
        "error: Apply these changes to stack glue-etl? needs an answer and standard input is closed: run again with yes=1" in out
    )
    assert _bucket_names() == set()


def test_a_renamed_bucket_is_a_change_shown_before_it_is_made(moto_server, answers, capsys):
    assert main(["--profile", "aws", "stack", "deploy", "--yes"]) == 0
    capsys.readouterr()
    answers("n")
    assert main(["--profile", "aws", "--set", "buckets.sitewise=plant-7-cold", "stack", "deploy"]) == 0
    (shown,) = answers.seen
    assert "Change set to update stack glue-etl" in shown
    assert "Modify │ BucketSitewise " in shown, "the bucket (a replacement on AWS; moto names no Replacement)"
    assert "Modify │ JobRole " in shown, "and the role, whose policy names the bucket"
    assert "plant-7-cold" not in _bucket_names()


def test_the_change_set_lists_additions_changes_then_removals_and_says_what_is_replaced():
    changes = [
        Change("Remove", "BucketOld", "AWS::S3::Bucket", "old-bucket"),
        Change("Modify", "BucketSitewise", "AWS::S3::Bucket", "sitewise-cold-tier", "True"),
        Change("Add", "PseudonymKey", "AWS::SecretsManager::Secret"),
        Change("Modify", "JobRole", "AWS::IAM::Role", "glue-etl-jobs", "False"),
    ]
    assert change_rows(changes) == [
        ("Add", "PseudonymKey", "", "AWS::SecretsManager::Secret", ""),
        ("Modify", "BucketSitewise", "sitewise-cold-tier", "AWS::S3::Bucket", "replaced"),
        ("Modify", "JobRole", "glue-etl-jobs", "AWS::IAM::Role", ""),
        ("Remove", "BucketOld", "old-bucket", "AWS::S3::Bucket", ""),
    ]


def test_stack_delete_keeps_the_buckets_their_data_and_the_key(moto_server, answers, capsys):
    assert main(["--profile", "aws", "stack", "deploy", "--yes"]) == 0
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.put_object(Bucket="sitewise-cold-tier", Key="raw/2024/03/01/part.avro", Body=b"data")
    capsys.readouterr()
    answers("y")
    assert main(["--profile", "aws", "stack", "delete"]) == 0
    (shown,) = answers.seen
    assert "sitewise-cold-tier" in shown and "kept (DeletionPolicy Retain)" in shown
    assert "glue-etl-jobs" in shown and "│ deleted" in shown
    out = capsys.readouterr().out
    assert "stack glue-etl deleted; 8 resource(s) kept with their data:" in out
    assert "AWS::S3::Bucket sitewise-cold-tier" in out and "AWS::KMS::Key " in out
    assert _bucket_names() == set(BUCKETS)
    assert s3.get_object(Bucket="sitewise-cold-tier", Key="raw/2024/03/01/part.avro")["Body"].read() == b"data"
    assert len(boto3.client("kms", region_name="us-east-1").list_keys()["Keys"]) == 1
    assert [r["RoleName"] for r in boto3.client("iam", region_name="us-east-1").list_roles()["Roles"]] == []
    assert main(["--profile", "aws", "stack", "delete", "--yes"]) == 0
    assert "no stack glue-etl in us-east-1: nothing to delete" in capsys.readouterr().out


def test_the_stack_goes_to_the_account_the_role_arn_names(moto_server, capsys):
    code = main(["--profile", "aws", "--set", "profiles.aws.glue_role_arn=arn:aws:iam::210987654321:role/etl", "stack", "deploy"])
    assert code == 2
    out = capsys.readouterr().err
    assert "glue_role_arn names account 210987654321 but your credentials are in account 123456789012" in out
    assert f"set GLUE_ROLE_ARN=arn:aws:iam::{ACCOUNT}:role/etl" in out
    assert _bucket_names() == set()


def test_a_failed_deploy_names_the_resources_cloudformation_gave_up_on():
    cfn = boto3.client("cloudformation", region_name="us-east-1")
    stack_id = f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/glue-etl/1"
    proposal = Proposal("glue-etl", f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:changeSet/glue-etl-1/1", True, ())
    stack = {"StackName": "glue-etl", "StackId": stack_id, "CreationTime": "2026-01-01T00:00:00Z"}
    failed = {
        "StackId": stack_id,
        "EventId": "e1",
        "StackName": "glue-etl",
        "LogicalResourceId": "BucketAssets",
        "ResourceType": "AWS::S3::Bucket",
        "Timestamp": "2026-01-01T00:00:01Z",
        "ResourceStatus": "CREATE_FAILED",
        "ResourceStatusReason": "glue-etl-assets already exists",
    }
    statuses = []
    with Stubber(cfn) as stub:
        stub.add_response("execute_change_set", {}, {"ChangeSetName": proposal.change_set_id})
        for status in ("CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"):
            stub.add_response("describe_stacks", {"Stacks": [{**stack, "StackStatus": status}]}, {"StackName": "glue-etl"})
        stub.add_response("describe_stack_events", {"StackEvents": [failed]}, {"StackName": stack_id})
        with pytest.raises(StackError) as error:
            apply(cfn, proposal, statuses.append, sleep=lambda _: None)
    assert statuses == ["CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"]
    assert str(error.value) == (
        "stack glue-etl ended ROLLBACK_COMPLETE; CloudFormation rolled back what it had done. "
        "BucketAssets (AWS::S3::Bucket): glue-etl-assets already exists"
    )


def test_config_check_reads_the_stack_outputs(moto_server, capsys):
    """moto computes outputs for create_stack but not for an executed change set, so the stack is made with create_stack."""
    assert main(["--profile", "aws", "config", "check"]) == 0
    assert "no stack glue-etl in us-east-1: `make stack profile=aws` sets up the account" in capsys.readouterr().out

    cfn = boto3.client("cloudformation", region_name="us-east-1")
    cfn.create_stack(StackName="glue-etl", TemplateBody=json.dumps(_template()), Capabilities=["CAPABILITY_NAMED_IAM"])
    key = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName="glue-etl")["Stacks"][0]["Outputs"]}[
        KEY_OUTPUT
    ]
    assert main(["--profile", "aws", "config", "check"]) == 0
    out = capsys.readouterr()
    assert "AWS region us-east-1 (AWS_DEFAULT_REGION)" in out.out and "every bucket that exists is in us-east-1" in out.out
    assert "stack glue-etl: CREATE_COMPLETE, 13 output(s)\n" in out.out
    assert f"set KMS_KEY_ARN={key} so that make policy and ingest use it" in out.err

    assert main(["--profile", "aws", "--set", f"profiles.aws.kms_key_arn={key}", "config", "check"]) == 0
    out = capsys.readouterr()
    assert "stack glue-etl: CREATE_COMPLETE, 13 output(s), all as config.yml says" in out.out
    assert "stack output" not in out.err and "KMS_KEY_ARN=" not in out.err
    assert (
        main(
            [
                "--profile",
                "aws",
                "--set",
                f"profiles.aws.kms_key_arn={key}",
                "--set",
                "athena.workgroup=analysts",
                "config",
                "check",
            ]
        )
        == 0
    )
    assert (
        "stack output AthenaWorkGroup (the Athena workgroup of make ddl and make query) is glue-etl, config.yml gives analysts: run make stack"
        in capsys.readouterr().err
    )


def test_config_check_without_credentials_checks_the_file_only(monkeypatch, tmp_path, capsys):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # examples allowed; nothing may be reached
    assert main(["--profile", "aws", "config", "check"]) == 0
    assert "no AWS credentials: the account was not checked" in capsys.readouterr().out
