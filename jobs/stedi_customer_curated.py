"""Glue job: consenting customers who have accelerometer readings, one row each, pseudonymised.

With --pseudonymise true (the default in config) the email becomes a keyed pseudonym and name,
phone and birth date are dropped; --pseudonym-key names where the key is (never the key).

    python jobs/stedi_customer_curated.py --JOB_NAME stedi-customer-curated \\
        --customer-trusted s3://bucket/customer/trusted/ --accelerometer-trusted s3://bucket/accelerometer/trusted/ \\
        --customer-curated s3://bucket/customer/curated/ --report s3://bucket/reports/customer_curated/ \\
        --output-format parquet --allow-shrink false --pseudonymise true --pseudonym-key secretsmanager:glue-etl/stedi/pseudonym-key
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from pyspark.sql import SparkSession

from job_helpers.stedi.pseudonym import pseudonymise
from job_helpers.stedi.report import JobReport
from job_helpers.stedi.run import RunParams, pseudonym_key, publish_counted, reporting, run_script
from job_helpers.stedi.schemas import ACCELEROMETER_TRUSTED, CUSTOMER_TRUSTED
from job_helpers.stedi.tables import read_table
from job_helpers.stedi.transforms import customer_curated
from job_helpers.storage import Storage

OPTIONS = ["customer-trusted", "accelerometer-trusted", "customer-curated", "pseudonymise", "pseudonym-key"]


def run(spark: SparkSession, name: str, args: dict[str, str], storage: Storage) -> JobReport:
    params = RunParams.from_args(args, ranged=False)
    key = pseudonym_key(args)
    with reporting(storage, name, params) as report:
        fmt = params.output_format
        customers = read_table(spark, args["customer_trusted"], fmt, CUSTOMER_TRUSTED, "stedi_customer_trusted")
        readings = read_table(
            spark, args["accelerometer_trusted"], fmt, ACCELEROMETER_TRUSTED, "stedi_accelerometer_trusted"
        ).select("user")
        curated = customer_curated(customers, readings)
        if key is not None:
            curated = pseudonymise(spark, curated, "email", key)
        report.read[args["customer_trusted"]] = customers.count()
        written = publish_counted(curated, storage, args["customer_curated"], params, report, partitioned=False)
        report.excluded = report.read[args["customer_trusted"]] - written
    return report


def main(argv: Sequence[str]) -> None:
    run_script(argv, OPTIONS, run)


if __name__ == "__main__":
    main(sys.argv)
