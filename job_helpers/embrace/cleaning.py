"""The cleaning rules on the readings of one participant, device, stream and UTC day.

A timestamp's copies decide every rule and feed every count, and copies always share a day, so a
day of one device is a complete unit:

* a timestamp whose non-missing rows all hold the same values keeps one row (perfect duplicates,
  every copy counted in ``perfect``);
* a timestamp whose non-missing rows disagree is dropped whole (``unclear``, every row counted);
* rows with a missing value are dropped (``nan``) and take no part in the duplicate decision;
* EDA ``-0.0`` is ``0.0`` before anything is compared (done when parsing);
* devices are never mixed: the caller cleans each device on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OFF_WRIST_MICROSIEMENS = 0.03
OFF_WRIST_SHARE = 0.9
WINDOW_MS = 10_000
EDA_HZ = 4
DAY_MS = 86_400_000


@dataclass(frozen=True)
class DayCounts:
    """What the rules found in one day: the duplicate log's columns and the rows kept.

    ``total_dupes`` counts the non-missing rows that share their timestamp with another one, so
    it is always ``perfect + unclear``.
    """

    total_rows: int
    total_dupes: int
    perfect: int
    nan: int
    unclear: int
    clean: int


@dataclass(frozen=True)
class WearDay:
    """Samples and 10-second windows of one day's clean EDA, and how many were on the wrist."""

    samples: int
    samples_worn: int
    windows: int
    windows_worn: int

    @property
    def minutes_worn(self) -> float:
        return self.samples_worn / (EDA_HZ * 60.0)

    @property
    def share_worn(self) -> float:
        return self.minutes_worn / (24 * 60)


def clean_day(ts: np.ndarray, values: np.ndarray, missing: np.ndarray) -> tuple[np.ndarray, np.ndarray, DayCounts]:
    """The kept readings (sorted by time, one per timestamp) and the day's counts.

    ``values`` has one column per measure; ``missing`` marks rows with a missing value. Only the
    rows whose timestamp is shared are compared, so a day without duplicates costs one sort.
    """
    total, nan = len(ts), int(missing.sum())
    present_rows = np.flatnonzero(~missing) if nan else None
    times = ts[present_rows] if nan else ts
    order = np.argsort(times, kind="stable")
    in_order = times[order]
    equal_next = in_order[1:] == in_order[:-1]
    shared = np.r_[equal_next, False] | np.r_[False, equal_next]
    keep = ~missing
    total_dupes = perfect = 0
    if shared.any():
        rows = order[shared] if present_rows is None else present_rows[order[shared]]
        group_times = in_order[shared]
        starts = np.flatnonzero(np.r_[True, group_times[1:] != group_times[:-1]])
        copies = np.diff(np.r_[starts, len(rows)])
        readings = values[rows]
        same_as_first = (readings == readings[np.repeat(starts, copies)]).all(axis=1)
        agree = np.logical_and.reduceat(same_as_first, starts)
        keep[rows] = False
        keep[rows[starts[agree]]] = True
        total_dupes, perfect = int(copies.sum()), int(copies[agree].sum())
    del times, order, in_order, equal_next, shared
    if not keep.all():
        ts, values = ts[keep], values[keep]
    if len(ts) > 1 and not (ts[1:] >= ts[:-1]).all():
        order = np.argsort(ts, kind="stable")
        ts, values = ts[order], values[order]
    counts = DayCounts(total, total_dupes, perfect, nan, total_dupes - perfect, len(ts))
    return ts, values, counts


def wear_day(ts: np.ndarray, eda: np.ndarray) -> WearDay:
    """Wear of one day from its clean, time-sorted 4 Hz EDA readings.

    A 10-second window is off the wrist when more than 90% of its values are below 0.03 µS; the
    worn minutes are the samples left in the other windows divided by the 4 Hz rate.
    """
    windows = ts // WINDOW_MS
    starts = np.flatnonzero(np.r_[True, windows[1:] != windows[:-1]]) if len(ts) else np.empty(0, dtype=np.int64)
    samples = np.diff(np.r_[starts, len(ts)])
    low = np.add.reduceat((eda < OFF_WRIST_MICROSIEMENS).astype(np.int64), starts) if len(starts) else samples
    worn = low <= samples * OFF_WRIST_SHARE
    return WearDay(int(samples.sum()), int(samples[worn].sum()), len(samples), int(worn.sum()))
