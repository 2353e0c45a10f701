"""The work of one Spark task: clean a device's stream from inside its archive and write it aside.

The driver groups the selected members by export, participant, device and stream (the key every
rule works within) and deals the groups out to tasks. A task streams each member out of the zip
(ranged GETs on S3, never unpacked to disk), parses it with pyarrow, cleans it one UTC day at a
time, writes the day's clean Parquet and batch-load CSV under the staging folders, and returns the
counts the driver needs for the small tables and the summary. An archive that cannot be read (bad
zip, bad CRC, a header that is not its stream's) comes back as an error naming it; the driver then
publishes nothing of that archive.

Members are opened by their entry in the central directory, never by name: an archive may hold two
entries of the same name (an export appended to), and both are read, as one stream of that device.
"""

from __future__ import annotations

import csv as text_csv
import io
import json
import logging
import re
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from job_helpers.embrace import outputs
from job_helpers.embrace.archives import MEASURES, METADATA, Archive, Selection, UnsafeMemberPath, parse_member
from job_helpers.embrace.cleaning import DAY_MS, DayCounts, WearDay, clean_day, wear_day
from job_helpers.embrace.day_buffer import DayBuffer
from job_helpers.embrace.parsing import HeaderMismatch, Reject, parse_stream
from job_helpers.embrace.reader import open_archive
from job_helpers.publish import staging_url
from job_helpers.storage import Storage, join

log = logging.getLogger(__name__)

UNSAFE_ID = re.compile(r'[,"\r\n]')
DEVICE_COLUMNS = {
    "Datetime (UTC)": "recorded_at",
    "Timezone (minutes)": "timezone_minutes",
    "Embrace firmware version": "firmware_version",
    "App": "app",
    "App version": "app_version",
    "Mobile OS": "mobile_os",
    "Mobile OS version": "mobile_os_version",
    "GTCS algorithm version": "gtcs_algorithm_version",
}


@dataclass(frozen=True)
class Entry:
    """One zip entry: its name, where its local header starts, and the name its rejects and report lines carry.

    The offset tells apart entries of the same name; their label is ``<name>#<n>``, n counting the
    entries of that name in central-directory order.
    """

    name: str
    offset: int
    label: str


@dataclass(frozen=True)
class MemberGroup:
    """The members of one export holding one participant's device and stream (usually one file)."""

    archive: Archive
    ppt_id: str
    dev_id: str
    kind: str
    entries: tuple[Entry, ...]
    size: int


@dataclass(frozen=True)
class RefusedMember:
    """A member whose path cannot name a participant and device: a reject of its stream, never read."""

    name: str
    kind: str
    reason: str


@dataclass(frozen=True)
class ArchiveMembers:
    """What the central directory of an archive holds for a run: groups to clean, refused members, repeated names."""

    groups: list[MemberGroup]
    refused: list[RefusedMember]
    repeated: dict[str, int]


@dataclass(frozen=True)
class Targets:
    """Where a task writes: the staging folders of the run, and the batch-load file size limit."""

    run_id: str
    clean: str
    timestream_ready: str
    rejects: str
    max_csv_bytes: int


@dataclass
class GroupResult:
    """What one group produced, for the driver's tables and summary."""

    export: str
    ppt_id: str
    dev_id: str
    kind: str
    error: str | None = None
    days: dict[str, DayCounts] = field(default_factory=dict)
    wear: dict[str, WearDay] = field(default_factory=dict)
    rejects: dict[str, int] = field(default_factory=dict)
    in_seconds: list[str] = field(default_factory=list)
    devices: list[dict] = field(default_factory=list)
    clean_files: dict[str, set[str]] = field(default_factory=dict)
    timestream_files: dict[str, set[str]] = field(default_factory=dict)
    reject_files: dict[str, set[str]] = field(default_factory=dict)


class UnreadableArchive(Exception):
    """An archive whose central directory cannot be read."""


def member_groups(archive: Archive, selection: Selection, storage: Storage) -> ArchiveMembers:
    """The selected members of ``archive`` grouped by participant, device and stream, and the refused ones."""
    try:
        with open_archive(storage, archive.url) as handle, zipfile.ZipFile(handle) as archive_zip:
            infos = archive_zip.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise UnreadableArchive(f"{archive.url}: not a readable zip archive ({error}); replace the file and rerun") from error
    entries_of: dict[str, int] = {}
    for info in infos:
        entries_of[info.filename] = entries_of.get(info.filename, 0) + 1
    repeated = {name: count for name, count in entries_of.items() if count > 1}
    for name, count in sorted(repeated.items()):
        log.warning("%s: %d entries are named %s; all are read, as one stream of that device", archive.url, count, name)
    found: dict[tuple[str, str, str], list[tuple[Entry, int]]] = {}
    refused: list[RefusedMember] = []
    seen: dict[str, int] = {}
    streams = 0
    for info in infos:
        seen[info.filename] = seen.get(info.filename, 0) + 1
        label = f"{info.filename}#{seen[info.filename]}" if info.filename in repeated else info.filename
        try:
            member = parse_member(info.filename)
        except UnsafeMemberPath as error:
            if error.kind == METADATA or error.kind in selection.streams:
                refused.append(RefusedMember(label, error.kind, str(error)))
                log.warning("%s: %s refused: %s", archive.url, label, error)
            continue
        if member is None:
            continue
        streams += member.kind != METADATA
        if UNSAFE_ID.search(member.ppt_id + member.dev_id):
            raise UnreadableArchive(
                f"{archive.url}: {info.filename}: participant and device folder names go into the batch-load CSVs "
                "and cannot hold commas, quotes or line breaks; rename the folders and rerun"
            )
        if selection.wants(member):
            entry = Entry(info.filename, info.header_offset, label)
            found.setdefault((member.ppt_id, member.dev_id, member.kind), []).append((entry, info.file_size))
    if not streams:
        refusals = f" ({len(refused)} refused for their paths)" if refused else ""
        raise UnreadableArchive(
            f"{archive.url}: no member is laid out as [<top folder>/]<study>/<SITE>/<participant>/<device>/"
            f"{{acc,eda,temp}}.csv{refusals}; check the archive's contents and rerun"
        )
    groups = [
        MemberGroup(archive, ppt_id, dev_id, kind, tuple(entry for entry, _ in files), sum(size for _, size in files))
        for (ppt_id, dev_id, kind), files in sorted(found.items())
    ]
    return ArchiveMembers(groups, refused, repeated)


def process_groups(groups: Iterable[MemberGroup], targets: Targets, storage: Storage | None = None) -> Iterator[GroupResult]:
    """Clean every group of a task, opening each archive once for all its groups."""
    storage = storage or Storage()
    by_archive: dict[str, list[MemberGroup]] = {}
    for group in groups:
        by_archive.setdefault(group.archive.url, []).append(group)
    for members in by_archive.values():
        archive = members[0].archive
        try:
            with open_archive(storage, archive.url) as handle, zipfile.ZipFile(handle) as archive_zip:
                by_offset = {info.header_offset: info for info in archive_zip.infolist()}
                for group in members:
                    yield _process(archive_zip, by_offset, group, targets, storage)
        except (zipfile.BadZipFile, OSError, EOFError, UnicodeDecodeError, HeaderMismatch) as error:
            yield GroupResult(archive.export, "", "", "", error=f"{archive.url}: {error}")
        except Exception as error:  # noqa: BLE001 - any other failure (corrupt deflate data, bad text) fails this archive only
            yield GroupResult(
                archive.export,
                "",
                "",
                "",
                error=f"{archive.url}: cannot be read ({type(error).__name__}: {error}); replace the file and rerun",
            )


def _process(
    archive_zip: zipfile.ZipFile, by_offset: dict[int, zipfile.ZipInfo], group: MemberGroup, targets: Targets, storage: Storage
) -> GroupResult:
    result = GroupResult(group.archive.export, group.ppt_id, group.dev_id, group.kind)
    if group.kind == METADATA:
        for entry in group.entries:
            result.devices += _device_records(group, entry.label, archive_zip.read(by_offset[entry.offset]))
        return result
    stem = outputs.file_stem(group.ppt_id, group.dev_id)
    stream_folder = outputs.partition_folder([("export", group.archive.export), ("stream", group.kind)])
    with tempfile.TemporaryDirectory(prefix="embrace-days-") as scratch:
        buffer = DayBuffer(Path(scratch), len(MEASURES[group.kind]))
        rejects_path = Path(scratch, "rejects.json")
        with open(rejects_path, "w", encoding="utf-8") as rejects:
            for entry in group.entries:

                def keep(found: list[Reject], label: str = entry.label) -> None:
                    if not found:
                        return
                    _write_rejects(rejects, group, label, found)
                    result.rejects[label] = result.rejects.get(label, 0) + len(found)

                with archive_zip.open(by_offset[entry.offset]) as raw:
                    for block in parse_stream(raw, group.kind, entry.label, keep):
                        buffer.add(block)
                        if block.in_seconds and entry.label not in result.in_seconds:
                            result.in_seconds.append(entry.label)
        for day_number, ts, values, missing in buffer.days():
            day = datetime.fromtimestamp(day_number * DAY_MS / 1000, UTC).date().isoformat()
            kept_ts, kept_values, counts = clean_day(ts, values, missing)
            del ts, values, missing
            result.days[day] = counts
            if not counts.clean:
                continue
            folder = stream_folder + outputs.partition_folder([("date", day)])
            name = f"{stem}.parquet"
            clean_url = join(staging_url(targets.clean, targets.run_id), folder + name)
            outputs.write_clean_day(storage, clean_url, group.ppt_id, group.dev_id, group.kind, kept_ts, kept_values)
            result.clean_files.setdefault(folder, set()).add(name)
            ready = outputs.load_folder(group.archive.export, group.kind, day)
            staged = join(staging_url(targets.timestream_ready, targets.run_id), ready)
            names = outputs.write_timestream_csv(
                storage, staged, stem, group.ppt_id, group.dev_id, group.kind, kept_ts, kept_values, targets.max_csv_bytes
            )
            result.timestream_files.setdefault(ready, set()).update(names)
            if group.kind == "eda":
                result.wear[day] = wear_day(kept_ts, kept_values[:, 0])
        if result.rejects:
            name = f"{stem}.json"
            storage.upload(rejects_path, join(staging_url(targets.rejects, targets.run_id), stream_folder + name))
            result.reject_files[stream_folder] = {name}
    return result


def _write_rejects(handle: TextIO, group: MemberGroup, member: str, rejects: list[Reject]) -> None:
    """Append a batch of rejects as JSON lines: rejects go to a local file, not to memory."""
    for r in rejects:
        record = {
            "ppt_id": group.ppt_id,
            "dev_id": group.dev_id,
            "file": member,
            "line": r.line,
            "reason": r.reason,
            "record": r.record,
        }
        handle.write(json.dumps(record, sort_keys=True) + "\n")


def _device_records(group: MemberGroup, name: str, body: bytes) -> list[dict]:
    rows = list(text_csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    records = []
    for row in rows:
        record: dict[str, Any] = {"ppt_id": group.ppt_id, "dev_id": group.dev_id}
        for header, column in DEVICE_COLUMNS.items():
            record[column] = row.get(header)
        zone = (record["timezone_minutes"] or "").strip()
        record["timezone_minutes"] = int(zone) if zone.lstrip("+-").isdigit() else None
        record["source_file"] = name
        records.append(record)
    return records
