"""The local stand-in for Athena: Spark SQL over a persistent embedded Hive metastore under the lake root.

Tables registered by ``ddl`` survive between commands, as they do in the Glue Data Catalog. Where
Athena's dialect differs, statements are translated before Spark sees them:

DDL
  * openx JSON SerDe tables become Spark JSON data-source tables (``USING json``); the SerDe is
    not on Spark's class path and Spark's reader already turns a malformed line into a null row,
    as ``ignore.malformed.json`` does.
  * ``STORED AS PARQUET`` tables become ``USING parquet`` data-source tables, which keep the
    camel-case field names of the files.
  * ``PARTITIONED BY (col type)`` moves the column into the column list and partitions by name.
  * partition projection (``projection.*``, ``storage.location.template``) has no Spark
    equivalent: the table is marked, and its partitions are recovered from the folder layout
    after registration and before every query. Only ``col=value`` folders can be recovered; a
    table whose template uses bare values (``${year}/${month}/``) is registered without
    partitions and reads as empty locally.
  * ``CREATE EXTERNAL TABLE IF NOT EXISTS`` replaces the local table (drop, then create), so a
    changed location or format takes effect; dropping an external table leaves its data alone.
  * other Hive SerDe tables (the SiteWise Avro table) are created as written, as Hive tables.

Queries
  * only reads run (``read_only_sql``): the query is checked, then Spark runs sqlglot's rendering
    of the checked tree.
  * sqlglot transpiles Athena's dialect (Trino) to Spark SQL: quoted identifiers, string literals
    with doubled quotes, ``approx_distinct``, ``cardinality``, ``date_diff``, ``to_unixtime``,
    ``from_iso8601_timestamp`` and the rest of what both engines can express.
  * ``from_unixtime(x)`` → ``timestamp_seconds(x)``, which keeps fractional seconds as Athena does.
  * Only the tables a query names have their partitions recovered before it runs.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlglot import exp
from sqlglot.dialects.spark import Spark

from job_helpers.control.ddl import DdlError, Statement
from job_helpers.control.read_only_sql import check_read_only, parse_one_statement
from job_helpers.stedi.schemas import JSON_TIMESTAMP_FORMAT
from job_helpers.storage import local_path

log = logging.getLogger(__name__)

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
# Spark's log4j settings for the CLI's session: errors only, and not the harmless
# "Failed to find data source: avro" that every Hive Avro table registration logs.
QUIET_LOG4J = Path(__file__).with_name("log4j2-quiet.properties")


class _LocalSpark(Spark):
    """Spark SQL as sqlglot writes it, but ``from_unixtime`` keeps fractional seconds like Athena's."""

    class Generator(Spark.Generator):  # type: ignore[valid-type,misc]  # sqlglot builds its dialect classes at import
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
    """A DDL statement as Spark runs it, and whether the table's partitions come from projection."""

    source: str
    table: str
    sql: str
    projected: bool
    location: str


def metastore_dir(lake_root: Path) -> Path:
    return lake_root / "_metastore"


def sql_session(lake_root: Path, app_name: str = "job-helpers-sql", *, debug: bool = False) -> Any:
    """A Spark session on the lake's embedded Derby metastore (one process at a time can open it).

    Spark's own log lines and progress bars are off unless ``debug``, so a command prints its result only.
    """
    from pyspark.sql import SparkSession

    home = metastore_dir(lake_root)
    home.mkdir(parents=True, exist_ok=True)
    # A short-lived CLI session: the quick JIT tier and the serial collector start faster.
    java_options = f"-Dderby.system.home={home} -XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
    if not debug:
        java_options += f" -Dlog4j2.configurationFile={QUIET_LOG4J.as_uri()}"
    return (
        SparkSession.builder.master(os.environ.get("SPARK_MASTER", "local[*]"))
        .appName(app_name)
        .config("spark.sql.catalogImplementation", "hive")
        .config("spark.sql.warehouse.dir", (home / "warehouse").as_uri())
        .config("spark.hadoop.javax.jdo.option.ConnectionURL", f"jdbc:derby:;databaseName={home / 'metastore_db'};create=true")
        .config("spark.driver.extraJavaOptions", java_options)
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", os.environ.get("SPARK_SHUFFLE_PARTITIONS", "8"))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", str(debug).lower())
        .enableHiveSupport()
        .getOrCreate()
    )


def translate_ddl(statement: Statement) -> LocalStatement:
    """The Spark form of one Athena CREATE EXTERNAL TABLE statement (see the module docstring)."""
    match = CREATE.match(statement.sql.strip())
    if match is None:
        raise DdlError(f"{statement.source}: only CREATE EXTERNAL TABLE ... LOCATION '...' statements can be registered locally")
    name, columns = match["name"], match["columns"].strip()
    props = match["props"] or ""
    projected = "'projection.enabled'='true'" in props.replace(" ", "") and _hive_style(match["partitions"] or "", props)
    serde, stored = (match["serde"] or "").strip(), (match["stored"] or "").strip()
    if serde == OPENX_SERDE:
        using = f"json {JSON_OPTIONS}"
    elif not serde and stored.upper() == "PARQUET":
        using = "parquet"
    else:
        hive = re.sub(r"IF\s+NOT\s+EXISTS\s+", "", statement.sql.strip(), count=1, flags=re.IGNORECASE)
        return LocalStatement(statement.source, name, hive, projected, match["location"])
    partition_names = ""
    if match["partitions"]:
        partitions = [part.strip() for part in match["partitions"].split(",") if part.strip()]
        columns += ",\n  " + ",\n  ".join(partitions)
        partition_names = f"PARTITIONED BY ({', '.join(part.split()[0] for part in partitions)})\n"
    mark = f"TBLPROPERTIES ('{PROJECTION_MARK}'='true')" if projected else ""
    sql = f"CREATE TABLE {name} (\n  {columns}\n)\nUSING {using}\n{partition_names}LOCATION '{match['location']}'\n{mark}"
    return LocalStatement(statement.source, name, sql.strip(), projected, match["location"])


def _hive_style(partitions: str, props: str) -> bool:
    """Whether the location template names folders ``col=value``, the only layout Spark can recover."""
    template = re.search(r"'storage\.location\.template'\s*=\s*'([^']*)'", props)
    names = [part.split()[0].strip("`").lower() for part in partitions.split(",") if part.strip()]
    if template is None:
        return True
    text = template.group(1).lower()
    return all(f"{name}=${{{name}}}" in text for name in names)


def _spark_message(error: Exception) -> str:
    java = getattr(error, "java_exception", None)
    text = java.toString() if java is not None else str(error)
    return text.strip().splitlines()[0]


def spark_root_cause(error: Exception) -> str | None:
    """What went wrong in Java, first line of the innermost cause (``java.lang.RuntimeException: boom``); None for an
    error that did not come from Spark's JVM. Py4J's own message only names the call that failed."""
    cause = getattr(error, "java_exception", None)
    if cause is None:
        return None
    while cause.getCause() is not None:
        cause = cause.getCause()
    return str(cause.toString()).strip().split("\n")[0]


def register(spark: Any, statements: Iterable[Statement], database: str) -> list[LocalStatement]:
    """Create the database and (re)create every table in the local metastore, partitions recovered."""
    spark.sql(f"CREATE DATABASE IF NOT EXISTS `{database}`")
    done = []
    for statement in statements:
        local = translate_ddl(statement)
        if local.location.startswith("file:"):
            # Athena accepts a location with nothing in it yet; a Spark file table needs the folder.
            local_path(local.location).mkdir(parents=True, exist_ok=True)
        try:
            spark.sql(f"DROP TABLE IF EXISTS {local.table}")
            spark.sql(local.sql)
            if local.projected:
                spark.sql(f"MSCK REPAIR TABLE {local.table}")
        except Exception as error:
            raise DdlError(f"{statement.source}: Spark could not register it: {_spark_message(error)}") from error
        done.append(local)
    return done


def refresh_projected(spark: Any, database: str, tables: Iterable[str]) -> None:
    """Recover the partitions of those named tables that are projected, as Athena finds them at query time."""
    if not spark.catalog.databaseExists(database):
        return
    # SHOW TABLES lists names only; catalog.listTables would fetch every table's definition.
    existing = {row["tableName"].lower() for row in spark.sql(f"SHOW TABLES IN `{database}`").collect()}
    for name in sorted({table.lower() for table in tables} & existing):
        properties = {row["key"]: row["value"] for row in spark.sql(f"SHOW TBLPROPERTIES `{database}`.`{name}`").collect()}
        if properties.get(PROJECTION_MARK) == "true" or properties.get("projection.enabled") == "true":
            spark.sql(f"MSCK REPAIR TABLE `{database}`.`{name}`")


def translate_query(sql: str) -> str:
    """Athena query text in Spark SQL's dialect."""
    return parse_one_statement(sql).sql(dialect=_LocalSpark)


def query_tables(sql: str, database: str) -> set[str]:
    """The names of the tables a query reads from ``database`` (named with it or with no database)."""
    return _tables(parse_one_statement(sql), database)


def _tables(statement: exp.Expr, database: str) -> set[str]:
    return {
        table.name
        for table in statement.find_all(exp.Table)
        if table.name and (not table.db or table.db.lower() == database.lower())
    }


def run_query(spark: Any, sql: str, database: str, params: Sequence[str] = ()) -> tuple[list[str], list[list[Any]]]:
    """Check that the query only reads, then run Spark's rendering of it in ``database``, ``params`` filling its
    ``?`` markers; returns columns and rows."""
    statement = check_read_only(sql)
    refresh_projected(spark, database, _tables(statement, database))
    if spark.catalog.databaseExists(database):
        spark.catalog.setCurrentDatabase(database)
    frame = spark.sql(statement.sql(dialect=_LocalSpark), args=list(params) or None)
    return frame.columns, [list(row) for row in frame.collect()]
