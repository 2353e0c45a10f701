"""A device stream's parsed readings sorted into hour slices on local disk, read back one slice at a time.

Every cleaning rule compares only rows sharing a timestamp, and the wear rule only rows of one
10-second window, so a device-day can be cleaned one hour at a time (an hour is a whole number of
windows, and a day a whole number of hours). Blocks are sorted into hour slices as they are
parsed, whatever order the member's lines come in; pending rows go to one file per slice on local
disk whenever they pass a small budget, and ``take`` reads one slice back. A task so holds a parse
block, the budget and one hour of one device at a time, whatever the length of the members.

Each row keeps the number of the member (its "source") it came from, so a member refused half-way
is left out whole (``drop``), and no member may bring more than ``max_rows_per_day`` rows to one day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from job_helpers.embrace.transform import DAY_MS, ParsedBlock

SLICE_MS = 3_600_000
SLICES_PER_DAY = DAY_MS // SLICE_MS
BUDGET_BYTES = 16 << 20


class DayTooLarge(ValueError):
    """A member brought more than ``max_rows_per_day`` rows to one day; ``day`` is its number (days since 1970)."""

    def __init__(self, day: int) -> None:
        super().__init__(f"day {day}")
        self.day = day


@dataclass
class Rows:
    """One slice's rows: epoch ms, values (one column per measure), missing rows, and each row's source."""

    ts: np.ndarray
    values: np.ndarray
    missing: np.ndarray
    source: np.ndarray


class DayBuffer:
    """Collects rows by hour slice and source; ``days()`` gives each day with rows and its slices, in order."""

    def __init__(self, directory: Path, width: int, max_rows_per_day: int, budget_bytes: int = BUDGET_BYTES) -> None:
        self._directory = directory
        self._record = np.dtype([("ts", np.int64), ("values", np.float64, (width,)), ("missing", bool), ("source", np.int32)])
        self._width = width
        self._max_rows = max_rows_per_day
        self._budget = budget_bytes
        self._pending: dict[int, list[np.ndarray]] = defaultdict(list)
        self._pending_bytes = 0
        self._spilled: set[int] = set()
        self._rows: dict[tuple[int, int], int] = defaultdict(int)
        self._dropped: set[int] = set()

    def add(self, block: ParsedBlock, source: int) -> None:
        """Add a block of member ``source``; DayTooLarge (nothing of the block added) when it passes the day limit."""
        if not len(block.ts):
            return
        days, counts = np.unique(block.ts // DAY_MS, return_counts=True)
        for day, rows in zip(days.tolist(), counts.tolist()):
            if self._rows[(day, source)] + rows > self._max_rows:
                raise DayTooLarge(day)
        for day, rows in zip(days.tolist(), counts.tolist()):
            self._rows[(day, source)] += rows
        records = np.empty(len(block.ts), self._record)
        records["ts"], records["values"], records["missing"], records["source"] = block.ts, block.values, block.missing, source
        slices = block.ts // SLICE_MS
        if slices[0] == slices[-1] and (slices == slices[0]).all():
            self._pending[int(slices[0])].append(records)
        else:
            order = np.argsort(slices, kind="stable")
            found, starts = np.unique(slices[order], return_index=True)
            for number, rows in zip(found.tolist(), np.split(order, starts[1:])):
                self._pending[number].append(records[rows])
        self._pending_bytes += records.nbytes
        if self._pending_bytes > self._budget:
            self._spill()

    def drop(self, source: int) -> None:
        """Leave every row of ``source`` out, those added and those spilled."""
        self._dropped.add(source)

    def days(self) -> Iterator[tuple[int, list[int]]]:
        """Each day holding rows of a member not dropped, with its slices (numbers for ``take``), in time order."""
        held = {day for (day, source), rows in self._rows.items() if rows and source not in self._dropped}
        slices = sorted(set(self._pending) | self._spilled)
        for day in sorted(held):
            yield day, [number for number in slices if number // SLICES_PER_DAY == day]

    def take(self, number: int) -> Rows:
        """The rows of slice ``number``, in the order they were added; the buffer keeps none of them."""
        pieces = [np.fromfile(self._path(number), dtype=self._record)] if number in self._spilled else []
        if number in self._spilled:
            self._path(number).unlink()
            self._spilled.discard(number)
        pieces += self._pending.pop(number, [])
        records = np.concatenate(pieces) if pieces else np.empty(0, self._record)
        del pieces
        if self._dropped:
            records = records[~np.isin(records["source"], list(self._dropped))]
        return Rows(
            np.ascontiguousarray(records["ts"]),
            np.ascontiguousarray(records["values"]).reshape(-1, self._width),
            np.ascontiguousarray(records["missing"]),
            np.ascontiguousarray(records["source"]),
        )

    def _path(self, number: int) -> Path:
        return self._directory / f"{number}.rows"

    def _spill(self) -> None:
        self._directory.mkdir(parents=True, exist_ok=True)
        for number, pieces in self._pending.items():
            with open(self._path(number), "ab") as handle:
                for piece in pieces:
                    piece.tofile(handle)
            self._spilled.add(number)
        self._pending.clear()
        self._pending_bytes = 0
