"""Run a job that ``execute`` created in moto's Glue the way Glue would start it, as a local process.

Everything comes from what Glue holds and S3, never from the working tree: the job's definition
(glue:GetJob) and run (glue:GetJobRun), the script at ``Command.ScriptLocation`` and the package
named by ``--extra-py-files``, both downloaded from S3. The arguments are the job's defaults
merged with the run's, after ``--JOB_NAME`` and ``--JOB_RUN_ID``. The process runs with
``JOB_HELPERS_RUNTIME=local`` and the S3A settings, so its Spark reads and writes ``s3://``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from job_helpers import s3a
from job_helpers.runtime import RUNTIME_ENV
from job_helpers.storage import split_s3

TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class EmulatedRun:
    job_name: str
    run_id: str
    command: list[str]
    returncode: int
    output: str


def _download(s3: Any, url: str, target: Path) -> Path:
    bucket, key = split_s3(url)
    target.parent.mkdir(parents=True, exist_ok=True)
    s3.download_file(bucket, key, str(target))
    return target


def run_job(glue: Any, s3: Any, job_name: str, workdir: Path, environ: Mapping[str, str]) -> EmulatedRun:
    """Run the latest run of ``job_name`` to its end; ``environ`` carries the AWS settings (endpoint, keys, region)."""
    job = glue.get_job(JobName=job_name)["Job"]
    runs = glue.get_job_runs(JobName=job_name)["JobRuns"]
    assert runs, f"{job_name} was created but never started"
    run_id = max(runs, key=lambda run: run["StartedOn"])["Id"]
    run = glue.get_job_run(JobName=job_name, RunId=run_id)["JobRun"]
    arguments = {**job.get("DefaultArguments", {}), **run.get("Arguments", {})}

    folder = workdir / job_name
    script = _download(s3, job["Command"]["ScriptLocation"], folder / "script" / Path(job["Command"]["ScriptLocation"]).name)
    package = _download(s3, arguments["--extra-py-files"], folder / "py-files" / Path(arguments["--extra-py-files"]).name)
    command = [sys.executable, str(script), "--JOB_NAME", job_name, "--JOB_RUN_ID", run_id]
    for name, value in arguments.items():
        command += [name, value]
    env = {**environ, **s3a.environment(), RUNTIME_ENV: "local", "PYTHONPATH": str(package)}
    done = subprocess.run(
        command, cwd=folder, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT_SECONDS
    )
    return EmulatedRun(job_name, run_id, command, done.returncode, done.stdout + done.stderr)
