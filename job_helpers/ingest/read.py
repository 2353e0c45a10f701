"""Reading ingest's inputs: the source tree (paths, sizes, modified times, EDF/BDF headers found by
content, what is skipped), the plan made from it with the subject map and every file's SHA-256,
and the manifests kept in the archive location."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from job_helpers.ingest import edf
from job_helpers.ingest.keep import NOTHING_KEPT, Keep
from job_helpers.ingest.manifest import Manifest, manifests_prefix
from job_helpers.ingest.payload import FileChanged, payload_sha256
from job_helpers.ingest.subjects import SubjectStore, assign_codes, draw_code, known_codes, placeholder_codes
from job_helpers.ingest.tal import AnnotationError
from job_helpers.ingest.transform import (
    Plan,
    PlanError,
    PlannedFile,
    ScannedFile,
    Skipped,
    build_plan,
    patient_folders,
    settle,
    subject_keys,
)
from job_helpers.storage import Storage

log = logging.getLogger(__name__)


class SourceError(Exception):
    """The source folder is missing or unreadable."""


@dataclass(frozen=True)
class SourceTree:
    """The regular files below ``src``, and the entries not ingested (symbolic links, special files)."""

    files: list[ScannedFile]
    skipped: list[Skipped] = field(default_factory=list)


def scan_tree(src: Path) -> SourceTree:
    """Every regular file below ``src``, sorted by path; symbolic links are listed in ``skipped``, never followed.

    Each file's first bytes are read: an EDF or BDF version field means its header is read and
    de-identified, whatever the file is called.
    """
    if not src.is_dir():
        raise SourceError(f"--src {src}: no such folder; give the folder that holds one folder per patient")
    found, skipped = [], []
    locators = {PurePosixPath("."): ""}
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        folder = _relative(src, Path(dirpath))
        for index, name in enumerate(sorted(dirnames + filenames), start=1):
            locators[folder / name] = f"{locators[folder]}/#{index}".lstrip("/")
        for name in dirnames:
            if Path(dirpath, name).is_symlink():
                skipped.append(Skipped(folder / name, "symbolic link, not followed", locators[folder / name]))
        for name in sorted(filenames):
            path, relative = Path(dirpath, name), folder / name
            if path.is_symlink():
                skipped.append(Skipped(relative, "symbolic link, not followed", locators[relative]))
                continue
            if not path.is_file():
                skipped.append(Skipped(relative, "not a regular file", locators[relative]))
                continue
            found.append(_scanned(path, relative, locators[relative]))
    return SourceTree(found, sorted(skipped, key=lambda s: str(s.path)))


def _scanned(path: Path, relative: PurePosixPath, locator: str) -> ScannedFile:
    stat = path.stat()
    header, problem = None, None
    with open(path, "rb") as handle:
        kind = edf.content_kind(handle.read(8))
    if kind is not None:
        try:
            header = edf.read_header(path, locator)
        except edf.EdfError as error:
            problem = str(error).removeprefix(f"{locator}: ")
    return ScannedFile(relative, stat.st_size, header, problem, stat.st_mtime_ns, locator)


def _relative(src: Path, path: Path) -> PurePosixPath:
    return PurePosixPath(path.relative_to(src).as_posix())


def prepare(
    src: Path,
    depth: int,
    subjects: SubjectStore,
    keep: Keep = NOTHING_KEPT,
    history: Callable[[str], Sequence[Manifest]] = lambda code: (),
    workers: int = 8,
    draw: Callable[[], int] = draw_code,
    dry_run: bool = False,
) -> tuple[Plan, dict[str, str]]:
    """Scan ``src``, plan it and read every file once for its SHA-256; returns the plan and the new codes (not yet saved).

    ``history(code)`` gives a known subject's manifests, oldest first, so that content already
    landed keeps its key. A dry run draws no codes: new subjects get placeholders (``<new-1>``…),
    so it never shows a number that the real run would not use.
    """
    tree = scan_tree(src)
    keys = subject_keys(patient_folders(tree.files, depth))
    stored = subjects.load()
    known = known_codes(stored, keys)
    new = placeholder_codes(keys, stored) if dry_run else assign_codes(keys, stored, draw)
    plan = build_plan(tree.files, {**known, **new}, depth, new, tree.skipped, keep)
    for entry in plan.skipped:
        log.warning("not ingested: %s", entry)
    digests = payload_digests(src, plan.files, workers)
    codes = sorted(set(known.values()))
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="ingest-history") as pool:
        landed = dict(zip(codes, pool.map(history, codes), strict=True))
    return settle(plan, digests, landed), new


def payload_digests(src: Path, files: Sequence[PlannedFile], workers: int) -> dict[PurePosixPath, str]:
    """The SHA-256 of every file as it will leave, ``workers`` at a time; ``PlanError`` lists the files
    whose annotations cannot be checked or that changed since they were scanned."""

    def one(planned: PlannedFile) -> tuple[PurePosixPath, str | None, str | None]:
        try:
            digest = payload_sha256(src / planned.source, planned.deid, planned.size, planned.mtime_ns)
        except (AnnotationError, FileChanged) as error:
            return planned.source, None, f"{planned.locator}: {error}"
        return planned.source, digest, None

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="ingest-plan") as pool:
        results = list(pool.map(one, files))
    problems = sorted(problem for _, _, problem in results if problem)
    if problems:
        raise PlanError(
            "refusing to upload: files whose content cannot be checked or that changed while planned (shown by position):\n  "
            + "\n  ".join(problems)
        )
    return {source: digest for source, digest, _ in results if digest is not None}


def manifests_with_urls(storage: Storage, archive_url: str, dataset: str, code: str | None = None) -> list[tuple[str, Manifest]]:
    """Every manifest of the data set (or of one subject) with its URL, oldest first."""
    found = [
        (stored.url, Manifest.from_json(storage.read_bytes(stored.url), stored.url))
        for stored in storage.list(manifests_prefix(archive_url, dataset, code))
        if stored.url.endswith(".json")
    ]
    return sorted(found, key=lambda pair: (pair[1].when, pair[1].ingest_id))


def find_manifests(storage: Storage, archive_url: str, dataset: str, code: str | None = None) -> list[Manifest]:
    """Every manifest of the data set (or of one subject), oldest first."""
    return [manifest for _, manifest in manifests_with_urls(storage, archive_url, dataset, code)]
