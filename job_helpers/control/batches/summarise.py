"""A batch's summary with what only storage knows: the record counts of its run reports and the open claims.

``status`` (as a table or ``--json``), ``retry --wait`` and ``report`` all summarise through here,
so they show the same figures; ``summary.batch_summary`` turns them into data.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from job_helpers.control.context import CliContext
from job_helpers.control.cost import Rates
from job_helpers.control.runs import SUCCEEDED, Backend, BatchStatus, RunStatus
from job_helpers.control.summary import BatchSummary, batch_summary
from job_helpers.publish import OpenClaim, open_claims
from job_helpers.run_report import RunReport, read_report, report_url, reports_prefix

# Reads of run reports and claim lists in parallel: a batch may have hundreds of runs.
MAX_READERS = 16


def summarise(context: CliContext, backend: Backend, found: BatchStatus) -> BatchSummary:
    settings = context.settings
    records = run_records(context, [run for run in found.runs if run.state == SUCCEEDED])
    claims = _open_claims(context, found)
    return batch_summary(found, settings.jobs, Rates.from_settings(settings), backend.run_log, records, claims)


def run_reports(context: CliContext, runs: Sequence[RunStatus]) -> list[RunReport | None]:
    """The run report of each run, in order; None for a run that wrote none."""
    if not runs:
        return []
    prefix = reports_prefix(context.settings.datasets["glue_assets"])
    storage = context.storage
    with ThreadPoolExecutor(max_workers=min(MAX_READERS, len(runs))) as pool:
        return list(pool.map(lambda run: read_report(storage, report_url(prefix, run.job_name, run.run_id)), runs))


def run_records(context: CliContext, runs: Sequence[RunStatus]) -> dict[str, dict]:
    """By run id, the record counts and publishes the given runs' reports hold."""
    return {
        run.run_id: {"read": report.records_read, "written": report.records_written, "published": report.published}
        for run, report in zip(runs, run_reports(context, runs))
        if report is not None
    }


def _open_claims(context: CliContext, found: BatchStatus) -> list[OpenClaim]:
    """Uncommitted claims in every table the batch's jobs name (a table no one can list shows none)."""
    jobs = [context.settings.jobs[key] for key in found.job_keys if key in context.settings.jobs]
    tables = sorted({value for job in jobs for value in job.arguments.values() if value.startswith(("s3://", "file://"))})

    def claims_of(table: str) -> list[OpenClaim]:
        try:
            return open_claims(context.storage, table)
        except Exception:  # an input bucket this identity cannot list holds none of the batch's publishes
            return []

    if not tables:
        return []
    with ThreadPoolExecutor(max_workers=min(MAX_READERS, len(tables))) as pool:
        return [claim for found_claims in pool.map(claims_of, tables) for claim in found_claims]
