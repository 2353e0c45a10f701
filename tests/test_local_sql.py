"""The local stand-in for Athena: query translation, which tables a query refreshes, quiet output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import pytest

from job_helpers.control.ddl import DdlError
from job_helpers.control.local_sql import query_tables, translate_query

REPO = Path(__file__).resolve().parents[1]


def test_athena_literals_identifiers_and_functions_run_on_spark(spark):
    sql = (
        """SELECT 'it''s' AS "quoted", "n" AS "user", from_unixtime(1500.25) AS at, """
        """date_diff('day', DATE '2024-03-01', DATE '2024-03-04') AS days, cardinality(ARRAY[1, 2]) AS size, """
        """approx_distinct(n) AS distinct_n FROM (SELECT 1 AS n) AS t WHERE 'say "hi" from_unixtime(' <> '' """
        'GROUP BY "n"'
    )
    row = spark.sql(translate_query(sql)).collect()[0].asDict()
    assert row == {
        "quoted": "it's",
        "user": 1,
        "at": datetime(1970, 1, 1, 0, 25, 0, 250000),
        "days": 3,
        "size": 2,
        "distinct_n": 1,
    }


def test_the_readme_and_named_queries_translate():
    for path in sorted((REPO / "sql").rglob("*.sql")):
        if {"queries", "checks"} & set(path.relative_to(REPO / "sql").parts):
            text = path.read_text(encoding="utf-8").replace("{database}", "db")
            assert "SELECT" in translate_query(text).upper(), path
    assert translate_query("SELECT stream, sum(total_rows) FROM embrace_duplicate_log GROUP BY stream")


def test_query_tables_names_the_tables_of_the_database_only():
    sql = 'SELECT * FROM "db"."a" JOIN b ON a.x = b.x JOIN other.c ON c.x = a.x WHERE a.y IN (SELECT y FROM "d")'
    assert query_tables(sql, "db") == {"a", "b", "d"}


def test_a_query_that_does_not_parse_names_the_problem():
    with pytest.raises(DdlError, match="does not parse as Athena SQL"):
        translate_query("SELECT FROM WHERE (")


QUERY_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import pyarrow as pa, pyarrow.parquet as pq
    from job_helpers.cli import main
    from job_helpers.control.local_sql import sql_session

    lake = Path(sys.argv[1])
    assert main(["--profile=local", "ddl"]) == 0
    for table in ("accelerometer/trusted", "step_trainer/trusted"):
        folder = lake / "stedi-lakehouse" / table / "reading_date=2022-06-18"
        folder.mkdir(parents=True)
        pq.write_table(pa.table({"user": ["a@b.c"]}), folder / "part-0.parquet")
    assert main(["--profile=local", "query", "--json", "--sql", 'SELECT count(*) AS n FROM "accelerometer_trusted"']) == 0
    spark = sql_session(lake)
    partitions = {
        name: spark.sql(f"SHOW PARTITIONS glue_etl.{name}").count()
        for name in ("accelerometer_trusted", "step_trainer_trusted")
    }
    print(json.dumps(partitions))
    """
)


def test_ddl_and_query_print_only_their_results_and_refresh_only_named_tables(tmp_path):
    lake = tmp_path / "lake"
    completed = subprocess.run(
        [sys.executable, "-c", QUERY_SCRIPT, str(lake)],
        cwd=REPO,
        env={**os.environ, "LAKE_ROOT": str(lake), "PYTHONPATH": str(REPO), "SPARK_SHUFFLE_PARTITIONS": "2"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    *ddl_lines, answer, partitions = completed.stdout.strip().splitlines()
    assert all(line.startswith("REGISTERED ") for line in ddl_lines[:-1]), ddl_lines
    assert "statement(s)" in ddl_lines[-1]
    assert json.loads(answer) == {"columns": ["n"], "rows": [[1]]}
    assert json.loads(partitions) == {"accelerometer_trusted": 1, "step_trainer_trusted": 0}
    assert completed.stderr.strip() == "", completed.stderr[-3000:]


def test_a_stedi_json_table_reads_back_its_timestamps_through_the_ddl(spark, tmp_path):
    from job_helpers.control.config import load_settings
    from job_helpers.control.ddl import render_statements
    from job_helpers.control.local_sql import register
    from job_helpers.stedi.write import publish_table
    from job_helpers.storage import Storage

    overrides = [f"profiles.local.lake_root={tmp_path}", "stedi.output_format=json", "athena.database=stedi_json"]
    settings = load_settings(REPO / "config.yml", "local", overrides)
    at = datetime(2022, 6, 18, 1, 2, 3, 456000)
    frame = spark.createDataFrame(
        [("a@b.c", 1655514123456, 0.1, 0.2, 0.3, at, at.date())],
        "user string, timestamp bigint, x double, y double, z double, readingTime timestamp, reading_date date",
    )
    publish_table(frame, Storage(), settings.datasets["stedi.accelerometer_trusted"], "json", partitioned=True)
    statements = [s for s in render_statements(REPO / "sql", settings) if s.source.endswith("accelerometer_trusted.sql")]
    register(spark, statements, "stedi_json")
    (row,) = spark.sql("SELECT readingTime, reading_date FROM stedi_json.accelerometer_trusted").collect()
    assert (row["readingTime"], row["reading_date"]) == (at, "2022-06-18")
