"""Ingest on moto's S3 server: metadata, storage class, SSE-KMS, multipart, resume, restore flow, damage."""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import boto3
import pytest
from boto3.s3.transfer import TransferConfig
from ingest_helpers import PATIENTS, assert_no_names, make_patient, tree_digest

from job_helpers.backoff import DeadlinePassed
from job_helpers.control.cli import main
from job_helpers.ingest.connect import map_storage
from job_helpers.ingest.read import prepare
from job_helpers.ingest.restore import RestoreError, choose_manifest, restore_archive, restore_landing, wait_for_archive
from job_helpers.ingest.subjects import ObjectSubjectStore
from job_helpers.ingest.verify import verify
from job_helpers.ingest.write import Targets, ingest, save_codes
from job_helpers.storage import Storage

REPO = Path(__file__).resolve().parents[2]
LANDING, ARCHIVE = "s3://landing/eeg/", "s3://archive/"
MB = 1024 * 1024


@pytest.fixture
def s3(moto_server: str):
    client = boto3.Session(region_name="us-east-1").client("s3")
    for bucket in ("landing", "archive"):
        client.create_bucket(Bucket=bucket)
    return client


@pytest.fixture
def kms_key(s3) -> str:
    return boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]


def stores(s3, kms_key: str | None = None) -> Storage:
    config = TransferConfig(multipart_threshold=5 * MB, multipart_chunksize=5 * MB, max_concurrency=4)
    return Storage(s3_client=s3, transfer_config=config, kms_key_id=kms_key)


def all_objects(s3, bucket: str) -> dict[str, dict]:
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    return {key: s3.head_object(Bucket=bucket, Key=key) for key in keys}


def run_ingest(src: Path, storage: Storage, map_file: Path):
    subjects = ObjectSubjectStore(map_storage(None, None), map_file.as_uri())
    plan, new = prepare(src, 1, subjects)
    save_codes(subjects, new)
    targets = Targets("eeg", LANDING, ARCHIVE, "DEEP_ARCHIVE")
    return plan, ingest(plan, src, targets, storage, workers=4)


def test_ingest_to_s3_with_metadata_storage_class_and_kms(s3, kms_key: str, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="job_helpers")
    src = tmp_path / "src"
    make_patient(src / "Smith_John", PATIENTS["Smith_John"], 1, large=44_000)  # one EDF of about 11 MB
    make_patient(src / "maria LOPEZ", PATIENTS["maria LOPEZ"], 2)
    before = tree_digest(src)
    plan, result = run_ingest(src, stores(s3, kms_key), tmp_path / "map.json")
    assert tree_digest(src) == before
    assert result.uploaded == 14 and result.skipped == 0

    landing = all_objects(s3, "landing")
    assert len(landing) == 14
    local = {f.key: f for f in plan.files}
    for key, head in landing.items():
        assert_no_names(key, key)
        planned = local[key.removeprefix("eeg/")]
        body = s3.get_object(Bucket="landing", Key=key)["Body"].read()
        assert head["Metadata"]["sha256"] == hashlib.sha256(body).hexdigest()
        assert head["ContentLength"] == planned.size
        assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == kms_key
        assert head.get("StorageClass", "STANDARD") == "STANDARD"
        assert_no_names(body.decode("latin-1")[:256], key)
    big = max(landing, key=lambda k: landing[k]["ContentLength"])
    assert landing[big]["ContentLength"] > 10 * MB and landing[big]["ETag"].strip('"').endswith("-3")

    archive = all_objects(s3, "archive")
    tars = {k: h for k, h in archive.items() if k.endswith(".tar")}
    manifests = {k: h for k, h in archive.items() if k.endswith(".json")}
    assert len(tars) == 2 and len(manifests) == 2
    assert all(h["StorageClass"] == "DEEP_ARCHIVE" for h in tars.values())
    assert all(h.get("StorageClass", "STANDARD") == "STANDARD" for h in manifests.values())
    for key in manifests:
        body = s3.get_object(Bucket="archive", Key=key)["Body"].read()
        assert_no_names(body.decode(), key)
        manifest = json.loads(body)
        assert tars[manifest["archive"]["key"]]["Metadata"]["sha256"] == manifest["archive"]["sha256"]
        for entry in manifest["files"]:
            assert landing[f"eeg/{entry['key']}"]["Metadata"]["sha256"] == entry["sha256"]
    assert_no_names(caplog.text, "log")

    report = verify("eeg", stores(s3), LANDING, ARCHIVE)
    assert report.manifests == 2 and report.objects == 16 and report.problems == []


class Interrupted(Exception):
    pass


class FailingAfter(Storage):
    """Uploads ``limit`` landing files, then fails as a lost connection would."""

    def __init__(self, s3, limit: int) -> None:
        super().__init__(s3_client=s3)
        self.limit = limit

    def upload(self, source, url, **options) -> None:
        if self.limit <= 0:
            raise Interrupted(url)
        self.limit -= 1
        super().upload(source, url, **options)


def test_interrupted_ingest_resumes_and_skips_what_is_there(s3, src: Path, tmp_path: Path) -> None:
    map_file = tmp_path / "map.json"
    with pytest.raises(Interrupted):
        run_ingest(src, FailingAfter(s3, 9), map_file)
    assert len(all_objects(s3, "landing")) == 9
    assert "Contents" not in s3.list_objects_v2(Bucket="archive")
    # No manifest names these objects yet: verify lists every one of them.
    report = verify("eeg", stores(s3), LANDING, ARCHIVE)
    assert report.manifests == 0
    assert sorted(p.url for p in report.problems if p.kind == "unlisted") == sorted(
        f"s3://landing/{key}" for key in all_objects(s3, "landing")
    )
    assert len(report.problems) == 9
    codes = json.loads(map_file.read_text())["subjects"]
    first = {k: h["LastModified"] for k, h in all_objects(s3, "landing").items()}

    _, result = run_ingest(src, stores(s3), map_file)
    assert json.loads(map_file.read_text())["subjects"] == codes
    assert (result.skipped, result.uploaded) == (9, 12)
    after = all_objects(s3, "landing")
    assert len(after) == 21 and all(after[k]["LastModified"] == t for k, t in first.items())
    assert verify("eeg", stores(s3), LANDING, ARCHIVE).problems == []

    _, again = run_ingest(src, stores(s3), map_file)
    assert again.uploaded == 0 and not any(s.archive_uploaded for s in again.subjects)


class Counting(Storage):
    """Counts the checksum look-ups (HEAD requests) made on landing."""

    heads = 0

    def head(self, url):
        self.heads += url.startswith(LANDING)
        return super().head(url)


def test_first_ingest_asks_for_no_checksum_and_a_rerun_for_each(s3, src: Path, tmp_path: Path) -> None:
    map_file = tmp_path / "map.json"
    landing = Counting(s3_client=s3)
    plan, result = run_ingest(src, landing, map_file)
    assert (landing.heads, result.uploaded) == (0, 21)
    again = Counting(s3_client=s3)
    _, result = run_ingest(src, again, map_file)
    assert (again.heads, result.uploaded, result.skipped) == (21, 0, 21)


def test_restore_from_landing_and_from_deep_archive(s3, src: Path, tmp_path: Path, restore_in_two_steps) -> None:
    plan, _ = run_ingest(src, stores(s3), tmp_path / "map.json")
    code = plan.subjects[0].code
    chosen = choose_manifest(stores(s3), ARCHIVE, "eeg", code)
    expected = {f.key: s3.get_object(Bucket="landing", Key=f"eeg/{f.key}")["Body"].read() for f in chosen.manifest.files}

    placed = restore_landing(chosen.manifest, stores(s3), LANDING, tmp_path / "a")
    assert {str(p.relative_to(tmp_path / "a")): p.read_bytes() for p in placed} == expected

    steps = []
    while not steps or steps[-1].state != "restored":
        steps.append(restore_archive(chosen, stores(s3), ARCHIVE, tmp_path / "b"))
        assert len(steps) < 10
    states = [step.parts[0].state for step in steps]
    assert states[0] == "requested" and "in-progress" in states and states[-1] == "copied"
    assert {str(p.relative_to(tmp_path / "b")): p.read_bytes() for p in steps[-1].files} == expected


def test_waiting_for_the_archive_polls_until_restored_or_the_deadline(
    s3, src: Path, tmp_path: Path, restore_in_two_steps
) -> None:
    plan, _ = run_ingest(src, stores(s3), tmp_path / "map.json")
    first, second = (choose_manifest(stores(s3), ARCHIVE, "eeg", s.code) for s in plan.subjects[:2])

    pending, slept = [], []
    outcome = wait_for_archive(first, stores(s3), ARCHIVE, tmp_path / "a", 3600, pending.append, sleep=slept.append)
    assert outcome.state == "restored" and len(outcome.files) == len(first.manifest.files)
    assert pending[0].parts[0].state == "requested" and len(slept) == len(pending)
    assert all(0 <= delay <= 900 for delay in slept)

    ticks = iter(range(0, 10_000, 100))
    with pytest.raises(DeadlinePassed):
        wait_for_archive(
            second, stores(s3), ARCHIVE, tmp_path / "b", 150, pending.append, sleep=slept.append, clock=lambda: next(ticks)
        )
    assert not (tmp_path / "b").exists()


def test_restore_command_waits_until_its_timeout(
    s3, kms_key: str, src: Path, tmp_path: Path, monkeypatch, capsys, restore_in_two_steps
) -> None:
    monkeypatch.setenv("INGEST_BUCKET", "landing")
    monkeypatch.setenv("INGEST_ARCHIVE_BUCKET", "archive")
    monkeypatch.setenv("INGEST_KMS_KEY_ARN", kms_key)
    s3.put_bucket_versioning(Bucket="archive", VersioningConfiguration={"Status": "Enabled"})
    base = ["--config", str(REPO / "config.yml"), "--profile", "aws"]
    assert main([*base, "ingest", "--src", str(src), "--dataset", "eeg"]) == 0
    codes = json.loads(s3.get_object(Bucket="archive", Key="subject-map/subject_map.json")["Body"].read())["subjects"]
    capsys.readouterr()
    restore = [*base, "restore", "--subject", min(codes.values()), "--dataset", "eeg", "--dest", str(tmp_path / "d")]

    assert main([*restore, "--from", "archive"]) == 0
    out = capsys.readouterr().out
    assert ": restore requested\n" in out and "0 of 1 archive part(s) copied, 1 being restored; run the same command again" in out
    assert main([*restore, "--from", "archive", "--wait", "--timeout-minutes", "0"]) == 1
    captured = capsys.readouterr()
    assert "; polling" in captured.out
    assert captured.err.endswith("\n") and captured.err.splitlines()[-1].startswith(
        "error: timed out waiting for the archive restore; later, run the same command again"
    )
    assert not (tmp_path / "d").exists()


def test_damaged_archive_object_is_detected_and_restores_nothing(s3, src: Path, tmp_path: Path) -> None:
    plan, _ = run_ingest(src, stores(s3), tmp_path / "map.json")
    code = plan.subjects[0].code
    chosen = choose_manifest(stores(s3), ARCHIVE, "eeg", code)
    manifest = chosen.manifest
    key = manifest.archive.key
    head = s3.head_object(Bucket="archive", Key=key)
    # Same size and metadata, one flipped byte: only reading it back can tell.
    s3.restore_object(Bucket="archive", Key=key, RestoreRequest={"Days": 1})
    body = bytearray(s3.get_object(Bucket="archive", Key=key)["Body"].read())
    body[600] ^= 0xFF
    s3.put_object(Bucket="archive", Key=key, Body=bytes(body), Metadata=head["Metadata"])
    assert verify("eeg", stores(s3), LANDING, ARCHIVE).problems == []
    with pytest.raises(RestoreError, match="SHA-256"):
        restore_archive(chosen, stores(s3), ARCHIVE, tmp_path / "dest")
    assert not (tmp_path / "dest").exists() or not any((tmp_path / "dest").iterdir())
    assert not list(tmp_path.glob(".restore-*"))

    s3.put_object(Bucket="archive", Key=key, Body=b"truncated", Metadata=head["Metadata"])
    problems = verify("eeg", stores(s3), LANDING, ARCHIVE).problems
    assert [(p.kind, p.url) for p in problems] == [("mismatch", f"{ARCHIVE}{key}")]
    s3.delete_object(Bucket="landing", Key=f"eeg/{manifest.files[0].key}")
    kinds = sorted(p.kind for p in verify("eeg", stores(s3), LANDING, ARCHIVE).problems)
    assert kinds == ["mismatch", "missing"]


def test_aws_profile_cli_keeps_the_map_in_s3(s3, kms_key: str, src: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("INGEST_BUCKET", "landing")
    monkeypatch.setenv("INGEST_ARCHIVE_BUCKET", "archive")
    monkeypatch.setenv("INGEST_KMS_KEY_ARN", kms_key)
    argv = ["--config", str(REPO / "config.yml"), "--profile", "aws", "ingest", "--src", str(src), "--dataset", "eeg"]
    assert main(argv) == 2
    assert "versioning" in capsys.readouterr().err
    assert "Contents" not in s3.list_objects_v2(Bucket="landing")

    s3.put_bucket_versioning(Bucket="archive", VersioningConfiguration={"Status": "Enabled"})
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert_no_names(out, "output")
    head = s3.head_object(Bucket="archive", Key="subject-map/subject_map.json")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == kms_key
    codes = json.loads(s3.get_object(Bucket="archive", Key="subject-map/subject_map.json")["Body"].read())["subjects"]
    assert len(set(codes.values())) == 3
    landing_codes = {k.split("/")[1] for k in all_objects(s3, "landing")}
    assert landing_codes == set(codes.values())
    assert main(argv) == 0
    again = json.loads(s3.get_object(Bucket="archive", Key="subject-map/subject_map.json")["Body"].read())["subjects"]
    assert again == codes
    assert main(["--config", str(REPO / "config.yml"), "--profile", "aws", "verify", "--dataset", "eeg"]) == 0
