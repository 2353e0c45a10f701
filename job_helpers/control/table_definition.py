"""A table's definition from its DDL and from the Glue catalog, and what differs between the two.

``CREATE EXTERNAL TABLE IF NOT EXISTS`` keeps an existing table as it is, so a changed column,
format or location in sql/ would never reach Athena. ``make ddl`` compares the definition the DDL
gives with the one the Glue catalog holds and replaces only the tables that differ. Columns and
partition keys are compared by name and type (Glue keeps names in lower case), the SerDe and its
formats exactly, and the SerDe and table properties the DDL sets (plus any partition-projection
property the catalog still has), since Athena adds bookkeeping properties of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

PARQUET = (
    "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
    "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
)
TEXT_FORMATS = ("org.apache.hadoop.mapred.TextInputFormat", "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat")
LAZY_SIMPLE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
HEAD = re.compile(
    r"^CREATE\s+EXTERNAL\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?`?(?P<database>[^`.\s]+)`?\.`?(?P<name>[^`\s(]+)`?\s*\(",
    re.IGNORECASE,
)
CLAUSES = re.compile(
    r"^(?:PARTITIONED\s+BY\s*\((?P<partitions>[^)]*)\)\s*)?"
    r"(?:ROW\s+FORMAT\s+(?:SERDE\s+'(?P<serde>[^']+)'\s*(?:WITH\s+SERDEPROPERTIES\s*\((?P<serde_properties>[^)]*)\)\s*)?"
    r"|DELIMITED\s+FIELDS\s+TERMINATED\s+BY\s+'(?P<delimiter>[^']+)'\s*))?"
    r"(?:STORED\s+AS\s+(?:(?P<stored>PARQUET|TEXTFILE)|INPUTFORMAT\s+'(?P<input>[^']+)'\s+OUTPUTFORMAT\s+'(?P<output>[^']+)')\s*)?"
    r"LOCATION\s+'(?P<location>[^']+)'\s*(?:TBLPROPERTIES\s*\((?P<properties>.*)\))?\s*$",
    re.IGNORECASE | re.DOTALL,
)
PROPERTY = re.compile(r"'((?:[^']|'')*)'\s*=\s*'((?:[^']|'')*)'")
# Properties that still mean something when the DDL no longer sets them.
KEPT_PREFIXES = ("projection.", "storage.location.template")


class DefinitionError(Exception):
    """A DDL statement uses a clause this comparison does not understand."""


@dataclass(frozen=True)
class TableDefinition:
    database: str
    name: str
    columns: tuple[tuple[str, str], ...]
    partition_keys: tuple[tuple[str, str], ...]
    location: str
    serde: str
    input_format: str
    output_format: str
    serde_properties: dict[str, str] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside ``<…>`` and ``(…)`` (struct, map and decimal types have commas)."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        depth += 1 if char in "<(" else -1 if char in ">)" else 0
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [part.strip() for part in parts if part.strip()]


def _columns(text: str) -> tuple[tuple[str, str], ...]:
    columns = []
    for part in _split_top_level(text):
        name, _, kind = part.strip().partition(" ")
        columns.append((name.strip("`").lower(), _type(kind)))
    return tuple(columns)


def _type(kind: str) -> str:
    return re.sub(r"\s+", "", kind).replace("`", "").lower()


def _properties(text: str | None) -> dict[str, str]:
    return {key.replace("''", "'"): value.replace("''", "'") for key, value in PROPERTY.findall(text or "")}


def _closing_paren(sql: str, start: int) -> int:
    depth = 0
    for index in range(start, len(sql)):
        depth += {"(": 1, ")": -1}.get(sql[index], 0)
        if depth == 0:
            return index
    raise DefinitionError("the column list has no closing parenthesis")


def from_ddl(sql: str) -> TableDefinition:
    """The definition a ``CREATE EXTERNAL TABLE`` statement gives its table."""
    sql = sql.strip()
    head = HEAD.match(sql)
    if head is None:
        raise DefinitionError("not a CREATE EXTERNAL TABLE `database`.`table` (...) statement")
    end = _closing_paren(sql, head.end() - 1)
    clauses = CLAUSES.match(sql[end + 1 :].strip())
    if clauses is None:
        raise DefinitionError(
            "after the columns only PARTITIONED BY, ROW FORMAT SERDE/DELIMITED FIELDS, STORED AS, LOCATION and "
            "TBLPROPERTIES are understood, in that order"
        )
    serde, serde_properties = clauses["serde"], _properties(clauses["serde_properties"])
    input_format, output_format = clauses["input"], clauses["output"]
    stored = (clauses["stored"] or "").upper()
    if stored == "PARQUET":
        serde, input_format, output_format = serde or PARQUET[0], PARQUET[1], PARQUET[2]
    elif not input_format:
        # Hive's defaults: text files, read by LazySimpleSerDe unless a SerDe is named.
        input_format, output_format = TEXT_FORMATS
    if clauses["delimiter"] is not None:
        serde, serde_properties = LAZY_SIMPLE, {"field.delim": clauses["delimiter"]}
    serde = serde or LAZY_SIMPLE
    return TableDefinition(
        database=head["database"],
        name=head["name"].lower(),
        columns=_columns(sql[head.end() : end]),
        partition_keys=_columns(clauses["partitions"] or ""),
        location=clauses["location"],
        serde=serde,
        input_format=input_format,
        output_format=output_format,
        serde_properties=serde_properties,
        properties=_properties(clauses["properties"]),
    )


def from_catalog(table: dict[str, Any]) -> TableDefinition:
    """The definition the Glue catalog holds (``glue.get_table(...)["Table"]``)."""
    storage = table.get("StorageDescriptor") or {}
    serde = storage.get("SerdeInfo") or {}
    return TableDefinition(
        database=table.get("DatabaseName", ""),
        name=table["Name"].lower(),
        columns=tuple((c["Name"].lower(), _type(c.get("Type", ""))) for c in storage.get("Columns", [])),
        partition_keys=tuple((c["Name"].lower(), _type(c.get("Type", ""))) for c in table.get("PartitionKeys", [])),
        location=storage.get("Location", ""),
        serde=serde.get("SerializationLibrary", ""),
        input_format=storage.get("InputFormat", ""),
        output_format=storage.get("OutputFormat", ""),
        serde_properties=dict(serde.get("Parameters") or {}),
        properties=dict(table.get("Parameters") or {}),
    )


def _describe(columns: tuple[tuple[str, str], ...]) -> str:
    return ", ".join(f"{name} {kind}" for name, kind in columns) or "(none)"


def _property_changes(label: str, wanted: dict[str, str], held: dict[str, str]) -> list[str]:
    keys = set(wanted) | {key for key in held if key.startswith(KEPT_PREFIXES) and label == "table property"}
    return [
        f"{label} {key}: {held.get(key, '(unset)')!r} -> {wanted.get(key, '(unset)')!r}"
        for key in sorted(keys)
        if wanted.get(key) != held.get(key)
    ]


def differences(wanted: TableDefinition, held: TableDefinition) -> list[str]:
    """What would change if the catalog's table took the DDL's definition; empty when nothing."""
    changes = []
    if wanted.columns != held.columns:
        changes.append(f"columns: {_describe(held.columns)} -> {_describe(wanted.columns)}")
    if wanted.partition_keys != held.partition_keys:
        changes.append(f"partition keys: {_describe(held.partition_keys)} -> {_describe(wanted.partition_keys)}")
    for label, old, new in (
        ("location", held.location, wanted.location),
        ("SerDe", held.serde, wanted.serde),
        ("input format", held.input_format, wanted.input_format),
        ("output format", held.output_format, wanted.output_format),
    ):
        if old != new:
            changes.append(f"{label}: {old} -> {new}")
    changes += _property_changes("SerDe property", wanted.serde_properties, held.serde_properties)
    changes += _property_changes("table property", wanted.properties, held.properties)
    return changes


def table_input(definition: TableDefinition) -> dict[str, Any]:
    """The Glue ``TableInput`` for the definition, as Athena's CREATE EXTERNAL TABLE writes it."""
    return {
        "Name": definition.name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {"EXTERNAL": "TRUE", **definition.properties},
        "PartitionKeys": [{"Name": name, "Type": kind} for name, kind in definition.partition_keys],
        "StorageDescriptor": {
            "Columns": [{"Name": name, "Type": kind} for name, kind in definition.columns],
            "Location": definition.location,
            "InputFormat": definition.input_format,
            "OutputFormat": definition.output_format,
            "SerdeInfo": {"SerializationLibrary": definition.serde, "Parameters": dict(definition.serde_properties)},
        },
    }
