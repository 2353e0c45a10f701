"""Glue job: merge each day's small SiteWise cold-tier Avro files into one file per run and day.

    python jobs/sitewise_repartition.py --JOB_NAME sitewise-repartition \\
        --from-date 2024-01-01 --to-date 2024-01-07 \\
        --cold-tier s3://bucket/cold --repartitioned s3://bucket/repartitioned --index s3://bucket/index \\
        --timeseries-type ASSOCIATED --series-source asset_metadata --max-workers 16

Days that fail are named at the end and the job exits non-zero; the others are published.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from job_helpers import job_arguments, runtime
from job_helpers.sitewise.keys import Layout
from job_helpers.sitewise.repartition import repartition_days
from job_helpers.sitewise.series import (
    LIST_TIME_SERIES,
    SERIES_SOURCES,
    TIMESERIES_TYPES,
    SeriesSelectionError,
    load_series_filter,
    sitewise_client,
)
from job_helpers.storage import Storage, StorageError

OPTIONS = [
    "from-date",
    "to-date",
    "cold-tier",
    "repartitioned",
    "index",
    "timeseries-type",
    "series-source",
    "max-workers",
]


def main(argv: Sequence[str]) -> None:
    with runtime.start_job(argv, OPTIONS, spark=False) as job:
        first, last = job_arguments.day_range(job.args)
        timeseries_type = job_arguments.choice(job.args, "timeseries-type", TIMESERIES_TYPES)
        source = job_arguments.choice(job.args, "series-source", SERIES_SOURCES)
        max_workers = job_arguments.positive_int(job.args, "max-workers")
        layout = Layout(job.args["cold_tier"], job.args["repartitioned"], job.args["index"])

        storage = Storage()
        client = sitewise_client() if source == LIST_TIME_SERIES else None
        try:
            series_filter = load_series_filter(
                source, timeseries_type, storage=storage, layout=layout, client=client, max_workers=max_workers
            )
        except (SeriesSelectionError, StorageError) as error:
            raise runtime.JobFailed(f"cannot select the series to merge: {error}") from error
        summary = repartition_days(storage, layout, first, last, series_filter, max_workers=max_workers)
        job.report.read[layout.cold_tier] = summary.records
        job.report.written[layout.repartitioned] = summary.records
        if summary.failed:
            failed = "; ".join(f"{day}: {reason}" for day, reason in sorted(summary.failed.items()))
            raise runtime.JobFailed(f"{len(summary.failed)} of the days failed, the others were published. {failed}")


if __name__ == "__main__":
    main(sys.argv)
