"""Restore a subject from landing or archive into a folder, and verify what the locations hold.

Restores download into a private staging folder beside ``dest`` and move files into ``dest`` only
after every checksum matched, so a mismatch or an interruption leaves nothing partial in ``dest``.
Verification reads manifests and object metadata (locally: the files' checksums), never the archive.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from job_helpers.ingest.archive import extract_tar
from job_helpers.ingest.manifest import Manifest, manifests_prefix
from job_helpers.ingest.objects import OnBytes
from job_helpers.ingest.payload import sha256_of
from job_helpers.ingest.run import Store
from job_helpers.storage import join

log = logging.getLogger(__name__)


class RestoreError(Exception):
    """A restore cannot go ahead or failed a check; ``dest`` holds nothing from it."""


def find_manifests(archive: Store, archive_url: str, dataset: str, code: str | None = None) -> list[Manifest]:
    """Every manifest of the data set (or of one subject), oldest first."""
    return [manifest for _, manifest in _manifests_with_urls(archive, archive_url, dataset, code)]


def _manifests_with_urls(archive: Store, archive_url: str, dataset: str, code: str | None = None) -> list[tuple[str, Manifest]]:
    found = []
    for url in archive.list(manifests_prefix(archive_url, dataset, code)):
        if url.endswith(".json"):
            data = archive.read_bytes(url)
            if data is not None:
                found.append((url, Manifest.from_json(data, url)))
    return sorted(found, key=lambda pair: (pair[1].created, pair[1].ingest_id))


def choose_manifest(archive: Store, archive_url: str, dataset: str, code: str, ingest: str | None = None) -> Manifest:
    """The subject's latest manifest, or the one of ``ingest``."""
    manifests = find_manifests(archive, archive_url, dataset, code)
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


def restore_landing(
    manifest: Manifest, landing: Store, landing_url: str, dest: Path, on_bytes: OnBytes | None = None
) -> list[Path]:
    """Download every landing object of the manifest, check each SHA-256, then place them in ``dest``."""
    keys = [f.key for f in manifest.files]
    _check_free(dest, keys)
    with _staging(dest) as stage:
        for entry in manifest.files:
            target = stage / entry.key
            target.parent.mkdir(parents=True, exist_ok=True)
            url = join(landing_url, entry.key)
            if landing.head(url) is None:
                raise RestoreError(f"{url}: missing from landing; restore from the archive with --from archive")
            landing.download(url, target, on_bytes)
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


def restore_archive(
    manifest: Manifest,
    archive: Store,
    archive_url: str,
    dest: Path,
    days: int = 7,
    tier: str = "Bulk",
    on_bytes: OnBytes | None = None,
) -> ArchiveRestore:
    """Move the subject's tar one step on: request its restore, report progress, or download, check and unpack."""
    url = join(archive_url, manifest.archive.key)
    found = archive.head(url)
    if found is None:
        raise RestoreError(f"{url}: the archive object is missing; run `make verify dataset={manifest.dataset}`")
    state = found.restore_state
    if state == "none":
        archive.request_restore(url, days, tier)
        log.info("subject %s: restore of %s requested (%s tier, %d days)", manifest.subject, url, tier, days)
        return ArchiveRestore("requested", url)
    if state == "in-progress":
        return ArchiveRestore("in-progress", url)
    _check_free(dest, list(manifest.archive.members))
    with _staging(dest) as stage:
        tar_path = stage / "archive.tar"
        archive.download(url, tar_path, on_bytes)
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


@dataclass(frozen=True)
class Problem:
    kind: str
    url: str
    detail: str


@dataclass
class VerifyReport:
    manifests: int = 0
    objects: int = 0
    problems: list[Problem] = field(default_factory=list)


def verify(dataset: str, landing: Store, landing_url: str, archive: Store, archive_url: str) -> VerifyReport:
    """Compare every manifest with the landing objects and archive tars: missing, size, checksum, unlisted.

    Unlisted objects are looked for under the whole landing location and the data set's archive
    prefix, so the objects of an ingest stopped before its manifests were written are found too.
    """
    report = VerifyReport()
    listed: set[str] = set()
    for manifest_url, manifest in _manifests_with_urls(archive, archive_url, dataset):
        report.manifests += 1
        listed.add(manifest_url)
        checks = [(join(landing_url, f.key), f.size, f.sha256, landing) for f in manifest.files]
        checks.append((join(archive_url, manifest.archive.key), manifest.archive.size, manifest.archive.sha256, archive))
        for url, size, sha256, store in checks:
            listed.add(url)
            report.objects += 1
            found = store.head(url)
            if found is None:
                report.problems.append(Problem("missing", url, "in the manifest, not in the location"))
            elif found.size != size:
                report.problems.append(Problem("mismatch", url, f"size {found.size}, manifest says {size}"))
            elif found.sha256 != sha256:
                report.problems.append(Problem("mismatch", url, "SHA-256 differs from the manifest"))
    for where, store, prefix in (("landing", landing, landing_url), ("archive", archive, join(archive_url, f"{dataset}/"))):
        for url in store.list(prefix):
            if url not in listed:
                report.problems.append(
                    Problem(
                        "unlisted", url, f"in {where}, in no manifest (an interrupted ingest? rerun it, or delete the object)"
                    )
                )
    return report
