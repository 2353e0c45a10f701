"""Writing a run's outputs: the files tasks write aside, then the driver's publishes of them.

Tasks write each device-day's clean Parquet, held rows and batch-load CSVs under the staging
folders of the run. Once every task is done, the driver publishes (see ``job_helpers.publish``)
the clean and held files first, in one claim of their day folders that refuses a device-day
another run changed since the tasks read it (``recomputed``), counted against the rows the tasks
wrote and under the row guard, so a shrink it refuses, a count that does not add up or a day
another run changed publishes nothing. Then what derives from the device-days still this run's
(batch-load files with their row counts, the month partitions of the small tables, the devices
table) and the rejects of the archives that succeeded. Where each output's folders are is in
``outputs``.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pyarrow import csv

from job_helpers.commit_record import Record, folder_of, read_record, scope
from job_helpers.embrace.archives import MEASURES, STREAMS
from job_helpers.embrace.members import RefusedMember
from job_helpers.embrace.outputs import STAGED, file_stem, former_folders, load_folder, rejects_folder
from job_helpers.embrace.published import DEV_ID, PPT_ID, RUN
from job_helpers.file_rows import parquet_rows
from job_helpers.publish import (
    NewFile,
    Published,
    PublishError,
    ShrinkGuard,
    discard_staging,
    open_claims,
    publish,
    same_names,
    staging_url,
)
from job_helpers.storage import Storage, WriteConflict, join

if TYPE_CHECKING:  # the tasks import this module; they need no job arguments
    from job_helpers.embrace.parameters import Parameters
    from job_helpers.embrace.recomputed import Recomputed
    from job_helpers.embrace.tables import TableBuild

log = logging.getLogger(__name__)

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
REPEATED_COLUMNS = ("ppt_id", "dev_id", "exports")
SLICE_SCHEMA = CLEAN_SCHEMA.remove(CLEAN_SCHEMA.get_field_index("exports"))
PART = "part-00000.parquet"
REBUILDS = 10  # builds of one publish lost to other runs' publishes of its scopes before a run gives up


class CleanDayFile:
    """One device-day of clean readings as Parquet, written a row group at a time as its slices come.

    Row groups hold ``CLEAN_SLICE_ROWS`` rows (the last one the rest), however the rows arrive; the
    file is written in ``scratch`` and published at ``url`` when closed. ``holders`` says, per reading
    and export (``exports``), which exports hold the reading.
    """

    def __init__(
        self, storage: Storage, url: str, scratch: Path, ids: tuple[str, str], stream: str, exports: Sequence[str]
    ) -> None:
        self._storage, self._url, self._path = storage, url, scratch / "clean.parquet"
        self._ids, self._stream, self._exports = ids, stream, exports
        self._writer: pq.ParquetWriter | None = None
        self._pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._rows = 0

    def add(self, ts: np.ndarray, values: np.ndarray, holders: np.ndarray) -> None:
        self._pending.append((ts, values, holders))
        self._rows += len(ts)
        if self._rows >= CLEAN_SLICE_ROWS:
            ts, values, holders = (np.concatenate([piece[i] for piece in self._pending]) for i in range(3))
            whole = len(ts) - len(ts) % CLEAN_SLICE_ROWS
            for start in range(0, whole, CLEAN_SLICE_ROWS):
                end = start + CLEAN_SLICE_ROWS
                self._write(ts[start:end], values[start:end], holders[start:end])
            self._pending = [(ts[whole:], values[whole:], holders[whole:])]
            self._rows = len(ts) - whole

    def close(self) -> None:
        """Write the rows left and publish the file (nothing when no row came)."""
        if self._rows:
            self._write(*(np.concatenate([piece[i] for piece in self._pending]) for i in range(3)))
        if self._writer is None:
            return
        self._writer.close()
        self._storage.upload(self._path, self._url)
        self._path.unlink()

    def _write(self, ts: np.ndarray, values: np.ndarray, holders: np.ndarray) -> None:
        # Each distinct set of exports once; a day one export holds alone has one set for every reading.
        sets, which = (
            (np.ones((1, 1), dtype=bool), np.zeros(len(ts), np.int32))
            if holders.shape[1] == 1
            else np.unique(holders, axis=0, return_inverse=True)
        )
        names = pa.array([sorted(self._exports[i] for i in np.flatnonzero(row)) for row in sets], pa.list_(pa.string()))
        piece = _clean_slice(*self._ids, self._stream, ts, values, 0, len(ts))
        if self._writer is None:
            # Dictionaries for the columns that repeat; times and measures are nearly all distinct, and a
            # dictionary of them costs about 30 MB per row group before the writer gives it up.
            self._writer = pq.ParquetWriter(self._path, CLEAN_SCHEMA, use_dictionary=list(REPEATED_COLUMNS))
        self._writer.write_table(piece.append_column("exports", names.take(pa.array(which.reshape(-1)))))


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


class TimestreamFiles:
    """The batch-load CSV files of one device-day, each within ``max_bytes``, written as its slices come.

    Files are ``<stem>-NNNN.csv`` in ``folder_url``, each written in ``scratch`` and published when
    full or closed; ``written`` holds their names and rows.
    """

    def __init__(
        self, storage: Storage, folder_url: str, scratch: Path, stem: str, ids: tuple[str, str], stream: str, max_bytes: int
    ) -> None:
        self._storage, self._folder, self._scratch, self._stem = storage, folder_url, scratch, stem
        self._ids, self._stream = ids, stream
        self._limit = rows_per_file(stream, sum(len(text.encode()) for text in ids), max_bytes)
        self._header = (",".join(timestream_columns(stream)) + "\n").encode()
        self._columns = ["time_ms", "ppt_id", "dev_id", *MEASURES[stream]]
        self._sink: pa.NativeFile | None = None
        self._rows = 0
        self.written: dict[str, int] = {}

    def add(self, ts: np.ndarray, values: np.ndarray) -> None:
        options = csv.WriteOptions(include_header=False, quoting_style="none")
        start = 0
        while start < len(ts):
            if self._sink is None:
                # pyarrow quotes header names whatever the quoting style, so the header is written here.
                self._sink = pa.OSFile(str(self._scratch / "batch-load.csv"), "wb")
                self._sink.write(self._header)
            end = min(len(ts), start + self._limit - self._rows, start + SLICE_ROWS)
            piece = _clean_slice(*self._ids, self._stream, ts, values, start, end)
            csv.write_csv(piece.select(self._columns), self._sink, options)
            self._rows += end - start
            start = end
            if self._rows == self._limit:
                self.close()

    def close(self) -> None:
        """Publish the file being written, if any."""
        if self._sink is None:
            return
        self._sink.close()
        name = f"{self._stem}-{len(self.written):04d}.csv"
        self._storage.upload(self._scratch / "batch-load.csv", join(self._folder, name))
        self.written[name] = self._rows
        self._sink, self._rows = None, 0


def write_parquet(storage: Storage, url: str, table: pa.Table) -> None:
    storage.write_with(url, lambda path: pq.write_table(table, path))


def publish_clean(
    storage: Storage,
    params: Parameters,
    run_id: str,
    exports: Sequence[str],
    recomputed: Recomputed,
    staged: Mapping[str, set[str]],
    expected_rows: int,
) -> Published:
    """Publish the clean and held files of the recomputed device-days, in one claim of their day folders.

    The claim of each day refuses (``Changed``, nothing changed) when a device-day's files are no
    longer what the run's tasks read; the files of other devices in the day stay as they are. The
    rows of the staged files (footers) must be ``expected_rows``, and the row guard holds. The
    folders ``exports`` had in the layouts partitioned by export are cleared.
    """
    url = params.outputs["clean"]
    files = {
        path: NewFile(
            path, extra={RUN: run_id, PPT_ID: recomputed.device_day[path].ppt_id, DEV_ID: recomputed.device_day[path].dev_id}
        )
        for path in _paths(staged)
    }
    former = former_folders("clean", exports, params.selection.streams)
    left = [prefix for prefix in recomputed.left_scopes(storage) if prefix not in former]
    return publish(
        storage,
        url,
        run_id,
        files,
        recomputed.scopes() + former + left,
        shrink_guard=ShrinkGuard(params.allow_shrink, params.max_row_loss),
        count_rows=parquet_rows,
        expected_rows=expected_rows,
        check=recomputed.check(storage),
        keep=recomputed.keeps,
    )


def publish_derived(
    storage: Storage,
    params: Parameters,
    run_id: str,
    exports: Sequence[str],
    recomputed: Recomputed,
    staged: Mapping[str, Mapping[str, set[str]]],
    csv_rows: Mapping[str, int],
    small: Mapping[str, TableBuild],
    refused: Mapping[str, Sequence[RefusedMember]],
) -> tuple[Counter[str], list[Published]]:
    """Publish what derives from the recomputed device-days still this run's, the rejects of ``exports``
    and the small tables; returns the rows of each small table and what each publish did.

    ``staged`` holds the batch-load and rejects files the tasks staged by folder, ``csv_rows`` the
    rows of each batch-load file, ``small`` the small tables to build (see ``tables``). Each scope
    is built from what it held when read, with the device-days still this run's (``Recomputed.owned``,
    asked after the scopes' records were read); a scope another run published meanwhile is read and
    built again (``ScopeMoved``), so rows of device-days another run recomputed since are never
    written over with this run's.
    """
    streams = params.selection.streams
    done = [_publish_timestream(storage, params, run_id, exports, recomputed, staged["timestream_ready"], csv_rows)]
    refusals = _stage_refused(storage, params.outputs["rejects"], run_id, refused)
    rejects: dict[str, set[str]] = defaultdict(set, {folder: set(names) for folder, names in staged["rejects"].items()})
    for folder, file in refusals.items():
        rejects[folder].add(file)
    owned = [rejects_folder(export, stream) for export in exports for stream in streams]
    done.append(publish(storage, params.outputs["rejects"], run_id, same_names(rejects), owned))
    written: Counter[str] = Counter()
    for name, table in small.items():
        url = params.outputs[name]
        # The devices table is one scope, the whole table: its first publish clears the former export= folders.
        scopes = table.folders + ([] if name == "devices" else former_folders(name, exports, streams))

        def plan(url: str = url, table: TableBuild = table, scopes: list[str] = scopes) -> Plan:
            versions = _versions(storage, url, scopes)
            files = _stage_tables(storage, url, run_id, table.build(storage, recomputed.owned(storage)))
            return Plan(files, scopes, versions)

        published = _publish_planned(storage, url, run_id, plan, count_rows=parquet_rows)
        written[name] = published.rows_after or 0
        done.append(published)
    return written, done


@dataclass
class Plan:
    """A publish built from what its scopes held when read: the files, the scopes, each scope's record
    version as read, and which files of the scopes it keeps."""

    files: dict[str, NewFile]
    scopes: list[str]
    versions: dict[str, str | None]
    keep: Callable[[str], bool] | None = None

    def unchanged(self, record: Record) -> None:
        if record.scope in self.versions and record.version != self.versions[record.scope]:
            raise ScopeMoved(f"{record.scope or 'the whole table'}: published by run {record.run} since this run read it")


class ScopeMoved(PublishError):
    """A scope another run published after this run read it to build its files; they are built again."""


def _versions(storage: Storage, url: str, scopes: Iterable[str]) -> dict[str, str | None]:
    return {folder_of(prefix): read_record(storage, scope(url, prefix)).version for prefix in scopes}


def _publish_planned(storage: Storage, url: str, run_id: str, plan: Callable[[], Plan], **options) -> Published:
    """Build and publish, building again while other runs publish a scope between the two."""
    last = ""
    for _ in range(REBUILDS):
        built = plan()
        try:
            return publish(storage, url, run_id, built.files, built.scopes, check=built.unchanged, keep=built.keep, **options)
        except ScopeMoved as moved:
            last = str(moved)
            log.info("%s%s; building it again", url, last)
    raise PublishError(f"{url}{last}, {REBUILDS} times over; nothing was changed. Rerun once the other runs have ended")


def _publish_timestream(
    storage: Storage,
    params: Parameters,
    run_id: str,
    exports: Sequence[str],
    recomputed: Recomputed,
    staged: Mapping[str, set[str]],
    csv_rows: Mapping[str, int],
) -> Published:
    """The batch-load files of the device-days still this run's, per stream-day folder; then the row
    counts of each folder, from its commit record, for ``timestream-load``."""
    url = params.outputs["timestream_ready"]
    days = sorted({(d.stream, d.day) for d in recomputed.device_days})
    scopes = [load_folder(stream, day) for stream, day in days]
    former = former_folders("timestream_ready", exports, params.selection.streams)
    by_stem = {(d.stream, d.day, file_stem(d.ppt_id, d.dev_id)): d for d in recomputed.device_days}

    def plan() -> Plan:
        versions = _versions(storage, url, scopes + former)
        mine = recomputed.owned(storage)
        decided = tuple(load_folder(d.stream, d.day) + file_stem(d.ppt_id, d.dev_id) + "-" for d in mine)
        files = {}
        for path in _paths(staged):
            stream, day, name = path.split("/")
            device_day = by_stem[(stream, day, name.rsplit("-", 1)[0])]
            if device_day in mine:
                extra = {RUN: run_id, PPT_ID: device_day.ppt_id, DEV_ID: device_day.dev_id}
                files[path] = NewFile(path, csv_rows[path], extra)

        def keep(path: str) -> bool:
            """Another device's files of a stream-day folder (not the former layouts' deeper folders)."""
            return path.count("/") == 2 and not path.startswith(decided)

        return Plan(files, scopes + former, versions, keep)

    published = _publish_planned(storage, url, run_id, plan)
    for stream, day in days:
        _write_load_counts(storage, params.outputs["load_counts"], url, stream, day)
    for export in exports:
        storage.delete_prefix(join(params.outputs["load_counts"], export) + "/")
        storage.delete_prefix(join(params.outputs["load_counts"], f"export={export}") + "/")
    return published


def _write_load_counts(storage: Storage, load_counts_url: str, ready_url: str, stream: str, day: str) -> None:
    """``<stream>/<date>.json``: the rows of each device's batch-load files of the day (``<ppt_id>/<dev_id>``),
    as the folder's commit record lists them, written only over the version read before the record."""
    url = join(load_counts_url, load_folder(stream), f"{day}.json")
    for _ in range(REBUILDS):
        stored = storage.read_versioned(url)
        record = read_record(storage, scope(ready_url, load_folder(stream, day)))
        counts: Counter[str] = Counter()
        for entry in record.files.values():
            if PPT_ID in entry.extra and DEV_ID in entry.extra and entry.rows:
                counts[f"{entry.extra[PPT_ID]}/{entry.extra[DEV_ID]}"] += entry.rows
        text = json.dumps(dict(sorted(counts.items()))) + "\n"
        if stored is not None and stored.data == text.encode():
            return
        try:
            storage.write_if(url, text.encode(), stored.version if stored else None)
            return
        except WriteConflict:
            continue
    raise PublishError(f"{url}: changed {REBUILDS} times while this run wrote it; rerun once the other runs have ended")


def discard_run_staging(storage: Storage, params: Parameters, run_id: str) -> None:
    """Remove what the run left under the staging folders of its outputs, published or not, but where it
    left claims open (a publish that stopped part way): the next run of those scopes reads the files
    still to move from there, and removes them when it takes the claims over."""
    for name in STAGED:
        url = params.outputs[name]
        if any(claim.run == run_id for claim in open_claims(storage, url)):
            log.warning("%s: this run left claims open; its staged files stay for the run that repairs them", url)
            continue
        discard_staging(storage, url, run_id)


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


def _stage_tables(storage: Storage, url: str, run_id: str, tables: Mapping[str, pa.Table]) -> dict[str, NewFile]:
    """Write one Parquet file per partition that has rows aside; returns them as the publish's files."""
    files = {}
    for folder, table in tables.items():
        if table.num_rows:
            path = folder + PART
            write_parquet(storage, join(staging_url(url, run_id), path), table)
            files[path] = NewFile(path, table.num_rows)
    return files


def _paths(staged: Mapping[str, Iterable[str]]) -> list[str]:
    return sorted(folder + name for folder, names in staged.items() for name in names)


def _repeated(text: str, rows: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(np.zeros(rows, dtype=np.int32), pa.array([text])).cast(pa.string())
