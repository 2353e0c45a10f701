"""The fixed 256-byte EDF header: an exact reader, a writer of its identity fields, and a generator.

Only the fields this package needs are parsed. The layout (EDF 1992 / EDF+): 8-byte version,
80-byte local patient identification, 80-byte local recording identification, 8-byte start date
``dd.mm.yy``, 8-byte start time ``hh.mm.ss``, 8-byte header size, 44 reserved, 8-byte record count,
8-byte record duration, 4-byte signal count; then 256 bytes per signal. Text is ASCII, padded with
spaces on the right.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

FIXED_HEADER_BYTES = 256
PATIENT = slice(8, 88)
RECORDING = slice(88, 168)
START_DATE = slice(168, 176)
START_TIME = slice(176, 184)
HEADER_BYTES = slice(184, 192)
RESERVED = slice(192, 236)
SIGNAL_COUNT = slice(252, 256)


class EdfError(Exception):
    """A file with the .edf extension does not hold a readable EDF header; the message names it."""


@dataclass(frozen=True)
class EdfHeader:
    """The identity and timing fields of one header; ``raw`` is the exact 256 bytes read."""

    patient: str = field(repr=False)
    recording: str = field(repr=False)
    start: datetime | None
    raw: bytes = field(repr=False)


def parse_header(raw: bytes, where: str = "EDF header") -> EdfHeader:
    """Parse the fixed header; a bad version or size raises, an unreadable start date gives ``start=None``."""
    if len(raw) < FIXED_HEADER_BYTES:
        raise EdfError(f"{where}: {len(raw)} bytes, an EDF header has at least {FIXED_HEADER_BYTES}")
    raw = raw[:FIXED_HEADER_BYTES]
    if raw[:8].rstrip(b" ") != b"0":
        raise EdfError(f"{where}: version field is not '0'; not an EDF file (BDF and others are not supported)")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as error:
        raise EdfError(f"{where}: header holds non-ASCII bytes at offset {error.start}; EDF headers are ASCII") from error
    return EdfHeader(
        patient=text[PATIENT].rstrip(" "),
        recording=text[RECORDING].rstrip(" "),
        start=_start(text[START_DATE], text[START_TIME]),
        raw=raw,
    )


def read_header(path: Path) -> EdfHeader:
    """Read only the fixed header of ``path``: large recordings are never loaded."""
    with open(path, "rb") as handle:
        return parse_header(handle.read(FIXED_HEADER_BYTES), str(path))


def _start(date: str, time: str) -> datetime | None:
    match_date = re.fullmatch(r"(\d\d)\.(\d\d)\.(\d\d)", date.strip())
    match_time = re.fullmatch(r"(\d\d)\.(\d\d)\.(\d\d)", time.strip())
    if not match_date or not match_time:
        return None
    day, month, yy = (int(g) for g in match_date.groups())
    # EDF's year clipping: 85-99 are 1985-1999, 00-84 are 2000-2084.
    year = 1900 + yy if yy >= 85 else 2000 + yy
    try:
        hour, minute, second = (int(g) for g in match_time.groups())
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


def with_identity(header: EdfHeader, code: str) -> bytes | None:
    """The 256 header bytes with both identity fields set to ``code``, whatever they held; None if already so.

    EDF+ files (reserved field starting ``EDF+``) keep the subfield layout EDF+ readers expect, every
    subfield but the code unknown (``X``): patient ``<code> X X X``, recording ``Startdate X <code> X X``.
    """
    if header.raw[RESERVED].startswith(b"EDF+"):
        patient, recording = f"{code} X X X", f"Startdate X {code} X X"
    else:
        patient = recording = code
    raw = bytearray(header.raw)
    raw[PATIENT] = _field(patient, 80)
    raw[RECORDING] = _field(recording, 80)
    return None if bytes(raw) == header.raw else bytes(raw)


def _field(text: str, width: int) -> bytes:
    return text.encode("ascii", errors="replace")[:width].ljust(width, b" ")


def build_header(
    patient: str, recording: str, start: datetime, records: int, duration_s: int, signals: int, samples_per_record: int
) -> bytes:
    """A complete, valid EDF header (fixed part and per-signal part) for generated test recordings."""
    header_bytes = FIXED_HEADER_BYTES * (1 + signals)
    fixed = b"".join(
        (
            _field("0", 8),
            _field(patient, 80),
            _field(recording, 80),
            _field(start.strftime("%d.%m.%y"), 8),
            _field(start.strftime("%H.%M.%S"), 8),
            _field(str(header_bytes), 8),
            _field("", 44),
            _field(str(records), 8),
            _field(str(duration_s), 8),
            _field(str(signals), 4),
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
    per_signal = b"".join(_field(value(i), width) for width, value in columns for i in range(signals))
    return fixed + per_signal


def write_edf(
    path: Path,
    patient: str,
    recording: str,
    start: datetime,
    records: int = 4,
    duration_s: int = 1,
    signals: int = 2,
    samples_per_record: int = 64,
) -> None:
    """Write a small, valid EDF file with a deterministic 16-bit signal, for tests and benchmarks."""
    header = build_header(patient, recording, start, records, duration_s, signals, samples_per_record)
    sample = bytes((i * 37 + 11) % 256 for i in range(2 * samples_per_record))
    with open(path, "wb") as handle:
        handle.write(header)
        for _ in range(records * signals):
            handle.write(sample)
