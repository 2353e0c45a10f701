"""The STEDI jobs' typed parameters: what every job is given, and one class per job for the rest.

``Parameters`` holds what every job takes (``OPTIONS``, ``OPTIONAL``); each job's class adds the
locations it reads and writes (``--customer-landing`` …) and the values only it takes, declares
its names as ``OPTIONS`` and builds itself with ``from_args``. A bad value fails the run with one
line that names the argument.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date
from typing import Any, ClassVar

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


def _common(args: Mapping[str, str], *, ranged: bool) -> dict[str, Any]:
    """The fields of ``Parameters``, for a job's class to build itself with."""
    common = from_args(args, ranged=ranged)
    return {field.name: getattr(common, field.name) for field in fields(Parameters)}


@dataclass(frozen=True, kw_only=True)
class CustomerTrusted(Parameters):
    """stedi_customer_trusted: customer landing → trusted, rejects set aside; always the whole table."""

    OPTIONS: ClassVar[tuple[str, ...]] = (*OPTIONS, "customer-landing", "customer-trusted", "rejects", "max-reject-share")
    customer_landing: str
    customer_trusted: str
    rejects: str
    max_reject_share: float

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> CustomerTrusted:
        return cls(
            **_common(args, ranged=False),
            max_reject_share=max_reject_share(args),
            customer_landing=args["customer_landing"],
            customer_trusted=args["customer_trusted"],
            rejects=args["rejects"],
        )


@dataclass(frozen=True, kw_only=True)
class AccelerometerTrusted(Parameters):
    """stedi_accelerometer_trusted: accelerometer landing → trusted, of trusted customers; dates when given."""

    OPTIONS: ClassVar[tuple[str, ...]] = (
        *OPTIONS,
        "accelerometer-landing",
        "customer-trusted",
        "accelerometer-trusted",
        "rejects",
        "max-reject-share",
    )
    accelerometer_landing: str
    customer_trusted: str
    accelerometer_trusted: str
    rejects: str
    max_reject_share: float

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> AccelerometerTrusted:
        return cls(
            **_common(args, ranged=True),
            max_reject_share=max_reject_share(args),
            accelerometer_landing=args["accelerometer_landing"],
            customer_trusted=args["customer_trusted"],
            accelerometer_trusted=args["accelerometer_trusted"],
            rejects=args["rejects"],
        )


@dataclass(frozen=True, kw_only=True)
class CustomerCurated(Parameters):
    """stedi_customer_curated: trusted customers with readings; ``pseudonym_key_source`` is where the key is, None when off."""

    OPTIONS: ClassVar[tuple[str, ...]] = (
        *OPTIONS,
        "customer-trusted",
        "accelerometer-trusted",
        "customer-curated",
        "pseudonymise",
        "pseudonym-key",
    )
    customer_trusted: str
    accelerometer_trusted: str
    customer_curated: str
    pseudonym_key_source: str | None

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> CustomerCurated:
        return cls(
            **_common(args, ranged=False),
            pseudonym_key_source=pseudonym_key_source(args),
            customer_trusted=args["customer_trusted"],
            accelerometer_trusted=args["accelerometer_trusted"],
            customer_curated=args["customer_curated"],
        )


@dataclass(frozen=True, kw_only=True)
class StepTrainerTrusted(Parameters):
    """stedi_step_trainer_trusted: step-trainer landing → trusted, of curated customers' devices; dates when given."""

    OPTIONS: ClassVar[tuple[str, ...]] = (
        *OPTIONS,
        "step-trainer-landing",
        "customer-curated",
        "step-trainer-trusted",
        "rejects",
        "max-reject-share",
    )
    step_trainer_landing: str
    customer_curated: str
    step_trainer_trusted: str
    rejects: str
    max_reject_share: float

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> StepTrainerTrusted:
        return cls(
            **_common(args, ranged=True),
            max_reject_share=max_reject_share(args),
            step_trainer_landing=args["step_trainer_landing"],
            customer_curated=args["customer_curated"],
            step_trainer_trusted=args["step_trainer_trusted"],
            rejects=args["rejects"],
        )


@dataclass(frozen=True, kw_only=True)
class MachineLearningCurated(Parameters):
    """stedi_machine_learning_curated: step-trainer readings joined to accelerometer readings (``ml_join``); dates when given."""

    OPTIONS: ClassVar[tuple[str, ...]] = (
        *OPTIONS,
        "step-trainer-trusted",
        "accelerometer-trusted",
        "customer-curated",
        "machine-learning-curated",
        "pseudonymise",
        "pseudonym-key",
        "ml-join",
    )
    step_trainer_trusted: str
    accelerometer_trusted: str
    customer_curated: str
    machine_learning_curated: str
    pseudonym_key_source: str | None
    ml_join: str

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> MachineLearningCurated:
        return cls(
            **_common(args, ranged=True),
            pseudonym_key_source=pseudonym_key_source(args),
            ml_join=ml_join(args),
            step_trainer_trusted=args["step_trainer_trusted"],
            accelerometer_trusted=args["accelerometer_trusted"],
            customer_curated=args["customer_curated"],
            machine_learning_curated=args["machine_learning_curated"],
        )
