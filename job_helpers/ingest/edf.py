"""The fixed 256-byte EDF header: an exact reader and a writer of its identity fields.

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
    raw[PATIENT] = ascii_field(patient, 80)
    raw[RECORDING] = ascii_field(recording, 80)
    return None if bytes(raw) == header.raw else bytes(raw)


def ascii_field(text: str, width: int) -> bytes:
    """``text`` as one header field: ASCII, cut or padded with spaces on the right to ``width`` bytes."""
    return text.encode("ascii", errors="replace")[:width].ljust(width, b" ")
