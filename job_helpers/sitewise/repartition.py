"""A chunk of days repartitioned in parallel, each day succeeding or failing on its own.

A failed day (a corrupt input, an unreachable object) publishes nothing new and does not stop
the others; the summary lists it so the job can end non-zero once every other day is done.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from job_helpers.sitewise.avro_blocks import CorruptAvroFile, IncompatibleAvroFile
from job_helpers.sitewise.day_index import DayIndexError
from job_helpers.sitewise.day_merge import AfterDataUpload, ConcurrentDayUpdate, DayResult, DownloadFailed, merge_day
from job_helpers.sitewise.keys import Layout
from job_helpers.sitewise.series import SeriesFilter
from job_helpers.sitewise.work_dir import run_work_dir
from job_helpers.storage import Storage, StorageError

PARALLEL_DAYS = 4

EXPECTED_FAILURES = (CorruptAvroFile, IncompatibleAvroFile, DayIndexError, DownloadFailed, StorageError, ConcurrentDayUpdate)

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    merged: list[DayResult] = field(default_factory=list)
    skipped: list[date] = field(default_factory=list)
    failed: dict[date, str] = field(default_factory=dict)

    @property
    def files(self) -> int:
        return sum(result.files for result in self.merged)

    @property
    def records(self) -> int:
        return sum(result.records for result in self.merged)

    @property
    def bytes_out(self) -> int:
        return sum(result.bytes_out for result in self.merged)

    def describe(self) -> str:
        return (
            f"days merged {len(self.merged)}, skipped {len(self.skipped)}, failed {len(self.failed)}; "
            f"files {self.files}, records {self.records}, bytes written {self.bytes_out}"
        )


def days_between(first: date, last: date) -> list[date]:
    """Every day from ``first`` to ``last``, both included."""
    if last < first:
        raise ValueError(f"the last day {last} is before the first day {first}")
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def repartition_days(
    storage: Storage,
    layout: Layout,
    first: date,
    last: date,
    series_filter: SeriesFilter,
    *,
    max_workers: int,
    parallel_days: int = PARALLEL_DAYS,
    work_dir: Path | None = None,
    after_data_upload: AfterDataUpload | None = None,
) -> RunSummary:
    """Merge every day from ``first`` to ``last``; never raises for one day's failure, reports it.

    ``max_workers`` bounds the downloads in flight across all days; ``parallel_days`` bounds the
    days reviewed and merged at once. Downloads go to a folder of this run under ``work_dir``
    (the system's temporary folder by default), removed when the run ends.
    ``after_data_upload`` runs between a day's staging upload and its commit (tests use it to
    stand in for a crash there, or to let another run commit the day meanwhile).
    """
    days = days_between(first, last)
    log.info("repartitioning %d days, %s to %s: %s", len(days), first, last, series_filter.description)
    summary = RunSummary()
    with (
        run_work_dir(work_dir) as run_dir,
        ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix="download") as downloads,
    ):
        with ThreadPoolExecutor(max_workers=max(1, min(parallel_days, len(days))), thread_name_prefix="day") as pool:
            futures = {
                day: pool.submit(
                    merge_day,
                    storage,
                    layout,
                    day,
                    series_filter,
                    downloads,
                    work_dir=run_dir,
                    after_data_upload=after_data_upload,
                )
                for day in days
            }
            for day, future in futures.items():
                try:
                    result = future.result()
                except Exception as error:
                    log.error("%s: failed: %s", day, error, exc_info=not isinstance(error, EXPECTED_FAILURES))
                    summary.failed[day] = str(error)
                    continue
                if result.merged:
                    summary.merged.append(result)
                else:
                    summary.skipped.append(day)
    log.info("summary: %s", summary.describe())
    return summary
