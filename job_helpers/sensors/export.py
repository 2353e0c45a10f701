"""One chunk of days: readings from either source to the curated table and the rejects location.

Ownership makes reruns and overlapping chunks safe: a usable reading belongs to the chunk whose
days contain its event time, a reject to the chunk whose days contain its arrival hour. Spark
runs one task per few consecutive hours; each task loads its readings (see ``HourBatch``), grids
them with ``second_grid`` and writes one Parquet file per ``dt/hour`` and one rejects file per
arrival hour aside. The driver then publishes them (``job_helpers.publish``): every hour of the
chunk is replaced whole, so an hour that no longer has readings is emptied rather than left stale.

Raw objects expire (lifecycle rules) while the curated table is kept, so an hour whose own raw
folder is empty is not the chunk's to decide: its published partition and rejects are kept and the
summary names it. ``allow_shrink`` replaces those hours too, and lets the curated table shrink
under a tenth of what it replaces, which the shrink guard otherwise refuses.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from job_helpers.publish import ShrinkGuard, discard_staging, new_run_id, publish, staging_url
from job_helpers.sensors.raw_source import folder_hour, read_raw_file
from job_helpers.sensors.readings import READING_SCHEMA, Reject
from job_helpers.sensors.transform import second_grid
from job_helpers.storage import Storage, join

log = logging.getLogger(__name__)

HOUR_MS = 3_600_000
PART = "part-00000"


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

    def line(self) -> str:
        kept = f", {len(self.kept)} published hour(s) kept, their raw objects gone: {' '.join(self.kept)}" if self.kept else ""
        return (
            f"{self.first}..{self.last}: {self.sensors} sensor(s), {self.readings_in:,} reading(s) in, "
            f"{self.rows_out:,} row(s) out, {self.rejects:,} reject(s){kept}"
        )


class HourBatch(Protocol):
    """Consecutive event hours (epoch s) and how to load their readings inside a task."""

    @property
    def hours(self) -> tuple[int, ...]: ...

    def load(self, storage: Storage) -> tuple[pa.Table, list[Reject]]:
        """Usable readings (at least those of ``hours``) and the rejects filed under ``hours``."""
        ...


@dataclass(frozen=True)
class RawBatch:
    """Raw objects by folder hour: the batch's own hours and the hour after them (late arrivals)."""

    hours: tuple[int, ...]
    files: tuple[tuple[int, tuple[str, ...]], ...]

    def load(self, storage: Storage) -> tuple[pa.Table, list[Reject]]:
        tables, rejects = [], []
        for hour, urls in self.files:
            for url in urls:
                usable, bad = read_raw_file(storage, url, hour)
                tables.append(usable)
                if hour in self.hours:
                    rejects += bad
        return pa.concat_tables(tables) if tables else READING_SCHEMA.empty_table(), rejects


@dataclass(frozen=True)
class QueriedBatch:
    """Readings already fetched (from Timestream) for the batch's hours."""

    hours: tuple[int, ...]
    readings: pa.Table
    rejects: tuple[Reject, ...] = ()

    def load(self, storage: Storage) -> tuple[pa.Table, list[Reject]]:
        return self.readings, list(self.rejects)


@dataclass(frozen=True)
class HourCount:
    """What one hour's curated file holds."""

    readings: int
    rows: int
    sensors: frozenset[str]


@dataclass
class HourResult:
    """What one task wrote: curated partitions with their counts, rejects partitions and their count."""

    curated: dict[str, HourCount] = field(default_factory=dict)
    rejected: list[str] = field(default_factory=list)
    rejects: int = 0


def chunk_bounds(first: date, last: date) -> tuple[int, int]:
    """The chunk's half-open range in epoch seconds: [first 00:00, day after last 00:00) UTC."""
    start = datetime.combine(first, time(), UTC)
    end = datetime.combine(last + timedelta(days=1), time(), UTC)
    return int(start.timestamp()), int(end.timestamp())


def chunk_hour_starts(first: date, last: date) -> list[int]:
    start, end = chunk_bounds(first, last)
    return list(range(start, end, 3600))


def raw_batches(files: list[str], first: date, last: date, tasks: int) -> list[RawBatch]:
    """The chunk's hours in about ``tasks`` runs of consecutive hours, each with its raw objects."""
    by_hour: dict[int, list[str]] = {}
    for url in files:
        by_hour.setdefault(folder_hour(url), []).append(url)
    hours = chunk_hour_starts(first, last)
    size = max(1, math.ceil(len(hours) / max(1, tasks)))
    batches = []
    for start in range(0, len(hours), size):
        own = tuple(hours[start : start + size])
        folders = [*own, own[-1] + 3600]
        found = tuple((hour, tuple(by_hour[hour])) for hour in folders if hour in by_hour)
        if found:
            batches.append(RawBatch(own, found))
    return batches


def hours_without_raw(files: list[str], first: date, last: date) -> set[int]:
    """The chunk's hours whose own arrival folder holds no raw object (expired, or never written)."""
    return set(chunk_hour_starts(first, last)) - {folder_hour(url) for url in files}


def partition(hour: int) -> str:
    """``dt=YYYY-MM-DD/hour=HH/`` of an epoch second."""
    moment = datetime.fromtimestamp(hour, UTC)
    return f"dt={moment:%Y-%m-%d}/hour={moment:%H}/"


def export_chunk(
    spark: Any,
    batches: Sequence[HourBatch],
    first: date,
    last: date,
    curated_url: str,
    rejects_url: str,
    storage: Storage | None = None,
    *,
    unread: set[int] | frozenset[int] = frozenset(),
    allow_shrink: bool = False,
) -> ExportSummary:
    """Grid the chunk's readings into ``curated_url``, file its rejects under ``rejects_url``; return the counts.

    ``unread`` are hours without raw objects of their own: published ones are kept unless ``allow_shrink``.
    """
    if not batches:
        raise NoReadings(f"no readings at all for {first}..{last}: check the source location or table; nothing was changed")
    storage = storage or Storage()
    run_id = new_run_id(f"{first}_{last}")
    hours = chunk_hour_starts(first, last)
    kept = set() if allow_shrink else {partition(h) for h in unread if next(storage.list(join(curated_url, partition(h))), None)}
    try:
        results = (
            spark.sparkContext.parallelize(batches, len(batches))
            .map(lambda batch: export_batch(batch, curated_url, rejects_url, run_id))
            .collect()
        )
        counts = {folder: count for r in results for folder, count in r.curated.items() if folder not in kept}
        curated = {folder: {PART + ".parquet"} for folder in counts}
        owned = [partition(hour) for hour in hours if partition(hour) not in kept]
        publish(storage, curated_url, run_id, curated, owned, shrink_guard=ShrinkGuard(allowed=allow_shrink))
        read = [partition(hour) for hour in hours if allow_shrink or hour not in unread]
        publish(storage, rejects_url, run_id, {folder: {PART + ".json"} for r in results for folder in r.rejected}, read)
    finally:
        discard_staging(storage, curated_url, run_id)
        discard_staging(storage, rejects_url, run_id)
    summary = ExportSummary(
        first,
        last,
        len(frozenset().union(*(count.sensors for count in counts.values()))),
        sum(count.readings for count in counts.values()),
        sum(count.rows for count in counts.values()),
        sum(r.rejects for r in results),
        tuple(sorted(kept)),
    )
    if summary.rejects:
        log.warning("%d reading(s) rejected for %s..%s, see %s", summary.rejects, first, last, rejects_url)
    if kept:
        log.warning(
            "kept %d published hour(s) of %s whose raw objects are gone (rerun with --allow-shrink true to replace them): %s",
            len(kept),
            curated_url,
            " ".join(sorted(kept)),
        )
    log.info("%s -> %s", summary.line(), curated_url)
    return summary


def export_batch(batch: HourBatch, curated_url: str, rejects_url: str, run_id: str, storage: Storage | None = None) -> HourResult:
    """Inside a task: load the batch, grid each of its hours and write the files aside."""
    storage = storage or Storage()
    readings, rejects = batch.load(storage)
    result = HourResult()
    event_hour = pc.divide(readings["event_time"], HOUR_MS)
    for hour in batch.hours:
        mine = readings.filter(pc.equal(event_hour, hour // 3600))
        if mine.num_rows:
            grid = second_grid(mine)
            folder = partition(hour)
            url = join(staging_url(curated_url, run_id), folder + PART + ".parquet")
            storage.write_with(url, partial(pq.write_table, grid))
            result.curated[folder] = HourCount(mine.num_rows, grid.num_rows, frozenset(pc.unique(mine["sensor_id"]).to_pylist()))
    by_hour: dict[int, list[Reject]] = {}
    for reject in rejects:
        by_hour.setdefault(reject.arrival - reject.arrival % 3600, []).append(reject)
    for hour, found in sorted(by_hour.items()):
        folder = partition(hour)
        text = "".join(reject.to_json() + "\n" for reject in found)
        storage.write_text(join(staging_url(rejects_url, run_id), folder + PART + ".json"), text)
        result.rejected.append(folder)
        result.rejects += len(found)
    return result
