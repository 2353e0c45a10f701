"""Generated EDF and BDF recordings for the tests and the ingest benchmark: valid headers with chosen fields."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from job_helpers.ingest.edf import FIXED_HEADER_BYTES, ascii_field


def build_header(
    patient: str,
    recording: str,
    start: datetime,
    records: int,
    duration_s: int,
    signals: int,
    samples_per_record: int,
    *,
    labels: Sequence[str] = (),
    samples: Sequence[int] = (),
    reserved: str = "",
    kind: str = "edf",
    transducer: str = "AgAgCl electrode",
    prefiltering: str = "HP:0.1Hz LP:75Hz",
) -> bytes:
    """A complete, valid EDF (or BDF, ``kind="bdf"``) header: fixed part and per-signal part.

    ``labels`` and ``samples`` give each signal's label and samples per record (default ``EEG C<i>``
    and ``samples_per_record``); ``reserved`` is ``EDF+C``, ``EDF+D``, ``BDF+C``… for the + formats.
    """
    header_bytes = FIXED_HEADER_BYTES * (1 + signals)
    version = b"\xffBIOSEMI" if kind == "bdf" else ascii_field("0", 8)
    fixed = b"".join(
        (
            version,
            ascii_field(patient, 80),
            ascii_field(recording, 80),
            ascii_field(start.strftime("%d.%m.%y"), 8),
            ascii_field(start.strftime("%H.%M.%S"), 8),
            ascii_field(str(header_bytes), 8),
            ascii_field(reserved, 44),
            ascii_field(str(records), 8),
            ascii_field(str(duration_s), 8),
            ascii_field(str(signals), 4),
        )
    )
    columns = (
        (16, lambda i: labels[i] if labels else f"EEG C{i}"),
        (80, lambda i: transducer),
        (8, lambda i: "uV"),
        (8, lambda i: "-3200"),
        (8, lambda i: "3200"),
        (8, lambda i: "-32768"),
        (8, lambda i: "32767"),
        (80, lambda i: prefiltering),
        (8, lambda i: str(samples[i] if samples else samples_per_record)),
        (32, lambda i: ""),
    )
    per_signal = b"".join(ascii_field(value(i), width) for width, value in columns for i in range(signals))
    return fixed + per_signal
