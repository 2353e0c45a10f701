"""What earlier runs published for a device-day, read back as the rows of the exports that hold it.

A clean file holds one row per reading and, per reading, the exports holding it; the held file
(``outputs.held_folder``) holds the rows no reading stands for. Together they are every row of
every export in the device-day, so a run can take out the rows of the exports it reads again and
apply the rules to what is left and to the new rows: a re-export adds no second copy, a rerun
gives the same day, and the order in which exports arrive does not matter.

The files are read as the day's commit records list them (``job_helpers.commit_record``; a day
folder and its held folder are two scopes of the clean table, published together), and what a
task saw of each file (``seen``) goes back to the driver, whose claim of the day refuses to publish
over a device-day another run has published since (``device_days``). A day another run is
publishing holds that run's files: those it had not moved yet are read from its staging folder,
and a day it left with nothing moved is read as it was (``DayRecords.version_of``).

Each export's manifest (``outputs.EXPORTS``) lists the device-days it holds rows of, so that a
run reading an export again also revisits the days the export no longer holds. Manifests change
by conditional writes, so two runs of one export each add to what the other wrote.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from job_helpers.commit_record import PUBLISHING, Record, read_record, scope
from job_helpers.embrace.archives import MEASURES
from job_helpers.embrace.outputs import day_folder, held_folder, manifest_url
from job_helpers.embrace.transform import Claims
from job_helpers.publish import PublishError, staging_url
from job_helpers.storage import Storage, StorageError, WriteConflict, join

HELD_COLUMNS = ("time_ms", "missing", "export", "copies")
RUN, PPT_ID, DEV_ID = "run", "ppt_id", "dev_id"  # what a device-day file's entry in its record keeps besides bytes and rows
MANIFEST_CONFLICTS = 20

Seen = tuple
"""What a task saw of one file of a device-day, compared again when its run claims the day (see ``seen``)."""


class TornDay(PublishError):
    """A device-day left half-replaced by a run that stopped, whose staged files are gone: it cannot be read."""


@dataclass(frozen=True)
class DeviceDay:
    """A device-day as manifests list it."""

    stream: str
    day: str
    ppt_id: str
    dev_id: str

    def row(self) -> list[str]:
        return [self.stream, self.day, self.ppt_id, self.dev_id]


def seen(record: Record, path: str, run_id: str) -> Seen:
    """One file of a device-day as ``record`` has it, for a claim to compare: its entry (bytes, rows,
    the run that wrote it) or none; while another run publishes the day, that claim, since whatever
    that run commits differs from what was read before."""
    if record.state == PUBLISHING and record.run != run_id:
        return ("publishing", record.run, record.claimed_at)
    entry = record.files.get(path)
    return ("file", entry.bytes, entry.rows, entry.extra.get(RUN)) if entry else ("none",)


@dataclass(frozen=True)
class DayRecords:
    """The commit records of a stream's day in the clean table: the clean files' and the held files'."""

    clean: Record
    held: Record

    @classmethod
    def read(cls, storage: Storage, clean_url: str, stream: str, day: str) -> DayRecords:
        return cls(
            read_record(storage, scope(clean_url, day_folder(stream, day))),
            read_record(storage, scope(clean_url, held_folder(stream, day))),
        )


class Names:
    """The export names of one device-day and their numbers in ``Claims.export``, in order of arrival."""

    def __init__(self, first: Iterable[str] = ()) -> None:
        self.names: list[str] = []
        self._index: dict[str, int] = {}
        for name in first:
            self.number(name)

    def number(self, name: str) -> int:
        if name not in self._index:
            self._index[name] = len(self.names)
            self.names.append(name)
        return self._index[name]

    def numbers(self, names: pa.Array) -> np.ndarray:
        for name in pc.unique(names).to_pylist():
            self.number(name)
        return pc.index_in(names, value_set=pa.array(self.names, pa.string())).to_numpy(zero_copy_only=False).astype(np.int32)


@dataclass
class PublishedDay:
    """A device-day's published rows (but those of the exports read again) and what was seen of its two files."""

    claims: Claims
    clean: Seen
    held: Seen


def published_claims(
    storage: Storage,
    clean_url: str,
    records: DayRecords,
    stream: str,
    day: str,
    stem: str,
    names: Names,
    replaced: frozenset[str],
    run_id: str,
) -> PublishedDay:
    """The rows of the device-day's published files, but those of the ``replaced`` exports."""
    width = len(MEASURES[stream])
    name = f"{stem}.parquet"
    clean_path, held_path = day_folder(stream, day) + name, held_folder(stream, day) + name
    clean_file, held_file = _published_files(storage, clean_url, records, (clean_path, held_path))
    parts = []
    clean, clean_seen = _read(storage, clean_file, ["time_ms", *MEASURES[stream], "exports"], records.clean, clean_path, run_id)
    if clean is not None and clean.num_rows:
        holders = clean.column("exports").combine_chunks()
        lengths = pc.list_value_length(holders).to_numpy(zero_copy_only=False)
        flat = pc.list_flatten(holders)
        row = np.repeat(np.arange(clean.num_rows), lengths)
        gone = pc.is_in(flat, value_set=pa.array(sorted(replaced), pa.string())).to_numpy(zero_copy_only=False)
        keep = ~gone.astype(bool)
        row = row[keep]
        ts = clean.column("time_ms").to_numpy()[row]
        values = np.column_stack([clean.column(m).to_numpy() for m in MEASURES[stream]])[row]
        parts.append(Claims(ts, values, np.zeros(len(row), bool), names.numbers(flat.filter(pa.array(keep)))))
    held, held_seen = _read(storage, held_file, [*HELD_COLUMNS, *MEASURES[stream]], records.held, held_path, run_id)
    if held is not None and held.num_rows:
        if replaced:
            held = held.filter(pc.invert(pc.is_in(held.column("export"), value_set=pa.array(sorted(replaced)))))
        parts.append(
            Claims(
                held.column("time_ms").to_numpy(),
                np.column_stack([held.column(m).to_numpy() for m in MEASURES[stream]]).reshape(-1, width),
                held.column("missing").to_numpy(zero_copy_only=False),
                names.numbers(held.column("export").combine_chunks()),
                held.column("copies").to_numpy(),
            )
        )
    return PublishedDay(Claims.concat(parts, width), clean_seen, held_seen)


def _published_files(
    storage: Storage, clean_url: str, records: DayRecords, paths: tuple[str, str]
) -> list[tuple[str, ...] | None]:
    """Where to read the device-day's clean and held files, as one version of the day (URLs to try in
    turn); None: no such file.

    A day a run is publishing (or left publishing when it stopped) holds, per file, that run's bytes
    or the earlier ones: the run's version is read (files it had not moved yet from its staging
    folder), or the earlier one when that run moved none of them; a day that can be read as neither
    raises ``TornDay``.
    """
    pairs = list(zip((records.clean, records.held), paths))
    if all(record.state != PUBLISHING for record, _ in pairs):
        return [(join(clean_url, path),) if record.version is None or path in record.files else None for record, path in pairs]
    for version in (_as_published, _as_before):
        found = [version(storage, clean_url, record, path) for record, path in pairs]
        if all(urls is not False for urls in found):
            return [urls if isinstance(urls, tuple) else None for urls in found]
    record, path = next((record, path) for record, path in pairs if record.state == PUBLISHING)
    raise TornDay(
        f"{join(clean_url, path)}: run {record.run} stopped while replacing the files of this device-day, after moving "
        "some, and its staged copies are gone; restore the day's files from the bucket's versions, or delete them "
        "and rerun every export holding the device-day"
    )


def _as_published(storage: Storage, clean_url: str, record: Record, path: str) -> tuple[str, ...] | None | bool:
    """Where the file is as the publishing run leaves it (its staged copy, or in place once moved); False if nowhere."""
    entry = record.files.get(path)
    in_place = join(clean_url, path)
    if record.state != PUBLISHING or entry is None or entry.extra.get(RUN) != record.run:
        return None if entry is None else (in_place,)
    staged = staging_url(clean_url, record.run) + path
    if storage.exists(staged):
        return (staged, in_place)
    return (in_place,) if _size(storage, in_place) == entry.bytes else False


def _as_before(storage: Storage, clean_url: str, record: Record, path: str) -> tuple[str, ...] | None | bool:
    """Where the file is as the scope held it before the publishing run; False if those bytes are gone."""
    in_place = join(clean_url, path)
    if record.state != PUBLISHING:
        return (in_place,) if path in record.files else None
    entry = record.previous.get(path)
    size = _size(storage, in_place)
    if entry is None:
        return None if size is None else False
    return (in_place,) if size == entry.bytes else False


def _size(storage: Storage, url: str) -> int | None:
    try:
        with storage.open(url) as handle:
            return handle.seek(0, 2)
    except StorageError:
        return None


def _read(
    storage: Storage, urls: tuple[str, ...] | None, columns: list[str], record: Record, path: str, run_id: str
) -> tuple[pa.Table | None, Seen]:
    """The file's columns from the first of ``urls`` still there (None: no file), and what was seen of
    it: for a day without a commit record (a folder written before records), the file as a claim lists it."""
    for url in urls or ():
        try:
            with storage.open(url) as handle:
                size = handle.seek(0, 2)
                handle.seek(0)
                table = pq.read_table(handle, columns=columns)
        except StorageError:
            continue  # a staged copy moved in place meanwhile: the next URL is where it went
        if record.version is None:
            return table, ("file", size, table.num_rows, None)
        return table, seen(record, path, run_id)
    if urls and record.version is not None:
        raise PublishError(
            f"{urls[-1]}: listed in its day's commit record ({record.scope}) but missing; restore it from the "
            "bucket's versions, or delete the day's files and rerun every export holding it"
        )
    return None, seen(record, path, run_id) if record.version is not None else ("none",)


def held_table(stream: str, held: Claims, names: Sequence[str]) -> pa.Table:
    """The held rows of a device-day as written: time, missing flag, export, copies and the stream's measures."""
    export_names = pa.DictionaryArray.from_arrays(pa.array(held.export, pa.int32()), pa.array(names, pa.string())).cast(
        pa.string()
    )
    columns = {
        "time_ms": pa.array(held.ts, pa.int64()),
        "missing": pa.array(held.missing, pa.bool_()),
        "export": export_names,
        "copies": pa.array(held.copies if held.copies is not None else np.ones(len(held), np.int64), pa.int64()),
    }
    for index, measure in enumerate(MEASURES[stream]):
        columns[measure] = pa.array(held.values[:, index], pa.float64())
    return pa.table(columns)


def read_manifest(storage: Storage, clean_url: str, export: str) -> list[DeviceDay]:
    """The device-days ``export`` held rows of when it was last published; none for an export never published."""
    stored = storage.read_versioned(manifest_url(clean_url, export))
    return _device_days(stored.data) if stored else []


def update_manifest(storage: Storage, clean_url: str, export: str, change: Callable[[set[DeviceDay]], set[DeviceDay]]) -> None:
    """Rewrite the export's manifest as ``change`` makes it from what it holds now, by a conditional write:
    a run that wrote it meanwhile has its change kept, and this one is applied again on top."""
    url = manifest_url(clean_url, export)
    for _ in range(MANIFEST_CONFLICTS):
        stored = storage.read_versioned(url)
        current = set(_device_days(stored.data)) if stored else set()
        wanted = change(current)
        if wanted == current and stored is not None:
            return
        rows = sorted(d.row() for d in wanted)
        try:
            storage.write_if(url, (json.dumps({"device_days": rows}) + "\n").encode(), stored.version if stored else None)
            return
        except WriteConflict:
            continue
    raise PublishError(
        f"{url}: changed {MANIFEST_CONFLICTS} times while this run updated it; rerun once the other runs have ended"
    )


def _device_days(data: bytes) -> list[DeviceDay]:
    return [DeviceDay(*row) for row in json.loads(data)["device_days"]]
