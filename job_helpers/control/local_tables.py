"""How the local engine reads one table of sql/: its files, its partition values and its format, as DuckDB SQL.

A table is found the way Athena finds it, from its DDL alone:

* Files: every file under LOCATION, or under each partition folder, at any depth, except those
  with a part of their path starting with ``_`` or ``.`` (``_staging/``, ``_SUCCESS``, ``.crc``:
  Athena and Spark skip them) and empty files.
* Partitions: the folders ``storage.location.template`` lays out when partition projection is
  on, else Hive's ``name=value/`` per key. Bare values (``${year}/${month}/``) are read like
  ``name=value`` ones; a ``name=`` value is URL-decoded as Hive writes it. A folder whose value is
  not of its column's type, or not one of an enum projection's values, is not a partition
  (Athena would not look there). Partitions are listed when a query runs, so new ones show at once.
* Formats, as the engine that read them before (Spark) did:

  - Parquet: columns by name, in any case; a column no file holds is null.
  - openx JSON SerDe: one JSON value a line, keys matched as written. A line that is not JSON, or
    not an object, is a row of nulls (``ignore.malformed.json``); a blank line is no row. A value of
    another type is null in its column only; a string column takes a number, boolean or object as
    its JSON text; a timestamp is text in ``JSON_TIMESTAMP_FORMAT`` (or whole epoch seconds).
  - OpenCSVSerde: quoted CSV (a doubled quote inside quotes is a quote), every value text; an
    empty value is '' and a missing one null. ``skip.header.line.count`` lines of each file are skipped.
  - ROW FORMAT DELIMITED (LazySimpleSerDe): lines cut at the delimiter, no quoting; a missing field
    is null, extra ones are ignored, ``\\N`` is null, a number that does not parse is null.
  - AvroSerDe: decoded through ``avro.schema.literal`` by ``local_avro`` (DuckDB's Avro reader is an
    extension it would download).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import unquote

import sqlglot
from sqlglot import exp

from job_helpers.control.ddl import DdlError
from job_helpers.control.table_definition import LAZY_SIMPLE, PARQUET, TableDefinition
from job_helpers.storage import local_path

OPENX_JSON = "org.openx.data.jsonserde.JsonSerDe"
OPEN_CSV = "org.apache.hadoop.hive.serde2.OpenCSVSerde"
AVRO = "org.apache.hadoop.hive.serde2.avro.AvroSerDe"
HIVE_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
INTEGER_TYPES = ("tinyint", "smallint", "int", "integer", "bigint")
# Java's date-time pattern letters as strptime writes them, for the one pattern the jobs write.
STRPTIME = {"yyyy-MM-dd HH:mm:ss.SSS": "%Y-%m-%d %H:%M:%S.%g"}
# A text that is in no CSV file: empty values stay '', only missing ones are null.
NO_NULL_TEXT = "\x01\x02no null text\x02\x01"


@dataclass(frozen=True)
class Column:
    name: str
    hive_type: str
    duckdb_type: str


@dataclass(frozen=True)
class Folder:
    """One level of a partition layout: ``prefix${key}suffix``."""

    prefix: str
    key: str
    suffix: str

    @property
    def hive_style(self) -> bool:
        return self.prefix.lower() == f"{self.key}=" and not self.suffix


@dataclass(frozen=True)
class LocalTable:
    """A table of sql/ as the local engine reads it; made by ``local_table`` when ``make ddl`` registers it."""

    source: str
    database: str
    name: str
    ddl: str
    kind: str  # parquet | json | csv | delimited | avro
    location: str
    columns: tuple[Column, ...]
    partition_keys: tuple[Column, ...]
    folders: tuple[Folder, ...]
    enums: tuple[tuple[str, tuple[str, ...]], ...] = ()
    skip_lines: int = 0
    delimiter: str = ","
    quote: str = '"'
    avro_schema: str = ""

    @property
    def root(self) -> Path:
        return local_path(self.location)


@dataclass(frozen=True)
class TableFile:
    path: Path
    partition: tuple[str | None, ...]


def local_table(source: str, sql: str, definition: TableDefinition) -> LocalTable:
    """How the local engine reads the table ``definition`` (the DDL ``sql`` gives); DdlError names what it cannot read."""
    try:
        return _local_table(source, sql, definition)
    except DdlError as error:
        raise DdlError(f"{source}: {error}") from error


def _local_table(source: str, sql: str, definition: TableDefinition) -> LocalTable:
    if not definition.location.startswith("file:"):
        raise DdlError(f"LOCATION {definition.location} is not a file:// URL; the local profile reads the lake folder")
    kind = _kind(definition)
    columns, partition_keys = _columns(sql, definition)
    properties = definition.properties
    options: dict = {}
    if kind in ("csv", "delimited"):
        options["skip_lines"] = int(properties.get("skip.header.line.count", "0") or 0)
    if kind == "csv":
        options["delimiter"] = definition.serde_properties.get("separatorChar", ",")
        options["quote"] = definition.serde_properties.get("quoteChar", '"')
    if kind == "delimited":
        options["delimiter"] = _delimiter(definition.serde_properties.get("field.delim", "\\001"))
    if kind == "avro":
        options["avro_schema"] = definition.serde_properties.get("avro.schema.literal", "")
        if not options["avro_schema"]:
            raise DdlError("the local engine reads Avro tables through 'avro.schema.literal', which is not set")
    projected = properties.get("projection.enabled") == "true"
    enums = tuple(
        (key.name.lower(), tuple(properties[f"projection.{key.name.lower()}.values"].split(",")))
        for key in partition_keys
        if projected and properties.get(f"projection.{key.name.lower()}.type") == "enum"
    )
    location = definition.location if definition.location.endswith("/") else definition.location + "/"
    return LocalTable(
        source=source,
        database=definition.database,
        name=definition.name,
        ddl=sql,
        kind=kind,
        location=location,
        columns=columns,
        partition_keys=partition_keys,
        folders=_folders(location, properties, [key.name.lower() for key in partition_keys]),
        enums=enums,
        **options,
    )


def _kind(definition: TableDefinition) -> str:
    serde = definition.serde
    if serde == OPENX_JSON:
        return "json"
    if serde == PARQUET[0] or definition.input_format == PARQUET[1]:
        return "parquet"
    if serde == OPEN_CSV:
        return "csv"
    if serde == AVRO:
        return "avro"
    if serde == LAZY_SIMPLE:
        return "delimited"
    raise DdlError(f"the local engine cannot read SerDe {serde}")


def _columns(sql: str, definition: TableDefinition) -> tuple[tuple[Column, ...], tuple[Column, ...]]:
    """Columns and partition keys with their names as the DDL writes them (``readingTime``, as Spark showed them)."""
    try:
        statement = sqlglot.parse_one(sql, read="athena")
    except sqlglot.errors.SqlglotError as error:
        raise DdlError(f"does not parse: {str(error).splitlines()[0]}") from error
    partitioned = statement.find(exp.PartitionedByProperty)
    in_partitions = {id(node) for node in partitioned.find_all(exp.ColumnDef)} if partitioned else set()
    written = {node.name.lower(): node.name for node in statement.find_all(exp.ColumnDef)}

    def column(name: str, hive_type: str) -> Column:
        try:
            duckdb_type = exp.DataType.build(hive_type, dialect="hive").sql("duckdb")
        except sqlglot.errors.SqlglotError as error:
            raise DdlError(f"column {name} has a type the local engine does not know: {hive_type}") from error
        return Column(written.get(name, name), hive_type, duckdb_type)

    columns = tuple(column(name, kind) for name, kind in definition.columns)
    keys = tuple(column(name, kind) for name, kind in definition.partition_keys)
    if len(in_partitions) != len(keys):
        raise DdlError("the partition keys do not parse")
    return columns, keys


def _folders(location: str, properties: dict[str, str], keys: Sequence[str]) -> tuple[Folder, ...]:
    """The partition layout: the projection's template below LOCATION, else ``key=${key}/`` per key."""
    template = properties.get("storage.location.template") if properties.get("projection.enabled") == "true" else None
    if template is None:
        return tuple(Folder(f"{key}=", key, "") for key in keys)
    if not template.startswith(location):
        raise DdlError(f"storage.location.template {template} is not under LOCATION {location}")
    folders = []
    for part in template[len(location) :].strip("/").split("/"):
        found = re.fullmatch(r"([^$]*)\$\{(\w+)\}([^$]*)", part)
        if found is None:
            raise DdlError(f"the local engine needs one ${{key}} in each folder of the template, not {part!r}")
        folders.append(Folder(found[1], found[2].lower(), found[3]))
    if sorted(folder.key for folder in folders) != sorted(keys):
        raise DdlError(f"the template names {[f.key for f in folders]}, the partition keys are {list(keys)}")
    return tuple(folders)


def _delimiter(text: str) -> str:
    """Hive's field delimiter: one character, ``\\t``, or an octal escape (``\\001``)."""
    escapes = {"\\t": "\t", "\\n": "\n"}
    if text in escapes:
        return escapes[text]
    if re.fullmatch(r"\\[0-7]{1,3}", text):
        return chr(int(text[1:], 8))
    if len(text) == 1:
        return text
    raise DdlError(f"field delimiter {text!r}: the local engine reads one character, \\t or an octal escape")


# --- files and partitions ----------------------------------------------------------------------


def table_files(table: LocalTable) -> list[TableFile]:
    """The table's files now, with each one's partition values as text, in a stable order."""
    root = table.root
    if not root.is_dir():
        return []
    found = [
        TableFile(path, values) for folder, values in _partitions(table, root, table.folders, ()) for path in _data_files(folder)
    ]
    return sorted(found, key=lambda file: str(file.path))


def _partitions(
    table: LocalTable, folder: Path, levels: Sequence[Folder], values: tuple[str | None, ...]
) -> Iterator[tuple[Path, tuple[str | None, ...]]]:
    if not levels:
        yield folder, values
        return
    level = levels[0]
    for entry in _entries(folder):
        if not entry.is_dir():
            continue
        value = folder_value(level, entry.name)
        if value is not None and _fits(table, level.key, value):
            yield from _partitions(
                table, Path(entry.path), levels[1:], (*values, None if value == HIVE_NULL_PARTITION else value)
            )


def folder_value(level: Folder, name: str) -> str | None:
    """The partition value a folder name holds at this level, or None when the name is not of the layout."""
    if not (name.startswith(level.prefix) and name.endswith(level.suffix)) or len(name) <= len(level.prefix) + len(level.suffix):
        return None
    value = name[len(level.prefix) : len(name) - len(level.suffix)]
    return unquote(value) if level.hive_style else value


def _fits(table: LocalTable, key: str, value: str) -> bool:
    if value == HIVE_NULL_PARTITION:
        return True
    enum = dict(table.enums).get(key)
    if enum is not None and value not in enum:
        return False
    kind = next(column.hive_type for column in table.partition_keys if column.name.lower() == key)
    try:
        if kind in INTEGER_TYPES:
            int(value)
        elif kind in ("double", "float", "real") or kind.startswith("decimal"):
            float(value)
        elif kind == "date":
            date.fromisoformat(value)
        elif kind != "string" and not kind.startswith(("varchar", "char")):
            return False
    except ValueError:
        return False
    return True


def _entries(folder: Path) -> list[os.DirEntry]:
    with os.scandir(folder) as entries:
        return [entry for entry in entries if not entry.name.startswith(("_", "."))]


def _data_files(folder: Path) -> Iterator[Path]:
    for entry in _entries(folder):
        if entry.is_dir():
            yield from _data_files(Path(entry.path))
        elif entry.is_file() and entry.stat().st_size > 0:
            yield Path(entry.path)


# --- DuckDB SQL ------------------------------------------------------------------------------------


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def relation_sql(table: LocalTable, files: Sequence[TableFile], file_columns: Sequence[str] = (), arrow_name: str = "") -> str:
    """A SELECT giving the table's rows: its columns, then its partition keys.

    ``file_columns`` are the columns the Parquet files hold; ``arrow_name`` the relation an Avro
    table's decoded rows were registered as.
    """
    if not files:
        every = (*table.columns, *table.partition_keys)
        return (
            "SELECT " + ", ".join(f"CAST(NULL AS {c.duckdb_type}) AS {quote_identifier(c.name)}" for c in every) + " WHERE false"
        )
    paths = "[" + ", ".join(quote_text(str(file.path)) for file in files) + "]"
    columns, source = {
        "parquet": lambda: _parquet(table, paths, file_columns),
        "json": lambda: _json(table, paths),
        "csv": lambda: _csv(table, paths),
        "delimited": lambda: _delimited(table, paths),
        "avro": lambda: ([f"CAST(c{i} AS {c.duckdb_type})" for i, c in enumerate(table.columns)], arrow_name),
    }[table.kind]()
    selected = [f"{expression} AS {quote_identifier(column.name)}" for expression, column in zip(columns, table.columns)]
    selected += [
        f"{_partition_value(table, index)} AS {quote_identifier(key.name)}" for index, key in enumerate(table.partition_keys)
    ]
    return f"SELECT {', '.join(selected)} FROM {source}"


def _partition_value(table: LocalTable, index: int) -> str:
    """The key's value from the file's path, as its folder names it (the files were listed through the same layout)."""
    key = table.partition_keys[index]
    level_index, level = next((i, level) for i, level in enumerate(table.folders) if level.key == key.name.lower())
    relative = f"substr(filename, {len(str(table.root)) + 2})"
    folder = f"split_part({relative}, '/', {level_index + 1})"
    value = f"substr({folder}, {len(level.prefix) + 1}, length({folder}) - {len(level.prefix) + len(level.suffix)})"
    if level.hive_style:
        value = f"url_decode({value})"
    return f"CAST(NULLIF({value}, {quote_text(HIVE_NULL_PARTITION)}) AS {key.duckdb_type})"


def _parquet(table: LocalTable, paths: str, file_columns: Sequence[str]) -> tuple[list[str], str]:
    held = {name.lower(): name for name in file_columns}
    columns = [
        f"CAST({quote_identifier(held[c.name.lower()])} AS {c.duckdb_type})"
        if c.name.lower() in held
        else f"CAST(NULL AS {c.duckdb_type})"
        for c in table.columns
    ]
    return columns, parquet_scan(paths)


def parquet_scan(paths: str) -> str:
    return f"read_parquet({paths}, filename = true, union_by_name = true)"


def _json(table: LocalTable, paths: str) -> tuple[list[str], str]:
    keys = ", ".join(quote_text('$."' + c.name.replace("\\", "\\\\").replace('"', '\\"') + '"') for c in table.columns)
    source = (
        f"(SELECT filename, json_extract(json, [{keys}]) AS v "
        f"FROM read_json_objects({paths}, format = 'newline_delimited', ignore_errors = true, filename = true))"
    )
    return [_json_value(f"v[{index + 1}]", column) for index, column in enumerate(table.columns)], source


def _json_value(value: str, column: Column) -> str:
    """The column's value from its JSON value, typed as Spark's JSON reader types it."""
    kind, text = column.hive_type, f"({value} ->> '$')"
    of_type = f"json_type({value})"
    if kind == "string" or kind.startswith(("varchar", "char")):
        return text
    if kind in INTEGER_TYPES:
        return f"CASE WHEN {of_type} IN ('BIGINT', 'UBIGINT') THEN TRY_CAST({text} AS {column.duckdb_type}) END"
    if kind in ("double", "float", "real") or kind.startswith("decimal"):
        return f"CASE WHEN {of_type} IN ('BIGINT', 'UBIGINT', 'DOUBLE') THEN TRY_CAST({text} AS {column.duckdb_type}) END"
    if kind == "boolean":
        return f"CASE WHEN {of_type} = 'BOOLEAN' THEN {text} = 'true' END"
    if kind == "timestamp":
        # Imported here: the module imports pyspark, a second of start-up make query does not need.
        from job_helpers.stedi.schemas import JSON_TIMESTAMP_FORMAT

        return (
            f"CASE WHEN {of_type} = 'VARCHAR' THEN try_strptime({text}, {quote_text(STRPTIME[JSON_TIMESTAMP_FORMAT])}) "
            f"WHEN {of_type} IN ('BIGINT', 'UBIGINT') THEN CAST(to_timestamp(TRY_CAST({text} AS BIGINT)) AS TIMESTAMP) END"
        )
    if kind == "date":
        return f"CASE WHEN {of_type} = 'VARCHAR' THEN CAST(try_strptime({text}, '%Y-%m-%d') AS DATE) END"
    return f"TRY_CAST({value} AS {column.duckdb_type})"


def _csv(table: LocalTable, paths: str) -> tuple[list[str], str]:
    names = [f"c{index}" for index in range(len(table.columns))]
    declared = ", ".join(f"'{name}': 'VARCHAR'" for name in names)
    source = (
        f"read_csv({paths}, columns = {{{declared}}}, "
        f"header = false, skip = {table.skip_lines}, delim = {quote_text(table.delimiter)}, quote = {quote_text(table.quote)}, "
        f"escape = {quote_text(table.quote)}, nullstr = {quote_text(NO_NULL_TEXT)}, null_padding = true, "
        "strict_mode = false, auto_detect = false, filename = true)"
    )
    return [_text_value(name, column) for name, column in zip(names, table.columns)], source


def _delimited(table: LocalTable, paths: str) -> tuple[list[str], str]:
    # Hadoop's line reader ends a line at \n, \r or \r\n; a file's last line may have no end.
    lines = (
        "CASE WHEN content = '' THEN [] ELSE regexp_split_to_array(regexp_replace(content, '(\\r\\n|\\r|\\n)$', ''), "
        "'\\r\\n|\\r|\\n') END"
    )
    source = (
        f"(SELECT filename, string_split(line, {quote_text(table.delimiter)}) AS fields FROM "
        f"(SELECT filename, unnest(({lines})[{table.skip_lines + 1}:]) AS line FROM read_text({paths})))"
    )
    return [_text_value(f"NULLIF(fields[{i + 1}], '\\N')", column) for i, column in enumerate(table.columns)], source


def _text_value(text: str, column: Column) -> str:
    """A text field typed: text as it is; anything else null when it does not parse (empty included)."""
    if column.hive_type == "string" or column.hive_type.startswith(("varchar", "char")):
        return text
    if column.hive_type == "boolean":
        return f"CASE lower({text}) WHEN 'true' THEN true WHEN 'false' THEN false END"
    return f"TRY_CAST(NULLIF({text}, '') AS {column.duckdb_type})"
