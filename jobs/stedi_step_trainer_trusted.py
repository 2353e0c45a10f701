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

from pyspark.sql import SparkSession
from pyspark.sql.types import StringType, StructField, StructType

from job_helpers.stedi.report import JobReport
from job_helpers.stedi.run import (
    RunParams,
    check_rejects,
    load_landing,
    parse_share,
    publish_counted,
    publish_rejects,
    reporting,
    run_script,
)
from job_helpers.stedi.schemas import STEP_TRAINER_KEYS, STEP_TRAINER_LANDING
from job_helpers.stedi.tables import read_table
from job_helpers.stedi.transforms import step_trainer_trusted
from job_helpers.storage import Storage

OPTIONS = ["step-trainer-landing", "customer-curated", "step-trainer-trusted", "rejects", "max-reject-share"]
DEVICES = StructType([StructField("serialNumber", StringType(), True)])


def run(spark: SparkSession, name: str, args: dict[str, str], storage: Storage) -> JobReport:
    params = RunParams.from_args(args, ranged=True)
    max_share = parse_share(args["max_reject_share"])
    with reporting(storage, name, params) as report:
        landing = load_landing(
            spark, args["step_trainer_landing"], STEP_TRAINER_LANDING, STEP_TRAINER_KEYS, params, report, "sensorReadingTime"
        )
        check_rejects(landing, storage, args["rejects"], max_share, params, report)
        customers = read_table(spark, args["customer_curated"], params.output_format, DEVICES, "stedi_customer_curated")
        trusted = step_trainer_trusted(landing.records, customers)
        written = publish_counted(trusted, storage, args["step_trainer_trusted"], params, report, partitioned=True)
        publish_rejects(landing, storage, args["rejects"], params)
        report.excluded = landing.records.count() - written
    return report


def main(argv: Sequence[str]) -> None:
    run_script(argv, OPTIONS, run)


if __name__ == "__main__":
    main(sys.argv)
