"""One chunk of the embrace_dedupe job: archives of the chunk's dates in, every output replaced.

The chunk owns the archives whose export period overlaps its dates. Whatever those archives
produced before is replaced (see ``outputs``), so reruns and overlapping backfills give the same
tables. An archive that cannot be read (corrupt zip, bad CRC, a header not matching its stream)
fails alone: its old outputs stay untouched, the others are published, and the summary names it.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from job_helpers.embrace import cleaning
from job_helpers.embrace.archives import Archive, Selection, select_archives
from job_helpers.embrace.outputs import partition_folder, replace_partitions, rows_per_file, timestream_frame
from job_helpers.embrace.reader import ERROR, read_blocks
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

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    def line(self) -> str:
        return (
            f"{self.first}..{self.last}: {len(self.archives)} archive(s), {len(self.failed)} failed, "
            f"{sum(self.rows_read.values()):,} row(s) read, {sum(self.clean_rows.values()):,} clean, "
            f"{sum(self.rejects.values()):,} reject(s), {sum(self.outside_period.values()):,} outside their export period"
        )


def run_chunk(spark: SparkSession, storage: Storage, params: ChunkParams) -> ChunkSummary:
    """Read, clean and publish the chunk; write its report; return the summary (failures included)."""
    archives, ignored = select_archives(storage.list(params.landing), params.first, params.last)
    summary = ChunkSummary(params.first.isoformat(), params.last.isoformat(), list(params.selection.streams))
    summary.archives = [archive.export for archive in archives]
    summary.ignored_objects = ignored
    log.info("%s: %d archive(s) overlap the chunk: %s", params.scope, len(archives), ", ".join(summary.archives) or "none")
    # Persist the parsed lines, not the blocks: Spark's cache builds batches of 10,000 rows, which
    # for multi-megabyte blocks would hold whole members in memory.
    lines = cleaning.parse_lines(read_blocks(spark, archives, params.selection)).persist(StorageLevel.MEMORY_AND_DISK)
    grouped = None
    try:
        for row in lines.where(F.col("kind") == ERROR).select("export", "record").collect():
            summary.failed.setdefault(row["export"], row["record"])
        good = [archive for archive in archives if archive.export not in summary.failed]
        if good:
            readings = lines.where(F.col("export").isin([a.export for a in good]))
            grouped = cleaning.group_timestamps(readings).persist(StorageLevel.MEMORY_AND_DISK)
            _publish(storage, params, summary, good, readings, grouped)
    finally:
        lines.unpersist()
        if grouped is not None:
            grouped.unpersist()
    storage.write_text(join(params.reports, f"{params.scope}.json"), summary.to_json() + "\n")
    for export, message in summary.failed.items():
        log.error("archive %s failed: %s", export, message)
    log.info(summary.line())
    return summary


def _publish(
    storage: Storage, params: ChunkParams, summary: ChunkSummary, archives: list[Archive], readings: DataFrame, grouped: DataFrame
) -> None:
    streams = params.selection.streams
    exports = [archive.export for archive in archives]
    per_stream = [(export, stream) for export in exports for stream in streams]
    stream_prefixes = [partition_folder([("export", e), ("stream", s)]) for e, s in per_stream]
    export_prefixes = [partition_folder([("export", e)]) for e in exports]

    shared = F.col("n_ok") > 1
    counts = grouped.groupBy("export", "stream", "date").agg(
        F.count_if(F.col("kept")).alias("clean"),
        F.sum(F.col("n_ok") + F.col("n_nan")).alias("valid_lines"),
        F.sum(F.when(shared, F.col("n_ok")).otherwise(0)).alias("total_dupes"),
        F.sum(F.when(shared & F.col("kept"), F.col("n_ok")).otherwise(0)).alias("perfect"),
        F.sum("n_nan").alias("nan"),
        F.sum(F.when(shared & ~F.col("kept"), F.col("n_ok")).otherwise(0)).alias("unclear"),
        F.max(F.length("ppt_id") + F.length("dev_id")).alias("id_width"),
    ).collect()
    produced = {_folder(r, "export", "stream", "date") for r in counts if r["clean"]}
    _count_rows(summary, archives, counts)

    reject_rows = cleaning.rejects(readings)
    reject_counts = reject_rows.groupBy("export", "stream", "file").count().collect()
    for row in reject_counts:
        summary.rejects[f"{row['export']}.zip/{row['file']}"] = row["count"]
        summary.rows_read[row["stream"]] = summary.rows_read.get(row["stream"], 0) + row["count"]
    reject_parts = {_folder(r, "export", "stream") for r in reject_counts}
    replace_partitions(reject_rows, params.rejects, "json", ("export", "stream"), stream_prefixes, reject_parts, storage)

    clean = cleaning.clean_readings(grouped)
    replace_partitions(clean, params.clean, "parquet", ("export", "stream", "date"), stream_prefixes, produced, storage)
    summary.written["clean"] = sum(r["clean"] for r in counts)

    id_width = max((r["id_width"] for r in counts), default=0)
    for stream in streams:
        mine = {folder for folder in produced if f"/stream={stream}/" in folder}
        owned = [prefix for prefix in stream_prefixes if prefix.endswith(f"stream={stream}/")]
        limit = rows_per_file(stream, id_width, params.max_csv_bytes)
        replace_partitions(
            timestream_frame(clean, stream), params.timestream_ready, "csv", ("export", "stream", "date"), owned, mine,
            storage, header="true", maxRecordsPerFile=str(limit),
        )
        for export in exports:
            rows = {r["date"]: r["clean"] for r in counts if r["export"] == export and r["stream"] == stream and r["clean"]}
            url = join(params.load_counts, f"export={export}", f"stream={stream}.json")
            storage.write_text(url, json.dumps(rows, sort_keys=True) + "\n")
    summary.written["timestream_ready"] = summary.written["clean"]

    log_parts = {_folder(r, "export", "stream") for r in counts}
    replace_partitions(cleaning.duplicate_log(grouped), params.duplicate_log, "parquet", ("export", "stream"), stream_prefixes, log_parts, storage)

    if "eda" in streams:
        worn = cleaning.wear_time(clean)
        summary.written["wear_time"] = _replace_by_export(worn, params.wear_time, export_prefixes, storage)
    summary.written["devices"] = _replace_by_export(cleaning.devices(readings), params.devices, export_prefixes, storage)


def _folder(row: Any, *columns: str) -> str:
    return partition_folder([(column, row[column]) for column in columns])


def _replace_by_export(frame: DataFrame, url: str, owned: list[str], storage: Storage) -> int:
    """Publish a table partitioned by export only; returns its row count."""
    per_export = frame.groupBy("export").count().collect()
    replace_partitions(frame, url, "parquet", ("export",), owned, {_folder(r, "export") for r in per_export}, storage)
    return sum(r["count"] for r in per_export)


def _count_rows(summary: ChunkSummary, archives: list[Archive], counts: list) -> None:
    periods = {archive.export: (archive.start.isoformat(), archive.end.isoformat()) for archive in archives}
    read: dict[str, int] = defaultdict(int)
    clean: dict[str, int] = defaultdict(int)
    outside: dict[str, int] = defaultdict(int)
    for row in counts:
        read[row["stream"]] += row["valid_lines"]
        clean[row["stream"]] += row["clean"]
        start, end = periods[row["export"]]
        if not start <= row["date"] <= end:
            outside[row["export"]] += row["clean"]
    for name in ("total_dupes", "perfect", "nan", "unclear"):
        summary.duplicates[name] = sum(row[name] for row in counts)
    summary.duplicates["total_rows"] = sum(row["valid_lines"] for row in counts)
    summary.rows_read.update(read)
    summary.clean_rows.update(clean)
    summary.outside_period.update(outside)
