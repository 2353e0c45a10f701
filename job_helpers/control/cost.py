"""What a batch cost: the DPU-hours Glue bills per run and chunk, and their price in the run's region.

Glue bills Spark and Python shell runs of Glue 2.0 and later per second with a one-minute minimum
(https://aws.amazon.com/glue/pricing/). It reports ``DPUSeconds`` for runs it scales (auto scaling,
Flex); for the others the DPU-hours are execution time x workers x the DPUs of the worker type.
R worker types are billed in memory-optimised DPUs (M-DPU) at a price of their own. Figures for
a run still going, or for a local run (priced as Glue would price it), are estimates, and say so.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from job_helpers.control.config import GluePrices, JobSpec, Settings
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
MEMORY_OPTIMISED = frozenset(name for name in DPU_PER_WORKER if name.startswith("R."))
MINIMUM_BILLED_SECONDS = 60
FLEX = "FLEX"


@dataclass(frozen=True)
class Rates:
    """USD per DPU-hour in one region; ``prices`` is None when config.yml lists none for it."""

    region: str
    prices: GluePrices | None
    estimated: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> Rates:
        """The prices of the region the runs ran in; local runs are estimates at the local price region."""
        return cls(settings.price_region, settings.glue_prices.get(settings.price_region), settings.profile == "local")

    def of(self, execution_class: str, memory_optimised: bool) -> float | None:
        if self.prices is None:
            return None
        if memory_optimised:
            return self.prices.memory_optimized
        return self.prices.flex if execution_class == FLEX else self.prices.standard


@dataclass(frozen=True)
class Billed:
    """A run's billed DPU-hours (M-DPU-hours for R workers), and whether they are an estimate."""

    dpu_hours: float
    memory_optimised: bool
    estimate: bool


def billed(run: RunStatus, job: JobSpec | None, now: datetime | None = None) -> Billed | None:
    """The run's billed DPU-hours, the one-minute minimum applied; None when nothing tells its size.

    Glue's ``DPUSeconds`` win when given; else execution time (or the time since it started, for
    a run still going) x workers x DPUs per worker. The run's own worker type and count win over
    the job's configured ones.
    """
    worker_type = run.worker_type or (job.worker_type if job else None)
    memory_optimised = worker_type in MEMORY_OPTIMISED
    seconds, estimate = _seconds(run, now or datetime.now(UTC))
    if run.dpu_seconds is not None:
        scale = MINIMUM_BILLED_SECONDS / seconds if seconds and seconds < MINIMUM_BILLED_SECONDS else 1.0
        return Billed(run.dpu_seconds * scale / 3600, memory_optimised, estimate)
    workers = run.number_of_workers or (job.number_of_workers if job else None)
    if seconds is None or worker_type not in DPU_PER_WORKER or not workers:
        return None
    seconds = max(seconds, MINIMUM_BILLED_SECONDS)
    return Billed(seconds * workers * DPU_PER_WORKER[worker_type] / 3600, memory_optimised, estimate)


def _seconds(run: RunStatus, now: datetime) -> tuple[float | None, bool]:
    """The run's execution seconds, and whether they are counted up to ``now`` (the run goes on).

    Glue reports an ExecutionTime of 0 while a run goes on, so a running run counts from its start.
    """
    if run.ended and run.execution_seconds is not None:
        return run.execution_seconds, False
    duration = run.duration(now)
    return (None if duration is None else duration.total_seconds()), not run.ended


def execution_class(run: RunStatus, job: JobSpec | None) -> str:
    return run.execution_class or (job.execution_class if job else "STANDARD")


@dataclass(frozen=True)
class Cost:
    """DPU-hours of some runs, the price of those with a known rate, and what made it approximate."""

    dpu_hours: float = 0.0
    price_usd: float = 0.0
    unpriced_dpu_hours: float = 0.0
    estimate: bool = False

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            self.dpu_hours + other.dpu_hours,
            self.price_usd + other.price_usd,
            self.unpriced_dpu_hours + other.unpriced_dpu_hours,
            self.estimate or other.estimate,
        )


def cost(runs: Iterable[RunStatus], job: JobSpec | None, rates: Rates, now: datetime | None = None) -> Cost:
    """What ``runs`` cost at ``rates``: runs of unknown size count 0 and make the total an estimate."""
    total = Cost(estimate=rates.estimated)
    for run in runs:
        used = billed(run, job, now)
        if used is None:
            total += Cost(estimate=run.started_on is not None)
            continue
        rate = rates.of(execution_class(run, job), used.memory_optimised)
        if rate is None:
            total += Cost(used.dpu_hours, 0.0, used.dpu_hours, used.estimate)
        else:
            total += Cost(used.dpu_hours, used.dpu_hours * rate, 0.0, used.estimate)
    return total


def rates_summary(rates: Rates) -> Mapping[str, object]:
    """The rates as the JSON summary and the status line show them."""
    prices = rates.prices
    return {
        "region": rates.region,
        "STANDARD": prices.standard if prices else None,
        "FLEX": prices.flex if prices else None,
        "MEMORY_OPTIMIZED": prices.memory_optimized if prices else None,
        "estimated": rates.estimated,
    }
