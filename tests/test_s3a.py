"""S3A settings for local Spark, the aws profile's local runner options, and the jars make setup installs."""

from __future__ import annotations

import os
import re
import subprocess
from importlib.metadata import version
from pathlib import Path

import boto3
import pytest

from job_helpers import s3a
from job_helpers.control import local_on_aws
from job_helpers.control.config import ConfigError, load_settings

REPO = Path(__file__).resolve().parent.parent


class NoBoto3:
    """A session that fails the test if anything asks it for credentials."""

    def get_credentials(self):
        raise AssertionError("boto3 was asked for credentials")


def test_pyspark_is_still_the_pinned_version_beside_the_jars_wheel():
    pinned = re.search(r"^pyspark==(\S+)$", (REPO / "requirements.txt").read_text(), re.MULTILINE).group(1)
    assert pinned == "3.5.6"
    assert version("pyspark") == pinned
    assert version("sagemaker-pyspark") == "1.4.5"


def test_the_installed_jars_are_hadoop_aws_and_the_sdk_bundle_only():
    jars = s3a.installed_jars()
    assert [Path(jar).name for jar in jars] == ["hadoop-aws-3.3.1.jar", "aws-java-sdk-bundle-1.11.901.jar"]
    assert all(Path(jar).is_file() for jar in jars)


def test_no_jars_named_means_no_settings_and_no_credential_lookup():
    assert s3a.spark_settings({}, NoBoto3()) == {}
    assert s3a.spark_settings({s3a.JARS_ENV: " , "}, NoBoto3()) == {}


def test_temporary_credentials_region_and_emulator_endpoint(tmp_path):
    jar = tmp_path / "hadoop-aws.jar"
    jar.write_bytes(b"jar")
    session = boto3.Session(
        aws_access_key_id="AK", aws_secret_access_key="SK", aws_session_token="TOKEN", region_name="eu-west-1"
    )
    settings = s3a.spark_settings({s3a.JARS_ENV: str(jar), "AWS_ENDPOINT_URL": "http://127.0.0.1:5000"}, session)
    assert settings["spark.driver.extraClassPath"] == settings["spark.executor.extraClassPath"] == str(jar)
    assert settings["spark.hadoop.fs.s3.impl"] == s3a.S3A_FILESYSTEM
    assert settings["spark.hadoop.fs.s3a.aws.credentials.provider"] == s3a.TEMPORARY_CREDENTIALS
    assert (settings["spark.hadoop.fs.s3a.access.key"], settings["spark.hadoop.fs.s3a.secret.key"]) == ("AK", "SK")
    assert settings["spark.hadoop.fs.s3a.session.token"] == "TOKEN"
    assert settings["spark.hadoop.fs.s3a.endpoint"] == "http://127.0.0.1:5000"
    assert settings["spark.hadoop.fs.s3a.path.style.access"] == "true"
    assert settings["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    assert settings["spark.hadoop.fs.s3a.endpoint.region"] == "eu-west-1"
    assert not any("s3a://" in value for value in settings.values())


def test_a_named_aws_profile_gives_s3a_its_keys_and_region(tmp_path, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name)
    (tmp_path / "credentials").write_text("[analytics]\naws_access_key_id = PROFILEKEY\naws_secret_access_key = PROFILESECRET\n")
    (tmp_path / "config").write_text("[profile analytics]\nregion = ap-southeast-2\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_PROFILE", "analytics")
    jar = tmp_path / "hadoop-aws.jar"
    jar.write_bytes(b"jar")
    settings = s3a.spark_settings({s3a.JARS_ENV: str(jar)})
    assert settings["spark.hadoop.fs.s3a.access.key"] == "PROFILEKEY"
    assert settings["spark.hadoop.fs.s3a.secret.key"] == "PROFILESECRET"
    assert settings["spark.hadoop.fs.s3a.aws.credentials.provider"] == s3a.SIMPLE_CREDENTIALS
    assert settings["spark.hadoop.fs.s3a.endpoint"] == "s3.ap-southeast-2.amazonaws.com"


def test_the_s3_specific_endpoint_wins_over_the_global_one():
    identity = s3a.boto3_identity(
        {"AWS_ENDPOINT_URL": "http://global:1", "AWS_ENDPOINT_URL_S3": "https://s3only:2"},
        boto3.Session(aws_access_key_id="AK", aws_secret_access_key="SK", region_name="us-east-1"),
    )
    assert identity.endpoint == "https://s3only:2"
    assert s3a.filesystem_settings(identity)["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "true"


def test_long_term_keys_use_the_simple_provider_and_the_regional_endpoint():
    settings = s3a.filesystem_settings(s3a.AwsIdentity("AK", "SK", None, "eu-central-1", None))
    assert settings["spark.hadoop.fs.s3a.aws.credentials.provider"] == s3a.SIMPLE_CREDENTIALS
    assert "spark.hadoop.fs.s3a.session.token" not in settings
    assert settings["spark.hadoop.fs.s3a.endpoint"] == "s3.eu-central-1.amazonaws.com"
    assert "spark.hadoop.fs.s3a.path.style.access" not in settings


@pytest.mark.parametrize("bucket", ["data.example.com", "a.b", "lake-2024.eu"])
def test_a_bucket_with_dots_is_reached_path_style_on_aws_and_the_others_virtual_hosted(bucket):
    """A dotted bucket name in the host name fails the TLS check of *.s3.<region>.amazonaws.com."""
    environment = s3a.environment(buckets=[bucket, "plain-bucket"])
    assert environment[s3a.PATH_STYLE_ENV] == bucket
    identity = s3a.boto3_identity(environment, boto3.Session(region_name="eu-west-1"))
    settings = s3a.filesystem_settings(identity)
    assert settings[f"spark.hadoop.fs.s3a.bucket.{bucket}.path.style.access"] == "true"
    assert not any("plain-bucket" in key for key in settings)
    assert "spark.hadoop.fs.s3a.path.style.access" not in settings
    assert s3a.PATH_STYLE_ENV not in s3a.environment(buckets=["plain-bucket"])


@pytest.mark.parametrize("bucket", ["lake--usw2-az1--x-s3", "data--use1-az4--x-s3"])
def test_config_check_refuses_an_s3_express_directory_bucket(tmp_path, bucket):
    with pytest.raises(ConfigError, match=f"buckets.sitewise: '{bucket}' is an S3 Express One Zone directory bucket"):
        load_settings(REPO / "config.yml", "aws", [f"buckets.sitewise={bucket}"], environ={})
    assert load_settings(REPO / "config.yml", "local", [f"buckets.sitewise={bucket}"], environ={}).profile == "local"


def test_without_credentials_s3a_keeps_its_own_chain(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    settings = s3a.filesystem_settings(s3a.boto3_identity({}, boto3.Session(region_name="us-east-1")))
    assert not any(key.startswith("spark.hadoop.fs.s3a.access") or "credentials" in key for key in settings)


def test_maven_packages_replace_the_jars():
    assert s3a.jar_settings({s3a.PACKAGES_ENV: "org.apache.hadoop:hadoop-aws:3.3.4", s3a.JARS_ENV: "/x.jar"}) == {
        "spark.jars.packages": "org.apache.hadoop:hadoop-aws:3.3.4"
    }
    assert s3a.environment(packages="org.apache.hadoop:hadoop-aws:3.3.4") == {
        s3a.PACKAGES_ENV: "org.apache.hadoop:hadoop-aws:3.3.4"
    }


def test_a_missing_jar_is_named(tmp_path):
    missing = str(tmp_path / "hadoop-aws-9.jar")
    with pytest.raises(s3a.S3ASetupError, match=re.escape(missing)):
        s3a.jar_settings({s3a.JARS_ENV: missing})
    with pytest.raises(s3a.S3ASetupError, match=re.escape(missing)):
        s3a.environment([missing])


def test_each_jar_reaches_spark_once_and_absolute_whatever_folder_named_it(tmp_path, monkeypatch):
    """A relative jar named another file, or none, from another folder: the class archive of its class path
    was checked from there and thrown away; a jar named twice made an archive of its own."""
    for name in ("hadoop-aws.jar", "sdk.jar"):
        (tmp_path / name).write_bytes(b"PK")
    monkeypatch.chdir(tmp_path)
    here = Path.cwd()
    settings = s3a.jar_settings({s3a.JARS_ENV: f"hadoop-aws.jar, ./sdk.jar,{here}/hadoop-aws.jar,../{here.name}/sdk.jar"})
    class_path = os.pathsep.join([str(here / "hadoop-aws.jar"), str(here / "sdk.jar")])
    assert settings == {s3a.CLASS_PATH_SETTING: class_path, "spark.executor.extraClassPath": class_path}


def test_without_the_wheel_the_error_says_to_run_make_setup(monkeypatch):
    monkeypatch.setattr(s3a, "JARS_WHEEL", "no_such_wheel_installed")
    assert s3a.installed_jars() == []
    with pytest.raises(s3a.S3ASetupError, match="make setup"):
        s3a.environment()


def test_runner_defaults_and_refusals():
    assert local_on_aws.choose_runner("aws", None) == "glue"
    assert local_on_aws.choose_runner("aws", "local") == "local"
    assert local_on_aws.choose_runner("local", None) == "local"
    assert local_on_aws.choose_runner("local", "local") == "local"
    with pytest.raises(local_on_aws.RunnerError, match="needs --profile aws"):
        local_on_aws.choose_runner("local", "glue")


@pytest.mark.subprocess
def test_job_environment_carries_region_profile_and_the_jars():
    options = local_on_aws.LocalRunnerSettings()
    environment = local_on_aws.job_environment(options, "eu-west-1", "analytics")
    assert environment["AWS_REGION"] == environment["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert environment["AWS_PROFILE"] == "analytics"
    assert environment[s3a.JARS_ENV].split(",") == s3a.installed_jars()


def test_local_runner_options_are_validated_by_config_check(tmp_path):
    config = (REPO / "config.yml").read_text()
    assert "      max_parallel_runs: 2\n" in config
    bad = config.replace(
        "      max_parallel_runs: 2\n",
        "      max_parallel_runs: 0\n      s3a_jars: hadoop-aws.zip\n      s3a_packages: hadoop-aws\n",
        1,
    )
    bad = bad.replace("      s3a_jars: ${S3A_JARS:-}\n", "").replace("      s3a_packages: ${S3A_PACKAGES:-}\n", "")
    (tmp_path / "config.yml").write_text(bad)
    with pytest.raises(ConfigError) as error:
        load_settings(tmp_path / "config.yml", "aws", environ={})
    message = str(error.value)
    assert "profiles.aws.local_runner.max_parallel_runs: 0" in message
    assert "'hadoop-aws.zip' is not a .jar file" in message
    assert "'hadoop-aws' is not Maven coordinates" in message
    settings = load_settings(REPO / "config.yml", "aws", environ={"S3A_PACKAGES": "org.apache.hadoop:hadoop-aws:3.3.4"})
    assert settings.local_runner == local_on_aws.LocalRunnerSettings(2, (), "org.apache.hadoop:hadoop-aws:3.3.4")


def make_dry_run(*args: str) -> str:
    done = subprocess.run(["make", "-n", "-B", *args], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.replace("\\\n", " ")


@pytest.mark.subprocess
def test_make_setup_installs_the_jars_wheel_without_its_dependencies():
    assert re.search(r"pip install .*--no-deps .*sagemaker-pyspark==1\.4\.5", make_dry_run("setup"))


@pytest.mark.subprocess
@pytest.mark.parametrize("target", ["execute", "status", "cleanup"])
def test_make_passes_the_runner_on(target):
    lines = make_dry_run(
        target, "profile=aws", "runner=local", "job=j", "from=2024-01-01", "to=2024-01-01", "days_per_job=1"
    ).splitlines()
    (command,) = [line for line in lines if "-m job_helpers" in line and f" {target} " in line + " "]
    assert re.search(r"--runner '?local'?", command)
    without = make_dry_run(target, "profile=aws", "job=j", "from=2024-01-01", "to=2024-01-01", "days_per_job=1")
    assert "--runner" not in without
