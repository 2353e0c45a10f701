"""Read the source tree: every file's path and size, and the fixed header of each EDF file."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from job_helpers.ingest import edf
from job_helpers.ingest.plan import ScannedFile


class SourceError(Exception):
    """The source folder is missing or unreadable."""


def scan_tree(src: Path) -> list[ScannedFile]:
    """Every regular file below ``src`` (symbolic links are not followed), sorted by path."""
    if not src.is_dir():
        raise SourceError(f"--src {src}: no such folder; give the folder that holds one folder per patient")
    found = []
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath, name)
            if path.is_symlink() or not path.is_file():
                continue
            relative = PurePosixPath(path.relative_to(src).as_posix())
            header, problem = None, None
            if path.suffix.lower() == ".edf":
                try:
                    header = edf.read_header(path)
                except edf.EdfError as error:
                    problem = str(error).replace(str(path), relative.name)
            found.append(ScannedFile(relative, path.stat().st_size, header, problem))
    return found
