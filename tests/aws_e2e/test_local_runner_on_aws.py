"""``execute --profile aws --runner local --wait``: chunks run as local processes against S3 (moto),
recorded in a registry of their own; Glue is never asked to create anything."""

from __future__ import annotations

import json
from datetime import date

import fastavro
import pyarrow.dataset as ds
import pytest
from aws_project import UNTAGGED_JOB, AwsProject

from job_helpers.control.local_registry import Registry, registry_path
from job_helpers.sitewise.sample_data import write_cold_tier
from job_helpers.stedi.sample_data import write_stedi_landing
from job_helpers.storage import Storage
from tests.support.stedi_oracle import expected_counts

SITEWISE_FROM_METADATA = ("jobs.sitewise_repartition.arguments.--series-source=asset_metadata",)


@pytest.fixture(scope="module")
def project(aws_project: AwsProject) -> AwsProject:
    local = aws_project.settings("local").datasets
    storage = Storage()
    write_cold_tier(storage, local["sitewise.cold_tier"], date(2024, 3, 1), days=2, series=12, records_per_file=5)
    write_stedi_landing(storage, {n: local[f"stedi.{n}_landing"] for n in ("customer", "accelerometer", "step_trainer")}, 100, 5)
    aws_project.upload_lake()
    return aws_project


def test_a_plain_python_job_runs_locally_against_s3(project, tmp_path):
    names = project.execute(
        "sitewise_repartition", "2024-03-01", "2024-03-02", "1", sets=SITEWISE_FROM_METADATA, runner="local", wait=True
    )
    assert len(names) == 2
    assert project.client("glue").list_jobs()["JobNames"] == [UNTAGGED_JOB]
    aws = project.settings("aws").datasets
    merged = sorted(project.mirror(aws["sitewise.repartitioned"], tmp_path / "merged").rglob("*.avro"))
    assert [p.parent.name for p in merged] == ["startDay=1", "startDay=2"]
    raw_folder = project.lake / "sitewise-cold-tier" / "raw"
    index = {
        line
        for path in project.mirror(aws["sitewise.index"], tmp_path / "index").rglob("timeseries.txt")
        for line in path.read_text().split()
    }
    merged_count = sum(1 for path in merged for _ in fastavro.reader(path.open("rb")))
    raw_count = sum(1 for path in raw_folder.rglob("*.avro") for r in fastavro.reader(path.open("rb")) if r["seriesId"] in index)
    assert merged_count == raw_count > 0
    build = json.loads((project.root / "build" / "manifest.json").read_text())["content_hash"][:16]
    fetched = project.root / "build" / "aws-local" / "builds" / build
    assert (fetched / "job_helpers.zip").is_file() and (fetched / "jobs" / "sitewise_repartition.py").is_file()


def test_a_spark_job_reads_and_writes_s3_through_s3a(project, tmp_path):
    names = project.execute("stedi_customer_trusted", runner="local", wait=True)
    assert len(names) == 1
    aws = project.settings("aws").datasets
    trusted = ds.dataset(project.mirror(aws["stedi.customer_trusted"], tmp_path / "trusted"), format="parquet")
    assert trusted.count_rows() == expected_counts(project.settings("local"))["stedi.customer_trusted"]
    log = (project.root / "build" / "logs" / f"{names[0]}.log").read_text()
    assert "s3a://" not in log


def test_status_and_cleanup_use_the_local_registry_and_leave_glue_alone(project):
    project.execute(
        "sitewise_repartition", "2024-03-02", "2024-03-02", "1", sets=SITEWISE_FROM_METADATA, runner="local", wait=True
    )
    status = project.cli("status", "--runner", "local")
    assert status.returncode == 0, status.stdout + status.stderr
    assert "1 SUCCEEDED" in status.stdout
    registry = Registry(registry_path(project.root / "build" / "aws-local"))
    jobs = registry.tagged_jobs({"source": "glue-etl"})
    assert jobs

    cleanup = project.cli("cleanup", "--runner", "local")
    assert cleanup.returncode == 0, cleanup.stdout + cleanup.stderr
    assert cleanup.stdout.count("REMOVED - Name: ") == len(jobs)
    assert registry.tagged_jobs({"source": "glue-etl"}) == {}
    assert project.client("glue").list_jobs()["JobNames"] == [UNTAGGED_JOB]


def test_the_local_profile_has_no_glue_runner(project):
    for command in (
        ("status",),
        ("execute", "--job", "sitewise_repartition", "--from", "2024-03-01", "--to", "2024-03-01", "--dry-run"),
    ):
        refused = project.cli(*command, "--runner", "glue", profile="local")
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert refused.stderr.startswith("error: --runner glue needs --profile aws") and refused.stdout == ""
