"""Avro tables for the local engine: files decoded by fastavro through the table's ``avro.schema.literal`` into Arrow.

DuckDB reads Avro only through an extension it downloads at first use, which a machine without
the internet cannot do; fastavro is here already (the SiteWise job's dependency). As Hive's
AvroSerDe does, each file's writer schema is resolved against the literal, and the table's
columns are the literal's fields by name. Rows come a batch at a time, so a query that reads the
table once never holds all of it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from itertools import islice
from typing import Any

import fastavro
import pyarrow as pa

from job_helpers.control.ddl import DdlError
from job_helpers.control.local_tables import LocalTable, TableFile

BATCH_ROWS = 65_536
ARROW_TYPES = {
    "string": pa.string(),
    "bigint": pa.int64(),
    "int": pa.int32(),
    "smallint": pa.int16(),
    "tinyint": pa.int8(),
    "double": pa.float64(),
    "float": pa.float32(),
    "boolean": pa.bool_(),
    "binary": pa.binary(),
}


def check(table: LocalTable) -> None:
    """DdlError unless the literal is an Avro record schema and every column has a type read here."""
    try:
        fastavro.parse_schema(json.loads(table.avro_schema))
    except (ValueError, fastavro.schema.SchemaParseException) as error:
        raise DdlError(f"{table.source}: avro.schema.literal is not an Avro schema: {error}") from error
    for column in table.columns:
        if column.hive_type not in ARROW_TYPES:
            raise DdlError(
                f"{table.source}: column {column.name} {column.hive_type}: the local engine reads Avro columns of "
                f"types {', '.join(ARROW_TYPES)}"
            )


def arrow_schema(table: LocalTable) -> pa.Schema:
    """``filename``, then ``c0``, ``c1``… for the table's columns (the names its SQL relation reads)."""
    return pa.schema([("filename", pa.string()), *((f"c{i}", ARROW_TYPES[c.hive_type]) for i, c in enumerate(table.columns))])


def record_batches(table: LocalTable, files: Sequence[TableFile]) -> Iterator[pa.RecordBatch]:
    literal = json.loads(table.avro_schema)
    reader_schema = fastavro.parse_schema(literal)
    fields = {field["name"].lower(): field["name"] for field in literal.get("fields", [])}
    names = [fields.get(column.name.lower()) for column in table.columns]
    schema = arrow_schema(table)
    for file in files:
        with open(file.path, "rb") as handle:
            records: Iterator[dict[str, Any]] = fastavro.reader(handle, reader_schema=reader_schema)  # type: ignore[assignment]
            while chunk := list(islice(records, BATCH_ROWS)):
                arrays = [pa.array([str(file.path)] * len(chunk), pa.string())]
                arrays += [
                    pa.array([record.get(name) for record in chunk] if name else [None] * len(chunk), schema.field(i + 1).type)
                    for i, name in enumerate(names)
                ]
                yield pa.RecordBatch.from_arrays(arrays, schema=schema)
