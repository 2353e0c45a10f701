"""Glue job: sensor readings to one interpolated row per sensor and second, partitioned by hour.

    python jobs/sensor_timeseries_export.py --JOB_NAME sensor-export \\
        --from-date 2024-03-01 --to-date 2024-03-01 --source raw_json \\
        --raw s3://bucket/raw/ --curated s3://bucket/curated/ --rejects s3://bucket/rejects/ \\
        --timestream-database sensors --timestream-table readings --allow-shrink false

``--source raw_json`` reads the JSON lines under ``--raw``; ``--source timestream`` queries the
Timestream table instead. Both feed the same transform and write the same outputs. Hours whose raw
objects are gone keep their published partitions, and a run whose curated files would hold under
a tenth of what they replace is refused; ``--allow-shrink true`` publishes what the input holds now.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from job_helpers import job_arguments, runtime
from job_helpers.publish import PublishError
from job_helpers.sensors.export import HourBatch, NoReadings, export_chunk, hours_without_raw, raw_batches
from job_helpers.sensors.raw_source import list_raw_files
from job_helpers.sensors.timestream import TimestreamError, read_timestream, timestream_client
from job_helpers.storage import Storage, StorageError

SOURCES = ("raw_json", "timestream")
OPTIONS = [
    "from-date",
    "to-date",
    "source",
    "raw",
    "curated",
    "rejects",
    "timestream-database",
    "timestream-table",
    "allow-shrink",
]


def main(argv: Sequence[str]) -> None:
    with runtime.start_job(argv, OPTIONS, spark=True) as job:
        args = job.args
        first, last = job_arguments.day_range(args)
        source = job_arguments.choice(args, "source", SOURCES)
        allow_shrink = job_arguments.switch(args, "allow-shrink")
        unread: set[int] = set()
        batches: Sequence[HourBatch]
        try:
            if source == "raw_json":
                files = list_raw_files(Storage(), args["raw"], first, last)
                batches = raw_batches(files, first, last, tasks=2 * job.spark.sparkContext.defaultParallelism)
                unread = hours_without_raw(files, first, last)
            else:
                client = timestream_client()
                batches = read_timestream(client, args["timestream_database"], args["timestream_table"], first, last)
        except (StorageError, TimestreamError) as error:
            raise runtime.JobFailed(f"cannot read the {source} readings: {error}") from error
        try:
            summary = export_chunk(
                job.spark, batches, first, last, args["curated"], args["rejects"], unread=unread, allow_shrink=allow_shrink
            )
        except NoReadings as error:
            raise runtime.JobFailed(f"{error} (--source {source})") from error
        except PublishError as error:
            raise runtime.JobFailed(str(error)) from error
        job.report.read[args["raw"] if source == "raw_json" else args["timestream_table"]] = summary.readings_in
        job.report.written[args["curated"]] = summary.rows_out


if __name__ == "__main__":
    main(sys.argv)
