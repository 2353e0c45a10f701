"""Glue job: step-trainer readings joined to the same customer's accelerometer readings at the same instant.

Partitioned by reading date; with --from-date/--to-date only those dates are recomputed. With
--pseudonymise true the accelerometer's user (an email) is replaced by the customer's pseudonym,
the same one the curated customer table carries. --ml-join time-only pairs readings on the instant
alone, the course rubric's join (43,681 rows on the shared data instead of 40,981).

    python jobs/stedi_machine_learning_curated.py --JOB_NAME stedi-machine-learning-curated \\
        --step-trainer-trusted s3://bucket/step_trainer/trusted/ --accelerometer-trusted s3://bucket/accelerometer/trusted/ \\
        --customer-curated s3://bucket/customer/curated/ --machine-learning-curated s3://bucket/step_trainer/curated/ \\
        --report s3://bucket/reports/machine_learning_curated/ --output-format parquet --allow-shrink false \\
        --pseudonymise true --pseudonym-key secretsmanager:glue-etl/stedi/pseudonym-key --ml-join owner-and-time
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from job_helpers import runtime
from job_helpers.run_report import reconcile
from job_helpers.stedi import parameters, pseudonym, read, transform, write
from job_helpers.stedi.observed import Counts, every_row
from job_helpers.stedi.schemas import ACCELEROMETER_TRUSTED, PSEUDONYM_COLUMN, STEP_TRAINER_TRUSTED, owners_schema
from job_helpers.storage import Storage

# The arguments the job takes: start_job refuses any other, and execute reads these to refuse them first.
OPTIONS, OPTIONAL = parameters.MachineLearningCurated.OPTIONS, parameters.OPTIONAL


def main(argv: Sequence[str]) -> None:
    with runtime.start_job(argv, OPTIONS, optional=OPTIONAL, spark=True) as job:
        params = parameters.MachineLearningCurated.from_args(job.args)
        report, spark = job.report, job.spark
        report.scope, job.report_folder = params.scope, params.report_folder
        fmt, storage = params.output_format, Storage()

        key = pseudonym.resolve_key(params.pseudonym_key_source) if params.pseudonym_key_source is not None else None
        step = transform.in_dates(
            read.read_table(spark, storage, params.step_trainer_trusted, fmt, STEP_TRAINER_TRUSTED, "stedi_step_trainer_trusted"),
            params.first,
            params.last,
        )
        accel = transform.in_dates(
            read.read_table(
                spark, storage, params.accelerometer_trusted, fmt, ACCELEROMETER_TRUSTED, "stedi_accelerometer_trusted"
            ),
            params.first,
            params.last,
        )
        owner = PSEUDONYM_COLUMN if key is not None else "email"
        owners = read.read_table(spark, storage, params.customer_curated, fmt, owners_schema(owner), "stedi_customer_curated")

        step_read, accel_read = Counts(step, read=every_row()), Counts(accel, read=every_row())
        accel = accel_read.frame
        if key is not None:
            accel = pseudonym.pseudonymise(spark, accel, "user", key)
        else:
            owners, owner = owners.withColumnRenamed("email", "user"), "user"
        ml = transform.paired_readings(step_read.frame, accel, owners, owner, params.ml_join)

        url = params.machine_learning_curated
        with write.staged(ml.rows, storage, url, fmt, partitioned=True, first=params.first, last=params.last) as table:
            report.read[params.step_trainer_trusted] = step_read["read"]
            report.read[params.accelerometer_trusted] = accel_read["read"]
            report.excluded = ml.left_out["unpaired"]
            report.written[url] = table.rows
            # A join does not conserve rows (a step reading may pair with several at one instant, with
            # --ml-join time-only): what must add up is the rows the join gave and the rows written.
            reconcile(url, ml.left_out["paired"], table.rows)
            report.published[url] = table.publish(params.shrink_guard).summary()
        job.end()


if __name__ == "__main__":
    main(sys.argv)
