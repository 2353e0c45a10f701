"""Every published table a data report reads, declared once: its location, format and folder layout.

Tables with Athena DDL in ``sql/`` are read through that DDL (rendered from config, as ``make
ddl`` renders it), so a change of partitioning there (``export=``, ``dt=``/``hour=``…) changes
what the report reads without touching the report. Folders without DDL (rejects, index manifests)
are declared here with the same shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from job_helpers.control.config import Settings
from job_helpers.control.ddl import render_statements
from job_helpers.control.table_definition import PARQUET, TableDefinition, from_ddl

SQL_DIR = Path(__file__).resolve().parents[3] / "sql"
TEMPLATE = "storage.location.template"
FORMATS = {
    PARQUET[0]: "parquet",
    "org.openx.data.jsonserde.JsonSerDe": "json",
    "org.apache.hadoop.hive.serde2.avro.AvroSerDe": "avro",
}


class TableError(Exception):
    """A table the report needs is not declared, or declared in a form the report cannot read."""


@dataclass(frozen=True)
class Table:
    """A published table: where its files are, how they are stored, and how their folders name partitions.

    ``layout`` matches the folders between ``location`` and a file, binding each partition key
    (``export=${export}/stream=${stream}/`` for Hive-style tables, bare values where the
    table's ``storage.location.template`` says so).
    """

    name: str
    location: str
    file_format: str
    columns: tuple[tuple[str, str], ...]
    partitions: tuple[tuple[str, str], ...]
    layout: re.Pattern[str]


def layout_pattern(template: str, partitions: tuple[tuple[str, str], ...]) -> re.Pattern[str]:
    """The folders of a location template (``export=${export}/``) as a pattern binding each key."""
    if not template:
        template = "".join(f"{name}=${{{name}}}/" for name, _ in partitions)
    pieces = re.split(r"\$\{(\w+)\}", template)
    pattern = "".join(re.escape(piece) if index % 2 == 0 else f"(?P<{piece}>[^/]+)" for index, piece in enumerate(pieces))
    return re.compile(f"^{pattern}")


def from_definition(definition: TableDefinition) -> Table:
    file_format = FORMATS.get(definition.serde)
    if file_format is None:
        raise TableError(f"{definition.name}: the report reads Parquet, JSON and Avro tables, not {definition.serde}")
    template = definition.properties.get(TEMPLATE, "")
    if template and not template.startswith(definition.location):
        raise TableError(f"{definition.name}: its {TEMPLATE} {template!r} is not under its location {definition.location!r}")
    return Table(
        name=definition.name,
        location=definition.location,
        file_format=file_format,
        columns=definition.columns,
        partitions=definition.partition_keys,
        layout=layout_pattern(template[len(definition.location) :], definition.partition_keys),
    )


class Catalog:
    """The tables ``sql/`` defines for one profile, rendered once."""

    def __init__(self, settings: Settings, sql_dir: Path = SQL_DIR) -> None:
        self.sql_dir = sql_dir
        self.definitions: dict[str, TableDefinition] = {}
        for statement in render_statements(sql_dir, settings):
            if statement.sql.upper().startswith("CREATE EXTERNAL TABLE"):
                definition = from_ddl(statement.sql)
                self.definitions[definition.name] = definition

    def table(self, name: str) -> Table:
        """The table ``name`` as its DDL defines it for this profile."""
        definition = self.definitions.get(name)
        if definition is None:
            raise TableError(f"no DDL in {self.sql_dir} creates the table {name}")
        return from_definition(definition)


def folder_table(
    name: str,
    location: str,
    file_format: str,
    columns: tuple[tuple[str, str], ...],
    partitions: tuple[str, ...] = (),
    template: str = "",
) -> Table:
    """A table without DDL: Hive-style ``key=value/`` folders for ``partitions``, in that order, unless
    ``template`` names them otherwise (``${job}/${scope}/``)."""
    keys = tuple((key, "string") for key in partitions or re.findall(r"\$\{(\w+)\}", template))
    return Table(name, location, file_format, columns, keys, layout_pattern(template, keys))
