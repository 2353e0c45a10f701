"""Pure decisions of a run: which days, which raw files of a day to merge, what the merged file is called.

The merge itself copies Avro blocks between local files (``avro_blocks``); nothing here does I/O.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

from job_helpers.sitewise.keys import OUTPUT_PREFIX, OUTPUT_SUFFIX, RawFile
from job_helpers.sitewise.series import SeriesFilter


def days_between(first: date, last: date) -> list[date]:
    """Every day from ``first`` to ``last``, both included."""
    if last < first:
        raise ValueError(f"the last day {last} is before the first day {first}")
    return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]


def selected(raw_files: list[RawFile], series_filter: SeriesFilter) -> list[RawFile]:
    """The raw files of the series the run takes."""
    return [raw for raw in raw_files if series_filter.keeps(raw.series_id)]


def not_yet_merged(raw_files: list[RawFile], merged_keys: set[str]) -> list[RawFile]:
    """The files no committed output holds, in merge order: by series, then start time and quality.

    Records of one series then sit together in the merged file, in time order.
    """
    return sorted(
        (raw for raw in raw_files if raw.key not in merged_keys),
        key=lambda raw: (raw.series_id, raw.start_timestamp, raw.quality, raw.key),
    )


def output_identity(keys: list[str]) -> tuple[str, bytes]:
    """The output file name and sync marker for a set of raw keys.

    Both are derived from the sorted keys, so merging the same files again gives the same name
    and the same bytes, and a rerun overwrites rather than duplicates.
    """
    digest = hashlib.sha256("\n".join(sorted(keys)).encode("utf-8")).digest()
    return f"{OUTPUT_PREFIX}{digest[:8].hex()}{OUTPUT_SUFFIX}", digest[16:32]


def files_of(keys: tuple[str, ...], raw_files: list[RawFile]) -> tuple[list[RawFile], list[str]]:
    """The raw files holding ``keys``, in merge order, and the keys no listed raw file holds."""
    by_key = {raw.key: raw for raw in raw_files}
    missing = [key for key in keys if key not in by_key]
    return not_yet_merged([by_key[key] for key in keys if key in by_key], set()), missing
