"""Publishing the STEDI tables and rejects through ``job_helpers.publish`` (file:// and s3://).

Spark writes a run's table under ``<table>/_staging/<run id>/`` (readers skip ``_`` folders);
``publish`` then moves the files into place and deletes what the run's partitions no longer hold:
the whole table, or the ``reading_date=…`` partitions of a date range (a date of the range without
rows is emptied). Spark's part files carry a random id, so a rerun, even after a run killed while
publishing, deletes every file of those partitions that is not its own: one copy is left.
A reader sees old or new files of a partition throughout, never neither.
"""

from __future__ import annotations

import logging
from datetime import date, timedelta

from pyspark.sql import DataFrame

from job_helpers.publish import PublishError, ShrinkGuard, discard_staging, new_run_id, publish, staging_url
from job_helpers.run_report import scope_name
from job_helpers.runtime import JobFailed
from job_helpers.stedi.parameters import Parameters
from job_helpers.stedi.read import Landing
from job_helpers.stedi.schemas import JSON_TIMESTAMP_FORMAT, PARTITION_COLUMN
from job_helpers.stedi.settings import FORMATS
from job_helpers.storage import Storage, join

log = logging.getLogger(__name__)

OLD_LAYOUT = (".staging-", ".trash-")


def table(frame: DataFrame, storage: Storage, url: str, params: Parameters, *, partitioned: bool) -> int:
    """Publish ``frame`` (the run's dates only when partitioned and ranged) and return its row count.

    The shrink guard refuses a run whose files hold under a tenth of the bytes of those they replace
    (landing data that expired or went missing), unless ``--allow-shrink true``.
    """
    # Counted and written from one computation; a frame the caller cached stays cached for the caller.
    owned = not frame.is_cached
    frame = frame.cache()
    count = frame.count()
    guard = ShrinkGuard(allowed=params.allow_shrink)
    if partitioned:
        publish_table(
            frame, storage, url, params.output_format, partitioned=True, first=params.first, last=params.last, shrink_guard=guard
        )
    else:
        publish_table(frame, storage, url, params.output_format, shrink_guard=guard)
    if owned:
        frame.unpersist()
    return count


def rejects(landing: Landing, storage: Storage, rejects_folder: str, params: Parameters) -> None:
    """Publish the run's rejects at ``<rejects_folder><scope>/``, replacing the last run's however fewer.

    Called after the table, so a refused table leaves them as they were.
    """
    publish_table(landing.rejects, storage, join(rejects_folder, params.scope + "/"), "json")


def check_reject_share(landing: Landing, storage: Storage, rejects_folder: str, max_share: float, params: Parameters) -> None:
    """Fail when the rejects exceed ``max_share`` of the lines, publishing them (and nothing else) to look at."""
    total = sum(landing.rejected.values())
    if landing.lines and total / landing.lines > max_share:
        rejects(landing, storage, rejects_folder, params)
        reasons = ", ".join(f"{count} {reason}" for reason, count in landing.rejected.items())
        raise JobFailed(
            f"{total} of {landing.lines} landing records rejected ({reasons}), over the allowed share "
            f"{max_share:.2%}; see {rejects_folder}{params.scope}/ and fix the input, or raise stedi.max_reject_share"
        )


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
) -> None:
    """Write ``frame`` aside, then publish it at ``url``: the whole table, or the dates first..last."""
    if fmt not in FORMATS:
        raise JobFailed(f"output format {fmt!r} is not one of {', '.join(FORMATS)}")
    days = _days(first, last) if partitioned and first is not None and last is not None else None
    ranged = days is not None
    run_id = new_run_id(scope_name(first, last) if ranged else "all")
    staging = staging_url(url, run_id)
    remove_old_layout(storage, url)
    try:
        writer = frame.write.mode("errorifexists").format(fmt)
        if fmt == "json":
            writer = writer.option("timestampFormat", JSON_TIMESTAMP_FORMAT)
        if partitioned:
            writer = writer.partitionBy(PARTITION_COLUMN)
        writer.save(staging)
        owned = [f"{PARTITION_COLUMN}={day.isoformat()}/" for day in days] if days is not None else [""]
        publish(storage, url, run_id, staged_files(storage, staging), owned, shrink_guard=shrink_guard)
    except PublishError as error:
        raise JobFailed(str(error)) from error
    finally:
        discard_staging(storage, url, run_id)
    log.info("published %s (%s)", url, f"{first}..{last}" if ranged else "whole table")


def staged_files(storage: Storage, staging: str) -> dict[str, set[str]]:
    """The data files Spark wrote under ``staging`` by folder; its markers and checksums (``_*``, ``.*``) left out."""
    staged: dict[str, set[str]] = {}
    for stored in storage.list(staging):
        folder, _, name = stored.url[len(staging) :].rpartition("/")
        if not name.startswith(("_", ".")):
            staged.setdefault(folder, set()).add(name)
    return staged


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


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
