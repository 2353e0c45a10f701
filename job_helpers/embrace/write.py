"""Writing a run's outputs: the files tasks write aside, then the driver's publish of all of them.

Tasks write each device-day's clean Parquet, held rows and batch-load CSVs under the staging
folders of the run. Once every task is done, the driver stages the small tables and the refused
members, then publishes every output (see ``job_helpers.publish``), replacing the device-days it
recomputed, the rejects of the archives that succeeded, the month partitions it rewrote and the
devices table: clean goes first, so a shrink it refuses publishes nothing. The exports' manifests
and the row counts beside the batch-load files are written in place. Where each output's folders
are is in ``outputs``.
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

from job_helpers.embrace.archives import MEASURES, STREAMS
from job_helpers.embrace.members import RefusedMember
from job_helpers.embrace.outputs import (
    FROM_TASKS,
    HELD,
    STAGED,
    day_folder,
    file_stem,
    former_folders,
    held_url,
    load_folder,
    rejects_folder,
)
from job_helpers.embrace.published import DeviceDay
from job_helpers.publish import ShrinkGuard, discard_staging, publish, staging_url
from job_helpers.storage import Storage, StorageError, join

if TYPE_CHECKING:  # the tasks import this module; they need no job arguments
    from job_helpers.embrace.parameters import Parameters

# Rows converted to Arrow at a time when writing, which bounds a writer's memory. A clean file's
# slices (its row groups) are smaller: their exports column repeats the export names in every row.
SLICE_ROWS = 1 << 20
CLEAN_SLICE_ROWS = 1 << 18
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
        ("exports", pa.list_(pa.string())),
    ]
)
SLICE_SCHEMA = CLEAN_SCHEMA.remove(CLEAN_SCHEMA.get_field_index("exports"))


def write_clean_day(
    storage: Storage,
    url: str,
    ppt_id: str,
    dev_id: str,
    stream: str,
    ts: np.ndarray,
    values: np.ndarray,
    holders: np.ndarray,
    exports: Sequence[str],
) -> None:
    """One device-day of clean readings as Parquet, built and written a slice at a time.

    ``holders`` says, per reading and export (``exports``), which exports hold the reading.
    """
    # Each distinct set of exports once; a day one export holds alone has one set for every reading.
    sets, which = (
        (np.ones((1, 1), dtype=bool), None) if holders.shape[1] == 1 else np.unique(holders, axis=0, return_inverse=True)
    )
    names = pa.array([sorted(exports[i] for i in np.flatnonzero(row)) for row in sets], pa.list_(pa.string()))

    def write(path: Path) -> None:
        with pq.ParquetWriter(path, CLEAN_SCHEMA) as writer:
            for start in range(0, len(ts), CLEAN_SLICE_ROWS):
                piece = _clean_slice(ppt_id, dev_id, stream, ts, values, start, start + CLEAN_SLICE_ROWS)
                chosen = (
                    np.zeros(piece.num_rows, np.int32) if which is None else which.reshape(-1)[start : start + CLEAN_SLICE_ROWS]
                )
                writer.write_table(piece.append_column("exports", names.take(pa.array(chosen))))

    storage.write_with(url, write)


def _clean_slice(ppt_id: str, dev_id: str, stream: str, ts: np.ndarray, values: np.ndarray, start: int, end: int) -> pa.Table:
    """Rows ``start:end`` with every measure column (null where the stream has no such measure), without ``exports``."""
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
    return pa.Table.from_arrays(columns, schema=SLICE_SCHEMA)


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
    recomputed: Iterable[DeviceDay],
    staged: Mapping[str, Mapping[str, set[str]]],
    built: Mapping[str, Mapping[str, pa.Table]],
    refused: Mapping[str, Sequence[RefusedMember]],
) -> Counter[str]:
    """Publish the ``recomputed`` device-days, the rejects of ``exports`` and the small tables; returns the rows of each small table.

    ``staged`` holds, per output the tasks write (and the held rows), the files they staged by
    folder; ``built`` the small tables (see ``tables``) by output and folder. Each output also
    clears the folders ``exports`` had in the layouts partitioned by export.
    """
    streams = params.selection.streams
    refusals = _stage_refused(storage, params.outputs["rejects"], run_id, refused)
    stems = sorted({(d.stream, d.day, file_stem(d.ppt_id, d.dev_id)) for d in recomputed})
    device_days = [day_folder(stream, day) + f"{stem}.parquet" for stream, day, stem in stems]
    owned = {
        "clean": device_days + former_folders("clean", exports, streams),
        HELD: device_days,
        "timestream_ready": [load_folder(stream, day) + f"{stem}-" for stream, day, stem in stems]
        + former_folders("timestream_ready", exports, streams),
        "rejects": [rejects_folder(export, stream) for export in exports for stream in streams],
    }
    for name in (*FROM_TASKS, HELD):
        files: dict[str, set[str]] = defaultdict(set, {folder: set(names) for folder, names in staged[name].items()})
        if name == "rejects":
            for folder, file in refusals.items():
                files[folder].add(file)
        guard = ShrinkGuard(allowed=params.allow_shrink) if name == "clean" else None
        url = held_url(params.outputs["clean"]) if name == HELD else params.outputs[name]
        publish(storage, url, run_id, files, owned[name], shrink_guard=guard)
    written: Counter[str] = Counter()
    for name, by_folder in built.items():
        folders = ["part-"] if name == "devices" else list(by_folder)
        written[name] = _publish_small(
            storage, params.outputs[name], run_id, by_folder, folders + former_folders(name, exports, streams)
        )
    return written


def write_load_counts(storage: Storage, load_counts_url: str, exports: Sequence[str], rows: Mapping[DeviceDay, int]) -> None:
    """``<stream>/<date>.json``: the clean rows of each device (``<ppt_id>/<dev_id>``), which ``timestream-load`` plans from.

    Only the devices of ``rows`` change (0 removes one); the counts of ``exports`` in the layouts
    partitioned by export go, since they would plan loads of folders no longer written.
    """
    by_day: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for device_day, count in rows.items():
        by_day[(device_day.stream, device_day.day)][f"{device_day.ppt_id}/{device_day.dev_id}"] = count
    for (stream, day), changed in sorted(by_day.items()):
        url = join(load_counts_url, load_folder(stream), f"{day}.json")
        try:
            counts = json.loads(storage.read_text(url))
        except StorageError:
            counts = {}
        counts.update(changed)
        counts = {device: count for device, count in counts.items() if count}
        if counts:
            storage.write_text(url, json.dumps(counts, sort_keys=True) + "\n")
        else:
            storage.delete(url)
    for export in exports:
        storage.delete_prefix(join(load_counts_url, export) + "/")
        storage.delete_prefix(join(load_counts_url, f"export={export}") + "/")


def discard_run_staging(storage: Storage, params: Parameters, run_id: str) -> None:
    """Remove what the run left under the staging folders of its outputs, published or not."""
    for name in STAGED:
        discard_staging(storage, params.outputs[name], run_id)
    discard_staging(storage, held_url(params.outputs["clean"]), run_id)


def _stage_refused(
    storage: Storage, rejects_url: str, run_id: str, refused: Mapping[str, Iterable[RefusedMember]]
) -> dict[str, str]:
    """Stage one rejects file per export and stream of the members refused (paths, limits, content); returns folder -> name."""
    name = "part-refused-members.json"
    lines: dict[str, list[str]] = defaultdict(list)
    for export, members in refused.items():
        for member in members:
            if member.kind not in STREAMS:
                continue
            folder = rejects_folder(export, member.kind)
            record = {"ppt_id": None, "dev_id": None, "file": member.name, "line": None, "reason": member.reason, "record": None}
            lines[folder].append(json.dumps(record, sort_keys=True))
    for folder, found in lines.items():
        storage.write_text(join(staging_url(rejects_url, run_id), folder + name), "\n".join(found) + "\n")
    return {folder: name for folder in lines}


def _publish_small(storage: Storage, url: str, run_id: str, by_folder: Mapping[str, pa.Table], owned: list[str]) -> int:
    """Write one Parquet file per partition that has rows aside, publish them over ``owned``; returns the rows written."""
    name = "part-00000.parquet"
    filled = {folder: table for folder, table in by_folder.items() if table.num_rows}
    for folder, table in filled.items():
        write_parquet(storage, join(staging_url(url, run_id), folder + name), table)
    publish(storage, url, run_id, {folder: {name} for folder in filled}, owned)
    return sum(table.num_rows for table in filled.values())


def _repeated(text: str, rows: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(np.zeros(rows, dtype=np.int32), pa.array([text])).cast(pa.string())
