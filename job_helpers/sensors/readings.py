"""What a valid sensor reading is, and the reason a reading is rejected.

Both sources (raw JSON lines and the Timestream query API) hand over the same Arrow columns,
``sensor_id``, ``temperature``, ``status``, ``event_time`` (epoch ms), so the checks live here
once. A reject keeps where it came from, its original text and the hour it is filed under.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

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
