"""A tiny job that publishes one row per chunk through ``job_helpers.publish`` into ``--output``.

Its chunk's day is one scope (``dt=<from-date>/``). When the chunk starts on ``--die-on`` the
process ends at once (``os._exit``, as a kill would) right before its first file is moved, so
its claim is left behind, under ``--lease-seconds``.
"""

import os
import sys

from job_helpers.publish import Lease, NewFile, new_run_id, publish, staging_url
from job_helpers.runtime import start_job
from job_helpers.storage import Storage


class Dying(Storage):
    def move(self, source: str, target: str) -> None:
        os._exit(9)


OPTIONS = ["from-date", "to-date", "output", "die-on", "lease-seconds"]
OPTIONAL: list[str] = []


def main(argv: list[str]) -> None:
    with start_job(argv, OPTIONS, optional=OPTIONAL, spark=False) as run:
        day = run.args["from_date"]
        table = run.args["output"]
        run_id = new_run_id(day)
        path = f"dt={day}/part-00000.json"
        Storage().write_text(staging_url(table, run_id) + path, f"{run.name}\n")
        storage = Dying() if day == run.args["die_on"] else Storage()
        lease = Lease(seconds=float(run.args["lease_seconds"]), wait=0)
        published = publish(storage, table, run_id, {path: NewFile(path, 1)}, [f"dt={day}/"], lease=lease)
        run.report.read["input"] = run.report.written[table] = 1
        run.report.published[table] = published.summary()


if __name__ == "__main__":
    main(sys.argv)
