"""Publishing an ingest: persist codes, upload the planned files, write each subject's tar part and manifest.

Order per subject: landing objects (skipped when already there with the same SHA-256), then the tar
part of the files no earlier part holds (none when there are none), then the manifest last, so a
manifest means a complete ingest. An archive object is never overwritten: one already there with
other bytes stops that subject (``IngestResult.conflicts``), as a rewritten DEEP_ARCHIVE object
is billed for 180 days all the same. The source tree is only read.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from job_helpers.ingest.archive import MemberChanged, TarMember, write_tar
from job_helpers.ingest.manifest import (
    ArchiveEntry,
    Manifest,
    ManifestFile,
    archive_key,
    ingest_id,
    manifest_url,
)
from job_helpers.ingest.payload import FileChanged, check_unchanged, open_payload
from job_helpers.ingest.subjects import SubjectStore
from job_helpers.ingest.transform import Plan, PlannedFile, SubjectPlan
from job_helpers.storage import ObjectInfo, Storage, join

log = logging.getLogger(__name__)


class Progress(Protocol):
    """What the CLI's progress bar implements; the library only reports."""

    def start(self, phase: str, files: int, size: int) -> None: ...

    def advance(self, size: int) -> None: ...

    def file_done(self) -> None: ...


class _Quiet:
    def start(self, phase: str, files: int, size: int) -> None:
        pass

    def advance(self, size: int) -> None:
        pass

    def file_done(self) -> None:
        pass


@dataclass(frozen=True)
class Targets:
    """Where one data set's ingest goes: plain values resolved from config by the caller."""

    dataset: str
    landing_url: str
    archive_url: str
    archive_storage_class: str | None = None


@dataclass(frozen=True)
class FileFailure:
    """A file that changed while it was ingested: shown by its key and position, never its name."""

    code: str
    key: str
    locator: str
    reason: str


@dataclass
class SubjectResult:
    """One subject's ingest; ``archived``: the files in its tar part (0: nothing new to archive)."""

    code: str
    ingest_id: str
    uploaded: int = 0
    skipped: int = 0
    uploaded_bytes: int = 0
    archive_uploaded: bool = False
    archived: int = 0
    manifest_url: str = ""


@dataclass
class IngestResult:
    """Completed subjects; files that changed while ingested; archive objects found holding other bytes."""

    subjects: list[SubjectResult] = field(default_factory=list)
    failures: list[FileFailure] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)

    @property
    def uploaded(self) -> int:
        return sum(s.uploaded for s in self.subjects)

    @property
    def skipped(self) -> int:
        return sum(s.skipped for s in self.subjects)


def save_codes(subjects: SubjectStore, new: dict[str, str]) -> None:
    """Add new codes to the map before anything is uploaded, so a resumed ingest reuses them.

    The store refuses (``SubjectMapConflict``) if the map changed since ``read.prepare`` read it.
    """
    subjects.add(new)


def ingest(
    plan: Plan,
    src: Path,
    targets: Targets,
    storage: Storage,
    workers: int = 8,
    progress: Progress | None = None,
    now: Callable[[], datetime] | None = None,
) -> IngestResult:
    """Upload every planned file to landing, then per subject a tar part of what no earlier part holds, and a manifest.

    A file that is no longer as planned (``payload.FileChanged``) is not landed (or taken away again),
    and its subject gets no tar and no manifest; it is listed in ``IngestResult.failures`` and the
    other subjects go on. So does a subject whose part's key already holds other bytes
    (``IngestResult.conflicts``).
    """
    progress = progress or _Quiet()
    now = now or (lambda: datetime.now(UTC))
    result = IngestResult()
    uploaded = _upload_landing(plan, src, targets, storage, workers, progress, result.failures)
    progress.start("archive", len(plan.subjects), plan.size)
    for subject in plan.subjects:
        failed = [f for f in result.failures if f.code == subject.code]
        if failed:
            log.error("subject %s: %d file(s) changed while ingested; no archive or manifest written", subject.code, len(failed))
            continue
        try:
            done = _archive_subject(subject, src, targets, storage, uploaded, progress, now)
        except _MemberChanged as changed:
            result.failures.append(changed.failure)
            log.error(
                "subject %s: %s changed before it was archived; no archive or manifest written", subject.code, changed.failure.key
            )
            continue
        except ArchiveConflict as conflict:
            result.conflicts.append(str(conflict))
            log.error("%s", conflict)
            continue
        log.info("subject %s: %d file(s) uploaded, %d already in landing", done.code, done.uploaded, done.skipped)
        result.subjects.append(done)
    _remove_changed(plan, targets, storage, result.failures)
    return result


def _remove_changed(plan: Plan, targets: Targets, storage: Storage, failures: list[FileFailure]) -> None:
    """Take each changed file's landing object away (whatever its bytes), unless an earlier manifest lists it."""
    earlier = {f.key for f in plan.files if f.landed_by}
    storage.delete_many(join(targets.landing_url, f.key) for f in failures if f.key not in earlier)


class _MemberChanged(Exception):
    def __init__(self, failure: FileFailure) -> None:
        super().__init__(failure.reason)
        self.failure = failure


class ArchiveConflict(Exception):
    """The key of a subject's tar part already holds other bytes; it is left as it is."""


def _upload_landing(
    plan: Plan,
    src: Path,
    targets: Targets,
    storage: Storage,
    workers: int,
    progress: Progress,
    failures: list[FileFailure],
) -> set[str]:
    """Upload every file in parallel, each checked against its planned SHA-256 as it is read; returns the keys uploaded.

    Each subject's landing prefix is listed first (one request per 1,000 objects), and only objects
    already there are asked for their checksum: a first ingest sends no request per file but its
    upload. After each file, its size and modified time must still be those it was scanned with.
    """
    progress.start("landing", len(plan.files), plan.size)
    codes = {f.source: subject.code for subject in plan.subjects for f in subject.files}

    def listed(subject: SubjectPlan) -> set[str]:
        return {stored.url for stored in storage.list(join(targets.landing_url, f"{subject.code}/"))}

    def one(planned: PlannedFile) -> tuple[str, bool, FileFailure | None]:
        path = src / planned.source
        url = join(targets.landing_url, planned.key)
        found = storage.head(url) if url in existing else None
        sent = False
        try:
            if found is None or found.sha256 != planned.sha256 or found.size != planned.size:
                with open_payload(path, planned.deid, planned.size, (planned.size, planned.sha256)) as payload:
                    storage.upload(payload, url, sha256=planned.sha256, on_bytes=progress.advance)
                sent = True
            else:
                progress.advance(planned.size)
            check_unchanged(path, planned.size, planned.mtime_ns)
        except FileChanged as error:
            return planned.key, False, FileFailure(codes[planned.source], planned.key, planned.locator, str(error))
        finally:
            progress.file_done()
        return planned.key, sent, None

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="ingest") as pool:
        existing: set[str] = set().union(*pool.map(listed, plan.subjects))
        results = list(pool.map(one, plan.files))
    failures += [failure for _, _, failure in results if failure is not None]
    return {key for key, sent, _ in results if sent}


def _archive_subject(
    subject: SubjectPlan,
    src: Path,
    targets: Targets,
    storage: Storage,
    uploaded_keys: set[str],
    progress: Progress,
    now: Callable[[], datetime],
) -> SubjectResult:
    """The subject's tar part (the files no earlier part holds), then its manifest; skipped where a rerun finds them."""
    files = tuple(ManifestFile(f.key, f.sha256, f.size) for f in subject.files)
    ingest = ingest_id((f.key, f.sha256) for f in files)
    uploaded = [f for f in subject.files if f.key in uploaded_keys]
    result = SubjectResult(subject.code, ingest, len(uploaded), len(files) - len(uploaded), sum(f.size for f in uploaded))
    key = archive_key(targets.dataset, subject.code, ingest)
    tar_url = join(targets.archive_url, key)
    result.manifest_url = manifest_url(targets.archive_url, targets.dataset, subject.code, ingest)
    written = storage.read_versioned(result.manifest_url)
    earlier = Manifest.from_json(written.data, result.manifest_url) if written is not None else None
    listed = earlier.archive if earlier is not None else None
    part = [f for f in subject.files if f.key in _part_members(subject, earlier)]
    result.archived = len(part)
    sha256, size = "", 0
    if part:
        sha256, size, result.archive_uploaded = _archived_part(subject, part, src, tar_url, targets, storage, listed)
    progress.advance(subject.size)
    progress.file_done()
    if earlier is not None:
        return result
    archive = ArchiveEntry(key, sha256, size, targets.archive_storage_class or "STANDARD", tuple(f.key for f in part))
    manifest = Manifest(
        dataset=targets.dataset,
        subject=subject.code,
        ingest_id=ingest,
        created=now().isoformat(timespec="microseconds"),
        files=files,
        archive=archive if part else None,
    )
    storage.write_bytes(result.manifest_url, manifest.to_json())
    _log_manifest(manifest, result.manifest_url)
    return result


def _log_manifest(manifest: Manifest, url: str) -> None:
    if manifest.archive is None:
        log.info("subject %s: nothing new to archive (every file is in an earlier part); manifest %s", manifest.subject, url)
    else:
        key, members = manifest.archive.key, len(manifest.archive.members)
        log.info("subject %s: archive part %s (%d file(s)) written, manifest %s", manifest.subject, key, members, url)


def _part_members(subject: SubjectPlan, earlier: Manifest | None) -> set[str]:
    """The keys the subject's tar part holds: on a rerun of this very ingest, those its manifest lists; else the files
    no earlier part holds."""
    if earlier is not None:
        return set(earlier.archive.members) if earlier.archive else set()
    return {f.key for f in subject.files if f.archived_by is None}


def _archived_part(
    subject: SubjectPlan,
    part: list[PlannedFile],
    src: Path,
    tar_url: str,
    targets: Targets,
    storage: Storage,
    listed: ArchiveEntry | None,
) -> tuple[str, int, bool]:
    """The part's SHA-256 and size, and whether it was uploaded now: the object there is kept when it is the one
    this ingest's manifest lists; otherwise the tar is written (see ``_write_part``)."""
    found = storage.head(tar_url)
    if listed is not None and found is not None and (found.sha256, found.size) == (listed.sha256, listed.size):
        return listed.sha256, listed.size, False
    sha256, size = _write_part(subject, part, src, tar_url, found, targets, storage, listed)
    return sha256, size, found is None


def _write_part(
    subject: SubjectPlan,
    part: list[PlannedFile],
    src: Path,
    tar_url: str,
    found: ObjectInfo | None,
    targets: Targets,
    storage: Storage,
    listed: ArchiveEntry | None,
) -> tuple[str, int]:
    """Write the part's tar and upload it where no object is; returns its SHA-256 and size.

    ``ArchiveConflict`` when an object at its key (or the manifest that listed it) holds other bytes:
    nothing is overwritten.
    """
    members = [TarMember(f.key, src / f.source, f.deid, f.size, f.sha256, f.recorded) for f in part]
    with tempfile.TemporaryDirectory(prefix="ingest-") as scratch:
        tar_path = Path(scratch, "part.tar")
        try:
            sha256, size = write_tar(members, tar_path)
        except MemberChanged as error:
            planned = next(f for f in part if f.key == error.member.name)
            raise _MemberChanged(FileFailure(subject.code, planned.key, planned.locator, str(error))) from error
        for record, holder in ((found, "the object there"), (listed, "this ingest's manifest")):
            if record is not None and (record.sha256, record.size) != (sha256, size):
                raise ArchiveConflict(
                    f"subject {subject.code}: {tar_url}: {holder} gives other bytes than this ingest's tar part "
                    f"({size:,} bytes, SHA-256 {sha256[:12]}…); nothing was overwritten. Run `make verify`, delete "
                    "the object or manifest it lists as unlisted or mismatched, then rerun"
                )
        if found is None:
            storage.upload(tar_path, tar_url, sha256=sha256, storage_class=targets.archive_storage_class)
    return sha256, size
