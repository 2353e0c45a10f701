"""The local stand-in for Athena: DuckDB, in memory, over the tables the DDL in sql/ declares.

``make ddl`` registers every table: its DDL is read into a ``TableDefinition`` and from that into
how the local engine reads it (``local_tables``: files, partition layout, format), and the lot is
written to ``<lake root>/_catalog/<database>.json``, so tables survive between commands as they do
in the Glue Data Catalog. Nothing is read from the tables then.

``make query`` checks the query (``read_only_sql``), then declares a DuckDB view for each
registered table it names, over the files the table holds now (partitions found as Athena's
projection finds them), and runs sqlglot's rendering of the checked tree in DuckDB's dialect.
DuckDB can then read files only under the lake root and those tables' folders, and its settings
are locked. Translations (sqlglot, Athena's dialect to DuckDB's): ``"name"`` stays quoted,
``approx_distinct`` → ``approx_count_distinct``, ``cardinality`` → ``array_length``,
``date_diff('day', a, b)`` → ``date_diff('DAY', a, b)``, ``from_iso8601_timestamp(x)`` → a cast, and
the rest of what both engines express; ``from_unixtime(x)`` gives a timestamp in UTC with its
fractional seconds. ``?`` markers are bound to the ``--param`` values as strings. Division is
decimal division (``7 / 2`` is 3.5), as the Spark engine gave; Athena divides integers whole.

SHOW TABLES [IN db] [LIKE 'pattern'], SHOW PARTITIONS t, SHOW CREATE TABLE t, SHOW COLUMNS IN t,
SHOW TBLPROPERTIES t, SHOW DATABASES and DESCRIBE t are answered from the catalog and the folders;
EXPLAIN [ANALYZE] shows DuckDB's plan.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB

from job_helpers.control.ddl import DdlError, Statement
from job_helpers.control.local_tables import (
    Column,
    Folder,
    LocalTable,
    TableFile,
    local_table,
    parquet_scan,
    quote_identifier,
    quote_text,
    relation_sql,
    table_files,
)
from job_helpers.control.read_only_sql import EXPLAIN_OPTIONS, check_read_only, parse_one_statement
from job_helpers.control.table_definition import DefinitionError, from_ddl

CATALOG_FOLDER = "_catalog"
CATALOG_VERSION = 1
Log = Callable[[str], None]


class LocalQueryError(DdlError):
    """The query is wrong for the local engine (a table it does not know, a SHOW it does not answer): exit 2."""


class _LocalDuckDB(DuckDB):
    """DuckDB as sqlglot writes it, but ``from_unixtime`` gives a timestamp without a zone, in UTC, as Spark did."""

    class Generator(DuckDB.Generator):  # type: ignore[valid-type,misc]  # sqlglot builds its dialect classes at import
        TRANSFORMS = {
            **DuckDB.Generator.TRANSFORMS,
            exp.UnixToTime: lambda self, e: (
                f"CAST(TO_TIMESTAMP({self.sql(e, 'this')}) AS TIMESTAMP)"
                if e.args.get("scale") is None and e.args.get("format") is None
                else DuckDB.Generator.TRANSFORMS[exp.UnixToTime](self, e)
            ),
        }


# --- the catalog ------------------------------------------------------------------------------------


def catalog_path(lake_root: Path, database: str) -> Path:
    return lake_root / CATALOG_FOLDER / f"{database}.json"


def register(statements: Iterable[Statement], lake_root: Path, database: str) -> list[LocalTable]:
    """Read every statement into a local table and (re)register them all under ``database``; DdlError names the file."""
    tables = []
    for statement in statements:
        try:
            definition = from_ddl(statement.sql)
        except DefinitionError as error:
            raise DdlError(f"{statement.source}: {error}") from error
        table = local_table(statement.source, statement.sql, definition)
        if table.database != database:
            raise DdlError(f"{statement.source}: the table is in database {table.database}, not {database} (use {{database}})")
        if table.kind == "avro":
            from job_helpers.control import local_avro

            local_avro.check(table)
        tables.append(table)
    _check_types(tables)
    registered = {**load_catalog(lake_root, database, missing_ok=True), **{table.name: table for table in tables}}
    path = catalog_path(lake_root, database)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"version": CATALOG_VERSION, "tables": [asdict(t) for t in registered.values()]}, indent=1)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False, encoding="utf-8") as handle:
        handle.write(text)
    os.replace(handle.name, path)
    return tables


def _check_types(tables: Sequence[LocalTable]) -> None:
    """Every column's type is one DuckDB knows (sqlglot writes any name it does not know as it is)."""
    import duckdb

    connection = duckdb.connect()
    for table in tables:
        for column in (*table.columns, *table.partition_keys):
            try:
                connection.execute(f"SELECT CAST(NULL AS {column.duckdb_type})")
            except duckdb.Error as error:
                raise DdlError(
                    f"{table.source}: column {column.name} {column.hive_type}: the local engine has no such type"
                ) from error


def load_catalog(lake_root: Path, database: str, *, missing_ok: bool = False) -> dict[str, LocalTable]:
    """The tables ``make ddl`` registered in ``database``, by name."""
    path = catalog_path(lake_root, database)
    if not path.is_file():
        if missing_ok:
            return {}
        raise LocalQueryError(f"no table is registered in {database} under {lake_root}: run make ddl first")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("version") != CATALOG_VERSION:
            raise ValueError(f"version {document.get('version')}, not {CATALOG_VERSION}")
        return {entry["name"]: _table(entry) for entry in document["tables"]}
    except (ValueError, KeyError, TypeError) as error:
        if missing_ok:
            return {}
        raise LocalQueryError(f"{path} cannot be read ({error}): run make ddl again") from error


def _table(entry: dict) -> LocalTable:
    return LocalTable(
        **{
            **entry,
            "columns": tuple(Column(**c) for c in entry["columns"]),
            "partition_keys": tuple(Column(**c) for c in entry["partition_keys"]),
            "folders": tuple(Folder(**f) for f in entry["folders"]),
            "enums": tuple((key, tuple(values)) for key, values in entry["enums"]),
        }
    )


# --- queries --------------------------------------------------------------------------------------


def translate_query(sql: str) -> str:
    """Athena query text in DuckDB's dialect."""
    return parse_one_statement(sql).sql(dialect=_LocalDuckDB)


def query_tables(sql: str, database: str) -> set[str]:
    """The names of the tables a query reads from ``database`` (named with it or with no database)."""
    return _tables(parse_one_statement(sql), database)


def _tables(statement: exp.Expr, database: str) -> set[str]:
    return {
        table.name.lower()
        for table in statement.find_all(exp.Table)
        if table.name and (not table.db or table.db.lower() == database.lower())
    }


def run_query(
    sql: str, lake_root: Path, database: str, params: Sequence[str] = (), *, log: Log | None = None
) -> tuple[list[str], list[list[Any]]]:
    """Check that the query only reads, then run it on the registered tables; returns columns and rows.

    ``params`` fill the query's ``?`` markers, in order, as strings; ``log`` gets what the engine did
    (tables, files, the DuckDB SQL, seconds), for ``make query debug=1``.
    """
    statement = check_read_only(sql)
    say = log or (lambda line: None)
    if isinstance(statement, exp.Describe) or (isinstance(statement, exp.Command) and str(statement.this).upper() == "SHOW"):
        return _metadata(statement, lake_root, database)
    explain = ""
    if isinstance(statement, exp.Command):  # EXPLAIN: check_read_only checked the query it explains
        text = str(statement.expression.this if statement.expression else "")
        options = EXPLAIN_OPTIONS.match(text)
        explain = "EXPLAIN ANALYZE " if options and "ANALYZE" in options.group(0).upper() else "EXPLAIN "
        statement = parse_one_statement(text[options.end() if options else 0 :])
    catalog = load_catalog(lake_root, database, missing_ok=True)
    tables = [catalog[name] for name in sorted(_tables(statement, database) & catalog.keys())]
    duckdb_sql = explain + statement.sql(dialect=_LocalDuckDB)
    try:
        return _run(duckdb_sql, tables, lake_root, database, params, say, stream_avro=True)
    except Exception as error:
        if "already been consumed" not in str(error):
            raise
        say("an Avro table is read more than once: decoding it whole and running again")
        return _run(duckdb_sql, tables, lake_root, database, params, say, stream_avro=False)


def _run(
    duckdb_sql: str,
    tables: Sequence[LocalTable],
    lake_root: Path,
    database: str,
    params: Sequence[str],
    say: Log,
    *,
    stream_avro: bool,
) -> tuple[list[str], list[list[Any]]]:
    started = time.perf_counter()
    connection = _connect(lake_root, database, tables, say, stream_avro=stream_avro)
    say(f"DuckDB runs: {duckdb_sql}" + (f" with {list(params)}" if params else ""))
    cursor = connection.execute(duckdb_sql, list(params)) if params else connection.execute(duckdb_sql)
    columns = [description[0] for description in cursor.description or []]
    rows = [list(row) for row in cursor.fetchall()]
    say(f"{len(rows)} row(s) in {time.perf_counter() - started:.3f} s")
    return columns, rows


def _connect(lake_root: Path, database: str, tables: Sequence[LocalTable], say: Log, *, stream_avro: bool) -> Any:
    """An in-memory DuckDB with a view per table, reading files only under the lake and those tables, its settings locked."""
    import duckdb

    connection = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute(f"CREATE SCHEMA {quote_identifier(database)}")
    folders = {_folder(lake_root), *(_folder(table.root) for table in tables)}
    for table in tables:
        started = time.perf_counter()
        files = table_files(table)
        # DuckDB checks a file's real path: a table's files may be links to data kept elsewhere.
        folders |= {_folder(Path(os.path.realpath(file.path)).parent) for file in files}
        source = _declare_source(connection, table, files, stream_avro=stream_avro)
        view = f"{quote_identifier(database)}.{quote_identifier(table.name)}"
        connection.execute(f"CREATE VIEW {view} AS {source}")
        partitions = len({file.partition for file in files}) if table.partition_keys else 0
        say(
            f"{database}.{table.name}: {table.kind}, {len(files)} file(s) in {partitions} partition(s) under {table.root}, "
            f"listed in {time.perf_counter() - started:.3f} s"
        )
    connection.execute(f"SET schema = {quote_text(database)}")
    connection.execute(f"SET allowed_directories = [{', '.join(quote_text(folder) for folder in sorted(folders))}]")
    connection.execute("SET enable_external_access = false")
    connection.execute("SET lock_configuration = true")
    return connection


def _folder(path: Path) -> str:
    return str(path).rstrip("/") + "/"


def _declare_source(connection: Any, table: LocalTable, files: Sequence[TableFile], *, stream_avro: bool) -> str:
    if not files:
        return relation_sql(table, files)
    if table.kind == "parquet":
        paths = "[" + ", ".join(quote_text(str(file.path)) for file in files) + "]"
        held = [row[0] for row in connection.execute(f"DESCRIBE SELECT * FROM {parquet_scan(paths)}").fetchall()]
        return relation_sql(table, files, file_columns=held)
    if table.kind == "avro":
        import pyarrow as pa

        from job_helpers.control import local_avro

        batches = local_avro.record_batches(table, files)
        schema = local_avro.arrow_schema(table)
        rows = pa.RecordBatchReader.from_batches(schema, batches)
        name = f"avro_{table.database}_{table.name}"
        connection.register(name, rows if stream_avro else rows.read_all())
        return relation_sql(table, files, arrow_name=quote_identifier(name))
    return relation_sql(table, files)


# --- SHOW and DESCRIBE ------------------------------------------------------------------------------

SHOW_FORMS = "SHOW TABLES, SHOW PARTITIONS, SHOW CREATE TABLE, SHOW COLUMNS, SHOW TBLPROPERTIES, SHOW DATABASES"


def _metadata(statement: exp.Expr, lake_root: Path, database: str) -> tuple[list[str], list[list[Any]]]:
    if isinstance(statement, exp.Describe):
        return _describe(_named_table(statement.this, lake_root, database))
    text = str(statement.expression.this if statement.expression else "").strip()
    if re.fullmatch(r"(DATABASES|SCHEMAS)", text, re.IGNORECASE):
        return _databases(lake_root)
    tables = re.fullmatch(r"TABLES(?:\s+(?:IN|FROM)\s+(\S+))?(?:\s+(?:LIKE\s+)?'([^']*)')?", text, re.IGNORECASE)
    if tables:
        return _show_tables(lake_root, exp.to_identifier(tables[1]).name if tables[1] else database, tables[2] or "*")
    about = re.fullmatch(
        r"(PARTITIONS|CREATE\s+TABLE|TBLPROPERTIES|COLUMNS\s+(?:IN|FROM))\s+(.+)", text, re.IGNORECASE | re.DOTALL
    )
    if about is None:
        raise LocalQueryError(f"locally, make query answers {SHOW_FORMS} and DESCRIBE; not SHOW {text}")
    kind = about[1].upper().split()[0]
    return ABOUT_TABLE[kind](_named_table(exp.to_table(about[2].strip(), dialect="athena"), lake_root, database))


def _describe(table: LocalTable) -> tuple[list[str], list[list[Any]]]:
    rows = [[c.name, c.hive_type, ""] for c in table.columns]
    rows += [[c.name, c.hive_type, "partition key"] for c in table.partition_keys]
    return ["col_name", "data_type", "comment"], rows


def _databases(lake_root: Path) -> tuple[list[str], list[list[Any]]]:
    folder = lake_root / CATALOG_FOLDER
    return ["database_name"], [[path.stem] for path in sorted(folder.glob("*.json"))] if folder.is_dir() else []


def _show_tables(lake_root: Path, database: str, like: str) -> tuple[list[str], list[list[Any]]]:
    """The database's tables whose name matches ``like`` (Athena's pattern: ``*`` any text, case ignored)."""
    pattern = like.replace(".", r"\.").replace("*", ".*")
    names = sorted(name for name in load_catalog(lake_root, database) if re.fullmatch(pattern, name, re.IGNORECASE))
    return ["tab_name"], [[name] for name in names]


def _partitions(table: LocalTable) -> tuple[list[str], list[list[Any]]]:
    keys = [key.name.lower() for key in table.partition_keys]
    found = sorted({file.partition for file in table_files(table)}) if keys else []
    return ["partition"], [["/".join(f"{k}={'' if v is None else v}" for k, v in zip(keys, values))] for values in found]


def _create_statement(table: LocalTable) -> tuple[list[str], list[list[Any]]]:
    return ["createtab_stmt"], [[table.ddl]]


def _properties(table: LocalTable) -> tuple[list[str], list[list[Any]]]:
    properties = from_ddl(table.ddl).properties
    return ["prpt_name", "prpt_value"], [[key, value] for key, value in sorted(properties.items())]


def _columns(table: LocalTable) -> tuple[list[str], list[list[Any]]]:
    return ["field"], [[c.name] for c in (*table.columns, *table.partition_keys)]


# What SHOW <kind> <table> answers, by the kind's first word.
ABOUT_TABLE = {"PARTITIONS": _partitions, "CREATE": _create_statement, "TBLPROPERTIES": _properties, "COLUMNS": _columns}


def _named_table(node: Any, lake_root: Path, database: str) -> LocalTable:
    if not isinstance(node, exp.Table) or not node.name:
        raise LocalQueryError("name a table: DESCRIBE t, SHOW PARTITIONS t")
    named = node.db or database
    catalog = load_catalog(lake_root, named)
    if node.name.lower() not in catalog:
        raise LocalQueryError(f"table {named}.{node.name} is not registered: run make ddl, or see SHOW TABLES")
    return catalog[node.name.lower()]
