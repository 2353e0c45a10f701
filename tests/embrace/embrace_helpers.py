"""Run parameters, a chunk run and output readers shared by the Embrace tests."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from pathlib import Path

from job_helpers.embrace import read, run
from job_helpers.embrace.limits import DEFAULT_LIMITS
from job_helpers.embrace.outputs import OUTPUTS, argument
from job_helpers.embrace.parameters import Parameters
from job_helpers.storage import Storage

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO / ".." / "shared" / "data" / "embrace"


def chunk_params(landing: Path, lake: Path, first: date, last: date, **options) -> Parameters:
    """Run parameters with every output in its own folder under ``lake``."""
    urls = {name: (lake / name).as_uri() + "/" for name in OUTPUTS}
    return Parameters(first=first, last=last, landing=landing.as_uri() + "/", outputs=urls, **options)


def run_chunk(spark, storage: Storage, params: Parameters) -> run.ChunkResult:
    """The job's steps after its arguments: the archives of the dates, then each one cleaned and published."""
    landing = read.landing_archives(storage, params.landing, params.first, params.last)
    return run.clean_and_publish(spark, storage, landing, params)


def job_argv(landing: Path, lake: Path, first: str, last: str, **extra: str) -> list[str]:
    """The job's command line, as the local runner passes it."""
    argv = ["embrace_dedupe.py", "--JOB_NAME", "embrace-dedupe-test", "--from-date", first, "--to-date", last]
    argv += ["--landing", landing.as_uri() + "/"]
    for name in OUTPUTS:
        argv += [f"--{argument(name)}", (lake / name).as_uri() + "/"]
    options = {"streams": "all", "participants": "all", "participant-regex": ".*", "max-csv-bytes": "1073741824"}
    options.update({name.replace("_", "-"): str(value) for name, value in asdict(DEFAULT_LIMITS).items()}, **extra)
    for name, value in options.items():
        argv += [f"--{name}", value]
    return argv
