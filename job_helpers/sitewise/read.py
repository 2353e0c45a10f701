"""Reading a run's inputs: the series it takes, what a day holds and has committed, the raw files.

Listings and the manifest are read here and nothing is changed; a day's leftovers are dealt
with in ``write``.
"""

from __future__ import annotations

import logging
from concurrent.futures import FIRST_EXCEPTION, Executor, Future, wait
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from job_helpers.aws import client
from job_helpers.sitewise.day_index import DayIndex, read_day_index
from job_helpers.sitewise.keys import Layout, NotARawFile, RawFile, parse_raw_key
from job_helpers.sitewise.parameters import Parameters
from job_helpers.sitewise.series import LIST_TIME_SERIES, SeriesFilter, load_series_filter
from job_helpers.storage import Storage

log = logging.getLogger(__name__)


class DownloadFailed(Exception):
    """A raw file could not be fetched; the message names it."""


def series_filter(storage: Storage, params: Parameters, sitewise: Any = None) -> SeriesFilter:
    """The series the run takes, from ``--series-source``.

    ``list_time_series`` asks IoT SiteWise through ``sitewise``, a client made here with the
    project's retry policy when none is given.
    """
    if params.series_source == LIST_TIME_SERIES and sitewise is None:
        sitewise = client("iotsitewise")
    return load_series_filter(
        params.series_source,
        params.timeseries_type,
        storage=storage,
        layout=params.layout,
        client=sitewise,
        max_workers=params.max_workers,
    )


@dataclass(frozen=True)
class DayState:
    """What a day holds: its raw files, the files in its output and staging folders, its manifest.

    The folders are listed before the manifest is read, so a file moved into place or staged by
    a run that commits meanwhile is in the manifest read and never taken for a leftover.
    """

    raw_files: list[RawFile]
    published: list[str]
    staged: list[str]
    index: DayIndex


def day_state(storage: Storage, layout: Layout, day: date) -> DayState:
    raw_day = layout.raw_day(day)
    log.info("%s: reviewing %s", day, raw_day)
    raw_files = list_raw_files(storage, raw_day)
    published = files_in(storage, layout.output_day(day))
    staged = files_in(storage, layout.staging_day(day))
    return DayState(raw_files, published, staged, read_day_index(storage, layout.index_day(day)))


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


def files_in(storage: Storage, folder_url: str) -> list[str]:
    """Names of the files directly in a folder (not in its sub-folders)."""
    names = (obj.url[len(folder_url) :] for obj in storage.list(folder_url) if obj.url.startswith(folder_url))
    return [name for name in names if name and "/" not in name]


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
