"""A source file as it is uploaded: its bytes, with a patched EDF header laid over the start when needed.

The overlay streams: the source is never copied or loaded whole, and never written to.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any, BinaryIO

CHUNK = 1024 * 1024


class PatchedReader(io.RawIOBase):
    """Reads ``path`` with its first ``len(patch)`` bytes replaced by ``patch``; seekable, so S3 can retry parts."""

    def __init__(self, path: Path, patch: bytes) -> None:
        self._handle = open(path, "rb")
        self._patch = patch
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._position = self._handle.seek(offset, whence)
        return self._position

    def readinto(self, buffer: Any) -> int:
        self._handle.seek(self._position)
        count = self._handle.readinto(buffer)
        if count and self._position < len(self._patch):
            end = min(len(self._patch), self._position + count)
            memoryview(buffer)[: end - self._position] = self._patch[self._position : end]
        self._position += count or 0
        return count or 0

    def close(self) -> None:
        self._handle.close()
        super().close()


def open_payload(path: Path, patch: bytes | None) -> BinaryIO:
    """The bytes to upload for one source file, as a buffered binary stream."""
    if patch is None:
        return open(path, "rb")
    return io.BufferedReader(PatchedReader(path, patch), buffer_size=CHUNK)


def sha256_of(path: Path, patch: bytes | None = None) -> str:
    """SHA-256 of the payload, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open_payload(path, patch) as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
