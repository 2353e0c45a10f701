"""Readings to a whole-second grid per sensor and hour: the heart of the export, with no I/O.

This is the whole-second form of Timestream's ``INTERPOLATE_LINEAR`` (temperature) and
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

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from job_helpers.sensors.readings import STATUSES

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
