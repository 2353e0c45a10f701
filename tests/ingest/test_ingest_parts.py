"""Re-ingests on file:// and moto's S3 archive only new or changed files, as one more tar part per subject
whose manifest lists its members; no archive object is ever written twice; restore and verify read a
subject from all its parts (newest holder of each file wins, by the manifests' order)."""

from __future__ import annotations

import json
import tarfile
from datetime import datetime
from pathlib import Path

import pytest
from ingest_helpers import PATIENTS, make_patient, run_ingest, write_edf

from job_helpers.ingest.connect import map_storage
from job_helpers.ingest.manifest import ArchiveEntry, Manifest, ManifestFile, archive_key, ingest_id, parts_of
from job_helpers.ingest.read import find_manifests, manifests_with_urls, prepare
from job_helpers.ingest.restore import RestoreError, choose_manifest, restore_archive, restore_landing, resume_folder
from job_helpers.ingest.subjects import ObjectSubjectStore
from job_helpers.ingest.verify import verify
from job_helpers.storage import Storage, join

Lake = tuple[Storage, str, str]


def make_src(root: Path) -> Path:
    make_patient(root / "Smith_John", PATIENTS["Smith_John"], 1)
    make_patient(root / "maria LOPEZ", PATIENTS["maria LOPEZ"], 2)
    return root


def archive_objects(lake: Lake) -> dict[str, tuple[int, str | None, float]]:
    """Every object under the archive location: size, checksum and when it was written (a rewrite changes it)."""
    storage, _, archive_url = lake
    return {o.url: (o.size, storage.head(o.url).sha256, o.modified) for o in storage.list(archive_url) if o.url.endswith(".tar")}


def tar_members(lake: Lake, url: str, scratch: Path) -> list[str]:
    scratch.mkdir(parents=True, exist_ok=True)
    local = scratch / "part.tar"
    lake[0].download(url, local)
    with tarfile.open(local) as tar:
        return sorted(member.name for member in tar.getmembers())


def latest(lake: Lake, code: str) -> Manifest:
    storage, _, archive_url = lake
    return find_manifests(storage, archive_url, "eeg", code)[-1]


def landing_bytes(lake: Lake, manifest: Manifest) -> dict[str, bytes]:
    storage, landing, _ = lake
    return {f.key: storage.read_bytes(join(landing, f.key)) for f in manifest.files}


def restored(lake: Lake, code: str, dest: Path, ingest: str | None = None) -> dict[str, bytes]:
    storage, _, archive_url = lake
    outcome = restore_archive(choose_manifest(storage, archive_url, "eeg", code, ingest), storage, archive_url, dest)
    assert outcome.state == "restored"
    return {str(path.relative_to(dest)): path.read_bytes() for path in outcome.files}


def test_each_reingest_archives_only_new_or_changed_files_and_restore_reads_every_part(lake, tmp_path: Path) -> None:
    storage, landing, archive_url = lake
    src, map_file = make_src(tmp_path / "src"), tmp_path / "map.json"
    plan, result = run_ingest(src, lake, map_file)
    codes = json.loads(map_file.read_text())["subjects"]
    smith, lopez = codes["john smith"], codes["lopez maria"]
    first = archive_objects(lake)
    assert len(first) == 2 and [s.archived for s in result.subjects] == [7, 7]
    first_ingest = latest(lake, smith)

    # One recording added: one more part, holding that file only; nothing archived before is written again.
    write_edf(src / "Smith_John" / "EEG" / "later.edf", "Smith John", "r", datetime(2024, 4, 1, 8))
    plan, result = run_ingest(src, lake, map_file)
    added = f"{smith}/{smith}_20240401T080000_1.edf"
    after_add = archive_objects(lake)
    new_parts = sorted(set(after_add) - set(first))
    assert {url: after_add[url] for url in first} == first and len(new_parts) == 1
    assert tar_members(lake, new_parts[0], tmp_path / "t1") == [added]
    manifest = latest(lake, smith)
    assert manifest.archive is not None and manifest.archive.members == (added,)
    assert len(manifest.files) == 8, "the manifest still lists every file of the subject"
    assert {s.code: (s.archived, s.archive_uploaded) for s in result.subjects} == {smith: (1, True), lopez: (7, False)}
    assert {f.key: f.archived_by for f in plan.files if f.key.startswith(smith)}[added] is None

    # One file changed: it lands beside its earlier version and the new part holds only the new content.
    (src / "Smith_John" / "reports JohnSmith" / "notes.txt").write_text("corrected notes\n")
    run_ingest(src, lake, map_file)
    after_change = archive_objects(lake)
    [changed_part] = sorted(set(after_change) - set(after_add))
    [changed] = tar_members(lake, changed_part, tmp_path / "t2")
    assert changed == f"{smith}/{smith}_5.bin", "nothing kept by ingest.keep: every other file is bin, numbered on"
    assert storage.read_bytes(join(landing, changed)) == b"corrected notes\n"
    before_removal = latest(lake, smith)
    assert len(before_removal.files) == 8 and changed in {f.key for f in before_removal.files}

    # A file removed from the source: a manifest without a part, nothing archived.
    (src / "Smith_John" / "video" / "SMITH_JOHN_20240301T101500.mp4").unlink()
    _, result = run_ingest(src, lake, map_file)
    assert archive_objects(lake) == after_change
    assert next(s for s in result.subjects if s.code == smith).archived == 0
    manifest = latest(lake, smith)
    assert manifest.archive is None and len(manifest.files) == 7

    # The same source again: nothing at all.
    _, result = run_ingest(src, lake, map_file)
    assert (result.uploaded, result.conflicts, archive_objects(lake)) == (0, [], after_change)
    assert {s.code: (s.archived, s.archive_uploaded) for s in result.subjects} == {smith: (0, False), lopez: (7, False)}

    report = verify("eeg", storage, landing, archive_url)
    assert report.problems == [] and report.manifests == 5 and report.objects == 9 + 7 + 4
    # Restore reads the three parts the latest ingest's files are in, and each earlier ingest as it was.
    assert len(parts_of(tuple(find_manifests(storage, archive_url, "eeg", smith)))[0]) == 3
    assert restored(lake, smith, tmp_path / "latest") == landing_bytes(lake, manifest)
    assert restored(lake, smith, tmp_path / "before", before_removal.ingest_id) == landing_bytes(lake, before_removal)
    assert restored(lake, smith, tmp_path / "first", first_ingest.ingest_id) == landing_bytes(lake, first_ingest)
    assert restored(lake, lopez, tmp_path / "lopez") == landing_bytes(lake, latest(lake, lopez))
    assert restore_landing(manifest, storage, landing, tmp_path / "landing") and not list(tmp_path.glob(".restore-*"))


def test_an_archive_object_is_never_overwritten(lake, tmp_path: Path) -> None:
    storage, landing, archive_url = lake
    src, map_file = make_src(tmp_path / "src"), tmp_path / "map.json"
    run_ingest(src, lake, map_file)
    smith = json.loads(map_file.read_text())["subjects"]["john smith"]
    write_edf(src / "Smith_John" / "EEG" / "later.edf", "Smith John", "r", datetime(2024, 4, 1, 8))
    # Something already sits at the key the next part takes (say, a part an earlier version wrote, no manifest):
    subjects = ObjectSubjectStore(map_storage(None, None), map_file.as_uri())
    plan, _ = prepare(src, 1, subjects, history=lambda code: find_manifests(storage, archive_url, "eeg", code), dry_run=True)
    subject = next(s for s in plan.subjects if s.code == smith)
    part_url = join(archive_url, archive_key("eeg", smith, ingest_id((f.key, f.sha256) for f in subject.files)))
    storage.upload(Path(__file__), part_url, sha256="0" * 64)
    before = archive_objects(lake)

    _, result = run_ingest(src, lake, map_file)
    assert archive_objects(lake) == before, "the object there is left as it is"
    [conflict] = result.conflicts
    assert (
        conflict.startswith(f"subject {smith}: {part_url}: the object there gives other bytes")
        and "nothing was overwritten" in conflict
    )
    assert [s.code for s in result.subjects] == [json.loads(map_file.read_text())["subjects"]["lopez maria"]]
    assert len(find_manifests(storage, archive_url, "eeg", smith)) == 1, "no manifest for the subject"
    assert {p.kind for p in verify("eeg", storage, landing, archive_url).problems} == {"unlisted"}

    # Deleted (as verify suggests), the rerun writes the part and its manifest.
    storage.delete(part_url)
    _, result = run_ingest(src, lake, map_file)
    assert result.conflicts == [] and len(find_manifests(storage, archive_url, "eeg", smith)) == 2
    assert verify("eeg", storage, landing, archive_url).problems == []

    # A part lost after its manifest was written is written again, with the bytes its manifest names.
    storage.delete(part_url)
    _, result = run_ingest(src, lake, map_file)
    assert result.conflicts == [] and [s.archive_uploaded for s in result.subjects if s.code == smith] == [True]
    assert verify("eeg", storage, landing, archive_url).problems == []


class Interrupted(Exception):
    pass


def test_an_ingest_stopped_between_its_part_and_its_manifest_reuses_the_part(lake, tmp_path: Path, monkeypatch) -> None:
    storage, landing, archive_url = lake
    src, map_file = make_src(tmp_path / "src"), tmp_path / "map.json"
    run_ingest(src, lake, map_file)
    smith = json.loads(map_file.read_text())["subjects"]["john smith"]
    write_edf(src / "Smith_John" / "EEG" / "later.edf", "Smith John", "r", datetime(2024, 4, 1, 8))
    written = storage.write_bytes

    def stop_at_manifests(url: str, data: bytes) -> None:
        if "/manifests/" in url:
            raise Interrupted(url)
        written(url, data)

    monkeypatch.setattr(storage, "write_bytes", stop_at_manifests)
    before = archive_objects(lake)
    with pytest.raises(Interrupted):
        run_ingest(src, lake, map_file)
    [part] = set(archive_objects(lake)) - set(before)
    uploaded = archive_objects(lake)[part]
    monkeypatch.setattr(storage, "write_bytes", written)

    _, result = run_ingest(src, lake, map_file)
    assert archive_objects(lake)[part] == uploaded and result.conflicts == []
    assert [(s.archived, s.archive_uploaded) for s in result.subjects if s.code == smith] == [(1, False)]
    assert latest(lake, smith).archive is not None and verify("eeg", storage, landing, archive_url).problems == []


def test_a_copy_in_the_resume_folder_is_checked_before_anything_reaches_dest(lake, tmp_path: Path) -> None:
    storage, _, archive_url = lake
    src, map_file = make_src(tmp_path / "src"), tmp_path / "map.json"
    run_ingest(src, lake, map_file)
    write_edf(src / "Smith_John" / "EEG" / "later.edf", "Smith John", "r", datetime(2024, 4, 1, 8))
    run_ingest(src, lake, map_file)
    smith = json.loads(map_file.read_text())["subjects"]["john smith"]
    chosen = choose_manifest(storage, archive_url, "eeg", smith)
    dest = tmp_path / "dest"
    # A part left in the resume folder by an earlier run, damaged since (or never what it claims).
    folder = resume_folder(dest, chosen.manifest)
    folder.mkdir()
    first = find_manifests(storage, archive_url, "eeg", smith)[0]
    assert first.archive is not None
    with tarfile.open(folder / Path(first.archive.key).name, "w") as tar:
        tar.add(Path(__file__), arcname=first.archive.members[0])
    with pytest.raises(RestoreError, match="the tar's members differ from its manifest's list; nothing was restored"):
        restore_archive(chosen, storage, archive_url, dest)
    assert not folder.exists() and not dest.exists()
    assert restored(lake, smith, dest) == landing_bytes(lake, chosen.manifest), "the next run starts over"


def test_verify_lists_files_no_part_holds_and_restore_refuses_them(lake, tmp_path: Path) -> None:
    storage, landing, archive_url = lake
    src, map_file = make_src(tmp_path / "src"), tmp_path / "map.json"
    run_ingest(src, lake, map_file)
    smith = json.loads(map_file.read_text())["subjects"]["john smith"]
    write_edf(src / "Smith_John" / "EEG" / "later.edf", "Smith John", "r", datetime(2024, 4, 1, 8))
    run_ingest(src, lake, map_file)
    url, manifest = manifests_with_urls(storage, archive_url, "eeg", smith)[-1]
    assert manifest.archive is not None and len(manifest.archive.members) == 1
    # The manifest loses its part (as a hand edit would): its new file is then in no part.
    orphan = Manifest(manifest.dataset, smith, manifest.ingest_id, manifest.created, manifest.files, None)
    storage.write_bytes(url, orphan.to_json())
    problems = verify("eeg", storage, landing, archive_url).problems
    added = f"{smith}/{smith}_20240401T080000_1.edf"
    assert sorted((p.kind, p.url) for p in problems) == [
        ("unarchived", join(landing, added)),
        ("unlisted", join(archive_url, manifest.archive.key)),
    ]
    with pytest.raises(RestoreError, match=f"1 file\\(s\\) of ingest {manifest.ingest_id} .* are in no archive part"):
        restore_archive(choose_manifest(storage, archive_url, "eeg", smith), storage, archive_url, tmp_path / "d")
    assert not (tmp_path / "d").exists()


def manifest(ingest: str, created: str, files: list[tuple[str, str]], members: list[str] | None) -> Manifest:
    listed = tuple(ManifestFile(key, sha256, 1) for key, sha256 in files)
    part = ArchiveEntry(f"eeg/1/{ingest}.tar", "x", 1, "STANDARD", tuple(members)) if members is not None else None
    return Manifest("eeg", "11111111", ingest, created, listed, part)


def test_the_newest_part_holding_a_file_with_its_checksum_wins() -> None:
    # v1: every file in its own tar; then a full tar again (the old re-ingest), a part, one without a part.
    old = manifest("a", "2024-01-01T00:00:00+00:00", [("k1", "s1"), ("k2", "s2")], ["k1", "k2"])
    again = manifest("b", "2024-01-02T00:00:00+00:00", [("k1", "s1"), ("k2", "s2b")], ["k1", "k2"])
    part = manifest("c", "2024-01-03T00:00:00.5+00:00", [("k1", "s1"), ("k2", "s2b"), ("k3", "s3")], ["k3"])
    none = manifest("d", "2024-01-04T00:00:00+00:00", [("k1", "s1"), ("k3", "s3")], None)
    parts, unheld = parts_of((old, again, part, none))
    assert [(owner.ingest_id, keys) for owner, keys in parts] == [("b", ("k1",)), ("c", ("k3",))] and unheld == []
    # The first ingest as it was: k2's first content is only in the first tar (the later one holds other bytes).
    assert [(o.ingest_id, keys) for o, keys in parts_of((old,))[0]] == [("a", ("k1", "k2"))]
    assert parts_of((old, again, part, manifest("e", "2024-01-05T00:00:00+00:00", [("k4", "s4")], None)))[1] == ["k4"]
    with pytest.raises(ValueError, match="tar members not in its file list: k9"):
        Manifest.from_json(manifest("f", "2024-01-06T00:00:00+00:00", [("k1", "s1")], ["k1", "k9"]).to_json(), "m.json")
