"""Per-subject, per-ingest manifests, the archive parts that hold their files, and where ingest puts things.

Layout, for data set ``D`` and subject code ``C``:
  landing:  <ingest.D>/C/<kept folders>/C[_<recording start>]_<n>.<type>   (built, see ``transform``)
  archive:  <ingest_archive>/D/C/<ingest id>.tar            (DEEP_ARCHIVE on aws)
  manifest: <ingest_archive>/D/manifests/C/<ingest id>.json  (STANDARD, readable at once)
The ingest id is derived from the subject's keys and checksums, so re-running the same ingest
(after an interruption) finds its own tar and manifest again, and a changed set gets a new one.

A manifest lists every file of the subject as that ingest found it (``files``) and the tar *part*
it wrote (``archive``): only the files no earlier part holds, or none at all. A DEEP_ARCHIVE object
is billed for at least 180 days and about 40 KB of index whatever its size, so a re-ingest adds one
small part instead of archiving the subject again. A file's archived copy is the newest part, in the
manifests' order, that holds its key with its checksum (``archived_copies``); manifests written
before parts (version 1) hold every file in their own tar, so they read the same way.

A manifest holds codes, built keys, sizes and checksums only: no names and no source paths. The
mapping from a key back to its source file is kept nowhere; ``restore`` and ``verify`` need none
(they work on keys), and a dry run over the same source shows it again, by position.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

from job_helpers.storage import join

VERSION = 2


@dataclass(frozen=True)
class ManifestFile:
    key: str
    sha256: str
    size: int


@dataclass(frozen=True)
class ArchiveEntry:
    """One tar part: its key below the archive location, checksum, size, storage class and member keys."""

    key: str
    sha256: str
    size: int
    storage_class: str
    members: tuple[str, ...]


@dataclass(frozen=True)
class Manifest:
    dataset: str
    subject: str
    ingest_id: str
    created: str
    files: tuple[ManifestFile, ...]
    archive: ArchiveEntry | None

    def to_json(self) -> bytes:
        document = {"version": VERSION, **asdict(self)}
        return json.dumps(document, indent=1).encode("utf-8")

    @property
    def when(self) -> datetime:
        """``created`` as a time, for ordering (manifests before version 2 have whole seconds)."""
        return datetime.fromisoformat(self.created)

    def archived(self) -> tuple[ManifestFile, ...]:
        """The files this manifest's own part holds (none without a part)."""
        members = set(self.archive.members) if self.archive else set()
        return tuple(f for f in self.files if f.key in members)

    @classmethod
    def from_json(cls, data: bytes, where: str) -> Manifest:
        try:
            document = json.loads(data)
            archive = document["archive"]
            created = str(document["created"])
            datetime.fromisoformat(created)  # a time that is not one refuses the manifest here, naming it
            manifest = cls(
                dataset=document["dataset"],
                subject=document["subject"],
                ingest_id=document["ingest_id"],
                created=created,
                files=tuple(ManifestFile(f["key"], f["sha256"], int(f["size"])) for f in document["files"]),
                archive=None
                if archive is None
                else ArchiveEntry(
                    archive["key"], archive["sha256"], int(archive["size"]), archive["storage_class"], tuple(archive["members"])
                ),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{where}: not an ingest manifest ({error})") from error
        unlisted = set(manifest.archive.members if manifest.archive else ()) - {f.key for f in manifest.files}
        if unlisted:
            raise ValueError(f"{where}: not an ingest manifest (tar members not in its file list: {', '.join(sorted(unlisted))})")
        return manifest


def archived_copies(manifests: Iterable[Manifest]) -> dict[ManifestFile, Manifest]:
    """Each file (key, checksum, size) that a part holds → the manifest of the newest such part.

    ``manifests`` are one subject's, oldest first; a later part holding the same file wins.
    """
    held: dict[ManifestFile, Manifest] = {}
    for manifest in manifests:
        held.update(dict.fromkeys(manifest.archived(), manifest))
    return held


def parts_of(history: Sequence[Manifest]) -> tuple[list[tuple[Manifest, tuple[str, ...]]], list[str]]:
    """The tar parts that hold the files of ``history[-1]``, and the keys no part holds.

    ``history`` is one subject's manifests up to the one wanted, oldest first. Each part is given as
    the manifest that wrote it and the keys taken from it, in the manifests' order.
    """
    held = archived_copies(history)
    taken: dict[str, list[str]] = {}
    unheld = []
    for listed in history[-1].files:
        owner = held.get(listed)
        if owner is None:
            unheld.append(listed.key)
        else:
            taken.setdefault(owner.ingest_id, []).append(listed.key)
    return [(owner, tuple(taken[owner.ingest_id])) for owner in history if owner.ingest_id in taken], unheld


def ingest_id(files: Iterable[tuple[str, str]]) -> str:
    """16 hex digits naming one subject's ingest: a hash of its sorted (key, sha256) pairs."""
    digest = hashlib.sha256()
    for key, sha256 in sorted(files):
        digest.update(f"{key}\t{sha256}\n".encode())
    return digest.hexdigest()[:16]


def archive_key(dataset: str, code: str, ingest: str) -> str:
    return f"{dataset}/{code}/{ingest}.tar"


def manifests_prefix(archive_url: str, dataset: str, code: str | None = None) -> str:
    return join(archive_url, f"{dataset}/manifests/", f"{code}/" if code else "")


def manifest_url(archive_url: str, dataset: str, code: str, ingest: str) -> str:
    return join(manifests_prefix(archive_url, dataset, code), f"{ingest}.json")
