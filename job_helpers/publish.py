"""Publishing a run's files so that a rerun replaces, never adds: write aside, then commit.

Tasks write their files under ``<table>/_staging/<run id>/`` (readers skip folders starting with
``_``), with names that depend only on what they hold, so a retried task or a rerun writes the
same names. Once every task is done, ``publish`` moves the staged files into place and then
deletes whatever else lies under the partitions the run owns: older files and partitions no longer
produced. A crash before the move leaves the published table as it was; a crash during it leaves
at most new files beside old ones, and the rerun's publish removes the old ones.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from job_helpers.storage import Storage, join

log = logging.getLogger(__name__)

STAGING = "_staging"


def staging_url(table_url: str, run_id: str) -> str:
    return join(table_url, STAGING, run_id) + "/"


def publish(storage: Storage, table_url: str, run_id: str, staged: dict[str, set[str]], owned: Iterable[str]) -> int:
    """Move the staged files into place, then delete every other file under the owned prefixes.

    ``staged`` maps partition folders (``dt=D/hour=H/``) to file names; ``owned`` are the
    prefixes (``dt=D/hour=H/``, or a shallower ``export=E/``) whose content this run decides.
    Returns the number of files deleted.
    """
    staging = staging_url(table_url, run_id)
    for folder, names in sorted(staged.items()):
        for name in sorted(names):
            storage.move(join(staging, folder + name), join(table_url, folder + name))
    root = table_url.rstrip("/") + "/"
    removed = 0
    for prefix in owned:
        for stored in storage.list(join(table_url, prefix)):
            folder, _, name = stored.url[len(root) :].rpartition("/")
            if name not in staged.get(folder + "/", ()):
                storage.delete(stored.url)
                removed += 1
    if removed:
        log.info("removed %d file(s) no longer produced under %s", removed, table_url)
    return removed


def discard_staging(storage: Storage, table_url: str, run_id: str) -> None:
    """Delete what is left of a run's staging folder (files of inputs that failed, or of a failed run)."""
    for stored in storage.list(staging_url(table_url, run_id)):
        storage.delete(stored.url)
