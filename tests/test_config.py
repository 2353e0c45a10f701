from pathlib import Path

import pytest

from job_helpers.control.config import ConfigError, load_settings

REPO_CONFIG = Path(__file__).resolve().parent.parent / "config.yml"


def test_local_profile_maps_every_bucket_under_the_lake_root(tmp_path):
    settings = load_settings(REPO_CONFIG, environ={"LAKE_ROOT": str(tmp_path)})
    assert settings.profile == "local"
    assert settings.datasets["sitewise.cold_tier"] == (tmp_path / "sitewise-cold-tier").as_uri() + "/"
    assert settings.datasets["sitewise.index"].endswith("/sitewise-cold-tier/repartitioned/index/")
    assert set(settings.datasets) >= {"glue_assets", "sitewise.cold_tier", "sitewise.repartitioned", "sitewise.index"}


def test_aws_profile_uses_real_buckets_and_profile_job_arguments():
    settings = load_settings(REPO_CONFIG, "aws", environ={"SITEWISE_BUCKET": "plant-7-cold"})
    job = settings.job("sitewise_repartition")
    assert job.arguments["--cold-tier"] == "s3://plant-7-cold/"
    assert job.arguments["--series-source"] == "list_time_series"
    assert settings.glue_version >= "5.0"
    assert settings.tags == {"source": "glue-etl"}


def test_set_overrides_one_value_with_its_yaml_type():
    settings = load_settings(
        REPO_CONFIG, "aws", ["jobs.sitewise_repartition.number_of_workers=7", "project.tag.value=team-x"], environ={}
    )
    assert settings.job("sitewise_repartition").number_of_workers == 7
    assert settings.tags == {"source": "team-x"}


def test_environment_variables_are_expanded_and_a_missing_one_is_named(tmp_path):
    config = tmp_path / "config.yml"
    config.write_text(REPO_CONFIG.read_text().replace("${ASSETS_BUCKET:-glue-etl-assets}", "${ASSETS_BUCKET}"))
    assert load_settings(config, "aws", environ={"ASSETS_BUCKET": "my-assets"}).datasets["glue_assets"] == (
        "s3://my-assets/glue/"
    )
    with pytest.raises(ConfigError, match="buckets.assets: environment variable ASSETS_BUCKET is not set"):
        load_settings(config, "aws", environ={})


@pytest.mark.parametrize(
    "override, message",
    [
        ("datasets.sitewise.index.prefix=index", r"datasets.sitewise.index.prefix: 'index' must end with '/'"),
        (
            "jobs.sitewise_repartition.arguments.--timeseries-type=BOTH",
            r"--timeseries-type: 'BOTH' is not one of ASSOCIATED, DISASSOCIATED",
        ),
        ("profiles.aws.glue_role_arn=arn:aws:iam::123456789012:user/bob", r"glue_role_arn: .* is not an IAM role ARN"),
        ("profiles.aws.glue_version=4.0", r"glue_version: '4.0' must be 5.0 or newer"),
        ("jobs.sitewise_repartition.worker_type=G.3X", r"worker_type: 'G.3X' is not one of"),
        ("jobs.sitewise_repartition.number_of_workers=0", r"number_of_workers: 0 must be a positive whole number"),
        ("jobs.sitewise_repartition.arguments.--index={sitewise.nowhere}", r"\{sitewise.nowhere\} is not defined"),
        ("buckets.sitewise=Not_A_Bucket", r"buckets.sitewise: 'Not_A_Bucket' is not a valid S3 bucket name"),
    ],
)
def test_invalid_values_are_reported_with_their_key(override, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(REPO_CONFIG, "aws", [override], environ={})


def test_unknown_profile_and_job_are_named():
    with pytest.raises(ConfigError, match="profile 'staging' is unknown"):
        load_settings(REPO_CONFIG, "staging", environ={})
    with pytest.raises(ConfigError, match="unknown job 'nope'"):
        load_settings(REPO_CONFIG, environ={}).job("nope")


def test_malformed_override_is_rejected():
    with pytest.raises(ConfigError, match="expected dotted.key=value"):
        load_settings(REPO_CONFIG, overrides=["project.prefix"], environ={})


def test_a_set_job_argument_beats_the_profile_job_arguments():
    settings = load_settings(
        REPO_CONFIG, "aws", ["jobs.sitewise_repartition.arguments.--series-source=asset_metadata"], environ={}
    )
    assert settings.job("sitewise_repartition").arguments["--series-source"] == "asset_metadata"


def test_job_arguments_from_set_stay_text_and_regex_braces_are_not_references():
    settings = load_settings(
        REPO_CONFIG,
        overrides=["jobs.embrace_dedupe.arguments.--participant-regex=fc\\d{3}", "jobs.sitewise_repartition.arguments.--max-workers=[1"],
        environ={},
    )
    assert settings.job("embrace_dedupe").arguments["--participant-regex"] == "fc\\d{3}"
    assert settings.job("sitewise_repartition").arguments["--max-workers"] == "[1"
