"""Restore a subject from landing or archive into a folder.

Restores stage their files beside ``dest`` and move them into ``dest`` only after every checksum
matched, so a mismatch or an interruption leaves nothing partial in ``dest``.

From the archive, an ingest's files come from every tar part that holds one of them: for each file
the newest part, in the manifests' order, holding its key with its checksum (``manifest.parts_of``).
A deep-archive restore takes hours, so it goes in steps that a rerun resumes: a part not yet
asked for is asked for once (S3 then reports it in progress, and later readable, so a rerun never
asks again); a readable part is copied, checked, into a resume folder beside ``dest``
(``resume_folder``) and kept there, so no part is copied twice; once every part is there, the
files are unpacked, each checked against the manifest, and moved into ``dest``. ``restore_archive``
takes one step, ``wait_for_archive`` polls it with backoff until the files are restored or a
deadline passes. Only a failed check removes the resume folder; anything else (a deadline, expired
credentials, an interrupted process) leaves it for the next run.
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
from job_helpers.ingest.archive import extract_members
from job_helpers.ingest.manifest import ArchiveEntry, Manifest, parts_of
from job_helpers.ingest.payload import sha256_of
from job_helpers.ingest.read import find_manifests
from job_helpers.storage import Storage, join, split_s3

log = logging.getLogger(__name__)

# A deep-archive restore takes hours: look again within a minute at first, then at most every 15 minutes.
RESTORE_POLL = Backoff(base=30.0, cap=900.0)
FOLDER_MODE = 0o700


class RestoreError(Exception):
    """A restore cannot go ahead or failed a check; ``dest`` holds nothing from it."""


@dataclass(frozen=True)
class Chosen:
    """The ingest of a subject to restore, and the subject's manifests up to it, oldest first (``manifest`` last)."""

    manifest: Manifest
    history: tuple[Manifest, ...]


def choose_manifest(storage: Storage, archive_url: str, dataset: str, code: str, ingest: str | None = None) -> Chosen:
    """The subject's latest ingest, or ``ingest``, with the manifests before it."""
    manifests = find_manifests(storage, archive_url, dataset, code)
    wanted = [index for index, m in enumerate(manifests) if ingest is None or m.ingest_id == ingest]
    if not wanted:
        what = f"ingest {ingest} of subject {code}" if ingest else f"subject {code}"
        raise RestoreError(f"no manifest for {what} in data set {dataset}; check the code with `make verify dataset={dataset}`")
    return Chosen(manifests[wanted[-1]], tuple(manifests[: wanted[-1] + 1]))


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
class ArchivePart:
    """A tar part holding files of the restore: where it is, what its manifest says of it, the keys taken from it."""

    url: str
    entry: ArchiveEntry
    keys: tuple[str, ...]


@dataclass(frozen=True)
class PartState:
    """``requested`` (asked for now), ``in-progress`` (asked for before), or ``copied`` (in the resume folder)."""

    url: str
    state: str


@dataclass(frozen=True)
class ArchiveRestore:
    """``state``: ``restored`` (``files`` are in ``dest``) or ``waiting`` (``parts`` say on what)."""

    state: str
    parts: tuple[PartState, ...]
    files: tuple[Path, ...] = ()


def archive_parts(chosen: Chosen, archive_url: str) -> list[ArchivePart]:
    """The tar parts the chosen ingest's files are restored from, in the manifests' order."""
    parts, unheld = parts_of(chosen.history)
    if unheld:
        raise RestoreError(
            f"{len(unheld)} file(s) of ingest {chosen.manifest.ingest_id} of subject {chosen.manifest.subject} "
            f"(such as {unheld[0]}) are in no archive part; run `make verify dataset={chosen.manifest.dataset}`"
        )
    return [ArchivePart(join(archive_url, owner.archive.key), owner.archive, keys) for owner, keys in parts if owner.archive]


def resume_folder(dest: Path, manifest: Manifest) -> Path:
    """Where the parts of one restore into ``dest`` wait, copied and checked, until every part is in."""
    return dest.parent / f".restore-{dest.name}-{manifest.subject}-{manifest.ingest_id}"


def request_restore(storage: Storage, url: str, days: int, tier: str) -> None:
    """Ask S3 to make an archived object readable for ``days`` days, at retrieval ``tier`` (``Bulk``, ``Standard``).

    Only the ingest command restores, as the operator; the jobs' storage never needs s3:RestoreObject.
    """
    bucket, key = split_s3(url)
    storage.s3.restore_object(Bucket=bucket, Key=key, RestoreRequest={"Days": days, "GlacierJobParameters": {"Tier": tier}})


def restore_archive(
    chosen: Chosen, storage: Storage, archive_url: str, dest: Path, days: int = 7, tier: str = "Bulk"
) -> ArchiveRestore:
    """Move the restore one step on: ask for the parts not asked for, copy those readable, and once all are
    copied unpack, check and place the files."""
    manifest = chosen.manifest
    parts = archive_parts(chosen, archive_url)
    _check_free(dest, [f.key for f in manifest.files])
    folder = resume_folder(dest, manifest)
    folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    try:
        states = tuple(_step(part, storage, folder / _copy_name(part), days, tier) for part in parts)
        if any(part.state != "copied" for part in states):
            return ArchiveRestore("waiting", states)
        placed = _unpack(parts, folder, manifest, dest)
    except RestoreError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    shutil.rmtree(folder, ignore_errors=True)
    log.info("subject %s: %d file(s) restored from %d archive part(s)", manifest.subject, len(placed), len(parts))
    return ArchiveRestore("restored", states, tuple(placed))


def _copy_name(part: ArchivePart) -> str:
    return PurePosixPath(part.entry.key).name


def _step(part: ArchivePart, storage: Storage, copy: Path, days: int, tier: str) -> PartState:
    """One part one step on. A copy is renamed into the resume folder only once its checksum matched."""
    if copy.is_file():
        return PartState(part.url, "copied")
    found = storage.head(part.url)
    if found is None:
        raise RestoreError(f"{part.url}: the archive object is missing; run `make verify`")
    state = found.restore_state
    if state == "none":
        request_restore(storage, part.url, days, tier)
        log.info("restore of %s requested (%s tier, %d days)", part.url, tier, days)
        return PartState(part.url, "requested")
    if state == "in-progress":
        return PartState(part.url, "in-progress")
    partial = copy.with_suffix(".partial")
    storage.download(part.url, partial)
    digest = sha256_of(partial)
    if digest != part.entry.sha256:
        raise RestoreError(
            f"{part.url}: SHA-256 {digest[:12]}… differs from the manifest's "
            f"{part.entry.sha256[:12]}…; the archive copy is damaged, nothing was restored"
        )
    os.replace(partial, copy)
    return PartState(part.url, "copied")


def _unpack(parts: list[ArchivePart], folder: Path, manifest: Manifest, dest: Path) -> list[Path]:
    """Unpack each part's keys (with the ``data`` filter), check every file's SHA-256, then place them in ``dest``."""
    unpacked = folder / "unpacked"
    shutil.rmtree(unpacked, ignore_errors=True)
    for part in parts:
        wrong = f"{part.url}: the tar's members differ from its manifest's list; nothing was restored"
        try:
            names = extract_members(folder / _copy_name(part), unpacked, part.keys)
        except KeyError as error:
            raise RestoreError(wrong) from error
        if sorted(names) != sorted(part.entry.members):
            raise RestoreError(wrong)
    for listed in manifest.files:
        if sha256_of(unpacked / listed.key) != listed.sha256:
            raise RestoreError(f"{listed.key}: SHA-256 differs from the manifest once unpacked; nothing was restored")
    return _publish(unpacked, dest, [f.key for f in manifest.files])


def wait_for_archive(
    chosen: Chosen,
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

    ``on_pending`` is told every step that left a part waiting; a part that changed state brings the
    next look back to the shortest wait. Raises ``backoff.DeadlinePassed`` when ``timeout`` seconds
    have passed without the files restored (the resume folder stays for the next run).
    """
    last: list[tuple[PartState, ...]] = []

    def step() -> ArchiveRestore | Pending:
        outcome = restore_archive(chosen, storage, archive_url, dest, days, tier)
        if outcome.state == "restored":
            return outcome
        on_pending(outcome)
        changed = bool(last) and last[0] != outcome.parts
        last[:] = [outcome.parts]
        return Pending(changed=changed)

    return poll(step, RESTORE_POLL, deadline=clock() + timeout, sleep=sleep, clock=clock)
