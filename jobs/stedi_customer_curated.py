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

from job_helpers import runtime
from job_helpers.run_report import reconcile
from job_helpers.stedi import parameters, pseudonym, read, transform, write
from job_helpers.stedi.schemas import ACCELEROMETER_TRUSTED, CUSTOMER_TRUSTED
from job_helpers.storage import Storage

# The arguments the job takes: start_job refuses any other, and execute reads these to refuse them first.
OPTIONS, OPTIONAL = parameters.CustomerCurated.OPTIONS, parameters.OPTIONAL


def main(argv: Sequence[str]) -> None:
    with runtime.start_job(argv, OPTIONS, optional=OPTIONAL, spark=True) as job:
        params = parameters.CustomerCurated.from_args(job.args)
        report, spark = job.report, job.spark
        report.scope, job.report_folder = params.scope, params.report_folder
        fmt, storage = params.output_format, Storage()

        key = pseudonym.resolve_key(params.pseudonym_key_source) if params.pseudonym_key_source is not None else None
        customers = read.read_table(spark, storage, params.customer_trusted, fmt, CUSTOMER_TRUSTED, "stedi_customer_trusted")
        readings = read.read_table(
            spark, storage, params.accelerometer_trusted, fmt, ACCELEROMETER_TRUSTED, "stedi_accelerometer_trusted"
        ).select("user")

        kept = transform.curated_customers(customers, readings)
        # The curated customers are trusted ones: their emails are collected from the table read, not the rule's result.
        curated = pseudonym.pseudonymise(spark, kept.rows, "email", key, customers) if key is not None else kept.rows

        url = params.customer_curated
        with write.staged(curated, storage, url, fmt) as table:
            read_rows = report.read[params.customer_trusted] = kept.left_out["read"]
            dropped = {reason: kept.left_out[reason] for reason in ("without readings", "older duplicates")}
            report.excluded = dropped["without readings"]
            report.details["older_duplicates"] = dropped["older duplicates"]
            report.written[url] = table.rows
            reconcile(url, read_rows, table.rows, 0, dropped)
            report.published[url] = table.publish(params.shrink_guard).summary()
        job.end()


if __name__ == "__main__":
    main(sys.argv)
