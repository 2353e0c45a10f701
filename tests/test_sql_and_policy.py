import json
import re
from pathlib import Path

import boto3
import pytest

from job_helpers.control.config import load_settings
from job_helpers.control.ddl import DdlError, parse_check, render_statements, run_on_athena
from job_helpers.control.policy import render_policy

REPO = Path(__file__).resolve().parent.parent


def test_every_ddl_file_renders_and_parses_with_spark(spark, tmp_path):
    settings = load_settings(REPO / "config.yml", environ={"LAKE_ROOT": str(tmp_path)})
    statements = list(render_statements(REPO / "sql", settings))
    sources = {s.source for s in statements}
    assert "sql/sitewise_repartitioned.sql" in sources
    sitewise = next(s for s in statements if s.source == "sql/sitewise_repartitioned.sql")
    assert f"LOCATION '{settings.datasets['sitewise.repartitioned']}'" in sitewise.sql
    assert "startYear=${startyear}/startMonth=${startmonth}/startDay=${startday}/" in sitewise.sql
    parse_check(statements, spark)


def test_a_statement_that_does_not_parse_is_named(spark, tmp_path):
    (tmp_path / "sql").mkdir()
    (tmp_path / "sql" / "broken.sql").write_text("CREATE EXTERNAL TABLE x (a strin g) LOCATIO 'y';\n")
    settings = load_settings(REPO / "config.yml", environ={"LAKE_ROOT": str(tmp_path)})
    with pytest.raises(DdlError, match="sql/broken.sql: does not parse"):
        parse_check(list(render_statements(tmp_path / "sql", settings)), spark)


def test_ddl_runs_on_athena_with_s3_locations(moto_server):
    settings = load_settings(REPO / "config.yml", "aws", environ={})
    athena = boto3.client("athena", region_name="us-east-1")
    ran = []
    run_on_athena(list(render_statements(REPO / "sql", settings)), athena, settings, lambda s, _: ran.append(s))
    assert ran[0].sql == "CREATE DATABASE IF NOT EXISTS `glue_etl`"
    executed = [
        athena.get_query_execution(QueryExecutionId=q)["QueryExecution"]["Query"]
        for q in athena.list_query_executions()["QueryExecutionIds"]
    ]
    assert any("LOCATION 's3://sitewise-cold-tier/repartitioned/data/'" in q for q in executed)


def test_policy_is_scoped_to_the_configured_buckets():
    settings = load_settings(REPO / "config.yml", "aws", ["buckets.sitewise=plant-cold"], environ={})
    policy = render_policy(REPO / "glue_role_policy.json", settings)
    assert re.search(r"\{[a-z0-9_.]+\}", json.dumps(policy)) is None
    resources = [r for s in policy["Statement"] for r in (s["Resource"] if isinstance(s["Resource"], list) else [])]
    assert "arn:aws:s3:::plant-cold/repartitioned/data/*" in resources
    assert "arn:aws:s3:::plant-cold/*" in resources
    assert not any(s["Sid"] == "KmsForEncryptedBuckets" for s in policy["Statement"])
    with_kms = render_policy(
        REPO / "glue_role_policy.json",
        load_settings(REPO / "config.yml", "aws", ["profiles.aws.kms_key_arn=arn:aws:kms:us-east-1:123456789012:key/k"], environ={}),
    )
    assert any(s["Sid"] == "KmsForEncryptedBuckets" for s in with_kms["Statement"])
