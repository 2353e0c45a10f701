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
  * ``"identifier"`` → `` `identifier` `` (Athena quotes names with double quotes, Spark with backticks)
  * ``from_unixtime(x)`` → ``timestamp_seconds(x)`` (Athena returns a timestamp, Spark a string)
  * ``from_iso8601_timestamp(x)`` → ``to_timestamp(x)``
  * ``to_unixtime(x)`` → ``unix_timestamp(x)``
  * ``approx_distinct(x)`` → ``approx_count_distinct(x)``
  * ``cardinality(x)`` → ``size(x)``
  * ``date_diff('unit', a, b)`` → ``timestampdiff(unit, a, b)``
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

from job_helpers.control.ddl import DdlError, Statement
from job_helpers.storage import local_path

log = logging.getLogger(__name__)

PROJECTION_MARK = "job_helpers.partition_projection"
OPENX_SERDE = "org.openx.data.jsonserde.JsonSerDe"
JSON_OPTIONS = "OPTIONS (timestampFormat 'yyyy-MM-dd HH:mm:ss.SSS')"
CREATE = re.compile(
    r"^CREATE\s+EXTERNAL\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>\S+)\s*\((?P<columns>.*?)\)\s*"
    r"(?=PARTITIONED|ROW\s+FORMAT|STORED)(?:PARTITIONED\s+BY\s*\((?P<partitions>[^)]*)\)\s*)?"
    r"(?:ROW\s+FORMAT\s+(?:SERDE\s+'(?P<serde>[^']+)'\s*(?:WITH\s+SERDEPROPERTIES\s*\((?P<serdeprops>.*?)\)\s*)?"
    r"|DELIMITED\s+.*?(?=STORED|LOCATION)))?"
    r"(?:STORED\s+AS\s+(?P<stored>.*?)\s*)?LOCATION\s+'(?P<location>[^']+)'\s*(?:TBLPROPERTIES\s*\((?P<props>.*)\))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
QUERY_TRANSLATIONS = (
    (re.compile(r"\bfrom_unixtime\s*\(", re.IGNORECASE), "timestamp_seconds("),
    (re.compile(r"\bfrom_iso8601_timestamp\s*\(", re.IGNORECASE), "to_timestamp("),
    (re.compile(r"\bto_unixtime\s*\(", re.IGNORECASE), "unix_timestamp("),
    (re.compile(r"\bapprox_distinct\s*\(", re.IGNORECASE), "approx_count_distinct("),
    (re.compile(r"\bcardinality\s*\(", re.IGNORECASE), "size("),
)
DATE_DIFF = re.compile(r"\bdate_diff\s*\(\s*'(\w+)'\s*,", re.IGNORECASE)
LITERAL = re.compile(r"('(?:[^']|'')*')")


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


def sql_session(lake_root: Path, app_name: str = "job-helpers-sql") -> Any:
    """A Spark session on the lake's embedded Derby metastore (one process at a time can open it)."""
    from pyspark.sql import SparkSession

    home = metastore_dir(lake_root)
    home.mkdir(parents=True, exist_ok=True)
    return (
        SparkSession.builder.master(os.environ.get("SPARK_MASTER", "local[*]"))
        .appName(app_name)
        .config("spark.sql.catalogImplementation", "hive")
        .config("spark.sql.warehouse.dir", (home / "warehouse").as_uri())
        .config("spark.hadoop.javax.jdo.option.ConnectionURL", f"jdbc:derby:;databaseName={home / 'metastore_db'};create=true")
        .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={home}")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", os.environ.get("SPARK_SHUFFLE_PARTITIONS", "8"))
        .config("spark.ui.enabled", "false")
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


def refresh_projected(spark: Any, database: str) -> None:
    """Recover the partitions of every projected table, as Athena finds them at query time."""
    if not spark.catalog.databaseExists(database):
        return
    for table in spark.catalog.listTables(database):
        properties = {row["key"]: row["value"] for row in spark.sql(f"SHOW TBLPROPERTIES `{database}`.`{table.name}`").collect()}
        if properties.get(PROJECTION_MARK) == "true" or properties.get("projection.enabled") == "true":
            spark.sql(f"MSCK REPAIR TABLE `{database}`.`{table.name}`")


def translate_query(sql: str) -> str:
    """Athena query text in Spark SQL's dialect; single-quoted literals are left exactly as written."""
    parts = LITERAL.split(DATE_DIFF.sub(r"timestampdiff(\1,", sql))
    for index in range(0, len(parts), 2):
        text = re.sub(r'"([^"]+)"', r"`\1`", parts[index])
        for pattern, replacement in QUERY_TRANSLATIONS:
            text = pattern.sub(replacement, text)
        parts[index] = text
    return "".join(parts)


def run_query(spark: Any, sql: str, database: str, params: Sequence[str] = ()) -> tuple[list[str], list[list[Any]]]:
    """Translate and run one query in ``database``, ``params`` filling its ``?`` markers; returns columns and rows."""
    refresh_projected(spark, database)
    if spark.catalog.databaseExists(database):
        spark.catalog.setCurrentDatabase(database)
    frame = spark.sql(translate_query(sql.strip().rstrip(";")), args=list(params) or None)
    return frame.columns, [list(row) for row in frame.collect()]
