"""A throwaway project for the execute/status/cleanup tests: its own config, package copy, job and build."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import requests

from job_helpers.control import cli
from job_helpers.control.build import build
from job_helpers.control.config import Settings, load_settings
from job_helpers.control.local_registry import registry_path
from job_helpers.storage import Storage
from tests.support.local_runners import stop_local_runners

REPO = Path(__file__).resolve().parents[3]
FAKE_JOB = Path(__file__).resolve().parent / "fake_job.py"

CONFIG = """
default_profile: local
project:
  prefix: test-etl
  tag: {{key: source, value: test-etl}}
buckets:
  assets: assets
  scratch: scratch
datasets:
  glue_assets: {{bucket: assets, prefix: glue/}}
  out: {{bucket: scratch, prefix: out/}}
profiles:
  local:
    lake_root: {lake_root}
    max_parallel_runs: 2
  aws:
    region: us-east-1
    glue_role_arn: arn:aws:iam::123456789012:role/test-glue-jobs
    glue_version: "5.1"
jobs:
  fake:
    script: jobs/fake_job.py
    description: Records how it was started; fails on request.
    command: glueetl
    worker_type: G.1X
    number_of_workers: 2
    timeout_minutes: 5
    max_concurrent_runs: 1
    date_ranged: true
    arguments:
      --output: "{{out}}"
      --fail-on: never
      --sleep-seconds: "0"
  once:
    script: jobs/fake_job.py
    date_ranged: false
    arguments:
      --output: "{{out}}"
"""


RUNS_COMMANDS = ("job_helpers.control.commands.runs_cmd", "job_helpers.control.commands.schedule_cmd")


@pytest.fixture(autouse=True)
def only_the_runs_commands(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests drive execute/status/cleanup only; the other command modules need not import."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", RUNS_COMMANDS)


@dataclass
class Project:
    root: Path
    lake_root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.yml"

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    @property
    def registry(self) -> Path:
        return registry_path(self.lake_root)

    def settings(self, profile: str = "local") -> Settings:
        return load_settings(self.config, profile)

    def cli(self, *args: str, profile: str = "local") -> int:
        return cli.main(["--config", str(self.config), "--profile", profile, *args])

    def execute_a_week(self, *settings: str, profile: str = "local") -> int:
        """``execute --wait`` of the fake job over 2022-01-01..07 in chunks of 3 days (three runs), after ``settings``."""
        week = ("--job", "fake", "--from", "2022-01-01", "--to", "2022-01-07", "--days-per-job", "3", "--wait")
        return self.cli(*settings, "execute", *week, profile=profile)

    def cli_process(self, *args: str, profile: str = "local") -> list[str]:
        """A command line running the same CLI in a process of its own."""
        main = f"import sys; from job_helpers.control import cli; cli.COMMAND_MODULES = {RUNS_COMMANDS!r}; sys.exit(cli.main())"
        return [sys.executable, "-c", main, "--config", str(self.config), "--profile", profile, *args]

    def build(self, profile: str = "local") -> None:
        storage = Storage(boto3_session=boto3.Session(region_name="us-east-1"))
        build(self.root, self.build_dir, self.settings(profile).datasets["glue_assets"], storage)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[Project]:
    """A repository with a copy of job_helpers, the fake job in jobs/ and a config using tmp_path.

    Wide output keeps rich from folding long job names in what the tests read. Afterwards any
    runner or job process the test left behind is killed, found through the registry. Parametrized
    indirectly, the repository and lake lie in a folder of that name under tmp_path.
    """
    monkeypatch.setenv("COLUMNS", "250")
    tmp_path = tmp_path / getattr(request, "param", "")
    root = tmp_path / "repo"
    shutil.copytree(REPO / "job_helpers", root / "job_helpers", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "jobs").mkdir()
    shutil.copy(FAKE_JOB, root / "jobs" / "fake_job.py")
    lake_root = tmp_path / "lake"
    (root / "config.yml").write_text(CONFIG.format(lake_root=lake_root), encoding="utf-8")
    project = Project(root, lake_root)
    yield project
    stop_local_runners(project.registry)


@pytest.fixture
def built(project: Project) -> Project:
    """The project with a local build uploaded into its lake."""
    project.build("local")
    return project


@pytest.fixture
def built_on_moto(project: Project, moto_server: str) -> Project:
    """The project with its build uploaded to the assets bucket on the moto server."""
    boto3.Session(region_name="us-east-1").client("s3").create_bucket(Bucket="assets")
    project.build("aws")
    return project


@pytest.fixture
def runs_stay_starting(moto_endpoint):
    """Make Glue runs stay STARTING (moto otherwise ends them on the first read); ``reads`` lets each
    run move on one state after that many reads of it instead."""

    def hold(reads: int = 10**6) -> None:
        transition = {"model_name": "glue::job_run", "transition": {"progression": "manual", "times": reads}}
        requests.post(f"{moto_endpoint}/moto-api/state-manager/set-transition", json=transition, timeout=10)

    yield hold
    requests.post(f"{moto_endpoint}/moto-api/state-manager/unset-transition", json={"model_name": "glue::job_run"}, timeout=10)
