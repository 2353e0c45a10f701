"""The small tables of a chunk, built on the driver from what the tasks counted.

The duplicate log, wear time and devices hold one row per device and month, day or metadata
record, so the tasks return their counts and the driver builds these tables itself, one per
partition folder of its output.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import pyarrow as pa

from job_helpers.embrace.outputs import EXPORT, STREAM, partition_folder
from job_helpers.embrace.stream_tasks import GroupResult
from job_helpers.embrace.transform import DEVICE_COLUMNS, DUPLICATE_COUNTS, DayCounts

DUPLICATE_LOG = pa.schema(
    [("ppt_id", pa.string()), ("dev_id", pa.string()), ("month", pa.string())] + [(name, pa.int64()) for name in DUPLICATE_COUNTS]
)
WEAR_TIME = pa.schema(
    [
        ("ppt_id", pa.string()),
        ("dev_id", pa.string()),
        ("day", pa.string()),
        ("minutes_worn", pa.float64()),
        ("share_worn", pa.float64()),
    ]
    + [(name, pa.int64()) for name in ("samples", "samples_worn", "windows", "windows_worn")]
)
DEVICES = pa.schema(
    [("ppt_id", pa.string()), ("dev_id", pa.string())]
    + [(name, pa.int32() if name == "timezone_minutes" else pa.string()) for name in DEVICE_COLUMNS.values()]
    + [("source_file", pa.string())]
)


def small_tables(results: Sequence[GroupResult], streams: Sequence[str]) -> dict[str, dict[str, pa.Table]]:
    """Every small table by output and partition folder; wear time only when EDA was read."""
    built = {"duplicate_log": duplicate_log(results)}
    if "eda" in streams:
        built["wear_time"] = wear_time(results)
    built["devices"] = devices(results)
    return built


def duplicate_log(results: Iterable[GroupResult]) -> dict[str, pa.Table]:
    """Per export and stream: one row per participant, device and month, summed over its days."""
    months: dict[str, dict[tuple[str, str, str], DayCounts]] = defaultdict(lambda: defaultdict(DayCounts))
    for result in results:
        folder = partition_folder([(EXPORT, result.export), (STREAM, result.kind)])
        for day, counts in result.days.items():
            months[folder][(result.ppt_id, result.dev_id, day[:7])] += counts
    return {
        folder: pa.Table.from_pylist(
            [
                {"ppt_id": ppt_id, "dev_id": dev_id, "month": month, **counts.duplicates()}
                for (ppt_id, dev_id, month), counts in sorted(rows.items())
            ],
            schema=DUPLICATE_LOG,
        )
        for folder, rows in months.items()
    }


def wear_time(results: Iterable[GroupResult]) -> dict[str, pa.Table]:
    """Per export: one row per participant, device and day that has clean EDA."""
    rows: dict[str, list[dict]] = defaultdict(list)
    for result in results:
        for day, wear in sorted(result.wear.items()):
            rows[partition_folder([(EXPORT, result.export)])].append(
                {
                    "ppt_id": result.ppt_id,
                    "dev_id": result.dev_id,
                    "day": day,
                    "minutes_worn": wear.minutes_worn,
                    "share_worn": wear.share_worn,
                    "samples": wear.samples,
                    "samples_worn": wear.samples_worn,
                    "windows": wear.windows,
                    "windows_worn": wear.windows_worn,
                }
            )
    return {folder: pa.Table.from_pylist(found, schema=WEAR_TIME) for folder, found in rows.items()}


def devices(results: Iterable[GroupResult]) -> dict[str, pa.Table]:
    """Per export: one row per metadata.csv record."""
    rows: dict[str, list[dict]] = defaultdict(list)
    for result in results:
        rows[partition_folder([(EXPORT, result.export)])] += result.devices
    return {folder: pa.Table.from_pylist(found, schema=DEVICES) for folder, found in rows.items() if found}
