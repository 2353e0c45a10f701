"""Publishing a run's files so that a rerun replaces, never adds: write aside, then commit.

Tasks write their files under ``<table>/_staging/<run id>/`` (readers skip folders starting with
``_``). Once every task is done, ``publish`` commits them in three steps:

1. every staged file is moved into place (on S3 a server-side copy, then the staged copy deleted);
   a file whose name is already published is overwritten, which S3 and a local rename do
   atomically per object;
2. every other file under the partitions the run owns is deleted, in batches: older files of other
   names (Spark's part files carry a random id), partitions no longer produced, and what a killed
   earlier run had already moved in;
3. the staging folders of killed runs of the same scope (the run id's part before its last ``-``)
   are removed, and those of any scope once they are older than a week.

New files go in before old ones go, so a reader never finds a partition with neither; a run
killed part way leaves old and new files side by side, and the rerun's step 2 deletes whatever is
not its own, leaving exactly one copy. A shrink guard refuses, before anything changes, a publish
that would replace much more data than it brings (input that expired or went missing).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from job_helpers.storage import Storage, join

log = logging.getLogger(__name__)

STAGING = "_staging"
ABANDONED_AFTER_S = 7 * 86_400  # longer than any Glue job may run


class PublishError(Exception):
    """A run's files cannot be published; nothing under the table was changed."""


class ShrinkRefused(PublishError):
    """The run would publish far less than it replaces; the message names the table and the sizes."""


@dataclass(frozen=True)
class ShrinkGuard:
    """Refuse a publish whose files under the owned partitions hold less than ``min_share`` of the
    bytes of the files they replace, unless ``allowed`` (then it is only logged)."""

    allowed: bool = False
    min_share: float = 0.1


def new_run_id(scope: str) -> str:
    """``<scope>-<random>``: the scope (e.g. the run's dates) tells a rerun which leftovers are its own."""
    return f"{scope}-{uuid.uuid4().hex[:12]}"


def staging_url(table_url: str, run_id: str) -> str:
    return join(table_url, STAGING, run_id) + "/"


def publish(
    storage: Storage,
    table_url: str,
    run_id: str,
    staged: Mapping[str, Iterable[str]],
    owned: Iterable[str],
    *,
    shrink_guard: ShrinkGuard | None = None,
) -> int:
    """Move the staged files into place, then delete every other file under the owned prefixes.

    ``staged`` maps partition folders (``dt=D/hour=H/``, or ``""`` for the table's root) to file
    names; ``owned`` are the prefixes (``dt=D/hour=H/``, a shallower ``export=E/``, or ``""`` for
    the whole table) whose content this run decides. Returns the number of files deleted.
    """
    root = table_url.rstrip("/") + "/"
    staging = staging_url(table_url, run_id)
    owned = sorted(set(owned))
    new = {_folder(folder) + name for folder, names in staged.items() for name in names}
    outside = sorted(path for path in new if not any(path.startswith(prefix) for prefix in owned))
    if outside:
        raise PublishError(f"{root}: staged file(s) outside the partitions the run owns, e.g. {outside[0]}; nothing was changed")
    sizes = {stored.url[len(staging) :]: stored.size for stored in storage.list(staging)}
    missing = sorted(new - sizes.keys())
    if missing:
        raise PublishError(f"{staging}{missing[0]}: staged file missing ({len(missing)} in all); nothing was changed")
    old = _published(storage, root, owned)
    if shrink_guard is not None:
        _check_shrink(shrink_guard, root, owned, old, {path: sizes[path] for path in new})
    for path in sorted(new):
        storage.move(staging + path, root + path)
    stale = sorted(path for path in old if path not in new)
    storage.delete_many(root + path for path in stale)
    if stale:
        log.info("removed %d file(s) no longer produced under %s", len(stale), root)
    remove_abandoned_staging(storage, table_url, run_id)
    return len(stale)


def _folder(folder: str) -> str:
    folder = folder.strip("/")
    return folder + "/" if folder else ""


def _published(storage: Storage, root: str, owned: list[str]) -> dict[str, int]:
    """Sizes of the published files under the owned prefixes, by path below the table; staging excluded."""
    found: dict[str, int] = {}
    for prefix in owned:
        for stored in storage.list(root + prefix):
            path = stored.url[len(root) :]
            if not path.startswith(STAGING + "/"):
                found[path] = stored.size
    return found


def _check_shrink(guard: ShrinkGuard, root: str, owned: list[str], old: dict[str, int], new: dict[str, int]) -> None:
    old_bytes, new_bytes = sum(old.values()), sum(new.values())
    if not old_bytes or new_bytes >= guard.min_share * old_bytes:
        return
    scope = "the whole table" if owned == [""] else f"{len(owned)} owned partition(s) ({owned[0]}…)"
    message = (
        f"{root}: this run would replace {len(old)} file(s) of {old_bytes:,} bytes under {scope} with "
        f"{len(new)} file(s) of {new_bytes:,} bytes, under {guard.min_share:.0%} of what is there"
    )
    if guard.allowed:
        log.warning("%s; publishing anyway (--allow-shrink true)", message)
        return
    raise ShrinkRefused(
        f"{message}; nothing was changed. If the input really shrank (e.g. landing data deleted on purpose), "
        "rerun with --allow-shrink true"
    )


def remove_abandoned_staging(storage: Storage, table_url: str, run_id: str) -> None:
    """Remove the staging folders of killed runs: those of this run's scope, and any older than a week."""
    scope = run_id.rpartition("-")[0]
    base = join(table_url, STAGING) + "/"
    newest: dict[str, float] = {}
    for stored in storage.list(base):
        other = stored.url[len(base) :].split("/", 1)[0]
        newest[other] = max(newest.get(other, 0.0), stored.modified)
    now = time.time()
    for other, modified in sorted(newest.items()):
        if other != run_id and (other.rpartition("-")[0] == scope or now - modified > ABANDONED_AFTER_S):
            count = storage.delete_prefix(base + other + "/")
            log.info("removed %d file(s) left in %s%s/ by a run that did not finish", count, base, other)


def discard_staging(storage: Storage, table_url: str, run_id: str) -> None:
    """Delete what is left of a run's staging folder (files of inputs that failed, or of a failed run)."""
    storage.delete_prefix(staging_url(table_url, run_id))
