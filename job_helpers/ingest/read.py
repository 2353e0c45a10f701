"""Reading ingest's inputs: the source tree (paths, sizes, EDF fixed headers, what is skipped), the
plan made from it with the subject map, and the manifests kept in the archive location."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from job_helpers.ingest import edf
from job_helpers.ingest.manifest import Manifest, manifests_prefix
from job_helpers.ingest.subjects import SubjectStore, assign_codes, draw_code, placeholder_codes
from job_helpers.ingest.transform import Plan, ScannedFile, Skipped, build_plan, patient_folders, subject_keys
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
    """Every regular file below ``src``, sorted by path; symbolic links are listed in ``skipped``, never followed."""
    if not src.is_dir():
        raise SourceError(f"--src {src}: no such folder; give the folder that holds one folder per patient")
    found, skipped = [], []
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        for name in dirnames:
            if Path(dirpath, name).is_symlink():
                skipped.append(Skipped(_relative(src, Path(dirpath, name)), "symbolic link, not followed"))
        for name in sorted(filenames):
            path = Path(dirpath, name)
            relative = _relative(src, path)
            if path.is_symlink():
                skipped.append(Skipped(relative, "symbolic link, not followed"))
                continue
            if not path.is_file():
                skipped.append(Skipped(relative, "not a regular file"))
                continue
            header, problem = None, None
            if path.suffix.lower() == ".edf":
                try:
                    header = edf.read_header(path)
                except edf.EdfError as error:
                    problem = str(error).replace(str(path), relative.name)
            found.append(ScannedFile(relative, path.stat().st_size, header, problem))
    return SourceTree(found, sorted(skipped, key=lambda s: str(s.path)))


def _relative(src: Path, path: Path) -> PurePosixPath:
    return PurePosixPath(path.relative_to(src).as_posix())


def prepare(
    src: Path, depth: int, subjects: SubjectStore, draw: Callable[[], int] = draw_code, dry_run: bool = False
) -> tuple[Plan, dict[str, str]]:
    """Scan ``src`` and plan it; returns the plan and the new subject codes (not yet saved).

    A dry run draws no codes: new subjects get placeholders (``<new-1>``…), so it never shows a
    number that the real run would not use.
    """
    tree = scan_tree(src)
    keys = subject_keys(patient_folders(tree.files, depth))
    existing = subjects.load()
    new = placeholder_codes(keys, existing) if dry_run else assign_codes(keys, existing, draw)
    plan = build_plan(tree.files, {**existing, **new}, depth, new, tree.skipped)
    for entry in plan.skipped:
        log.warning("not ingested: %s", entry)
    return plan, new


def manifests_with_urls(storage: Storage, archive_url: str, dataset: str, code: str | None = None) -> list[tuple[str, Manifest]]:
    """Every manifest of the data set (or of one subject) with its URL, oldest first."""
    found = [
        (stored.url, Manifest.from_json(storage.read_bytes(stored.url), stored.url))
        for stored in storage.list(manifests_prefix(archive_url, dataset, code))
        if stored.url.endswith(".json")
    ]
    return sorted(found, key=lambda pair: (pair[1].created, pair[1].ingest_id))


def find_manifests(storage: Storage, archive_url: str, dataset: str, code: str | None = None) -> list[Manifest]:
    """Every manifest of the data set (or of one subject), oldest first."""
    return [manifest for _, manifest in manifests_with_urls(storage, archive_url, dataset, code)]
