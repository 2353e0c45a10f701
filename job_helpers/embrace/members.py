"""The members of an archive a run reads, grouped by the key every cleaning rule works within.

The driver groups the selected members by export, participant, device and stream and deals the
groups out to Spark tasks (see ``stream_tasks``). Members are known by their entry in the
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
    entries_of: dict[str, int] = {}
    for info in infos:
        entries_of[info.filename] = entries_of.get(info.filename, 0) + 1
    repeated = {name: count for name, count in entries_of.items() if count > 1}
    for name, count in sorted(repeated.items()):
        log.warning("%s: %d entries are named %s; all are read, as one stream of that device", archive.url, count, name)
    found: dict[tuple[str, str, str], list[tuple[Entry, int]]] = {}
    refused: list[RefusedMember] = []
    seen: dict[str, int] = {}
    streams = 0
    selected_bytes = selected_members = 0

    def refuse(label: str, kind: str, reason: str) -> None:
        refused.append(RefusedMember(label, kind, reason))
        log.warning("%s: %s refused: %s", archive.url, label, reason)

    for info in infos:
        seen[info.filename] = seen.get(info.filename, 0) + 1
        label = f"{info.filename}#{seen[info.filename]}" if info.filename in repeated else info.filename
        try:
            member = parse_member(info.filename)
        except UnsafeMemberPath as error:
            if error.kind == METADATA or error.kind in selection.streams:
                refuse(label, error.kind, str(error))
            continue
        if member is None:
            if NESTED_ARCHIVE.search(info.filename):
                refuse(label, NESTED, "a nested archive, never unpacked; put its CSVs in the export itself")
            continue
        streams += member.kind != METADATA
        if UNSAFE_ID.search(member.ppt_id + member.dev_id):
            raise UnreadableArchive(
                f"{archive.url}: {info.filename}: participant and device folder names go into the batch-load CSVs "
                "and cannot hold commas, quotes or line breaks; rename the folders and rerun"
            )
        if selection.wants(member):
            problem = limits.member_problem(info, metadata=member.kind == METADATA)
            if problem:
                refuse(label, member.kind, problem)
                continue
            selected_bytes += info.file_size
            selected_members += 1
            entry = Entry(info.filename, info.header_offset, label)
            found.setdefault((member.ppt_id, member.dev_id, member.kind), []).append((entry, info.file_size))
    too_large = limits.archive_problem(selected_bytes, selected_members)
    if too_large:
        raise UnreadableArchive(f"{archive.url}: {too_large}; nothing of it was read")
    if not streams:
        refusals = f" ({len(refused)} refused for their paths)" if refused else ""
        raise UnreadableArchive(
            f"{archive.url}: no member is laid out as [<top folder>/]<study>/<SITE>/<participant>/<device>/"
            f"{{acc,eda,temp}}.csv{refusals}; check the archive's contents and rerun"
        )
    groups = [
        MemberGroup(archive, ppt_id, dev_id, kind, tuple(entry for entry, _ in files), sum(size for _, size in files))
        for (ppt_id, dev_id, kind), files in sorted(found.items())
    ]
    return ArchiveMembers(groups, refused, repeated)
