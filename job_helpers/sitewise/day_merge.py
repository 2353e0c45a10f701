"""One day of the cold tier, merged into one Avro file and committed to the day's index.

The merged file is uploaded to a staging folder, committed by a conditional write of the day's
manifest, then moved into the day's folder, so Athena never sees a file that is not committed.
Runs of the same day may overlap: a run whose commit finds the manifest changed reads it again;
if the other run committed none of its raw keys it commits its file beside the other's,
otherwise it drops its file and merges only the keys still not committed. Every raw key is thus
held by exactly one committed output file, and a committed one is never lost. A run that keeps
losing gives up with ``ConcurrentDayUpdate``, which fails the day.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Executor, Future, wait
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from job_helpers.sitewise.avro_blocks import COPY_CHUNK, BlockMerger
from job_helpers.sitewise.day_index import (
    DayIndex,
    MergedFile,
    commit_day_index,
    publish_series_list,
    read_day_index,
    series_list_is_current,
)
from job_helpers.sitewise.keys import Layout, NotARawFile, RawFile, parse_raw_key
from job_helpers.sitewise.series import SeriesFilter
from job_helpers.sitewise.staging import (
    finish_committed_moves,
    move_into_place,
    new_run,
    remove_expired_staging,
    staged_url,
)
from job_helpers.storage import Storage, WriteConflict, join

OUTPUT_PREFIX = "merged_"
OUTPUT_SUFFIX = ".avro"

MERGE_ATTEMPTS = 5
COMMIT_ATTEMPTS = 5

log = logging.getLogger(__name__)

AfterDataUpload = Callable[[date, str], None]
"""Called with the day and the staged file's URL once it is uploaded, before it is committed."""


class ConcurrentDayUpdate(Exception):
    """Other runs kept committing the day while this one merged it; the message says what to do."""


@dataclass(frozen=True)
class DayResult:
    day: date
    merged: bool
    files: int = 0
    records: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    output_url: str = ""


def list_raw_files(storage: Storage, raw_day_url: str) -> list[RawFile]:
    """The raw files under a day's folder; other objects are logged and left out."""
    found, others = [], []
    for obj in storage.list(raw_day_url):
        try:
            found.append(parse_raw_key(obj.url))
        except NotARawFile as error:
            others.append(error)
    if others:
        log.warning("skipping %d objects that are not raw files, the first: %s", len(others), others[0])
    return found


def output_identity(keys: list[str]) -> tuple[str, bytes]:
    """The output file name and sync marker for a set of raw keys.

    Both are derived from the sorted keys, so merging the same files again gives the same name
    and the same bytes, and a rerun overwrites rather than duplicates.
    """
    digest = hashlib.sha256("\n".join(sorted(keys)).encode("utf-8")).digest()
    return f"{OUTPUT_PREFIX}{digest[:8].hex()}{OUTPUT_SUFFIX}", digest[16:32]


@dataclass(frozen=True)
class DayReview:
    index: DayIndex
    new: list[RawFile]


@dataclass(frozen=True)
class Staged:
    name: str
    url: str
    merged: MergedFile
    bytes_in: int
    bytes_out: int


def review_day(storage: Storage, layout: Layout, day: date, series_filter: SeriesFilter) -> DayReview:
    """Read what the day holds and what it has committed, finish what a dead run left, find what is new.

    The day's folders are listed before the manifest is read: a file moved into place or staged
    by a run that commits meanwhile is then in the manifest read, so it is never taken for a leftover.
    """
    raw_day = layout.raw_day(day)
    log.info("%s: reviewing %s", day, raw_day)
    raw_files = list_raw_files(storage, raw_day)
    selected = [raw for raw in raw_files if series_filter.keeps(raw.series_id)]
    published = files_in(storage, layout.output_day(day))
    staged = files_in(storage, layout.staging_day(day))
    index = read_day_index(storage, layout.index_day(day))
    finish_committed_moves(storage, layout, day, index, set(published))
    remove_uncommitted_outputs(storage, layout.output_day(day), published, index)
    remove_expired_staging(storage, layout.staging_day(day), staged, index, datetime.now(UTC))
    if index.files and not series_list_is_current(storage, layout.index_day(day), index):
        publish_series_list(storage, layout.index_day(day), index)
    merged_keys = index.merged_keys()
    new = sorted(
        (raw for raw in selected if raw.key not in merged_keys),
        key=lambda raw: (raw.series_id, raw.start_timestamp, raw.quality, raw.key),
    )
    log.info(
        "%s: %d raw keys found, %d of the selected series, %d of those already merged",
        day,
        len(raw_files),
        len(selected),
        len(selected) - len(new),
    )
    return DayReview(index, new)


def merge_day(
    storage: Storage,
    layout: Layout,
    day: date,
    series_filter: SeriesFilter,
    downloads: Executor,
    *,
    work_dir: Path | None = None,
    after_data_upload: AfterDataUpload | None = None,
) -> DayResult:
    """Merge the day's raw files not yet committed into one output file, commit it, publish it."""
    for attempt in range(1, MERGE_ATTEMPTS + 1):
        review = review_day(storage, layout, day, series_filter)
        if not review.new:
            log.info("%s: skip, nothing new to merge", day)
            return DayResult(day, merged=False)
        new_series = {raw.series_id for raw in review.new}
        log.info(
            "%s: %d new files of %d series, %d of them series new to the day",
            day,
            len(review.new),
            len(new_series),
            len(new_series - review.index.series()),
        )
        run = new_run(datetime.now(UTC))
        with tempfile.TemporaryDirectory(prefix=f"{day}-", dir=work_dir) as temp:
            staged = merge_and_stage(storage, layout, day, review.new, downloads, Path(temp), run)
        if after_data_upload is not None:
            after_data_upload(day, staged.url)
        committed = commit_staged(storage, layout, day, review.index, staged)
        if committed is None:
            log.warning(
                "%s: another run committed some of these raw keys first; dropping %s and merging what is still new "
                "(attempt %d of %d)",
                day,
                staged.url,
                attempt,
                MERGE_ATTEMPTS,
            )
            storage.delete(staged.url)
            continue
        move_into_place(storage, layout, day, staged.name, staged.merged)
        publish_series_list(storage, layout.index_day(day), committed)
        log.info("%s: index updated, %d files now merged for the day", day, len(committed.files))
        return DayResult(
            day,
            True,
            len(staged.merged.keys),
            staged.merged.records,
            staged.bytes_in,
            staged.bytes_out,
            join(layout.output_day(day), staged.name),
        )
    raise ConcurrentDayUpdate(
        f"{day}: other runs committed raw keys of this day {MERGE_ATTEMPTS} times while this run was merging them; "
        "this run published nothing for the day. Run the day again once the other runs have ended."
    )


def merge_and_stage(
    storage: Storage,
    layout: Layout,
    day: date,
    new: list[RawFile],
    downloads: Executor,
    temp: Path,
    run: str,
) -> Staged:
    """Download the new raw files, merge them into one file and upload it to the staging folder."""
    started = time.perf_counter()
    paths = download_all(storage, new, temp, downloads)
    bytes_in = sum(path.stat().st_size for path in paths)
    log.info("%s: downloaded %d files, %d bytes, in %.2f s", day, len(paths), bytes_in, time.perf_counter() - started)

    keys = [raw.key for raw in new]
    name, sync = output_identity(keys)
    output = temp / name
    started = time.perf_counter()
    with open(output, "wb", buffering=COPY_CHUNK) as out:
        merger = BlockMerger(out, sync)
        for raw, path in zip(new, paths):
            merger.append(path, raw.url)
            path.unlink()
        stats = merger.finish()
    bytes_out = output.stat().st_size
    log.info(
        "%s: merged %d records in %d blocks into %s, %d bytes, in %.2f s",
        day,
        stats.records,
        stats.blocks,
        name,
        bytes_out,
        time.perf_counter() - started,
    )

    url = staged_url(layout, day, run, name)
    started = time.perf_counter()
    storage.upload(output, url)
    log.info("%s: staged %s in %.2f s", day, url, time.perf_counter() - started)
    return Staged(name, url, MergedFile(tuple(keys), stats.records, run), bytes_in, bytes_out)


def commit_staged(storage: Storage, layout: Layout, day: date, index: DayIndex, staged: Staged) -> DayIndex | None:
    """Add the staged file to the manifest read as ``index``; None if another run committed some of its keys.

    When the manifest changed since it was read, it is read again and, if the other run's files
    hold none of these keys, the file is committed beside them.
    """
    for _ in range(COMMIT_ATTEMPTS):
        if not index.merged_keys().isdisjoint(staged.merged.keys):
            return None
        try:
            return commit_day_index(storage, layout.index_day(day), index.with_file(staged.name, staged.merged))
        except WriteConflict as conflict:
            log.info("%s: the manifest changed since it was read (%s); reading it again", day, conflict)
        index = read_day_index(storage, layout.index_day(day))
        if index.files.get(staged.name) == staged.merged:
            return index  # the write had landed; only its answer was lost
    storage.delete(staged.url)
    raise ConcurrentDayUpdate(
        f"{day}: the manifest changed {COMMIT_ATTEMPTS} times in a row while this run tried to commit to it; "
        "this run published nothing for the day. Run the day again once the other runs have ended."
    )


def download_all(storage: Storage, files: list[RawFile], folder: Path, downloads: Executor) -> list[Path]:
    """Stream every file to its own local path, in parallel; on the first failure cancel the rest."""
    paths = [folder / f"input-{number:07d}.avro" for number in range(len(files))]
    futures: list[Future[None]] = [downloads.submit(storage.download, raw.url, path) for raw, path in zip(files, paths)]
    _, pending = wait(futures, return_when=FIRST_EXCEPTION)
    for future in pending:
        future.cancel()
    wait(futures)
    for raw, future in zip(files, futures):
        if not future.cancelled() and future.exception() is not None:
            raise DownloadFailed(f"{raw.url}: download failed ({future.exception()})") from future.exception()
    return paths


class DownloadFailed(Exception):
    """A raw file could not be fetched; the message names it."""


def files_in(storage: Storage, folder_url: str) -> list[str]:
    """Names of the files directly in a folder (not in its sub-folders)."""
    names = (obj.url[len(folder_url) :] for obj in storage.list(folder_url) if obj.url.startswith(folder_url))
    return [name for name in names if name and "/" not in name]


def remove_uncommitted_outputs(storage: Storage, output_day_url: str, published: list[str], index: DayIndex) -> None:
    """Delete merged files in the day's folder that the manifest does not name.

    Files are only moved there once committed, so these are leftovers of the job's earlier
    versions, which wrote them in place before committing, from a run that died in between.
    """
    for name in published:
        if name.startswith(OUTPUT_PREFIX) and name.endswith(OUTPUT_SUFFIX) and name not in index.files:
            url = join(output_day_url, name)
            log.warning("deleting %s: not in the day's manifest, left by a run that did not finish", url)
            storage.delete(url)
