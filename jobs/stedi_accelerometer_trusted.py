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

from pyspark.sql import SparkSession

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
from job_helpers.stedi.schemas import ACCELEROMETER_KEYS, ACCELEROMETER_LANDING, CUSTOMER_TRUSTED
from job_helpers.stedi.tables import read_table
from job_helpers.stedi.transforms import accelerometer_trusted
from job_helpers.storage import Storage

OPTIONS = ["accelerometer-landing", "customer-trusted", "accelerometer-trusted", "rejects", "max-reject-share"]


def run(spark: SparkSession, name: str, args: dict[str, str], storage: Storage) -> JobReport:
    params = RunParams.from_args(args, ranged=True)
    max_share = parse_share(args["max_reject_share"])
    with reporting(storage, name, params) as report:
        landing = load_landing(
            spark, args["accelerometer_landing"], ACCELEROMETER_LANDING, ACCELEROMETER_KEYS, params, report, "timestamp"
        )
        check_rejects(landing, storage, args["rejects"], max_share, params, report)
        customers = read_table(spark, args["customer_trusted"], params.output_format, CUSTOMER_TRUSTED, "stedi_customer_trusted")
        trusted = accelerometer_trusted(landing.records, customers)
        written = publish_counted(trusted, storage, args["accelerometer_trusted"], params, report, partitioned=True)
        publish_rejects(landing, storage, args["rejects"], params)
        report.excluded = landing.records.count() - written
    return report


def main(argv: Sequence[str]) -> None:
    run_script(argv, OPTIONS, run)


if __name__ == "__main__":
    main(sys.argv)
