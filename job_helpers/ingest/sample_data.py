"""Generated EDF recordings for the tests and the ingest benchmark: valid headers with chosen identity fields."""

from __future__ import annotations

from datetime import datetime

from job_helpers.ingest.edf import FIXED_HEADER_BYTES, ascii_field


def build_header(
    patient: str, recording: str, start: datetime, records: int, duration_s: int, signals: int, samples_per_record: int
) -> bytes:
    """A complete, valid EDF header (fixed part and per-signal part) for a generated recording."""
    header_bytes = FIXED_HEADER_BYTES * (1 + signals)
    fixed = b"".join(
        (
            ascii_field("0", 8),
            ascii_field(patient, 80),
            ascii_field(recording, 80),
            ascii_field(start.strftime("%d.%m.%y"), 8),
            ascii_field(start.strftime("%H.%M.%S"), 8),
            ascii_field(str(header_bytes), 8),
            ascii_field("", 44),
            ascii_field(str(records), 8),
            ascii_field(str(duration_s), 8),
            ascii_field(str(signals), 4),
        )
    )
    columns = (
        (16, lambda i: f"EEG C{i}"),
        (80, lambda i: "AgAgCl electrode"),
        (8, lambda i: "uV"),
        (8, lambda i: "-3200"),
        (8, lambda i: "3200"),
        (8, lambda i: "-32768"),
        (8, lambda i: "32767"),
        (80, lambda i: "HP:0.1Hz LP:75Hz"),
        (8, lambda i: str(samples_per_record)),
        (32, lambda i: ""),
    )
    per_signal = b"".join(ascii_field(value(i), width) for width, value in columns for i in range(signals))
    return fixed + per_signal
