"""Glue job: customers who consented to research use (customer landing → trusted), rejects set aside.

    python jobs/stedi_customer_trusted.py --JOB_NAME stedi-customer-trusted \\
        --customer-landing s3://bucket/customer/landing/ --customer-trusted s3://bucket/customer/trusted/ \\
        --rejects s3://bucket/rejects/customer_trusted/ --report s3://bucket/reports/customer_trusted/ \\
        --output-format parquet --allow-shrink false --max-reject-share 0.01
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from job_helpers import runtime
from job_helpers.run_report import reconcile
from job_helpers.stedi import parameters, read, transform, write
from job_helpers.stedi.schemas import CUSTOMER_KEYS, CUSTOMER_LANDING
from job_helpers.storage import Storage

# The arguments the job takes: start_job refuses any other, and execute reads these to refuse them first.
OPTIONS, OPTIONAL = parameters.CustomerTrusted.OPTIONS, parameters.OPTIONAL


def main(argv: Sequence[str]) -> None:
    with runtime.start_job(argv, OPTIONS, optional=OPTIONAL, spark=True) as job:
        params = parameters.CustomerTrusted.from_args(job.args)
        report = job.report
        report.scope, job.report_folder = params.scope, params.report_folder
        storage = Storage()

        landing = read.landing(job.spark, params.customer_landing, CUSTOMER_LANDING, CUSTOMER_KEYS)
        records = transform.without_consent(landing.records)
        trusted = transform.customer_trusted(records.frame)

        url = params.customer_trusted
        with write.staged(trusted, storage, url, params.output_format) as table:
            write.check_reject_share(landing, storage, params.rejects, params.max_reject_share, params.scope)
            report.read[params.customer_landing] = landing.read
            report.rejected.update(landing.rejected)
            report.excluded = records["without consent"]
            report.written[url] = table.rows
            reconcile(url, landing.read, table.rows, sum(landing.rejected.values()), {"without consent": report.excluded})
            report.published[url] = table.publish(params.shrink_guard).summary()
        report.published[params.rejects] = write.publish_rejects(landing, storage, params.rejects, params.scope).summary()
        job.end()


if __name__ == "__main__":
    main(sys.argv)
