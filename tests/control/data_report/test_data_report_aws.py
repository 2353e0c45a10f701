"""make data-report profile=aws: the same tables in S3 (moto's server) give the same page as the local lake."""

from __future__ import annotations

import boto3

from job_helpers.storage import Storage, local_path, split_s3
from tests.support.data_report_pages import opened, written


def test_embrace_report_on_s3_holds_the_numbers_of_the_local_report(embrace, moto_server, capsys, tmp_path):
    project, _ = embrace
    local_dom, local = opened(written(project, capsys, "--dataset", "embrace"), tmp_path / "chromium")

    session = boto3.Session(region_name="us-east-1")
    storage = Storage(boto3_session=session)
    local_urls = project.settings().datasets
    s3_urls = project.settings("aws").datasets
    bucket, _ = split_s3(s3_urls["embrace.wear_time"])
    session.client("s3").create_bucket(Bucket=bucket)
    uploaded = 0
    for name in ("embrace.clean", "embrace.duplicate_log", "embrace.wear_time", "embrace.rejects"):
        folder = local_path(local_urls[name])
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            storage.write_bytes(s3_urls[name] + path.relative_to(folder).as_posix(), path.read_bytes())
            uploaded += 1
    assert uploaded > 20

    aws_page = written(project, capsys, "--dataset", "embrace", profile="aws")
    aws_dom, on_s3 = opened(aws_page, tmp_path / "chromium")
    assert "on the aws profile" in aws_dom and "on the local profile" in local_dom
    assert list(on_s3) == list(local)
    for key, section in local.items():
        assert on_s3[key].rows == section.rows and on_s3[key].reading == section.reading, key
        assert on_s3[key].pictures == section.pictures, key
    assert on_s3["embrace-wear-time"].rows and on_s3["embrace-readings"].rows
