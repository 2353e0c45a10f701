"""Glue job: sensor readings to one interpolated row per sensor and second, partitioned by hour.

    python jobs/sensor_timeseries_export.py --JOB_NAME sensor-export \\
        --from-date 2024-03-01 --to-date 2024-03-01 --source raw_json \\
        --raw s3://bucket/raw/ --curated s3://bucket/curated/ --rejects s3://bucket/rejects/ \\
        --timestream-database sensors --timestream-table readings --allow-shrink false

``--source raw_json`` reads the JSON lines under ``--raw``; ``--source timestream`` queries the
Timestream table instead, for accounts that already use Timestream for LiveAnalytics: it is closed
to new customers since 2025-06-20. Both feed the same transform and write the same outputs. Hours whose raw
objects are gone keep their published partitions, and a run that would lose more than
``--max-row-loss`` of the curated rows it replaces is refused; ``--allow-shrink true`` publishes
what the input holds now.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from job_helpers import runtime
from job_helpers.job_failed import JobFailed
from job_helpers.sensors import parameters, read, transform, write
from job_helpers.storage import Storage

# The arguments the job takes: start_job refuses any other, and execute reads these to refuse them first.
OPTIONS, OPTIONAL = parameters.OPTIONS, parameters.OPTIONAL


def main(argv: Sequence[str]) -> None:
    with runtime.start_job(argv, OPTIONS, optional=OPTIONAL, spark=False, tasks=True) as job:
        params = parameters.from_args(job.args)
        job.report.scope = params.scope
        storage = Storage()
        chunk = read.chunk(storage, params, tasks=2 * job.tasks.parallelism)
        try:
            # Each task loads one batch of hours, grids them with transform.hour_grids and writes them aside.
            summary = write.export_chunk(
                job.tasks, storage, chunk, transform.hour_grids, params.curated, params.rejects, shrink_guard=params.shrink_guard
            )
        except write.NoReadings as error:
            raise JobFailed(f"{error} (--source {params.source})") from error
        job.report.read[chunk.source] = summary.readings_in
        job.report.written[params.curated] = summary.rows_out
        job.report.rejected = summary.reasons
        job.report.published.update({published.table: published.summary() for published in summary.published})
        if summary.kept:
            job.report.details["kept_hours_raw_gone"] = list(summary.kept)
        job.end()


if __name__ == "__main__":
    main(sys.argv)
