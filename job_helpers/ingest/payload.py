"""A source file as it leaves: its bytes with the checked EDF header laid over the start and every
EDF+ annotation text rewritten, and the proof that what left is what was planned.

The source is streamed, never copied, loaded whole or written to. The header bytes come from the
plan (read and checked once); annotation areas are rewritten as they stream, by the same pure
function that the plan's pass ran, so every pass over a file yields the same bytes unless the
file changed. A reader given the planned size and SHA-256 hashes each pass from the first byte to
the last and raises ``FileChanged`` instead of returning the last bytes of a pass that differs, so
an upload or tar member that would not match the plan is never completed.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from job_helpers.ingest import tal
from job_helpers.ingest.edf import AnnotationChannel
from job_helpers.storage import RangedReader

CHUNK = 1024 * 1024


class FileChanged(Exception):
    """A source file differs from the plan (size, modified time or content): it changed while being ingested."""


@dataclass(frozen=True)
class Annotations:
    """Where a file's annotation areas are, and how their texts are rewritten and checked."""

    data_start: int
    record_size: int
    records: int
    channels: tuple[AnnotationChannel, ...]
    keep: Callable[[str], bool] = field(compare=False, repr=False)
    refusal: Callable[[str], str | None] = field(compare=False, repr=False)

    def areas(self, start: int, end: int) -> list[tuple[AnnotationChannel, int]]:
        """The (channel, file offset) of every annotation area that overlaps bytes ``start``..``end``."""
        if end <= self.data_start:
            return []
        first = max(0, (start - self.data_start) // self.record_size)
        last = min(self.records, (end - self.data_start + self.record_size - 1) // self.record_size)
        found = []
        for record in range(first, last):
            base = self.data_start + record * self.record_size
            for channel in self.channels:
                offset = base + channel.offset
                if offset < end and offset + channel.length > start:
                    found.append((channel, offset))
        return found

    def rewrite(self, area: bytes, channel: AnnotationChannel, offset: int) -> bytes:
        """The area's bytes as they leave; raises ``AnnotationError`` naming the signal and record, never the text."""
        record = (offset - self.data_start) // self.record_size + 1
        try:
            rewritten, kept = tal.rewrite(area, self.keep)
        except tal.AnnotationError as error:
            raise tal.AnnotationError(f"annotation signal {channel.signal}, data record {record}: {error}") from None
        if why := next(filter(None, map(self.refusal, kept)), None):
            raise tal.AnnotationError(
                f"annotation signal {channel.signal}, data record {record}: a text kept by ingest.keep.annotations {why}"
            )
        return rewritten


@dataclass(frozen=True)
class Deidentification:
    """How one file's bytes change on the way out: ``header`` laid over its start, annotation texts rewritten."""

    header: bytes = field(repr=False)
    annotations: Annotations | None = None


class PayloadReader(RangedReader):
    """``path`` as it leaves (see the module); with ``expected`` (size, SHA-256), each pass is checked."""

    def __init__(self, path: Path, deid: Deidentification | None, size: int, expected: tuple[int, str] | None = None) -> None:
        self._handle = _open(path)
        self._deid = deid
        self._expected = expected
        self._digest = hashlib.sha256()
        self._hashed = 0
        super().__init__(size, self._payload)

    def _read(self, start: int, end: int) -> bytes:
        self._handle.seek(start)
        data = self._handle.read(end - start)
        if len(data) < end - start:
            raise FileChanged(f"it ends at byte {start + len(data):,}, the plan has {self._size:,} bytes")
        return data

    def _payload(self, start: int, end: int) -> bytes:
        data = self._read(start, end)
        if self._deid is not None:
            data = self._deidentified(start, end, bytearray(data))
        self._check(start, data)
        return data

    def _deidentified(self, start: int, end: int, data: bytearray) -> bytes:
        assert self._deid is not None
        header = self._deid.header
        if start < len(header):
            overlay = header[start : min(len(header), end)]
            data[: len(overlay)] = overlay
        found = self._deid.annotations
        if found is None:
            return bytes(data)
        for channel, offset in found.areas(start, end):
            inside = start <= offset and offset + channel.length <= end
            area = (
                data[offset - start : offset - start + channel.length] if inside else self._read(offset, offset + channel.length)
            )
            rewritten = found.rewrite(bytes(area), channel, offset)
            low, high = max(start, offset), min(end, offset + channel.length)
            data[low - start : high - start] = rewritten[low - offset : high - offset]
        return bytes(data)

    def _check(self, start: int, data: bytes) -> None:
        """Hash each pass that starts at byte 0 and reads on in order; refuse the end of one that differs."""
        if self._expected is None:
            return
        if start == 0:
            self._digest, self._hashed = hashlib.sha256(), 0
        if start != self._hashed:
            raise FileChanged("it was read out of order and could not be checked against the plan")
        self._digest.update(data)
        self._hashed = start + len(data)
        size, sha256 = self._expected
        if self._hashed == size and self._digest.hexdigest() != sha256:
            raise FileChanged("its content differs from the plan (SHA-256)")

    def close(self) -> None:
        self._handle.close()
        super().close()


def open_payload(path: Path, deid: Deidentification | None, size: int, expected: tuple[int, str] | None = None) -> BinaryIO:
    """The bytes to upload for one source file, as a buffered binary stream (``expected``: see ``PayloadReader``)."""
    return io.BufferedReader(PayloadReader(path, deid, size, expected), buffer_size=CHUNK)


def payload_sha256(path: Path, deid: Deidentification | None, size: int, mtime_ns: int) -> str:
    """SHA-256 of the payload, read in 1 MiB chunks; ``FileChanged`` if the file is not as scanned."""
    digest = hashlib.sha256()
    with open_payload(path, deid, size) as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    check_unchanged(path, size, mtime_ns)
    return digest.hexdigest()


def _open(path: Path) -> BinaryIO:
    try:
        return open(path, "rb")
    except OSError as error:
        raise FileChanged(f"it can no longer be read ({error.strerror or error})") from None


def check_unchanged(path: Path, size: int, mtime_ns: int) -> None:
    """``FileChanged`` unless ``path`` still has the size and modified time it was scanned with."""
    try:
        found = os.stat(path)
    except OSError as error:
        raise FileChanged(f"it can no longer be read ({error.strerror or error})") from None
    if found.st_size != size:
        raise FileChanged(f"its size changed from {size:,} to {found.st_size:,} bytes")
    if found.st_mtime_ns != mtime_ns:
        raise FileChanged("its modified time changed")


def sha256_of(path: Path) -> str:
    """SHA-256 of a file as it is (a restored or downloaded one), read in 1 MiB chunks."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
