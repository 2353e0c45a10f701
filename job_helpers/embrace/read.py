"""Reading the landing location: which archives a run reads, what their central directories hold, and
the members of each.

``zipfile`` needs a seekable file: ``Storage.open`` gives one that, on S3, fetches only the byte
ranges asked for, so listing an archive reads its central directory and a task streaming one
member moves only that member's bytes.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from datetime import date

from job_helpers.embrace.archives import Archive, ArchiveNameError, Selection, select_archives
from job_helpers.embrace.limits import DEFAULT_LIMITS, ArchiveLimits
from job_helpers.embrace.members import ArchiveMembers, UnreadableArchive, group_entries
from job_helpers.storage import Storage, StorageError


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


def member_groups(
    archive: Archive, selection: Selection, storage: Storage, limits: ArchiveLimits = DEFAULT_LIMITS
) -> ArchiveMembers:
    """The selected members of ``archive`` grouped by participant, device and stream, and the refused ones (see ``limits``)."""
    try:
        with storage.open(archive.url) as handle, zipfile.ZipFile(handle) as archive_zip:
            infos = archive_zip.infolist()
    except (zipfile.BadZipFile, OSError, EOFError, StorageError) as error:
        raise UnreadableArchive(f"{archive.url}: not a readable zip archive ({error}); replace the file and rerun") from error
    return group_entries(archive, infos, selection, limits)
