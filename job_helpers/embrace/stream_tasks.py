"""The work of one task: clean a device's stream from every export of the chunk and write it aside.

The driver deals the device streams out to tasks, largest first; a device stream holds that
device's members of that stream in every archive the chunk reads. A task streams each member out
of its zip (ranged GETs on S3, never unpacked to disk), parses it with pyarrow and sorts its rows
into UTC days. Then, day by day, it takes the rows already published for the device-day by the
exports it does not read again (``published``, as the day's commit records list them), applies the
rules to them and the new rows together (``transform.combine_day``), writes the day's clean Parquet,
held rows and batch-load CSVs under the staging folders, and returns the counts the driver needs for
the small tables and the report, with what it saw of each device-day's published files (the
driver's claim compares them again). An archive that cannot be read (bad zip, bad CRC, a header that
is not its stream's) comes back as an error naming it; the driver then reads the device stream again
without it.
"""

from __future__ import annotations

import json
import logging
import tempfile
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TextIO

import numpy as np

from job_helpers.embrace.archives import MEASURES
from job_helpers.embrace.day_buffer import SLICE_MS, DayBuffer, DayTooLarge
from job_helpers.embrace.day_output import DayOutput, DayTarget
from job_helpers.embrace.limits import DEFAULT_LIMITS, ArchiveLimits
from job_helpers.embrace.members import Entry, MemberGroup, RefusedMember
from job_helpers.embrace.outputs import FROM_TASKS, file_stem, rejects_folder
from job_helpers.embrace.published import DayRecords, DeviceDay, Names, Seen, published_claims
from job_helpers.embrace.transform import (
    DAY_MS,
    Claims,
    CompressedMember,
    DayCounts,
    HeaderMismatch,
    Reject,
    WearDay,
    combine_day,
    device_records,
    parse_stream,
)
from job_helpers.publish import PublishError, staging_url
from job_helpers.storage import Storage, join
from job_helpers.tasks import Tasks

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceStream:
    """One device's stream across the chunk's archives: its members (one group per archive) and the
    days to look at again because an export read again held rows of them before."""

    ppt_id: str
    dev_id: str
    kind: str
    parts: tuple[MemberGroup, ...]
    revisit: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return sum(part.size for part in self.parts)

    @property
    def exports(self) -> list[str]:
        return [part.archive.export for part in self.parts]

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.ppt_id, self.dev_id, self.kind)


@dataclass(frozen=True)
class Targets:
    """What a task needs besides its members: the run, its staging folder in each output the tasks
    write, the clean output (to read what is published), the exports whose published rows the run
    replaces, the batch-load file size limit and the limits on what it takes out of an archive."""

    run_id: str
    staging: Mapping[str, str]
    clean: str
    replaced: frozenset[str]
    max_csv_bytes: int
    limits: ArchiveLimits = DEFAULT_LIMITS

    @classmethod
    def of_run(
        cls,
        outputs: Mapping[str, str],
        run_id: str,
        replaced: Iterable[str],
        max_csv_bytes: int,
        limits: ArchiveLimits = DEFAULT_LIMITS,
    ) -> Targets:
        """The targets of run ``run_id`` given every output's URL."""
        staging = {name: staging_url(outputs[name], run_id) for name in FROM_TASKS}
        return cls(run_id, staging, outputs["clean"], frozenset(replaced), max_csv_bytes, limits)


@dataclass
class StreamResult:
    """What one device stream produced, for the driver's tables, manifests and report.

    ``errors`` names the archives that could not be read (export -> why); with any, nothing else
    here counts. ``problem`` says why a device-day's published files could not be read (nothing here
    counts either). ``read`` counts the rows parsed from this run's members, ``carried`` the rows of
    other exports read back from the published files, ``seen`` per day what the task saw of the
    device-day's published clean and held files. ``holders`` lists, per day, the exports holding
    rows of the device-day after this run, ``held_by`` the readings each holds; ``shared`` the rows
    two exports both hold; ``files`` per output the staged files by folder (the held files are the
    clean output's, under ``_held/``), ``held_rows`` the rows of the held files, ``csv_rows`` those of
    each batch-load file.
    """

    ppt_id: str
    dev_id: str
    kind: str
    errors: dict[str, str] = field(default_factory=dict)
    problem: str | None = None
    days: dict[str, DayCounts] = field(default_factory=dict)
    seen: dict[str, tuple[Seen, Seen]] = field(default_factory=dict)
    read: int = 0
    wear: dict[str, WearDay] = field(default_factory=dict)
    holders: dict[str, list[str]] = field(default_factory=dict)
    held_by: dict[str, dict[str, int]] = field(default_factory=dict)
    carried: int = 0
    held_rows: int = 0
    shared: Counter[tuple[str, str]] = field(default_factory=Counter)
    rejects: dict[str, int] = field(default_factory=dict)
    reasons: Counter[str] = field(default_factory=Counter)
    in_seconds: list[str] = field(default_factory=list)
    refused: list[tuple[str, RefusedMember]] = field(default_factory=list)
    files: dict[str, dict[str, set[str]]] = field(default_factory=lambda: {name: {} for name in FROM_TASKS})
    csv_rows: dict[str, int] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.ppt_id, self.dev_id, self.kind)

    def device_days(self) -> dict[str, list[DeviceDay]]:
        """Per export, the device-days it holds rows of after this run."""
        found: dict[str, list[DeviceDay]] = defaultdict(list)
        for day, exports in self.holders.items():
            for export in exports:
                found[export].append(DeviceDay(self.kind, day, self.ppt_id, self.dev_id))
        return found


@dataclass
class MetadataResult:
    """The devices rows of one archive's metadata files, or why the archive could not be read."""

    export: str
    devices: list[dict] = field(default_factory=list)
    error: str | None = None


def clean_in_tasks(
    tasks: Tasks, streams: Sequence[DeviceStream], metadata: Sequence[MemberGroup], targets: Targets
) -> list[StreamResult | MetadataResult]:
    """One task per unit of work (``units``), run by ``tasks``."""
    work = units(streams, metadata)
    if not work:
        return []
    log.info("%d device stream(s) in %d task(s)", len(streams), len(work))
    return tasks.map(partial(process, targets=targets), work)


def units(streams: Sequence[DeviceStream], metadata: Sequence[MemberGroup]) -> list[DeviceStream | list[MemberGroup]]:
    """The tasks' work: each device stream, largest first, then each archive's metadata files together."""
    by_archive: dict[str, list[MemberGroup]] = defaultdict(list)
    for group in metadata:
        by_archive[group.archive.export].append(group)
    return [*sorted(streams, key=lambda s: -s.size), *by_archive.values()]


def process(
    unit: DeviceStream | list[MemberGroup], targets: Targets, storage: Storage | None = None
) -> StreamResult | MetadataResult:
    """Clean one device stream, or read one archive's metadata files."""
    storage = storage or Storage()
    if isinstance(unit, DeviceStream):
        return process_stream(unit, targets, storage)
    return _read_metadata(unit, storage)


def process_stream(stream: DeviceStream, targets: Targets, storage: Storage) -> StreamResult:
    """Read the device stream's members from each archive, then combine it day by day with what is published."""
    result = StreamResult(stream.ppt_id, stream.dev_id, stream.kind)
    width = len(MEASURES[stream.kind])
    with tempfile.TemporaryDirectory(prefix="embrace-days-") as scratch:
        buffer = DayBuffer(Path(scratch), width, targets.limits.max_rows_per_day)
        rejects_paths: dict[str, Path] = {}
        sources: list[str] = []  # the export of each member read, by its number in the buffer
        for part in stream.parts:
            export = part.archive.export
            rejects_paths[export] = Path(scratch, f"rejects-{len(rejects_paths)}.json")
            try:
                with (
                    storage.open(part.archive.url) as handle,
                    zipfile.ZipFile(handle) as archive_zip,
                    open(rejects_paths[export], "w", encoding="utf-8") as rejects,
                ):
                    by_offset = {info.header_offset: info for info in archive_zip.infolist()}
                    for entry in part.entries:
                        sources.append(export)
                        _read_member(
                            archive_zip.open(by_offset[entry.offset]),
                            entry,
                            len(sources) - 1,
                            part,
                            buffer,
                            rejects,
                            result,
                            targets,
                        )
            except (zipfile.BadZipFile, OSError, EOFError, UnicodeDecodeError, HeaderMismatch) as error:
                result.errors[export] = f"{part.archive.url}: {error}"
            except Exception as error:  # noqa: BLE001 - any other failure (corrupt deflate data, bad text) fails this archive only
                result.errors[export] = (
                    f"{part.archive.url}: cannot be read ({type(error).__name__}: {error}); replace the file and rerun"
                )
        if result.errors:
            return result
        for export, found in result.refused:
            log.warning("%s: %s refused: %s", export, found.name, found.reason)
        revisit = set(stream.revisit)
        try:
            for number, slices in buffer.days():
                revisit.discard(_iso_day(number))
                _combine(stream, _iso_day(number), slices, buffer, sources, targets, storage, result)
            for day in sorted(revisit):
                _combine(stream, day, (), buffer, sources, targets, storage, result)
        except PublishError as error:
            result.problem = str(error)
            return result
        stem = file_stem(stream.ppt_id, stream.dev_id)
        for export, path in rejects_paths.items():
            if path.stat().st_size:
                folder, name = rejects_folder(export, stream.kind), f"{stem}.json"
                storage.upload(path, join(targets.staging["rejects"], folder + name))
                result.files["rejects"][folder] = {name}
    return result


def _read_member(
    raw, entry: Entry, source: int, part: MemberGroup, buffer: DayBuffer, rejects: TextIO, result: StreamResult, targets: Targets
) -> None:
    """Parse one member into the buffer; its rejects to ``rejects``; refused (its rows left out) when over a limit."""
    export = part.archive.export
    label = f"{export}.zip/{entry.label}"

    def keep(found: list[Reject]) -> None:
        if not found:
            return
        _write_rejects(rejects, part, entry.label, found)
        result.rejects[label] = result.rejects.get(label, 0) + len(found)
        result.reasons.update(reject.reason for reject in found)

    try:
        with raw:
            for block in parse_stream(raw, part.kind, entry.label, keep):
                buffer.add(block, source)
                if block.in_seconds and label not in result.in_seconds:
                    result.in_seconds.append(label)
    except CompressedMember as error:
        result.refused.append((export, RefusedMember(entry.label, part.kind, str(error))))
    except DayTooLarge as error:
        buffer.drop(source)
        result.refused.append((export, RefusedMember(entry.label, part.kind, targets.limits.day_problem(_iso_day(error.day)))))


def _combine(
    stream: DeviceStream,
    day: str,
    slices: Sequence[int],
    buffer: DayBuffer,
    sources: list[str],
    targets: Targets,
    storage: Storage,
    result: StreamResult,
) -> None:
    """Apply the rules to the device-day's new rows (``slices`` of ``buffer``) and those published by
    the other exports, one hour slice at a time; stage its files as the slices are cleaned."""
    width = len(MEASURES[stream.kind])
    names = Names(stream.exports)
    stem = file_stem(stream.ppt_id, stream.dev_id)
    records = DayRecords.read(storage, targets.clean, stream.kind, day)
    published = published_claims(storage, targets.clean, records, stream.kind, day, stem, names, targets.replaced, targets.run_id)
    result.seen[day] = (published.clean, published.held)
    kept = published.claims
    result.carried += int(kept.copies.sum()) if kept.copies is not None else len(kept)
    others = _by_slice(kept)
    del kept, published
    with tempfile.TemporaryDirectory(prefix="embrace-day-") as scratch:
        target = DayTarget(
            stream.ppt_id, stream.dev_id, stream.kind, day, stem, dict(targets.staging), targets.max_csv_bytes, Path(scratch)
        )
        output = DayOutput(target, names.names)
        for number in sorted(set(slices) | set(others)):
            new = Claims.concat([], width)
            if number in slices:
                rows = buffer.take(number)
                new = Claims(rows.ts, rows.values, rows.missing, _export_numbers(rows.source, sources, names))
                result.read += len(new)
                del rows
            claims = Claims.concat([new, others.pop(number)] if number in others else [new], width)
            del new
            if len(claims):
                output.add(storage, combine_day(claims, len(names.names)))
        output.finish(storage)
    _record_day(result, day, output)


def _by_slice(claims: Claims) -> dict[int, Claims]:
    """Published rows by hour slice, each slice's rows in their published order."""
    if not len(claims):
        return {}
    numbers = claims.ts // SLICE_MS
    order = np.argsort(numbers, kind="stable")
    found, starts = np.unique(numbers[order], return_index=True)
    copies = claims.copies if claims.copies is not None else np.ones(len(claims), np.int64)
    return {
        int(number): Claims(claims.ts[rows], claims.values[rows], claims.missing[rows], claims.export[rows], copies[rows])
        for number, rows in zip(found, np.split(order, starts[1:]))
    }


def _record_day(result: StreamResult, day: str, output: DayOutput) -> None:
    """What the device-day's slices found, for the driver."""
    result.days[day] = output.counts
    if output.holding:
        result.holders[day] = sorted(output.exports[i] for i in output.holding)
    result.held_by[day] = {output.exports[i]: int(count) for i, count in enumerate(output.readings) if count}
    result.shared.update(output.shared)
    result.held_rows += output.held_rows
    for name, folders in output.files.items():
        for folder, files in folders.items():
            result.files[name].setdefault(folder, set()).update(files)
    result.csv_rows.update(output.csv_rows)
    if result.kind == "eda" and output.counts.clean:
        result.wear[day] = output.wear


def _export_numbers(source: np.ndarray, sources: list[str], names: Names) -> np.ndarray:
    """The export number of each row from the number of the member it came from."""
    by_source = np.array([names.number(export) for export in sources], dtype=np.int32)
    return by_source[source]


def _read_metadata(groups: list[MemberGroup], storage: Storage) -> MetadataResult:
    archive = groups[0].archive
    result = MetadataResult(archive.export)
    try:
        with storage.open(archive.url) as handle, zipfile.ZipFile(handle) as archive_zip:
            by_offset = {info.header_offset: info for info in archive_zip.infolist()}
            for group in groups:
                for entry in group.entries:
                    body = archive_zip.read(by_offset[entry.offset])
                    result.devices += device_records(group.ppt_id, group.dev_id, _without_top_folder(entry.name), body)
    except Exception as error:  # noqa: BLE001 - a metadata file that cannot be read fails its archive only
        result.error = f"{archive.url}: cannot be read ({type(error).__name__}: {error}); replace the file and rerun"
    return result


def _without_top_folder(name: str) -> str:
    """``<study>/<SITE>/<participant>/<device>/metadata.csv``: the same in every export of the device."""
    parts = name.replace("\\", "/").split("/")
    return "/".join(parts[-5:])


def _iso_day(number: int) -> str:
    return datetime.fromtimestamp(number * DAY_MS / 1000, UTC).date().isoformat()


def _write_rejects(handle: TextIO, part: MemberGroup, member: str, rejects: list[Reject]) -> None:
    """Append a batch of rejects as JSON lines: rejects go to a local file, not to memory."""
    for r in rejects:
        record = {
            "ppt_id": part.ppt_id,
            "dev_id": part.dev_id,
            "file": member,
            "line": r.line,
            "reason": r.reason,
            "record": r.record,
        }
        handle.write(json.dumps(record, sort_keys=True) + "\n")
