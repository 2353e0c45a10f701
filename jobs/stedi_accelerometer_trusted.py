"""Glue job: accelerometer readings of consenting customers (accelerometer landing → trusted).

Partitioned by reading date; with --from-date/--to-date only those dates are recomputed.

    python jobs/stedi_accelerometer_trusted.py --JOB_NAME stedi-accelerometer-trusted \\
        --accelerometer-landing s3://bucket/accelerometer/landing/ --customer-trusted s3://bucket/customer/trusted/ \\
        --accelerometer-trusted s3://bucket/accelerometer/trusted/ --rejects s3://bucket/rejects/accelerometer_trusted/ \\
        --report s3://bucket/reports/accelerometer_trusted/ --output-format parquet --allow-shrink false --max-reject-share 0.01 \\
        [--from-date 2022-06-18 --to-date 2022-06-18]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from job_helpers import runtime
from job_helpers.run_report import reconcile
from job_helpers.stedi import parameters, read, transform, write
from job_helpers.stedi.schemas import ACCELEROMETER_KEYS, ACCELEROMETER_LANDING, CUSTOMER_TRUSTED
from job_helpers.storage import Storage

# The arguments the job takes: start_job refuses any other, and execute reads these to refuse them first.
OPTIONS, OPTIONAL = parameters.AccelerometerTrusted.OPTIONS, parameters.OPTIONAL


def main(argv: Sequence[str]) -> None:
    with runtime.start_job(argv, OPTIONS, optional=OPTIONAL, spark=True) as job:
        params = parameters.AccelerometerTrusted.from_args(job.args)
        report = job.report
        report.scope, job.report_folder = params.scope, params.report_folder
        storage = Storage()

        landing = read.landing(
            job.spark, params.accelerometer_landing, ACCELEROMETER_LANDING, ACCELEROMETER_KEYS, params.days, "timestamp"
        )
        with write.reject_share_first(landing, storage, params.rejects, params.max_reject_share, params.scope):
            customers = read.read_table(
                job.spark, storage, params.customer_trusted, params.output_format, CUSTOMER_TRUSTED, "stedi_customer_trusted"
            )
        trusted = transform.trusted_accelerometer_readings(landing.records, customers)

        url = params.accelerometer_trusted
        with write.staged(
            trusted.rows, storage, url, params.output_format, partitioned=True, first=params.first, last=params.last
        ) as table:
            write.check_reject_share(landing, storage, params.rejects, params.max_reject_share, params.scope)
            report.read[params.accelerometer_landing] = landing.read
            report.rejected.update(landing.rejected)
            report.excluded = trusted.left_out["of no trusted customer"]
            report.written[url] = table.rows
            reconcile(url, landing.read, table.rows, sum(landing.rejected.values()), {"of no trusted customer": report.excluded})
            report.published[url] = table.publish(params.shrink_guard).summary()
        report.published[params.rejects] = write.publish_rejects(landing, storage, params.rejects, params.scope).summary()
        job.end()


if __name__ == "__main__":
    main(sys.argv)
