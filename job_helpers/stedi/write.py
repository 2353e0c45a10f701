"""Publishing the STEDI tables and rejects through ``job_helpers.publish`` (file:// and s3://).

Spark writes a run's table under ``<table>/_staging/<run id>/``: one file per ``reading_date``
partition (the rows are repartitioned by date first), or one file for a table without partitions.
Each is published as ``part-00000<suffix>`` of its folder, the same name on every run, so a
publish replaces the file in place and a reader sees a partition wholly old or wholly new, during
a publish, after a kill, and while two runs of the same dates overlap (their claims queue).
The rows of each file are read back from the file written aside (Parquet footer, JSON lines);
the job reconciles them with what it read before anything is published (``StagedTable.rows``).

Each partition is a scope of the publish protocol: a ranged run's are its dates (a date without
rows is emptied), a whole-table run's every partition found plus every one it writes; a table
without partitions is one scope.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta

from pyspark.sql import DataFrame

from job_helpers.file_rows import COUNTERS
from job_helpers.job_failed import JobFailed
from job_helpers.publish import (
    NewFile,
    Published,
    ShrinkGuard,
    discard_staging,
    new_run_id,
    part_name,
    publish,
    staging_url,
)
from job_helpers.run_report import reconcile, scope_name
from job_helpers.stedi.read import Landing
from job_helpers.stedi.schemas import JSON_TIMESTAMP_FORMAT, PARTITION_COLUMN
from job_helpers.stedi.settings import FORMATS
from job_helpers.storage import Storage

log = logging.getLogger(__name__)

OLD_LAYOUT = (".staging-", ".trash-")


@dataclass(frozen=True)
class StagedTable:
    """A table written aside, not yet published: its files by published path, and the scopes they replace."""

    storage: Storage
    url: str
    run_id: str
    fmt: str
    files: dict[str, NewFile]
    scopes: list[str]
    description: str = field(default="whole table")

    @property
    def rows(self) -> int:
        """Rows in the files written aside, as read back from them."""
        return sum(new.rows or 0 for new in self.files.values())

    def publish(self, guard: ShrinkGuard | None = None) -> Published:
        published = publish(
            self.storage, self.url, self.run_id, self.files, self.scopes, shrink_guard=guard, count_rows=COUNTERS[self.fmt]
        )
        log.info("published %s (%s)", self.url, self.description)
        return published


@contextmanager
def staged(
    frame: DataFrame,
    storage: Storage,
    url: str,
    fmt: str,
    *,
    partitioned: bool = False,
    first: date | None = None,
    last: date | None = None,
    under: str = "",
) -> Iterator[StagedTable]:
    """Write ``frame`` aside for ``url`` (the dates first..last only, when partitioned and given), yield
    it, and remove what is left of the staging folder afterwards, published or not.

    ``under`` (``folder/``) puts an unpartitioned table in a folder of ``url`` that is its one scope
    (the rejects of one run scope, ``<rejects>/<job>/<scope>/``).
    """
    if fmt not in FORMATS:
        raise JobFailed(f"output format {fmt!r} is not one of {', '.join(FORMATS)}")
    days = _days(first, last) if partitioned and first is not None and last is not None else None
    run_id = new_run_id(scope_name(first, last) if days is not None else "all")
    staging = staging_url(url, run_id)
    remove_old_layout(storage, url)
    try:
        writer = (frame.repartition(PARTITION_COLUMN) if partitioned else frame.coalesce(1)).write.mode("errorifexists")
        writer = writer.format(fmt)
        if fmt == "json":
            writer = writer.option("timestampFormat", JSON_TIMESTAMP_FORMAT)
        if partitioned:
            writer = writer.partitionBy(PARTITION_COLUMN)
        writer.save(staging + under)
        files = published_names(storage, staging, fmt)
        if days is not None:
            scopes = [f"{PARTITION_COLUMN}={day.isoformat()}/" for day in days]
            description = f"{first}..{last}"
        elif partitioned:
            scopes = sorted(partitions(storage, url) | {path.split("/", 1)[0] + "/" for path in files})
            description = "whole table"
        else:
            scopes, description = [under], under or "whole table"
        yield StagedTable(storage, url, run_id, fmt, files, scopes, description)
    finally:
        discard_staging(storage, url, run_id)


def publish_table(
    frame: DataFrame,
    storage: Storage,
    url: str,
    fmt: str,
    *,
    partitioned: bool = False,
    first: date | None = None,
    last: date | None = None,
    shrink_guard: ShrinkGuard | None = None,
) -> Published:
    """Write ``frame`` aside, then publish it at ``url``: the whole table, or the dates first..last."""
    with staged(frame, storage, url, fmt, partitioned=partitioned, first=first, last=last) as table:
        return table.publish(shrink_guard)


def publish_rejects(landing: Landing, storage: Storage, rejects_folder: str, scope: str) -> Published:
    """Publish the run's rejects at ``<rejects_folder><scope>/``, replacing the last run's however fewer.

    The rows written aside must be the rejects the landing parse counted. A run without rejects
    writes nothing: it publishes an empty scope (the protocol deletes what an earlier run left
    there). Rejects are not guarded: fewer rejects is good news. The landing's cached parse is
    released afterwards.
    """
    try:
        if not landing.rejected:
            remove_old_layout(storage, rejects_folder)
            published = publish(storage, rejects_folder, new_run_id(scope), {}, [scope + "/"])
            log.info("published %s (%s/, no rejects)", rejects_folder, scope)
            return published
        with staged(landing.rejects, storage, rejects_folder, "json", under=scope + "/") as table:
            reconcile(table.url, read=sum(landing.rejected.values()), written=table.rows)
            return table.publish()
    finally:
        landing.release()


def check_reject_share(landing: Landing, storage: Storage, rejects_folder: str, max_share: float, scope: str) -> None:
    """Fail when the rejects exceed ``max_share`` of the lines, publishing them (and nothing else) to look at."""
    total = sum(landing.rejected.values())
    if landing.lines and total / landing.lines > max_share:
        publish_rejects(landing, storage, rejects_folder, scope)
        reasons = ", ".join(f"{count} {reason}" for reason, count in landing.rejected.items())
        raise JobFailed(
            f"{total} of {landing.lines} landing records rejected ({reasons}), over the allowed share "
            f"{max_share:.2%}; see {rejects_folder}{scope}/ and fix the input, or raise stedi.max_reject_share"
        )


@contextmanager
def reject_share_first(landing: Landing, storage: Storage, rejects_folder: str, max_share: float, scope: str) -> Iterator[None]:
    """Read the run's other inputs inside: when one fails (a table not there yet), the landing is counted now
    and its reject share checked first, so a run with too many rejects says so, publishing them.

    (A run that goes on has the landing counted by the write of its table, and checks the share then.)
    """
    try:
        yield
    except JobFailed:
        landing.counts.aggregated()
        check_reject_share(landing, storage, rejects_folder, max_share, scope)
        raise


def published_names(storage: Storage, staging: str, fmt: str) -> dict[str, NewFile]:
    """Spark's data files under ``staging`` by the name each is published as, with the rows read back from it.

    The files of a folder become ``part-00000…`` in the order of Spark's names, with Spark's suffix
    (``.snappy.parquet``, ``.json``); its markers and checksums (``_*``, ``.*``) are left out.
    """
    by_folder: dict[str, list[str]] = {}
    for stored in storage.list(staging):
        folder, _, name = stored.url[len(staging) :].rpartition("/")
        if name and not name.startswith(("_", ".")):
            by_folder.setdefault(folder, []).append(name)
    count = COUNTERS[fmt]
    files: dict[str, NewFile] = {}
    for folder, names in by_folder.items():
        for sequence, name in enumerate(sorted(names)):
            staged_path = f"{folder}/{name}" if folder else name
            target = part_name(sequence, _suffix(name))
            files[f"{folder}/{target}" if folder else target] = NewFile(staged_path, count(storage, staging + staged_path))
    return files


def partitions(storage: Storage, url: str) -> set[str]:
    """The ``reading_date=…/`` folders of a published table that hold files."""
    root = url.rstrip("/") + "/"
    found = set()
    for stored in storage.list(root):
        path = stored.url[len(root) :]
        if path.startswith(f"{PARTITION_COLUMN}=") and "/" in path:
            found.add(path.split("/", 1)[0] + "/")
    return found


def remove_old_layout(storage: Storage, url: str) -> None:
    """Delete the ``.staging-<table>-*`` and ``.trash-<table>-*`` siblings earlier versions left after a crash
    (a trash folder may hold a whole old table, PII included)."""
    parent, _, leaf = url.rstrip("/").rpartition("/")
    if not leaf or parent.endswith(":") or parent.endswith(":/"):
        return  # a table at the root of a bucket had no siblings
    for kind in OLD_LAYOUT:
        count = storage.delete_prefix(f"{parent}/{kind}{leaf}-")
        if count:
            log.warning(
                "removed %d file(s) of %s/%s%s-* left by an interrupted run of an earlier version", count, parent, kind, leaf
            )


def _suffix(name: str) -> str:
    """Spark's ``part-00000-<id>-c000.snappy.parquet`` or ``part-00000-<id>.c000.snappy.parquet`` → ``.snappy.parquet``."""
    _, dot, rest = name.partition(".")
    return re.sub(r"^\.c\d+", "", dot + rest)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
