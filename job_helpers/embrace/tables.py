"""The small tables of a chunk, built on the driver from what the tasks counted and what is published.

The duplicate log and the wear time hold one row per device-day, in a partition per month (and
stream, for the duplicate log); the devices table one row per distinct metadata record. A run
rewrites the partitions it touches: it reads what is there, replaces the rows of the device-days it
recomputed and writes the partition again, so rows of device-days it did not touch stay as they are.
Each table is built when it is published (``TableBuild.build``), from the partitions as they are
then and with the rows of the device-days still the run's: a device-day another run recomputed
since keeps that run's rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from job_helpers.embrace.outputs import month_folder
from job_helpers.embrace.published import DeviceDay
from job_helpers.embrace.stream_tasks import MetadataResult, StreamResult
from job_helpers.embrace.transform import DEVICE_COLUMNS, DUPLICATE_COUNTS
from job_helpers.storage import Storage, StorageError, join

PART = "part-00000.parquet"
EXPORTS = ("exports", pa.list_(pa.string()))
DUPLICATE_LOG = pa.schema(
    [("ppt_id", pa.string()), ("dev_id", pa.string()), ("day", pa.string())]
    + [(name, pa.int64()) for name in DUPLICATE_COUNTS]
    + [EXPORTS]
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
DEVICE_FIELDS = ["ppt_id", "dev_id", *DEVICE_COLUMNS.values(), "source_file"]
DEVICES = pa.schema([(name, pa.int32() if name == "timezone_minutes" else pa.string()) for name in DEVICE_FIELDS] + [EXPORTS])


@dataclass(frozen=True)
class TableBuild:
    """One small table as a run rewrites it: the partition folders it replaces, and how to build them
    from what the storage holds and the device-days still the run's."""

    folders: list[str]
    build: Callable[[Storage, set[DeviceDay]], dict[str, pa.Table]]


def small_tables(
    outputs: Mapping[str, str],
    results: Sequence[StreamResult],
    recomputed: Iterable[DeviceDay],
    streams: Sequence[str],
    metadata: Sequence[MetadataResult],
    replaced: Callable[[dict], bool],
) -> dict[str, TableBuild]:
    """Every small table by output; wear time only when EDA was read.

    ``replaced`` says whether a published devices row's exports are those the run read again (they
    are taken out of it before the run's rows go in).
    """
    recomputed = list(recomputed)
    log_folders = sorted({month_folder(d.day[:7], d.stream) for d in recomputed})
    built = {
        "duplicate_log": TableBuild(
            log_folders, lambda storage, owned: duplicate_log(storage, outputs["duplicate_log"], results, recomputed, owned)
        )
    }
    if "eda" in streams:
        eda = [d for d in recomputed if d.stream == "eda"]
        built["wear_time"] = TableBuild(
            sorted({month_folder(d.day[:7]) for d in eda}),
            lambda storage, owned: wear_time(storage, outputs["wear_time"], results, eda, owned),
        )
    built["devices"] = TableBuild([""], lambda storage, owned: devices(storage, outputs["devices"], metadata, replaced))
    return built


def duplicate_log(
    storage: Storage, url: str, results: Iterable[StreamResult], recomputed: Sequence[DeviceDay], owned: set[DeviceDay]
) -> dict[str, pa.Table]:
    """Per stream and month: one row per device-day with rows, its counts and the exports holding it."""
    rows: dict[str, list[dict]] = defaultdict(list)
    for result in results:
        for day, counts in sorted(result.days.items()):
            if day in result.holders and DeviceDay(result.kind, day, result.ppt_id, result.dev_id) in owned:
                folder = month_folder(day[:7], result.kind)
                rows[folder].append(
                    {
                        "ppt_id": result.ppt_id,
                        "dev_id": result.dev_id,
                        "day": day,
                        **counts.duplicates(),
                        "exports": result.holders[day],
                    }
                )
    folders = {month_folder(d.day[:7], d.stream): d.stream for d in recomputed}
    gone = {(month_folder(d.day[:7], d.stream), d.ppt_id, d.dev_id, d.day) for d in recomputed if d in owned}
    return _rewrite(storage, url, folders, rows, gone, DUPLICATE_LOG)


def wear_time(
    storage: Storage, url: str, results: Iterable[StreamResult], recomputed: Sequence[DeviceDay], owned: set[DeviceDay]
) -> dict[str, pa.Table]:
    """Per month: one row per device-day that has clean EDA."""
    rows: dict[str, list[dict]] = defaultdict(list)
    for result in results:
        for day, wear in sorted(result.wear.items()):
            if DeviceDay(result.kind, day, result.ppt_id, result.dev_id) not in owned:
                continue
            rows[month_folder(day[:7])].append(
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
    folders = {month_folder(d.day[:7]): "eda" for d in recomputed}
    gone = {(month_folder(d.day[:7]), d.ppt_id, d.dev_id, d.day) for d in recomputed if d in owned}
    return _rewrite(storage, url, folders, rows, gone, WEAR_TIME)


def devices(
    storage: Storage, url: str, metadata: Iterable[MetadataResult], replaced: Callable[[dict], bool]
) -> dict[str, pa.Table]:
    """One row per distinct metadata record, with the exports holding it: a device's record in two exports is one row."""
    holders: dict[tuple, set[str]] = defaultdict(set)
    for row in _read(storage, join(url, PART)):
        exports = {e for e in row.pop("exports") if not replaced({**row, "export": e})}
        if exports:
            holders[tuple(row[name] for name in DEVICE_FIELDS)] |= exports
    for result in metadata:
        for record in result.devices:
            holders[tuple(record[name] for name in DEVICE_FIELDS)].add(result.export)
    rows = [{**dict(zip(DEVICE_FIELDS, key)), "exports": sorted(exports)} for key, exports in sorted(holders.items(), key=_key)]
    return {"": pa.Table.from_pylist(rows, schema=DEVICES)}


def _rewrite(
    storage: Storage,
    url: str,
    folders: Mapping[str, str],
    rows: Mapping[str, list[dict]],
    gone: set[tuple[str, str, str, str]],
    schema: pa.Schema,
) -> dict[str, pa.Table]:
    """Each folder's published rows but those of ``gone`` device-days, with the new ``rows`` (an emptied folder: no rows)."""
    tables = {}
    for folder in sorted(set(folders) | set(rows)):
        kept = [
            row
            for row in _read(storage, join(url, folder + PART))
            if (folder, row["ppt_id"], row["dev_id"], row["day"]) not in gone
        ]
        found = sorted(kept + rows.get(folder, []), key=lambda row: (row["ppt_id"], row["dev_id"], row["day"]))
        tables[folder] = pa.Table.from_pylist(found, schema=schema)
    return tables


def _read(storage: Storage, url: str) -> list[dict]:
    try:
        with storage.open(url) as handle:
            return pq.read_table(handle).to_pylist()
    except StorageError:
        return []


def _key(item: tuple[tuple, set[str]]) -> tuple:
    return tuple("" if value is None else str(value) for value in item[0])
