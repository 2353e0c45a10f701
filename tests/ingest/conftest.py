"""Fixtures of the ingest tests."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
import requests
from boto3.s3.transfer import TransferConfig
from ingest_helpers import make_src

from job_helpers.storage import Storage

MB = 1024 * 1024


@pytest.fixture
def src(tmp_path: Path) -> Path:
    """Three generated patient folders below ``incoming/``."""
    return make_src(tmp_path / "incoming")


@pytest.fixture(params=["file", "s3"])
def lake(request, tmp_path: Path) -> tuple[Storage, str, str]:
    """Storage, landing URL and archive URL: a local folder, or moto's S3 with 5 MB multipart parts."""
    if request.param == "file":
        return Storage(), (tmp_path / "lake" / "landing" / "eeg").as_uri() + "/", (tmp_path / "lake" / "archive").as_uri() + "/"
    request.getfixturevalue("moto_server")
    client = boto3.Session(region_name="us-east-1").client("s3")
    for bucket in ("landing", "archive"):
        client.create_bucket(Bucket=bucket)
    config = TransferConfig(multipart_threshold=5 * MB, multipart_chunksize=5 * MB, max_concurrency=4)
    return Storage(s3_client=client, transfer_config=config), "s3://landing/eeg/", "s3://archive/"


@pytest.fixture
def restore_in_two_steps(moto_server: str):
    """moto's restores finish only after being looked at twice, as a real one takes hours."""
    api = f"{moto_server}/moto-api/state-manager"
    requests.post(
        f"{api}/set-transition",
        timeout=10,
        json={"model_name": "s3::keyrestore", "transition": {"progression": "manual", "times": 2}},
    )
    yield
    requests.post(f"{api}/unset-transition", timeout=10, json={"model_name": "s3::keyrestore"})
