"""One chunk of the embrace_dedupe job: archives of the chunk's dates in, every output replaced.

The chunk owns the archives whose export period overlaps its dates. Spark spreads the archives'
device streams over tasks (see ``members``), each writing aside; the driver then writes the small
tables and publishes everything (see ``outputs``), so reruns and overlapping backfills give the
same tables. An archive that cannot be read (corrupt zip, bad CRC, a header not matching its
stream) fails alone: its old outputs stay untouched, the others are published, and the summary
names it. Members refused for their paths are rejects of their stream, written by the driver.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date

from pyspark.sql import SparkSession

from job_helpers.embrace import outputs, tables
from job_helpers.embrace.archives import Archive, Selection, select_archives
from job_helpers.embrace.cleaning import DayCounts
from job_helpers.embrace.members import (
    GroupResult,
    MemberGroup,
    RefusedMember,
    Targets,
    UnreadableArchive,
    member_groups,
    process_groups,
)
from job_helpers.publish import ShrinkGuard, discard_staging, publish, staging_url
from job_helpers.storage import Storage, join

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkParams:
    """Plain values of one run, resolved from the job arguments."""

    first: date
    last: date
    landing: str
    clean: str
    timestream_ready: str
    duplicate_log: str
    wear_time: str
    devices: str
    rejects: str
    reports: str
    load_counts: str
    selection: Selection = Selection()
    max_csv_bytes: int = 1 << 30
    allow_shrink: bool = False

    @property
    def scope(self) -> str:
        return f"{self.first.isoformat()}_{self.last.isoformat()}"


@dataclass
class ChunkSummary:
    """What a run did: archives read and failed, rows by stream, rejects by file, rows written."""

    first: str
    last: str
    streams: list[str]
    archives: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    rows_read: dict[str, int] = field(default_factory=dict)
    clean_rows: dict[str, int] = field(default_factory=dict)
    rejects: dict[str, int] = field(default_factory=dict)
    outside_period: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)
    ignored_objects: list[str] = field(default_factory=list)
    unselected: list[str] = field(default_factory=list)
    refused_members: dict[str, str] = field(default_factory=dict)
    repeated_members: dict[str, int] = field(default_factory=dict)
    timestamps_in_seconds: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    def line(self) -> str:
        return (
            f"{self.first}..{self.last}: {len(self.archives)} archive(s), {len(self.failed)} failed, "
            f"{sum(self.rows_read.values()):,} row(s) read, {sum(self.clean_rows.values()):,} clean, "
            f"{sum(self.rejects.values()):,} reject(s), {sum(self.outside_period.values()):,} outside their export period, "
            f"{len(self.refused_members)} member(s) refused for their paths, {len(self.repeated_members)} name(s) on several members"
        )


def run_chunk(spark: SparkSession, storage: Storage, params: ChunkParams) -> ChunkSummary:
    """Read, clean and publish the chunk; write its report; return the summary (failures included)."""
    archives, ignored = select_archives(storage.list(params.landing), params.first, params.last)
    summary = ChunkSummary(params.first.isoformat(), params.last.isoformat(), list(params.selection.streams))
    summary.archives = [archive.export for archive in archives]
    summary.ignored_objects = ignored
    log.info("%s: %d archive(s) overlap the chunk: %s", params.scope, len(archives), ", ".join(summary.archives) or "none")
    groups: list[MemberGroup] = []
    refused: dict[str, list[RefusedMember]] = {}
    for archive in archives:
        try:
            members = member_groups(archive, params.selection, storage)
        except UnreadableArchive as error:
            summary.failed[archive.export] = str(error)
            continue
        found = members.groups
        refused[archive.export] = members.refused
        summary.refused_members.update({f"{archive.export}.zip/{m.name}": m.reason for m in members.refused})
        summary.repeated_members.update({f"{archive.export}.zip/{name}": count for name, count in members.repeated.items()})
        if not found:
            # Nothing selected from this archive (a participant filter): leave its outputs alone.
            summary.unselected.append(archive.export)
            log.info(
                "%s: no member matches the selected streams and participants; its outputs are left as they are", archive.export
            )
        groups += found
    run_id = f"{params.scope}-{uuid.uuid4().hex[:12]}"
    targets = Targets(run_id, params.clean, params.timestream_ready, params.rejects, params.max_csv_bytes)
    try:
        results = _clean_in_tasks(spark, groups, targets)
        for result in results:
            if result.error:
                summary.failed.setdefault(result.export, result.error)
        good = [a for a in archives if a.export not in summary.failed and a.export not in summary.unselected]
        if good:
            good_results = [r for r in results if r.export not in summary.failed]
            _publish(storage, params, summary, good, good_results, {a.export: refused[a.export] for a in good}, run_id)
    finally:
        for url in (
            params.clean,
            params.timestream_ready,
            params.rejects,
            params.duplicate_log,
            params.wear_time,
            params.devices,
        ):
            discard_staging(storage, url, run_id)
    storage.write_text(join(params.reports, f"{params.scope}.json"), summary.to_json() + "\n")
    for export, message in summary.failed.items():
        log.error("archive %s failed: %s", export, message)
    log.info(summary.line())
    return summary


def _clean_in_tasks(spark: SparkSession, groups: list[MemberGroup], targets: Targets) -> list[GroupResult]:
    """One task per device stream, largest first; an archive's metadata files share one task."""
    if not groups:
        return []
    streams = sorted((g for g in groups if g.kind != "metadata"), key=lambda g: -g.size)
    metadata: dict[str, list[MemberGroup]] = defaultdict(list)
    for group in groups:
        if group.kind == "metadata":
            metadata[group.archive.export].append(group)
    work = [[group] for group in streams] + list(metadata.values())
    log.info("%d device stream(s) in %d task(s)", len(streams), len(work))
    return spark.sparkContext.parallelize(work, len(work)).flatMap(lambda part: process_groups(part, targets)).collect()


def _publish(
    storage: Storage,
    params: ChunkParams,
    summary: ChunkSummary,
    archives: list[Archive],
    results: list[GroupResult],
    refused: dict[str, list[RefusedMember]],
    run_id: str,
) -> None:
    streams = params.selection.streams
    exports = [archive.export for archive in archives]
    stream_prefixes = [outputs.partition_folder([("export", e), ("stream", s)]) for e in exports for s in streams]
    export_prefixes = [outputs.partition_folder([("export", e)]) for e in exports]
    per_day = _count_days(results)
    _summarise(summary, archives, results, per_day)

    # The batch-load-ready output also owns its former export=/stream= folders, so a rerun clears them.
    ready_prefixes = [outputs.load_folder(e, s) for e in exports for s in streams] + stream_prefixes
    refusals = _stage_refused(storage, params.rejects, run_id, refused)
    for url, attribute, owned in (
        (params.clean, "clean_files", stream_prefixes),
        (params.timestream_ready, "timestream_files", ready_prefixes),
        (params.rejects, "reject_files", stream_prefixes),
    ):
        staged: dict[str, set[str]] = defaultdict(set)
        for result in results:
            for folder, names in getattr(result, attribute).items():
                staged[folder] |= names
        if url == params.rejects:
            for folder, name in refusals.items():
                staged[folder].add(name)
        # Clean goes first: refused, nothing of the run is published.
        guard = ShrinkGuard(allowed=params.allow_shrink) if url == params.clean else None
        publish(storage, url, run_id, staged, owned, shrink_guard=guard)

    logs = {
        outputs.partition_folder([("export", export), ("stream", stream)]): table
        for (export, stream), table in tables.duplicate_log(results).items()
    }
    _publish_small(storage, params.duplicate_log, run_id, logs, stream_prefixes)
    if "eda" in streams:
        worn = {outputs.partition_folder([("export", e)]): t for e, t in tables.wear_time(results).items()}
        summary.written["wear_time"] = _publish_small(storage, params.wear_time, run_id, worn, export_prefixes)
    found = {outputs.partition_folder([("export", e)]): t for e, t in tables.devices(results).items()}
    summary.written["devices"] = _publish_small(storage, params.devices, run_id, found, export_prefixes)

    for export in exports:
        for stream in streams:
            rows = {
                day: counts.clean
                for (e, s, day), counts in sorted(per_day.items())
                if e == export and s == stream and counts.clean
            }
            storage.write_text(join(params.load_counts, export, f"{stream}.json"), json.dumps(rows, sort_keys=True) + "\n")
            # The counts of the former export=/stream= layout would plan loads of folders no longer written.
            storage.delete(join(params.load_counts, f"export={export}", f"stream={stream}.json"))


def _stage_refused(storage: Storage, rejects_url: str, run_id: str, refused: dict[str, list[RefusedMember]]) -> dict[str, str]:
    """Stage one rejects file per export and stream of the members refused for their paths; returns folder -> name."""
    name = "part-refused-members.json"
    lines: dict[str, list[str]] = defaultdict(list)
    for export, members in refused.items():
        for member in members:
            if member.kind == "metadata":
                continue
            folder = outputs.partition_folder([("export", export), ("stream", member.kind)])
            record = {"ppt_id": None, "dev_id": None, "file": member.name, "line": None, "reason": member.reason, "record": None}
            lines[folder].append(json.dumps(record, sort_keys=True))
    for folder, found in lines.items():
        storage.write_text(join(staging_url(rejects_url, run_id), folder + name), "\n".join(found) + "\n")
    return {folder: name for folder in lines}


def _publish_small(storage: Storage, url: str, run_id: str, by_folder: dict, owned: list[str]) -> int:
    """Write one Parquet file per partition aside, publish them; returns the rows written."""
    name = "part-00000.parquet"
    for folder, table in by_folder.items():
        outputs.write_parquet(storage, join(staging_url(url, run_id), folder + name), table)
    publish(storage, url, run_id, {folder: {name} for folder in by_folder}, owned)
    return sum(table.num_rows for table in by_folder.values())


def _count_days(results: list[GroupResult]) -> dict[tuple[str, str, str], DayCounts]:
    """The day counts summed per (export, stream, date)."""
    totals: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0] * 6)
    for result in results:
        for day, counts in result.days.items():
            sums = totals[(result.export, result.kind, day)]
            for index, value in enumerate(asdict(counts).values()):
                sums[index] += value
    return {key: DayCounts(*sums) for key, sums in totals.items()}


def _summarise(summary: ChunkSummary, archives: list[Archive], results: list[GroupResult], per_day: dict) -> None:
    periods = {archive.export: (archive.start.isoformat(), archive.end.isoformat()) for archive in archives}
    read: dict[str, int] = defaultdict(int)
    clean: dict[str, int] = defaultdict(int)
    outside: dict[str, int] = defaultdict(int)
    duplicates: dict[str, int] = defaultdict(int)
    for (export, stream, day), counts in per_day.items():
        read[stream] += counts.total_rows
        clean[stream] += counts.clean
        start, end = periods[export]
        if not start <= day <= end:
            outside[export] += counts.clean
        for name in ("total_rows", "total_dupes", "perfect", "nan", "unclear"):
            duplicates[name] += getattr(counts, name)
    for result in results:
        for member, count in result.rejects.items():
            summary.rejects[f"{result.export}.zip/{member}"] = count
            read[result.kind] += count
        summary.timestamps_in_seconds += [f"{result.export}.zip/{member}" for member in result.in_seconds]
    summary.timestamps_in_seconds.sort()
    summary.rows_read.update(read)
    summary.clean_rows.update(clean)
    summary.outside_period.update(outside)
    summary.duplicates.update(duplicates)
    summary.written["clean"] = summary.written["timestream_ready"] = sum(clean.values())
