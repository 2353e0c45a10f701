"""Reading the landing location: which archives a run reads, what their central directories hold, and
a seekable view of an archive where it lies.

``zipfile`` needs a seekable file. Locally that is the file itself; on S3 it is ``RangeFile``,
which fetches only the byte ranges asked for, so listing an archive reads its central directory
and a task streaming one member moves only that member's bytes.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import date
from typing import Any, BinaryIO

from job_helpers.embrace.archives import Archive, ArchiveNameError, Selection, select_archives
from job_helpers.embrace.members import ArchiveMembers, UnreadableArchive, group_entries
from job_helpers.storage import Storage, local_path, split_s3

RANGE_BUFFER = 8 << 20


class RangeFile(io.RawIOBase):
    """A read-only, seekable view of one S3 object that fetches only the byte ranges asked for."""

    def __init__(self, s3: Any, url: str) -> None:
        self._s3 = s3
        self._bucket, self._key = split_s3(url)
        self._size = s3.head_object(Bucket=self._bucket, Key=self._key)["ContentLength"]
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        if self._position >= self._size or len(buffer) == 0:
            return 0
        end = min(self._size, self._position + len(buffer)) - 1
        body = self._s3.get_object(Bucket=self._bucket, Key=self._key, Range=f"bytes={self._position}-{end}")["Body"]
        data = body.read()
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)


def open_archive(storage: Storage, url: str) -> BinaryIO:
    """A seekable binary file for ``zipfile``: the file itself locally, ranged GETs on S3."""
    if url.startswith("file:"):
        return open(local_path(url), "rb")
    return io.BufferedReader(RangeFile(storage.s3, url), buffer_size=RANGE_BUFFER)


@dataclass(frozen=True)
class Landing:
    """The archives whose export period overlaps a run's dates, and the landing objects that are not archives."""

    archives: list[Archive]
    ignored: list[str]


def landing_archives(storage: Storage, landing_url: str, first: date, last: date) -> Landing:
    """The archives of ``first..last`` under ``landing_url``; ArchiveNameError names a misnamed one and the fix."""
    try:
        archives, ignored = select_archives(storage.list(landing_url), first, last)
    except ArchiveNameError as error:
        raise ArchiveNameError(f"{error}; rename or move it out of --landing {landing_url}") from error
    return Landing(archives, ignored)


def member_groups(archive: Archive, selection: Selection, storage: Storage) -> ArchiveMembers:
    """The selected members of ``archive`` grouped by participant, device and stream, and the refused ones."""
    try:
        with open_archive(storage, archive.url) as handle, zipfile.ZipFile(handle) as archive_zip:
            infos = archive_zip.infolist()
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise UnreadableArchive(f"{archive.url}: not a readable zip archive ({error}); replace the file and rerun") from error
    return group_entries(archive, infos, selection)
