"""The subject map's stores: an S3 object that grows to 10,000 subjects and more, two ingests that
cannot overwrite each other's codes, a versioned bucket required, and SSM refusing past its 8 KB."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from job_helpers.ingest.subjects import (
    FileSubjectStore,
    S3SubjectStore,
    SsmSubjectStore,
    SubjectMapConflict,
    SubjectMapError,
    assign_codes,
)

BUCKET, KEY = "map-bucket", "subject-map/subject_map.json"


@pytest.fixture
def s3(moto_server: str):
    client = boto3.Session(region_name="us-east-1").client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return client


@pytest.fixture
def kms_key(s3) -> str:
    return boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"]


def keys(count: int, start: int = 0) -> list[str]:
    return [f"patient{i:05d} name{i % 97:02d}" for i in range(start, start + count)]


def test_ten_thousand_subjects_in_s3_with_sse_kms(s3, kms_key: str) -> None:
    store = S3SubjectStore(s3, BUCKET, KEY, kms_key)
    assert store.load() == {}
    first = assign_codes(keys(10_000), {})
    store.add(first)
    head = s3.head_object(Bucket=BUCKET, Key=KEY)
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == kms_key
    assert head["ContentLength"] > 8192 * 30

    again = S3SubjectStore(s3, BUCKET, KEY, kms_key)
    loaded = again.load()
    assert loaded == first and len(set(loaded.values())) == 10_000
    more = assign_codes(keys(5, start=10_000), loaded)
    again.add(more)
    assert S3SubjectStore(s3, BUCKET, KEY).load() == {**first, **more}
    versions = s3.list_object_versions(Bucket=BUCKET, Prefix=KEY)["Versions"]
    assert len(versions) == 2


def test_two_ingests_cannot_overwrite_each_others_codes(s3) -> None:
    one, two = S3SubjectStore(s3, BUCKET, KEY), S3SubjectStore(s3, BUCKET, KEY)
    one.load(), two.load()
    one.add({"smith john": "11111111"})
    with pytest.raises(SubjectMapConflict, match="changed since"):
        two.add({"lopez maria": "22222222"})
    assert S3SubjectStore(s3, BUCKET, KEY).load() == {"smith john": "11111111"}

    # Once both have the map as it is, the second adds its subject next to the first one's.
    two.load()
    two.add({"lopez maria": "22222222"})
    with pytest.raises(SubjectMapConflict):
        one.add({"berg anna": "33333333"})
    assert S3SubjectStore(s3, BUCKET, KEY).load() == {"smith john": "11111111", "lopez maria": "22222222"}


def test_s3_map_needs_a_versioned_bucket(s3) -> None:
    s3.create_bucket(Bucket="plain")
    with pytest.raises(SubjectMapError, match="versioning"):
        S3SubjectStore(s3, "plain", KEY).load()


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
    one, two = FileSubjectStore(tmp_path / "s" / "map.json"), FileSubjectStore(tmp_path / "s" / "map.json")
    one.load(), two.load()
    one.add({"smith john": "11111111"})
    with pytest.raises(SubjectMapConflict):
        two.add({"lopez maria": "22222222"})
    assert json.loads((tmp_path / "s" / "map.json").read_text())["subjects"] == {"smith john": "11111111"}
