"""One parser per kind of config value (issue 20 §5): every section refuses the same wrong numbers alike,
with the key and what to write, and lists them all at once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from job_helpers.config_fields import Choice, Price, Share, Switch, WholeNumber, is_number
from job_helpers.control.config import ConfigError, load_settings

REPO_CONFIG = Path(__file__).resolve().parent.parent / "config.yml"
AWS = {"GLUE_ROLE_ARN": "arn:aws:iam::123456789012:role/glue", "KMS_KEY_ARN": ""}
# Whole numbers of at least 1, in every section that has one (the aws profile's local runner on aws).
WHOLE_NUMBERS = [
    "project.max_jobs_per_batch",
    "project.max_project_jobs",
    "jobs.stedi_trusted.number_of_workers",
    "jobs.stedi_trusted.timeout_minutes",
    "jobs.stedi_trusted.max_concurrent_runs",
    "ingest.max_workers",
    "ingest.restore_days",
    "ingest.subject_map.noncurrent_version_days",
    "profiles.aws.local_runner.max_parallel_runs",
]
SHARES = ["project.max_row_loss", "stedi.max_reject_share"]
PRICES = ["project.glue_prices.us-east-1.standard", "embrace.timestream.price_per_write"]
# What YAML hands over for these texts: true, a fraction, a quoted number, a negative one.
NOT_WHOLE = {"true": "True", "1.5": "1.5", "'3'": "'3'", "-1": "-1"}
NOT_SHARES = {"true": "True", "1.5": "1.5", "'0.1'": "'0.1'", "-0.1": "-0.1"}
NOT_PRICES = {"false": "False", "'0.44'": "'0.44'", "-0.01": "-0.01", "[]": "'[]'"}


def problems_of(overrides: list[str]) -> str:
    with pytest.raises(ConfigError) as raised:
        load_settings(REPO_CONFIG, "aws", overrides, environ=AWS)
    return str(raised.value)


def test_every_whole_number_of_every_section_is_refused_alike():
    for given, shown in NOT_WHOLE.items():
        message = problems_of([f"{key}={given}" for key in WHOLE_NUMBERS])
        for key in WHOLE_NUMBERS:
            assert f"\n  {key}: {shown} must be a positive whole number" in message, (key, given)


def test_every_share_and_price_is_refused_alike():
    for (share, shown_share), (price, shown_price) in zip(NOT_SHARES.items(), NOT_PRICES.items()):
        message = problems_of([f"{key}={share}" for key in SHARES] + [f"{key}={price}" for key in PRICES])
        for key in SHARES:
            assert re.search(rf"\n  {re.escape(key)}: {re.escape(shown_share)} must be a number from 0 to 1, e\.g\. ", message)
        for key in PRICES:
            assert f"\n  {key}: {shown_price} must be a price in USD" in message, (key, price)


def test_embrace_limits_keep_their_own_least_value():
    message = problems_of(["embrace.limits.max_member_ratio=1", "embrace.limits.max_members=0"])
    assert "embrace.limits.max_member_ratio: 1 must be a whole number of at least 2" in message
    assert "embrace.limits.max_members: 0 must be a positive whole number" in message


def test_the_one_number_check():
    assert [is_number(v, whole=True, least=1) for v in (1, 2**70, 0, True, 1.0, "1", None)] == [
        True,
        True,
        False,
        False,
        False,
        False,
        False,
    ]
    assert [is_number(v, least=0, most=1) for v in (0, 1, 0.5, 1.01, -0.0, float("nan"), False)] == [
        True,
        True,
        True,
        False,
        True,
        False,
        False,
    ]


def test_a_refused_value_gives_the_default_and_one_problem():
    problems: list[str] = []
    node = {"n": 0, "s": 2, "p": -1, "b": "yes", "c": "x"}
    fields = {"n": WholeNumber(3), "s": Share(0.5), "p": Price(0.1, "0.1"), "b": Switch(True)}
    assert [field.read(node, key, "x", problems) for key, field in fields.items()] == [3, 0.5, 0.1, True]
    assert Choice(("a", "b"), "a").read(node, "c", "x", problems) == "x"
    assert Choice(("a", "b"), "a").read({}, "c", "x", problems) == "a"
    assert problems == [
        "x.n: 0 must be a positive whole number",
        "x.s: 2 must be a number from 0 to 1, e.g. 0.5 for 50%",
        "x.p: -1 must be a price in USD, e.g. 0.1",
        "x.b: 'yes' must be true or false",
        "x.c: 'x' is not one of a, b",
    ]


def test_a_switch_takes_true_or_false_only():
    """A quoted 'false' was true to bool(): date_ranged and the others are switches, read as one."""
    message = problems_of(
        ["jobs.stedi_trusted.date_ranged='false'", "stedi.pseudonymise='no'", "profiles.aws.cross_region_buckets=1"]
    )
    assert "jobs.stedi_trusted.date_ranged: 'false' must be true or false" in message
    assert "stedi.pseudonymise: 'no' must be true or false" in message
    assert "profiles.aws.cross_region_buckets: 1 must be true or false" in message


def test_a_choice_or_an_arn_is_read_as_written_never_as_its_default():
    """``false`` for a choice became the default silently; a KMS ARN was any text after ``arn:aws``, and a
    role ARN's digits could be another script's."""
    message = problems_of(
        [
            "profiles.aws.stack.encryption=false",
            "profiles.aws.kms_key_arn=arn:awsfoo",
            "profiles.aws.glue_role_arn=arn:aws:iam::１２３４５６７８９０１２:role/x",
        ]
    )
    assert "profiles.aws.stack.encryption: False is not one of kms, s3" in message
    assert "profiles.aws.kms_key_arn: 'arn:awsfoo' must be a KMS key ARN or empty" in message
    assert "profiles.aws.glue_role_arn: 'arn:aws:iam::１２３４５６７８９０１２:role/x'" in message


def test_one_mistake_in_every_section_is_listed_at_once():
    """Each section's problems reach the one error (an athena check once ran after it was raised)."""
    wrong = {
        "athena.database=Plant": "athena.database: 'Plant' must be lower case letters, digits and '_'",
        "athena.workgroupp=x": "--set athena.workgroupp: unknown key; did you mean athena.workgroup?",
        "project.prefix=a b": "project.prefix: 'a b' must be 1-64 letters, digits, '-' or '_'",
        "profiles.aws.glue_version=4.0": "profiles.aws.glue_version: '4.0' must be 5.0 or newer",
        "profiles.aws.kms_key_arn=key": "profiles.aws.kms_key_arn: 'key' must be a KMS key ARN or empty",
        "profiles.aws.stack.encryption=sse": "profiles.aws.stack.encryption: 'sse' is not one of kms, s3",
        "profiles.aws.local_runner.s3a_jars=a.zip": "profiles.aws.local_runner.s3a_jars: 'a.zip' is not a .jar file",
        "stedi.output_format=csv": "stedi.output_format: 'csv' is not one of parquet, json",
        "ingest.restore_tier=Fast": "ingest.restore_tier: 'Fast' is not one of Bulk, Standard (DEEP_ARCHIVE's tiers)",
        "ingest.kms_key_arn=key": "ingest.kms_key_arn: 'key' must be a KMS key ARN or empty",
        "embrace.timestream.table=x": "embrace.timestream.table: 'x' is not a Timestream name",
        "embrace.timestream.slack_webhook_env=1X": "embrace.timestream.slack_webhook_env: '1X' is not an environment variable name",
        "jobs.stedi_trusted.worker_type=G.3X": "jobs.stedi_trusted.worker_type: 'G.3X' is not a worker type of Glue 5 batch jobs",
    }
    message = problems_of(list(wrong))
    assert [problem for problem in wrong.values() if f"\n  {problem}" not in message] == []


def test_numbers_are_finite_and_bounded_and_a_price_or_share_written_as_text_says_why():
    """.inf passed as a price and 10^11 workers passed config check; 1e-3, which YAML 1.1 reads as text, was
    refused without saying so."""
    message = problems_of(
        [
            "project.glue_prices.us-east-1.standard=.inf",
            "project.glue_prices.us-east-1.flex=1000.01",
            "embrace.timestream.price_per_write=1e-7",
            "project.max_row_loss=1e-3",
            "project.glue_prices.us-east-1.memory_optimized=2E+2",
            "stedi.max_reject_share=.nan",
            "jobs.stedi_trusted.number_of_workers=100000000000",
            "jobs.stedi_customer_curated.number_of_workers=300",
            "jobs.stedi_trusted.timeout_minutes=10081",
            "jobs.stedi_trusted.max_concurrent_runs=2147483648",
            "ingest.multipart_chunk_mb=5121",
            "ingest.multipart_threshold_mb='64'",
        ]
    )
    for problem in [
        "project.glue_prices.us-east-1.standard: inf must be a price in USD, e.g. 0.44",
        "project.glue_prices.us-east-1.flex: 1000.01 is more than 1,000 USD, the most a price may be",
        "embrace.timestream.price_per_write: '1e-7' must be a price in USD per write, e.g. 0.0000005 "
        "(YAML 1.1 reads 1e-7 as text: write 0.0000001 or 1.0e-7)",
        "project.max_row_loss: '1e-3' must be a number from 0 to 1, e.g. 0.5 for 50% "
        "(YAML 1.1 reads 1e-3 as text: write 0.001 or 1.0e-3)",
        "project.glue_prices.us-east-1.memory_optimized: '2E+2' must be a price in USD, e.g. 0.44 "
        "(YAML 1.1 reads 2E+2 as text: write 200 or 2.0e+2)",
        "stedi.max_reject_share: nan must be a number from 0 to 1",
        "jobs.stedi_trusted.number_of_workers: 100000000000 is more than 299, the most it may be "
        "(Glue's most workers of a job, for G.1X)",
        "jobs.stedi_customer_curated.number_of_workers: 300 is more than 299",
        "jobs.stedi_trusted.timeout_minutes: 10081 is more than 10,080, the most it may be (7 days, Glue's longest job timeout)",
        "jobs.stedi_trusted.max_concurrent_runs: 2147483648 is more than 2,147,483,647, the most it may be "
        "(the largest Integer Glue's API takes)",
        "ingest.multipart_chunk_mb: 5121 is more than 5,120, the most it may be (5 GiB, S3's largest single upload and part)",
        "ingest.multipart_threshold_mb: '64' must be a positive whole number (it is text: write it without quotes)",
    ]:
        assert f"\n  {problem}" in message, problem


def test_the_largest_value_of_each_bound_is_taken():
    settings = load_settings(
        REPO_CONFIG,
        "aws",
        [
            "project.glue_prices.us-east-1.standard=1000",
            "jobs.stedi_customer_trusted.number_of_workers=299",
            "jobs.stedi_customer_trusted.timeout_minutes=10080",
            "jobs.stedi_customer_trusted.max_concurrent_runs=2147483647",
            "ingest.multipart_chunk_mb=5120",
            "ingest.multipart_threshold_mb=5120",
            "embrace.limits.max_archive_bytes=9223372036854775807",
        ],
        environ=AWS,
    )
    job = settings.jobs["stedi_customer_trusted"]
    assert (job.number_of_workers, job.timeout_minutes, job.max_concurrent_runs) == (299, 10080, 2147483647)
    ingest = settings.section("ingest")
    assert ingest.multipart_chunk == ingest.multipart_threshold == 5120 * 1024 * 1024
    assert settings.section("embrace").limits.max_archive_bytes == 2**63 - 1
    assert "embrace.limits.max_archive_bytes: 9223372036854775808 is more than 9,223,372,036,854,775,807" in problems_of(
        ["embrace.limits.max_archive_bytes=9223372036854775808"]
    )


def test_a_name_or_arn_yaml_read_as_something_else_is_refused_as_it_was_read():
    """glue_role_arn: false was shown as '' and athena.database: 12 became the text '12'."""
    message = problems_of(["profiles.aws.glue_role_arn=false", "athena.database=12", "project.prefix=1.5"])
    assert "\n  profiles.aws.glue_role_arn: False (YAML read a bool, not text: quote it) is not an IAM role ARN" in message, (
        message
    )
    assert "\n  athena.database: 12 (YAML read a int, not text: quote it) must be lower case letters" in message
    assert "\n  project.prefix: 1.5 (YAML read a float, not text: quote it) must be" in message
    assert "glue_role_arn: ''" not in message
