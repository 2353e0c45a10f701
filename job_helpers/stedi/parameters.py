"""The STEDI jobs' typed parameters: what every job is given, and the values only some jobs take.

Each job script names the locations it reads and writes (``--customer-landing`` …) and adds them
to ``OPTIONS``; everything else is turned into plain values here, a bad value failing the run
with one line that names the argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from job_helpers import job_arguments
from job_helpers.job_failed import JobFailed
from job_helpers.publish import ShrinkGuard
from job_helpers.run_report import scope_name
from job_helpers.stedi.settings import FORMATS, ML_JOINS

OPTIONS = ["output-format", "report", "allow-shrink"]
# The readings jobs recompute only the dates when given; --max-row-loss is config.yml's project.max_row_loss.
OPTIONAL = ["from-date", "to-date", "max-row-loss"]


@dataclass(frozen=True)
class Parameters:
    """What every STEDI job is given; ``days`` is the range a readings job recomputes (None: everything)."""

    output_format: str
    report_folder: str
    shrink_guard: ShrinkGuard = ShrinkGuard()
    days: tuple[date, date] | None = None

    @property
    def allow_shrink(self) -> bool:
        return self.shrink_guard.allowed

    @property
    def first(self) -> date | None:
        return self.days[0] if self.days else None

    @property
    def last(self) -> date | None:
        return self.days[1] if self.days else None

    @property
    def scope(self) -> str:
        """``all``, or ``<from>_<to>``: names the run's report and rejects."""
        return scope_name(self.first, self.last)


def from_args(args: Mapping[str, str], *, ranged: bool) -> Parameters:
    """The common parameters; ``ranged`` says whether the job accepts --from-date/--to-date."""
    given = [name for name in ("from-date", "to-date") if name.replace("-", "_") in args]
    if given and not ranged:
        raise JobFailed(f"--{given[0]}: this job always recomputes its whole table; drop the dates")
    days = job_arguments.optional_day_range(args)
    return Parameters(
        output_format=job_arguments.choice(args, "output-format", FORMATS),
        report_folder=args["report"],
        shrink_guard=job_arguments.shrink_guard(args),
        days=days,
    )


def max_reject_share(args: Mapping[str, str]) -> float:
    """``--max-reject-share``: the share of landing lines that may be rejected before the job fails."""
    return job_arguments.share(args, "max-reject-share")


def pseudonym_key_source(args: Mapping[str, str]) -> str | None:
    """Where the pseudonymisation key is (``--pseudonym-key``) when ``--pseudonymise true``; None when off."""
    return args["pseudonym_key"] if job_arguments.switch(args, "pseudonymise") else None


def ml_join(args: Mapping[str, str]) -> str:
    """``--ml-join``: how step-trainer and accelerometer readings pair (see ``transform.machine_learning_curated``)."""
    return job_arguments.choice(args, "ml-join", ML_JOINS)
