"""Publishing a chunk's outputs so that a rerun or an overlapping chunk replaces, never adds.

Every output is partitioned with ``export=<archive stem>`` first. A chunk writes with dynamic
partition overwrite (Spark stages the files and moves whole partitions into place at commit),
then deletes the partitions under the prefixes it owns (``export=E/`` or ``export=E/stream=S/``)
that this run did not produce, e.g. a day that no longer has clean rows.
"""

from __future__ import annotations

import logging
from typing import Iterable, Sequence

from pyspark.sql import DataFrame

from job_helpers.embrace.archives import MEASURES
from job_helpers.storage import Storage, join

log = logging.getLogger(__name__)

# Java prints a double in at most 24 characters (-1.2345678901234567E-308) and a long in 20.
DOUBLE_WIDTH = 24
TIME_WIDTH = 20


def partition_folder(values: Sequence[tuple[str, str]]) -> str:
    """``export=E/stream=S/`` from ``(column, value)`` pairs, as Spark names the folders."""
    return "".join(f"{column}={value}/" for column, value in values)


def replace_partitions(
    frame: DataFrame,
    url: str,
    fmt: str,
    partition_by: Sequence[str],
    owned: Iterable[str],
    produced: set[str],
    storage: Storage,
    **options: str,
) -> None:
    """Write ``frame`` over its own partitions, then drop the owned partitions it did not produce.

    ``owned`` are partition prefixes this run is responsible for; ``produced`` the full partition
    folders it wrote (both relative to ``url``, as ``partition_folder`` spells them).
    """
    writer = frame.write.mode("overwrite").option("partitionOverwriteMode", "dynamic").partitionBy(*partition_by)
    for key, value in options.items():
        writer = writer.option(key, value)
    if produced:
        writer.format(fmt).save(url)
    removed = drop_stale(storage, url, owned, produced, len(partition_by))
    if removed:
        log.info("removed %d file(s) of partitions no longer produced under %s", removed, url)


def drop_stale(storage: Storage, url: str, owned: Iterable[str], produced: set[str], levels: int) -> int:
    """Delete the files under each owned prefix whose partition folder (``levels`` deep) is not in ``produced``."""
    removed = 0
    root = url.rstrip("/") + "/"
    for prefix in owned:
        for stored in storage.list(join(url, prefix)):
            parts = stored.url[len(root) :].split("/")[:-1]
            folder = "".join(part + "/" for part in parts[:levels])
            if folder not in produced:
                storage.delete(stored.url)
                removed += 1
    return removed


def rows_per_file(stream: str, id_width: int, max_bytes: int) -> int:
    """The most CSV rows a file of ``stream`` can hold and stay within ``max_bytes``, header included.

    The bound is the widest row possible (longest ids, widest numbers), so no file can pass the
    limit whatever the values are.
    """
    header = len(",".join(timestream_columns(stream))) + 1
    row = TIME_WIDTH + 1 + id_width + 4 + 1 + len(MEASURES[stream]) * (DOUBLE_WIDTH + 1) + 1
    if max_bytes < header + row:
        raise ValueError(f"--max-csv-bytes {max_bytes} cannot hold even one {stream} row; give at least {header + row}")
    return (max_bytes - header) // row


def timestream_columns(stream: str) -> tuple[str, ...]:
    """The batch-load CSV columns of ``stream``: time in ms, the two dimensions, its measures."""
    return ("time", "ppt_id", "dev_id", *MEASURES[stream])


def timestream_frame(clean: DataFrame, stream: str) -> DataFrame:
    """The clean rows of one stream, shaped as the batch-load CSV (plus the partition columns)."""
    columns = [clean["time_ms"].alias("time"), "ppt_id", "dev_id", *MEASURES[stream], "export", "stream", "date"]
    return clean.where(clean["stream"] == stream).select(*columns)
