"""The engine ``make query`` and ``make ddl`` ran on before DuckDB, kept as the tests' reference: Spark SQL on a Hive metastore.

The tests compare the local engine's answers with this one's on the same lake, table by table and
query by query, so the expected results come from Spark in the same test run, not from numbers
written down. It is the former ``job_helpers/control/local_sql.py`` as it stood, with one addition:
tables whose ``storage.location.template`` uses bare values (``${year}/${month}/``), which Spark could
not recover, get each folder the template matches added as a partition, so those tables are
compared too rather than read as empty.

Hive SerDe tables (CSV, Avro) need a Hive-enabled session, which the suite's ``spark`` fixture is
not, so it runs as a script in a process of its own:

    python -m tests.support.spark_sql_reference <lake root> <requests.json> <answers.json> [--set key=value]…

``requests.json`` lists ``{"name", "sql", "params"}``; ``answers.json`` gets, by name, the columns and
rows (values as ``comparable`` writes them) or the error.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlglot import exp
from sqlglot.dialects.spark import Spark

from job_helpers.control.ddl import DdlError, Statement
from job_helpers.control.read_only_sql import check_read_only, parse_one_statement
from job_helpers.stedi.schemas import JSON_TIMESTAMP_FORMAT
from job_helpers.storage import local_path

REPO = Path(__file__).resolve().parents[2]
PROJECTION_MARK = "job_helpers.partition_projection"
OPENX_SERDE = "org.openx.data.jsonserde.JsonSerDe"
JSON_OPTIONS = f"OPTIONS (timestampFormat '{JSON_TIMESTAMP_FORMAT}')"
CREATE = re.compile(
    r"^CREATE\s+EXTERNAL\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>\S+)\s*\((?P<columns>.*?)\)\s*"
    r"(?=PARTITIONED|ROW\s+FORMAT|STORED)(?:PARTITIONED\s+BY\s*\((?P<partitions>[^)]*)\)\s*)?"
    r"(?:ROW\s+FORMAT\s+(?:SERDE\s+'(?P<serde>[^']+)'\s*(?:WITH\s+SERDEPROPERTIES\s*\((?P<serdeprops>.*?)\)\s*)?"
    r"|DELIMITED\s+.*?(?=STORED|LOCATION)))?"
    r"(?:STORED\s+AS\s+(?P<stored>.*?)\s*)?LOCATION\s+'(?P<location>[^']+)'\s*(?:TBLPROPERTIES\s*\((?P<props>.*)\))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
QUIET_LOG4J = Path(__file__).with_name("spark_reference_log4j2.properties")


class _LocalSpark(Spark):
    """Spark SQL as sqlglot writes it, but ``from_unixtime`` keeps fractional seconds like Athena's."""

    class Generator(Spark.Generator):  # type: ignore[valid-type,misc]
        TRANSFORMS = {
            **Spark.Generator.TRANSFORMS,
            exp.UnixToTime: lambda self, e: (
                self.func("TIMESTAMP_SECONDS", e.this)
                if e.args.get("scale") is None and e.args.get("format") is None
                else Spark.Generator.TRANSFORMS[exp.UnixToTime](self, e)
            ),
        }


@dataclass(frozen=True)
class LocalStatement:
    source: str
    table: str
    sql: str
    projected: bool
    location: str
    partitions: tuple[str, ...]
    template: str | None


def sql_session(lake_root: Path, app_name: str = "job-helpers-sql-reference") -> Any:
    """A Spark session on an embedded Derby metastore under the lake root, quiet, as the CLI's was."""
    from pyspark.sql import SparkSession

    home = lake_root / "_metastore"
    home.mkdir(parents=True, exist_ok=True)
    # The metastore lives as long as this process: Derby keeps it in memory, with no disk syncs.
    java_options = f"-Dderby.system.home={home} -Dderby.system.durability=test -XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
    java_options += f" -Dlog4j2.configurationFile={QUIET_LOG4J.as_uri()}"
    return (
        SparkSession.builder.master(os.environ.get("SPARK_MASTER", "local[*]"))
        .appName(app_name)
        .config("spark.sql.catalogImplementation", "hive")
        .config("spark.sql.warehouse.dir", (home / "warehouse").as_uri())
        .config("spark.hadoop.javax.jdo.option.ConnectionURL", "jdbc:derby:memory:metastore_db;create=true")
        .config("spark.driver.extraJavaOptions", java_options)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .enableHiveSupport()
        .getOrCreate()
    )


def parse_check(statements: Iterable[Statement], spark: Any) -> None:
    """Parse each statement with Spark's SQL parser (Hive DDL grammar) without running it."""
    parser = spark._jsparkSession.sessionState().sqlParser()
    for statement in statements:
        try:
            parser.parsePlan(statement.sql)
        except Exception as error:
            message = str(error).strip().splitlines()[0]
            raise DdlError(f"{statement.source}: does not parse: {message}") from error


def translate_ddl(statement: Statement) -> LocalStatement:
    match = CREATE.match(statement.sql.strip())
    if match is None:
        raise DdlError(f"{statement.source}: only CREATE EXTERNAL TABLE ... LOCATION '...' statements can be registered")
    name, columns = match["name"], match["columns"].strip()
    props = match["props"] or ""
    partitions = tuple(part.strip() for part in (match["partitions"] or "").split(",") if part.strip())
    template = re.search(r"'storage\.location\.template'\s*=\s*'([^']*)'", props)
    projected = "'projection.enabled'='true'" in props.replace(" ", "") and _hive_style(partitions, template)
    serde, stored = (match["serde"] or "").strip(), (match["stored"] or "").strip()
    common = (partitions, template.group(1) if template else None)
    if serde == OPENX_SERDE:
        using = f"json {JSON_OPTIONS}"
    elif not serde and stored.upper() == "PARQUET":
        using = "parquet"
    else:
        hive = re.sub(r"IF\s+NOT\s+EXISTS\s+", "", statement.sql.strip(), count=1, flags=re.IGNORECASE)
        return LocalStatement(statement.source, name, hive, projected, match["location"], *common)
    partition_names = ""
    if partitions:
        columns += ",\n  " + ",\n  ".join(partitions)
        partition_names = f"PARTITIONED BY ({', '.join(part.split()[0] for part in partitions)})\n"
    mark = f"TBLPROPERTIES ('{PROJECTION_MARK}'='true')" if projected else ""
    sql = f"CREATE TABLE {name} (\n  {columns}\n)\nUSING {using}\n{partition_names}LOCATION '{match['location']}'\n{mark}"
    return LocalStatement(statement.source, name, sql.strip(), projected, match["location"], *common)


def _hive_style(partitions: Sequence[str], template: re.Match | None) -> bool:
    names = [part.split()[0].strip("`").lower() for part in partitions]
    if template is None:
        return True
    text = template.group(1).lower()
    return all(f"{name}=${{{name}}}" in text for name in names)


def register(spark: Any, statements: Iterable[Statement], database: str) -> list[LocalStatement]:
    spark.sql(f"CREATE DATABASE IF NOT EXISTS `{database}`")
    done = []
    for statement in statements:
        local = translate_ddl(statement)
        local_path(local.location).mkdir(parents=True, exist_ok=True)
        spark.sql(f"DROP TABLE IF EXISTS {local.table}")
        spark.sql(local.sql)
        if local.projected:
            spark.sql(f"MSCK REPAIR TABLE {local.table}")
        elif local.partitions and local.template:
            _add_template_partitions(spark, local)
        done.append(local)
    return done


def _add_template_partitions(spark: Any, local: LocalStatement) -> None:
    """Each folder a bare-value template matches, added as a partition (the one thing added to the old engine)."""
    layout = local.template[len(local.location) :].strip("/")
    keys = [part.split()[0].strip("`") for part in local.partitions]
    pattern = re.escape(layout)
    for key in keys:
        pattern = pattern.replace(re.escape(f"${{{key}}}"), f"(?P<{key}>[^/]+)")
    root = local_path(local.location)
    for folder in sorted(root.glob("/".join("*" for _ in layout.split("/")))):
        relative = folder.relative_to(root).as_posix()
        found = re.fullmatch(pattern, relative)
        if folder.is_dir() and found and not any(part.startswith(("_", ".")) for part in relative.split("/")):
            values = ", ".join(f"`{key}`='{found[key]}'" for key in keys)
            spark.sql(f"ALTER TABLE {local.table} ADD PARTITION ({values}) LOCATION '{folder.as_uri()}'")


def refresh_projected(spark: Any, database: str, tables: Iterable[str]) -> None:
    """Recover the partitions of those named tables that are projected, as the old engine did before each query."""
    if not spark.catalog.databaseExists(database):
        return
    existing = {row["tableName"].lower() for row in spark.sql(f"SHOW TABLES IN `{database}`").collect()}
    for name in sorted({table.lower() for table in tables} & existing):
        properties = {row["key"]: row["value"] for row in spark.sql(f"SHOW TBLPROPERTIES `{database}`.`{name}`").collect()}
        if properties.get(PROJECTION_MARK) == "true" or properties.get("projection.enabled") == "true":
            spark.sql(f"MSCK REPAIR TABLE `{database}`.`{name}`")


def translate_query(sql: str) -> str:
    return parse_one_statement(sql).sql(dialect=_LocalSpark)


def run_query(spark: Any, sql: str, database: str, params: Sequence[str] = ()) -> tuple[list[str], list[list[Any]]]:
    statement = check_read_only(sql)
    named = {t.name for t in statement.find_all(exp.Table) if t.name and (not t.db or t.db.lower() == database.lower())}
    refresh_projected(spark, database, named)
    spark.catalog.setCurrentDatabase(database)
    frame = spark.sql(statement.sql(dialect=_LocalSpark), args=list(params) or None)
    return frame.columns, [list(row) for row in frame.collect()]


def comparable(value: Any) -> Any:
    """A value as JSON holds it: timestamps and dates as ISO text, decimals as text, bytes as hex."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, list | tuple):
        return [comparable(item) for item in value]
    if isinstance(value, dict):
        return {str(key): comparable(item) for key, item in value.items()}
    return value


def main(argv: Sequence[str]) -> None:
    from job_helpers.control.config import load_settings
    from job_helpers.control.ddl import render_statements

    lake, requests, answers_path, *rest = argv
    overrides = [value for flag, value in zip(rest[::2], rest[1::2]) if flag == "--set"]
    settings = load_settings(REPO / "config.yml", "local", overrides, environ={"LAKE_ROOT": lake})
    spark = sql_session(Path(lake))
    statements = list(render_statements(REPO / "sql", settings))
    parse_check(statements, spark)
    register(spark, statements, settings.athena_database)
    answers = {}
    for request in json.loads(Path(requests).read_text(encoding="utf-8")):
        try:
            columns, rows = run_query(spark, request["sql"], settings.athena_database, request["params"])
            answers[request["name"]] = {"columns": columns, "rows": comparable(rows)}
        except Exception as error:
            answers[request["name"]] = {"error": str(error).strip().splitlines()[0]}
    Path(answers_path).write_text(json.dumps(answers), encoding="utf-8")
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
