"""One chunk of the embrace_dedupe job, archive by archive: members read, cleaned in tasks, every output published.

The chunk owns the archives whose export period overlaps its dates. The driver reads each
archive's central directory; Spark spreads the archives' device streams over tasks (see
``stream_tasks``), each writing aside; the driver then builds the small tables and publishes
everything (see ``write``), so reruns and overlapping backfills give the same tables. An archive
that cannot be read (corrupt zip, bad CRC, a header not matching its stream) fails alone: its old
outputs stay untouched, the others are published, and the result names it. Members refused for
their paths are rejects of their stream, written by the driver.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import SparkSession

from job_helpers.embrace import read, tables, write
from job_helpers.embrace.archives import Archive
from job_helpers.embrace.members import MemberGroup, RefusedMember, UnreadableArchive
from job_helpers.embrace.parameters import Parameters
from job_helpers.embrace.stream_tasks import GroupResult, Targets, clean_in_tasks
from job_helpers.embrace.transform import DayCounts
from job_helpers.publish import Published, new_run_id
from job_helpers.storage import Storage

log = logging.getLogger(__name__)


@dataclass
class ChunkResult:
    """What a chunk did, as the run report holds it: rows read by stream, rows written by output,
    rejects by reason, failed archives (export → why), and the facts only Embrace has."""

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
    refused_members: dict[str, str] = field(default_factory=dict)
    repeated_members: dict[str, int] = field(default_factory=dict)
    timestamps_in_seconds: list[str] = field(default_factory=list)
    published: list[Published] = field(default_factory=list)

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
            "refused_members": self.refused_members,
            "repeated_members": self.repeated_members,
            "timestamps_in_seconds": self.timestamps_in_seconds,
        }

    def line(self) -> str:
        return (
            f"{len(self.archives)} archive(s), {len(self.failed)} failed, {self.read.total():,} row(s) read, "
            f"{self.clean_rows.total():,} clean, {self.rejected.total():,} reject(s), "
            f"{self.outside_period.total():,} outside their export period, "
            f"{len(self.refused_members)} member(s) refused for their paths, "
            f"{len(self.repeated_members)} name(s) on several members"
        )


def clean_and_publish(spark: SparkSession, storage: Storage, landing: read.Landing, params: Parameters) -> ChunkResult:
    """Read each archive's members, clean them in Spark tasks, publish the archives that succeeded."""
    result = ChunkResult(list(params.selection.streams), [archive.export for archive in landing.archives], landing.ignored)
    log.info("%s: %d archive(s) overlap the chunk: %s", params.scope, len(result.archives), ", ".join(result.archives) or "none")
    groups: list[MemberGroup] = []
    refused: dict[str, list[RefusedMember]] = {}
    for archive in landing.archives:
        try:
            members = read.member_groups(archive, params.selection, storage)
        except UnreadableArchive as error:
            result.failed[archive.export] = str(error)
            continue
        refused[archive.export] = members.refused
        result.refused_members.update({f"{archive.export}.zip/{m.name}": m.reason for m in members.refused})
        result.repeated_members.update({f"{archive.export}.zip/{name}": count for name, count in members.repeated.items()})
        if not members.groups:
            # Nothing selected from this archive (a participant filter): leave its outputs alone.
            result.unselected.append(archive.export)
            log.info(
                "%s: no member matches the selected streams and participants; its outputs are left as they are", archive.export
            )
        groups += members.groups
    run_id = new_run_id(params.scope)
    try:
        cleaned = clean_in_tasks(spark, groups, Targets.of_run(params.outputs, run_id, params.max_csv_bytes))
        for found in cleaned:
            if found.error:
                result.failed.setdefault(found.export, found.error)
        good = [a for a in landing.archives if a.export not in result.failed and a.export not in result.unselected]
        if good:
            good_results = [r for r in cleaned if r.export not in result.failed]
            _publish(storage, params, run_id, result, good, good_results, {a.export: refused[a.export] for a in good})
    finally:
        write.discard_run_staging(storage, params, run_id)
    for export, message in result.failed.items():
        log.error("archive %s failed: %s", export, message)
    log.info("%s: %s", params.scope, result.line())
    return result


def _publish(
    storage: Storage,
    params: Parameters,
    run_id: str,
    result: ChunkResult,
    archives: list[Archive],
    cleaned: list[GroupResult],
    refused: dict[str, list[RefusedMember]],
) -> None:
    exports = [archive.export for archive in archives]
    per_day = _count_days(cleaned)
    _count(result, archives, cleaned, per_day)
    staged: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for found in cleaned:
        for name, by_folder in found.files.items():
            for folder, names in by_folder.items():
                staged[name][folder] |= names
    built = tables.small_tables(cleaned, params.selection.streams)
    written, published = write.publish_outputs(
        storage, params, run_id, exports, staged, built, refused, result.clean_rows.total()
    )
    result.written.update(written)
    result.published += published
    write.write_load_counts(storage, params.outputs["load_counts"], exports, params.selection.streams, per_day)


def _count_days(cleaned: Sequence[GroupResult]) -> dict[tuple[str, str, str], DayCounts]:
    """The day counts summed per (export, stream, date)."""
    totals: dict[tuple[str, str, str], DayCounts] = defaultdict(DayCounts)
    for found in cleaned:
        for day, counts in found.days.items():
            totals[(found.export, found.kind, day)] += counts
    return dict(totals)


def _count(result: ChunkResult, archives: list[Archive], cleaned: list[GroupResult], per_day: dict) -> None:
    periods = {archive.export: (archive.start.isoformat(), archive.end.isoformat()) for archive in archives}
    for (export, stream, day), counts in per_day.items():
        result.read[stream] += counts.total_rows
        result.clean_rows[stream] += counts.clean
        start, end = periods[export]
        if not start <= day <= end:
            result.outside_period[export] += counts.clean
        result.duplicates += counts
    for found in cleaned:
        for member, count in found.rejects.items():
            result.rejects_by_file[f"{found.export}.zip/{member}"] = count
            result.read[found.kind] += count
        result.rejected.update(found.reasons)
        result.timestamps_in_seconds += [f"{found.export}.zip/{member}" for member in found.in_seconds]
    result.timestamps_in_seconds.sort()
    result.written["clean"] = result.written["timestream_ready"] = result.clean_rows.total()
