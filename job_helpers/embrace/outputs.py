"""Every location the Embrace job writes, and how the folders inside them are named.

``OUTPUTS`` is the one list of them: the job's ``--<name>`` arguments, the staging folders a run
clears, which outputs the tasks write and what a run replaces all come from it.

Readings are identified by participant, device, stream and time, never by the export that held
them, so every output derived from readings is laid out by what they are: a file per device and
day (``stream=S/date=D/part-<ppt>-<dev>-<hash>.parquet``), or a row per device and day in a
partition per month. The batch-load-ready files sit in bare-value folders (``<stream>/<date>/``):
Timestream's CreateBatchLoadTask refuses an ObjectKeyPrefix holding ``=``. Only the rejects, lines
of one export's files, stay partitioned by export. Beside the clean files, in folders readers skip,
the job keeps what later runs need to take one export's rows out of a device-day again:
``_held/stream=S/date=D/`` (rows no clean reading stands for, published with the clean files of
the day) and ``_exports/<export>.json`` (the device-days each export holds rows of).

A day folder is one scope of the publish protocol (``job_helpers.publish``): its commit record
lists every device's file, and a run replaces the files of the devices it recomputed, keeping
the others.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from job_helpers.storage import join

STREAM = "stream"
EXPORT = "export"
# What a run replaces in an output: the files of the device-days it recomputes, one export's
# folder per stream (rejects), the month partitions it rewrites, or the whole (small) table.
DEVICE_DAY = "device_day"
EXPORT_STREAM = "export_stream"
MONTH = "month"
TABLE = "table"
HELD = "_held"
EXPORTS = "_exports"
STEM_IDS = 120


@dataclass(frozen=True)
class Output:
    """How one output is written.

    ``owns`` is what a run replaces as a unit (one of the constants above), or None for an output
    written in place, never staged (reports, row counts). ``from_tasks``: the tasks write its
    files; the others are written by the driver.
    """

    owns: str | None
    from_tasks: bool = False


OUTPUTS: dict[str, Output] = {
    "clean": Output(DEVICE_DAY, from_tasks=True),
    "timestream_ready": Output(DEVICE_DAY, from_tasks=True),
    "rejects": Output(EXPORT_STREAM, from_tasks=True),
    "duplicate_log": Output(MONTH),
    "wear_time": Output(MONTH),
    "devices": Output(TABLE),
    "reports": Output(None),
    "load_counts": Output(None),
}
STAGED = tuple(name for name, output in OUTPUTS.items() if output.owns)
FROM_TASKS = tuple(name for name, output in OUTPUTS.items() if output.from_tasks)


def argument(name: str) -> str:
    """The job argument of an output: ``timestream_ready`` is ``--timestream-ready``."""
    return name.replace("_", "-")


def manifest_url(clean_url: str, export: str) -> str:
    """The list of device-days ``export`` holds rows of."""
    return join(clean_url, EXPORTS, f"{export}.json")


def partition_folder(values: Sequence[tuple[str, str]]) -> str:
    """``stream=S/date=D/`` from ``(column, value)`` pairs, as Hive-style readers expect."""
    return "".join(f"{column}={value}/" for column, value in values)


def day_folder(stream: str, day: str) -> str:
    """``stream=S/date=D/``: the clean readings (and held rows) of a stream's day."""
    return partition_folder([(STREAM, stream), ("date", day)])


def held_folder(stream: str, day: str) -> str:
    """``_held/stream=S/date=D/``: the held rows of a stream's day, in a folder of the clean output that readers skip."""
    return f"{HELD}/{day_folder(stream, day)}"


def load_folder(stream: str, day: str | None = None) -> str:
    """``<stream>/[<date>/]`` of the batch-load-ready files and their row counts."""
    return "".join(f"{value}/" for value in (stream, day) if value is not None)


def month_folder(month: str, stream: str | None = None) -> str:
    """``[stream=S/]month=M/`` of the duplicate log (per stream) and the wear time."""
    return partition_folder([*([(STREAM, stream)] if stream else []), ("month", month)])


def rejects_folder(export: str, stream: str) -> str:
    """``export=E/stream=S/``: the rejects of one export's stream."""
    return partition_folder([(EXPORT, export), (STREAM, stream)])


def former_folders(name: str, exports: Sequence[str], streams: Sequence[str]) -> list[str]:
    """The folders of ``exports`` in the layouts before readings were keyed across exports, which a run of them clears.

    Every output was partitioned ``export=E/[stream=S/]``; the batch-load-ready files also sat in
    ``<export>/<stream>/`` folders.
    """
    if name in ("wear_time", "devices"):
        return [partition_folder([(EXPORT, e)]) for e in exports]
    folders = [rejects_folder(e, s) for e in exports for s in streams]
    if name == "timestream_ready":
        folders += [f"{e}/{s}/" for e in exports for s in streams]
    return folders


def file_stem(ppt_id: str, dev_id: str) -> str:
    """``part-<ppt>-<dev>-<hash>``: readable, safe in any store, and distinct for distinct devices.

    The readable part stops at ``STEM_IDS`` characters (the hash keeps long ids apart), so every
    file name stays within the 255 bytes file systems allow, whatever the folder names.
    """
    digest = hashlib.sha1(f"{ppt_id}\0{dev_id}".encode()).hexdigest()[:8]
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{ppt_id}-{dev_id}")[:STEM_IDS]
    return f"part-{safe}-{digest}"
