"""What a day has already merged: the index folder's ``manifest.json`` and ``timeseries.txt``.

``manifest.json`` is the day's commit record in the publish protocol every job uses
(``job_helpers.publish``): the day's output folder is the scope, and a run adds its merged file
to it (``mode=ADD``). Each file's entry keeps, beside its bytes and rows, the raw keys it holds,
its record count and the run that staged it (``keys``, ``records``, ``run``, as before, so
readers of earlier manifests keep working; a manifest written before carries only those and
reads as committed). While a run adds a file the record is ``publishing``: the files committed
are then its ``previous`` ones, and the file being added is ``claimed``. A file rebuilt by
``--repair-days`` replaces its failing entry by name (``DayIndex.replacing``): one publish claims
the manifest, moves the file over the old one and commits it in the entry's place.
``timeseries.txt`` is the sorted, newline-separated list of series ids merged that day, in the
form existing consumers read; it is derived from the manifest after each commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date

from job_helpers.commit_record import PUBLISHING, FileEntry, Record, RecordUnreadable, Scope
from job_helpers.sitewise.keys import day_partition, parse_raw_key
from job_helpers.storage import Storage, join

MANIFEST = "manifest.json"
TIMESERIES = "timeseries.txt"
SERIES_LIST_ATTEMPTS = 5


class DayIndexError(Exception):
    """A day's manifest cannot be read, or names a file that cannot be found; the message names it."""


@dataclass(frozen=True)
class MergedFile:
    """One committed output file: the raw keys it holds, its record count, and the run that staged it.

    ``run`` is empty for files committed before outputs were staged; they were written in place.
    """

    keys: tuple[str, ...]
    records: int
    run: str = ""

    def entry(self) -> dict[str, object]:
        """What the manifest keeps about the file beside its bytes and rows."""
        return {"keys": list(self.keys), "records": self.records, **({"run": self.run} if self.run else {})}


@dataclass(frozen=True)
class DayIndex:
    """The day's committed files, the manifest version they were read from (None: no manifest), the
    names of files a run is adding (claimed, not committed: not leftovers, not merged yet) and when
    that run's lease ends (None: nothing claimed), each committed file's entry as read (what a
    publish that replaces it names), and the entries a commit from this index replaces."""

    files: dict[str, MergedFile] = field(default_factory=dict)
    version: str | None = None
    claimed: frozenset[str] = frozenset()
    lease_until: float | None = None
    entries: Mapping[str, FileEntry] = field(default_factory=dict)
    replaced: Mapping[str, FileEntry] = field(default_factory=dict)

    def merged_keys(self) -> set[str]:
        return {key for merged in self.files.values() for key in merged.keys}

    def series(self) -> set[str]:
        return {parse_raw_key(key).series_id for key in self.merged_keys()}

    def replacing(self, name: str) -> DayIndex:
        """The index less the file ``name``, which a commit from it replaces (a rebuilt file holds
        the same keys, so it has the same name)."""
        kept = {other: merged for other, merged in self.files.items() if other != name}
        return replace(self, files=kept, replaced={**self.replaced, name: self.entries[name]})


def day_scope(index_day_url: str, day: date) -> Scope:
    """The day's output folder (below the repartitioned root) as a publish scope, its record the manifest."""
    return Scope(day_partition(day), join(index_day_url, MANIFEST))


def read_day_index(storage: Storage, index_day_url: str) -> DayIndex:
    """The day's index, or an empty one if nothing has been merged for that day yet."""
    url = join(index_day_url, MANIFEST)
    current = storage.read_versioned(url)
    if current is None:
        return DayIndex()
    try:
        record = Record.from_bytes(current.data, current.version, url)
        committed = record.previous if record.state == PUBLISHING else record.files
        files = merged_files(record.scope, committed)
    except (RecordUnreadable, ValueError, KeyError, TypeError) as error:
        raise DayIndexError(
            f"{url}: not a readable day manifest ({error}); restore it or delete the day's index and output to redo it"
        ) from error
    entries = {path.removeprefix(record.scope): entry for path, entry in committed.items()}
    if record.state != PUBLISHING:
        return DayIndex(files, current.version, entries=entries)
    claimed = frozenset(path.removeprefix(record.scope) for path in record.files) - set(files)
    return DayIndex(files, current.version, claimed, record.lease_until, entries)


def merged_files(scope: str, entries: Mapping[str, FileEntry]) -> dict[str, MergedFile]:
    """The record's file entries as merged files, by name in the day's folder."""
    return {
        path.removeprefix(scope): MergedFile(
            keys=tuple(entry.extra["keys"]), records=int(entry.extra["records"]), run=str(entry.extra.get("run", ""))
        )
        for path, entry in entries.items()
    }


def series_text(index: DayIndex) -> str:
    return "\n".join(sorted(index.series()))


def publish_series_list(storage: Storage, index_day_url: str, index: DayIndex) -> None:
    """Write ``timeseries.txt`` for ``index``, then again while the manifest has moved on meanwhile.

    Each committing run does this after its commit, so whichever writes the list last has checked
    the manifest after its write and found it unchanged: the list ends up matching the manifest.
    """
    for _ in range(SERIES_LIST_ATTEMPTS):
        storage.write_text(join(index_day_url, TIMESERIES), series_text(index))
        latest = read_day_index(storage, index_day_url)
        if latest.version == index.version:
            return
        index = latest


def series_list_is_current(storage: Storage, index_day_url: str, index: DayIndex) -> bool:
    """Whether ``timeseries.txt`` lists the series of ``index`` (a run may have died before writing it)."""
    current = storage.read_versioned(join(index_day_url, TIMESERIES))
    return current is not None and current.data.decode("utf-8") == series_text(index)
