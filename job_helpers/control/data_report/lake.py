"""Reading published tables for a report: files listed and opened through ``Storage``, aggregated by Arrow.

The same code reads ``file://`` lake folders and ``s3://`` buckets: ``Storage`` lists a table's
location and opens each file (ranged GETs on S3), and an Arrow file system over it lets Arrow's
streaming engine (Acero) scan only the columns a picture needs and keep only the groups it counts.
No table is loaded whole: memory holds a few record batches and the aggregated result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyarrow.acero as acero
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.json as pajson

from job_helpers.control.data_report.tables import Table
from job_helpers.storage import Storage, local_path

Progress = Callable[[str], None]
Keep = Callable[[dict[str, str]], bool]
ARROW_TYPES = {
    "string": pa.string(),
    "bigint": pa.int64(),
    "int": pa.int32(),
    "double": pa.float64(),
    "boolean": pa.bool_(),
}


class ReadError(Exception):
    """A table's files could not be read as its definition says; the message names the table and the file."""


@dataclass(frozen=True)
class TableFile:
    url: str
    size: int
    partition: dict[str, str]
    modified: float = 0.0


class Lake:
    """Published tables read through one ``Storage``; ``progress`` hears what is being read."""

    def __init__(self, storage: Storage, progress: Progress = lambda message: None) -> None:
        self.storage = storage
        self.progress = progress

    def files(self, table: Table, keep: Keep | None = None) -> list[TableFile]:
        """The table's data files (staging and hidden folders skipped) whose partition ``keep`` accepts."""
        self.progress(f"listing {table.name}")
        found = []
        base = table.location if table.location.endswith("/") else table.location + "/"
        for stored in self.storage.list(base):
            relative = stored.url[len(base) :]
            if stored.size == 0 or any(part.startswith(("_", ".")) for part in relative.split("/")):
                continue
            match = table.layout.match(relative)
            if match is None:
                continue
            partition = {key: unquote(value) for key, value in match.groupdict().items()}
            if keep is None or keep(partition):
                found.append(TableFile(stored.url, stored.size, partition, stored.modified))
        return found

    def dataset(self, table: Table, files: Sequence[TableFile], columns: Sequence[str]) -> ds.Dataset:
        """The files as one Arrow dataset of ``columns`` (data columns and partition keys)."""
        wanted = set(columns)
        partition_keys = {name for name, _ in table.partitions}
        data_columns = [(name, kind) for name, kind in table.columns if name in wanted]
        fields = [pa.field(name, _arrow_type(table, name, kind)) for name, kind in data_columns]
        fields += [pa.field(name, pa.string()) for name, _ in table.partitions if name in wanted]
        unknown = wanted - {name for name, _ in table.columns} - partition_keys
        if unknown:
            raise ValueError(f"{table.name} has no column {', '.join(sorted(unknown))}")
        schema = pa.schema(fields)
        handler = _StorageFiles(self.storage, files)
        file_format = (
            ds.ParquetFileFormat()
            if table.file_format == "parquet"
            else ds.JsonFileFormat(
                parse_options=pajson.ParseOptions(
                    explicit_schema=pa.schema([field for field in fields if field.name not in partition_keys]),
                    unexpected_field_behavior="ignore",
                )
            )
        )
        partitions = [_partition_expression(file.partition, wanted) for file in files]
        return ds.FileSystemDataset.from_paths(
            [handler.path(file.url) for file in files],
            schema=schema,
            format=file_format,
            filesystem=pafs.PyFileSystem(handler),
            partitions=partitions,
        )

    def aggregate(
        self,
        table: Table,
        files: Sequence[TableFile],
        keys: Sequence[str],
        aggregates: Sequence[tuple[Any, str, str]],
    ) -> pa.Table:
        """Group the files' rows by ``keys``, streaming: ``aggregates`` are (column or [], function, name).

        Functions are Acero's hash aggregates without the ``hash_`` prefix (``count_all``,
        ``sum``, ``count_distinct``…). Returns one row per group, an empty table for no files.
        """
        columns = list(dict.fromkeys([*keys, *(column for column, _, _ in aggregates if column)]))
        dataset = self.dataset(table, files, columns)
        self.progress(f"reading {table.name} ({len(files):,} files, {_megabytes(files)})")
        steps = [acero.Declaration("scan", acero.ScanNodeOptions(dataset, columns=columns))]
        specs = [(column, f"hash_{function}" if keys else function, None, name) for column, function, name in aggregates]
        steps.append(acero.Declaration("aggregate", acero.AggregateNodeOptions(specs, keys=list(keys))))
        try:
            return acero.Declaration.from_sequence(steps).to_table(use_threads=True)
        except (pa.ArrowException, OSError) as error:
            raise ReadError(f"{table.name} under {table.location}: {error}") from error

    def count_lines(self, location: str) -> int:
        """Non-blank lines of every file under a folder (landing JSON lines), read in blocks."""
        total = 0
        self.progress(f"counting lines under {location}")
        for stored in self.storage.list(location if location.endswith("/") else location + "/"):
            relative = stored.url[len(location) :]
            if any(part.startswith(("_", ".")) for part in relative.split("/")):
                continue
            with self.storage.open(stored.url) as handle:
                tail = b""
                while block := handle.read(1 << 20):
                    lines = (tail + block).split(b"\n")
                    tail = lines.pop()
                    total += sum(1 for line in lines if line.strip())
                total += 1 if tail.strip() else 0
        return total


def _arrow_type(table: Table, name: str, kind: str) -> pa.DataType:
    if kind not in ARROW_TYPES:
        raise ValueError(f"{table.name}.{name}: the report does not read columns of type {kind}")
    return ARROW_TYPES[kind]


def _partition_expression(partition: dict[str, str], wanted: set[str]) -> ds.Expression:
    expression = ds.scalar(True)
    for key, value in partition.items():
        if key in wanted:
            expression = expression & (ds.field(key) == value)
    return expression


def _megabytes(files: Sequence[TableFile]) -> str:
    return f"{sum(file.size for file in files) / 1e6:,.1f} MB"


class _StorageFiles(pafs.FileSystemHandler):
    """An Arrow file system of the listed files only, each opened through ``Storage``."""

    def __init__(self, storage: Storage, files: Sequence[TableFile]) -> None:
        self.storage = storage
        self.urls: dict[str, str] = {}
        self.sizes: dict[str, int] = {}
        for file in files:
            path = self.path(file.url)
            self.urls[path] = file.url
            self.sizes[path] = file.size

    @staticmethod
    def path(url: str) -> str:
        parsed = urlparse(url)
        return f"{parsed.netloc}{parsed.path}" if parsed.scheme == "s3" else str(local_path(url))

    def get_type_name(self) -> str:
        return "job-helpers-storage"

    def equals(self, other: Any) -> bool:
        return self is other

    def normalize_path(self, path: str) -> str:
        return path

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        return [
            pafs.FileInfo(path, pafs.FileType.File, size=self.sizes[path])
            if path in self.sizes
            else pafs.FileInfo(path, pafs.FileType.NotFound)
            for path in paths
        ]

    def open_input_file(self, path: str) -> pa.NativeFile:
        return pa.PythonFile(self.storage.open(self.urls[path]), mode="r")

    def open_input_stream(self, path: str) -> pa.NativeFile:
        return self.open_input_file(path)

    def get_file_info_selector(self, selector: Any) -> list[pafs.FileInfo]:
        raise NotImplementedError("a report's file system holds listed files only")

    def create_dir(self, path: str, recursive: bool) -> None:
        raise NotImplementedError("a report reads only")

    def delete_dir(self, path: str) -> None:
        raise NotImplementedError("a report reads only")

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        raise NotImplementedError("a report reads only")

    def delete_root_dir_contents(self) -> None:
        raise NotImplementedError("a report reads only")

    def delete_file(self, path: str) -> None:
        raise NotImplementedError("a report reads only")

    def move(self, source: str, destination: str) -> None:
        raise NotImplementedError("a report reads only")

    def copy_file(self, source: str, destination: str) -> None:
        raise NotImplementedError("a report reads only")

    def open_output_stream(self, path: str, metadata: Any) -> pa.NativeFile:
        raise NotImplementedError("a report reads only")

    def open_append_stream(self, path: str, metadata: Any) -> pa.NativeFile:
        raise NotImplementedError("a report reads only")
