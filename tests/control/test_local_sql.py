"""The local stand-in for Athena: DuckDB over the tables of sql/, registered by ``make ddl`` and read as the DDL says.

``test_local_sql_matches_spark.py`` compares every table and example with the Spark engine that came
before; these tests pin the rest: the translation, partitions found from folders of any layout,
SHOW and DESCRIBE, Avro read in batches, what a query may read, and what the commands print.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

import fastavro
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from job_helpers.control.config import load_settings
from job_helpers.control.ddl import DdlError, Statement, render_statements
from job_helpers.control.local_sql import LocalQueryError, query_tables, register, run_query, translate_query
from job_helpers.control.read_only_sql import QueryRefused

REPO = Path(__file__).resolve().parents[2]
DB = "db"


def ddl(name: str, columns: str, storage: str, location: Path, partitions: str = "", properties: str = "") -> Statement:
    sql = f"CREATE EXTERNAL TABLE IF NOT EXISTS `{DB}`.`{name}` (\n  {columns}\n)\n"
    if partitions:
        sql += f"PARTITIONED BY ({partitions})\n"
    sql += f"{storage}\nLOCATION '{location.as_uri()}/'\n"
    if properties:
        sql += f"TBLPROPERTIES ({properties})"
    return Statement(f"sql/{name}.sql", sql)


def parquet(folder: Path, name: str = "part-0.parquet", **columns: list) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), folder / name)


def test_athena_literals_identifiers_and_functions_run_on_duckdb(tmp_path):
    sql = (
        """SELECT 'it''s' AS "quoted", "n" AS "user", from_unixtime(1500.25) AS at, """
        """date_diff('day', DATE '2024-03-01', DATE '2024-03-04') AS days, cardinality(ARRAY[1, 2]) AS size, """
        """approx_distinct(n) AS distinct_n, 7 / 2 AS half FROM (SELECT 1 AS n) AS t """
        """WHERE 'say "hi" from_unixtime(' <> '' GROUP BY "n\""""
    )
    columns, rows = run_query(sql, tmp_path, DB)
    assert dict(zip(columns, rows[0])) == {
        "quoted": "it's",
        "user": 1,
        "at": datetime(1970, 1, 1, 0, 25, 0, 250000),
        "days": 3,
        "size": 2,
        "distinct_n": 1,
        "half": 3.5,
    }


def test_the_readme_and_named_queries_translate():
    for path in sorted((REPO / "sql").rglob("*.sql")):
        if {"queries", "checks"} & set(path.relative_to(REPO / "sql").parts):
            text = path.read_text(encoding="utf-8").replace("{database}", "db")
            assert "SELECT" in translate_query(text).upper(), path
    assert translate_query("SELECT stream, sum(total_rows) FROM embrace_duplicate_log GROUP BY stream")


def test_query_tables_names_the_tables_of_the_database_only():
    sql = 'SELECT * FROM "db"."a" JOIN b ON a.x = b.x JOIN other.c ON c.x = a.x WHERE a.y IN (SELECT y FROM "D")'
    assert query_tables(sql, "db") == {"a", "b", "d"}


def test_a_query_that_does_not_parse_names_the_problem():
    with pytest.raises(DdlError, match="does not parse as Athena SQL"):
        translate_query("SELECT FROM WHERE (")


def test_partitions_are_the_folders_the_layout_names_whatever_the_template(tmp_path):
    """Hive-style and bare-value templates alike; folders of another value, type or layout are not partitions."""
    hive, bare = tmp_path / "hive", tmp_path / "bare"
    for value in ("acc", "eda", "other", "a%2Fb"):
        parquet(hive / "export=E1" / f"stream={value}", n=[1])
    parquet(hive / "export=E1" / "stream=__HIVE_DEFAULT_PARTITION__", n=[2])
    parquet(hive / "export=E1" / "_staging" / "stream=acc", n=[99])
    parquet(hive / "export=E1" / "stream=acc" / "_staging", n=[99])
    parquet(hive / "export=E1" / "stream=acc", name=".part-9.parquet", n=[99])
    parquet(hive / "export=E1" / "stream=acc" / "nested", n=[3])
    (hive / "export=E1" / "stream=eda" / "empty.parquet").write_bytes(b"")
    parquet(hive / "stray", n=[99])
    for year, month in (("2024", "03"), ("2024", "3"), ("2024", "xx"), ("_2024", "03")):
        folder = bare / year / month
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "object").write_text(f'{{"v": "{year}/{month}"}}\n', encoding="utf-8")
    (bare / "2024" / "03" / "also").write_text('{"v": "second file"}\n', encoding="utf-8")
    enum = "'projection.stream.type'='enum', 'projection.stream.values'='acc,eda,a/b'"
    statements = [
        ddl(
            "hive",
            "`n` bigint",
            "STORED AS PARQUET",
            hive,
            "`export` string, `stream` string",
            f"'projection.enabled'='true', {enum}, 'storage.location.template'='{hive.as_uri()}/export=${{export}}/stream=${{stream}}/'",
        ),
        ddl(
            "bare",
            "`v` string",
            "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'",
            bare,
            "`year` int, `month` int",
            f"'projection.enabled'='true', 'storage.location.template'='{bare.as_uri()}/${{year}}/${{month}}/'",
        ),
    ]
    register(statements, tmp_path, DB)
    _, rows = run_query("SELECT stream, n FROM hive ORDER BY n, stream", tmp_path, DB)
    assert rows == [["a/b", 1], ["acc", 1], ["eda", 1], [None, 2], ["acc", 3]]
    _, rows = run_query("SELECT year, month, v FROM bare ORDER BY v", tmp_path, DB)
    assert rows == [[2024, 3, "2024/03"], [2024, 3, "2024/3"], [2024, 3, "second file"]]
    _, rows = run_query("SHOW PARTITIONS bare", tmp_path, DB)
    assert rows == [["year=2024/month=03"], ["year=2024/month=3"]]
    # A partition written after make ddl is read by the next query, as Athena's projection finds it.
    parquet(hive / "export=E2" / "stream=temp", n=[5])
    parquet(hive / "export=E2" / "stream=eda", n=[6])
    assert run_query("SELECT n FROM hive WHERE export = 'E2'", tmp_path, DB)[1] == [[6]]


def test_parquet_columns_are_read_by_name_in_any_case_and_a_missing_one_is_null(tmp_path):
    folder = tmp_path / "t"
    parquet(folder, "a.parquet", readingTime=[1], Extra=["x"])
    parquet(folder, "b.parquet", READINGTIME=[2], other=[3])
    register([ddl("t", "`readingTime` bigint, `other` bigint, `absent` string", "STORED AS PARQUET", folder)], tmp_path, DB)
    columns, rows = run_query("SELECT * FROM t ORDER BY 1", tmp_path, DB)
    assert columns == ["readingTime", "other", "absent"]
    assert rows == [[1, None, None], [2, 3, None]]


def test_an_avro_table_is_read_in_batches_and_again_when_a_query_reads_it_twice(tmp_path, monkeypatch):
    from job_helpers.control import local_avro

    monkeypatch.setattr(local_avro, "BATCH_ROWS", 2)
    literal = {
        "type": "record",
        "name": "R",
        "fields": [{"name": "seriesId", "type": "string"}, {"name": "value", "type": ["null", "double"], "default": None}],
    }
    folder = tmp_path / "avro" / "day=2024-03-01"
    folder.mkdir(parents=True)
    with open(folder / "merged.avro", "wb") as handle:
        fastavro.writer(
            handle, literal, [{"seriesId": f"s{i}", "value": None if i == 3 else i / 2} for i in range(5)], codec="deflate"
        )
    storage = (
        "ROW FORMAT SERDE 'org.apache.hadoop.hive.serde2.avro.AvroSerDe'\n"
        f"WITH SERDEPROPERTIES ('avro.schema.literal'='{json.dumps(literal)}')\n"
        "STORED AS INPUTFORMAT 'org.apache.hadoop.hive.ql.io.avro.AvroContainerInputFormat'\n"
        "  OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.avro.AvroContainerOutputFormat'"
    )
    register([ddl("avro", "`seriesid` string, `value` double", storage, tmp_path / "avro", "`day` string")], tmp_path, DB)
    said: list[str] = []
    _, rows = run_query("SELECT day, count(*), sum(value) FROM avro GROUP BY day", tmp_path, DB, log=said.append)
    assert rows == [["2024-03-01", 5, 3.5]]
    assert not any("more than once" in line for line in said)
    sql = "SELECT a.seriesid, b.value FROM avro a JOIN avro b ON a.seriesid = b.seriesid WHERE a.value IS NULL"
    assert run_query(sql, tmp_path, DB, log=said.append)[1] == [["s3", None]]
    assert any("more than once" in line for line in said)


def test_a_query_reads_only_under_the_lake_and_changes_no_setting(tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("secret", encoding="utf-8")
    lake = tmp_path / "lake"
    lake.mkdir()
    (lake / "inside.txt").write_text("lake data", encoding="utf-8")
    assert run_query(f"SELECT content FROM read_text('{lake / 'inside.txt'}')", lake, DB)[1] == [["lake data"]]
    import duckdb

    for sql in (f"SELECT content FROM read_text('{outside}')", f"SELECT content FROM read_text('{lake}/../outside.txt')"):
        with pytest.raises(duckdb.PermissionException):
            run_query(sql, lake, DB)
    with pytest.raises(QueryRefused, match="runs SQL text"):
        run_query("SELECT * FROM query('SELECT 1')", lake, DB)


def test_params_fill_the_markers_as_strings(tmp_path):
    folder = tmp_path / "t"
    parquet(folder, n=[1, 2, 3], day=["2024-03-01", "2024-03-02", "2024-03-03"])
    register([ddl("t", "`n` int, `day` string", "STORED AS PARQUET", folder)], tmp_path, DB)
    sql = "SELECT n FROM t WHERE day BETWEEN ? AND ? AND n > ? ORDER BY n"
    assert run_query(sql, tmp_path, DB, ["2024-03-01", "2024-03-02", "1"])[1] == [[2]]
    assert run_query("SELECT ? AS v", tmp_path, DB, ["x'; DROP TABLE t; --"])[1] == [["x'; DROP TABLE t; --"]]


def test_show_and_describe_answer_from_the_catalog(tmp_path):
    folder = tmp_path / "t"
    parquet(folder / "d=2024-03-01", readingTime=[1])
    statement = ddl("t", "`readingTime` bigint", "STORED AS PARQUET", folder, "`d` string", "'classification'='parquet'")
    register([statement], tmp_path, DB)
    assert run_query("SHOW TABLES", tmp_path, DB) == (["tab_name"], [["t"]])
    assert run_query(f"SHOW TABLES IN {DB} 'x*'", tmp_path, DB) == (["tab_name"], [])
    assert run_query("DESCRIBE t", tmp_path, DB)[1] == [["readingTime", "bigint", ""], ["d", "string", "partition key"]]
    assert run_query('SHOW PARTITIONS "db"."t"', tmp_path, DB)[1] == [["d=2024-03-01"]]
    assert run_query("SHOW CREATE TABLE t", tmp_path, DB)[1] == [[statement.sql]]
    assert run_query("SHOW TBLPROPERTIES t", tmp_path, DB)[1] == [["classification", "parquet"]]
    assert run_query("SHOW COLUMNS IN t", tmp_path, DB)[1] == [["readingTime"], ["d"]]
    assert run_query("SHOW DATABASES", tmp_path, DB)[1] == [[DB]]
    columns, rows = run_query("EXPLAIN SELECT d FROM t WHERE readingTime > 0", tmp_path, DB)
    assert columns == ["explain_key", "explain_value"] and "PARQUET" in str(rows).upper()
    with pytest.raises(LocalQueryError, match="not registered"):
        run_query("DESCRIBE nope", tmp_path, DB)
    with pytest.raises(LocalQueryError, match="answers SHOW TABLES"):
        run_query("SHOW FUNCTIONS", tmp_path, DB)


def test_ddl_refuses_what_the_local_engine_cannot_read_naming_the_file(tmp_path):
    cases = {
        "SerDe": ddl("x", "`a` string", "ROW FORMAT SERDE 'com.example.Mine'", tmp_path / "x"),
        "file:// URL": Statement(
            "sql/s3.sql", "CREATE EXTERNAL TABLE `db`.`s3` (`a` string) STORED AS PARQUET LOCATION 's3://b/p/'"
        ),
        "one \\$\\{key\\}": ddl(
            "two",
            "`a` string",
            "STORED AS PARQUET",
            tmp_path / "two",
            "`y` string, `m` string",
            f"'projection.enabled'='true', 'storage.location.template'='{(tmp_path / 'two').as_uri()}/${{y}}-${{m}}/'",
        ),
        "does not parse": ddl("t", "`a` strange_type", "STORED AS PARQUET", tmp_path / "t"),
    }
    for reason, statement in cases.items():
        with pytest.raises(DdlError, match=f"^{statement.source}: .*{reason}"):
            register([statement], tmp_path, DB)


def test_a_stedi_json_table_reads_back_its_timestamps_through_the_ddl(spark, tmp_path):
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
    register(render_statements(REPO / "sql", settings), tmp_path, "stedi_json")
    sql = "SELECT readingTime, reading_date FROM accelerometer_trusted"
    assert run_query(sql, tmp_path, "stedi_json") == (["readingTime", "reading_date"], [[at, "2022-06-18"]])


QUERY_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import pyarrow as pa, pyarrow.parquet as pq
    from job_helpers.control.cli import main

    lake = Path(sys.argv[1])
    assert main(["--profile=local", "ddl"]) == 0
    folder = lake / "stedi-lakehouse" / "accelerometer" / "trusted" / "reading_date=2022-06-18"
    folder.mkdir(parents=True)
    pq.write_table(pa.table({"user": ["a@b.c"]}), folder / "part-0.parquet")
    assert main(["--profile=local", "query", "--json", "--sql", 'SELECT count(*) AS n FROM "accelerometer_trusted"']) == 0
    assert main(["--profile=local", "query", "--debug", "--sql", 'SELECT "user" FROM accelerometer_trusted']) == 0
    # Starting a JVM-less command must not pay for importing pyspark (most of a second of make query).
    assert "pyspark" not in sys.modules, "make ddl or make query imported pyspark"
    """
)


@pytest.mark.subprocess
def test_ddl_and_query_print_only_their_results_and_debug_says_what_the_engine_did(tmp_path):
    lake = tmp_path / "lake"
    completed = subprocess.run(
        [sys.executable, "-c", QUERY_SCRIPT, str(lake)],
        cwd=REPO,
        env={**os.environ, "LAKE_ROOT": str(lake), "PYTHONPATH": str(REPO), "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    lines = completed.stdout.strip().splitlines()
    ddl_lines = lines[: lines.index(next(line for line in lines if line.startswith("{")))]
    assert all(line.startswith("REGISTERED ") for line in ddl_lines[:-1]) and "statement(s)" in ddl_lines[-1], ddl_lines
    assert json.loads(lines[len(ddl_lines)]) == {"columns": ["n"], "rows": [[1]]}
    assert "a@b.c" in completed.stdout
    debug = completed.stderr.strip().splitlines()
    assert debug[0].startswith("glue_etl.accelerometer_trusted: parquet, 1 file(s) in 1 partition(s) under "), debug
    assert debug[1].startswith('DuckDB runs: SELECT "user" FROM accelerometer_trusted'), debug
    assert debug[2].startswith("1 row(s) in ") and len(debug) == 3, debug
    assert (lake / "_catalog" / "glue_etl.json").is_file() and not (lake / "_metastore").exists()


def test_a_query_before_make_ddl_says_what_to_run(tmp_path, capsys):
    from job_helpers.control.cli import main

    config = ["--config", str(REPO / "config.yml"), "--set", f"profiles.local.lake_root={tmp_path}", "--profile", "local"]
    assert main([*config, "query", "--sql", "SELECT count(*) FROM customer_landing"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the query failed: Catalog Error: Table with name customer_landing does not exist!")
    assert "make ddl registers the tables of sql/" in err and err.count("\n") == 1
    assert main([*config, "query", "--sql", "SHOW TABLES"]) == 2
    assert "run make ddl first" in capsys.readouterr().err
    assert main([*config, "query", "--sql", "SELECT ? AS a, ? AS b", "--param", "1"]) == 2
    assert capsys.readouterr().err.startswith("error: the query failed: ")


def test_registering_keeps_the_tables_of_earlier_runs_and_replaces_changed_ones(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    parquet(first, n=[1])
    parquet(second, n=[2])
    register([ddl("a", "`n` int", "STORED AS PARQUET", first)], tmp_path, DB)
    register([ddl("b", "`n` int", "STORED AS PARQUET", second)], tmp_path, DB)
    assert run_query("SELECT (SELECT n FROM a), (SELECT n FROM b)", tmp_path, DB)[1] == [[1, 2]]
    register([ddl("a", "`n` int", "STORED AS PARQUET", second)], tmp_path, DB)
    assert run_query("SELECT n FROM a", tmp_path, DB)[1] == [[2]]
    assert json.loads((tmp_path / "_catalog" / f"{DB}.json").read_text())["version"] == 1


def test_duckdb_is_the_make_commands_own_and_never_reaches_a_job():
    """No job script can reach an import of duckdb, and no job asks Glue for it: it stays out of what Glue runs."""
    from tests.support.project_imports import reachable

    settings = load_settings(REPO / "config.yml", "local")
    for job in settings.jobs.values():
        _, sites = reachable(REPO / job.script)
        assert not [site for site in sites if site.module.split(".")[0] == "duckdb"], job.script
        assert "duckdb" not in job.arguments.get("--additional-python-modules", ""), job.key
    assert "duckdb==" in (REPO / "requirements.txt").read_text(encoding="utf-8")


def test_json_lines_the_engines_read_differently_are_read_as_documented(tmp_path):
    """Where DuckDB's reading differs from Spark's (README, "SQL and the local engine"): a repeated key gives its
    first value, a top-level array is one row of nulls; a blank line is no row, a cut line a row of nulls."""
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "lines").write_text('{"a": 1, "a": 2}\n[{"a": 5}, {"a": 6}]\n\n{"a": \n', encoding="utf-8")
    register([ddl("t", "`a` bigint", "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'", folder)], tmp_path, DB)
    assert run_query("SELECT a FROM t", tmp_path, DB)[1] == [[1], [None], [None]]
