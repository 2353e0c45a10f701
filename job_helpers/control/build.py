"""Build artifacts: a reproducible ``job_helpers.zip``, the job scripts and a manifest.

The zip holds what jobs import: ``job_helpers`` without its control plane (``job_helpers/control``,
the command line, which runs here and is never imported by a job), so a change to a command
neither ships to Glue nor makes a new build.

Uploads go under ``<glue_assets>builds/<content hash>/``, so a new build never changes the code
of a job already created, and an unchanged tree uploads nothing. What is uploaded is checked to be
what was built, by the SHA-256 the store holds for each object (on S3 the checksum S3 verified on
upload, not a name or a writer's claim): after an upload, when build finds the build already there,
and before execute uses it. An object that differs (swapped in the assets bucket) is uploaded again
by build, and refused by execute.
"""

from __future__ import annotations

import hashlib
import json
import logging
import zipfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from job_helpers.control.failures import Failure
from job_helpers.run_report import reports_prefix
from job_helpers.storage import Storage, join

log = logging.getLogger(__name__)

PACKAGE = "job_helpers"
# Left out of the zip: the commands run on this machine; no job imports them (tests/test_layers.py).
CONTROL_PLANE = "control"
ZIP_NAME = "job_helpers.zip"
MANIFEST_NAME = "manifest.json"
FIXED_TIMESTAMP = (1980, 1, 1, 0, 0, 0)


class BuildMissing(Exception):
    """No build, or no upload of it for this profile; the message says which make target to run."""


class UploadMismatch(Failure):
    """An uploaded object still differs from the built file after it was uploaded again."""


@dataclass(frozen=True)
class Artifact:
    """An uploaded build: where its package zip and scripts live."""

    content_hash: str
    base_url: str
    scripts: tuple[str, ...]
    # Where the jobs of this build write their run reports (records read and written).
    run_reports_url: str = ""

    @property
    def zip_url(self) -> str:
        return join(self.base_url, ZIP_NAME)

    @property
    def manifest_url(self) -> str:
        return join(self.base_url, MANIFEST_NAME)

    def script_url(self, script: str) -> str:
        if script not in self.scripts:
            raise BuildMissing(f"{script} is not in build {self.content_hash[:12]}; run `make build` again")
        return join(self.base_url, script)


@dataclass(frozen=True)
class BuildResult:
    artifact: Artifact
    uploaded: bool
    files: tuple[str, ...]
    # Objects that were already uploaded but differed from this build, and were uploaded again.
    replaced: tuple[str, ...] = ()


def source_files(repo_root: Path) -> tuple[list[str], list[str]]:
    """The package's Python files jobs may import (all but the control plane) and the job scripts, as sorted
    repository-relative paths."""
    package = sorted(
        path.relative_to(repo_root).as_posix()
        for path in (repo_root / PACKAGE).rglob("*.py")
        if "__pycache__" not in path.parts and path.relative_to(repo_root / PACKAGE).parts[0] != CONTROL_PLANE
    )
    scripts = sorted(path.relative_to(repo_root).as_posix() for path in (repo_root / "jobs").glob("*.py"))
    return package, scripts


def content_hash(repo_root: Path, files: list[str]) -> str:
    digest = hashlib.sha256()
    for name in files:
        digest.update(name.encode() + b"\0")
        digest.update((repo_root / name).read_bytes() + b"\0")
    return digest.hexdigest()


def write_zip(repo_root: Path, package_files: list[str], target: Path) -> None:
    """Entries sorted, fixed timestamps and modes: the same source gives the same bytes."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in package_files:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIMESTAMP)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, (repo_root / name).read_bytes())


def artifact_base(glue_assets_url: str, digest: str) -> str:
    return join(glue_assets_url, f"builds/{digest[:16]}/")


def build(repo_root: Path, build_dir: Path, glue_assets_url: str, storage: Storage) -> BuildResult:
    """Write build/ and upload it unless the same content is already there."""
    package_files, scripts = source_files(repo_root)
    digest = content_hash(repo_root, package_files + scripts)
    build_dir.mkdir(parents=True, exist_ok=True)
    write_zip(repo_root, package_files, build_dir / ZIP_NAME)
    for script in scripts:
        target = build_dir / script
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((repo_root / script).read_bytes())
    manifest = {"content_hash": digest, "package": ZIP_NAME, "package_files": package_files, "scripts": scripts}
    (build_dir / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")

    artifact = Artifact(digest, artifact_base(glue_assets_url, digest), tuple(scripts), reports_prefix(glue_assets_url))
    built = uploads(artifact, build_dir)
    files = tuple(package_files + scripts)
    replaced: tuple[str, ...] = ()
    to_upload = built
    if storage.exists(artifact.manifest_url):
        replaced = tuple(differing(storage, built))
        if not replaced:
            log.info("build %s is already uploaded to %s, every object as built", digest[:12], artifact.base_url)
            return BuildResult(artifact, uploaded=False, files=files)
        to_upload = {url: built[url] for url in replaced}
    _upload(storage, to_upload)
    still = differing(storage, built)
    if still:
        raise UploadMismatch(
            f"{', '.join(still)} still differ(s) from {build_dir} after uploading: something else writes there "
            "(check who may write to the assets bucket), then run `make build` again"
        )
    return BuildResult(artifact, uploaded=True, files=files, replaced=replaced)


def uploads(artifact: Artifact, build_dir: Path) -> dict[str, Path]:
    """Each object of an artifact and the built file it must hold; the manifest last, as it marks the upload done."""
    objects = {artifact.zip_url: build_dir / ZIP_NAME}
    objects.update({artifact.script_url(script): build_dir / script for script in artifact.scripts})
    objects[artifact.manifest_url] = build_dir / MANIFEST_NAME
    return objects


def differing(storage: Storage, objects: Mapping[str, Path]) -> list[str]:
    """The URLs whose stored SHA-256 is not that of their built file (missing, swapped, or uploaded without one)."""

    def differs(item: tuple[str, Path]) -> bool:
        url, path = item
        return storage.stored_sha256(url) != hashlib.sha256(path.read_bytes()).hexdigest()

    with ThreadPoolExecutor(max_workers=8) as pool:
        return [url for url, bad in zip(objects, pool.map(differs, objects.items())) if bad]


def _upload(storage: Storage, objects: Mapping[str, Path]) -> None:
    """One whole-object write each, so S3 checks and keeps each object's SHA-256."""
    for url, path in objects.items():
        storage.write_bytes(url, path.read_bytes())


def current_artifact(build_dir: Path, glue_assets_url: str, storage: Storage) -> Artifact:
    """The artifact of the last local build, checked to be uploaded for this profile."""
    manifest_path = build_dir / MANIFEST_NAME
    if not manifest_path.is_file():
        raise BuildMissing(f"{manifest_path} not found: run `make build` first")
    manifest = json.loads(manifest_path.read_text())
    digest = manifest["content_hash"]
    artifact = Artifact(
        digest, artifact_base(glue_assets_url, digest), tuple(manifest["scripts"]), reports_prefix(glue_assets_url)
    )
    if not storage.exists(artifact.manifest_url):
        raise BuildMissing(f"build {digest[:12]} is not uploaded to {artifact.base_url}: run `make build` for this profile")
    changed = differing(storage, uploads(artifact, build_dir))
    if changed:
        raise BuildMissing(
            f"{', '.join(changed)} differ(s) from the build in {build_dir}: run `make build`, which uploads them again"
        )
    return artifact
