"""A local runner: a detached process that takes WAITING runs from the registry and runs them.

``python -m job_helpers.control.local_runner --registry PATH`` claims the oldest waiting run
while a slot is free, runs the job as its own process exactly as Glue would start it, records
how it ended, and repeats; it exits when nothing is left to claim. It outlives the command that
started it, so runs go on after ``execute`` returns.

SIGTERM stops the current job (state STOPPED); a job past its timeout is stopped the same way
(state TIMEOUT). A job that ran to its end is SUCCEEDED or FAILED as its run report says (its
exit status when it wrote none); the end is journaled when the registry stays busy.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

from job_helpers.control.local_registry import ClaimedRun, Registry, RunEnd, end_by_report, process_start
from job_helpers.control.runs import ERROR, STOPPED, TIMEOUT
from job_helpers.run_report import RunReport
from job_helpers.runtime import RUNTIME_ENV

log = logging.getLogger("job_helpers.control.local_runner")

STOP_GRACE_SECONDS = 10
LOG_TAIL_BYTES = 64 * 1024
LOG_PREFIX = re.compile(r"^\d{4}-\d{2}-\d{2}[ T][\d:.,]+\s+((ERROR|CRITICAL)\s+[\w.]+:\s+)?")
ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL)\b|^\s*[\w.]*(Error|Exception|Exit)\b")


class Stopped(BaseException):
    """The runner was asked to stop (SIGTERM); like KeyboardInterrupt, not caught as an ordinary error."""


def job_command(python: str, claimed: ClaimedRun) -> list[str]:
    """The command line Glue would give the script: its job name and run id, default then run arguments."""
    arguments = {**claimed.job.default_arguments, **claimed.arguments}
    command = [python, claimed.job.script_path, "--JOB_NAME", claimed.job.name, "--JOB_RUN_ID", claimed.run_id]
    for name, value in arguments.items():
        command += [name, value]
    return command


def job_environment(environ: Mapping[str, str], zip_path: str) -> dict[str, str]:
    """The runner's environment with the built package as the only extra import path."""
    return {**environ, RUNTIME_ENV: "local", "PYTHONPATH": zip_path}


def last_error_line(log_text: str) -> str | None:
    """The last line reporting an error (an ERROR log line or an exception), without the log line's prefix."""
    for line in reversed(log_text.splitlines()):
        if ERROR_LINE.search(line):
            return LOG_PREFIX.sub("", line.strip())
    return None


def read_tail(path: Path, size: int = LOG_TAIL_BYTES) -> str:
    with path.open("rb") as file:
        file.seek(max(0, path.stat().st_size - size))
        return file.read().decode("utf-8", errors="replace")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM the job's process group, then SIGKILL it if it has not ended after a grace period."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=STOP_GRACE_SECONDS)
            return
        except subprocess.TimeoutExpired:
            continue


def execute(registry: Registry, claimed: ClaimedRun) -> str:
    """Run one claimed job to its end and record it; returns the final state."""
    job = claimed.job
    log_path = Path(job.log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:
        try:
            process = subprocess.Popen(
                job_command(sys.executable, claimed),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=job.workdir,
                env=job_environment(os.environ, job.zip_path),
                start_new_session=True,
            )
        except OSError as error:
            registry.finish(claimed.run_id, ERROR, None, f"could not start {job.script_path}: {error}")
            return ERROR
        registry.record_job_pid(claimed.run_id, process.pid, process_start(process.pid))
        try:
            code = process.wait(timeout=job.timeout_seconds)
        except subprocess.TimeoutExpired:
            stop(process)
            limit = timedelta(seconds=job.timeout_seconds)
            registry.finish(claimed.run_id, TIMEOUT, None, f"timed out after {limit} (the job's timeout_minutes)")
            return TIMEOUT
        except Stopped:
            stop(process)
            registry.finish(claimed.run_id, STOPPED, None, "stopped: the local runner received SIGTERM")
            raise
    log_error = last_error_line(read_tail(log_path)) if code != 0 else None
    end = end_by_report(_report(registry, claimed), code, log_error)
    registry.finish(claimed.run_id, end.state, end.exit_code, end.error)
    return end.state


def _report(registry: Registry, claimed: ClaimedRun) -> RunReport | None:
    """The run's report; an error reaching it is logged and counts as none, and the exit status decides."""
    try:
        return registry.reports(asdict(claimed.job), claimed.run_id)
    except Exception as error:  # noqa: BLE001 - the exit status is known, so it decides
        log.warning("run %s: could not read its run report (%s); its exit status decides", claimed.run_id, error)
        return None


def serve(registry: Registry, pid: int) -> None:
    """Claim and run jobs until none is left to claim."""
    while (claimed := registry.claim_next(pid)) is not None:
        log.info("run %s of %s started", claimed.run_id, claimed.job.name)
        try:
            state = execute(registry, claimed)
        except Exception as error:
            log.exception("run %s of %s failed in the runner", claimed.run_id, claimed.job.name)
            end = _runner_failed(registry, claimed, error)
            registry.finish(claimed.run_id, end.state, end.exit_code, end.error)
            continue
        log.info("run %s of %s ended %s", claimed.run_id, claimed.job.name, state)


def _runner_failed(registry: Registry, claimed: ClaimedRun, error: Exception) -> RunEnd:
    """The end of a run the runner lost track of: its report if the job wrote one, else ERROR."""
    report = _report(registry, claimed)
    if report is None:
        return RunEnd(ERROR, None, f"local runner error: {error}")
    decided = end_by_report(report, None, None)
    return RunEnd(decided.state, None, f"local runner error: {error}; the end is its job's run report")


def _raise_stopped(signum: int, frame: object) -> None:
    raise Stopped()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m job_helpers.control.local_runner", description=__doc__)
    parser.add_argument("--registry", type=Path, required=True, help="the registry database of the lake")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s runner %(process)d: %(message)s")
    registry = Registry(args.registry)
    signal.signal(signal.SIGTERM, _raise_stopped)
    try:
        serve(registry, os.getpid())
    except Stopped:
        registry.sign_off(os.getpid())
        return 143
    return 0


if __name__ == "__main__":
    sys.exit(main())
