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

from pyspark.sql import SparkSession
from pyspark.sql.types import StringType, StructField, StructType

from job_helpers import job_arguments
from job_helpers.stedi.pseudonym import pseudonymise
from job_helpers.stedi.report import JobReport
from job_helpers.stedi.run import RunParams, pseudonym_key, publish_counted, reporting, run_script
from job_helpers.stedi.schemas import ACCELEROMETER_TRUSTED, PSEUDONYM_COLUMN, STEP_TRAINER_TRUSTED
from job_helpers.stedi.tables import read_table
from job_helpers.stedi.transforms import ML_JOINS, in_dates, machine_learning_curated
from job_helpers.storage import Storage

OPTIONS = [
    "step-trainer-trusted",
    "accelerometer-trusted",
    "customer-curated",
    "machine-learning-curated",
    "pseudonymise",
    "pseudonym-key",
    "ml-join",
]


def run(spark: SparkSession, name: str, args: dict[str, str], storage: Storage) -> JobReport:
    params = RunParams.from_args(args, ranged=True)
    key = pseudonym_key(args)
    join = job_arguments.choice(args, "ml-join", ML_JOINS)
    with reporting(storage, name, params) as report:
        fmt = params.output_format
        step = in_dates(
            read_table(spark, args["step_trainer_trusted"], fmt, STEP_TRAINER_TRUSTED, "stedi_step_trainer_trusted"),
            params.first,
            params.last,
        )
        accel = in_dates(
            read_table(spark, args["accelerometer_trusted"], fmt, ACCELEROMETER_TRUSTED, "stedi_accelerometer_trusted"),
            params.first,
            params.last,
        )
        owner = PSEUDONYM_COLUMN if key is not None else "email"
        owners_schema = StructType([StructField("serialNumber", StringType()), StructField(owner, StringType())])
        owners = read_table(spark, args["customer_curated"], fmt, owners_schema, "stedi_customer_curated")
        if key is not None:
            accel = pseudonymise(spark, accel, "user", key)
        else:
            owners, owner = owners.withColumnRenamed("email", "user"), "user"
        ml = machine_learning_curated(step, accel, owners, owner, join)
        report.read[args["step_trainer_trusted"]] = step.count()
        report.read[args["accelerometer_trusted"]] = accel.count()
        publish_counted(ml, storage, args["machine_learning_curated"], params, report, partitioned=True)
        matched = ml.select("serialNumber", "sensorReadingTime").distinct()
        report.excluded = step.join(matched, ["serialNumber", "sensorReadingTime"], "left_anti").count()
    return report


def main(argv: Sequence[str]) -> None:
    run_script(argv, OPTIONS, run)


if __name__ == "__main__":
    main(sys.argv)
