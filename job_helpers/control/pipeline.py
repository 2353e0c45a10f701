"""Run a pipeline of config.yml: its jobs in order, each starting when the previous one succeeded.

One loop runs the jobs; a runner starts one job and waits for it to end: ``LocalRunner`` runs
the job script in this process on one Spark session (no JVM start per job), ``BackendRunner``
creates and starts the job on the Glue backend and waits for it. Either way the job writes its
run report under ``<glue_assets>runs/<job name>/<run id>.json``, and its counts come from there,
so the summary is the same on both profiles.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Protocol

from job_helpers.control.build import Artifact
from job_helpers.control.config import JobSpec, PipelineSpec, Settings
from job_helpers.control.plan import PlannedRun, job_name, job_tags
from job_helpers.control.runs import SUCCEEDED, Backend, RunStatus, wait_for_runs
from job_helpers.run_report import RUN_ID_ARGUMENT, RUN_REPORTS_ARGUMENT, RunReport, read_report, report_url, reports_prefix
from job_helpers.runtime import RUNTIME_ENV, failure_message
from job_helpers.storage import Storage

log = logging.getLogger(__name__)

FAILED = "FAILED"
NOT_RUN = "NOT RUN"


@dataclass(frozen=True)
class EndedRun:
    """One run of a job as its runner saw it end: where its report is, its state, and why it failed."""

    job_name: str
    run_id: str
    state: str
    error: str = ""


class Runner(Protocol):
    """Starts one job of the pipeline and waits for it to end."""

    def run(self, job: JobSpec, reports: str) -> EndedRun:
        """Run ``job``, its report going under the run-reports prefix ``reports``."""


@dataclass
class JobOutcome:
    """How one job of the pipeline ended, with its report when it wrote one."""

    job: str
    state: str
    seconds: float = 0.0
    report: RunReport | None = None
    error: str = ""


@dataclass(frozen=True)
class PipelineResult:
    name: str
    outcomes: list[JobOutcome]
    seconds: float

    @property
    def succeeded(self) -> bool:
        return all(outcome.state == SUCCEEDED for outcome in self.outcomes)


def run_jobs(
    settings: Settings,
    spec: PipelineSpec,
    runner: Runner,
    storage: Storage,
    on_job: Callable[[JobOutcome], None] = lambda outcome: None,
) -> PipelineResult:
    """Run the pipeline's jobs in order with ``runner``; after a failure the rest are NOT RUN."""
    reports = reports_prefix(settings.datasets["glue_assets"])
    outcomes: list[JobOutcome] = []
    began = time.perf_counter()
    for key in spec.jobs:
        if outcomes and outcomes[-1].state != SUCCEEDED:
            outcomes.append(JobOutcome(key, NOT_RUN))
            continue
        started = time.perf_counter()
        ended = runner.run(settings.job(key), reports)
        report = read_report(storage, report_url(reports, ended.job_name, ended.run_id))
        error = report.message if report is not None and report.message else ended.error
        outcome = JobOutcome(key, ended.state, time.perf_counter() - started, report, error)
        outcomes.append(outcome)
        on_job(outcome)
    return PipelineResult(spec.name, outcomes, time.perf_counter() - began)


def job_argv(job: JobSpec) -> list[str]:
    """The command line a job script receives, as Glue passes it (``--name value`` pairs)."""
    argv = [job.script, "--JOB_NAME", job.key]
    for name, value in job.arguments.items():
        argv += [name, value]
    return argv


def load_script(path: Path) -> ModuleType:
    """Import a job script by path without running its ``__main__`` block."""
    spec = importlib.util.spec_from_file_location(f"pipeline_job_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"{path}: no such job script; check the job's script in config.yml")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def _local_runtime() -> Iterator[None]:
    previous = os.environ.get(RUNTIME_ENV)
    os.environ[RUNTIME_ENV] = "local"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(RUNTIME_ENV, None)
        else:
            os.environ[RUNTIME_ENV] = previous


@dataclass(frozen=True)
class LocalRunner:
    """Runs each job script in this process, with a run id and the run-reports prefix as Glue passes them.

    The scripts start Spark through the runtime, which reuses the session already running here,
    so the caller starts it once (``job_helpers.runtime.local_spark``) before running the pipeline.
    """

    repo_root: Path

    def run(self, job: JobSpec, reports: str) -> EndedRun:
        run_id = "jr_" + secrets.token_hex(16)
        argv = [*job_argv(job), RUN_ID_ARGUMENT, run_id, RUN_REPORTS_ARGUMENT, reports]
        state, error = SUCCEEDED, ""
        with _local_runtime():
            try:
                load_script(self.repo_root / job.script).main(argv)
            except SystemExit as stop:
                if stop.code not in (None, 0):
                    state, error = FAILED, str(stop.code)
            except Exception as failure:  # noqa: BLE001 - any crash ends the pipeline, reported by name
                log.exception("%s crashed", job.key)
                state, error = FAILED, failure_message(failure)
        return EndedRun(job.key, run_id, state, error)


@dataclass
class BackendRunner:
    """Creates and starts each job on ``backend`` (Glue on aws) in ``batch``, and waits for its run to end."""

    settings: Settings
    backend: Backend
    artifact: Artifact
    batch: str
    on_update: Callable[[list[RunStatus]], None] = field(default=lambda states: None)
    sleep: Callable[[float], None] = time.sleep

    def run(self, job: JobSpec, reports: str) -> EndedRun:
        """``reports`` is where the build's default arguments already send the run's report."""
        planned = [PlannedRun(job_name(job.name_prefix, self.batch, None), None)]
        tags = job_tags(self.settings.tags, self.batch, job.key)
        runs = self.backend.start_runs(job, self.artifact, planned, tags, lambda run: None)
        final = wait_for_runs(self.backend, runs, self.on_update, self.sleep)[0]
        return EndedRun(final.job_name, final.run_id, final.state, final.error or "")


def table_counts(datasets: Mapping[str, str], tables: Sequence[str], outcomes: Sequence[JobOutcome]) -> dict[str, int | None]:
    """Row count of each table: what the job that wrote it published, else what a job read from it."""
    written: dict[str, int] = {}
    read: dict[str, int] = {}
    for outcome in outcomes:
        if outcome.report is not None:
            written.update(outcome.report.written)
            for url, count in outcome.report.read.items():
                read.setdefault(url, count)
    counts: dict[str, int | None] = {}
    for table in tables:
        url = datasets[table]
        counts[table] = written.get(url, read.get(url))
    return counts
