"""`restore --from archive --wait` on moto's S3 outlives its credentials and resumes: a subject archived in
three parts (a first ingest and two re-ingests), whose restore stops when the credentials expire after
one part was copied (S3 refuses a session token as expired, or the SSO session can give no new
credentials), is completed by the same command run again: no restore is requested twice and no part
is copied twice."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import UnauthorizedSSOTokenError
from ingest_helpers import PATIENTS, make_patient, write_edf

from job_helpers.backoff import Backoff
from job_helpers.control.cli import main
from job_helpers.control.commands import ingest_cmd
from job_helpers.ingest import restore
from job_helpers.ingest.read import find_manifests
from job_helpers.storage import Storage

REPO = Path(__file__).resolve().parents[2]
EXPIRED = (
    b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>ExpiredToken</Code>"
    b"<Message>The provided token has expired.</Message></Error>"
)


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: object):
        yield self.data


class Archive:
    """What the restore sends to the archive bucket: restore requests and tar downloads per key.

    With ``copies_before_expiry``, every tar download after that many fails as ``expiry`` says: S3
    refusing an expired session token, or the SSO session giving no new credentials (the request
    never reaches the bucket either way).
    """

    def __init__(self, expiry: str) -> None:
        self.restores: Counter[str] = Counter()
        self.copies: Counter[str] = Counter()
        self.copies_before_expiry: int | None = None
        self.expiry = expiry

    def attach(self, monkeypatch: pytest.MonkeyPatch) -> None:
        made = ingest_cmd.object_storage

        def object_storage(options, session) -> Storage:
            storage = made(options, session)
            storage.s3.meta.events.register("before-send.s3", self.on_send)
            return storage

        monkeypatch.setattr(ingest_cmd, "object_storage", object_storage)

    def on_send(self, request, **_: object) -> AWSResponse | None:
        path = request.url.split("/archive/", 1)[-1]
        key, _, query = path.partition("?")
        if not key.endswith(".tar"):
            return None
        if request.method == "POST" and query == "restore":
            self.restores[key] += 1
        elif request.method == "GET":
            if self.copies_before_expiry is not None and sum(self.copies.values()) >= self.copies_before_expiry:
                if self.expiry == "sso":
                    raise UnauthorizedSSOTokenError()
                return AWSResponse(request.url, 400, {"Content-Type": "application/xml"}, _Body(EXPIRED))
            self.copies[key] += 1
        return None


@pytest.mark.parametrize(
    ("expiry", "reason"),
    [
        ("token", "(An error occurred (ExpiredToken) when calling the GetObject operation"),
        ("sso", "(The SSO session associated with this profile has expired"),
    ],
)
def test_a_restore_stopped_by_expired_credentials_resumes_where_it_stopped(
    expiry: str, reason: str, moto_server: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, restore_in_two_steps
) -> None:
    s3 = boto3.Session(region_name="us-east-1").client("s3")
    for bucket in ("landing", "archive"):
        s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket="archive", VersioningConfiguration={"Status": "Enabled"})
    monkeypatch.setenv("INGEST_BUCKET", "landing")
    monkeypatch.setenv("INGEST_ARCHIVE_BUCKET", "archive")
    monkeypatch.setenv("INGEST_KMS_KEY_ARN", boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["Arn"])
    monkeypatch.setattr(restore, "RESTORE_POLL", Backoff(base=0.0, cap=0.0))
    base = ["--config", str(REPO / "config.yml"), "--profile", "aws"]
    src = tmp_path / "src"
    make_patient(src / "Smith_John", PATIENTS["Smith_John"], 1)
    assert main([*base, "ingest", "--src", str(src), "--dataset", "eeg"]) == 0
    write_edf(src / "Smith_John" / "EEG" / "later.edf", "Smith John", "r", datetime(2024, 4, 1, 8))
    assert main([*base, "ingest", "--src", str(src), "--dataset", "eeg"]) == 0
    (src / "Smith_John" / "reports JohnSmith" / "notes.txt").write_text("corrected notes\n")
    assert main([*base, "ingest", "--src", str(src), "--dataset", "eeg"]) == 0
    code = json.loads(s3.get_object(Bucket="archive", Key="subject-map/subject_map.json")["Body"].read())["subjects"][
        "john smith"
    ]
    manifests = find_manifests(Storage(s3_client=s3), "s3://archive/", "eeg", code)
    parts = [f"{m.archive.key}" for m in manifests if m.archive]
    assert len(parts) == 3 and all(s3.head_object(Bucket="archive", Key=key)["StorageClass"] == "DEEP_ARCHIVE" for key in parts)
    expected = {f.key: s3.get_object(Bucket="landing", Key=f"eeg/{f.key}")["Body"].read() for f in manifests[-1].files}
    capsys.readouterr()
    dest = tmp_path / "restored"
    command = [*base, "restore", "--subject", code, "--dataset", "eeg", "--dest", str(dest), "--from", "archive", "--wait"]
    archive = Archive(expiry)
    archive.attach(monkeypatch)

    # The credentials expire once the first part is copied.
    archive.copies_before_expiry = 1
    assert main(command) == 2
    first = capsys.readouterr()
    assert "longer than SSO or assumed-role credentials last (1 to 12 h)" in first.out
    assert "it resumes where it stopped" in first.out
    folder = tmp_path / f".restore-restored-{code}-{manifests[-1].ingest_id}"
    error = first.err.splitlines()[-1]
    assert error.startswith(f"error: the AWS credentials expired while restoring {reason}")
    assert error.endswith(
        "log in again and run the same command again: restores already requested are not requested again, "
        f"and the 1 part(s) already copied into {folder} are not copied again"
    )
    assert not dest.exists() and [p.name for p in folder.glob("*.tar")] == [Path(parts[0]).name]
    assert archive.restores == Counter(dict.fromkeys(parts, 1)) and archive.copies == Counter({parts[0]: 1})

    # Logged in again: the same command requests nothing again and copies only the two other parts.
    archive.copies_before_expiry = None
    assert main(command) == 0
    second = capsys.readouterr()
    assert f"restored {len(expected)} file(s) of subject {code} from 3 archive part(s) (checksums verified)" in second.out
    assert archive.restores == Counter(dict.fromkeys(parts, 1)), "no restore requested twice"
    assert archive.copies == Counter(dict.fromkeys(parts, 1)), "no part copied twice"
    assert {str(p.relative_to(dest)): p.read_bytes() for p in dest.rglob("*") if p.is_file()} == expected
    assert not folder.exists()
