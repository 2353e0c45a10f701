"""A member's parsed readings split by UTC day, kept in memory up to a budget and spilled beyond it.

Every cleaning rule works within one device and one day, so a month-long member is cleaned one day
at a time: blocks are sorted into days as they are parsed, and when the buffer passes its budget
the pending arrays go to one raw file per day and column on local disk. Memory stays near the
budget plus one day of one device, whatever the size of the member.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from job_helpers.embrace.transform import DAY_MS, ParsedBlock

BUDGET_BYTES = 256 << 20


class DayBuffer:
    """Collects ``(ts, values, missing)`` rows by day; ``days()`` gives each day's rows once, in day order."""

    def __init__(self, directory: Path, width: int, budget_bytes: int = BUDGET_BYTES) -> None:
        self._directory = directory
        self._width = width
        self._budget = budget_bytes
        self._pending: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = defaultdict(list)
        self._pending_bytes = 0
        self._spilled: set[int] = set()

    def add(self, block: ParsedBlock) -> None:
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
        for day, arrays in parts:
            self._pending[day].append(arrays)
            self._pending_bytes += sum(array.nbytes for array in arrays)
        if self._pending_bytes > self._budget:
            self._spill()

    def days(self) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        # Each day is built in the yield expression, so the buffer keeps no reference to it and
        # the caller can free a day before the next one is read.
        for day in sorted(set(self._pending) | self._spilled):
            yield self._take(day)

    def _take(self, day: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
        pieces = self._read_spilled(day) if day in self._spilled else []
        pieces += self._pending.pop(day, [])
        return (day, *(np.concatenate([piece[index] for piece in pieces]) for index in range(3)))

    def _spill(self) -> None:
        self._directory.mkdir(parents=True, exist_ok=True)
        for day, pieces in self._pending.items():
            for index, suffix in enumerate(("ts", "values", "missing")):
                with open(self._directory / f"{day}.{suffix}", "ab") as handle:
                    for piece in pieces:
                        handle.write(np.ascontiguousarray(piece[index]).tobytes())
            self._spilled.add(day)
        self._pending.clear()
        self._pending_bytes = 0

    def _read_spilled(self, day: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        ts = np.fromfile(self._directory / f"{day}.ts", dtype=np.int64)
        values = np.fromfile(self._directory / f"{day}.values", dtype=np.float64).reshape(-1, self._width)
        missing = np.fromfile(self._directory / f"{day}.missing", dtype=bool)
        for suffix in ("ts", "values", "missing"):
            (self._directory / f"{day}.{suffix}").unlink()
        return [(ts, values, missing)]
