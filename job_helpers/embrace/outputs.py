"""Every location the Embrace job writes, and how the folders inside them are named.

``OUTPUTS`` is the one list of them: the job's ``--<name>`` arguments, the staging folders a run
clears, which outputs the tasks write and which partitions a run replaces all come from it.
Every output but the batch-load-ready one is partitioned Hive-style, export (the archive stem)
first; files are named after the participant and device, so a rerun writes the same names.
The batch-load-ready files sit in bare-value folders (``<export>/<stream>/<date>/``):
Timestream's CreateBatchLoadTask refuses an ObjectKeyPrefix holding ``=``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

STREAM = "stream"
EXPORT = "export"


@dataclass(frozen=True)
class Output:
    """How one output is written.

    ``owns`` is the partition a run replaces as a unit: ``stream`` (``export=E/stream=S/`` of the
    exports and streams it read), ``export`` (``export=E/``), or None for an output written in
    place, never staged (reports, row counts). ``from_tasks``: the Spark tasks write its files;
    the others are written by the driver.
    """

    owns: str | None
    from_tasks: bool = False


OUTPUTS: dict[str, Output] = {
    "clean": Output(STREAM, from_tasks=True),
    "timestream_ready": Output(STREAM, from_tasks=True),
    "rejects": Output(STREAM, from_tasks=True),
    "duplicate_log": Output(STREAM),
    "wear_time": Output(EXPORT),
    "devices": Output(EXPORT),
    "reports": Output(None),
    "load_counts": Output(None),
}
STAGED = tuple(name for name, output in OUTPUTS.items() if output.owns)
FROM_TASKS = tuple(name for name, output in OUTPUTS.items() if output.from_tasks)


def argument(name: str) -> str:
    """The job argument of an output: ``timestream_ready`` is ``--timestream-ready``."""
    return name.replace("_", "-")


def partition_folder(values: Sequence[tuple[str, str]]) -> str:
    """``export=E/stream=S/`` from ``(column, value)`` pairs, as Hive-style readers expect."""
    return "".join(f"{column}={value}/" for column, value in values)


def load_folder(export: str, stream: str, day: str | None = None) -> str:
    """``<export>/<stream>/[<date>/]`` of the batch-load-ready files and their row counts."""
    return "".join(f"{value}/" for value in (export, stream, day) if value is not None)


def owned_folders(name: str, exports: Sequence[str], streams: Sequence[str]) -> list[str]:
    """The partitions of ``name`` a run of ``exports`` and ``streams`` replaces.

    The batch-load-ready output also owns its former ``export=/stream=`` folders, so a rerun clears them.
    """
    if OUTPUTS[name].owns == EXPORT:
        return [partition_folder([(EXPORT, e)]) for e in exports]
    folders = [partition_folder([(EXPORT, e), (STREAM, s)]) for e in exports for s in streams]
    if name == "timestream_ready":
        folders = [load_folder(e, s) for e in exports for s in streams] + folders
    return folders


def file_stem(ppt_id: str, dev_id: str) -> str:
    """``part-<ppt>-<dev>-<hash>``: readable, safe in any store, and distinct for distinct devices."""
    digest = hashlib.sha1(f"{ppt_id}\0{dev_id}".encode()).hexdigest()[:8]
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{ppt_id}-{dev_id}")
    return f"part-{safe}-{digest}"
