"""Run parameters and output readers shared by the Embrace tests."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from job_helpers.embrace.run import ChunkParams

OUTPUTS = ("clean", "timestream_ready", "duplicate_log", "wear_time", "devices", "rejects", "reports", "load_counts")
REPO = Path(__file__).resolve().parents[2]
SHARED = REPO / ".." / "shared" / "data" / "embrace"


def chunk_params(landing: Path, lake: Path, first: date, last: date, **options) -> ChunkParams:
    """Run parameters with every output in its own folder under ``lake``."""
    urls = {name: (lake / name).as_uri() + "/" for name in OUTPUTS}
    return ChunkParams(first=first, last=last, landing=landing.as_uri() + "/", **urls, **options)


def job_argv(landing: Path, lake: Path, first: str, last: str, **extra: str) -> list[str]:
    """The job's command line, as the local runner passes it."""
    argv = ["embrace_dedupe.py", "--JOB_NAME", "embrace-dedupe-test", "--from-date", first, "--to-date", last]
    argv += ["--landing", landing.as_uri() + "/"]
    for name in OUTPUTS:
        argv += [f"--{name.replace('_', '-')}", (lake / name).as_uri() + "/"]
    options = {"streams": "all", "participants": "all", "participant-regex": ".*", "max-csv-bytes": "1073741824", **extra}
    for name, value in options.items():
        argv += [f"--{name}", value]
    return argv
