"""A source file as it is uploaded: its bytes, with a patched EDF header laid over the start when needed.

The overlay streams: the source is never copied or loaded whole, and never written to.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import BinaryIO

from job_helpers.storage import RangedReader

CHUNK = 1024 * 1024


class PatchedReader(RangedReader):
    """Reads ``path`` with its first ``len(patch)`` bytes replaced by ``patch``; seekable, so S3 can retry parts."""

    def __init__(self, path: Path, patch: bytes) -> None:
        self._handle = open(path, "rb")
        self._patch = patch
        super().__init__(os.fstat(self._handle.fileno()).st_size, self._patched)

    def _patched(self, start: int, end: int) -> bytes:
        self._handle.seek(start)
        data = self._handle.read(end - start)
        if start < len(self._patch):
            overlay = self._patch[start : min(len(self._patch), start + len(data))]
            data = overlay + data[len(overlay) :]
        return data

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
