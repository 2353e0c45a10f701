"""One chunk of the embrace_dedupe job: the archives' members read and cleaned in tasks, device-day by device-day, and published.

The chunk reads the archives whose export period overlaps its dates. The driver reads each
archive's central directory and groups the members by device and stream across the archives;
Spark spreads the device streams over tasks (see ``stream_tasks``), each combining the new rows
with the rows other exports already published for the same device-days and writing aside. The
driver then builds the small tables and publishes everything (see ``write``): a reading held by
several exports (a study's ALLSITES export and a site's export of the same days, a re-export) is
published once, and reruns and overlapping backfills give the same tables. The run replaces the
rows of the archives it read: the device-days they held before are revisited (their manifests),
so an archive that no longer holds a day leaves it. An archive that cannot be read (corrupt zip,
bad CRC, a header not matching its stream) fails alone: the device streams are read again without
it, its rows stay as they were published, the others are published, and the result names it.
Members refused (paths, limits, content) are rejects of their stream, written by the driver.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import SparkSession

from job_helpers.embrace import read, tables, write
from job_helpers.embrace.archives import METADATA, Archive, Member
from job_helpers.embrace.members import MemberGroup, RefusedMember, UnreadableArchive
from job_helpers.embrace.parameters import Parameters
from job_helpers.embrace.published import DeviceDay, read_manifest, write_manifest
from job_helpers.embrace.stream_tasks import DeviceStream, MetadataResult, StreamResult, Targets, clean_in_tasks
from job_helpers.embrace.transform import DayCounts
from job_helpers.publish import new_run_id
from job_helpers.storage import Storage

log = logging.getLogger(__name__)


@dataclass
class ChunkResult:
    """What a chunk did, as the run report holds it: rows read by input, rows written by output,
    rejects by reason, failed archives (export → why), and the facts only Embrace has.

    ``read`` counts, per stream, the lines of this run's archives (rejects included), and under
    ``published`` the rows of other exports read back for the device-days the run recomputed;
    together they are the clean rows written, the rejects and the rows the rules dropped
    (``dropped``: missing values, unclear, duplicate copies, overlap).
    """

    streams: list[str]
    archives: list[str]
    ignored_objects: list[str]
    read: Counter[str] = field(default_factory=Counter)
    written: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    failed: dict[str, str] = field(default_factory=dict)
    unselected: list[str] = field(default_factory=list)
    clean_rows: Counter[str] = field(default_factory=Counter)
    rejects_by_file: dict[str, int] = field(default_factory=dict)
    outside_period: Counter[str] = field(default_factory=Counter)
    duplicates: DayCounts = field(default_factory=DayCounts)
    dropped: Counter[str] = field(default_factory=Counter)
    overlap_by_exports: Counter[str] = field(default_factory=Counter)
    overlap_by_participant: Counter[str] = field(default_factory=Counter)
    refused_members: dict[str, str] = field(default_factory=dict)
    repeated_members: dict[str, int] = field(default_factory=dict)
    timestamps_in_seconds: list[str] = field(default_factory=list)

    def details(self) -> dict[str, Any]:
        """The report's ``details``: what only this job knows."""
        return {
            "streams": self.streams,
            "archives": self.archives,
            "ignored_objects": self.ignored_objects,
            "unselected": self.unselected,
            "clean_rows": dict(self.clean_rows),
            "rejects_by_file": self.rejects_by_file,
            "outside_period": dict(self.outside_period),
            "duplicates": self.duplicates.duplicates(),
            "dropped": dict(self.dropped),
            "overlap": {"by_exports": dict(self.overlap_by_exports), "by_participant": dict(self.overlap_by_participant)},
            "refused_members": self.refused_members,
            "repeated_members": self.repeated_members,
            "timestamps_in_seconds": self.timestamps_in_seconds,
        }

    def line(self) -> str:
        return (
            f"{len(self.archives)} archive(s), {len(self.failed)} failed, {self.read.total():,} row(s) read, "
            f"{self.clean_rows.total():,} clean, {self.rejected.total():,} reject(s), "
            f"{self.duplicates.overlap:,} held by more than one export (published once), "
            f"{self.outside_period.total():,} outside their export period, "
            f"{len(self.refused_members)} member(s) refused (paths, limits, content), "
            f"{len(self.repeated_members)} name(s) on several members"
        )


def clean_and_publish(spark: SparkSession, storage: Storage, landing: read.Landing, params: Parameters) -> ChunkResult:
    """Read each archive's members, clean them device-day by device-day in Spark tasks, publish."""
    result = ChunkResult(list(params.selection.streams), [archive.export for archive in landing.archives], landing.ignored)
    log.info("%s: %d archive(s) overlap the chunk: %s", params.scope, len(result.archives), ", ".join(result.archives) or "none")
    groups: list[MemberGroup] = []
    refused: dict[str, list[RefusedMember]] = {}
    chosen: list[Archive] = []
    for archive in landing.archives:
        try:
            members = read.member_groups(archive, params.selection, storage, params.limits)
        except UnreadableArchive as error:
            result.failed[archive.export] = str(error)
            continue
        refused[archive.export] = members.refused
        result.refused_members.update({f"{archive.export}.zip/{m.name}": m.reason for m in members.refused})
        result.repeated_members.update({f"{archive.export}.zip/{name}": count for name, count in members.repeated.items()})
        if not members.groups and not any(m.kind in params.selection.streams for m in members.refused):
            # Nothing selected from this archive (a participant filter): leave what it published alone.
            result.unselected.append(archive.export)
            log.info(
                "%s: no member matches the selected streams and participants; its outputs are left as they are", archive.export
            )
            continue
        chosen.append(archive)
        groups += members.groups
    run_id = new_run_id(params.scope)
    previous = {archive.export: read_manifest(storage, params.outputs["clean"], archive.export) for archive in chosen}
    try:
        while True:
            exports = [archive.export for archive in chosen if archive.export not in result.failed]
            streams, metadata = _work(groups, exports, previous, params)
            targets = Targets.of_run(params.outputs, run_id, exports, params.max_csv_bytes, params.limits)
            cleaned = clean_in_tasks(spark, streams, metadata, targets)
            failures = _failures(cleaned)
            if not failures:
                break
            # The device streams are read again without the archives that failed: their rows stay as published.
            for export, message in failures.items():
                log.error("archive %s failed: %s; reading the other archives again without it", export, message)
            result.failed.update(failures)
        if exports:
            good = [archive for archive in chosen if archive.export in exports]
            _publish(storage, params, run_id, result, good, cleaned, {export: refused[export] for export in exports}, previous)
    finally:
        write.discard_run_staging(storage, params, run_id)
    for export, message in result.failed.items():
        log.error("archive %s failed: %s", export, message)
    log.info("%s: %s", params.scope, result.line())
    return result


def _work(
    groups: Sequence[MemberGroup], exports: Sequence[str], previous: dict[str, list[DeviceDay]], params: Parameters
) -> tuple[list[DeviceStream], list[MemberGroup]]:
    """The device streams of ``exports`` (with the days their manifests list for each) and their metadata groups."""
    parts: dict[tuple[str, str, str], list[MemberGroup]] = defaultdict(list)
    metadata = []
    for group in groups:
        if group.archive.export not in exports:
            continue
        if group.kind == METADATA:
            metadata.append(group)
        else:
            parts[(group.ppt_id, group.dev_id, group.kind)].append(group)
    revisit: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for export in exports:
        for held in previous[export]:
            if params.selection.wants(Member("", held.ppt_id, held.dev_id, held.stream)):
                revisit[(held.ppt_id, held.dev_id, held.stream)].add(held.day)
    streams = [
        DeviceStream(
            ppt_id,
            dev_id,
            kind,
            tuple(parts.get((ppt_id, dev_id, kind), ())),
            tuple(sorted(revisit.get((ppt_id, dev_id, kind), ()))),
        )
        for ppt_id, dev_id, kind in sorted(set(parts) | set(revisit))
    ]
    return streams, metadata


def _failures(cleaned: Sequence[StreamResult | MetadataResult]) -> dict[str, str]:
    failures: dict[str, str] = {}
    for found in cleaned:
        errors = found.errors if isinstance(found, StreamResult) else ({found.export: found.error} if found.error else {})
        for export, message in errors.items():
            failures.setdefault(export, message)
    return failures


def _publish(
    storage: Storage,
    params: Parameters,
    run_id: str,
    result: ChunkResult,
    archives: list[Archive],
    cleaned: list[StreamResult | MetadataResult],
    refused: dict[str, list[RefusedMember]],
    previous: dict[str, list[DeviceDay]],
) -> None:
    exports = [archive.export for archive in archives]
    streams = [found for found in cleaned if isinstance(found, StreamResult)]
    metadata = [found for found in cleaned if isinstance(found, MetadataResult)]
    for found in streams:
        for export, member in found.refused:
            refused[export] = [*refused[export], member]
            result.refused_members[f"{export}.zip/{member.name}"] = member.reason
    _count(result, archives, streams)
    recomputed = [DeviceDay(found.kind, day, found.ppt_id, found.dev_id) for found in streams for day in found.days]
    holds: dict[str, list[DeviceDay]] = defaultdict(list)
    for found in streams:
        for export, device_days in found.device_days().items():
            holds[export] += device_days
    kept = {export: [d for d in previous[export] if not _selected(params, d)] for export in exports}
    for export in exports:
        # Until the publish is done, a manifest lists the days of both the old and the new rows.
        write_manifest(storage, params.outputs["clean"], export, [*previous[export], *holds[export]])
    staged: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for found in streams:
        for name, by_folder in found.files.items():
            for folder, names in by_folder.items():
                staged[name][folder] |= names
    built = tables.small_tables(
        storage,
        params.outputs,
        streams,
        recomputed,
        params.selection.streams,
        metadata,
        lambda row: row["export"] in exports and params.selection.wants(Member("", row["ppt_id"], row["dev_id"], METADATA)),
    )
    result.written.update(write.publish_outputs(storage, params, run_id, exports, recomputed, staged, built, refused))
    for export in exports:
        write_manifest(storage, params.outputs["clean"], export, [*kept[export], *holds[export]])
    rows = {
        DeviceDay(found.kind, day, found.ppt_id, found.dev_id): counts.clean
        for found in streams
        for day, counts in found.days.items()
    }
    write.write_load_counts(storage, params.outputs["load_counts"], exports, rows)


def _selected(params: Parameters, device_day: DeviceDay) -> bool:
    return params.selection.wants(Member("", device_day.ppt_id, device_day.dev_id, device_day.stream))


def _count(result: ChunkResult, archives: list[Archive], streams: list[StreamResult]) -> None:
    periods = {archive.export: (archive.start.isoformat(), archive.end.isoformat()) for archive in archives}
    for found in streams:
        result.read[found.kind] += found.read
        if found.carried:
            result.read["published"] += found.carried
        for day, counts in found.days.items():
            result.clean_rows[found.kind] += counts.clean
            result.duplicates += counts
            result.dropped["nan"] += counts.nan
            result.dropped["unclear"] += counts.unclear
            result.dropped["duplicate copies"] += counts.total_rows - counts.clean - counts.nan - counts.unclear
            result.dropped["overlap"] += counts.overlap
            result.overlap_by_participant[found.ppt_id] += counts.overlap
            for export, readings in found.held_by.get(day, {}).items():
                if export in periods and not periods[export][0] <= day <= periods[export][1]:
                    result.outside_period[export] += readings
        for (a, b), rows in found.shared.items():
            result.overlap_by_exports[f"{a} & {b}"] += rows
        for member, count in found.rejects.items():
            result.rejects_by_file[member] = count
            result.read[found.kind] += count
        result.rejected.update(found.reasons)
        result.timestamps_in_seconds += found.in_seconds
    result.overlap_by_participant = Counter({ppt: rows for ppt, rows in result.overlap_by_participant.items() if rows})
    result.timestamps_in_seconds.sort()
    result.written["clean"] = result.written["timestream_ready"] = result.clean_rows.total()
