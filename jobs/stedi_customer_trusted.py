"""Glue job: customers who consented to research use (customer landing → trusted), rejects set aside.

    python jobs/stedi_customer_trusted.py --JOB_NAME stedi-customer-trusted \\
        --customer-landing s3://bucket/customer/landing/ --customer-trusted s3://bucket/customer/trusted/ \\
        --rejects s3://bucket/rejects/customer_trusted/ --report s3://bucket/reports/customer_trusted/ \\
        --output-format parquet --allow-shrink false --max-reject-share 0.01
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
from job_helpers.stedi.schemas import CUSTOMER_KEYS, CUSTOMER_LANDING
from job_helpers.stedi.transforms import customer_trusted
from job_helpers.storage import Storage

OPTIONS = ["customer-landing", "customer-trusted", "rejects", "max-reject-share"]


def run(spark: SparkSession, name: str, args: dict[str, str], storage: Storage) -> JobReport:
    params = RunParams.from_args(args, ranged=False)
    max_share = parse_share(args["max_reject_share"])
    with reporting(storage, name, params) as report:
        landing = load_landing(spark, args["customer_landing"], CUSTOMER_LANDING, CUSTOMER_KEYS, params, report)
        check_rejects(landing, storage, args["rejects"], max_share, params, report)
        written = publish_counted(
            customer_trusted(landing.records), storage, args["customer_trusted"], params, report, partitioned=False
        )
        publish_rejects(landing, storage, args["rejects"], params)
        report.excluded = landing.records.count() - written
    return report


def main(argv: Sequence[str]) -> None:
    run_script(argv, OPTIONS, run)


if __name__ == "__main__":
    main(sys.argv)
