"""What a day has already merged: the index folder's ``manifest.json`` and ``timeseries.txt``.

``manifest.json`` maps every merged output file of the day to the raw keys it holds; it is the
commit record, written last, so an output file it does not name is the leftover of a run that
died and may be deleted. ``timeseries.txt`` is the sorted, newline-separated list of series ids
merged that day, in the form existing consumers read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from job_helpers.sitewise.keys import parse_raw_key
from job_helpers.storage import Storage, join

MANIFEST = "manifest.json"
TIMESERIES = "timeseries.txt"
MANIFEST_FORMAT = 1


class DayIndexError(Exception):
    """A day's manifest cannot be read; the message names it."""


@dataclass(frozen=True)
class MergedFile:
    keys: tuple[str, ...]
    records: int


@dataclass(frozen=True)
class DayIndex:
    files: dict[str, MergedFile] = field(default_factory=dict)

    def merged_keys(self) -> set[str]:
        return {key for merged in self.files.values() for key in merged.keys}

    def series(self) -> set[str]:
        return {parse_raw_key(key).series_id for key in self.merged_keys()}

    def with_file(self, name: str, merged: MergedFile) -> DayIndex:
        return DayIndex({**self.files, name: merged})


def read_day_index(storage: Storage, index_day_url: str) -> DayIndex:
    """The day's index, or an empty one if nothing has been merged for that day yet."""
    url = join(index_day_url, MANIFEST)
    if not storage.exists(url):
        return DayIndex()
    try:
        document = json.loads(storage.read_text(url))
        if document.get("format") != MANIFEST_FORMAT:
            raise ValueError(f"format {document.get('format')!r} is not {MANIFEST_FORMAT}")
        files = {
            name: MergedFile(keys=tuple(entry["keys"]), records=int(entry["records"]))
            for name, entry in document["files"].items()
        }
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise DayIndexError(
            f"{url}: not a readable day manifest ({error}); restore it or delete the day's index and output to redo it"
        ) from error
    return DayIndex(files)


def write_day_index(storage: Storage, index_day_url: str, index: DayIndex) -> None:
    """Publish the day's series list, then the manifest that commits it."""
    storage.write_text(join(index_day_url, TIMESERIES), "\n".join(sorted(index.series())))
    document = {
        "format": MANIFEST_FORMAT,
        "files": {
            name: {"keys": list(merged.keys), "records": merged.records}
            for name, merged in sorted(index.files.items())
        },
    }
    storage.write_text(join(index_day_url, MANIFEST), json.dumps(document, indent=1, sort_keys=True) + "\n")
