"""One day of the cold tier, merged into one Avro file and committed to the day's index.

The order of writes is what makes a rerun safe: the merged file is published first, the index
(``manifest.json`` last) second. A run that dies between the two leaves an output file the
manifest does not name; the next review of that day deletes it before anything is published, and
merges its raw keys again, since the manifest does not list them either. Every raw key is thus
held by exactly one committed output file.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import time
from concurrent.futures import FIRST_EXCEPTION, Executor, Future, wait
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Callable

from job_helpers.sitewise.avro_blocks import COPY_CHUNK, BlockMerger
from job_helpers.sitewise.day_index import DayIndex, MergedFile, read_day_index, write_day_index
from job_helpers.sitewise.keys import Layout, NotARawFile, RawFile, parse_raw_key
from job_helpers.sitewise.series import SeriesFilter
from job_helpers.storage import Storage, join

OUTPUT_PREFIX = "merged_"
OUTPUT_SUFFIX = ".avro"

log = logging.getLogger(__name__)

AfterDataUpload = Callable[[date, str], None]
"""Called with the day and the output URL once the merged file is published, before the index is."""


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
    """Merge the day's raw files not yet merged into one output file and commit it in the index."""
    raw_day = layout.raw_day(day)
    log.info("%s: reviewing %s", day, raw_day)
    raw_files = list_raw_files(storage, raw_day)
    selected = [raw for raw in raw_files if series_filter.keeps(raw.series_id)]
    index = read_day_index(storage, layout.index_day(day))
    remove_uncommitted_outputs(storage, layout.output_day(day), index)
    merged_keys = index.merged_keys()
    new = sorted(
        (raw for raw in selected if raw.key not in merged_keys),
        key=lambda raw: (raw.series_id, raw.start_timestamp, raw.quality, raw.key),
    )
    log.info(
        "%s: %d raw keys found, %d of the selected series, %d of those already merged",
        day, len(raw_files), len(selected), len(selected) - len(new),
    )
    if not new:
        log.info("%s: skip, nothing new to merge", day)
        return DayResult(day, merged=False)
    new_series = {raw.series_id for raw in new}
    log.info(
        "%s: %d new files of %d series, %d of them series new to the day",
        day, len(new), len(new_series), len(new_series - index.series()),
    )
    with tempfile.TemporaryDirectory(prefix=f"sitewise-{day}-", dir=work_dir) as temp:
        return _merge_and_publish(storage, layout, day, index, new, downloads, Path(temp), after_data_upload)


def _merge_and_publish(
    storage: Storage,
    layout: Layout,
    day: date,
    index: DayIndex,
    new: list[RawFile],
    downloads: Executor,
    temp: Path,
    after_data_upload: AfterDataUpload | None,
) -> DayResult:
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
        day, stats.records, stats.blocks, name, bytes_out, time.perf_counter() - started,
    )

    output_url = join(layout.output_day(day), name)
    started = time.perf_counter()
    storage.upload(output, output_url)
    log.info("%s: uploaded %s in %.2f s", day, output_url, time.perf_counter() - started)
    if after_data_upload is not None:
        after_data_upload(day, output_url)
    write_day_index(storage, layout.index_day(day), index.with_file(name, MergedFile(tuple(keys), stats.records)))
    log.info("%s: index updated, %d files now merged for the day", day, len(index.files) + 1)
    return DayResult(day, True, len(new), stats.records, bytes_in, bytes_out, output_url)


def download_all(storage: Storage, files: list[RawFile], folder: Path, downloads: Executor) -> list[Path]:
    """Stream every file to its own local path, in parallel; on the first failure cancel the rest."""
    paths = [folder / f"input-{number:07d}.avro" for number in range(len(files))]
    futures: list[Future[None]] = [
        downloads.submit(storage.download, raw.url, path) for raw, path in zip(files, paths)
    ]
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


def remove_uncommitted_outputs(storage: Storage, output_day_url: str, index: DayIndex) -> None:
    """Delete the day's merged files that the manifest does not name: leftovers of a run that died."""
    partition = "/".join(output_day_url.rstrip("/").split("/")[-3:]) + "/"
    for obj in storage.list(output_day_url):
        folder, _, name = obj.url.rpartition("/")
        is_ours = name.startswith(OUTPUT_PREFIX) and name.endswith(OUTPUT_SUFFIX) and (folder + "/").endswith(partition)
        if is_ours and name not in index.files:
            log.warning("deleting %s: not in the day's manifest, left by a run that did not finish", obj.url)
            storage.delete(obj.url)
