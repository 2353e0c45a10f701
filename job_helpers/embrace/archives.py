"""Which monthly Embrace archives a chunk reads, and what each archive member is.

Archives are named ``Sensors_<study>_<site-or-ALLSITES>_<YYYYMMDD>_<YYYYMMDD>.zip``; the two dates
are the export period, which is all the job needs to decide whether a chunk owns the archive. The
archive's stem is its ``export`` partition value, so everything an archive produced can be
replaced as a unit.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from job_helpers.storage import StoredObject

ARCHIVE_NAME = re.compile(r"^Sensors_(?P<study>[A-Za-z0-9-]+)_(?P<site>[A-Za-z0-9-]+)_(?P<start>\d{8})_(?P<end>\d{8})\.zip$")
STREAMS = ("acc", "eda", "temp")
METADATA = "metadata"
# Each stream's header, exactly as the exports write it, and the names of its measure columns.
HEADERS = {
    "acc": ("Unix Timestamp (UTC)", "x (g)", "y (g)", "z (g)"),
    "eda": ("Unix Timestamp (UTC)", "EDA (microS)"),
    "temp": ("Unix Timestamp (UTC)", "Degrees (°C)"),
}
DRIVE = re.compile(r"^[A-Za-z]:$")
MEASURES = {"acc": ("x", "y", "z"), "eda": ("eda",), "temp": ("temp",)}


class ArchiveNameError(ValueError):
    """An object in the landing location is not named like an Embrace export."""


class UnsafeMemberPath(ValueError):
    """A stream or metadata member whose path cannot name a participant and device (``..``, ``.``, ``//``,
    absolute, too few folders)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Archive:
    """One export archive: where it is, its stem (the ``export`` value) and its period."""

    url: str
    export: str
    study: str
    site: str
    start: date
    end: date
    size: int = 0

    def overlaps(self, first: date, last: date) -> bool:
        return self.start <= last and first <= self.end


@dataclass(frozen=True)
class Member:
    """A CSV inside an archive: ``[<top folder>/]<study>/<SITE>/<participant>/<device>/<name>.csv``."""

    name: str
    ppt_id: str
    dev_id: str
    kind: str


def parse_archive(stored: StoredObject) -> Archive:
    """The archive's period and ids from its file name; ArchiveNameError says what is wrong."""
    leaf = stored.url.rsplit("/", 1)[-1]
    match = ARCHIVE_NAME.match(leaf)
    if not match:
        raise ArchiveNameError(f"{stored.url}: expected Sensors_<study>_<site>_<YYYYMMDD>_<YYYYMMDD>.zip")
    try:
        start, end = (datetime.strptime(match[name], "%Y%m%d").date() for name in ("start", "end"))
    except ValueError as error:
        raise ArchiveNameError(f"{stored.url}: the period dates are not real dates ({error})") from error
    if end < start:
        raise ArchiveNameError(f"{stored.url}: the period ends ({end}) before it starts ({start})")
    return Archive(stored.url, leaf[: -len(".zip")], match["study"], match["site"], start, end, stored.size)


def select_archives(objects: Iterable[StoredObject], first: date, last: date) -> tuple[list[Archive], list[str]]:
    """Archives whose period overlaps ``first..last``, and the landing objects that are not archives."""
    chosen: list[Archive] = []
    ignored: list[str] = []
    for stored in objects:
        if not stored.url.endswith(".zip"):
            ignored.append(stored.url)
            continue
        archive = parse_archive(stored)
        if archive.overlaps(first, last):
            chosen.append(archive)
    return chosen, ignored


def parse_member(name: str) -> Member | None:
    """What a zip entry holds, or None for folders, system files and files of other streams.

    File names match in any case (``EDA.csv``, ``eda.CSV``). Ids are compared as published: in
    Unicode NFC, the participant in lower case, so one person's folder spelled two ways in two
    exports is one participant; spaces around a folder or file name count as none (``FC /096 /`` is
    ``FC/096/``, `` eda.csv `` is a stream file, not skipped unseen). A stream or metadata file whose path
    has a ``.``, ``..`` or empty segment, or is absolute, raises UnsafeMemberPath: its folders
    would publish ids such as ``..`` or ``fc..``. So does one with fewer than four folders: it names
    no participant and device, and its rows would otherwise be left out unseen.
    """
    parts = unicodedata.normalize("NFC", name).replace("\\", "/").split("/")
    stem, dot, extension = parts[-1].strip().rpartition(".")
    kind = stem.lower()
    if not dot or extension.lower() != "csv" or (kind not in STREAMS and kind != METADATA):
        return None
    problem = _path_problem(parts)
    if problem:
        raise UnsafeMemberPath(kind, f"member path {problem}; the folders must be <study>/<SITE>/<participant>/<device>/")
    if len(parts) < 5:
        # Named like a stream but not in a device's folder: refused and counted, never skipped unseen.
        raise UnsafeMemberPath(
            kind, f"member path has {len(parts) - 1} folder(s); the file must sit in <study>/<SITE>/<participant>/<device>/"
        )
    _study, site, participant, device, _leaf = (part.strip() for part in parts[-5:])
    return Member(name, f"{site}{participant}".lower(), device, kind)


def _path_problem(parts: list[str]) -> str | None:
    if parts[0] == "" or DRIVE.match(parts[0]):
        return "is absolute"
    segments = [part.strip() for part in parts]
    for segment in (".", ".."):
        if segment in segments:
            return f"has a {segment!r} segment"
    if "" in segments:
        return "has an empty segment (//)"
    return None


@dataclass(frozen=True)
class Selection:
    """Which streams and participants a run reads; the empty participant set means all of them."""

    streams: tuple[str, ...] = STREAMS
    participants: frozenset[str] = frozenset()
    participant_regex: str = ".*"

    def wants(self, member: Member) -> bool:
        if member.kind != METADATA and member.kind not in self.streams:
            return False
        if self.participants and member.ppt_id.lower() not in self.participants:
            return False
        return re.fullmatch(self.participant_regex, member.ppt_id, re.IGNORECASE) is not None

    @classmethod
    def from_text(cls, streams: str, participants: str, participant_regex: str) -> Selection:
        """Parse the job's ``--streams``, ``--participants`` and ``--participant-regex`` values.

        ``all`` (or empty) selects every stream or participant; lists are comma separated.
        """
        chosen = _listed(streams)
        unknown = sorted(set(chosen) - set(STREAMS))
        if unknown:
            raise ValueError(f"--streams: {', '.join(unknown)} unknown; give some of {','.join(STREAMS)} or all")
        try:
            re.compile(participant_regex or ".*")
        except re.error as error:
            raise ValueError(f"--participant-regex {participant_regex!r} is not a regular expression: {error}") from error
        ordered = tuple(stream for stream in STREAMS if stream in chosen) if chosen else STREAMS
        return cls(ordered, frozenset(p.lower() for p in _listed(participants)), participant_regex or ".*")


def _listed(text: str) -> list[str]:
    items = [item.strip() for item in (text or "").split(",") if item.strip()]
    return [] if [item.lower() for item in items] == ["all"] else items
