"""Publishing an ingest: persist codes, upload the planned files, write each subject's tar and manifest.

Order per subject: landing objects (skipped when already there with the same SHA-256), then the tar
(skipped likewise), then the manifest last, so a manifest means a complete ingest. The source
tree is only read.
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
from job_helpers.storage import Storage, join

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
    code: str
    ingest_id: str
    uploaded: int = 0
    skipped: int = 0
    uploaded_bytes: int = 0
    archive_uploaded: bool = False
    manifest_url: str = ""


@dataclass
class IngestResult:
    subjects: list[SubjectResult] = field(default_factory=list)
    failures: list[FileFailure] = field(default_factory=list)

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
    """Upload every planned file to landing, then one tar and one manifest per subject to the archive.

    A file that is no longer as planned (``payload.FileChanged``) is not landed (or taken away again),
    and its subject gets no tar and no manifest; it is listed in ``IngestResult.failures`` and the
    other subjects go on.
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
    files = tuple(ManifestFile(f.key, f.sha256, f.size) for f in subject.files)
    ingest = ingest_id((f.key, f.sha256) for f in files)
    uploaded = [f for f in subject.files if f.key in uploaded_keys]
    result = SubjectResult(subject.code, ingest, len(uploaded), len(files) - len(uploaded), sum(f.size for f in uploaded))
    key = archive_key(targets.dataset, subject.code, ingest)
    tar_url = join(targets.archive_url, key)
    result.manifest_url = manifest_url(targets.archive_url, targets.dataset, subject.code, ingest)
    found = storage.head(tar_url)
    written = storage.read_versioned(result.manifest_url)
    if written is not None and found is not None:
        entry = Manifest.from_json(written.data, result.manifest_url).archive
        if found.sha256 == entry.sha256 and found.size == entry.size:
            progress.advance(subject.size)
            progress.file_done()
            return result
    members = [TarMember(f.key, src / f.source, f.deid, f.size, f.sha256, f.recorded) for f in subject.files]
    with tempfile.TemporaryDirectory(prefix="ingest-") as scratch:
        tar_path = Path(scratch, f"{ingest}.tar")
        try:
            sha256, size = write_tar(members, tar_path)
        except MemberChanged as error:
            planned = next(f for f in subject.files if f.key == error.member.name)
            raise _MemberChanged(FileFailure(subject.code, planned.key, planned.locator, str(error))) from error
        if found is None or found.sha256 != sha256 or found.size != size:
            storage.upload(tar_path, tar_url, sha256=sha256, storage_class=targets.archive_storage_class)
            result.archive_uploaded = True
    progress.advance(subject.size)
    progress.file_done()
    manifest = Manifest(
        dataset=targets.dataset,
        subject=subject.code,
        ingest_id=ingest,
        created=now().isoformat(timespec="seconds"),
        files=files,
        archive=ArchiveEntry(key, sha256, size, targets.archive_storage_class or "STANDARD", tuple(f.key for f in subject.files)),
    )
    storage.write_bytes(result.manifest_url, manifest.to_json())
    log.info("subject %s: archive %s written, manifest %s", subject.code, key, result.manifest_url)
    return result
