"""Glue job: step-trainer readings of curated customers' devices (step-trainer landing → trusted).

Partitioned by reading date; with --from-date/--to-date only those dates are recomputed.

    python jobs/stedi_step_trainer_trusted.py --JOB_NAME stedi-step-trainer-trusted \\
        --step-trainer-landing s3://bucket/step_trainer/landing/ --customer-curated s3://bucket/customer/curated/ \\
        --step-trainer-trusted s3://bucket/step_trainer/trusted/ --rejects s3://bucket/rejects/step_trainer_trusted/ \\
        --report s3://bucket/reports/step_trainer_trusted/ --output-format parquet --allow-shrink false --max-reject-share 0.01 \\
        [--from-date 2022-06-18 --to-date 2022-06-18]
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from job_helpers import runtime
from job_helpers.run_report import reconcile
from job_helpers.stedi import parameters, read, transform, write
from job_helpers.stedi.schemas import DEVICES, STEP_TRAINER_KEYS, STEP_TRAINER_LANDING
from job_helpers.storage import Storage

# The arguments the job takes: start_job refuses any other, and execute reads these to refuse them first.
OPTIONS, OPTIONAL = parameters.StepTrainerTrusted.OPTIONS, parameters.OPTIONAL


def main(argv: Sequence[str]) -> None:
    with runtime.start_job(argv, OPTIONS, optional=OPTIONAL, spark=True) as job:
        params = parameters.StepTrainerTrusted.from_args(job.args)
        report = job.report
        report.scope, job.report_folder = params.scope, params.report_folder
        storage = Storage()

        landing = read.landing(
            job.spark, params.step_trainer_landing, STEP_TRAINER_LANDING, STEP_TRAINER_KEYS, params.days, "sensorReadingTime"
        )
        with write.reject_share_first(landing, storage, params.rejects, params.max_reject_share, params.scope):
            devices = read.read_table(
                job.spark, storage, params.customer_curated, params.output_format, DEVICES, "stedi_customer_curated"
            )
        trusted = transform.curated_device_readings(landing.records, devices)

        url = params.step_trainer_trusted
        with write.staged(
            trusted.rows, storage, url, params.output_format, partitioned=True, first=params.first, last=params.last
        ) as table:
            write.check_reject_share(landing, storage, params.rejects, params.max_reject_share, params.scope)
            report.read[params.step_trainer_landing] = landing.read
            report.rejected.update(landing.rejected)
            report.excluded = trusted.left_out["of no curated device"]
            report.written[url] = table.rows
            reconcile(url, landing.read, table.rows, sum(landing.rejected.values()), {"of no curated device": report.excluded})
            report.published[url] = table.publish(params.shrink_guard).summary()
        report.published[params.rejects] = write.publish_rejects(landing, storage, params.rejects, params.scope).summary()
        job.end()


if __name__ == "__main__":
    main(sys.argv)
