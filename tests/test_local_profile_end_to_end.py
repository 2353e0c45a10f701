"""The demo's path on the local profile, through the CLI, with the real SiteWise job."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import fastavro
import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def repo_copy(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    for name in ("job_helpers", "jobs", "sql"):
        (root / name).symlink_to(REPO / name)
    shutil.copy(REPO / "config.yml", root / "config.yml")
    return root


def cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "LAKE_ROOT": str(root / "lake"), "PYTHONPATH": str(root)}
    env.pop("AWS_ENDPOINT_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "job_helpers", *args], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.subprocess
def test_sample_build_execute_wait_inspect_cleanup(repo_copy):
    sample = cli(
        repo_copy,
        "sample-data",
        "--dataset",
        "sitewise",
        "--days",
        "3",
        "--start",
        "2024-02-28",
        "--series",
        "24",
        "--records-per-file",
        "10",
    )
    assert sample.returncode == 0, sample.stdout + sample.stderr
    assert cli(repo_copy, "build").returncode == 0

    run = cli(
        repo_copy,
        "execute",
        "--job",
        "sitewise_repartition",
        "--from",
        "2024-02-28",
        "--to",
        "2024-03-03",
        "--days-per-job",
        "2",
        "--wait",
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("SUCCEEDED") >= 3

    merged = sorted((repo_copy / "lake" / "sitewise-cold-tier" / "repartitioned" / "data").rglob("*.avro"))
    assert [p.parent.name for p in merged] == ["startDay=28", "startDay=29", "startDay=1"]
    records = [r for path in merged for r in fastavro.reader(path.open("rb"))]
    raw = [
        r
        for path in (repo_copy / "lake" / "sitewise-cold-tier" / "raw").rglob("*.avro")
        for r in fastavro.reader(path.open("rb"))
    ]
    index_series = set()
    for listing in (repo_copy / "lake" / "sitewise-cold-tier" / "repartitioned" / "index").rglob("timeseries.txt"):
        index_series |= set(listing.read_text().split())
    assert {r["seriesId"] for r in records} == index_series
    assert len(records) == sum(1 for r in raw if r["seriesId"] in index_series) > 0

    inspect = cli(repo_copy, "inspect", "--dataset", "sitewise.repartitioned")
    assert f"{len(records):,} Avro records" in inspect.stdout

    status = cli(repo_copy, "status")
    assert status.returncode == 0 and status.stdout.count("SUCCEEDED") >= 3
    assert status.stdout.count("SUCCEEDED, nothing to read") == 1 and "(1 with nothing to read)" in status.stdout
    chunks = json.loads(cli(repo_copy, "status", "--json").stdout)["chunks"]
    read = {(chunk["from"], chunk["to"]): (chunk["records_read"], chunk["nothing_to_read"]) for chunk in chunks}
    in_month = {
        month: sum(1 for path in merged if f"startMonth={month}" in str(path) for _ in fastavro.reader(path.open("rb")))
        for month in (2, 3)
    }
    per_chunk = {("2024-02-28", "2024-02-29"): in_month[2], ("2024-03-01", "2024-03-02"): in_month[3]}
    assert read == {**{k: (v, False) for k, v in per_chunk.items()}, ("2024-03-03", "2024-03-03"): (0, True)}
    cleanup = cli(repo_copy, "cleanup")
    assert cleanup.returncode == 0
    assert cleanup.stdout.count("REMOVED - Name: glue-etl-sitewise-repartition-") == 3
    assert "REMOVED" not in cli(repo_copy, "cleanup").stdout
