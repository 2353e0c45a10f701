"""The Embrace DDL renders for both profiles, parses, and covers every output."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
from embrace_helpers import REPO

from job_helpers.control.config import load_settings
from job_helpers.control.ddl import render_statements
from job_helpers.control.local_sql import register, run_query
from job_helpers.storage import local_path
from tests.support.spark_sql_reference import parse_check


def test_embrace_ddl_renders_and_parses_with_projection(spark):
    for profile, scheme in (("local", "file://"), ("aws", "s3://")):
        settings = load_settings(REPO / "config.yml", profile)
        statements = [s for s in render_statements(REPO / "sql", settings) if s.source.startswith("sql/embrace/")]
        locations = {
            name: settings.datasets[f"embrace.{name}"]
            for name in ("clean", "timestream_ready", "duplicate_log", "wear_time", "devices", "rejects")
        }
        first_folders = {
            "clean": "stream=${stream}/date=${date}/",
            "timestream_ready": "${stream}/${date}/",
            "duplicate_log": "stream=${stream}/month=${month}/",
            "wear_time": "month=${month}/",
            "rejects": "export=${export}/stream=${stream}/",
        }
        for name, url in locations.items():
            (statement,) = [s for s in statements if s.source == f"sql/embrace/embrace_{name}.sql"]
            assert f"LOCATION '{url}'" in statement.sql and url.startswith(scheme)
            if name == "devices":  # one small table, no partitions
                assert "PARTITIONED BY" not in statement.sql and "projection" not in statement.sql
                continue
            assert "'projection.enabled'='true'" in statement.sql
            assert f"'storage.location.template'='{url}{first_folders[name]}'" in statement.sql
            # Only the rejects (lines of one export's files) keep an injected partition, which needs a filter.
            assert ("'projection.export.type'='injected'" in statement.sql) == (name == "rejects")
        parse_check(statements, spark)


def test_locally_the_embrace_tables_read_their_layouts(tmp_path):
    """The batch-load-ready folders have no key= (<stream>/<date>/): the local engine reads them through the template,
    as Athena's projection does (the Spark engine before it could not, and read the table as empty); a former
    <export>/<stream>/<date>/ folder is no partition of it. The devices table has no partitions: its files are its
    rows. The clean table reads its day folders, not the held rows and export lists kept beside them (_held/, _exports/)."""
    settings = load_settings(REPO / "config.yml", "local", environ={"LAKE_ROOT": str(tmp_path)})
    ready = local_path(settings.datasets["embrace.timestream_ready"])
    for stream, header, line in (
        ("acc", "time,ppt_id,dev_id,x,y,z", "1,fc096,D1,0.5,0.1,0.2"),
        ("eda", "time,ppt_id,dev_id,x", "2,fc096,D1,0.7"),
    ):
        folder = ready / stream / "2024-03-01"
        folder.mkdir(parents=True)
        (folder / "part-0.csv").write_text(f"{header}\n{line}\n", encoding="utf-8")
    for former in ("other/2024-03-01", "Sensors_U02_ALLSITES_20240301_20240331/eda/2024-03-01"):
        (ready / former).mkdir(parents=True)
        (ready / former / "x.csv").write_text("h\n9,a,b,1\n")
    clean = local_path(settings.datasets["embrace.clean"])
    reading = {"ppt_id": ["fc096"], "dev_id": ["D1"], "time": [2], "eda": [0.7], "exports": [["E1", "E2"]]}
    for folder, eda in (("stream=eda/date=2024-03-01", 0.7), ("_held/stream=eda/date=2024-03-01", 9.9)):
        (clean / folder).mkdir(parents=True)
        pq.write_table(pa.table({**reading, "eda": [eda]}), clean / folder / "part-fc096-D1.parquet")
    devices = local_path(settings.datasets["embrace.devices"])
    devices.mkdir(parents=True)
    pq.write_table(pa.table({"ppt_id": ["fc096"], "dev_id": ["D1"], "exports": [["E1", "E2"]]}), devices / "part-0.parquet")
    statements = [s for s in render_statements(REPO / "sql", settings) if s.source.startswith("sql/embrace/")]
    register(statements, tmp_path, settings.athena_database)
    database = settings.athena_database
    sql = "SELECT stream, date, time, x, y FROM embrace_timestream_ready ORDER BY time"
    assert run_query(sql, tmp_path, database)[1] == [["acc", "2024-03-01", 1, 0.5, 0.1], ["eda", "2024-03-01", 2, 0.7, None]]
    sql = "SELECT stream, date, eda, exports FROM embrace_clean"
    assert run_query(sql, tmp_path, database)[1] == [["eda", "2024-03-01", 0.7, ["E1", "E2"]]]
    assert run_query("SELECT ppt_id, exports FROM embrace_devices", tmp_path, database)[1] == [["fc096", ["E1", "E2"]]]
