"""The aws profile end to end against moto's server: one project, build and data set per test module."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
import requests
from aws_project import PSEUDONYM_SECRET, REPO, UNTAGGED_JOB, AwsProject, environment

from job_helpers.control.local_registry import registry_path
from tests.support.local_runners import stop_local_runners


@pytest.fixture(scope="module")
def aws_project(moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsProject]:
    """Moto emptied, runs that end at once, every bucket of the profile, the STEDI key secret,
    an untagged job that cleanup must never touch, and the project built (uploaded to S3)."""
    requests.post(f"{moto_endpoint}/moto-api/reset", timeout=10).raise_for_status()
    requests.post(
        f"{moto_endpoint}/moto-api/state-manager/set-transition",
        json={"model_name": "glue::job_run", "transition": {"progression": "immediate"}},
        timeout=10,
    ).raise_for_status()
    base = tmp_path_factory.mktemp("aws-e2e")
    root = base / "repo"
    root.mkdir()
    for name in ("job_helpers", "jobs", "sql"):
        (root / name).symlink_to(REPO / name, target_is_directory=True)
    shutil.copy(REPO / "config.yml", root / "config.yml")
    project = AwsProject(root, base / "lake", moto_endpoint, environment(moto_endpoint, root))

    s3 = project.client("s3")
    for bucket in sorted({url.removeprefix("s3://").partition("/")[0] for url in project.settings("aws").datasets.values()}):
        s3.create_bucket(Bucket=bucket)
    project.client("secretsmanager").create_secret(Name=PSEUDONYM_SECRET, SecretString="aws-e2e-test-key-0123456789")
    project.client("glue").create_job(
        Name=UNTAGGED_JOB,
        Role="arn:aws:iam::123456789012:role/other",
        Command={"Name": "glueetl", "ScriptLocation": "s3://elsewhere/job.py"},
    )
    built = project.cli("build")
    assert built.returncode == 0, built.stdout + built.stderr
    yield project
    stop_local_runners(registry_path(root / "build" / "aws-local"))
