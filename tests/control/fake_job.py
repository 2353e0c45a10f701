"""A tiny job for the local-profile tests.

It records how it was started (arguments, environment, where ``job_helpers`` came from, start
and end times) as ``<output>/<JOB_NAME>.json``, sleeps ``--sleep-seconds`` to stand in for work,
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
from job_helpers.runtime import JobFailed, start_job

OPTIONS = ["from-date", "to-date", "output", "fail-on", "sleep-seconds"]
OPTIONAL: list[str] = []


def main(argv: Sequence[str]) -> None:
    with start_job(argv, OPTIONS, optional=OPTIONAL, spark=False) as run:
        started = datetime.now(UTC).isoformat()
        logging.getLogger("fake_job").info("working on %s..%s", run.args["from_date"], run.args["to_date"])
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
        read = 0 if (output / f"empty-{run.args['from_date']}").exists() else 10
        run.report.read["input"] = read
        run.report.written[run.args["output"]] = read
        if run.args["from_date"] == run.args["fail_on"] or (output / f"fail-{run.args['from_date']}").exists():
            raise JobFailed(f"chunk {run.args['from_date']}..{run.args['to_date']} failed on purpose")
    if (output / f"crash-after-{run.args['from_date']}").exists():
        os._exit(3)


if __name__ == "__main__":
    main(sys.argv)
