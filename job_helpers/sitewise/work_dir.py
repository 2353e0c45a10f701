"""The local folder a run downloads and merges in: one per run, removed when the run ends.

A run that is killed cannot remove its folder, so each run first removes the folders of runs
whose process is gone. The owner's process id is part of the folder name; runs of one process
(threads, tests) share it and never remove each other's folders.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from job_helpers.processes import process_alive

RUN_FOLDER_PREFIX = "sitewise-run-"
_RUN_FOLDER = re.compile(rf"^{RUN_FOLDER_PREFIX}(?P<pid>\d+)-")

log = logging.getLogger(__name__)


@contextmanager
def run_work_dir(parent: Path | None = None) -> Iterator[Path]:
    """A new folder under ``parent`` (the system's temporary folder by default), removed on exit."""
    parent = Path(parent) if parent is not None else Path(tempfile.gettempdir())
    remove_abandoned_run_dirs(parent)
    folder = Path(tempfile.mkdtemp(prefix=f"{RUN_FOLDER_PREFIX}{os.getpid()}-", dir=parent))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def remove_abandoned_run_dirs(parent: Path) -> None:
    """Remove run folders under ``parent`` whose owning process no longer exists."""
    for path in parent.glob(f"{RUN_FOLDER_PREFIX}*"):
        match = _RUN_FOLDER.match(path.name)
        if match is None or not path.is_dir() or process_alive(int(match["pid"])):
            continue
        log.warning("removing %s: left by run process %s, which no longer exists", path, match["pid"])
        shutil.rmtree(path, ignore_errors=True)
