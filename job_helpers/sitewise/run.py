"""Days of the cold tier merged in parallel, each read, merged and committed on its own.

Per day: ``read`` what it holds and has committed, let ``write`` finish what dead runs left,
pick the raw files still to merge (``transform``), download them and copy their Avro blocks
into one local file (``avro_blocks``), then ``write``: stage it, commit it in the day's
manifest, move it into place.

Runs of the same day may overlap: a run whose commit finds the manifest changed reads it again;
if the other run committed none of its raw keys it commits its file beside the other's,
otherwise it drops its file and merges only the keys still not committed. Every raw key is thus
held by exactly one committed output file, and a committed one is never lost. A run that keeps
losing gives up with ``ConcurrentDayUpdate``, which fails the day.

A failed day (a corrupt input, an unreachable object) publishes nothing new and does not stop
the others; the summary lists it so the job can end non-zero once every other day is done.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

from job_helpers.sitewise import read, transform, write
from job_helpers.sitewise.avro_blocks import CorruptAvroFile, IncompatibleAvroFile, merge_avro_files
from job_helpers.sitewise.day_index import DayIndexError, MergedFile
from job_helpers.sitewise.keys import Layout, RawFile
from job_helpers.sitewise.series import SeriesFilter
from job_helpers.sitewise.work_dir import run_work_dir
from job_helpers.storage import Storage, StorageError

PARALLEL_DAYS = 4
MERGE_ATTEMPTS = 5

EXPECTED_FAILURES = (
    CorruptAvroFile,
    IncompatibleAvroFile,
    DayIndexError,
    read.DownloadFailed,
    StorageError,
    write.ConcurrentDayUpdate,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DayResult:
    day: date
    merged: bool
    files: int = 0
    records: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    output_url: str = ""


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


def merge_days(
    storage: Storage,
    layout: Layout,
    days: Sequence[date],
    series_filter: SeriesFilter,
    *,
    max_workers: int,
    parallel_days: int = PARALLEL_DAYS,
    work_dir: Path | None = None,
) -> RunSummary:
    """Merge each of ``days``; never raises for one day's failure, reports it.

    ``max_workers`` bounds the downloads in flight across all days; ``parallel_days`` bounds the
    days reviewed and merged at once. Downloads go to a folder of this run under ``work_dir``
    (the system's temporary folder by default), removed when the run ends.
    """
    summary = RunSummary()
    if not days:
        return summary
    log.info("repartitioning %d days, %s to %s: %s", len(days), min(days), max(days), series_filter.description)
    with (
        run_work_dir(work_dir) as run_dir,
        ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix="download") as downloads,
    ):
        with ThreadPoolExecutor(max_workers=max(1, min(parallel_days, len(days))), thread_name_prefix="day") as pool:
            futures = {
                day: pool.submit(merge_day, storage, layout, day, series_filter, downloads, work_dir=run_dir) for day in days
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


def merge_day(
    storage: Storage,
    layout: Layout,
    day: date,
    series_filter: SeriesFilter,
    downloads: Executor,
    *,
    work_dir: Path | None = None,
) -> DayResult:
    """Merge the day's raw files not yet committed into one output file, commit it, publish it."""
    for attempt in range(1, MERGE_ATTEMPTS + 1):
        state = read.day_state(storage, layout, day)
        write.finish_earlier_runs(storage, layout, day, state)
        taken = transform.selected(state.raw_files, series_filter)
        new = transform.not_yet_merged(taken, state.index.merged_keys())
        log.info(
            "%s: %d raw keys found, %d of the selected series, %d of those already merged",
            day,
            len(state.raw_files),
            len(taken),
            len(taken) - len(new),
        )
        if not new:
            log.info("%s: skip, nothing new to merge", day)
            return DayResult(day, merged=False)
        new_series = {raw.series_id for raw in new}
        log.info(
            "%s: %d new files of %d series, %d of them series new to the day",
            day,
            len(new),
            len(new_series),
            len(new_series - state.index.series()),
        )
        run = write.new_run(datetime.now(UTC))
        with tempfile.TemporaryDirectory(prefix=f"{day}-", dir=work_dir) as temp:
            merged, path, bytes_in = download_and_merge(storage, day, new, downloads, Path(temp), run)
            staged = write.stage(storage, layout, day, path, merged)
        committed = write.commit_staged(storage, layout, day, state.index, staged)
        if committed is None:
            log.warning(
                "%s: another run committed some of these raw keys first; dropping %s and merging what is still new "
                "(attempt %d of %d)",
                day,
                staged.url,
                attempt,
                MERGE_ATTEMPTS,
            )
            write.drop(storage, staged)
            continue
        output_url = write.publish(storage, layout, day, staged, committed)
        log.info("%s: index updated, %d files now merged for the day", day, len(committed.files))
        return DayResult(day, True, len(merged.keys), merged.records, bytes_in, staged.bytes, output_url)
    raise write.ConcurrentDayUpdate(
        f"{day}: other runs committed raw keys of this day {MERGE_ATTEMPTS} times while this run was merging them; "
        "this run published nothing for the day. Run the day again once the other runs have ended."
    )


def download_and_merge(
    storage: Storage, day: date, new: list[RawFile], downloads: Executor, temp: Path, run: str
) -> tuple[MergedFile, Path, int]:
    """Download the new raw files into ``temp`` and merge them into one file there.

    Return what the file holds, its path, and the bytes downloaded.
    """
    started = time.perf_counter()
    paths = read.download_all(storage, new, temp, downloads)
    bytes_in = sum(path.stat().st_size for path in paths)
    log.info("%s: downloaded %d files, %d bytes, in %.2f s", day, len(paths), bytes_in, time.perf_counter() - started)

    keys = [raw.key for raw in new]
    name, sync = transform.output_identity(keys)
    output = temp / name
    started = time.perf_counter()
    stats = merge_avro_files(removed_once_copied((raw.url, path) for raw, path in zip(new, paths)), output, sync)
    log.info(
        "%s: merged %d records in %d blocks into %s, %d bytes, in %.2f s",
        day,
        stats.records,
        stats.blocks,
        name,
        output.stat().st_size,
        time.perf_counter() - started,
    )
    return MergedFile(tuple(keys), stats.records, run), output, bytes_in


def removed_once_copied(sources: Iterable[tuple[str, Path]]) -> Iterator[tuple[str, Path]]:
    """Hand each input on, and delete it once the merge asks for the next, so a day never needs
    twice its size on disk."""
    for label, path in sources:
        yield label, path
        path.unlink()
