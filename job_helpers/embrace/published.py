"""What earlier runs published for a device-day, read back as the rows of the exports that hold it.

A clean file holds one row per reading and, per reading, the exports holding it; the held file
beside it (``outputs.HELD``) holds the rows no reading stands for. Together they are every row of
every export in the device-day, so a run can take out the rows of the exports it reads again and
apply the rules to what is left and to the new rows: a re-export adds no second copy, a rerun
gives the same day, and the order in which exports arrive does not matter.

Each export's manifest (``outputs.EXPORTS``) lists the device-days it holds rows of, so that a
run reading an export again also revisits the days the export no longer holds.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from job_helpers.embrace.archives import MEASURES
from job_helpers.embrace.outputs import day_folder, held_url, manifest_url
from job_helpers.embrace.transform import Claims
from job_helpers.storage import Storage, StorageError, join

HELD_COLUMNS = ("time_ms", "missing", "export", "copies")


@dataclass(frozen=True)
class DeviceDay:
    """A device-day as manifests list it."""

    stream: str
    day: str
    ppt_id: str
    dev_id: str

    def row(self) -> list[str]:
        return [self.stream, self.day, self.ppt_id, self.dev_id]


class Names:
    """The export names of one device-day and their numbers in ``Claims.export``, in order of arrival."""

    def __init__(self, first: Iterable[str] = ()) -> None:
        self.names: list[str] = []
        self._index: dict[str, int] = {}
        for name in first:
            self.number(name)

    def number(self, name: str) -> int:
        if name not in self._index:
            self._index[name] = len(self.names)
            self.names.append(name)
        return self._index[name]

    def numbers(self, names: pa.Array) -> np.ndarray:
        for name in pc.unique(names).to_pylist():
            self.number(name)
        return pc.index_in(names, value_set=pa.array(self.names)).to_numpy(zero_copy_only=False).astype(np.int32)


def published_claims(
    storage: Storage, clean_url: str, stream: str, day: str, stem: str, names: Names, replaced: frozenset[str]
) -> Claims:
    """The rows of the device-day's published files, but those of the ``replaced`` exports."""
    width = len(MEASURES[stream])
    folder = day_folder(stream, day)
    parts = []
    clean = _read(storage, join(clean_url, folder + f"{stem}.parquet"), ["time_ms", *MEASURES[stream], "exports"])
    if clean is not None and clean.num_rows:
        holders = clean.column("exports").combine_chunks()
        lengths = pc.list_value_length(holders).to_numpy(zero_copy_only=False)
        flat = pc.list_flatten(holders)
        row = np.repeat(np.arange(clean.num_rows), lengths)
        gone = pc.is_in(flat, value_set=pa.array(sorted(replaced), pa.string())).to_numpy(zero_copy_only=False)
        keep = ~gone.astype(bool)
        row = row[keep]
        ts = clean.column("time_ms").to_numpy()[row]
        values = np.column_stack([clean.column(m).to_numpy() for m in MEASURES[stream]])[row]
        parts.append(Claims(ts, values, np.zeros(len(row), bool), names.numbers(flat.filter(pa.array(keep)))))
    held = _read(storage, join(held_url(clean_url), folder + f"{stem}.parquet"), [*HELD_COLUMNS, *MEASURES[stream]])
    if held is not None and held.num_rows:
        if replaced:
            held = held.filter(pc.invert(pc.is_in(held.column("export"), value_set=pa.array(sorted(replaced)))))
        parts.append(
            Claims(
                held.column("time_ms").to_numpy(),
                np.column_stack([held.column(m).to_numpy() for m in MEASURES[stream]]).reshape(-1, width),
                held.column("missing").to_numpy(zero_copy_only=False),
                names.numbers(held.column("export").combine_chunks()),
                held.column("copies").to_numpy(),
            )
        )
    return Claims.concat(parts, width)


def held_table(stream: str, held: Claims, names: Sequence[str]) -> pa.Table:
    """The held rows of a device-day as written: time, missing flag, export, copies and the stream's measures."""
    export_names = pa.DictionaryArray.from_arrays(pa.array(held.export, pa.int32()), pa.array(names)).cast(pa.string())
    columns = {
        "time_ms": pa.array(held.ts, pa.int64()),
        "missing": pa.array(held.missing, pa.bool_()),
        "export": export_names,
        "copies": pa.array(held.copies if held.copies is not None else np.ones(len(held), np.int64), pa.int64()),
    }
    for index, measure in enumerate(MEASURES[stream]):
        columns[measure] = pa.array(held.values[:, index], pa.float64())
    return pa.table(columns)


def read_manifest(storage: Storage, clean_url: str, export: str) -> list[DeviceDay]:
    """The device-days ``export`` held rows of when it was last published; none for an export never published."""
    try:
        rows = json.loads(storage.read_text(manifest_url(clean_url, export)))["device_days"]
    except StorageError:
        return []
    return [DeviceDay(*row) for row in rows]


def write_manifest(storage: Storage, clean_url: str, export: str, device_days: Iterable[DeviceDay]) -> None:
    rows = sorted({tuple(d.row()) for d in device_days})
    storage.write_text(manifest_url(clean_url, export), json.dumps({"device_days": [list(r) for r in rows]}) + "\n")


def _read(storage: Storage, url: str, columns: list[str]) -> pa.Table | None:
    try:
        with storage.open(url) as handle:
            return pq.read_table(handle, columns=columns)
    except StorageError:
        return None
