"""Days of the cold tier merged in parallel, each read, merged and committed on its own.

Per day: ``read`` what it holds and has committed, let ``write`` finish what dead runs left,
pick the raw files still to merge (``transform``), download them and copy their Avro blocks
into one local file (``avro_blocks``, every block's count checked), then ``write`` stages it,
``readback`` reads the staged file back and reconciles its records with those read, and only
then ``write`` commits it in the day's manifest and moves it into place. With ``repair`` the
day's committed files are read back first and each that fails is rebuilt in its place.

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
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path

from job_helpers.sitewise import read, readback, transform, write
from job_helpers.sitewise.avro_blocks import CorruptAvroFile, IncompatibleAvroFile, MergeStats, merge_avro_files
from job_helpers.sitewise.day_index import MANIFEST, DayIndex, DayIndexError, MergedFile
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
    readback.RecordsDoNotReconcile,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DayResult:
    """What a run published for a day: ``records_read`` from the raw files, ``records`` read back
    from what it published (the two reconcile), and ``rebuilt`` files that replaced failing ones."""

    day: date
    merged: bool
    files: int = 0
    records: int = 0
    records_read: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    outputs: tuple[str, ...] = ()
    rebuilt: int = 0

    def plus(self, other: DayResult) -> DayResult:
        return DayResult(
            self.day,
            True,
            self.files + other.files,
            self.records + other.records,
            self.records_read + other.records_read,
            self.bytes_in + other.bytes_in,
            self.bytes_out + other.bytes_out,
            self.outputs + other.outputs,
            self.rebuilt + other.rebuilt,
        )


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
    def records_read(self) -> int:
        return sum(result.records_read for result in self.merged)

    @property
    def rebuilt(self) -> int:
        return sum(result.rebuilt for result in self.merged)

    @property
    def bytes_out(self) -> int:
        return sum(result.bytes_out for result in self.merged)

    def describe(self) -> str:
        return (
            f"days merged {len(self.merged)}, skipped {len(self.skipped)}, failed {len(self.failed)}; "
            f"files {self.files}, records read {self.records_read}, written {self.records}, "
            f"failing files rebuilt {self.rebuilt}, bytes written {self.bytes_out}"
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
    repair: bool = False,
) -> RunSummary:
    """Merge each of ``days``; never raises for one day's failure, reports it.

    ``max_workers`` bounds the downloads in flight across all days; ``parallel_days`` bounds the
    days reviewed and merged at once. Downloads go to a folder of this run under ``work_dir``
    (the system's temporary folder by default), removed when the run ends. With ``repair`` every
    file the days have committed is read back first, and one that fails is rebuilt.
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
                day: pool.submit(merge_day, storage, layout, day, series_filter, downloads, work_dir=run_dir, repair=repair)
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


def merge_day(
    storage: Storage,
    layout: Layout,
    day: date,
    series_filter: SeriesFilter,
    downloads: Executor,
    *,
    work_dir: Path | None = None,
    repair: bool = False,
) -> DayResult:
    """Merge the day's raw files not yet committed into one output file, commit it, publish it.

    With ``repair`` the day's committed files are read back first, and those that fail rebuilt.
    """
    result = repair_day(storage, layout, day, downloads, work_dir) if repair else DayResult(day, merged=False)
    for attempt in range(1, MERGE_ATTEMPTS + 1):
        state = write.finish_earlier_runs(storage, layout, day, read.day_state(storage, layout, day))
        new = new_files(day, state, series_filter)
        if not new:
            log.info("%s: skip, nothing new to merge", day)
            return result
        published = merge_and_publish(storage, layout, day, new, state.index, downloads, work_dir)
        if published is not None:
            return result.plus(published)
        log.warning(
            "%s: another run committed some of these raw keys first; merging what is still new (attempt %d of %d)",
            day,
            attempt,
            MERGE_ATTEMPTS,
        )
    raise write.ConcurrentDayUpdate(
        f"{day}: other runs committed raw keys of this day {MERGE_ATTEMPTS} times while this run was merging them; "
        "this run published nothing new for the day. Run the day again once the other runs have ended."
    )


def repair_day(storage: Storage, layout: Layout, day: date, downloads: Executor, work_dir: Path | None) -> DayResult:
    """Read back every file the day has committed; rebuild each that fails from its raw keys.

    A rebuilt file holds the same raw keys, so it has the same name, and one publish replaces the
    failing entry as read (``DayIndex.replacing``): it claims the manifest, moves the file over
    the failing one and commits it in the entry's place. Readers see the old file or the new one,
    never both, and every key of the day stays committed once. A publish a run that died left
    claimed (a repair killed part way among them) is finished first, so it is read back finished.
    If another run replaced the entry first, this run's file is dropped and the day read back again.
    """
    result = DayResult(day, merged=False)
    checked: dict[str, MergedFile] = {}
    rebuilt: set[str] = set()
    lost = 0
    while lost < MERGE_ATTEMPTS:
        state = write.finish_abandoned_publish(storage, layout, day, read.day_state(storage, layout, day))
        failing = readback.first_failing_file(storage, layout, day, state.index, checked)
        if failing is None:
            return result
        if failing.name in rebuilt:
            raise DayIndexError(f"{day}: {failing.name} was rebuilt by this run but still fails its read-back: {failing.reason}")
        log.warning("%s: rebuilding %s from its %d raw keys: %s", day, failing.name, len(failing.merged.keys), failing.reason)
        files = rebuild_files(layout, day, failing, state.raw_files)
        published = merge_and_publish(storage, layout, day, files, state.index.replacing(failing.name), downloads, work_dir)
        if published is None:
            lost += 1
            continue
        rebuilt.add(failing.name)
        result = result.plus(replace(published, rebuilt=1))
    raise write.ConcurrentDayUpdate(
        f"{day}: the manifest changed {MERGE_ATTEMPTS} times while this run rebuilt the day's failing files; "
        "run the day again with --repair-days true once the other runs have ended."
    )


def new_files(day: date, state: read.DayState, series_filter: SeriesFilter) -> list[RawFile]:
    """The day's raw files of the selected series that no committed file holds, in merge order."""
    taken = transform.selected(state.raw_files, series_filter)
    new = transform.not_yet_merged(taken, state.index.merged_keys())
    log.info(
        "%s: %d raw keys found, %d of the selected series, %d of those already merged",
        day,
        len(state.raw_files),
        len(taken),
        len(taken) - len(new),
    )
    if new:
        new_series = {raw.series_id for raw in new}
        log.info(
            "%s: %d new files of %d series, %d of them series new to the day",
            day,
            len(new),
            len(new_series),
            len(new_series - state.index.series()),
        )
    return new


def rebuild_files(layout: Layout, day: date, failing: readback.FailingFile, raw_files: list[RawFile]) -> list[RawFile]:
    """The raw files a failing committed file holds, in merge order; all must still be in the cold tier."""
    files, missing = transform.files_of(failing.merged.keys, raw_files)
    if missing:
        raise DayIndexError(
            f"{day}: {failing.name} fails its read-back ({failing.reason}) and cannot be rebuilt: "
            f"{len(missing)} of its {len(failing.merged.keys)} raw keys are no longer under {layout.raw_day(day)}, "
            f"e.g. {missing[0]}; restore them, or remove the entry {failing.name} from "
            f"{layout.index_day(day)}{MANIFEST} to merge the day without them"
        )
    return files


def merge_and_publish(
    storage: Storage, layout: Layout, day: date, files: list[RawFile], index: DayIndex, downloads: Executor, work_dir: Path | None
) -> DayResult | None:
    """Merge ``files`` into one file, stage it, read it back, commit it beside ``index`` and publish it.

    None if another run committed some of the same raw keys first, or replaced a file ``index``
    replaces (``DayIndex.replacing``) first: nothing was published. A
    staged file whose read-back fails, or whose records do not reconcile with those read, is
    deleted and the day fails: nothing that does not read back is ever committed.
    """
    run = write.new_run(datetime.now(UTC))
    with tempfile.TemporaryDirectory(prefix=f"{day}-", dir=work_dir) as temp:
        merged, path, bytes_in, stats = download_and_merge(storage, day, files, downloads, Path(temp), run)
        staged = write.stage(storage, layout, day, path, merged)
    try:
        written = readback.staged_records(storage, staged.url, stats)
        readback.reconcile(day, merged.records, written, staged.url)
        log.info("%s: read back %s: %d records in %d blocks, as written", day, staged.url, written, stats.blocks)
    except Exception:
        write.drop(storage, staged)
        raise
    committed = write.commit_staged(storage, layout, day, index, staged)
    if committed is None:
        write.drop(storage, staged)
        return None
    output_url = write.publish(storage, layout, day, staged, committed)
    log.info("%s: index updated, %d files now merged for the day", day, len(committed.files))
    return DayResult(day, True, len(merged.keys), written, merged.records, bytes_in, staged.bytes, (output_url,))


def download_and_merge(
    storage: Storage, day: date, new: list[RawFile], downloads: Executor, temp: Path, run: str
) -> tuple[MergedFile, Path, int, MergeStats]:
    """Download the new raw files into ``temp`` and merge them into one file there.

    Return what the file holds, its path, the bytes downloaded and what the merge wrote.
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
    return MergedFile(tuple(keys), stats.records, run), output, bytes_in, stats


def removed_once_copied(sources: Iterable[tuple[str, Path]]) -> Iterator[tuple[str, Path]]:
    """Hand each input on, and delete it once the merge asks for the next, so a day never needs
    twice its size on disk."""
    for label, path in sources:
        yield label, path
        path.unlink()
