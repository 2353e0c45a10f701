"""`make query` reads only, on both profiles: every write, command and side-effect call is refused before an engine sees it."""

from __future__ import annotations

import re
from pathlib import Path

import boto3
import pytest

from job_helpers.control.cli import main
from job_helpers.control.ddl import DdlError
from job_helpers.control.local_sql import run_query
from job_helpers.control.read_only_sql import QueryRefused, check_read_only

REPO = Path(__file__).resolve().parents[2]

REFUSED = {
    "insert-overwrite-directory": "INSERT OVERWRITE DIRECTORY 'file:///tmp/x/customer/trusted' USING parquet SELECT 1",
    "insert-overwrite-local-directory": "INSERT OVERWRITE LOCAL DIRECTORY '/tmp/x' SELECT 1",
    "insert": "INSERT INTO customer_trusted SELECT * FROM customer_landing",
    "insert-overwrite-table": "INSERT OVERWRITE TABLE t SELECT 1",
    "ctas": "CREATE TABLE t AS SELECT 1",
    "create-external": "CREATE EXTERNAL TABLE t (a int) LOCATION 's3://b/p/'",
    "create-view": "CREATE OR REPLACE VIEW v AS SELECT 1",
    "create-temporary-function": "CREATE TEMPORARY FUNCTION f AS 'com.example.F'",
    "drop": "DROP TABLE customer_trusted",
    "alter": "ALTER TABLE t ADD COLUMNS (x int)",
    "delete": "DELETE FROM t WHERE a = 1",
    "update": "UPDATE t SET a = 1",
    "merge": "MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE",
    "truncate": "TRUNCATE TABLE t",
    "msck": "MSCK REPAIR TABLE t",
    "unload": "UNLOAD (SELECT 1) TO 's3://bucket/out/' WITH (format = 'PARQUET')",
    "set": "SET spark.sql.warehouse.dir=/tmp/x",
    "use": "USE other_database",
    "add-jar": "ADD JAR /tmp/evil.jar",
    "cache": "CACHE TABLE t",
    "uncache": "UNCACHE TABLE t",
    "clear-cache": "CLEAR CACHE",
    "refresh": "REFRESH TABLE t",
    "load-data": "LOAD DATA LOCAL INPATH '/etc/passwd' INTO TABLE t",
    "analyze": "ANALYZE TABLE t COMPUTE STATISTICS",
    "grant": "GRANT SELECT ON t TO someone",
    "transaction": "START TRANSACTION",
    "call": "CALL system.sync_partition_metadata('db', 't', 'FULL')",
    "vacuum": "VACUUM t",
    "prepare": "PREPARE s FROM SELECT 1",
    "external-function": "USING EXTERNAL FUNCTION f(x int) RETURNS int LAMBDA 'fn' SELECT f(1)",
    "two-statements": "SELECT 1; DROP TABLE t",
    "comment-then-statement": "SELECT 1 /* harmless */; DROP TABLE t",
    "line-comment-then-statement": "SELECT 1 -- harmless\n; DROP TABLE t",
    "show-then-drop": "SHOW TABLES; DROP TABLE t",
    "insert-in-a-cte": "WITH x AS (INSERT INTO t SELECT 1) SELECT 1",
    "delete-in-a-cte": "WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x",
    "select-into": "SELECT * INTO t2 FROM t",
    "select-into-in-a-subquery": "SELECT (SELECT 1 INTO t)",
    "reflect": "SELECT reflect('java.lang.System', 'exit', '0')",
    "reflect-upper-case": "SELECT REFLECT('java.lang.System', 'exit', '0')",
    "reflect-quoted": "SELECT \"reflect\"('java.lang.System', 'exit', '0')",
    "reflect-in-a-where": "SELECT 1 FROM t WHERE reflect('java.lang.System', 'exit', '0') IS NULL",
    "reflect-qualified": "SELECT x.reflect('java.lang.System', 'exit', '0')",
    "java-method": "SELECT java_method('java.lang.System', 'exit', '0')",
    "try-reflect": "SELECT try_reflect('java.lang.System', 'exit', '0')",
    "reflect-in-a-cte": "WITH x AS (SELECT reflect('java.lang.System', 'exit', '0') AS y) SELECT * FROM x",
    "transform-using-a-shell-command": "SELECT TRANSFORM(a) USING 'rm -rf /' AS (b) FROM t",
    "federated-passthrough": "SELECT * FROM TABLE(system.query(query => 'DELETE FROM x'))",
    "explain-analyze-insert": "EXPLAIN ANALYZE INSERT INTO t SELECT 1",
    "explain-insert": "EXPLAIN INSERT INTO t SELECT 1",
    "explain-formatted-reflect": "EXPLAIN (FORMAT JSON) SELECT reflect('java.lang.System', 'exit', '0')",
    "explain-comment-analyze-insert": "EXPLAIN /* plan */ ANALYZE INSERT INTO t SELECT 1",
    "explain-type-io-insert": "EXPLAIN (TYPE IO, FORMAT JSON) INSERT INTO t SELECT 1",
    "explain-explain-insert": "EXPLAIN EXPLAIN ANALYZE INSERT INTO t SELECT 1",
    "values": "VALUES (1)",
    "reset": "RESET",
    "duckdb-query-function": "SELECT * FROM query('SELECT 1')",
    "duckdb-query-function-in-a-subquery": "SELECT (SELECT count(*) FROM query('SELECT 1'))",
    "duckdb-copy-to": "COPY (SELECT 1) TO '/tmp/x.csv'",
    "duckdb-attach": "ATTACH '/tmp/x.duckdb' AS x",
    "duckdb-install": "INSTALL avro",
    "duckdb-load": "LOAD avro",
    "duckdb-pragma": "PRAGMA enable_profiling",
    "duckdb-checkpoint": "CHECKPOINT",
}


@pytest.mark.parametrize("sql", REFUSED.values(), ids=REFUSED.keys())
def test_every_write_command_and_side_effect_is_refused(sql):
    with pytest.raises(DdlError) as error:
        check_read_only(sql)
    message = str(error.value)
    assert message.startswith(("make query runs reads only", "the query does not parse as Athena SQL")), message


READS = [
    "SELECT 1",
    "select count(*) from customer_curated",
    "WITH a AS (SELECT 1 AS n) SELECT n FROM a",
    "SELECT 1 UNION ALL SELECT 2",
    "SELECT 1 INTERSECT SELECT 1 EXCEPT SELECT 2",
    "(SELECT 1)",
    "SELECT * FROM (SELECT 1 AS n) AS t WHERE n IN (SELECT 1)",
    "SHOW TABLES",
    "SHOW PARTITIONS accelerometer_trusted",
    "SHOW CREATE TABLE customer_trusted",
    "DESCRIBE customer_trusted",
    "EXPLAIN SELECT 1",
    "EXPLAIN ANALYZE SELECT count(*) FROM customer_curated",
    "EXPLAIN (FORMAT JSON) SELECT 1",
    "EXPLAIN /* plan */ SELECT 1",
    "EXPLAIN EXTENDED SELECT 1",
    "SELECT 'DROP TABLE t; INSERT INTO t SELECT 1' AS text, 'reflect(' AS name",
    "SELECT 1 /* a comment: DROP TABLE t */",
    "SELECT 1;",
]


@pytest.mark.parametrize("sql", READS)
def test_reads_pass(sql):
    check_read_only(sql)


def test_the_readme_and_named_queries_are_reads():
    named = [
        path
        for path in sorted((REPO / "sql").rglob("*.sql"))
        if {"queries", "checks"} & set(path.relative_to(REPO / "sql").parts)
    ]
    assert named
    for path in named:
        check_read_only(path.read_text(encoding="utf-8").replace("{database}", "db"))
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    examples = re.findall(r"make query sql=\"([^\"]+)\"", readme)
    assert len(examples) >= 2
    for sql in examples:
        check_read_only(sql)


@pytest.mark.parametrize(
    "sql, detail",
    [
        ("SELECT 'abc", r"Error tokenizing .* \(is a quote or comment left open\?\)"),
        ('SELECT "abc', r"Error tokenizing"),
        ("SELECT 1 /* never closed", r"Error tokenizing"),
        ("SELECT FROM WHERE (", r"at line 1, column \d+"),
        ("   ", r"the query is empty"),
    ],
    ids=["open-quote", "open-identifier", "open-comment", "syntax", "empty"],
)
def test_a_query_that_does_not_parse_is_one_line_naming_where(sql, detail):
    with pytest.raises(DdlError, match=detail) as error:
        check_read_only(sql)
    assert "\n" not in str(error.value) and "\x1b" not in str(error.value)


def test_the_local_engine_never_sees_a_refused_query_and_the_table_stays(tmp_path):
    """The case that wiped customer/trusted: the same statement through the local query path."""
    trusted = tmp_path / "customer" / "trusted"
    trusted.mkdir(parents=True)
    (trusted / "part-0.json").write_text('{"a": 1}\n', encoding="utf-8")
    sql = f"INSERT OVERWRITE DIRECTORY '{trusted.as_uri()}' USING parquet SELECT 1"
    with pytest.raises(QueryRefused, match=r"this query is INSERT …, not a read \(`make ddl` creates"):
        run_query(sql, tmp_path, "default")
    with pytest.raises(QueryRefused, match="is COPY"):
        run_query(f"COPY (SELECT 1) TO '{trusted / 'part-0.json'}'", tmp_path, "default")
    assert [path.name for path in trusted.iterdir()] == ["part-0.json"]
    assert (trusted / "part-0.json").read_text(encoding="utf-8") == '{"a": 1}\n'
    with pytest.raises(QueryRefused, match="calls java_method"):
        run_query("SELECT java_method('java.lang.System', 'setProperty', 'user.dir', '/')", tmp_path, "default")
    assert run_query("SELECT 1 AS n /* */", tmp_path, "default") == (["n"], [[1]])


def test_athena_never_receives_a_refused_query(moto_server, capsys, monkeypatch):
    monkeypatch.setenv("GLUE_ROLE_ARN", "arn:aws:iam::111122223333:role/etl")
    athena = boto3.Session(region_name="us-east-1").client("athena")
    athena.create_work_group(Name="glue-etl")  # make stack creates it
    config = str(REPO / "config.yml")
    for sql in (REFUSED["insert"], REFUSED["unload"], REFUSED["ctas"], REFUSED["two-statements"]):
        assert main(["--config", config, "--profile", "aws", "query", "--sql", sql]) == 2
        captured = capsys.readouterr()
        # Standard output may hold log lines of jobs run earlier in this process, never a result.
        assert captured.err.startswith("error: make query runs reads only") and "columns" not in captured.out
    assert athena.list_query_executions()["QueryExecutionIds"] == []
    assert main(["--config", config, "--profile", "aws", "query", "--json", "--sql", "SELECT 1"]) == 0
    assert len(athena.list_query_executions()["QueryExecutionIds"]) == 1
