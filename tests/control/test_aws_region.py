"""The aws profile's region: config.yml's value, else boto3's chain; printed by every aws command; buckets checked.

Issue 19.1: config.yml defaulted to us-east-1, so with AWS_DEFAULT_REGION=eu-west-1 (or a region in
the AWS profile) the jobs, queries and loads went to us-east-1 and read the buckets across regions.
"""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from job_helpers.control.aws_region import Region, bucket_region, check_buckets
from job_helpers.control.cli import main
from job_helpers.control.config import ConfigError, load_settings

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config.yml"


@pytest.fixture
def no_region(monkeypatch, tmp_path):
    """Nothing names a region: no variable, an empty AWS config file."""
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "empty-config"))
    return tmp_path


def test_aws_default_region_is_used_when_config_names_none(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    settings = load_settings(REPO_CONFIG, "aws", environ={})
    assert (settings.region, settings.region_source) == ("eu-west-1", "AWS_DEFAULT_REGION")
    assert settings.job("sitewise_repartition")  # the rest of the profile resolves as before


def test_the_aws_profiles_region_is_used_after_the_environment(no_region, monkeypatch):
    config = no_region / "aws-config"
    config.write_text("[profile analytics]\nregion = ap-southeast-2\n[default]\nregion = ca-central-1\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    settings = load_settings(REPO_CONFIG, "aws", environ={"AWS_PROFILE": "analytics"})
    assert settings.region == "ap-southeast-2"
    assert settings.region_source == f"the region of AWS profile analytics in {config}"
    assert load_settings(REPO_CONFIG, "aws", environ={}).region == "ca-central-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-north-1")
    assert load_settings(REPO_CONFIG, "aws", environ={"AWS_PROFILE": "analytics"}).region == "eu-north-1"


def test_config_wins_when_set_and_aws_region_reaches_it(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    from_env = load_settings(REPO_CONFIG, "aws", environ={"AWS_REGION": "eu-central-1"})
    assert (from_env.region, from_env.region_source) == ("eu-central-1", "AWS_REGION, through profiles.aws.region")
    written = load_settings(REPO_CONFIG, "aws", ["profiles.aws.region=us-west-2"], environ={})
    assert (written.region, written.region_source) == ("us-west-2", "profiles.aws.region in config.yml")


def test_no_region_anywhere_or_an_unknown_aws_profile_is_named(no_region):
    with pytest.raises(ConfigError, match=r"profiles.aws.region: no AWS region: set AWS_REGION .*AWS_DEFAULT_REGION"):
        load_settings(REPO_CONFIG, "aws", environ={})
    with pytest.raises(ConfigError, match=r"profiles.aws.aws_profile: AWS profile 'nobody' is not in ~/.aws/config"):
        load_settings(REPO_CONFIG, "aws", environ={"AWS_PROFILE": "nobody"})
    with pytest.raises(
        ConfigError, match=r"profiles.aws.region: 'mars' \(profiles.aws.region in config.yml\) is not an AWS region"
    ):
        load_settings(REPO_CONFIG, "aws", ["profiles.aws.region=mars"], environ={})
    assert load_settings(REPO_CONFIG, "local", environ={}).region is None, "the local profile needs no region"


@pytest.mark.parametrize(
    "response, region",
    [({}, "us-east-1"), ({"LocationConstraint": "EU"}, "eu-west-1"), ({"LocationConstraint": "ap-south-1"}, "ap-south-1")],
    ids=["null-is-us-east-1", "EU-is-eu-west-1", "named"],
)
def test_get_bucket_location_quirks(response, region):
    s3 = boto3.client("s3", region_name="us-east-1")
    with Stubber(s3) as stub:
        stub.add_response("get_bucket_location", response, {"Bucket": "lake"})
        assert bucket_region(s3, "lake") == region


def test_a_missing_bucket_has_no_region_and_passes_the_check(moto_server):
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="here")
    s3.create_bucket(Bucket="there", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert [bucket_region(s3, b) for b in ("here", "there", "not-yet")] == ["us-east-1", "eu-west-1", None]
    check_buckets({"a": "here", "b": "not-yet"}, Region("us-east-1", "test"), s3)
    with pytest.raises(ConfigError) as refused:
        check_buckets({"a": "here", "b": "there", "c": "there"}, Region("us-east-1", "AWS_DEFAULT_REGION"), s3)
    assert "works in us-east-1 (AWS_DEFAULT_REGION)" in str(refused.value)
    assert "buckets.b, buckets.c: there is in eu-west-1" in str(refused.value) and "buckets.a" not in str(refused.value)


def test_aws_commands_print_the_region_and_create_in_it(moto_server, monkeypatch, capsys):
    """ddl with AWS_DEFAULT_REGION=eu-west-1 runs its Athena queries in eu-west-1, not us-east-1."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    boto3.client("s3", region_name="eu-west-1").create_bucket(
        Bucket="glue-etl-assets", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    boto3.client("athena", region_name="eu-west-1").create_work_group(Name="glue-etl")
    assert main(["--profile", "aws", "ddl"]) == 0
    captured = capsys.readouterr()
    assert "AWS region eu-west-1 (AWS_DEFAULT_REGION)" in captured.err.splitlines()
    assert "AWS region" not in captured.out, "standard output carries data only"
    queries = lambda region: boto3.client("athena", region_name=region).list_query_executions()["QueryExecutionIds"]  # noqa: E731
    assert len(queries("eu-west-1")) > 1 and queries("us-east-1") == []


def test_a_bucket_in_another_region_is_refused_unless_allowed(moto_server, capsys):
    boto3.client("s3", region_name="eu-west-1").create_bucket(
        Bucket="sitewise-cold-tier", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="glue-etl-assets")
    boto3.client("athena", region_name="us-east-1").create_work_group(Name="glue-etl")
    assert main(["--profile", "aws", "ddl"]) == 2
    out = capsys.readouterr().err
    out = out[out.index("error: ") :]  # the region line comes first
    assert out.startswith("error: the aws profile works in us-east-1 (AWS_DEFAULT_REGION) but these buckets live elsewhere:")
    assert "buckets.sitewise: sitewise-cold-tier is in eu-west-1" in out and "cross_region_buckets" in out
    assert boto3.client("athena", region_name="us-east-1").list_query_executions()["QueryExecutionIds"] == [], "nothing ran"
    assert main(["--profile", "aws", "--set", "profiles.aws.cross_region_buckets=true", "ddl"]) == 0
    assert "buckets in other regions allowed" in capsys.readouterr().err


def test_a_bucket_s3_will_not_locate_is_named_with_both_likely_causes():
    s3 = boto3.client("s3", region_name="us-east-1")
    with Stubber(s3) as stub:
        stub.add_response("get_bucket_location", {}, {"Bucket": "ours"})
        stub.add_client_error("get_bucket_location", "AccessDenied", "Access Denied", 403, {"Bucket": "taken-name"})
        with pytest.raises(ConfigError) as refused:
            check_buckets({"assets": "ours", "sitewise": "taken-name"}, Region("us-east-1", "test"), s3)
    message = str(refused.value)
    assert "buckets.sitewise: taken-name" in message and "buckets.assets" not in message
    assert "another account may own one" in message and "s3:GetBucketLocation" in message
