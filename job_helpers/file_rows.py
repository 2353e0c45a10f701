"""Rows in a file, read from the file itself: what a commit record counts when the writer did not say.

Parquet keeps its row count in the footer, so only the footer is read (ranged GETs on S3); JSON
lines are counted line by line while streaming. Both readers open the file through ``Storage.open``.
"""

from __future__ import annotations

from collections.abc import Callable

from job_helpers.storage import Storage


def parquet_rows(storage: Storage, url: str) -> int:
    import pyarrow.parquet as pq

    with storage.open(url) as handle:
        return int(pq.ParquetFile(handle).metadata.num_rows)


def json_lines_rows(storage: Storage, url: str) -> int:
    """Non-blank lines: one JSON object each."""
    with storage.open(url) as handle:
        return sum(1 for line in handle if line.strip())


COUNTERS: dict[str, Callable[[Storage, str], int]] = {"parquet": parquet_rows, "json": json_lines_rows}
