"""What a chunk of days reads, as batches of consecutive hours whose readings are loaded inside tasks.

``raw_json``: readings as Firehose lands them, JSON lines under ``YYYY/MM/DD/HH/`` by arrival hour.

Objects are read whatever their names (Firehose writes them without an extension); names that
start with ``.`` or ``_`` are temporary or marker files and skipped. A reading arrives in the
hour it happened or, buffered, in the next one; so a chunk of days reads its own hour folders
plus the first hour after it, and keeps the readings that happened inside the chunk. A reading
whose event time is in neither its folder's hour nor the hour before is rejected: no chunk would
otherwise be sure to see it. Raw objects expire, so the hours whose own folder is empty are named
too: what was published for them is not this chunk's to decide.

``timestream``: the table is queried on the driver, one hour at a time (``timestream.py``), and
the answers are checked like raw readings.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import PurePosixPath
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from job_helpers.job_failed import JobFailed
from job_helpers.sensors.hours import chunk_hour_starts
from job_helpers.sensors.json_lines import parse_readings
from job_helpers.sensors.parameters import RAW_JSON, Parameters
from job_helpers.sensors.timestream import TimestreamError, hour_queries, query_rows, readings_table, timestream_client
from job_helpers.sensors.transform import READING_SCHEMA, Reject, reject_reasons, split_rejects
from job_helpers.storage import Storage, StorageError, join

log = logging.getLogger(__name__)

LATE = "event_time is outside its folder's hour and the hour before (over an hour late, or early)"
_FOLDER = r"/(\d{4})/(\d{2})/(\d{2})/(\d{2})/"


def hour_prefix(raw_url: str, hour: datetime) -> str:
    """The folder of one arrival hour, e.g. ``<raw>/2024/03/01/07/``."""
    return join(raw_url, f"{hour:%Y/%m/%d/%H}/")


def chunk_hours(first: date, last: date) -> list[datetime]:
    """The arrival hours a chunk reads: every hour of its days and the first hour after them."""
    start = datetime.combine(first, time(), UTC)
    count = ((last - first).days + 1) * 24 + 1
    return [start + timedelta(hours=n) for n in range(count)]


def list_raw_files(storage: Storage, raw_url: str, first: date, last: date) -> list[str]:
    """Every raw object a chunk reads, in URL order (files and folders named ``.*`` or ``_*`` skipped)."""
    files = []
    for hour in chunk_hours(first, last):
        prefix = hour_prefix(raw_url, hour)
        for stored in storage.list(prefix):
            parts = PurePosixPath(stored.url[len(prefix) :]).parts
            if not any(part.startswith((".", "_")) for part in parts) and stored.size > 0:
                files.append(stored.url)
    log.info("%d raw file(s) under %s for %s..%s", len(files), raw_url, first, last)
    return files


def read_raw_file(storage: Storage, url: str, arrival: int) -> tuple[pa.Table, list[Reject]]:
    """The usable readings of one raw object, and its rejects filed under ``arrival`` (epoch s)."""
    table, rejects = parse_readings(storage.read_bytes(url), url, arrival)
    late = pc.or_(
        pc.less(table["event_time"], (arrival - 3600) * 1000), pc.greater_equal(table["event_time"], (arrival + 3600) * 1000)
    )
    extra = pc.if_else(pc.fill_null(late, False), pa.scalar(LATE), pa.scalar(None, pa.string()))
    usable, invalid = split_rejects(table, reject_reasons(table, extra), url, arrival)
    return usable, rejects + invalid


def folder_hour(url: str) -> int:
    """The epoch second of the arrival hour a raw object's folder names."""
    match = re.search(_FOLDER, url)
    if match is None:
        raise ValueError(f"{url}: not under a YYYY/MM/DD/HH/ folder")
    year, month, day, hour = (int(group) for group in match.groups())
    return int(datetime(year, month, day, hour, tzinfo=UTC).timestamp())


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
class Chunk:
    """What one run reads: its days, its source (as the run report names it), the batches and the
    hours without raw objects of their own (``unread``)."""

    source: str
    first: date
    last: date
    batches: Sequence[HourBatch]
    unread: frozenset[int] = frozenset()


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


def hours_without_raw(files: list[str], first: date, last: date) -> frozenset[int]:
    """The chunk's hours whose own arrival folder holds no raw object (expired, or never written)."""
    return frozenset(chunk_hour_starts(first, last)) - {folder_hour(url) for url in files}


def raw_chunk(storage: Storage, raw_url: str, first: date, last: date, tasks: int) -> Chunk:
    """The raw objects of the chunk's days in about ``tasks`` batches, and its hours without raw objects."""
    files = list_raw_files(storage, raw_url, first, last)
    return Chunk(raw_url, first, last, raw_batches(files, first, last, tasks), hours_without_raw(files, first, last))


def timestream_chunk(client: Any, database: str, table: str, first: date, last: date) -> Chunk:
    """The chunk's readings from Timestream, one batch per hour, checked like the raw source's."""
    source = f"timestream:{database}.{table}"
    batches = []
    total = 0
    for hour, query in zip(chunk_hour_starts(first, last), hour_queries(database, table, first, last)):
        typed = readings_table(query_rows(client, query))
        if not typed.num_rows:
            continue
        total += typed.num_rows
        usable, rejects = split_rejects(typed, reject_reasons(typed), source, hour)
        batches.append(QueriedBatch((hour,), usable, tuple(rejects)))
    log.info("%d reading(s) from Timestream %s.%s for %s..%s", total, database, table, first, last)
    return Chunk(source, first, last, batches)


def chunk(storage: Storage, params: Parameters, tasks: int) -> Chunk:
    """The chunk's readings from ``--source``, in about ``tasks`` batches of hours; JobFailed says why they cannot be read."""
    try:
        if params.source == RAW_JSON:
            return raw_chunk(storage, params.raw, params.first, params.last, tasks)
        return timestream_chunk(
            timestream_client(), params.timestream_database, params.timestream_table, params.first, params.last
        )
    except (StorageError, TimestreamError) as error:
        raise JobFailed(f"cannot read the {params.source} readings: {error}") from error
