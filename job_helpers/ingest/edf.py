"""EDF, EDF+, BDF and BDF+ headers: recognised by content, read exactly, identity fields rewritten.

A file is one of these when its first 8 bytes (the version field) say so, whatever it is called:
``0`` and seven spaces for EDF, byte 0xFF and ``BIOSEMI`` for BDF (24-bit samples). The layout
(EDF 1992 / EDF+ / BDF): 8-byte version, 80-byte local patient identification, 80-byte local
recording identification, 8-byte start date ``dd.mm.yy``, 8-byte start time ``hh.mm.ss``, 8-byte
header size, 44 reserved (``EDF+C``/``EDF+D``/``BDF+C``… for the + formats), 8-byte record count,
8-byte record duration, 4-byte signal count; then, field by field for all signals, label (16),
transducer (80), physical dimension (8), physical minimum, maximum, digital minimum, maximum (8
each), prefiltering (80), samples per record (8), reserved (32). Text is ASCII, padded with spaces.
Signals labelled ``EDF Annotations`` (``BDF Annotations``) carry annotation texts in every record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

FIXED_HEADER_BYTES = 256
SIGNAL_HEADER_BYTES = 256
MAX_SIGNALS = 9999
PATIENT = slice(8, 88)
RECORDING = slice(88, 168)
START_DATE = slice(168, 176)
START_TIME = slice(176, 184)
HEADER_BYTES = slice(184, 192)
RESERVED = slice(192, 236)
RECORDS = slice(236, 244)
DURATION = slice(244, 252)
SIGNAL_COUNT = slice(252, 256)
VERSIONS = {b"0       ": "edf", b"\xffBIOSEMI": "bdf"}
BYTES_PER_SAMPLE = {"edf": 2, "bdf": 3}
ANNOTATION_LABELS = ("EDF Annotations", "BDF Annotations")
# The per-signal fields: name and width, in the order they follow the fixed header.
SIGNAL_FIELDS = (
    ("label", 16),
    ("transducer", 80),
    ("physical dimension", 8),
    ("physical minimum", 8),
    ("physical maximum", 8),
    ("digital minimum", 8),
    ("digital maximum", 8),
    ("prefiltering", 80),
    ("samples per record", 8),
    ("reserved", 32),
)
FIXED_FIELDS = (
    ("local patient", PATIENT),
    ("local recording", RECORDING),
    ("start date", START_DATE),
    ("start time", START_TIME),
    ("header size", HEADER_BYTES),
    ("reserved", RESERVED),
    ("record count", RECORDS),
    ("record duration", DURATION),
    ("signal count", SIGNAL_COUNT),
)


class EdfError(Exception):
    """A file that is, or claims to be, EDF or BDF does not hold a readable header; the message names it."""


def content_kind(start: bytes) -> str | None:
    """``edf`` or ``bdf`` when the first 8 bytes are that format's version field, else None."""
    return VERSIONS.get(start[:8])


@dataclass(frozen=True)
class Signal:
    """One signal's header: its label (kept from the reprs, it is free text) and samples per data record."""

    label: str = field(repr=False)
    samples: int


@dataclass(frozen=True)
class AnnotationChannel:
    """Where one annotation signal's bytes sit in each data record."""

    signal: int
    offset: int
    length: int


@dataclass(frozen=True)
class EdfHeader:
    """The parsed header; ``raw`` is the exact header read (the fixed 256 bytes, then the signals' when read),
    ``header_bytes`` the size of the whole header (where the data records start)."""

    patient: str = field(repr=False)
    recording: str = field(repr=False)
    start: datetime | None
    raw: bytes = field(repr=False)
    kind: str = "edf"
    records: int = -1
    signals: tuple[Signal, ...] = ()
    header_bytes: int = FIXED_HEADER_BYTES

    @property
    def plus(self) -> bool:
        """EDF+ or BDF+: the identity fields have subfields, and annotation signals may follow."""
        return self.raw[RESERVED][:4] in (b"EDF+", b"BDF+")

    @property
    def record_size(self) -> int:
        return sum(s.samples for s in self.signals) * BYTES_PER_SAMPLE[self.kind]

    def annotation_channels(self) -> tuple[AnnotationChannel, ...]:
        channels, offset = [], 0
        for number, signal in enumerate(self.signals, start=1):
            length = signal.samples * BYTES_PER_SAMPLE[self.kind]
            if signal.label.strip() in ANNOTATION_LABELS:
                channels.append(AnnotationChannel(number, offset, length))
            offset += length
        return tuple(channels)

    def text_fields(self) -> list[tuple[str, str]]:
        """Every field of ``raw`` as (where, text), for the name check: the fixed fields, then each signal's."""
        text = self.raw.decode("ascii", errors="replace")
        found = [(name, text[where]) for name, where in FIXED_FIELDS]
        start = FIXED_HEADER_BYTES
        count = len(self.signals)
        for name, width in SIGNAL_FIELDS:
            for index in range(count):
                found.append((f"signal {index + 1} {name}", text[start + index * width : start + (index + 1) * width]))
            start += width * count
        return found


def parse_header(raw: bytes, where: str = "EDF header") -> EdfHeader:
    """Parse the fixed header, and the signals' headers when ``raw`` holds them; a bad version, size or
    text raises, an unreadable start date gives ``start=None``."""
    if len(raw) < FIXED_HEADER_BYTES:
        raise EdfError(f"{where}: {len(raw)} bytes, an EDF header has at least {FIXED_HEADER_BYTES}")
    kind = content_kind(raw)
    if kind is None:
        raise EdfError(f"{where}: version field is neither EDF's '0' nor BDF's 0xFF 'BIOSEMI'; not an EDF or BDF file")
    try:
        text = raw[1:].decode("ascii")
    except UnicodeDecodeError as error:
        raise EdfError(f"{where}: header holds non-ASCII bytes at offset {error.start + 1}; EDF headers are ASCII") from error
    text = " " + text
    count = _number(text[SIGNAL_COUNT], "signal count", where)
    if not 0 <= count <= MAX_SIGNALS:
        raise EdfError(f"{where}: signal count {count} is out of range")
    size = FIXED_HEADER_BYTES + SIGNAL_HEADER_BYTES * count
    if _number(text[HEADER_BYTES], "header size", where) != size:
        raise EdfError(f"{where}: header size field does not match its {count} signal(s) ({size} bytes)")
    signals: tuple[Signal, ...] = ()
    if len(raw) > FIXED_HEADER_BYTES:
        if len(raw) < size:
            raise EdfError(f"{where}: the file ends inside its header ({len(raw)} of {size} bytes)")
        signals = _signals(text[FIXED_HEADER_BYTES:size], count, where)
        raw = raw[:size]
    else:
        raw = raw[:FIXED_HEADER_BYTES]
    return EdfHeader(
        patient=text[PATIENT].rstrip(" "),
        recording=text[RECORDING].rstrip(" "),
        start=_start(text[START_DATE], text[START_TIME]),
        raw=raw,
        kind=kind,
        records=_number(text[RECORDS], "record count", where),
        signals=signals,
        header_bytes=size,
    )


def read_header(path: Path, where: str | None = None) -> EdfHeader:
    """Read only the header of ``path`` (fixed part and signals): large recordings are never loaded."""
    where = where or str(path)
    with open(path, "rb") as handle:
        fixed = handle.read(FIXED_HEADER_BYTES)
        header = parse_header(fixed, where)
        rest = handle.read(header.header_bytes - FIXED_HEADER_BYTES)
    if len(rest) < header.header_bytes - FIXED_HEADER_BYTES:
        raise EdfError(
            f"{where}: the file ends inside its header ({FIXED_HEADER_BYTES + len(rest)} of {header.header_bytes} bytes)"
        )
    return parse_header(fixed + rest, where) if rest else header


def _number(text: str, name: str, where: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise EdfError(f"{where}: the {name} field is not a whole number") from None


def _signals(text: str, count: int, where: str) -> tuple[Signal, ...]:
    columns: dict[str, list[str]] = {}
    start = 0
    for name, width in SIGNAL_FIELDS:
        columns[name] = [text[start + i * width : start + (i + 1) * width] for i in range(count)]
        start += width * count
    samples = [_number(value, "samples per record", where) for value in columns["samples per record"]]
    if any(n < 1 for n in samples):
        raise EdfError(f"{where}: a signal has no samples per record")
    return tuple(Signal(label.rstrip(" "), n) for label, n in zip(columns["label"], samples, strict=True))


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
    """``header.raw`` with both identity fields set to ``code``, whatever they held; None if already so.

    EDF+ and BDF+ files keep the subfield layout their readers expect, every subfield but the code
    unknown (``X``): patient ``<code> X X X``, recording ``Startdate X <code> X X``.
    """
    if header.plus:
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
