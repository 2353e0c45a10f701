"""The members of an archive a run reads, grouped by the key every cleaning rule works within.

The driver groups the selected members by export, participant, device and stream and deals the
groups out to tasks (see ``stream_tasks``). Members are known by their entry in the
central directory, never by name: an archive may hold two entries of the same name (an export
appended to), and both are read, as one stream of that device.
"""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass

from job_helpers.embrace.archives import METADATA, Archive, Selection, UnsafeMemberPath, parse_member
from job_helpers.embrace.limits import ArchiveLimits

log = logging.getLogger(__name__)

UNSAFE_ID = re.compile(r'[,"\r\n]')
# Archives inside the export are refused by name here, and by content when named as a CSV (``transform``).
NESTED_ARCHIVE = re.compile(r"\.(zip|gz|tgz|bz2|xz|7z|rar|tar|zst)$", re.IGNORECASE)
NESTED = "archive"


class UnreadableArchive(Exception):
    """An archive whose central directory cannot be read, or holds nothing the job can publish."""


@dataclass(frozen=True)
class Entry:
    """One zip entry: its name, where its local header starts, and the name its rejects and report lines carry.

    The offset tells apart entries of the same name; their label is ``<name>#<n>``, n counting the
    entries of that name in central-directory order.
    """

    name: str
    offset: int
    label: str


@dataclass(frozen=True)
class MemberGroup:
    """The members of one export holding one participant's device and stream (usually one file)."""

    archive: Archive
    ppt_id: str
    dev_id: str
    kind: str
    entries: tuple[Entry, ...]
    size: int


@dataclass(frozen=True)
class RefusedMember:
    """A member whose path cannot name a participant and device: a reject of its stream, never read."""

    name: str
    kind: str
    reason: str


@dataclass(frozen=True)
class ArchiveMembers:
    """What the central directory of an archive holds for a run: groups to clean, refused members, repeated names."""

    groups: list[MemberGroup]
    refused: list[RefusedMember]
    repeated: dict[str, int]


def group_entries(
    archive: Archive, infos: Sequence[zipfile.ZipInfo], selection: Selection, limits: ArchiveLimits
) -> ArchiveMembers:
    """The selected entries of ``archive``'s central directory grouped by participant, device and stream, and the refused ones.

    Refused: members with unsafe paths, selected members over the ``limits`` and nested archives
    (never unpacked). UnreadableArchive when the selected members add up to more than the archive limits.
    """
    repeated = _repeated_names(archive, infos)
    grouping = _Grouping(archive, selection, limits)
    seen: dict[str, int] = {}
    for info in infos:
        seen[info.filename] = seen.get(info.filename, 0) + 1
        grouping.add(info, f"{info.filename}#{seen[info.filename]}" if info.filename in repeated else info.filename)
    return ArchiveMembers(grouping.groups(), grouping.refused, repeated)


def _repeated_names(archive: Archive, infos: Sequence[zipfile.ZipInfo]) -> dict[str, int]:
    """The names several entries carry, with how many."""
    entries_of: dict[str, int] = {}
    for info in infos:
        entries_of[info.filename] = entries_of.get(info.filename, 0) + 1
    repeated = {name: count for name, count in entries_of.items() if count > 1}
    for name, count in sorted(repeated.items()):
        log.warning("%s: %d entries are named %s; all are read, as one stream of that device", archive.url, count, name)
    return repeated


class _Grouping:
    """The entries of one central directory sorted into groups and refusals as they are read."""

    def __init__(self, archive: Archive, selection: Selection, limits: ArchiveLimits) -> None:
        self.archive, self.selection, self.limits = archive, selection, limits
        self.found: dict[tuple[str, str, str], list[tuple[Entry, int]]] = {}
        self.refused: list[RefusedMember] = []
        self.streams = self.selected_bytes = self.selected_members = 0

    def add(self, info: zipfile.ZipInfo, label: str) -> None:
        try:
            member = parse_member(info.filename)
        except UnsafeMemberPath as error:
            if error.kind == METADATA or error.kind in self.selection.streams:
                self._refuse(label, error.kind, str(error))
            return
        if member is None:
            if NESTED_ARCHIVE.search(info.filename):
                self._refuse(label, NESTED, "a nested archive, never unpacked; put its CSVs in the export itself")
            return
        self.streams += member.kind != METADATA
        if UNSAFE_ID.search(member.ppt_id + member.dev_id):
            raise UnreadableArchive(
                f"{self.archive.url}: {info.filename}: participant and device folder names go into the batch-load CSVs "
                "and cannot hold commas, quotes or line breaks; rename the folders and rerun"
            )
        if not self.selection.wants(member):
            return
        problem = self.limits.member_problem(info, metadata=member.kind == METADATA)
        if problem:
            self._refuse(label, member.kind, problem)
            return
        self.selected_bytes += info.file_size
        self.selected_members += 1
        entry = Entry(info.filename, info.header_offset, label)
        self.found.setdefault((member.ppt_id, member.dev_id, member.kind), []).append((entry, info.file_size))

    def groups(self) -> list[MemberGroup]:
        """The groups, once every entry is added; UnreadableArchive past the archive limits or with no stream member."""
        too_large = self.limits.archive_problem(self.selected_bytes, self.selected_members)
        if too_large:
            raise UnreadableArchive(f"{self.archive.url}: {too_large}; nothing of it was read")
        if not self.streams:
            refusals = f" ({len(self.refused)} refused for their paths)" if self.refused else ""
            raise UnreadableArchive(
                f"{self.archive.url}: no member is laid out as [<top folder>/]<study>/<SITE>/<participant>/<device>/"
                f"{{acc,eda,temp}}.csv{refusals}; check the archive's contents and rerun"
            )
        return [
            MemberGroup(self.archive, ppt_id, dev_id, kind, tuple(entry for entry, _ in files), sum(size for _, size in files))
            for (ppt_id, dev_id, kind), files in sorted(self.found.items())
        ]

    def _refuse(self, label: str, kind: str, reason: str) -> None:
        self.refused.append(RefusedMember(label, kind, reason))
        log.warning("%s: %s refused: %s", self.archive.url, label, reason)
