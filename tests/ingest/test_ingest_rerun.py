"""Re-ingests after the key scheme changed, on file:// and moto's S3: landings and manifests written under
the old scheme (keys cleaned from source paths) and map entries written before names were normalised
are found again; nothing is uploaded twice and verify finds exactly one copy of every file."""

from __future__ import annotations

import json
import unicodedata
from datetime import datetime
from pathlib import Path

from ingest_helpers import PATIENTS, make_patient, run_ingest, write_edf

from job_helpers.ingest.archive import TarMember, write_tar
from job_helpers.ingest.manifest import ArchiveEntry, Manifest, ManifestFile, archive_key, ingest_id, manifest_url
from job_helpers.ingest.read import manifests_with_urls
from job_helpers.ingest.verify import verify
from job_helpers.storage import Storage, join

NFD_MUELLER = unicodedata.normalize("NFD", "Müller_Jürgen")


def make_src(root: Path) -> Path:
    make_patient(root / "Smith_John", PATIENTS["Smith_John"], 1)
    make_patient(root / NFD_MUELLER, ("MUELLER juergen", "jürgen müller", "JuergenMueller"), 2)
    return root


def snapshot(storage: Storage, *prefixes: str) -> dict[str, tuple[int, str | None]]:
    return {o.url: (o.size, storage.head(o.url).sha256) for prefix in prefixes for o in storage.list(prefix)}


def to_old_scheme(storage: Storage, landing: str, archive_url: str, scratch: Path) -> None:
    """Rewrite every ingest as the old code would have: keys cleaned from source paths, tar and manifest to match."""
    for url, manifest in manifests_with_urls(storage, archive_url, "eeg"):
        code = manifest.subject
        files = []
        for number, entry in enumerate(manifest.files, start=1):
            old = f"{code}/EEG/{code} session 2/{code}_{number}.{entry.key.rsplit('.', 1)[1]}"
            local = scratch / old
            local.parent.mkdir(parents=True, exist_ok=True)
            storage.download(join(landing, entry.key), local)
            storage.move(join(landing, entry.key), join(landing, old))
            files.append((ManifestFile(old, entry.sha256, entry.size), local))
        old_id = ingest_id((f.key, f.sha256) for f, _ in files)
        tar = scratch / f"{old_id}.tar"
        sha256, size = write_tar([TarMember(f.key, local, None, f.size, f.sha256, None) for f, local in files], tar)
        key = archive_key("eeg", code, old_id)
        storage.upload(tar, join(archive_url, key), sha256=sha256)
        listed = tuple(f for f, _ in files)
        old = Manifest(
            "eeg",
            code,
            old_id,
            manifest.created,
            listed,
            ArchiveEntry(key, sha256, size, "STANDARD", tuple(f.key for f in listed)),
        )
        storage.write_bytes(manifest_url(archive_url, "eeg", code, old_id), old.to_json())
        storage.delete_many([url, join(archive_url, manifest.archive.key)])


def old_map_keys(map_file: Path) -> None:
    """The map as the old code wrote it: each key the folder's words, case-folded as written (NFD stays NFD)."""
    document = json.loads(map_file.read_text())
    subjects = document["subjects"]
    subjects[" ".join(sorted(w.casefold() for w in NFD_MUELLER.split("_")))] = subjects.pop("juergen mueller")
    map_file.write_text(json.dumps(document))


def test_landings_of_the_old_key_scheme_are_not_doubled_by_a_reingest(lake, tmp_path: Path) -> None:
    storage, landing, archive_url = lake
    src, map_file = make_src(tmp_path / "src"), tmp_path / "map.json"
    plan, _ = run_ingest(src, lake, map_file)
    assert len(plan.subjects) == 2 and len(plan.files) == 14
    to_old_scheme(storage, landing, archive_url, tmp_path / "scratch")
    old_map_keys(map_file)
    codes = json.loads(map_file.read_text())["subjects"]
    before = snapshot(storage, landing, archive_url)
    assert verify("eeg", storage, landing, archive_url).problems == []

    plan, result = run_ingest(src, lake, map_file)
    assert json.loads(map_file.read_text())["subjects"] == codes
    assert (result.uploaded, result.skipped, result.failures) == (0, 14, [])
    assert all(f.landed_by for f in plan.files) and all("/EEG/" in f.key for f in plan.files)
    assert not any(s.archive_uploaded for s in result.subjects)
    assert snapshot(storage, landing, archive_url) == before
    report = verify("eeg", storage, landing, archive_url)
    assert (report.manifests, report.problems) == (2, [])

    # A new recording of one subject lands once, beside the old keys; its new manifest lists both.
    write_edf(src / "Smith_John" / "EEG" / "later.edf", "Smith John", "r", datetime(2024, 4, 1, 8))
    plan, result = run_ingest(src, lake, map_file)
    assert (result.uploaded, result.skipped) == (1, 14)
    smith = codes["john smith"]
    assert [f.key for f in plan.files if not f.landed_by] == [f"{smith}/{smith}_20240401T080000_1.edf"]
    # Its tar part holds that file alone: the rest are in the tar the old scheme wrote.
    assert [(s.archived, s.archive_uploaded) for s in result.subjects if s.code == smith] == [(1, True)]
    report = verify("eeg", storage, landing, archive_url)
    assert (report.manifests, report.problems) == (3, [])
    assert len(list(storage.list(landing))) == 15
