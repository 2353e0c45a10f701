"""The subject map's stores: an S3 object that grows to 10,000 subjects and more, always SSE-KMS, two
ingests that cannot overwrite each other's codes (in S3 and in a local file), a versioned bucket
required, and SSM refusing past its 8 KB."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from ingest_helpers import run_ingest

from job_helpers.ingest.connect import map_storage
from job_helpers.ingest.subjects import (
    ObjectSubjectStore,
    SsmSubjectStore,
    SubjectMapConflict,
    SubjectMapError,
    assign_codes,
)
from job_helpers.storage import Storage

BUCKET, KEY = "map-bucket", "subject-map/subject_map.json"
URL = f"s3://{BUCKET}/{KEY}"


@pytest.fixture
def s3(moto_server: str):
    client = boto3.Session(region_name="us-east-1").client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return client


@pytest.fixture
def kms_key(s3) -> str:
    return boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]


def s3_store(kms_key: str | None = None, url: str = URL) -> ObjectSubjectStore:
    return ObjectSubjectStore(map_storage(boto3.Session(region_name="us-east-1"), kms_key), url)


def file_store(path: Path) -> ObjectSubjectStore:
    return ObjectSubjectStore(map_storage(None, None), path.as_uri())


def keys(count: int, start: int = 0) -> list[str]:
    return [f"patient{i:05d} name{i % 97:02d}" for i in range(start, start + count)]


def test_ten_thousand_subjects_in_s3_with_sse_kms(s3, kms_key: str) -> None:
    store = s3_store(kms_key)
    assert store.load() == {}
    first = assign_codes(keys(10_000), {})
    store.add(first)
    head = s3.head_object(Bucket=BUCKET, Key=KEY)
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == kms_key
    assert head["ContentLength"] > 8192 * 30

    again = s3_store(kms_key)
    loaded = again.load()
    assert loaded == first and len(set(loaded.values())) == 10_000
    more = assign_codes(keys(5, start=10_000), loaded)
    again.add(more)
    assert s3_store().load() == {**first, **more}
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix=KEY)["Versions"]
    assert len(versions) == 2


def test_without_a_key_the_map_is_encrypted_with_the_aws_managed_key(s3) -> None:
    store = s3_store()
    store.load()
    store.add({"smith john": "11111111"})
    head = s3.head_object(Bucket=BUCKET, Key=KEY)
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == "alias/aws/s3"


def test_two_ingests_cannot_overwrite_each_others_codes(s3) -> None:
    one, two = s3_store(), s3_store()
    one.load(), two.load()
    one.add({"smith john": "11111111"})
    with pytest.raises(SubjectMapConflict, match="changed since"):
        two.add({"lopez maria": "22222222"})
    assert s3_store().load() == {"smith john": "11111111"}

    # Once both have the map as it is, the second adds its subject next to the first one's.
    two.load()
    two.add({"lopez maria": "22222222"})
    with pytest.raises(SubjectMapConflict):
        one.add({"berg anna": "33333333"})
    assert s3_store().load() == {"smith john": "11111111", "lopez maria": "22222222"}


def test_s3_map_needs_a_versioned_bucket(s3) -> None:
    s3.create_bucket(Bucket="plain")
    with pytest.raises(SubjectMapError, match="versioning"):
        s3_store(url=f"s3://plain/{KEY}").load()


def test_ssm_refuses_a_map_past_8_kb_and_points_to_s3(s3) -> None:
    ssm = boto3.client("ssm", region_name="us-east-1")
    store = SsmSubjectStore(ssm, "/test/subject-map")
    store.load()
    store.add(assign_codes(keys(100), {}))
    assert len(store.load()) == 100
    with pytest.raises(SubjectMapError) as caught:
        store.add(assign_codes(keys(300, start=100), store.load()))
    assert "8 KB" in str(caught.value) and "store: s3" in str(caught.value)
    assert len(SsmSubjectStore(ssm, "/test/subject-map").load()) == 100


def test_file_map_refuses_a_change_made_since_it_was_read(tmp_path: Path) -> None:
    path = tmp_path / "s" / "map.json"
    one, two = file_store(path), file_store(path)
    one.load(), two.load()
    one.add({"smith john": "11111111"})
    with pytest.raises(SubjectMapConflict, match="changed since"):
        two.add({"lopez maria": "22222222"})
    assert json.loads(path.read_text())["subjects"] == {"smith john": "11111111"}

    two.load()
    two.add({"lopez maria": "22222222"})
    with pytest.raises(SubjectMapConflict):
        one.add({"berg anna": "33333333"})
    assert file_store(path).load() == {"smith john": "11111111", "lopez maria": "22222222"}


@pytest.mark.parametrize("code", ["", "  ", "../x", 12345678, "1234"])
def test_a_map_with_a_code_that_is_not_8_digits_is_refused_before_anything_is_uploaded(src, tmp_path: Path, code) -> None:
    """A code becomes the subject's folder and file names: a hand-edited map with a blank one put the patient's
    files at the dataset's root (``eeg/_1.bin``), ``../x`` put them outside it (``landing/x_1.bin``), a number
    failed with an AttributeError."""
    map_file = tmp_path / "map.json"
    map_file.write_text(json.dumps({"version": 1, "subjects": {"john smith": code, "lopez maria": "22222222"}}))
    map_file.chmod(0o600)
    lake = tmp_path / "lake"
    with pytest.raises(SubjectMapError, match=r"map.json: 1 subject code\(s\) not of 8 digits .*restore the map"):
        run_ingest(src, (Storage(), (lake / "landing" / "eeg").as_uri() + "/", (lake / "archive").as_uri() + "/"), map_file)
    assert not lake.exists()
    assert json.loads(map_file.read_text())["subjects"]["john smith"] == code


def test_a_map_whose_subjects_are_not_an_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"version": 1, "subjects": ["11111111"]}))
    path.chmod(0o600)
    with pytest.raises(SubjectMapError, match="not a subject map"):
        file_store(path).load()
