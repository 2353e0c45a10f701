"""One device-day cleaned slice by slice: what the rules found, summed, and its files staged as the slices come.

The rules compare only rows sharing a timestamp and the wear rule only rows of one 10-second
window, so the slices of a day (whole hours, see ``day_buffer``) are cleaned one at a time and their
results add up to the day's: counts, rows shared between exports, readings per export and wear are
sums; the clean readings come in time order, so the clean Parquet and the batch-load CSVs are
written as they come. Held rows (missing, unclear and extra copies, usually a handful) are kept
until the day ends and written as one file, slice after slice.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from job_helpers.embrace import write
from job_helpers.embrace.outputs import day_folder, held_folder, load_folder
from job_helpers.embrace.published import held_table
from job_helpers.embrace.transform import Claims, CombinedDay, DayCounts, WearDay, wear_day
from job_helpers.storage import Storage, join


@dataclass(frozen=True)
class DayTarget:
    """Where a device-day's files go: the run's staging folders by output, and the task's scratch folder."""

    ppt_id: str
    dev_id: str
    stream: str
    day: str
    stem: str
    staging: dict[str, str]
    max_csv_bytes: int
    scratch: Path


@dataclass
class DayOutput:
    """The sums of a device-day's slices, and the files it staged (by output, folder, names)."""

    target: DayTarget
    exports: list[str]
    counts: DayCounts = field(default_factory=DayCounts)
    readings: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    holding: set[int] = field(default_factory=set)
    shared: Counter[tuple[str, str]] = field(default_factory=Counter)
    wear: WearDay = field(default_factory=lambda: WearDay(0, 0, 0, 0))
    held: list[Claims] = field(default_factory=list)
    held_rows: int = 0
    files: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    csv_rows: dict[str, int] = field(default_factory=dict)
    _clean: write.CleanDayFile | None = None
    _csv: write.TimestreamFiles | None = None

    def __post_init__(self) -> None:
        self.readings = np.zeros(len(self.exports), np.int64)

    def add(self, storage: Storage, combined: CombinedDay) -> None:
        """Sum one slice's results and write its clean readings."""
        self.counts += combined.counts
        self.readings += combined.holders.sum(axis=0)
        self.holding |= set(combined.held.export.tolist())
        for (a, b), both in combined.shared.items():
            first, second = sorted((self.exports[a], self.exports[b]))
            self.shared[(first, second)] += both
        if len(combined.held):
            self.held.append(combined.held)
        if not len(combined.ts):
            return
        if self.target.stream == "eda":
            self.wear = _sum(self.wear, wear_day(combined.ts, combined.values[:, 0]))
        self._writers(storage)
        assert self._clean is not None and self._csv is not None
        self._clean.add(combined.ts, combined.values, combined.holders)
        self._csv.add(combined.ts, combined.values)

    def finish(self, storage: Storage) -> None:
        """Publish the files still open and the held rows under the staging folders."""
        target, name = self.target, f"{self.target.stem}.parquet"
        self.holding |= set(np.flatnonzero(self.readings).tolist())
        if self.held:
            held = Claims.concat(self.held, self.held[0].values.shape[1])
            self.held_rows = len(held)
            folder = held_folder(target.stream, target.day)
            write.write_parquet(
                storage, join(target.staging["clean"], folder + name), held_table(target.stream, held, self.exports)
            )
            self._staged("clean", folder, {name})
        if self._clean is None or self._csv is None:
            return
        self._clean.close()
        self._staged("clean", day_folder(target.stream, target.day), {name})
        self._csv.close()
        ready = load_folder(target.stream, target.day)
        self._staged("timestream_ready", ready, set(self._csv.written))
        self.csv_rows.update({ready + file: rows for file, rows in self._csv.written.items()})

    def _writers(self, storage: Storage) -> None:
        if self._clean is not None:
            return
        target = self.target
        ids = (target.ppt_id, target.dev_id)
        clean_url = join(target.staging["clean"], day_folder(target.stream, target.day) + f"{target.stem}.parquet")
        self._clean = write.CleanDayFile(storage, clean_url, target.scratch, ids, target.stream, self.exports)
        ready_url = join(target.staging["timestream_ready"], load_folder(target.stream, target.day))
        self._csv = write.TimestreamFiles(
            storage, ready_url, target.scratch, target.stem, ids, target.stream, target.max_csv_bytes
        )

    def _staged(self, output: str, folder: str, names: set[str]) -> None:
        self.files.setdefault(output, {}).setdefault(folder, set()).update(names)


def _sum(a: WearDay, b: WearDay) -> WearDay:
    return WearDay(a.samples + b.samples, a.samples_worn + b.samples_worn, a.windows + b.windows, a.windows_worn + b.windows_worn)
