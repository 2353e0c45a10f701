"""Publishing one chunk of days: the curated hours and the rejects, written aside in tasks, then published whole.

Ownership makes reruns and overlapping chunks safe: a usable reading belongs to the chunk whose
days contain its event time, a reject to the chunk whose days contain its arrival hour. The job's
task runner runs one task per batch of consecutive hours (``read.HourBatch``); each task loads its readings,
grids them (the transform it is given) and writes one Parquet file per ``dt/hour`` and one rejects
file per arrival hour aside. The driver reads the row count of every file back (Parquet footers,
JSON lines), checks it against what the tasks counted, then publishes them (``job_helpers.publish``):
every hour of the chunk is a scope replaced whole, so an hour that no longer has readings is
emptied rather than left stale, and runs of overlapping chunks queue hour by hour.

Raw objects expire (lifecycle rules) while the curated table is kept, so an hour whose own raw
folder is empty is not the chunk's to decide: its published partition and rejects are kept and the
summary names it. The shrink guard's ``allowed`` replaces those hours too, and lets the curated
hours lose more rows than the guard allows otherwise.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import partial

import pyarrow as pa
import pyarrow.parquet as pq

from job_helpers.file_rows import json_lines_rows, parquet_rows
from job_helpers.publish import NewFile, Published, ShrinkGuard, discard_staging, new_run_id, publish, staging_url
from job_helpers.run_report import reconcile
from job_helpers.sensors.hours import chunk_hour_starts, partition
from job_helpers.sensors.read import Chunk, HourBatch
from job_helpers.sensors.transform import HourGrid, Reject
from job_helpers.storage import Storage, join
from job_helpers.tasks import Tasks

log = logging.getLogger(__name__)

PART = "part-00000"

Grids = Callable[[pa.Table, tuple[int, ...]], Iterable[HourGrid]]
"""How a task turns its readings into the grids of its hours (``transform.hour_grids``)."""


class NoReadings(Exception):
    """A chunk found nothing to read; publishing would empty every hour of it, so it stops instead."""


@dataclass(frozen=True)
class ExportSummary:
    first: date
    last: date
    sensors: int
    readings_in: int
    rows_out: int
    rejects: int
    kept: tuple[str, ...] = ()
    reasons: dict[str, int] = field(default_factory=dict)
    """Rejects by reason."""
    published: tuple[Published, ...] = ()

    def line(self) -> str:
        kept = f", {len(self.kept)} published hour(s) kept, their raw objects gone: {' '.join(self.kept)}" if self.kept else ""
        return (
            f"{self.first}..{self.last}: {self.sensors} sensor(s), {self.readings_in:,} reading(s) in, "
            f"{self.rows_out:,} row(s) out, {self.rejects:,} reject(s){kept}"
        )


@dataclass(frozen=True)
class HourCount:
    """What one hour's curated file holds."""

    readings: int
    rows: int
    sensors: frozenset[str]


@dataclass
class StagedFiles:
    """What one task wrote aside: curated partitions with their counts, rejects partitions, rejects by reason."""

    curated: dict[str, HourCount] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    reasons: Counter[str] = field(default_factory=Counter)


def export_chunk(
    tasks: Tasks,
    storage: Storage,
    chunk: Chunk,
    grids: Grids,
    curated_url: str,
    rejects_url: str,
    *,
    shrink_guard: ShrinkGuard = ShrinkGuard(),
) -> ExportSummary:
    """Grid the chunk's readings into ``curated_url`` in ``tasks``, file its rejects under ``rejects_url``; return the counts.

    The chunk's hours without raw objects keep their published partitions unless the guard allows shrinking.
    """
    first, last = chunk.first, chunk.last
    if not chunk.batches:
        raise NoReadings(f"no readings at all for {first}..{last}: check the source location or table; nothing was changed")
    run_id = new_run_id(f"{first}_{last}")
    hours = chunk_hour_starts(first, last)
    kept = set() if shrink_guard.allowed else _published_hours(storage, curated_url, chunk.unread)
    try:
        results = tasks.map(
            partial(stage_batch, grids=grids, curated_url=curated_url, rejects_url=rejects_url, run_id=run_id), chunk.batches
        )
        counts = {folder: count for r in results for folder, count in r.curated.items() if folder not in kept}
        rows = sum(count.rows for count in counts.values())
        curated = _read_back_reconciled(storage, curated_url, run_id, set(counts), rows, ".parquet", parquet_rows)
        rejected = {folder: n for r in results for folder, n in r.rejected.items()}
        rejects = _read_back_reconciled(
            storage, rejects_url, run_id, set(rejected), sum(rejected.values()), ".json", json_lines_rows
        )
        owned = [partition(hour) for hour in hours if partition(hour) not in kept]
        published = (
            publish(storage, curated_url, run_id, curated, owned, shrink_guard=shrink_guard, count_rows=parquet_rows),
            publish(
                storage,
                rejects_url,
                run_id,
                rejects,
                [partition(hour) for hour in hours if shrink_guard.allowed or hour not in chunk.unread],
            ),
        )
    finally:
        discard_staging(storage, curated_url, run_id)
        discard_staging(storage, rejects_url, run_id)
    summary = _summary(chunk, counts, sum((r.reasons for r in results), Counter()), kept, published)
    _log_export(summary, curated_url, rejects_url)
    return summary


def _published_hours(storage: Storage, curated_url: str, unread: Iterable[int]) -> set[str]:
    """The partitions of hours without raw objects that already hold published files: kept as they are."""
    return {partition(hour) for hour in unread if next(storage.list(join(curated_url, partition(hour))), None)}


def _read_back_reconciled(
    storage: Storage,
    url: str,
    run_id: str,
    folders: set[str],
    expected: int,
    extension: str,
    count: Callable[[Storage, str], int],
) -> dict[str, NewFile]:
    """The staged files of these partitions, read back; their rows must add up to what the tasks counted."""
    staged = read_back(storage, staging_url(url, run_id), {folder + PART + extension for folder in folders}, count)
    reconcile(url, expected, sum(new.rows or 0 for new in staged.values()))
    return staged


def _summary(
    chunk: Chunk, counts: Mapping[str, HourCount], reasons: Counter[str], kept: set[str], published: tuple[Published, ...]
) -> ExportSummary:
    return ExportSummary(
        chunk.first,
        chunk.last,
        len(frozenset().union(*(count.sensors for count in counts.values()))),
        sum(count.readings for count in counts.values()),
        sum(count.rows for count in counts.values()),
        reasons.total(),
        tuple(sorted(kept)),
        dict(sorted(reasons.items())),
        published,
    )


def _log_export(summary: ExportSummary, curated_url: str, rejects_url: str) -> None:
    if summary.rejects:
        log.warning("%d reading(s) rejected for %s..%s, see %s", summary.rejects, summary.first, summary.last, rejects_url)
    if summary.kept:
        log.warning(
            "kept %d published hour(s) of %s whose raw objects are gone (rerun with --allow-shrink true to replace them): %s",
            len(summary.kept),
            curated_url,
            " ".join(summary.kept),
        )
    log.info("%s -> %s", summary.line(), curated_url)


def stage_batch(batch: HourBatch, grids: Grids, curated_url: str, rejects_url: str, run_id: str) -> StagedFiles:
    """Inside a task: load the batch, grid each of its hours and write the files aside."""
    storage = Storage()
    readings, rejects = batch.load(storage)
    staged = StagedFiles()
    for grid in grids(readings, batch.hours):
        folder = partition(grid.hour)
        url = join(staging_url(curated_url, run_id), folder + PART + ".parquet")
        storage.write_with(url, partial(pq.write_table, grid.rows))
        staged.curated[folder] = HourCount(grid.readings, grid.rows.num_rows, grid.sensors)
    by_hour: dict[int, list[Reject]] = {}
    for reject in rejects:
        by_hour.setdefault(reject.arrival - reject.arrival % 3600, []).append(reject)
    for hour, found in sorted(by_hour.items()):
        folder = partition(hour)
        text = "".join(reject.to_json() + "\n" for reject in found)
        storage.write_text(join(staging_url(rejects_url, run_id), folder + PART + ".json"), text)
        staged.rejected[folder] = len(found)
        staged.reasons.update(reject.reason for reject in found)
    return staged


def read_back(storage: Storage, staging: str, paths: set[str], count: Callable[[Storage, str], int]) -> dict[str, NewFile]:
    """The staged files, each published under its own name, with the rows read back from it."""
    return {path: NewFile(path, count(storage, staging + path)) for path in sorted(paths)}
