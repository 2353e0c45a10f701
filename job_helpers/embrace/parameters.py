"""The typed parameters of the embrace_dedupe job, from its ``--name value`` arguments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from job_helpers import job_arguments
from job_helpers.embrace.archives import Selection
from job_helpers.embrace.limits import MINIMUMS, ArchiveLimits
from job_helpers.embrace.outputs import OUTPUTS, argument
from job_helpers.job_failed import JobFailed
from job_helpers.publish import ShrinkGuard
from job_helpers.run_report import scope_name

OPTIONS = [
    "from-date",
    "to-date",
    "landing",
    *(argument(name) for name in OUTPUTS),
    "streams",
    "participants",
    "participant-regex",
    "max-csv-bytes",
    *(name.replace("_", "-") for name in MINIMUMS),
]
OPTIONAL = ["allow-shrink", "max-row-loss"]  # false, and the shrink guard's default, when absent
MIN_CSV_BYTES = 1024


@dataclass(frozen=True)
class Parameters:
    """One run: its dates, the landing location, every output's URL (keyed as ``OUTPUTS``), and what to read."""

    first: date
    last: date
    landing: str
    outputs: Mapping[str, str]
    selection: Selection = field(default_factory=Selection)
    max_csv_bytes: int = 1 << 30
    allow_shrink: bool = False
    max_row_loss: float = ShrinkGuard().max_loss
    limits: ArchiveLimits = field(default_factory=ArchiveLimits)

    def __post_init__(self) -> None:
        missing = sorted(set(OUTPUTS) - set(self.outputs))
        if missing:
            raise ValueError(f"no location for the output(s) {', '.join(missing)}")

    @property
    def scope(self) -> str:
        return scope_name(self.first, self.last)


def from_args(args: Mapping[str, str]) -> Parameters:
    """Check the arguments and turn them into plain values; JobFailed names the bad one."""
    first, last = job_arguments.day_range(args)
    try:
        selection = Selection.from_text(args["streams"], args["participants"], args["participant_regex"])
    except ValueError as error:
        raise JobFailed(str(error)) from error
    return Parameters(
        first=first,
        last=last,
        landing=args["landing"],
        outputs={name: args[name] for name in OUTPUTS},
        selection=selection,
        max_csv_bytes=job_arguments.whole_number(args, "max-csv-bytes", MIN_CSV_BYTES, "1 GB is 1073741824"),
        allow_shrink=job_arguments.optional_switch(args, "allow-shrink"),
        max_row_loss=job_arguments.shrink_guard(args).max_loss,
        limits=ArchiveLimits(
            **{name: job_arguments.whole_number(args, name.replace("_", "-"), least) for name, least in MINIMUMS.items()}
        ),
    )
