"""The aws profile end to end against moto's server: a project whose CLI runs as ``make`` runs it.

Sample data is generated into a local lake with the data sets' own generators (so the oracles of
their local tests read it as they are), then uploaded to buckets of the same names, which are
the aws profile's default buckets. The CLI runs as its own process, as ``make`` runs it, with an
environment that points every AWS client at moto and carries nothing of the developer's shell.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import boto3

from job_helpers.control.config import Settings, load_settings
from job_helpers.runtime import LOCAL_JAVA_OPTIONS
from job_helpers.storage import join

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
PSEUDONYM_SECRET = "glue-etl/stedi/pseudonym-key"
UNTAGGED_JOB = "someone-elses-job"
STARTED = re.compile(r"^\s+(\S+)\s+run\s+(\S+)\s*$", re.MULTILINE)
# Only what a process needs to run; no AWS_* or bucket variables of the developer's shell.
KEPT_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "JAVA_HOME", "SPARK_DRIVER_MEMORY")


@dataclass
class AwsProject:
    """A copy of the repository (links to the code, its own config.yml and build/) and moto's endpoint."""

    root: Path
    lake: Path
    endpoint: str
    env: dict[str, str] = field(repr=False)

    @property
    def session(self) -> boto3.Session:
        return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)

    def client(self, service: str):
        return self.session.client(service, endpoint_url=self.endpoint)

    def settings(self, profile: str) -> Settings:
        """The project's settings; locally the lake the sample data is generated into."""
        return load_settings(self.root / "config.yml", profile, environ={"LAKE_ROOT": str(self.lake), "AWS_REGION": REGION})

    def cli(self, *args: str, profile: str = "aws", timeout: int = 600) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "job_helpers", "--profile", profile, *args],
            cwd=self.root,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def execute(
        self, job: str, *dates: str, sets: tuple[str, ...] = (), runner: str | None = None, wait: bool = False
    ) -> list[str]:
        """Run ``execute`` and return the names of the jobs it started, in date order."""
        options = [f"--set={override}" for override in sets]
        command = [*options, "execute", "--job", job]
        if dates:
            command += ["--from", dates[0], "--to", dates[1], "--days-per-job", dates[2]]
        if runner:
            command += ["--runner", runner]
        if wait:
            command.append("--wait")
        done = self.cli(*command)
        assert done.returncode == 0, done.stdout + done.stderr
        return [name for name, _ in STARTED.findall(done.stdout)]

    def upload_lake(self) -> None:
        """Every generated file, each top folder of the lake being a bucket of the same name."""
        s3 = self.client("s3")
        for path in sorted(p for p in self.lake.rglob("*") if p.is_file() and "_registry" not in p.parts):
            bucket, _, key = path.relative_to(self.lake).as_posix().partition("/")
            s3.upload_file(str(path), bucket, key)

    def mirror(self, url: str, target: Path) -> Path:
        """Download every object under an ``s3://`` prefix into ``target``, keeping the key layout."""
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        s3 = self.client("s3")
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                path = target / item["Key"][len(prefix) :]
                path.parent.mkdir(parents=True, exist_ok=True)
                s3.download_file(bucket, item["Key"], str(path))
        return target

    def keys(self, url: str) -> list[str]:
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        pages = self.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [join(f"s3://{bucket}", item["Key"]) for page in pages for item in page.get("Contents", [])]


def environment(endpoint: str, root: Path) -> dict[str, str]:
    env = {name: os.environ[name] for name in KEPT_VARIABLES if name in os.environ}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_ENDPOINT_URL=endpoint,
        PYTHONPATH=str(root),
        COLUMNS="250",
        # Small inputs on two cores: few shuffle partitions, and a JVM that starts fast rather than
        # compiling for a long run (these JVMs live seconds), keep each Spark job short.
        SPARK_SHUFFLE_PARTITIONS="2",
        JAVA_TOOL_OPTIONS=LOCAL_JAVA_OPTIONS,
    )
    return env
