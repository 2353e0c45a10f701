"""Glue job: clean a date range of Embrace exports and publish every output of their archives.

    python jobs/embrace_dedupe.py --JOB_NAME embrace-dedupe --from-date 2019-08-01 --to-date 2019-08-31 \\
        --landing s3://b/landing/ --clean s3://b/clean/ --timestream-ready s3://b/timestream/ \\
        --duplicate-log s3://b/duplicate_log/ --wear-time s3://b/wear_time/ --devices s3://b/devices/ \\
        --rejects s3://b/rejects/ --reports s3://b/reports/ --load-counts s3://b/load_counts/ \\
        --streams all --participants all --participant-regex '.*' --max-csv-bytes 1073741824 --allow-shrink false

The run reads every archive whose export period overlaps the dates. It exits with status 1,
naming them, when any archive failed; the other archives' outputs are published all the same.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from job_helpers import job_arguments, runtime
from job_helpers.embrace.archives import ArchiveNameError, Selection
from job_helpers.embrace.run import ChunkParams, run_chunk
from job_helpers.publish import PublishError
from job_helpers.storage import Storage

OUTPUTS = ("landing", "clean", "timestream-ready", "duplicate-log", "wear-time", "devices", "rejects", "reports", "load-counts")
OPTIONS = ["from-date", "to-date", *OUTPUTS, "streams", "participants", "participant-regex", "max-csv-bytes"]
OPTIONAL = ["allow-shrink"]  # false when absent


def params_from_args(args: dict[str, str]) -> ChunkParams:
    """Check the arguments and turn them into plain values; JobFailed names the bad one."""
    first, last = job_arguments.day_range(args)
    try:
        selection = Selection.from_text(args["streams"], args["participants"], args["participant_regex"])
    except ValueError as error:
        raise runtime.JobFailed(str(error)) from error
    text = args["max_csv_bytes"]
    if not text.isdigit() or int(text) < 1024:
        raise runtime.JobFailed(f"--max-csv-bytes {text!r} must be a whole number of bytes, at least 1024 (1 GB is 1073741824)")
    locations = {name.replace("-", "_"): args[name.replace("-", "_")] for name in OUTPUTS}
    allow_shrink = "allow_shrink" in args and job_arguments.switch(args, "allow-shrink")
    return ChunkParams(
        first=first, last=last, selection=selection, max_csv_bytes=int(text), allow_shrink=allow_shrink, **locations
    )


def main(argv: Sequence[str]) -> None:
    options = [*OPTIONS, *(name for name in OPTIONAL if f"--{name}" in argv)]
    with runtime.start_job(argv, options, spark=True) as job:
        params = params_from_args(job.args)
        try:
            summary = run_chunk(job.spark, Storage(), params)
            job.report.read.update(summary.rows_read)
            job.report.written.update(summary.written)
        except ArchiveNameError as error:
            raise runtime.JobFailed(f"{error}; rename or move it out of --landing {params.landing}") from error
        except PublishError as error:
            raise runtime.JobFailed(str(error)) from error
        if summary.failed:
            names = "; ".join(f"{export}: {message}" for export, message in sorted(summary.failed.items()))
            raise runtime.JobFailed(f"{len(summary.failed)} archive(s) failed, the others were published: {names}")


if __name__ == "__main__":
    main(sys.argv)
