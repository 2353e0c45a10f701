"""The Embrace DDL renders for both profiles, parses, and covers every output."""

from __future__ import annotations

from embrace_helpers import REPO
from spark_sql_reference import parse_check

from job_helpers.control.config import load_settings
from job_helpers.control.ddl import render_statements
from job_helpers.control.local_sql import register, run_query
from job_helpers.storage import local_path


def test_embrace_ddl_renders_and_parses_with_projection(spark):
    for profile, scheme in (("local", "file://"), ("aws", "s3://")):
        settings = load_settings(REPO / "config.yml", profile)
        statements = [s for s in render_statements(REPO / "sql", settings) if s.source.startswith("sql/embrace/")]
        locations = {
            name: settings.datasets[f"embrace.{name}"]
            for name in ("clean", "timestream_ready", "duplicate_log", "wear_time", "devices", "rejects")
        }
        for name, url in locations.items():
            (statement,) = [s for s in statements if s.source == f"sql/embrace/embrace_{name}.sql"]
            assert f"LOCATION '{url}'" in statement.sql and url.startswith(scheme)
            assert "'projection.enabled'='true'" in statement.sql
            first_folder = "${export}/" if name == "timestream_ready" else "export=${export}/"
            assert f"'storage.location.template'='{url}{first_folder}" in statement.sql
        parse_check(statements, spark)


def test_locally_the_bare_value_batch_load_table_reads_its_folders(tmp_path):
    """The batch-load-ready folders have no key= (<export>/<stream>/<date>/): the local engine reads them through the
    template, as Athena's projection does (the Spark engine before it could not, and read the table as empty)."""
    settings = load_settings(REPO / "config.yml", "local", environ={"LAKE_ROOT": str(tmp_path)})
    ready = local_path(settings.datasets["embrace.timestream_ready"])
    for stream, header, line in (
        ("acc", "time,ppt_id,dev_id,x,y,z", "1,fc096,D1,0.5,0.1,0.2"),
        ("eda", "time,ppt_id,dev_id,x", "2,fc096,D1,0.7"),
    ):
        folder = ready / "Sensors_U02_ALLSITES_20240301_20240331" / stream / "2024-03-01"
        folder.mkdir(parents=True)
        (folder / "part-0.csv").write_text(f"{header}\n{line}\n", encoding="utf-8")
    (ready / "Sensors_U02_ALLSITES_20240301_20240331" / "other" / "2024-03-01").mkdir(parents=True)
    (ready / "Sensors_U02_ALLSITES_20240301_20240331" / "other" / "2024-03-01" / "x.csv").write_text("h\n9,a,b,1\n")
    statements = [s for s in render_statements(REPO / "sql", settings) if s.source.startswith("sql/embrace/")]
    register(statements, tmp_path, settings.athena_database)
    sql = "SELECT export, stream, date, time, x, y FROM embrace_timestream_ready ORDER BY time"
    assert run_query(sql, tmp_path, settings.athena_database)[1] == [
        ["Sensors_U02_ALLSITES_20240301_20240331", "acc", "2024-03-01", 1, 0.5, 0.1],
        ["Sensors_U02_ALLSITES_20240301_20240331", "eda", "2024-03-01", 2, 0.7, None],
    ]
