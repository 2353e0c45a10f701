"""The files a chunk writes: clean Parquet, batch-load CSV and rejects of one device-day.

Every output is partitioned by export (the archive stem) first, and files are named after the
participant and device, so a rerun writes the same names (see ``job_helpers.publish``). The
batch-load-ready files sit in bare-value folders (``<export>/<stream>/<date>/``): Timestream's
CreateBatchLoadTask refuses an ObjectKeyPrefix holding ``=``; every other output is Hive-style.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import csv

from job_helpers.embrace.archives import MEASURES
from job_helpers.storage import Storage, join

# Rows converted to Arrow at a time when writing, which bounds a writer's memory.
SLICE_ROWS = 1 << 20
# pyarrow prints a double in at most 25 characters (-0.0000012345678901234567) and a long in 20.
DOUBLE_WIDTH = 25
TIME_WIDTH = 20
CLEAN_MEASURES = ("x", "y", "z", "eda", "temp")
CLEAN_SCHEMA = pa.schema(
    [
        ("ppt_id", pa.string()),
        ("dev_id", pa.string()),
        ("time_ms", pa.int64()),
        ("time", pa.timestamp("ms", tz="UTC")),
        *[(name, pa.float64()) for name in CLEAN_MEASURES],
    ]
)


def partition_folder(values: Sequence[tuple[str, str]]) -> str:
    """``export=E/stream=S/`` from ``(column, value)`` pairs, as Hive-style readers expect."""
    return "".join(f"{column}={value}/" for column, value in values)


def load_folder(export: str, stream: str, day: str | None = None) -> str:
    """``<export>/<stream>/[<date>/]`` of the batch-load-ready files and their row counts."""
    return "".join(f"{value}/" for value in (export, stream, day) if value is not None)


def file_stem(ppt_id: str, dev_id: str) -> str:
    """``part-<ppt>-<dev>-<hash>``: readable, safe in any store, and distinct for distinct devices."""
    digest = hashlib.sha1(f"{ppt_id}\0{dev_id}".encode()).hexdigest()[:8]
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{ppt_id}-{dev_id}")
    return f"part-{safe}-{digest}"


def write_clean_day(
    storage: Storage, url: str, ppt_id: str, dev_id: str, stream: str, ts: np.ndarray, values: np.ndarray
) -> None:
    """One device-day of clean readings as Parquet, built and written a slice at a time."""

    def write(path: Path) -> None:
        with pq.ParquetWriter(path, CLEAN_SCHEMA) as writer:
            for start in range(0, len(ts), SLICE_ROWS):
                writer.write_table(_clean_slice(ppt_id, dev_id, stream, ts, values, start, start + SLICE_ROWS))

    storage.write_with(url, write)


def _clean_slice(ppt_id: str, dev_id: str, stream: str, ts: np.ndarray, values: np.ndarray, start: int, end: int) -> pa.Table:
    """Rows ``start:end`` with every measure column (null where the stream has no such measure)."""
    times = pa.array(ts[start:end], type=pa.int64())
    rows = len(times)
    measures = {name: values[start:end, index] for index, name in enumerate(MEASURES[stream])}
    columns = [
        _repeated(ppt_id, rows),
        _repeated(dev_id, rows),
        times,
        times.cast(pa.timestamp("ms", tz="UTC")),
        *[pa.array(measures[name]) if name in measures else pa.nulls(rows, pa.float64()) for name in CLEAN_MEASURES],
    ]
    return pa.Table.from_arrays(columns, schema=CLEAN_SCHEMA)


def timestream_columns(stream: str) -> tuple[str, ...]:
    """The batch-load CSV columns of ``stream``: time in ms, the two dimensions, its measures."""
    return ("time", "ppt_id", "dev_id", *MEASURES[stream])


def rows_per_file(stream: str, id_width: int, max_bytes: int) -> int:
    """The most CSV rows a file of ``stream`` can hold and stay within ``max_bytes``, header included.

    The bound is the widest row possible (longest ids, widest numbers), so no file can pass the
    limit whatever the values are.
    """
    header = len(",".join(timestream_columns(stream))) + 1
    row = TIME_WIDTH + 1 + id_width + 1 + 1 + len(MEASURES[stream]) * (DOUBLE_WIDTH + 1) + 1
    if max_bytes < header + row:
        raise ValueError(f"--max-csv-bytes {max_bytes} cannot hold even one {stream} row; give at least {header + row}")
    return (max_bytes - header) // row


def write_timestream_csv(
    storage: Storage,
    folder_url: str,
    stem: str,
    ppt_id: str,
    dev_id: str,
    stream: str,
    ts: np.ndarray,
    values: np.ndarray,
    max_bytes: int,
) -> list[str]:
    """The batch-load CSV files of one device-day, each within ``max_bytes``; returns their names."""
    limit = rows_per_file(stream, len(ppt_id.encode()) + len(dev_id.encode()), max_bytes)
    header = (",".join(timestream_columns(stream)) + "\n").encode()
    options = csv.WriteOptions(include_header=False, quoting_style="none")
    columns = ["time_ms", "ppt_id", "dev_id", *MEASURES[stream]]

    def write(path: Path, first: int, last: int) -> None:
        # pyarrow quotes header names whatever the quoting style, so the header is written here.
        with pa.OSFile(str(path), "wb") as sink:
            sink.write(header)
            for start in range(first, last, SLICE_ROWS):
                piece = _clean_slice(ppt_id, dev_id, stream, ts, values, start, min(start + SLICE_ROWS, last))
                csv.write_csv(piece.select(columns), sink, options)

    names = []
    for number, first in enumerate(range(0, len(ts), limit)):
        name = f"{stem}-{number:04d}.csv"
        storage.write_with(join(folder_url, name), partial(write, first=first, last=min(first + limit, len(ts))))
        names.append(name)
    return names


def write_parquet(storage: Storage, url: str, table: pa.Table) -> None:
    storage.write_with(url, lambda path: pq.write_table(table, path))


def _repeated(text: str, rows: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(np.zeros(rows, dtype=np.int32), pa.array([text])).cast(pa.string())
