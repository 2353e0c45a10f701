"""Restore a subject from landing or archive into a folder.

Restores download into a private staging folder beside ``dest`` and move files into ``dest`` only
after every checksum matched, so a mismatch or an interruption leaves nothing partial in ``dest``.
An archived tar is restored in steps (request, wait hours, download): ``restore_archive`` takes one
step, ``wait_for_archive`` polls it with backoff until the files are restored or a deadline passes.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from job_helpers.backoff import Backoff, Pending, poll
from job_helpers.ingest.archive import extract_tar
from job_helpers.ingest.manifest import Manifest
from job_helpers.ingest.payload import sha256_of
from job_helpers.ingest.read import find_manifests
from job_helpers.storage import Storage, join, split_s3

log = logging.getLogger(__name__)

# A deep-archive restore takes hours: look again within a minute at first, then at most every 15 minutes.
RESTORE_POLL = Backoff(base=30.0, cap=900.0)


class RestoreError(Exception):
    """A restore cannot go ahead or failed a check; ``dest`` holds nothing from it."""


def choose_manifest(storage: Storage, archive_url: str, dataset: str, code: str, ingest: str | None = None) -> Manifest:
    """The subject's latest manifest, or the one of ``ingest``."""
    manifests = find_manifests(storage, archive_url, dataset, code)
    if ingest:
        manifests = [m for m in manifests if m.ingest_id == ingest]
    if not manifests:
        what = f"ingest {ingest} of subject {code}" if ingest else f"subject {code}"
        raise RestoreError(f"no manifest for {what} in data set {dataset}; check the code with `make verify dataset={dataset}`")
    return manifests[-1]


@contextmanager
def _staging(dest: Path) -> Iterator[Path]:
    """A mode-700 folder beside ``dest``; removed whatever happens."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=".restore-", dir=dest.parent))
    try:
        yield stage
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _check_free(dest: Path, keys: list[str]) -> None:
    taken = [key for key in keys if (dest / key).exists()]
    if taken:
        raise RestoreError(f"{dest / taken[0]} already exists ({len(taken)} file(s) in all); restore into an empty folder")


def _publish(stage: Path, dest: Path, keys: list[str]) -> list[Path]:
    placed = []
    for key in keys:
        target = dest / PurePosixPath(key)
        target.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
        os.replace(stage / key, target)
        placed.append(target)
    return placed


def restore_landing(manifest: Manifest, storage: Storage, landing_url: str, dest: Path) -> list[Path]:
    """Download every landing object of the manifest, check each SHA-256, then place them in ``dest``."""
    keys = [f.key for f in manifest.files]
    _check_free(dest, keys)
    with _staging(dest) as stage:
        for entry in manifest.files:
            target = stage / entry.key
            target.parent.mkdir(parents=True, exist_ok=True)
            url = join(landing_url, entry.key)
            if not storage.exists(url):
                raise RestoreError(f"{url}: missing from landing; restore from the archive with --from archive")
            storage.download(url, target)
            if sha256_of(target) != entry.sha256:
                raise RestoreError(
                    f"{url}: SHA-256 differs from the manifest; nothing was restored, "
                    "restore from the archive with --from archive"
                )
        placed = _publish(stage, dest, keys)
    log.info("subject %s: %d file(s) restored from landing", manifest.subject, len(placed))
    return placed


@dataclass(frozen=True)
class ArchiveRestore:
    """``state``: ``requested`` (just asked), ``in-progress`` (asked before), or ``restored``."""

    state: str
    url: str
    files: tuple[Path, ...] = ()


def request_restore(storage: Storage, url: str, days: int, tier: str) -> None:
    """Ask S3 to make an archived object readable for ``days`` days, at retrieval ``tier`` (``Bulk``, ``Standard``).

    Only the ingest command restores, as the operator; the jobs' storage never needs s3:RestoreObject.
    """
    bucket, key = split_s3(url)
    storage.s3.restore_object(Bucket=bucket, Key=key, RestoreRequest={"Days": days, "GlacierJobParameters": {"Tier": tier}})


def restore_archive(
    manifest: Manifest, storage: Storage, archive_url: str, dest: Path, days: int = 7, tier: str = "Bulk"
) -> ArchiveRestore:
    """Move the subject's tar one step on: request its restore, report progress, or download, check and unpack."""
    url = join(archive_url, manifest.archive.key)
    found = storage.head(url)
    if found is None:
        raise RestoreError(f"{url}: the archive object is missing; run `make verify dataset={manifest.dataset}`")
    state = found.restore_state
    if state == "none":
        request_restore(storage, url, days, tier)
        log.info("subject %s: restore of %s requested (%s tier, %d days)", manifest.subject, url, tier, days)
        return ArchiveRestore("requested", url)
    if state == "in-progress":
        return ArchiveRestore("in-progress", url)
    _check_free(dest, list(manifest.archive.members))
    with _staging(dest) as stage:
        tar_path = stage / "archive.tar"
        storage.download(url, tar_path)
        digest = sha256_of(tar_path)
        if digest != manifest.archive.sha256:
            raise RestoreError(
                f"{url}: SHA-256 {digest[:12]}… differs from the manifest's "
                f"{manifest.archive.sha256[:12]}…; the archive copy is damaged, nothing was restored"
            )
        unpacked = stage / "unpacked"
        names = extract_tar(tar_path, unpacked)
        if sorted(names) != sorted(manifest.archive.members):
            raise RestoreError(f"{url}: the tar's members differ from the manifest's file list; nothing was restored")
        placed = _publish(unpacked, dest, list(manifest.archive.members))
    log.info("subject %s: %d file(s) restored from %s", manifest.subject, len(placed), url)
    return ArchiveRestore("restored", url, tuple(placed))


def wait_for_archive(
    manifest: Manifest,
    storage: Storage,
    archive_url: str,
    dest: Path,
    timeout: float,
    on_pending: Callable[[ArchiveRestore], None],
    days: int = 7,
    tier: str = "Bulk",
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ArchiveRestore:
    """Step the archive restore (``restore_archive``) with backoff until the files are restored.

    ``on_pending`` is told every step that left the restore requested or in progress. Raises
    ``backoff.DeadlinePassed`` when ``timeout`` seconds have passed without the files restored.
    """

    def step() -> ArchiveRestore | Pending:
        outcome = restore_archive(manifest, storage, archive_url, dest, days, tier)
        if outcome.state == "restored":
            return outcome
        on_pending(outcome)
        return Pending()

    return poll(step, RESTORE_POLL, deadline=clock() + timeout, sleep=sleep, clock=clock)
