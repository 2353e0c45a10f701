"""Glue job: merge each day's small SiteWise cold-tier Avro files into one file per run and day.

    python jobs/sitewise_repartition.py --JOB_NAME sitewise-repartition \\
        --from-date 2024-01-01 --to-date 2024-01-07 \\
        --cold-tier s3://bucket/cold --repartitioned s3://bucket/repartitioned --index s3://bucket/index \\
        --timeseries-type ASSOCIATED --series-source asset_metadata --max-workers 16 [--repair-days true]

Days that fail are named at the end and the job exits non-zero; the others are published.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from job_helpers import runtime
from job_helpers.job_failed import JobFailed
from job_helpers.run_report import RunReport
from job_helpers.sitewise import parameters, read, run, transform
from job_helpers.sitewise.run import RunSummary
from job_helpers.sitewise.series import SeriesSelectionError
from job_helpers.storage import Storage, StorageError

# The arguments the job takes: start_job refuses any other, and execute reads these to refuse them first.
OPTIONS, OPTIONAL = parameters.OPTIONS, parameters.OPTIONAL


def main(argv: Sequence[str]) -> None:
    with runtime.start_job(argv, OPTIONS, optional=OPTIONAL, spark=False) as job:
        params = parameters.from_args(job.args)
        job.report.scope = params.scope
        storage = Storage()
        try:
            series_filter = read.series_filter(storage, params)
        except (SeriesSelectionError, StorageError) as error:
            raise JobFailed(f"cannot select the series to merge: {error}") from error
        days = transform.days_between(params.first, params.last)
        # Each day on its own, in parallel: read what it holds and has committed → transform: pick the
        # raw files still to merge and copy their Avro blocks into one file → write: stage, commit, publish.
        summary = run.merge_days(
            storage, params.layout, days, series_filter, max_workers=params.max_workers, repair=params.repair_days
        )
        report(job.report, params, summary)
        job.end("day")


def report(run_report: RunReport, params: parameters.Parameters, summary: RunSummary) -> None:
    """Records read from the cold tier and read back from what was published, of the days published,
    and the days that failed, with why.

    Each published day's two counts reconciled before its commit (a merge rejects no record).
    """
    run_report.read[params.layout.cold_tier] = summary.records_read
    run_report.written[params.layout.repartitioned] = summary.records
    run_report.failed = {day.isoformat(): reason for day, reason in sorted(summary.failed.items())}
    run_report.details = {
        "days_merged": len(summary.merged),
        "days_skipped": len(summary.skipped),
        "files": summary.files,
        "failing_files_rebuilt": summary.rebuilt,
        "records_by_day": {
            result.day.isoformat(): {"read": result.records_read, "written": result.records} for result in summary.merged
        },
    }


if __name__ == "__main__":
    main(sys.argv)
