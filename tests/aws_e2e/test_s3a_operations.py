"""The S3A jars `make setup` installs (hadoop-aws 3.3.1 beside PySpark's Hadoop 3.3.4 client) do
what the jobs ask of them on an S3 endpoint: list, read, write in parts, rename on commit, delete."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3

from job_helpers import s3a
from job_helpers.control import local_on_aws

PROBE = Path(__file__).with_name("s3a_probe.py")
REPO = Path(__file__).resolve().parents[2]


def test_s3a_lists_reads_writes_in_parts_renames_and_deletes(moto_server, tmp_path):
    bucket = "probe.with.dots"
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket=bucket)
    environment = local_on_aws.job_environment(local_on_aws.LocalRunnerSettings(), "us-east-1", None, [bucket, "plain"])
    assert environment[s3a.PATH_STYLE_ENV] == bucket
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("JOB_HELPERS_")},
        **environment,
        "PYTHONPATH": str(REPO),
        "SPARK_SHUFFLE_PARTITIONS": "1",
    }
    done = subprocess.run(
        [sys.executable, str(PROBE), bucket], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["read"] == 60_000
    assert len(seen["listed"]) >= 1 and all(path.startswith(f"s3://{bucket}/probe/scratch/") for path in seen["listed"])
    assert seen["deleted"] and not seen["scratch_left"]

    objects = s3.list_objects_v2(Bucket=bucket, Prefix="probe/")["Contents"]
    data = [o for o in objects if o["Key"].startswith("probe/table/part-")]
    assert len(data) == 1 and data[0]["Size"] > 5 * 1024 * 1024
    assert "-" in data[0]["ETag"], "the data file went up in parts (a multipart ETag ends in -<parts>)"
    assert not [o for o in objects if "_temporary" in o["Key"] or o["Key"].startswith("probe/scratch/")]
