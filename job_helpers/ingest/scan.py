"""Read the source tree: every file's path and size, the fixed header of each EDF file, and what is skipped."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from job_helpers.ingest import edf
from job_helpers.ingest.plan import ScannedFile, Skipped


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
