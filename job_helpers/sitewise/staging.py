"""Merged outputs wait in a staging folder that Athena never reads until the manifest commits them.

A staged file is named ``<run>-merged_<hash>.avro``, where ``<run>`` (``YYYYmmddTHHMMSSZ-<hex>``)
belongs to one attempt of one run: a run that loses a commit race deletes only its own file, and
the time in the name tells how old a file left by a killed run is. The manifest records the run
of each file it commits; the file is then moved into the day's folder, and a run that died
between commit and move is finished by the next review of the day.
"""

from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, date, datetime, timedelta

from job_helpers.sitewise.day_index import DayIndex, DayIndexError, MergedFile
from job_helpers.sitewise.keys import Layout
from job_helpers.storage import Storage, join

# Far longer than any run needs between staging a file and committing it (seconds), so a file
# this old that the manifest does not name was left by a run that no longer exists.
STAGING_EXPIRY = timedelta(days=2)
_RUN_TIME = "%Y%m%dT%H%M%SZ"
_STAGED_NAME = re.compile(r"^(?P<run>(?P<time>\d{8}T\d{6}Z)-[0-9a-f]{12})-(?P<name>[^/]+)$")

log = logging.getLogger(__name__)


def new_run(now: datetime) -> str:
    """A token naming one attempt of one run, starting with the UTC time it began."""
    return f"{now.astimezone(UTC).strftime(_RUN_TIME)}-{uuid.uuid4().hex[:12]}"


def staged_url(layout: Layout, day: date, run: str, name: str) -> str:
    return join(layout.staging_day(day), f"{run}-{name}")


def move_into_place(storage: Storage, layout: Layout, day: date, name: str, merged: MergedFile) -> None:
    """Move a committed file from staging into the day's folder; done already by another run is fine."""
    source, target = staged_url(layout, day, merged.run, name), join(layout.output_day(day), name)
    try:
        storage.move(source, target)
    except Exception as error:
        if storage.exists(target):
            return
        raise DayIndexError(
            f"{target}: committed in the day's manifest, but neither it nor its staged copy {source} can be moved "
            f"into place ({error}); restore the file, or remove its entry from the manifest to merge its keys again"
        ) from error
    log.info("%s: published %s", day, target)


def finish_committed_moves(storage: Storage, layout: Layout, day: date, index: DayIndex, published: set[str]) -> None:
    """Move the files the manifest commits but the day's folder lacks: a run died after committing them.

    ``published`` holds the names listed in the day's folder before ``index`` was read.
    """
    for name, merged in sorted(index.files.items()):
        if merged.run and name not in published:
            log.warning("%s: %s is committed but was not moved into place; moving it now", day, name)
            move_into_place(storage, layout, day, name, merged)


def remove_expired_staging(storage: Storage, staging_day_url: str, staged: list[str], index: DayIndex, now: datetime) -> None:
    """Delete staged files older than ``STAGING_EXPIRY`` that the manifest does not commit.

    ``staged`` names the staging folder's files, listed before ``index`` was read.
    """
    committed_runs = {merged.run for merged in index.files.values()}
    for name in staged:
        match = _STAGED_NAME.match(name)
        if match is None or match["run"] in committed_runs:
            continue
        started = datetime.strptime(match["time"], _RUN_TIME).replace(tzinfo=UTC)
        if now - started > STAGING_EXPIRY:
            url = join(staging_day_url, name)
            log.warning("deleting %s: staged by a run that never committed it and ended long ago", url)
            storage.delete(url)
