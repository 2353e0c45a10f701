"""Writing a run's outputs: the files tasks write aside, then the driver's publish of all of them.

Tasks write each device-day's clean Parquet and batch-load CSVs under the staging folders of the
run. Once every task is done, the driver stages the small tables and the refused members, then
publishes every output of the archives that succeeded (see ``job_helpers.publish``): clean goes
first, its rows read back from the Parquet footers and checked against the rows the tasks
cleaned, so a shrink it refuses, or a count that does not add up, publishes nothing. The row counts beside the batch-load files are
written in place, for ``timestream-load``. Where each output's folders are is in ``outputs``.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import csv

from job_helpers.embrace.archives import MEASURES
from job_helpers.embrace.members import RefusedMember
from job_helpers.embrace.outputs import EXPORT, FROM_TASKS, STAGED, STREAM, owned_folders, partition_folder
from job_helpers.embrace.transform import DayCounts
from job_helpers.file_rows import parquet_rows
from job_helpers.publish import NewFile, Published, ShrinkGuard, discard_staging, publish, same_names, staging_url
from job_helpers.storage import Storage, join

if TYPE_CHECKING:  # the tasks import this module; they need no job arguments
    from job_helpers.embrace.parameters import Parameters

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


def publish_outputs(
    storage: Storage,
    params: Parameters,
    run_id: str,
    exports: Sequence[str],
    staged: Mapping[str, Mapping[str, set[str]]],
    built: Mapping[str, Mapping[str, pa.Table]],
    refused: Mapping[str, Sequence[RefusedMember]],
    clean_rows: int,
) -> tuple[Counter[str], list[Published]]:
    """Publish every staged output of ``exports``; returns the rows written to each small table, and what each publish did.

    ``staged`` holds, per output the tasks write, the files they staged by folder; ``built`` the
    small tables (see ``tables``) by output and folder; ``clean_rows`` the rows the tasks cleaned.
    """
    streams = params.selection.streams
    refusals = _stage_refused(storage, params.outputs["rejects"], run_id, refused)
    done: list[Published] = []
    for name in FROM_TASKS:
        files: dict[str, set[str]] = defaultdict(set, {folder: set(names) for folder, names in staged[name].items()})
        if name == "rejects":
            for folder, file in refusals.items():
                files[folder].add(file)
        owned = owned_folders(name, exports, streams)
        if name == "clean":
            guard = ShrinkGuard(params.allow_shrink, params.max_row_loss)
            done.append(
                publish(
                    storage,
                    params.outputs[name],
                    run_id,
                    same_names(files),
                    owned,
                    shrink_guard=guard,
                    count_rows=parquet_rows,
                    expected_rows=clean_rows,
                )
            )
        else:
            done.append(publish(storage, params.outputs[name], run_id, same_names(files), owned))
    written: Counter[str] = Counter()
    for name, by_folder in built.items():
        written[name], published = _publish_small(
            storage, params.outputs[name], run_id, by_folder, owned_folders(name, exports, streams)
        )
        done.append(published)
    return written, done


def write_load_counts(
    storage: Storage,
    load_counts_url: str,
    exports: Sequence[str],
    streams: Sequence[str],
    per_day: Mapping[tuple[str, str, str], DayCounts],
) -> None:
    """``<export>/<stream>.json``: the clean rows per day, which ``timestream-load`` plans its loads from."""
    for export in exports:
        for stream in streams:
            rows = {
                day: counts.clean
                for (e, s, day), counts in sorted(per_day.items())
                if e == export and s == stream and counts.clean
            }
            storage.write_text(join(load_counts_url, export, f"{stream}.json"), json.dumps(rows, sort_keys=True) + "\n")
            # The counts of the former export=/stream= layout would plan loads of folders no longer written.
            storage.delete(join(load_counts_url, f"export={export}", f"stream={stream}.json"))


def discard_run_staging(storage: Storage, params: Parameters, run_id: str) -> None:
    """Remove what the run left under the staging folders of its outputs, published or not."""
    for name in STAGED:
        discard_staging(storage, params.outputs[name], run_id)


def _stage_refused(
    storage: Storage, rejects_url: str, run_id: str, refused: Mapping[str, Iterable[RefusedMember]]
) -> dict[str, str]:
    """Stage one rejects file per export and stream of the members refused for their paths; returns folder -> name."""
    name = "part-refused-members.json"
    lines: dict[str, list[str]] = defaultdict(list)
    for export, members in refused.items():
        for member in members:
            if member.kind == "metadata":
                continue
            folder = partition_folder([(EXPORT, export), (STREAM, member.kind)])
            record = {"ppt_id": None, "dev_id": None, "file": member.name, "line": None, "reason": member.reason, "record": None}
            lines[folder].append(json.dumps(record, sort_keys=True))
    for folder, found in lines.items():
        storage.write_text(join(staging_url(rejects_url, run_id), folder + name), "\n".join(found) + "\n")
    return {folder: name for folder in lines}


def _publish_small(
    storage: Storage, url: str, run_id: str, by_folder: Mapping[str, pa.Table], owned: list[str]
) -> tuple[int, Published]:
    """Write one Parquet file per partition aside, publish them; returns the rows written and the publish."""
    name = "part-00000.parquet"
    for folder, table in by_folder.items():
        write_parquet(storage, join(staging_url(url, run_id), folder + name), table)
    files = {folder + name: NewFile(folder + name, table.num_rows) for folder, table in by_folder.items()}
    published = publish(storage, url, run_id, files, owned, count_rows=parquet_rows)
    return sum(table.num_rows for table in by_folder.values()), published


def _repeated(text: str, rows: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(np.zeros(rows, dtype=np.int32), pa.array([text])).cast(pa.string())
