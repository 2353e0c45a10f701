"""Local runners in tests: starting one, waiting for its job and its run's end, killing it, and stopping
every runner and running job a registry knows once the test is over."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from job_helpers.backoff import Backoff
from job_helpers.control.local_registry import Registry
from job_helpers.control.runs import RunStatus

REPO = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 60
T = TypeVar("T")


def eventually(check: Callable[[], T | None], what: str) -> T:
    """Poll ``check`` with jittered backoff until it returns something, failing after a deadline."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    backoff = Backoff(0.05, 1.0)
    attempt = 0
    while (result := check()) is None:
        assert time.monotonic() < deadline, f"{what} did not happen within {DEADLINE_SECONDS}s"
        time.sleep(backoff.delay(attempt))
        attempt += 1
    return result


def job_pid(database: Path, run_id: str) -> int | None:
    with sqlite3.connect(database) as db:
        row = db.execute("SELECT job_pid FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    return row[0] if row else None


def start_runner(project: Any) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "job_helpers.control.local_runner", "--registry", str(project.registry)],
        cwd=REPO,
        start_new_session=True,
    )


def kill_runner_under_its_job(project: Any, run_id: str) -> tuple[subprocess.Popen, int]:
    """Start a runner, wait until it has started the job of ``run_id``, then kill -9 the runner alone: (runner, job pid)."""
    runner = start_runner(project)
    job = eventually(lambda: job_pid(project.registry, run_id), "the job starting")
    runner.kill()
    runner.wait()
    return runner, job


def run_end(registry: Registry, run_id: str) -> RunStatus:
    """The run's status once it is no longer RUNNING."""
    return eventually(lambda: next((s for s in registry.run_states([run_id]) if s.state != "RUNNING"), None), "the run ending")


def stop_local_runners(database: Path) -> None:
    """Kill the runners and the running job processes recorded in the registry at ``database``."""
    if not database.exists():
        return
    with sqlite3.connect(database) as db:
        pids = [row[0] for row in db.execute("SELECT pid FROM runners")]
        pids += [row[0] for row in db.execute("SELECT job_pid FROM runs WHERE state = 'RUNNING' AND job_pid IS NOT NULL")]
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
