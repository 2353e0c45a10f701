"""Readings to a whole-second grid per sensor and hour: what a valid reading is, why one is
rejected, and the grid itself. No I/O.

Both sources (raw JSON lines and the Timestream query API) hand over the same Arrow columns,
``sensor_id``, ``temperature``, ``status``, ``event_time`` (epoch ms), so the checks live here
once. A reject keeps where it came from, its original text and the hour it is filed under.

The grid is the whole-second form of Timestream's ``INTERPOLATE_LINEAR`` (temperature) and
``INTERPOLATE_LOCF`` (status) over ``SEQUENCE(min(time), max(time), 1s)``, per sensor and UTC hour:

1. Readings are bucketed to their whole UTC second: temperature averaged, the worst status kept.
2. Each bucket is paired with the sensor's next bucket in the same hour and expanded into one row
   per second up to, not including, that next bucket; the last bucket of the hour expands to
   itself. So every second from the first to the last bucket of the hour appears exactly once,
   and gaps are never bridged across an hour boundary.
3. Temperature moves linearly from the bucket to the next one; status stays the bucket's.

All of it is a few sorts and vectorised numpy operations over the readings of a task.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from job_helpers.sensors.hours import HOUR_MS

STATUSES = ("OK", "WARNING", "ERROR")
"""Ordered from best to worst: a second with several readings keeps the worst."""

MIN_TEMPERATURE = -50.0
MAX_TEMPERATURE = 250.0
"""Physically plausible range; the sensors report 10-180, anything outside is a fault."""

READING_SCHEMA = pa.schema(
    [("sensor_id", pa.string()), ("temperature", pa.float64()), ("status", pa.string()), ("event_time", pa.int64())]
)
MALFORMED = "malformed JSON, or a field of the wrong type"
_NO_REASON = pa.scalar(None, pa.string())


@dataclass(frozen=True)
class Reject:
    """A reading that cannot be used: why, where it came from, its text, and its hour (epoch s)."""

    reason: str
    source: str
    record: str
    arrival: int

    def to_json(self) -> str:
        return json.dumps({"reason": self.reason, "source": self.source, "record": self.record}, sort_keys=True)


def reject_reasons(readings: pa.Table, extra: pa.ChunkedArray | pa.Array | None = None) -> pa.ChunkedArray:
    """The first problem found with each reading, or null when it is valid.

    ``extra`` holds source-specific reasons checked after the common ones (e.g. a raw reading
    must lie in its folder's hour or the hour before).
    """
    sensor, temperature, status, event_time = (readings[name] for name in READING_SCHEMA.names)
    checks = [
        (pc.or_kleene(pc.is_null(sensor), pc.equal(pc.utf8_trim_whitespace(sensor), "")), "missing field: sensor_id"),
        (pc.is_null(temperature), "missing field: temperature"),
        (pc.is_null(status), "missing field: status"),
        (pc.is_null(event_time), "missing field: event_time"),
        (
            pc.or_(
                pc.is_nan(temperature), pc.or_(pc.less(temperature, MIN_TEMPERATURE), pc.greater(temperature, MAX_TEMPERATURE))
            ),
            f"temperature out of range [{MIN_TEMPERATURE:g}, {MAX_TEMPERATURE:g}]",
        ),
        (pc.invert(pc.is_in(status, value_set=pa.array(STATUSES))), f"bad status (expected one of {', '.join(STATUSES)})"),
        (pc.less(event_time, 0), "event_time before 1970"),
    ]
    reason = pa.chunked_array([pa.nulls(readings.num_rows, pa.string())])
    for failed, text in checks:
        reason = pc.coalesce(reason, pc.if_else(pc.fill_null(failed, False), pa.scalar(text), _NO_REASON))
    return reason if extra is None else pc.coalesce(reason, extra)


def record_text(row: dict) -> str:
    """A parsed reading as compact JSON without its null fields, the form a reject's record takes."""
    return json.dumps({key: value for key, value in row.items() if value is not None}, separators=(",", ":"))


def split_rejects(readings: pa.Table, reasons: pa.ChunkedArray, source: str, arrival: int) -> tuple[pa.Table, list[Reject]]:
    """The usable readings, and a Reject filed under ``arrival`` for every reading with a reason."""
    bad = pc.is_valid(reasons)
    if not pc.any(bad).as_py():
        return readings, []
    rejected = readings.filter(bad).to_pylist()
    texts = pc.filter(reasons, bad).to_pylist()
    rejects = [Reject(text, source, record_text(row), arrival) for row, text in zip(rejected, texts)]
    return readings.filter(pc.invert(bad)), rejects


GRID_SCHEMA = pa.schema(
    [("sensor_id", pa.string()), ("time", pa.timestamp("s", tz="UTC")), ("temperature", pa.float64()), ("status", pa.string())]
)


def second_grid(readings: pa.Table) -> pa.Table:
    """Valid readings (``sensor_id``, ``temperature``, ``status``, ``event_time`` in epoch ms) to
    one row per sensor and second, ordered by sensor and time.

    The result depends only on the set of readings, not on their order: the readings of a busy
    second are summed in order of value.
    """
    if readings.num_rows == 0:
        return GRID_SCHEMA.empty_table()
    encoded = pc.dictionary_encode(readings["sensor_id"]).combine_chunks()
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    names = encoded.dictionary
    second = readings["event_time"].to_numpy() // 1000
    temperature = readings["temperature"].to_numpy()
    rank = np.zeros(readings.num_rows, dtype=np.int8)
    for value, status in enumerate(STATUSES):
        rank[pc.equal(readings["status"], status).to_numpy(zero_copy_only=False)] = value
    # Number the sensors in name order (Arrow compares the bytes), so the output is by sensor.
    name_order = pc.array_sort_indices(names).to_numpy()
    by_name = np.empty_like(name_order)
    by_name[name_order] = np.arange(len(name_order))
    codes = by_name[codes]
    order = np.lexsort((temperature, second, codes))
    codes, second, temperature, rank = codes[order], second[order], temperature[order], rank[order]

    starts = np.flatnonzero(np.r_[True, (codes[1:] != codes[:-1]) | (second[1:] != second[:-1])])
    copies = np.diff(np.r_[starts, len(second)])
    bucket_code, bucket_second = codes[starts], second[starts]
    bucket_temperature = np.add.reduceat(temperature, starts) / copies
    bucket_rank = np.maximum.reduceat(rank, starts)

    continues = np.r_[(bucket_code[1:] == bucket_code[:-1]) & (bucket_second[1:] // 3600 == bucket_second[:-1] // 3600), False]
    span = np.where(continues, np.r_[bucket_second[1:], 0] - bucket_second, 1)
    next_temperature = np.where(continues, np.r_[bucket_temperature[1:], 0.0], bucket_temperature)
    source = np.repeat(np.arange(len(starts)), span)
    offset = np.arange(len(source)) - np.repeat(np.cumsum(span) - span, span)
    base = bucket_temperature[source]
    moved = base + (next_temperature[source] - base) * offset / span[source]
    grid_temperature = np.where(continues[source], moved, base)

    sorted_names = pc.take(names, pa.array(name_order))
    return pa.Table.from_arrays(
        [
            pc.take(sorted_names, pa.array(bucket_code[source])),
            pa.array(bucket_second[source] + offset, pa.int64()).cast(pa.timestamp("s", tz="UTC")),
            pa.array(grid_temperature, pa.float64()),
            pc.take(pa.array(STATUSES), pa.array(bucket_rank[source])),
        ],
        schema=GRID_SCHEMA,
    )


@dataclass(frozen=True)
class HourGrid:
    """One event hour's grid, and the readings and sensors it was made from."""

    hour: int
    rows: pa.Table
    readings: int
    sensors: frozenset[str]


def hour_grids(readings: pa.Table, hours: tuple[int, ...]) -> Iterator[HourGrid]:
    """The grid of each of ``hours`` (epoch s) that has readings, one hour at a time.

    ``readings`` may hold readings of other hours (late arrivals read for the next batch); they
    are left out.
    """
    event_hour = pc.divide(readings["event_time"], HOUR_MS)
    for hour in hours:
        mine = readings.filter(pc.equal(event_hour, hour // 3600))
        if mine.num_rows:
            yield HourGrid(hour, second_grid(mine), mine.num_rows, frozenset(pc.unique(mine["sensor_id"]).to_pylist()))
