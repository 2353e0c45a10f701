"""One tar part per subject per ingest: written deterministically (so a rerun gives the same bytes and
checksum) from the same de-identified payloads as landing, each member checked against its planned
SHA-256 as it is read, and unpacked with the standard library's ``data`` filter (no absolute paths,
links out of the tree or special files)."""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from job_helpers.ingest.payload import CHUNK, Deidentification, FileChanged, open_payload


@dataclass(frozen=True)
class TarMember:
    name: str
    path: Path
    deid: Deidentification | None
    size: int
    sha256: str
    recorded: datetime | None


class MemberChanged(FileChanged):
    """A member's source no longer gives its planned bytes; no tar is published."""

    def __init__(self, member: TarMember, reason: str) -> None:
        super().__init__(reason)
        self.member = member


class _HashingWriter:
    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self.handle.write(data)


def write_tar(members: Iterable[TarMember], target: Path) -> tuple[str, int]:
    """Write the members in the given order; return the tar's SHA-256 and size.

    Owner, group and mode are fixed (root, 640) and each member's time is its recording time (or
    the epoch), so the bytes depend only on the content. ``MemberChanged`` when a member's bytes
    differ from its planned SHA-256.
    """
    with open(target, "wb") as handle:
        writer = _HashingWriter(handle)
        with tarfile.open(fileobj=writer, mode="w|", format=tarfile.GNU_FORMAT, bufsize=CHUNK) as tar:  # type: ignore[call-overload]
            for member in members:
                info = tarfile.TarInfo(member.name)
                info.size = member.size
                info.mode = 0o640
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mtime = int(member.recorded.replace(tzinfo=UTC).timestamp()) if member.recorded else 0
                try:
                    with open_payload(member.path, member.deid, member.size, (member.size, member.sha256)) as source:
                        tar.addfile(info, source)
                except FileChanged as error:
                    raise MemberChanged(member, str(error)) from error
    return writer.digest.hexdigest(), writer.size


def extract_members(tar_path: Path, target: Path, names: Iterable[str]) -> list[str]:
    """Unpack the members ``names`` into ``target`` with the ``data`` filter; return every file member's name.

    ``KeyError`` names a member the tar does not hold.
    """
    with tarfile.open(tar_path, mode="r:") as tar:
        members = {member.name: member for member in tar.getmembers() if member.isfile()}
        tar.extractall(target, members=[members[name] for name in names], filter="data")
    return list(members)
