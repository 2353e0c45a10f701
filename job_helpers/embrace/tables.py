"""The small tables of a chunk, built on the driver from what the tasks counted.

The duplicate log, wear time and devices hold one row per device and month, day or metadata
record, so the tasks return their counts and the driver writes these tables itself.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import pyarrow as pa

from job_helpers.embrace.cleaning import DayCounts
from job_helpers.embrace.members import DEVICE_COLUMNS, GroupResult

DUPLICATE_LOG = pa.schema(
    [("ppt_id", pa.string()), ("dev_id", pa.string()), ("month", pa.string())]
    + [(name, pa.int64()) for name in ("total_rows", "total_dupes", "perfect", "nan", "unclear")]
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


def duplicate_log(results: Iterable[GroupResult]) -> dict[tuple[str, str], pa.Table]:
    """Per (export, stream): one row per participant, device and month, summed over its days."""
    months: dict[tuple[str, str], dict[tuple[str, str, str], list[int]]] = defaultdict(lambda: defaultdict(lambda: [0] * 5))
    for result in results:
        for day, counts in result.days.items():
            sums = months[(result.export, result.kind)][(result.ppt_id, result.dev_id, day[:7])]
            for index, value in enumerate(_log_counts(counts)):
                sums[index] += value
    return {
        key: pa.Table.from_pylist(
            [dict(zip(DUPLICATE_LOG.names, [*row_key, *sums])) for row_key, sums in sorted(rows.items())], schema=DUPLICATE_LOG
        )
        for key, rows in months.items()
    }


def wear_time(results: Iterable[GroupResult]) -> dict[str, pa.Table]:
    """Per export: one row per participant, device and day that has clean EDA."""
    rows: dict[str, list[dict]] = defaultdict(list)
    for result in results:
        for day, wear in sorted(result.wear.items()):
            rows[result.export].append(
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
    return {export: pa.Table.from_pylist(found, schema=WEAR_TIME) for export, found in rows.items()}


def devices(results: Iterable[GroupResult]) -> dict[str, pa.Table]:
    """Per export: one row per metadata.csv record."""
    rows: dict[str, list[dict]] = defaultdict(list)
    for result in results:
        rows[result.export] += result.devices
    return {export: pa.Table.from_pylist(found, schema=DEVICES) for export, found in rows.items() if found}


def _log_counts(counts: DayCounts) -> tuple[int, int, int, int, int]:
    return counts.total_rows, counts.total_dupes, counts.perfect, counts.nan, counts.unclear
