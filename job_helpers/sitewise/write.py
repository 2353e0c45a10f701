"""Publishing a day's merged file through the publish protocol every job uses (``job_helpers.publish``).

A merged file is uploaded to a staging folder that Athena never reads, named
``<run>-merged_<hash>.avro``, where ``<run>`` (``YYYYmmddTHHMMSSZ-<hex>``) belongs to one attempt
of one run: a run that loses a commit race deletes only its own file, and the time in the name
tells how old a file left by a killed run is. The day's folder is a scope whose commit record is
the day's manifest (``day_index``); the run adds its file to it (``mode=ADD``): it claims the
manifest if no file committed there holds any of its raw keys (checked on the version it
claims), moves the file into the day's folder and commits. Runs of the same day queue on the
claim; one that died while adding is taken over by the next run of the day, which finishes its
publish (moves in the file that run had staged, if it was not moved yet, and commits it) whether
or not it has anything new itself. A file rebuilt by ``--repair-days`` is published the same way,
replacing its failing entry by name (``replacing``): it is moved over the failing file and
committed in its entry's place, unless another run replaced that entry first. What else a run
that died left behind is finished or removed by the next run of the day.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from job_helpers import publish as protocol
from job_helpers.commit_record import Record
from job_helpers.publish import ADD, NewFile, PublishError, ScopeBusy, Superseded
from job_helpers.sitewise.day_index import (
    DayIndex,
    DayIndexError,
    MergedFile,
    day_scope,
    merged_files,
    publish_series_list,
    read_day_index,
    series_list_is_current,
)
from job_helpers.sitewise.keys import OUTPUT_PREFIX, OUTPUT_SUFFIX, Layout, day_partition
from job_helpers.sitewise.read import DayState, day_state
from job_helpers.storage import Storage, join

# Far longer than any run needs between staging a file and committing it (seconds), so a file
# this old that the manifest does not name was left by a run that no longer exists.
STAGING_EXPIRY = timedelta(days=2)
_RUN_TIME = "%Y%m%dT%H%M%SZ"
_STAGED_NAME = re.compile(r"^(?P<run>(?P<time>\d{8}T\d{6}Z)-[0-9a-f]{12})-(?P<name>[^/]+)$")

log = logging.getLogger(__name__)


class ConcurrentDayUpdate(Exception):
    """Other runs kept committing the day while this one merged it; the message says what to do."""


class KeysCommitted(PublishError):
    """Another run committed some of the staged file's raw keys: merge again what is still new."""


@dataclass(frozen=True)
class Staged:
    """A merged file uploaded to staging, waiting for its commit; ``bytes`` is its size."""

    name: str
    url: str
    merged: MergedFile
    bytes: int


def new_run(now: datetime) -> str:
    """A token naming one attempt of one run, starting with the UTC time it began."""
    return f"{now.astimezone(UTC).strftime(_RUN_TIME)}-{uuid.uuid4().hex[:12]}"


def staged_url(layout: Layout, day: date, run: str, name: str) -> str:
    return join(layout.staging_day(day), f"{run}-{name}")


def finish_earlier_runs(storage: Storage, layout: Layout, day: date, state: DayState) -> DayState:
    """Finish or remove what runs that died left in the day: a publish claimed and not committed,
    files committed but not moved, files moved but not committed, staged files long abandoned, a
    series list not rewritten; return the day's state after."""
    state = finish_abandoned_publish(storage, layout, day, state)
    finish_committed_moves(storage, layout, day, state.index, set(state.published), set(state.staged))
    remove_uncommitted_outputs(storage, layout.output_day(day), state.published, state.index)
    remove_expired_staging(storage, layout.staging_day(day), state.staged, state.index, datetime.now(UTC))
    if state.index.files and not series_list_is_current(storage, layout.index_day(day), state.index):
        publish_series_list(storage, layout.index_day(day), state.index)
    return state


def finish_abandoned_publish(storage: Storage, layout: Layout, day: date, state: DayState) -> DayState:
    """If a run that ended left the day's manifest claimed, take it over and finish that run's
    publish (a publish of nothing of this run's, mode ADD, moves in what that run had staged and
    commits); return the day's state after."""
    if state.index.lease_until is None or state.index.lease_until > time.time():
        return state
    log.warning("%s: a run that ended claimed the day's manifest and did not commit; finishing its publish", day)
    try:
        protocol.publish(
            storage,
            layout.repartitioned,
            new_run(datetime.now(UTC)),
            {},
            [day_scope(layout.index_day(day), day)],
            mode=ADD,
            staging=layout.staging_day(day),
        )
    except ScopeBusy as busy:
        raise ConcurrentDayUpdate(f"{day}: {busy}. Run the day again once the other runs have ended.") from busy
    return day_state(storage, layout, day)


def stage(storage: Storage, layout: Layout, day: date, path: Path, merged: MergedFile) -> Staged:
    """Upload a merged local file to the day's staging folder, under the name of its run."""
    url, size = staged_url(layout, day, merged.run, path.name), path.stat().st_size
    started = time.perf_counter()
    storage.upload(path, url)
    log.info("%s: staged %s in %.2f s", day, url, time.perf_counter() - started)
    return Staged(path.name, url, merged, size)


def commit_staged(storage: Storage, layout: Layout, day: date, index: DayIndex, staged: Staged) -> DayIndex | None:
    """Add the staged file to the day (claim the manifest, move the file into place, commit); return
    the index committed, or None if another run committed some of its keys, or replaced a file this
    one replaces (then nothing changed).

    ``index`` is the manifest as the run read it, less the files the staged one replaces
    (``DayIndex.replacing``); when it changed since, the claim reads it again and, if the other
    runs' files hold none of these keys and those replaced are still as read, commits the file
    beside them.
    """
    if not index.merged_keys().isdisjoint(staged.merged.keys):
        return None
    merged = staged.merged
    path = day_partition(day) + staged.name
    try:
        protocol.publish(
            storage,
            layout.repartitioned,
            merged.run,
            {path: NewFile(f"{merged.run}-{staged.name}", merged.records, merged.entry())},
            [day_scope(layout.index_day(day), day)],
            mode=ADD,
            check=keys_free(merged),
            replacing={day_partition(day) + name: entry for name, entry in index.replaced.items()},
            staging=layout.staging_day(day),
        )
    except (KeysCommitted, Superseded):
        return None
    except ScopeBusy as busy:
        storage.delete(staged.url)
        raise ConcurrentDayUpdate(
            f"{day}: {busy}. This run published nothing for the day; run the day again once the other runs have ended."
        ) from busy
    return read_day_index(storage, layout.index_day(day))


def keys_free(merged: MergedFile) -> Callable[[Record], None]:
    """A check of the manifest a run is about to claim: no committed file may hold any of ``merged``'s keys."""

    def check(record: Record) -> None:
        taken = {key for file in merged_files(record.scope, record.files).values() for key in file.keys}
        if not taken.isdisjoint(merged.keys):
            raise KeysCommitted(f"{len(taken & set(merged.keys))} raw key(s) of this run's file are committed already")

    return check


def drop(storage: Storage, staged: Staged) -> None:
    """Delete a staged file that will never be committed."""
    storage.delete(staged.url)


def publish(storage: Storage, layout: Layout, day: date, staged: Staged, committed: DayIndex) -> str:
    """List the day's series once a file is committed (and in place); return the file's URL."""
    publish_series_list(storage, layout.index_day(day), committed)
    return join(layout.output_day(day), staged.name)


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
            f"into place ({error}); run the day again with --repair-days true to rebuild it from its raw keys, "
            "restore the file, or remove its entry from the manifest to merge its keys again"
        ) from error
    log.info("%s: published %s", day, target)


def finish_committed_moves(
    storage: Storage, layout: Layout, day: date, index: DayIndex, published: set[str], staged: set[str]
) -> None:
    """Move the files the manifest commits but the day's folder lacks: a run died after committing them.

    ``published`` and ``staged`` hold the names listed in the day's and the staging folder before
    ``index`` was read. Versions of the job before the publish protocol committed before moving;
    one of them (of ``--repair-days``) may have committed a rebuilt file under the name of the one
    it replaced, so a committed file still staged is moved even over a published one of its name.
    """
    for name, merged in sorted(index.files.items()):
        if merged.run and (name not in published or f"{merged.run}-{name}" in staged):
            log.warning("%s: %s is committed but was not moved into place; moving it now", day, name)
            move_into_place(storage, layout, day, name, merged)


def remove_uncommitted_outputs(storage: Storage, output_day_url: str, published: list[str], index: DayIndex) -> None:
    """Delete merged files in the day's folder that the manifest neither commits nor has claimed.

    Files are only moved there once claimed, so these are leftovers of the job's earlier
    versions, which wrote them in place before committing, from a run that died in between.
    """
    for name in published:
        if (
            name.startswith(OUTPUT_PREFIX)
            and name.endswith(OUTPUT_SUFFIX)
            and name not in index.files
            and name not in index.claimed
        ):
            url = join(output_day_url, name)
            log.warning("deleting %s: not in the day's manifest, left by a run that did not finish", url)
            storage.delete(url)


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
