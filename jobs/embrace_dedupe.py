"""Glue job: clean a date range of Embrace exports and publish every output of their archives.

    python jobs/embrace_dedupe.py --JOB_NAME embrace-dedupe --from-date 2019-08-01 --to-date 2019-08-31 \\
        --landing s3://b/landing/ --clean s3://b/clean/ --timestream-ready s3://b/timestream/ \\
        --duplicate-log s3://b/duplicate_log/ --wear-time s3://b/wear_time/ --devices s3://b/devices/ \\
        --rejects s3://b/rejects/ --reports s3://b/reports/ --load-counts s3://b/load_counts/ \\
        --streams all --participants all --participant-regex '.*' --max-csv-bytes 1073741824 [--allow-shrink false]

The run reads every archive whose export period overlaps the dates. It exits with status 1,
naming them, when any archive failed; the other archives' outputs are published all the same.
The run report is also kept as ``<reports><from>_<to>.json``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from job_helpers import runtime
from job_helpers.embrace import parameters, read, run
from job_helpers.embrace.archives import ArchiveNameError
from job_helpers.publish import PublishError
from job_helpers.storage import Storage

# The arguments the job takes: start_job refuses any other, and execute reads these to refuse them first.
OPTIONS, OPTIONAL = parameters.OPTIONS, parameters.OPTIONAL


def main(argv: Sequence[str]) -> None:
    with runtime.start_job(argv, OPTIONS, optional=OPTIONAL, spark=False, tasks=True) as job:
        params = parameters.from_args(job.args)
        job.report.scope = params.scope
        job.report_folder = params.outputs["reports"]
        storage = Storage()
        try:
            landing = read.landing_archives(storage, params.landing, params.first, params.last)
            # Per device stream: its members read and cleaned in tasks against what is published, then published.
            done = run.clean_and_publish(job.tasks, storage, landing, params)
        except (ArchiveNameError, PublishError) as error:
            raise runtime.JobFailed(str(error)) from error
        job.report.read.update(done.read)
        job.report.written.update(done.written)
        job.report.rejected.update(done.rejected)
        job.report.failed.update(done.failed)
        job.report.published.update({published.table: published.summary() for published in done.published})
        job.report.details.update(done.details())
        job.end("archive")


if __name__ == "__main__":
    main(sys.argv)
