"""The work of one Spark task: clean a device's stream from inside its archive and write it aside.

The driver deals the member groups out to tasks, one per device stream, largest first. A task
streams each member out of the zip (ranged GETs on S3, never unpacked to disk), parses it with
pyarrow, cleans it one UTC day at a time, writes the day's clean Parquet and batch-load CSV
under the staging folders, and returns the counts the driver needs for the small tables and the
report. An archive that cannot be read (bad zip, bad CRC, a header that is not its stream's)
comes back as an error naming it; the driver then publishes nothing of that archive.
"""

from __future__ import annotations

import json
import logging
import tempfile
import zipfile
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from pyspark.sql import SparkSession

from job_helpers.embrace import write
from job_helpers.embrace.archives import MEASURES, METADATA
from job_helpers.embrace.day_buffer import DayBuffer
from job_helpers.embrace.members import MemberGroup
from job_helpers.embrace.outputs import EXPORT, FROM_TASKS, STREAM, file_stem, load_folder, partition_folder
from job_helpers.embrace.transform import (
    DAY_MS,
    DayCounts,
    HeaderMismatch,
    Reject,
    WearDay,
    clean_day,
    device_records,
    parse_stream,
    wear_day,
)
from job_helpers.publish import staging_url
from job_helpers.storage import Storage, join

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Targets:
    """Where a task writes: the run's staging folder in each output the tasks write, and the batch-load file size limit."""

    staging: Mapping[str, str]
    max_csv_bytes: int

    @classmethod
    def of_run(cls, outputs: Mapping[str, str], run_id: str, max_csv_bytes: int) -> Targets:
        """The targets of run ``run_id`` given every output's URL."""
        return cls({name: staging_url(outputs[name], run_id) for name in FROM_TASKS}, max_csv_bytes)


@dataclass
class GroupResult:
    """What one group produced, for the driver's tables and report.

    ``files`` holds, per output the tasks write (``outputs.FROM_TASKS``), the files staged by folder.
    """

    export: str
    ppt_id: str
    dev_id: str
    kind: str
    error: str | None = None
    days: dict[str, DayCounts] = field(default_factory=dict)
    wear: dict[str, WearDay] = field(default_factory=dict)
    rejects: dict[str, int] = field(default_factory=dict)
    reasons: Counter[str] = field(default_factory=Counter)
    in_seconds: list[str] = field(default_factory=list)
    devices: list[dict] = field(default_factory=list)
    files: dict[str, dict[str, set[str]]] = field(default_factory=lambda: {name: {} for name in FROM_TASKS})


def clean_in_tasks(spark: SparkSession, groups: Sequence[MemberGroup], targets: Targets) -> list[GroupResult]:
    """One task per device stream, largest first; an archive's metadata files share one task."""
    if not groups:
        return []
    streams = sorted((g for g in groups if g.kind != METADATA), key=lambda g: -g.size)
    metadata: dict[str, list[MemberGroup]] = defaultdict(list)
    for group in groups:
        if group.kind == METADATA:
            metadata[group.archive.export].append(group)
    work = [[group] for group in streams] + list(metadata.values())
    log.info("%d device stream(s) in %d task(s)", len(streams), len(work))
    return spark.sparkContext.parallelize(work, len(work)).flatMap(lambda part: process_groups(part, targets)).collect()


def process_groups(groups: Iterable[MemberGroup], targets: Targets, storage: Storage | None = None) -> Iterator[GroupResult]:
    """Clean every group of a task, opening each archive once for all its groups."""
    storage = storage or Storage()
    by_archive: dict[str, list[MemberGroup]] = {}
    for group in groups:
        by_archive.setdefault(group.archive.url, []).append(group)
    for members in by_archive.values():
        archive = members[0].archive
        try:
            with storage.open(archive.url) as handle, zipfile.ZipFile(handle) as archive_zip:
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
            result.devices += device_records(group.ppt_id, group.dev_id, entry.label, archive_zip.read(by_offset[entry.offset]))
        return result
    stem = file_stem(group.ppt_id, group.dev_id)
    stream_folder = partition_folder([(EXPORT, group.archive.export), (STREAM, group.kind)])
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
                    result.reasons.update(reject.reason for reject in found)

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
            folder = stream_folder + partition_folder([("date", day)])
            name = f"{stem}.parquet"
            clean_url = join(targets.staging["clean"], folder + name)
            write.write_clean_day(storage, clean_url, group.ppt_id, group.dev_id, group.kind, kept_ts, kept_values)
            result.files["clean"].setdefault(folder, set()).add(name)
            ready = load_folder(group.archive.export, group.kind, day)
            staged = join(targets.staging["timestream_ready"], ready)
            names = write.write_timestream_csv(
                storage, staged, stem, group.ppt_id, group.dev_id, group.kind, kept_ts, kept_values, targets.max_csv_bytes
            )
            result.files["timestream_ready"].setdefault(ready, set()).update(names)
            if group.kind == "eda":
                result.wear[day] = wear_day(kept_ts, kept_values[:, 0])
        if result.rejects:
            name = f"{stem}.json"
            storage.upload(rejects_path, join(targets.staging["rejects"], stream_folder + name))
            result.files["rejects"][stream_folder] = {name}
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
