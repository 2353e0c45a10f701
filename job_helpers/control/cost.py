"""What a batch cost: DPU-hours per run and chunk, and their price.

Glue reports ``DPUSeconds`` for runs it scales (auto scaling, Flex); for the others, and for
local runs, the DPU-hours are estimated as execution time x workers x the DPUs of the worker
type, which is how Glue bills them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from job_helpers.control.config import JobSpec, Settings
from job_helpers.control.runs import RunStatus

# DPUs per worker (AWS Glue docs, "AWS Glue worker types"); R workers count in M-DPUs.
DPU_PER_WORKER = {
    "G.1X": 1,
    "G.2X": 2,
    "G.4X": 4,
    "G.8X": 8,
    "G.12X": 12,
    "G.16X": 16,
    "R.1X": 1,
    "R.2X": 2,
    "R.4X": 4,
    "R.8X": 8,
}
FLEX = "FLEX"


@dataclass(frozen=True)
class Rates:
    """USD per DPU-hour, by execution class."""

    standard: float
    flex: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Rates:
        return cls(settings.price_per_dpu_hour, settings.flex_price_per_dpu_hour)

    def of(self, execution_class: str | None) -> float:
        return self.flex if execution_class == FLEX else self.standard


def dpu_hours(run: RunStatus, job: JobSpec | None) -> float | None:
    """The run's DPU-hours: Glue's DPUSeconds if given, else execution time x workers x DPUs per worker.

    The run's own worker type and count win over the job's configured ones; None when the run
    has not started or nothing tells its size.
    """
    if run.dpu_seconds is not None:
        return run.dpu_seconds / 3600
    seconds = run.execution_seconds
    if seconds is None:
        duration = run.duration()
        seconds = duration.total_seconds() if duration is not None else None
    worker_type = run.worker_type or (job.worker_type if job else None)
    workers = run.number_of_workers or (job.number_of_workers if job else None)
    if seconds is None or worker_type not in DPU_PER_WORKER or not workers:
        return None
    return seconds * workers * DPU_PER_WORKER[worker_type] / 3600


def execution_class(run: RunStatus, job: JobSpec | None) -> str:
    return run.execution_class or (job.execution_class if job else "STANDARD")


def price(runs: Iterable[RunStatus], job: JobSpec | None, rates: Rates) -> tuple[float, float]:
    """Total DPU-hours of ``runs`` and their price at ``rates`` (runs of unknown size count 0)."""
    hours = total = 0.0
    for run in runs:
        used = dpu_hours(run, job) or 0.0
        hours += used
        total += used * rates.of(execution_class(run, job))
    return hours, total
