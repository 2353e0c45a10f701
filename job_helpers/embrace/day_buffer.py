"""A device stream's parsed readings split by UTC day, kept in memory up to a budget and spilled beyond it.

Every cleaning rule works within one device and one day, so a month-long member is cleaned one day
at a time: blocks are sorted into days as they are parsed, and when the buffer passes its budget
the pending arrays go to one raw file per day and column on local disk. Each row keeps the number
of the member (its "source") it came from, so a member refused half-way is left out whole
(``drop``), and no member may bring more than ``max_rows_per_day`` rows to one day: memory stays
near the budget plus one day of one device, whatever the size or content of the members.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from job_helpers.embrace.transform import DAY_MS, ParsedBlock

BUDGET_BYTES = 256 << 20
COLUMNS = ("ts", "values", "missing", "source")


class DayTooLarge(ValueError):
    """A member brought more than ``max_rows_per_day`` rows to one day; ``day`` is its number (days since 1970)."""

    def __init__(self, day: int) -> None:
        super().__init__(f"day {day}")
        self.day = day


@dataclass
class Day:
    """One day's rows: epoch ms, values (one column per measure), missing rows, and each row's source."""

    number: int
    ts: np.ndarray
    values: np.ndarray
    missing: np.ndarray
    source: np.ndarray

    def release(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The day's arrays, handed over: the Day keeps none, so they go as soon as the caller drops them."""
        arrays = (self.ts, self.values, self.missing, self.source)
        self.ts = self.values = self.missing = self.source = np.empty(0)
        return arrays


class DayBuffer:
    """Collects rows by day and source; ``days()`` gives each day's rows once, in day order."""

    def __init__(self, directory: Path, width: int, max_rows_per_day: int, budget_bytes: int = BUDGET_BYTES) -> None:
        self._directory = directory
        self._width = width
        self._max_rows = max_rows_per_day
        self._budget = budget_bytes
        self._pending: dict[int, list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]] = defaultdict(list)
        self._pending_bytes = 0
        self._spilled: set[int] = set()
        self._rows: dict[tuple[int, int], int] = defaultdict(int)
        self._dropped: set[int] = set()

    def add(self, block: ParsedBlock, source: int) -> None:
        """Add a block of member ``source``; DayTooLarge (nothing of the block added) when it passes the day limit."""
        if not len(block.ts):
            return
        days = block.ts // DAY_MS
        if days[0] == days[-1] and (days == days[0]).all():
            parts = [(int(days[0]), (block.ts, block.values, block.missing))]
        else:
            order = np.argsort(days, kind="stable")
            found, starts = np.unique(days[order], return_index=True)
            ends = np.r_[starts[1:], len(order)]
            parts = []
            for day, start, end in zip(found, starts, ends):
                rows = order[start:end]
                parts.append((int(day), (block.ts[rows], block.values[rows], block.missing[rows])))
        for day, (ts, _, _) in parts:
            if self._rows[(day, source)] + len(ts) > self._max_rows:
                raise DayTooLarge(day)
        for day, arrays in parts:
            self._rows[(day, source)] += len(arrays[0])
            self._pending[day].append((source, *arrays))
            self._pending_bytes += sum(array.nbytes for array in arrays)
        if self._pending_bytes > self._budget:
            self._spill()

    def drop(self, source: int) -> None:
        """Leave every row of ``source`` out, those added and those spilled."""
        self._dropped.add(source)
        for day, pieces in self._pending.items():
            kept = [piece for piece in pieces if piece[0] != source]
            self._pending_bytes -= sum(a.nbytes for piece in pieces if piece[0] == source for a in piece[1:])
            self._pending[day] = kept

    def days(self) -> Iterator[Day]:
        # Each day is built in the yield expression, so the buffer keeps no reference to it and
        # the caller can free a day before the next one is read.
        for day in sorted(set(self._pending) | self._spilled):
            taken = self._take(day)
            if len(taken.ts):
                yield taken

    def _take(self, day: int) -> Day:
        pieces = self._read_spilled(day) if day in self._spilled else []
        pieces += [
            (np.full(len(ts), source, dtype=np.int32), ts, values, missing)
            for source, ts, values, missing in self._pending.pop(day, [])
            if source not in self._dropped
        ]
        if not pieces:
            return Day(day, np.empty(0, np.int64), np.empty((0, self._width)), np.empty(0, bool), np.empty(0, np.int32))
        source, ts, values, missing = (np.concatenate([piece[index] for piece in pieces]) for index in range(4))
        if self._dropped:
            kept = ~np.isin(source, list(self._dropped))
            source, ts, values, missing = source[kept], ts[kept], values[kept], missing[kept]
        return Day(day, ts, values.reshape(-1, self._width), missing, source)

    def _spill(self) -> None:
        self._directory.mkdir(parents=True, exist_ok=True)
        for day, pieces in self._pending.items():
            if not pieces:
                continue
            with open(self._directory / f"{day}.source", "ab") as handle:
                for source, ts, _, _ in pieces:
                    handle.write(np.full(len(ts), source, dtype=np.int32).tobytes())
            for index, suffix in enumerate(COLUMNS[:3], start=1):
                with open(self._directory / f"{day}.{suffix}", "ab") as handle:
                    for piece in pieces:
                        handle.write(np.ascontiguousarray(piece[index]).tobytes())
            self._spilled.add(day)
        self._pending.clear()
        self._pending_bytes = 0

    def _read_spilled(self, day: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        source = np.fromfile(self._directory / f"{day}.source", dtype=np.int32)
        ts = np.fromfile(self._directory / f"{day}.ts", dtype=np.int64)
        values = np.fromfile(self._directory / f"{day}.values", dtype=np.float64).reshape(-1, self._width)
        missing = np.fromfile(self._directory / f"{day}.missing", dtype=bool)
        for suffix in COLUMNS:
            (self._directory / f"{day}.{suffix}").unlink()
        return [(source, ts, values, missing)]
