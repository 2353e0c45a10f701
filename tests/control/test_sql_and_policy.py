import json
import re
from dataclasses import replace
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from job_helpers.control.config import load_settings
from job_helpers.control.ddl import DdlError, render_statements, run_on_athena
from job_helpers.control.policy import render_policy
from job_helpers.control.table_definition import from_ddl, table_input
from tests.support.spark_sql_reference import parse_check

REPO = Path(__file__).resolve().parents[2]


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


def _athena_and_glue():
    athena = boto3.client("athena", region_name="us-east-1")
    athena.create_work_group(Name="glue-etl")  # make stack creates it; moto's CloudFormation does not model workgroups
    glue = boto3.client("glue", region_name="us-east-1")
    sent = []
    athena.meta.events.register(
        "provide-client-params.athena.StartQueryExecution", lambda params, **_: sent.append(params["QueryString"])
    )
    return athena, glue, sent


def test_ddl_creates_every_missing_table_on_athena_with_s3_locations(moto_server):
    settings = load_settings(REPO / "config.yml", "aws", environ={})
    athena, glue, sent = _athena_and_glue()
    statements = list(render_statements(REPO / "sql", settings))
    outcomes = []
    run_on_athena(statements, athena, glue, settings, lambda s, outcome, changes: outcomes.append((s.source, outcome)))
    assert outcomes[0] == ("(database)", "SUCCEEDED")
    assert outcomes[1:] == [(s.source, "CREATED") for s in statements]
    assert sent == ["CREATE DATABASE IF NOT EXISTS `glue_etl`", *(s.sql for s in statements)]
    executed = {
        athena.get_query_execution(QueryExecutionId=q)["QueryExecution"]["Query"]
        for q in athena.list_query_executions()["QueryExecutionIds"]
    }
    assert set(sent) <= executed
    assert any("LOCATION 's3://sitewise-cold-tier/repartitioned/data/'" in q for q in executed)


def test_ddl_replaces_only_the_tables_whose_definition_changed(moto_server):
    """moto's Athena runs no SQL, so the existing state is written into moto's Glue catalog as
    Athena would have written it from the old DDL, and the test checks what is read from the
    catalog and which statements are sent; that real Athena stores exactly what ``table_input``
    writes is not something moto can show."""
    settings = load_settings(REPO / "config.yml", "aws", environ={})
    old = load_settings(REPO / "config.yml", "aws", ["stedi.output_format=json", "buckets.sensors=old-sensors"], environ={})
    athena, glue, sent = _athena_and_glue()
    glue.create_database(DatabaseInput={"Name": "glue_etl"})
    for statement in render_statements(REPO / "sql", old):
        definition = from_ddl(statement.sql)
        if definition.name == "sitewise_repartitioned":
            definition = replace(definition, columns=definition.columns[:-1] + (("recordversion", "int"),))
        glue.create_table(DatabaseName="glue_etl", TableInput=table_input(definition))
    statements = list(render_statements(REPO / "sql", settings))
    outcomes = {}
    run_on_athena(
        statements, athena, glue, settings, lambda s, outcome, changes: outcomes.__setitem__(s.source, (outcome, changes))
    )

    assert outcomes["sql/stedi/customer_landing.sql"] == ("UNCHANGED", [])
    assert outcomes["sql/embrace/embrace_clean.sql"] == ("UNCHANGED", [])
    outcome, changes = outcomes["sql/sitewise_repartitioned.sql"]
    assert outcome == "REPLACED" and len(changes) == 1
    assert (
        changes[0].startswith("columns: ")
        and "recordversion int -> " in changes[0]
        and changes[0].endswith("recordversion bigint")
    )
    outcome, changes = outcomes["sql/stedi/customer_trusted.sql"]
    assert outcome == "REPLACED"
    assert "SerDe: org.openx.data.jsonserde.JsonSerDe -> org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe" in changes
    outcome, changes = outcomes["sql/sensors/sensor_mapping.sql"]
    assert (outcome, changes) == (
        "REPLACED",
        ["location: s3://old-sensors/reference/sensor_mapping/ -> s3://sensor-timeseries-lake/reference/sensor_mapping/"],
    )
    replaced = {source for source, (outcome, _) in outcomes.items() if outcome == "REPLACED"}
    assert replaced == {
        "sql/sitewise_repartitioned.sql",
        *(s.source for s in statements if "stedi-lakehouse" in s.sql and "STORED AS PARQUET" in s.sql),
        *(s.source for s in statements if "sensor-timeseries-lake" in s.sql),
    }
    assert sent == ["CREATE DATABASE IF NOT EXISTS `glue_etl`"], "changed tables are updated in the catalog, never dropped"
    for statement in statements:
        name = from_ddl(statement.sql).name
        versions = glue.get_table_versions(DatabaseName="glue_etl", TableName=name)["TableVersions"]
        assert len(versions) == (2 if statement.source in replaced else 1), f"{name}: the old version is kept"

    again = {}
    run_on_athena(statements, athena, glue, settings, lambda s, outcome, changes: again.__setitem__(s.source, outcome))
    assert set(again.values()) == {"SUCCEEDED", "UNCHANGED"}, "what the update wrote reads back as the DDL's definition"


def test_a_replace_the_catalog_refuses_leaves_the_old_table(moto_server):
    """The old DROP then CREATE left no table when the CREATE failed; an UpdateTable fails whole."""
    settings = load_settings(REPO / "config.yml", "aws", environ={})
    old = load_settings(REPO / "config.yml", "aws", ["buckets.sensors=old-sensors"], environ={})
    athena, glue, sent = _athena_and_glue()
    glue.create_database(DatabaseInput={"Name": "glue_etl"})
    source = "sql/sensors/sensor_mapping.sql"
    old_statement = next(s for s in render_statements(REPO / "sql", old) if s.source == source)
    glue.create_table(DatabaseName="glue_etl", TableInput=table_input(from_ddl(old_statement.sql)))
    statements = [s for s in render_statements(REPO / "sql", settings) if s.source == source]

    def refuse(**_):
        raise glue.exceptions.ConcurrentModificationException(
            {"Error": {"Code": "ConcurrentModificationException", "Message": "busy"}}, "UpdateTable"
        )

    glue.meta.events.register("before-call.glue.UpdateTable", refuse)
    with pytest.raises(DdlError, match=f"{source}: the Glue catalog refused to update glue_etl.sensor_mapping .*left as it was"):
        run_on_athena(statements, athena, glue, settings)
    held = glue.get_table(DatabaseName="glue_etl", Name="sensor_mapping")["Table"]
    assert held["StorageDescriptor"]["Location"] == "s3://old-sensors/reference/sensor_mapping/"
    assert sent == ["CREATE DATABASE IF NOT EXISTS `glue_etl`"]


@pytest.mark.parametrize("interrupt", [False, True], ids=["deadline", "ctrl-c"])
def test_a_query_given_up_on_is_stopped_not_left_running(monkeypatch, interrupt):
    """A query past its deadline, or one whose wait is interrupted, is stopped: Athena bills it while it runs."""
    from job_helpers.control import ddl

    settings = load_settings(REPO / "config.yml", "aws", environ={})
    athena = boto3.client("athena", region_name="us-east-1")
    query_id = "0b6f3ac6-1b8a-4a5e-9e0c-5d0f0b7d2c11"
    monkeypatch.setattr(ddl, "QUERY_TIMEOUT_SECONDS", 0)
    if interrupt:
        monkeypatch.setattr(ddl, "poll", lambda *args, **kwargs: (_ for _ in ()).throw(KeyboardInterrupt()))
    with Stubber(athena) as stub:
        stub.add_response("start_query_execution", {"QueryExecutionId": query_id})
        if not interrupt:
            stub.add_response(
                "get_query_execution", {"QueryExecution": {"QueryExecutionId": query_id, "Status": {"State": "RUNNING"}}}
            )
        stub.add_response("stop_query_execution", {}, {"QueryExecutionId": query_id})
        with pytest.raises(
            KeyboardInterrupt if interrupt else DdlError, match=None if interrupt else "was still RUNNING .* it was stopped"
        ):
            ddl.query_on_athena(athena, "SELECT 1", settings)
        stub.assert_no_pending_responses()


def test_a_table_whose_catalog_entry_cannot_be_read_is_named(moto_server):
    settings = load_settings(REPO / "config.yml", "aws", environ={})
    athena, glue, _ = _athena_and_glue()
    statements = [s for s in render_statements(REPO / "sql", settings) if s.source == "sql/sitewise_repartitioned.sql"]
    with Stubber(glue) as stub:
        stub.add_client_error("get_table", "AccessDeniedException", "not allowed")
        with pytest.raises(DdlError, match="sql/sitewise_repartitioned.sql: cannot read glue_etl.sitewise_repartitioned"):
            run_on_athena(statements, athena, glue, settings)


def test_policy_is_scoped_to_the_configured_buckets():
    settings = load_settings(REPO / "config.yml", "aws", ["buckets.sitewise=plant-cold"], environ={})
    policy = render_policy(REPO / "glue_role_policy.json", settings)
    assert re.search(r"\{[a-z0-9_.]+\}", json.dumps(policy)) is None
    resources = [r for s in policy["Statement"] for r in (s["Resource"] if isinstance(s["Resource"], list) else [])]
    assert "arn:aws:s3:::plant-cold/repartitioned/data/*" in resources
    assert "arn:aws:s3:::plant-cold/raw/*" in resources
    assert "arn:aws:s3:::plant-cold" in resources
    assert not any(s["Sid"] == "KmsForEncryptedBuckets" for s in policy["Statement"])
    with_kms = render_policy(
        REPO / "glue_role_policy.json",
        load_settings(
            REPO / "config.yml", "aws", ["profiles.aws.kms_key_arn=arn:aws:kms:us-east-1:123456789012:key/k"], environ={}
        ),
    )
    assert any(s["Sid"] == "KmsForEncryptedBuckets" for s in with_kms["Statement"])


def test_make_policy_renders_either_policy(capsys):
    from job_helpers.control.cli import main

    assert main(["--profile", "aws", "policy", "--who", "operator"]) == 0
    operator = json.loads(capsys.readouterr().out)
    assert any(s["Sid"] == "PassTheJobRole" for s in operator["Statement"])
    assert main(["policy"]) == 0
    role = json.loads(capsys.readouterr().out)
    assert any(s["Sid"] == "ReadInputs" for s in role["Statement"])
