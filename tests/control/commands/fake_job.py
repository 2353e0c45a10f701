"""A tiny job for the local-profile tests.

It resolves its days as every date-ranged job does (``job_arguments.day_range``: relative dates
from its ``--logical-time``), reports them as its scope, and records how it was started
(arguments, environment, where ``job_helpers`` came from, start and end times) as
``<output>/<JOB_NAME>.json``, sleeps ``--sleep-seconds`` to stand in for work,
and fails through ``JobFailed`` when its chunk starts on ``--fail-on`` or a file
``<output>/fail-<from-date>`` exists (remove the file to "fix" the chunk for a retry). It counts
10 records read and written, or none when ``<output>/empty-<from-date>`` exists. With
``<output>/crash-after-<from-date>`` it exits with status 3 after its run report is written, as a
library aborting at interpreter exit would.
"""

import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

import job_helpers
from job_helpers import job_arguments
from job_helpers.run_report import scope_name
from job_helpers.runtime import JobFailed, start_job

OPTIONS = ["from-date", "to-date", "output", "fail-on", "sleep-seconds"]
OPTIONAL: list[str] = []


def main(argv: Sequence[str]) -> None:
    with start_job(argv, OPTIONS, optional=OPTIONAL, spark=False) as run:
        started = datetime.now(UTC).isoformat()
        first, last = job_arguments.day_range(run.args)
        run.report.scope = scope_name(first, last)
        logging.getLogger("fake_job").info("working on %s..%s", first, last)
        print("a line on stderr", file=sys.stderr)
        time.sleep(float(run.args["sleep_seconds"]))
        record = {
            "argv": list(argv[1:]),
            "runtime": os.environ.get("JOB_HELPERS_RUNTIME"),
            "pythonpath": os.environ.get("PYTHONPATH"),
            "package": job_helpers.__file__,
            "started": started,
            "ended": datetime.now(UTC).isoformat(),
        }
        output = Path(unquote(urlparse(run.args["output"]).path))
        output.mkdir(parents=True, exist_ok=True)
        (output / f"{run.name}.json").write_text(json.dumps(record))
        day = first.isoformat()
        read = 0 if (output / f"empty-{day}").exists() else 10
        run.report.read["input"] = read
        run.report.written[run.args["output"]] = read
        if day == run.args["fail_on"] or (output / f"fail-{day}").exists():
            raise JobFailed(f"chunk {first}..{last} failed on purpose")
    if (output / f"crash-after-{day}").exists():
        os._exit(3)


if __name__ == "__main__":
    main(sys.argv)
