"""One chunk of the embrace_dedupe job: the archives' members read and cleaned in tasks, device-day by device-day, and published.

The chunk reads the archives whose export period overlaps its dates. The driver reads each
archive's central directory and groups the members by device and stream across the archives;
the job's task runner spreads the device streams over tasks (see ``stream_tasks``), each combining the new rows
with the rows other exports already published for the same device-days and writing aside. The
driver then checks that the counts add up and publishes everything (see ``write``): a reading held
by several exports (a study's ALLSITES export and a site's export of the same days, a re-export)
is published once, and reruns and overlapping backfills give the same tables. The run replaces the
rows of the archives it read: the device-days they held before are revisited (their manifests),
so an archive that no longer holds a day leaves it. An archive that cannot be read (corrupt zip,
bad CRC, a header not matching its stream) fails alone: the device streams are read again without
it, its rows stay as they were published, the others are published, and the result names it.
Members refused (paths, limits, content) are rejects of their stream, written by the driver.

Two runs may recompute the same device-days at once (chunks whose exports hold the same
readings): the claim of the clean table's day folders refuses device-days another run published
after this run's tasks read them (``recomputed.Changed``), and the run reads those device streams
again and recomputes them against what is published now, up to ``ROUNDS`` times.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from job_helpers.embrace import read, tables, write
from job_helpers.embrace.archives import METADATA, Archive, Member
from job_helpers.embrace.members import MemberGroup, RefusedMember, UnreadableArchive
from job_helpers.embrace.parameters import Parameters
from job_helpers.embrace.published import DeviceDay, read_manifest, update_manifest
from job_helpers.embrace.recomputed import Changed, Recomputed
from job_helpers.embrace.stream_tasks import DeviceStream, MetadataResult, StreamResult, Targets, clean_in_tasks
from job_helpers.embrace.transform import DayCounts
from job_helpers.publish import Published, PublishError, new_run_id
from job_helpers.run_report import reconcile
from job_helpers.storage import Storage
from job_helpers.tasks import Tasks

log = logging.getLogger(__name__)

ROUNDS = 5  # recomputations of device-days other runs changed meanwhile before a run gives up
StreamKey = tuple[str, str, str]


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
    recomputed: int = 0
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
            "dropped": dict(self.dropped),
            "overlap": {"by_exports": dict(self.overlap_by_exports), "by_participant": dict(self.overlap_by_participant)},
            "refused_members": self.refused_members,
            "repeated_members": self.repeated_members,
            "timestamps_in_seconds": self.timestamps_in_seconds,
            "recomputed": self.recomputed,
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


def clean_and_publish(tasks: Tasks, storage: Storage, landing: read.Landing, params: Parameters) -> ChunkResult:
    """Read each archive's members, clean them device-day by device-day in ``tasks``, publish."""
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
        _clean_and_publish(tasks, storage, params, run_id, result, chosen, groups, refused, previous)
    finally:
        write.discard_run_staging(storage, params, run_id)
    for export, message in result.failed.items():
        log.error("archive %s failed: %s", export, message)
    log.info("%s: %s", params.scope, result.line())
    return result


def _clean_and_publish(
    tasks: Tasks,
    storage: Storage,
    params: Parameters,
    run_id: str,
    result: ChunkResult,
    chosen: list[Archive],
    groups: list[MemberGroup],
    refused: dict[str, list[RefusedMember]],
    previous: dict[str, list[DeviceDay]],
) -> None:
    """Clean the device streams in tasks and publish; read again without the archives that fail, and
    recompute the device-days other runs published meanwhile."""
    cleaned: dict[StreamKey, StreamResult] = {}
    devices: list[MetadataResult] | None = None
    revisit: dict[StreamKey, set[str]] = defaultdict(set)
    while True:
        good = [archive for archive in chosen if archive.export not in result.failed]
        exports = [archive.export for archive in good]
        streams, metadata = _work(groups, exports, previous, params, revisit)
        targets = Targets.of_run(params.outputs, run_id, exports, params.max_csv_bytes, params.limits)
        todo = [stream for stream in streams if stream.key not in cleaned]
        found = clean_in_tasks(tasks, todo, metadata if devices is None else [], targets)
        if _archives_failed(result, found):
            # The device streams are read again without the archives that failed: their rows stay as published.
            cleaned.clear()
            devices = None
            continue
        cleaned.update({stream.key: stream for stream in _stream_results(found)})
        if devices is None:
            devices = [found_ for found_ in found if isinstance(found_, MetadataResult)]
        if not exports:
            return
        try:
            _publish(storage, params, run_id, result, good, list(cleaned.values()), devices, refused, previous)
            return
        except Changed as changed:
            _recompute(changed, result, cleaned, revisit)


def _stream_results(found: Sequence[StreamResult | MetadataResult]) -> list[StreamResult]:
    """The device streams' results; PublishError when a task could not read what is published."""
    streams = [stream for stream in found if isinstance(stream, StreamResult)]
    problems = [stream.problem for stream in streams if stream.problem]
    if problems:
        raise PublishError(f"{problems[0]} ({len(problems)} device stream(s) could not read what is published)")
    return streams


def _archives_failed(result: ChunkResult, found: Sequence[StreamResult | MetadataResult]) -> bool:
    """Whether a task could not read an archive; the archives that failed go into the result."""
    failures = _failures(found)
    for export, message in failures.items():
        log.error("archive %s failed: %s; reading the other archives again without it", export, message)
    result.failed.update(failures)
    return bool(failures)


def _recompute(
    changed: Changed, result: ChunkResult, cleaned: dict[StreamKey, StreamResult], revisit: dict[StreamKey, set[str]]
) -> None:
    """Mark the device streams of the device-days other runs changed to be read again, up to ``ROUNDS`` times."""
    result.recomputed += 1
    if result.recomputed > ROUNDS:
        raise PublishError(
            f"{changed}; recomputed {ROUNDS} times while other runs kept publishing these days, nothing "
            f"was published. Rerun once run {changed.other} has ended"
        ) from None
    log.warning("%s; reading those device streams again and recomputing them", changed)
    for device_day in changed.device_days:
        key = (device_day.ppt_id, device_day.dev_id, device_day.stream)
        cleaned.pop(key, None)
        revisit[key].add(device_day.day)


def _work(
    groups: Sequence[MemberGroup],
    exports: Sequence[str],
    previous: dict[str, list[DeviceDay]],
    params: Parameters,
    more: dict[StreamKey, set[str]],
) -> tuple[list[DeviceStream], list[MemberGroup]]:
    """The device streams of ``exports`` (with the days their manifests list for each, and ``more``
    days to recompute) and their metadata groups."""
    parts: dict[tuple[str, str, str], list[MemberGroup]] = defaultdict(list)
    metadata = []
    for group in groups:
        if group.archive.export not in exports:
            continue
        if group.kind == METADATA:
            metadata.append(group)
        else:
            parts[(group.ppt_id, group.dev_id, group.kind)].append(group)
    revisit: dict[StreamKey, set[str]] = defaultdict(set, {key: set(days) for key, days in more.items()})
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
    streams: list[StreamResult],
    metadata: list[MetadataResult],
    refused: dict[str, list[RefusedMember]],
    previous: dict[str, list[DeviceDay]],
) -> None:
    """Count, reconcile and publish; raises ``Changed`` (before anything is published) for device-days
    other runs published since the tasks read them."""
    clean_url = params.outputs["clean"]
    exports = [archive.export for archive in archives]
    refusals = _refusals(result, exports, streams, refused)
    _count(result, archives, streams)
    reconcile(clean_url, sum(result.read.values()), result.clean_rows.total(), result.rejected.total(), dict(result.dropped))
    staged = _staged(streams)
    seen = {DeviceDay(found.kind, day, found.ppt_id, found.dev_id): found.seen[day] for found in streams for day in found.days}
    produced = {folder + name for folder, names in staged["clean"].items() for name in names}
    recomputed = Recomputed.of(run_id, clean_url, seen, produced)
    stale = recomputed.stale(storage)
    if stale is not None:
        raise stale
    holds = _hold(storage, clean_url, exports, streams)
    held_rows = sum(found.held_rows for found in streams)
    try:
        clean = write.publish_clean(
            storage, params, run_id, exports, recomputed, staged["clean"], result.clean_rows.total() + held_rows
        )
    except Changed as changed:
        # The claim stops at the first day changed (its claims released): the others are recomputed in the same round.
        raise changed.joined(recomputed.stale(storage)) from None
    small = tables.small_tables(
        params.outputs,
        streams,
        recomputed.device_days,
        params.selection.streams,
        metadata,
        lambda row: row["export"] in exports and params.selection.wants(Member("", row["ppt_id"], row["dev_id"], METADATA)),
    )
    csv_rows = {path: rows for found in streams for path, rows in found.csv_rows.items()}
    written, derived = write.publish_derived(storage, params, run_id, exports, recomputed, staged, csv_rows, small, refusals)
    result.written.update(written)
    result.published = [clean, *derived]
    for export in exports:
        update_manifest(storage, clean_url, export, partial(_settled, storage, recomputed, holds[export]))


def _refusals(
    result: ChunkResult, exports: Sequence[str], streams: Sequence[StreamResult], refused: dict[str, list[RefusedMember]]
) -> dict[str, list[RefusedMember]]:
    """The members refused by export: from the central directories and from the tasks (also into the report)."""
    refusals = {export: list(refused[export]) for export in exports}
    for found in streams:
        for export, member in found.refused:
            refusals[export].append(member)
            result.refused_members[f"{export}.zip/{member.name}"] = member.reason
    return refusals


def _staged(streams: Sequence[StreamResult]) -> dict[str, dict[str, set[str]]]:
    """The files the tasks staged, by output and folder."""
    staged: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for found in streams:
        for name, by_folder in found.files.items():
            for folder, names in by_folder.items():
                staged[name][folder] |= names
    return staged


def _hold(storage: Storage, clean_url: str, exports: Sequence[str], streams: Sequence[StreamResult]) -> dict[str, set[DeviceDay]]:
    """The device-days each export holds after this run, added to its manifest before anything is published."""
    holds: dict[str, set[DeviceDay]] = defaultdict(set)
    for found in streams:
        for export, device_days in found.device_days().items():
            holds[export] |= set(device_days)
    for export in exports:
        # Until the publish is done, a manifest lists the days of both the old and the new rows.
        update_manifest(storage, clean_url, export, holds[export].union)
    return holds


def _settled(storage: Storage, recomputed: Recomputed, held: set[DeviceDay], current: set[DeviceDay]) -> set[DeviceDay]:
    """An export's manifest once published: the device-days it holds now added, those it no longer holds
    taken out where they are still this run's (another run that recomputed one since decides it)."""
    gone = {d for d in current if d in recomputed.device_days and d not in held}
    return (current - (recomputed.owned(storage, gone) if gone else set())) | held


def _count(result: ChunkResult, archives: list[Archive], streams: list[StreamResult]) -> None:
    """The report's counts of the device streams (afresh: a run may count again after recomputing some)."""
    periods = {archive.export: (archive.start.isoformat(), archive.end.isoformat()) for archive in archives}
    result.read, result.clean_rows, result.rejected = Counter(), Counter(), Counter()
    result.rejects_by_file, result.outside_period, result.duplicates = {}, Counter(), DayCounts()
    result.dropped, result.overlap_by_exports, result.overlap_by_participant = Counter(), Counter(), Counter()
    result.timestamps_in_seconds = []
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
