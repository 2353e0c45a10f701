"""What a day has already merged: the index folder's ``manifest.json`` and ``timeseries.txt``.

``manifest.json`` maps every merged output file of the day to the raw keys it holds; it is the
commit record. Runs of the same day may overlap, so it only ever changes by a conditional write
from the version its writer read (``Storage.write_if``): a run that lost the race reads it again
instead of overwriting what the other run committed. ``timeseries.txt`` is the sorted,
newline-separated list of series ids merged that day, in the form existing consumers read; it is
derived from the manifest after each commit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from job_helpers.sitewise.keys import parse_raw_key
from job_helpers.storage import Storage, join

MANIFEST = "manifest.json"
TIMESERIES = "timeseries.txt"
MANIFEST_FORMAT = 1
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


@dataclass(frozen=True)
class DayIndex:
    """The day's committed files, and the manifest version they were read from (None: no manifest)."""

    files: dict[str, MergedFile] = field(default_factory=dict)
    version: str | None = None

    def merged_keys(self) -> set[str]:
        return {key for merged in self.files.values() for key in merged.keys}

    def series(self) -> set[str]:
        return {parse_raw_key(key).series_id for key in self.merged_keys()}

    def with_file(self, name: str, merged: MergedFile) -> DayIndex:
        return DayIndex({**self.files, name: merged}, self.version)


def read_day_index(storage: Storage, index_day_url: str) -> DayIndex:
    """The day's index, or an empty one if nothing has been merged for that day yet."""
    url = join(index_day_url, MANIFEST)
    current = storage.read_versioned(url)
    if current is None:
        return DayIndex()
    try:
        document = json.loads(current.data)
        if document.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"format {document.get('format')!r} is not {MANIFEST_FORMAT}")
        files = {
            name: MergedFile(keys=tuple(entry["keys"]), records=int(entry["records"]), run=str(entry.get("run", "")))
            for name, entry in document["files"].items()
        }
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise DayIndexError(
            f"{url}: not a readable day manifest ({error}); restore it or delete the day's index and output to redo it"
        ) from error
    return DayIndex(files, current.version)


def commit_day_index(storage: Storage, index_day_url: str, index: DayIndex) -> DayIndex:
    """Write the manifest if it is still at ``index.version``; return the index at its new version.

    Raises ``WriteConflict`` when another run committed in between: read the index again.
    """
    document = {
        "format": MANIFEST_FORMAT,
        "files": {
            name: {"keys": list(merged.keys), "records": merged.records, **({"run": merged.run} if merged.run else {})}
            for name, merged in sorted(index.files.items())
        },
    }
    data = (json.dumps(document, indent=1, sort_keys=True) + "\n").encode("utf-8")
    version = storage.write_if(join(index_day_url, MANIFEST), data, index.version)
    return DayIndex(index.files, version)


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
