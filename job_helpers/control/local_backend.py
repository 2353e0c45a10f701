"""The local profile's backend: the same operations as on Glue, over the SQLite registry.

Creating runs only queues them; detached runner processes (``local_runner``) execute them, at
most ``max_parallel`` at once, and keep going after the command exits. Every call that looks at
runs first makes sure enough runners are alive for the queue, so runs left waiting by a runner
that died are picked up again.

The aws profile's local runner (``--runner local``) uses the same backend with a registry of its
own: its build lives on S3, so the script and package are fetched once per build into a local
folder, as Glue fetches them, and the runners pass the profile's environment on to every job.
"""

from __future__ import annotations

import collections
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import job_helpers
from job_helpers.backoff import Backoff
from job_helpers.control.build import ZIP_NAME, Artifact
from job_helpers.control.config import JobSpec
from job_helpers.control.local_registry import LocalJob, NewRun, Registry, RegistryError, Rerun
from job_helpers.control.plan import PlannedRun, default_arguments, rerun_of
from job_helpers.control.runs import JobsLimit, Restarted, RunStatus, StartedRun, StartFailed, restart_arguments
from job_helpers.storage import Storage, local_path

log = logging.getLogger(__name__)

RUNNER_MODULE = "job_helpers.control.local_runner"
RUNNER_LOG = "local-runner.log"


def log_path(logs_dir: Path, job_name: str) -> Path:
    return logs_dir / f"{job_name}.log"


class LocalBackend:
    """Jobs in the local registry, run as processes on this machine."""

    poll_backoff = Backoff(base=0.2, cap=2.0)
    # The registry keeps every run as long as its job.
    run_history: timedelta | None = None

    def __init__(
        self,
        registry: Registry,
        logs_dir: Path,
        workdir: Path,
        max_parallel: int,
        python: str = sys.executable,
        environment: Mapping[str, str] | None = None,
        storage: Storage | None = None,
        fetched_builds: Path | None = None,
    ) -> None:
        """``environment`` is added to the runners' (and so the jobs'); ``storage`` and
        ``fetched_builds`` are needed only for builds that are not on the local disk."""
        self.registry = registry
        self.logs_dir = logs_dir
        self.workdir = workdir
        self.max_parallel = max_parallel
        self.python = python
        self.environment = dict(environment or {})
        self.storage = storage
        self.fetched_builds = fetched_builds
        self._children: list[subprocess.Popen] = []

    def start_runs(
        self,
        job: JobSpec,
        artifact: Artifact,
        planned: Sequence[PlannedRun],
        tags: Mapping[str, str],
        on_started: Callable[[StartedRun], None],
    ) -> list[StartedRun]:
        """Register every job and queue its run in one transaction, then start runners."""
        script = str(self._local_copy(artifact, artifact.script_url(job.script), job.script))
        package = import_path(self._local_copy(artifact, artifact.zip_url, ZIP_NAME), self.workdir)
        arguments = default_arguments(job, artifact.zip_url, artifact.run_reports_url)
        new_runs = [
            NewRun(
                LocalJob(
                    name=run.name,
                    script_path=script,
                    zip_path=package,
                    default_arguments=arguments,
                    timeout_seconds=job.timeout_minutes * 60,
                    log_path=str(log_path(self.logs_dir, run.name)),
                    workdir=str(self.workdir),
                    worker_type=job.worker_type,
                    number_of_workers=job.number_of_workers,
                    execution_class=job.execution_class,
                ),
                dict(tags),
                run.arguments,
            )
            for run in planned
        ]
        try:
            run_ids = self.registry.add_runs(new_runs, self.max_parallel)
        except RegistryError as error:
            raise StartFailed(f"{error}; nothing was created", []) from error
        started = [StartedRun(run.name, run_id, run) for run, run_id in zip(planned, run_ids)]
        self._ensure_runners()
        for run in started:
            on_started(run)
        return started

    def run_states(self, runs: Sequence[StartedRun]) -> list[RunStatus]:
        self._ensure_runners()
        return self.registry.run_states([run.run_id for run in runs])

    def tagged_jobs(self, tags: Mapping[str, str]) -> dict[str, dict[str, str]]:
        return self.registry.tagged_jobs(tags)

    def latest_runs(self, job_names: Iterable[str]) -> dict[str, RunStatus | None]:
        self._ensure_runners()
        return self.registry.latest_runs(job_names)

    def job_runs(self, job_names: Iterable[str]) -> dict[str, list[RunStatus]]:
        self._ensure_runners()
        return self.registry.job_runs(job_names)

    def created_last(self, job_names: Iterable[str]) -> str | None:
        return self.registry.created_last(job_names)

    def last_changed(self, job_names: Iterable[str]) -> dict[str, datetime]:
        return self.registry.created_on(job_names)

    def all_jobs(self) -> set[str]:
        return set(self.registry.tagged_jobs({}))

    def jobs_limit(self) -> JobsLimit | None:
        """No quota limits the registry's jobs."""
        return None

    def restart_runs(
        self, runs: Sequence[RunStatus], arguments: Mapping[str, Mapping[str, str]], on_started: Callable[[StartedRun], None]
    ) -> Restarted:
        """Queue a new run of each run's job, claimed in the registry's transaction; the job keeps its script and package."""
        reruns = [Rerun(run.job_name, run.run_id, restart_arguments(run, arguments.get(run.job_name, {}))) for run in runs]
        try:
            queued, taken = self.registry.add_reruns(reruns, self.max_parallel)
        except RegistryError as error:
            raise StartFailed(str(error), []) from error
        started = [
            StartedRun(rerun.job_name, queued[rerun.job_name], rerun_of(rerun.job_name, dict(rerun.arguments)))
            for rerun in reruns
            if rerun.job_name in queued
        ]
        self._ensure_runners()
        for run in started:
            on_started(run)
        return Restarted(started, taken)

    def delete_job(self, job_name: str) -> None:
        self.registry.delete_job(job_name)

    def follow_hint(self, job_name: str) -> str:
        return str(log_path(self.logs_dir, job_name))

    def _local_copy(self, artifact: Artifact, url: str, name: str) -> Path:
        """The file itself for a local build; for one on S3 a copy under the build's hash, fetched once."""
        if urlparse(url).scheme == "file":
            return local_path(url)
        if self.storage is None or self.fetched_builds is None:
            raise StartFailed(f"{url}: a build on S3 needs storage and a folder to fetch it into; nothing was created", [])
        target = self.fetched_builds / artifact.content_hash[:16] / name
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f".tmp-{os.getpid()}-{target.name}")
            try:
                self.storage.download(url, partial)
            except Exception as error:  # any S3 or disk error, named with the object and its cause
                partial.unlink(missing_ok=True)
                raise StartFailed(f"could not fetch {url} into {target.parent}: {error}; nothing was created", []) from error
            os.replace(partial, target)
        return target

    def run_log(self, run: RunStatus) -> str:
        return str(log_path(self.logs_dir, run.job_name))

    def log_tail(self, run: RunStatus, lines: int) -> list[str]:
        path = log_path(self.logs_dir, run.job_name)
        if not path.exists():
            return []
        with path.open(encoding="utf-8", errors="replace") as handle:
            return [line.rstrip("\n") for line in collections.deque(handle, maxlen=lines)]

    def _ensure_runners(self) -> None:
        self._children = [child for child in self._children if child.poll() is None]
        for pid in self.registry.start_runners(self.max_parallel, self._spawn_runner):
            log.info("started local runner %d", pid)

    def _spawn_runner(self) -> int:
        """A runner in its own session (Ctrl-C on the command does not reach it), logging to the logs folder."""
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        package_root = import_path(Path(job_helpers.__file__).resolve().parent.parent, self.workdir)
        python_path = os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))
        with (self.logs_dir / RUNNER_LOG).open("ab") as runner_log:
            child = subprocess.Popen(
                [self.python, "-m", RUNNER_MODULE, "--registry", str(self.registry.path)],
                stdin=subprocess.DEVNULL,
                stdout=runner_log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                env={**os.environ, **self.environment, "PYTHONPATH": python_path},
                start_new_session=True,
            )
        self._children.append(child)
        return child.pid


def import_path(path: Path, cwd: Path) -> str:
    """``path`` as one PYTHONPATH entry of a process started in ``cwd``.

    PYTHONPATH splits at ``os.pathsep`` and has no escape, so a lake or repository under a folder named
    with one (``/Users/jane/a:b/``) would put two folders that do not exist on it, and every job
    ended in ModuleNotFoundError. Such a path is given relative to ``cwd`` instead; when that holds
    one too, nothing is started.
    """
    if os.pathsep not in str(path):
        return str(path)
    relative = os.path.relpath(path, cwd)
    if os.pathsep in relative:
        raise StartFailed(
            f"{path}: Python cannot import from a folder named with {os.pathsep!r}; "
            "rename that folder or put the lake elsewhere (LAKE_ROOT); nothing was created",
            [],
        )
    return relative
