"""The local backend fetching a build from S3 for ``--runner local`` on the aws profile."""

from __future__ import annotations

import boto3
import pytest

from job_helpers.control.build import Artifact
from job_helpers.control.config import JobSpec
from job_helpers.control.local_backend import LocalBackend
from job_helpers.control.local_registry import Registry, registry_path
from job_helpers.control.plan import PlannedRun
from job_helpers.control.runs import StartFailed

JOB = JobSpec("fake", "t-fake", "jobs/fake.py", "glueetl", "G.1X", 2, 5, 1, False, {})


def backend(tmp_path, storage):
    return LocalBackend(
        Registry(registry_path(tmp_path / "root")),
        tmp_path / "logs",
        tmp_path,
        1,
        storage=storage,
        fetched_builds=tmp_path / "builds",
    )


def test_a_missing_build_object_is_named_and_nothing_is_created(s3_storage, tmp_path):
    artifact = Artifact("0123456789abcdef" * 4, "s3://lake/glue/builds/0123456789abcdef/", ("jobs/fake.py",))
    local = backend(tmp_path, s3_storage)
    with pytest.raises(StartFailed, match="could not fetch s3://lake/glue/builds/0123456789abcdef/jobs/fake.py"):
        local.start_runs(JOB, artifact, [PlannedRun("t-fake-1", None)], {"source": "t"}, lambda run: None)
    assert local.registry.tagged_jobs({"source": "t"}) == {}
    assert not any(path.is_file() for path in (tmp_path / "builds").rglob("*"))


def test_the_build_is_fetched_once_under_its_hash(s3_storage, tmp_path):
    s3 = boto3.Session(region_name="us-east-1").client("s3")
    base = "glue/builds/0123456789abcdef/"
    s3.put_object(Bucket="lake", Key=base + "jobs/fake.py", Body=b"print('job')\n")
    s3.put_object(Bucket="lake", Key=base + "job_helpers.zip", Body=b"zip")
    artifact = Artifact("0123456789abcdef" * 4, f"s3://lake/{base}", ("jobs/fake.py",))
    local = backend(tmp_path, s3_storage)
    folder = tmp_path / "builds" / "0123456789abcdef"
    assert local._local_copy(artifact, artifact.script_url("jobs/fake.py"), "jobs/fake.py") == folder / "jobs" / "fake.py"
    assert (folder / "jobs" / "fake.py").read_bytes() == b"print('job')\n"
    s3.delete_object(Bucket="lake", Key=base + "jobs/fake.py")
    assert local._local_copy(artifact, artifact.script_url("jobs/fake.py"), "jobs/fake.py").read_bytes() == b"print('job')\n"
    assert sorted(p.name for p in folder.rglob("*") if p.is_file()) == ["fake.py"]


def test_a_build_on_s3_needs_storage(tmp_path):
    artifact = Artifact("0" * 64, "s3://lake/glue/builds/0000000000000000/", ("jobs/fake.py",))
    local = LocalBackend(Registry(registry_path(tmp_path / "root")), tmp_path / "logs", tmp_path, 1)
    with pytest.raises(StartFailed, match="needs storage"):
        local.start_runs(JOB, artifact, [PlannedRun("t-fake-1", None)], {"source": "t"}, lambda run: None)
