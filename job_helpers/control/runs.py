"""Job runs as the commands see them, whichever backend (Glue or the local registry) holds them.

Both backends implement ``Backend``; finding a batch, waiting for its runs and reading their
states are written once here against that interface.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from job_helpers.backoff import Backoff, Pending, poll
from job_helpers.control.build import Artifact
from job_helpers.control.config import JobSpec
from job_helpers.control.plan import (
    BATCH_TAG,
    FROM_ARGUMENT,
    JOB_TAG,
    LOGICAL_TIME_ARGUMENT,
    TO_ARGUMENT,
    Chunk,
    PlannedRun,
    run_days,
)

WAITING = "WAITING"
RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
ERROR = "ERROR"
STOPPED = "STOPPED"
TIMEOUT = "TIMEOUT"
EXPIRED = "EXPIRED"
ENDED_STATES = frozenset({SUCCEEDED, FAILED, ERROR, STOPPED, TIMEOUT, EXPIRED})
# A chunk whose latest run ended in one of these is started again by ``retry``.
RETRYABLE_STATES = frozenset({FAILED, ERROR, STOPPED, TIMEOUT})


class JobActive(Exception):
    """A job was not deleted because one of its runs is still waiting or running."""


class StartFailed(Exception):
    """Some runs of a batch could not be created or started; ``started`` lists the ones that were."""

    def __init__(self, message: str, started: Sequence[StartedRun]) -> None:
        super().__init__(message)
        self.started = list(started)


@dataclass(frozen=True)
class Restarted:
    """What one ``retry`` did: the runs it started, and the chunks another retry had claimed first (job → who)."""

    started: list[StartedRun]
    taken: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StartedRun:
    """A job created and started by ``execute``."""

    job_name: str
    run_id: str
    planned: PlannedRun


@dataclass(frozen=True)
class JobsLimit:
    """How many jobs the backend allows in all (Glue: per account and region), and where that number comes from."""

    jobs: int
    source: str


@dataclass(frozen=True)
class RunStatus:
    """The latest known state of one job run, with Glue's state names."""

    job_name: str
    run_id: str
    state: str
    arguments: Mapping[str, str]
    started_on: datetime | None = None
    completed_on: datetime | None = None
    error: str | None = None
    execution_seconds: float | None = None
    dpu_seconds: float | None = None
    worker_type: str | None = None
    number_of_workers: int | None = None
    execution_class: str | None = None

    @property
    def ended(self) -> bool:
        return self.state in ENDED_STATES

    @property
    def days(self) -> Chunk | None:
        """The days the run covers (relative dates resolved as its job resolves them); None when unknown."""
        return run_days(self.arguments, self.started_on)

    @property
    def from_date(self) -> str | None:
        days = self.days
        return days.start.isoformat() if days else self.arguments.get(FROM_ARGUMENT)

    @property
    def to_date(self) -> str | None:
        days = self.days
        return days.end.isoformat() if days else self.arguments.get(TO_ARGUMENT)

    @property
    def logical_time(self) -> str | None:
        """The time the schedule meant the run for, when a schedule started it."""
        return self.arguments.get(LOGICAL_TIME_ARGUMENT)

    def duration(self, now: datetime | None = None) -> timedelta | None:
        """Time since the run started, up to its end; None while it has not started."""
        if self.started_on is None:
            return None
        end = self.completed_on if self.ended and self.completed_on else (now or datetime.now(UTC))
        return max(end - self.started_on, timedelta(0))


class Backend(Protocol):
    """Where jobs are created and run: AWS Glue, or the local registry and processes."""

    poll_backoff: Backoff
    # How long the backend keeps a job's runs (Glue forgets them); None: as long as the job.
    run_history: timedelta | None

    def start_runs(
        self,
        job: JobSpec,
        artifact: Artifact,
        planned: Sequence[PlannedRun],
        tags: Mapping[str, str],
        on_started: Callable[[StartedRun], None],
    ) -> list[StartedRun]:
        """Create each job with ``tags`` and start one run of it; raises StartFailed on failures."""

    def run_states(self, runs: Sequence[StartedRun]) -> list[RunStatus]:
        """The current state of each run, in the same order."""

    def tagged_jobs(self, tags: Mapping[str, str]) -> dict[str, dict[str, str]]:
        """Every job carrying all of ``tags`` (checked per job), with all its tags."""

    def latest_runs(self, job_names: Iterable[str]) -> dict[str, RunStatus | None]:
        """Each job's most recent run, or None for a job never started."""

    def job_runs(self, job_names: Iterable[str]) -> dict[str, list[RunStatus]]:
        """Every run of each job, oldest first (an empty list for a job never started)."""

    def created_last(self, job_names: Iterable[str]) -> str | None:
        """The job created most recently, by the backend's own record of creation (never this machine's clock)."""

    def last_changed(self, job_names: Iterable[str]) -> dict[str, datetime]:
        """When each job was created or last modified, whichever is later, by the backend's clock."""

    def all_jobs(self) -> set[str]:
        """The name of every job there, whoever made it: on Glue every job of the account in the region."""

    def jobs_limit(self) -> JobsLimit | None:
        """How many jobs may exist there in all (Glue's jobs quota); None where nothing limits them."""

    def restart_runs(
        self, runs: Sequence[RunStatus], arguments: Mapping[str, Mapping[str, str]], on_started: Callable[[StartedRun], None]
    ) -> Restarted:
        """Start one new run of each run's job with its run arguments, and ``arguments[job name]`` over them.

        Each failed run is claimed first, so that of two retries at once only one restarts it; the
        other finds it in ``Restarted.taken``. Raises StartFailed on failures.
        """

    def delete_job(self, job_name: str) -> None:
        """Delete one job (its runs' history goes with it); JobActive if the backend sees a run still active."""

    def follow_hint(self, job_name: str) -> str:
        """Where to look at a job's run: a log path or a console URL."""

    def run_log(self, run: RunStatus) -> str:
        """Where one run's log is: a CloudWatch group and stream with the run's console URL, or a file."""

    def log_tail(self, run: RunStatus, lines: int) -> list[str]:
        """The last ``lines`` lines of that log (the driver's output on Glue)."""


def chunk_name(job_name: str, logical_time: str | None) -> str:
    """How messages name a chunk: its job, and the firing it ran for (a schedule's job has one run per firing)."""
    return f"{job_name} ({logical_time})" if logical_time else job_name


def restart_arguments(run: RunStatus, overrides: Mapping[str, str]) -> dict[str, str]:
    """The arguments to start ``run`` again with: its own, ``overrides`` over them, and its days pinned.

    A run with a ``--logical-time`` keeps its relative dates (they count from that time, whenever it
    runs); one without (a Glue trigger's) gets the days it covered written out, or a retry would
    count them from the day of the retry.
    """
    arguments = {**run.arguments, **overrides}
    days = run.days
    if days is not None and not run.logical_time and days != run_days(arguments):
        arguments.update(PlannedRun(run.job_name, days).arguments)
    return arguments


def latest_batch(backend: Backend, project_tags: Mapping[str, str]) -> str | None:
    """The batch of the project's job that the backend created last.

    Batch ids are this machine's clock when the batch started, and a clock that ran fast once
    would make an older batch look newest for good: the backend's order of creation decides.
    """
    jobs = {name: tags[BATCH_TAG] for name, tags in backend.tagged_jobs(project_tags).items() if BATCH_TAG in tags}
    newest = backend.created_last(jobs)
    return None if newest is None else jobs[newest]


@dataclass(frozen=True)
class BatchStatus:
    """A batch's chunks: the latest run of each (``runs``, in date order) and every attempt of each,
    by the latest run's id; ``schedule`` names the job key when the chunks are a schedule's runs."""

    batch: str
    job_keys: tuple[str, ...]
    runs: list[RunStatus]
    never_started: list[str]
    attempts: Mapping[str, Sequence[RunStatus]] = field(default_factory=dict)
    job_of: Mapping[str, str] = field(default_factory=dict)
    schedule: str | None = None

    def attempts_of(self, run: RunStatus) -> Sequence[RunStatus]:
        return self.attempts.get(run.run_id) or [run]


def batch_status(backend: Backend, project_tags: Mapping[str, str], batch: str) -> BatchStatus | None:
    """The runs of one batch, in date order; None when no project job carries that batch id."""
    jobs = backend.tagged_jobs({**project_tags, BATCH_TAG: batch})
    if not jobs:
        return None
    history = backend.job_runs(jobs)
    runs = sorted((runs[-1] for runs in history.values() if runs), key=lambda r: (r.from_date or "", r.job_name))
    never = sorted(name for name, runs in history.items() if not runs)
    keys = tuple(sorted({tags.get(JOB_TAG, "?") for tags in jobs.values()}))
    job_of = {name: tags.get(JOB_TAG, "?") for name, tags in jobs.items()}
    attempts = {runs[-1].run_id: runs for runs in history.values() if runs}
    return BatchStatus(batch, keys, runs, never, attempts, job_of)


def to_retry(found: BatchStatus) -> list[RunStatus]:
    """The latest runs of a batch that ended without succeeding, in date order."""
    return [run for run in found.runs if run.state in RETRYABLE_STATES]


def wait_for_runs(
    backend: Backend,
    runs: Sequence[StartedRun],
    on_update: Callable[[list[RunStatus]], None],
    sleep: Callable[[float], None] = time.sleep,
) -> list[RunStatus]:
    """Poll until every run has ended, reporting each poll; returns the final states.

    Only unfinished runs are asked for again. The pause between polls grows with jittered
    backoff while nothing changes and drops back to the shortest as soon as something does.
    """
    states: dict[str, RunStatus] = {}

    def check() -> list[RunStatus] | Pending:
        pending = [run for run in runs if run.run_id not in states or not states[run.run_id].ended]
        changed = False
        for status in backend.run_states(pending):
            previous = states.get(status.run_id)
            changed |= previous is None or previous.state != status.state
            states[status.run_id] = status
        current = [states[run.run_id] for run in runs]
        on_update(current)
        return current if all(status.ended for status in current) else Pending(changed=changed)

    return poll(check, backend.poll_backoff, sleep=sleep)
