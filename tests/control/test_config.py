from pathlib import Path

import pytest

from job_helpers.control.config import ConfigError, GluePrices, load_settings, refuse_examples
from job_helpers.embrace.settings import EmbraceSettings
from job_helpers.ingest.settings import IngestSettings
from job_helpers.stedi.settings import StediSettings

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config.yml"


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


@pytest.mark.parametrize("value", ["/Users/Jane Doe #2/key", "#1", "a#b", "7 # workers"])
def test_set_keeps_a_value_with_a_hash_whole_instead_of_reading_a_yaml_comment(value):
    settings = load_settings(REPO_CONFIG, "local", [f"stedi.pseudonym_key_file={value}"], environ={"LAKE_ROOT": "/lake"})
    assert settings.section("stedi").pseudonym_key.endswith(value)


@pytest.mark.parametrize("value", ["--- key", "|\n  key", ">\n  folded\n  key", "first line\nsecond line", "  padded key  "])
def test_set_keeps_text_yaml_would_rewrite_as_typed(value):
    """YAML reads these as other text (a document start dropped, a block scalar, lines folded, spaces trimmed)."""
    settings = load_settings(REPO_CONFIG, "local", [f"stedi.pseudonym_key_file={value}"], environ={"LAKE_ROOT": "/lake"})
    assert settings.section("stedi").pseudonym_key.endswith("/" + value)


def test_set_still_types_numbers_booleans_and_quoted_or_tagged_text():
    overrides = ["jobs.sitewise_repartition.number_of_workers= 7", "project.tag.value=!!str 5", "stedi.pseudonymise=false"]
    settings = load_settings(REPO_CONFIG, "aws", overrides, environ={})
    assert settings.job("sitewise_repartition").number_of_workers == 7
    assert settings.tags == {"source": "5"}
    assert settings.section("stedi").pseudonymise is False


def test_set_reads_a_quoted_value_as_yaml_even_with_a_hash():
    settings = load_settings(REPO_CONFIG, "aws", ["project.tag.value='team #7'"], environ={})
    assert settings.tags == {"source": "team #7"}


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
        (
            "jobs.sitewise_repartition.worker_type=G.3X",
            r"worker_type: 'G.3X' is not a worker type of Glue 5 batch jobs; use one of G.1X",
        ),
        (
            "jobs.sitewise_repartition.worker_type=G.025X",
            r"worker_type: 'G.025X' is not a worker type of Glue 5 batch jobs \(Glue runs it for streaming jobs only\)",
        ),
        ("project.max_jobs_per_batch=0", r"project.max_jobs_per_batch: 0 must be a positive whole number"),
        ("jobs.sitewise_repartition.number_of_workers=0", r"number_of_workers: 0 must be a positive whole number"),
        ("jobs.sitewise_repartition.arguments.--index={sitewise.nowhere}", r"\{sitewise.nowhere\} is not defined"),
        ("buckets.sitewise=Not_A_Bucket", r"buckets.sitewise: 'Not_A_Bucket' is not a valid S3 bucket name"),
    ],
)
def test_invalid_values_are_reported_with_their_key(override, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(REPO_CONFIG, "aws", [override], environ={})


def test_every_glue_5_batch_worker_type_is_accepted():
    types = ["G.1X", "G.2X", "G.4X", "G.8X", "G.12X", "G.16X", "R.1X", "R.2X", "R.4X", "R.8X"]
    for worker_type in types:
        settings = load_settings(REPO_CONFIG, "aws", [f"jobs.sitewise_repartition.worker_type={worker_type}"], environ={})
        assert settings.job("sitewise_repartition").worker_type == worker_type


@pytest.mark.parametrize(
    "override, message",
    [
        ("stedi.max_reject_shar=0.5", r"--set stedi.max_reject_shar: unknown key; did you mean stedi.max_reject_share\?"),
        ("jobs.sitewise_repartition.timeout_minute=5", r"--set jobs.sitewise_repartition.timeout_minute: .*\.timeout_minutes\?"),
        ("profiles.aws.glue_role=arn", r"--set profiles.aws.glue_role: unknown key; did you mean profiles.aws.glue_role_arn\?"),
        ("profiles.staging.region=x", r"--set profiles.staging: unknown key; known keys here: local, aws"),
        ("projet.prefix=x", r"--set projet: unknown key; did you mean project\?"),
        ("datasets.sitewise.index.prefx=a/", r"--set datasets.sitewise.index.prefx: .* datasets.sitewise.index.prefix\?"),
        ("ingest.subject_map.stor=s3", r"--set ingest.subject_map.stor: .* ingest.subject_map.store\?"),
        ("embrace.timestream.tabel=x", r"--set embrace.timestream.tabel: .* embrace.timestream.table\?"),
        (
            "profiles.aws.job_arguments.sitewise_repartiton.--x=1",
            r"job_arguments.sitewise_repartiton: .*job_arguments\.sitewise_repartition\?",
        ),
        ("pipelines.stedi.table=[]", r"--set pipelines.stedi.table: .* pipelines.stedi.tables\?"),
        (
            "profiles.aws.local_runner.s3a_jar=x.jar",
            r"--set profiles.aws.local_runner.s3a_jar: .* profiles.aws.local_runner.s3a_jars\?",
        ),
    ],
)
def test_unknown_keys_are_errors_that_suggest_the_closest_key(override, message):
    with pytest.raises(ConfigError, match=message):
        load_settings(REPO_CONFIG, "local", [override], environ={})


def test_an_unknown_key_in_the_file_is_named_without_set(tmp_path):
    config = tmp_path / "config.yml"
    config.write_text(REPO_CONFIG.read_text().replace("  max_reject_share: 0.01", "  max_reject_shar: 0.5"))
    with pytest.raises(ConfigError, match=r"\n  stedi.max_reject_shar: unknown key; did you mean stedi.max_reject_share\?"):
        load_settings(config, "aws", environ={})


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
        overrides=[
            "jobs.embrace_dedupe.arguments.--participant-regex=fc\\d{3}",
            "jobs.sitewise_repartition.arguments.--max-workers=[1",
        ],
        environ={},
    )
    assert settings.job("embrace_dedupe").arguments["--participant-regex"] == "fc\\d{3}"
    assert settings.job("sitewise_repartition").arguments["--max-workers"] == "[1"


def test_example_values_are_refused_on_real_aws_only():
    settings = load_settings(REPO_CONFIG, "aws", ["buckets.stedi=acme-stedi"], environ={})
    assert any(line.startswith("buckets.assets: glue-etl-assets is the example name") for line in settings.examples)
    assert not any(line.startswith("buckets.stedi:") for line in settings.examples)
    with pytest.raises(ConfigError, match=r"example values(.|\n)*profiles.aws.glue_role_arn: .*example account 123456789012"):
        refuse_examples(settings, environ={})
    refuse_examples(settings, environ={"AWS_ENDPOINT_URL": "http://127.0.0.1:5000"})
    refuse_examples(load_settings(REPO_CONFIG, "local", environ={}), environ={})


def test_execution_class_and_prices_are_checked(tmp_path):
    """FLEX runs only on G.1X and G.2X; prices are non-negative numbers per region, with Glue's us-east-1
    list prices as defaults; the flat price keys of earlier versions name their replacement."""
    from job_helpers.control.config import ConfigError, load_settings

    config = tmp_path / "config.yml"
    config.write_text(
        "project: {prefix: p, tag: {key: k, value: v}, price_per_dpu_hour: 0.4,\n"
        "  glue_prices: {eu-west-1: {standard: -1, flex: 0.3}, eu-central-1: {standard: 0.5}}}\n"
        "jobs:\n  a: {script: jobs/a.py, worker_type: G.4X, execution_class: FLEX}\n"
        "  b: {script: jobs/b.py, execution_class: flexible}\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as error:
        load_settings(config, "local")
    message = str(error.value)
    assert "jobs.a.execution_class: Glue runs FLEX on G.1X and G.2X workers only, not G.4X" in message
    assert "jobs.b.execution_class: 'flexible' is not a Glue execution class" in message
    assert "project.glue_prices.eu-west-1.standard: -1 must be a price" in message
    assert "project.glue_prices.eu-central-1: needs standard and flex" in message
    assert "project.price_per_dpu_hour: replaced by project.glue_prices.<region>.standard" in message
    config.write_text("project: {prefix: p, tag: {key: k, value: v}}\njobs:\n  a: {script: jobs/a.py, execution_class: FLEX}\n")
    settings = load_settings(config, "local")
    assert settings.jobs["a"].execution_class == "FLEX"
    assert settings.glue_prices["us-east-1"] == GluePrices(0.44, 0.29) and settings.max_project_jobs == 900
    assert settings.price_region == "us-east-1"


def test_the_price_region_is_the_aws_profile_s_region(tmp_path):
    """A batch in eu-west-1 is priced at eu-west-1's prices, or shown without a price: never at us-east-1's."""
    config = tmp_path / "config.yml"
    config.write_text(
        "project: {prefix: p, tag: {key: k, value: v}, glue_prices: {eu-west-1: {standard: 0.44, flex: 0.29, memory_optimized: 0.52}}}\n"
        "profiles:\n  aws: {region: eu-west-1, glue_role_arn: 'arn:aws:iam::123456789012:role/r', glue_version: '5.1'}\n"
        "jobs:\n  a: {script: jobs/a.py}\n",
        encoding="utf-8",
    )
    settings = load_settings(config, "aws", environ={})
    assert settings.price_region == "eu-west-1"
    assert settings.glue_prices == {"eu-west-1": GluePrices(0.44, 0.29, 0.52)}


def test_each_domain_section_is_parsed_once_and_kept_typed_on_the_settings():
    aws = load_settings(REPO_CONFIG, "aws", environ={"STEDI_PSEUDONYM_SECRET": "stedi/key"})
    assert [type(aws.section(name)) for name in ("stedi", "embrace", "ingest")] == [
        StediSettings,
        EmbraceSettings,
        IngestSettings,
    ]
    assert aws.section("stedi") is not None and aws.section("stedi").pseudonym_key == "secretsmanager:stedi/key"
    assert aws.job("stedi_customer_curated").arguments["--pseudonym-key"] == aws.section("stedi").pseudonym_key
    assert aws.section("embrace") is not None and aws.section("embrace").timestream.database
    assert aws.section("ingest") is not None and aws.section("ingest").archive_storage_class == "DEEP_ARCHIVE"
    assert aws.local_runner is not None and aws.local_runner.max_parallel_runs == 2
    local = load_settings(REPO_CONFIG, "local", environ={})
    assert local.section("ingest") is not None and local.section("ingest").map_file is not None
    assert local.local_runner is None
    assert local.pipelines["stedi"].jobs


def test_a_section_absent_from_the_file_is_none(tmp_path):
    config = tmp_path / "config.yml"
    config.write_text("project: {prefix: p}\njobs:\n  a: {script: jobs/a.py}\n", encoding="utf-8")
    settings = load_settings(config, "local", environ={})
    assert (settings.section("stedi"), settings.section("embrace"), settings.section("ingest"), settings.local_runner) == (
        None,
        None,
        None,
        None,
    )
    assert settings.pipelines == {}


@pytest.mark.parametrize("name", ["timeseries-type", "-timeseries-type", "—timeseries-type"])
def test_an_argument_name_without_its_two_dashes_is_named_with_them(name):
    with pytest.raises(ConfigError) as refused:
        load_settings(REPO_CONFIG, "local", [f"jobs.sitewise_repartition.arguments.{name}=DISASSOCIATED"], environ={})
    assert f"arguments.{name}: argument names start with '--'; did you mean --{name.lstrip('-—')}?" in str(refused.value)
