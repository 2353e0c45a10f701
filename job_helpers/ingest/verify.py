"""Verify what the landing and archive locations hold against the manifests.

Verification reads manifests and object metadata (locally: the files' checksums), never the archive.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from job_helpers.ingest.manifest import Manifest, ManifestFile
from job_helpers.ingest.read import manifests_with_urls
from job_helpers.storage import Storage, join


@dataclass(frozen=True)
class Problem:
    kind: str
    url: str
    detail: str


@dataclass
class VerifyReport:
    manifests: int = 0
    objects: int = 0
    problems: list[Problem] = field(default_factory=list)


def verify(dataset: str, storage: Storage, landing_url: str, archive_url: str) -> VerifyReport:
    """Compare every manifest with the landing objects and archive tar parts: missing, size, checksum, unarchived, unlisted.

    Each object is checked once, however many manifests list it. Every file a manifest lists must be
    held by its own tar part or an earlier one of the subject (``unarchived`` otherwise). Unlisted
    objects are looked for under the whole landing location and the data set's archive prefix, so
    the objects of an ingest stopped before its manifests were written are found too.
    """
    report = VerifyReport()
    listed: set[str] = set()
    checks: dict[tuple[str, int, str], None] = {}
    subjects: dict[str, list[Manifest]] = defaultdict(list)
    for manifest_url, manifest in manifests_with_urls(storage, archive_url, dataset):
        report.manifests += 1
        listed.add(manifest_url)
        subjects[manifest.subject].append(manifest)
        checks.update(dict.fromkeys((join(landing_url, f.key), f.size, f.sha256) for f in manifest.files))
        if manifest.archive is not None:
            checks[(join(archive_url, manifest.archive.key), manifest.archive.size, manifest.archive.sha256)] = None
    for url, size, sha256 in checks:
        listed.add(url)
        found = storage.head(url)
        if found is None:
            report.problems.append(Problem("missing", url, "in the manifest, not in the location"))
        elif found.size != size:
            report.problems.append(Problem("mismatch", url, f"size {found.size}, manifest says {size}"))
        elif found.sha256 != sha256:
            report.problems.append(Problem("mismatch", url, "SHA-256 differs from the manifest"))
    report.objects = len({url for url, _, _ in checks})
    for manifests in subjects.values():
        report.problems += [
            Problem("unarchived", join(landing_url, f.key), f"listed by ingest {ingest}, held by no archive part up to it")
            for f, ingest in _unarchived(manifests).items()
        ]
    for where, prefix in (("landing", landing_url), ("archive", join(archive_url, f"{dataset}/"))):
        for stored in storage.list(prefix):
            if stored.url not in listed:
                report.problems.append(
                    Problem(
                        "unlisted",
                        stored.url,
                        f"in {where}, in no manifest (an interrupted ingest? rerun it, or delete the object)",
                    )
                )
    return report


def _unarchived(manifests: list[Manifest]) -> dict[ManifestFile, str]:
    """Each file a manifest lists that neither its part nor an earlier one holds → the first such ingest."""
    held: set[ManifestFile] = set()
    lost: dict[ManifestFile, str] = {}
    for manifest in manifests:
        held.update(manifest.archived())
        for listed in manifest.files:
            if listed not in held:
                lost.setdefault(listed, manifest.ingest_id)
    return lost
