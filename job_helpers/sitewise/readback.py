"""What a run publishes is read back before it is committed, and what is committed can be checked again.

A merged file is read back from where it was staged (the object store, not the local copy it
was made from): its header, framing and sync markers, and every block compared with what the
merge wrote (records, bytes, CRC-32). The records read back must then reconcile with those read
from the raw files (a SiteWise merge rejects no record: read = written). Only then is the file
committed, so nothing that does not read back is ever in a manifest.

``--repair-days`` also reads back, in full, every file a day has committed, for files published
by earlier versions of the job that trusted block counts: each block's count is checked against
its data and the file's records against its manifest entry. ``run`` rebuilds the files that fail.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date

from job_helpers.sitewise.avro_blocks import CorruptAvroFile, IncompatibleAvroFile, MergeStats, checked_file_records, read_back
from job_helpers.sitewise.day_index import DayIndex, MergedFile
from job_helpers.sitewise.keys import Layout
from job_helpers.sitewise.write import staged_url
from job_helpers.storage import Storage, join

log = logging.getLogger(__name__)


class RecordsDoNotReconcile(Exception):
    """The records read back from a staged file differ from those read from its raw files."""


def staged_records(storage: Storage, url: str, stats: MergeStats) -> int:
    """Read a staged merged file back and compare it with what the merge wrote; return its records."""
    with storage.open(url) as stream:
        return read_back(stream, url, stats)


def reconcile(day: date, read: int, written: int, url: str) -> None:
    """Records read from the raw files must all be in the file read back, and no others."""
    if read != written:
        raise RecordsDoNotReconcile(
            f"{day}: {read} records were read from the raw files but {written} were read back from {url}; "
            "nothing was committed for the day"
        )


@dataclass(frozen=True)
class FailingFile:
    """A committed file that does not read back as its manifest entry says, and why."""

    name: str
    merged: MergedFile
    reason: str


def first_failing_file(
    storage: Storage, layout: Layout, day: date, index: DayIndex, checked: dict[str, MergedFile]
) -> FailingFile | None:
    """The first committed file of the day that fails its read-back; None if all pass.

    ``checked`` remembers the entries found sound by this run, so each is read once.
    """
    for name, merged in sorted(index.files.items()):
        if checked.get(name) == merged:
            continue
        reason = committed_file_problem(storage, layout, day, name, merged)
        if reason is not None:
            return FailingFile(name, merged, reason)
        checked[name] = merged
    return None


def committed_file_problem(storage: Storage, layout: Layout, day: date, name: str, merged: MergedFile) -> str | None:
    """Why a committed file fails its read-back (unreadable, missing, or another record count), or None.

    It is read where it is published, or else from its staged copy, which a run that died between
    its commit and its move left. The published place is looked at again last, as a run may have
    moved the file meanwhile.
    """
    output = join(layout.output_day(day), name)
    places = [output, staged_url(layout, day, merged.run, name), output] if merged.run else [output]
    for url in places:
        if not storage.exists(url):
            continue
        try:
            with storage.open(url) as stream:
                records = checked_file_records(stream, url)
        except (CorruptAvroFile, IncompatibleAvroFile) as error:
            return f"it does not read back: {error}"
        if records != merged.records:
            return f"{url} holds {records} records where its manifest entry says {merged.records}"
        log.info("%s: %s reads back, %d records", day, url, records)
        return None
    return f"{output} is missing, and so is its staged copy"
