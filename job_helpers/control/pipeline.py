"""Run a pipeline of config.yml: its jobs in order, each starting when the previous one succeeded.

Locally the job scripts run in this process on one Spark session (no JVM start per job); on AWS
each job is created and started on the Glue backend and waited for, then the next one starts.
Either way a job's counts come from the report it publishes beside its data, so the summary is
the same on both profiles.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from job_helpers.control.build import Artifact
from job_helpers.control.config import JobSpec, PipelineSpec, Settings
from job_helpers.control.plan import PlannedRun, job_name, job_tags
from job_helpers.control.runs import SUCCEEDED, Backend, RunStatus, wait_for_runs
from job_helpers.runtime import RUNTIME_ENV
from job_helpers.stedi.report import JobReport, read_report, report_url
from job_helpers.storage import Storage, StorageError

log = logging.getLogger(__name__)

FAILED = "FAILED"
NOT_RUN = "NOT RUN"
REPORT_ARGUMENT = "--report"


@dataclass
class JobOutcome:
    """How one job of the pipeline ended, with its report when it published one."""

    job: str
    state: str
    seconds: float = 0.0
    report: JobReport | None = None
    error: str = ""


@dataclass(frozen=True)
class PipelineResult:
    name: str
    outcomes: list[JobOutcome]
    seconds: float

    @property
    def succeeded(self) -> bool:
        return all(outcome.state == SUCCEEDED for outcome in self.outcomes)


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


def _forget_report(storage: Storage, job: JobSpec) -> None:
    """Delete the job's last whole-run report so a crash cannot leave a stale one to be read."""
    if REPORT_ARGUMENT in job.arguments:
        storage.delete(report_url(job.arguments[REPORT_ARGUMENT], "all"))


def _report(storage: Storage, job: JobSpec) -> JobReport | None:
    if REPORT_ARGUMENT not in job.arguments:
        return None
    try:
        return read_report(storage, job.arguments[REPORT_ARGUMENT])
    except StorageError:
        return None


def run_local(
    settings: Settings,
    spec: PipelineSpec,
    repo_root: Path,
    storage: Storage,
    on_job: Callable[[JobOutcome], None] = lambda outcome: None,
) -> PipelineResult:
    """Run every job script in this process, in order; stop at the first failure.

    The scripts start Spark through the runtime, which reuses the session already running here,
    so the caller starts it once (``job_helpers.runtime.local_spark``) before calling this.
    """
    outcomes: list[JobOutcome] = []
    began = time.perf_counter()
    with _local_runtime():
        for key in spec.jobs:
            job = settings.job(key)
            if outcomes and outcomes[-1].state != SUCCEEDED:
                outcomes.append(JobOutcome(key, NOT_RUN))
                continue
            _forget_report(storage, job)
            started = time.perf_counter()
            state, error = SUCCEEDED, ""
            try:
                load_script(repo_root / job.script).main(job_argv(job))
            except SystemExit as stop:
                if stop.code not in (None, 0):
                    state, error = FAILED, str(stop.code)
            except Exception as failure:  # noqa: BLE001 - any crash ends the pipeline, reported by name
                log.exception("%s crashed", key)
                state, error = FAILED, f"{type(failure).__name__}: {str(failure).strip().splitlines()[0]}"
            outcome = JobOutcome(key, state, time.perf_counter() - started, _report(storage, job), error)
            if outcome.report is not None and outcome.report.message:
                outcome.error = outcome.report.message
            outcomes.append(outcome)
            on_job(outcome)
    return PipelineResult(spec.name, outcomes, time.perf_counter() - began)


def run_on_backend(
    settings: Settings,
    spec: PipelineSpec,
    backend: Backend,
    artifact: Artifact,
    batch: str,
    storage: Storage,
    on_update: Callable[[list[RunStatus]], None] = lambda states: None,
    on_job: Callable[[JobOutcome], None] = lambda outcome: None,
    sleep: Callable[[float], None] = time.sleep,
) -> PipelineResult:
    """Create and start each job on ``backend`` (Glue on aws), wait for it, then start the next."""
    outcomes: list[JobOutcome] = []
    began = time.perf_counter()
    for key in spec.jobs:
        job = settings.job(key)
        if outcomes and outcomes[-1].state != SUCCEEDED:
            outcomes.append(JobOutcome(key, NOT_RUN))
            continue
        _forget_report(storage, job)
        started = time.perf_counter()
        planned = [PlannedRun(job_name(job.name_prefix, batch, None), None)]
        runs = backend.start_runs(job, artifact, planned, job_tags(settings.tags, batch, key), lambda run: None)
        final = wait_for_runs(backend, runs, on_update, sleep)[0]
        outcome = JobOutcome(key, final.state, time.perf_counter() - started, _report(storage, job), final.error or "")
        outcomes.append(outcome)
        on_job(outcome)
    return PipelineResult(spec.name, outcomes, time.perf_counter() - began)


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
