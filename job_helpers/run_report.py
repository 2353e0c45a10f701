"""What one job run processed: written by the job when it ends well, read by ``status``.

A run's report lives at ``<glue_assets>runs/<job name>/<run id>.json``; the run id makes it
one file per run, so a retry never overwrites or doubles the figures of an earlier attempt.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from job_helpers.storage import Storage, StorageError, join

RUN_REPORTS_ARGUMENT = "--run-reports"
RUN_ID_ARGUMENT = "--JOB_RUN_ID"


def reports_prefix(glue_assets_url: str) -> str:
    return join(glue_assets_url, "runs/")


def report_url(prefix: str, job_name: str, run_id: str) -> str:
    return join(prefix, f"{job_name}/{run_id}.json")


def optional_argument(argv: Sequence[str], name: str) -> str | None:
    """The value after ``name`` in argv, if given: getResolvedOptions only takes required options."""
    for index, item in enumerate(argv[:-1]):
        if item == name:
            return argv[index + 1]
    return None


def write_report(storage: Storage, url: str, records: Mapping[str, int]) -> None:
    storage.write_text(url, json.dumps(dict(records), sort_keys=True))


def read_report(storage: Storage, url: str) -> dict[str, int] | None:
    """The run's figures, or None when the run wrote none (an older job, a failed run)."""
    try:
        return json.loads(storage.read_text(url))
    except StorageError:
        return None
