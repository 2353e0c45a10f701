"""Per-subject, per-ingest manifests and where ingest puts things.

Layout, for data set ``D`` and subject code ``C``:
  landing:  <ingest.D>/C/<kept folders>/C[_<recording start>]_<n>.<type>   (built, see ``transform``)
  archive:  <ingest_archive>/D/C/<ingest id>.tar            (DEEP_ARCHIVE on aws)
  manifest: <ingest_archive>/D/manifests/C/<ingest id>.json  (STANDARD, readable at once)
The ingest id is derived from the subject's keys and checksums, so re-running the same ingest
(after an interruption) finds its own tar and manifest again, and a changed set gets a new one.
A manifest holds codes, built keys, sizes and checksums only: no names and no source paths. The
mapping from a key back to its source file is kept nowhere; ``restore`` and ``verify`` need none
(they work on keys), and a dry run over the same source shows it again, by position.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass

from job_helpers.storage import join

VERSION = 1


@dataclass(frozen=True)
class ManifestFile:
    key: str
    sha256: str
    size: int


@dataclass(frozen=True)
class ArchiveEntry:
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
    archive: ArchiveEntry

    def to_json(self) -> bytes:
        document = {"version": VERSION, **asdict(self)}
        return json.dumps(document, indent=1).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes, where: str) -> Manifest:
        try:
            document = json.loads(data)
            archive = document["archive"]
            return cls(
                dataset=document["dataset"],
                subject=document["subject"],
                ingest_id=document["ingest_id"],
                created=document["created"],
                files=tuple(ManifestFile(f["key"], f["sha256"], int(f["size"])) for f in document["files"]),
                archive=ArchiveEntry(
                    archive["key"], archive["sha256"], int(archive["size"]), archive["storage_class"], tuple(archive["members"])
                ),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{where}: not an ingest manifest ({error})") from error


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
