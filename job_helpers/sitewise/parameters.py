"""The repartition job's parameters, typed and checked before any file is touched."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from job_helpers import job_arguments
from job_helpers.run_report import scope_name
from job_helpers.sitewise.keys import Layout
from job_helpers.sitewise.series import SERIES_SOURCES, TIMESERIES_TYPES

OPTIONS = (
    "from-date",
    "to-date",
    "cold-tier",
    "repartitioned",
    "index",
    "timeseries-type",
    "series-source",
    "max-workers",
)
OPTIONAL = ("repair-days",)  # false when absent


@dataclass(frozen=True)
class Parameters:
    """Days ``first`` to ``last`` (both included) of the series of one type, merged under ``layout``.

    ``max_workers`` bounds the downloads in flight across all days of the run. ``repair_days``
    reads back every file the days already committed and rebuilds those that fail.
    """

    first: date
    last: date
    layout: Layout
    timeseries_type: str
    series_source: str
    max_workers: int
    repair_days: bool = False

    @property
    def scope(self) -> str:
        """``<from>_<to>``: names the run in its report."""
        return scope_name(self.first, self.last)


def from_args(args: Mapping[str, str]) -> Parameters:
    """The parameters from the resolved job arguments; ``JobFailed`` names a bad one."""
    first, last = job_arguments.day_range(args)
    return Parameters(
        first=first,
        last=last,
        layout=Layout(args["cold_tier"], args["repartitioned"], args["index"]),
        timeseries_type=job_arguments.choice(args, "timeseries-type", TIMESERIES_TYPES),
        series_source=job_arguments.choice(args, "series-source", SERIES_SOURCES),
        max_workers=job_arguments.positive_int(args, "max-workers"),
        repair_days=job_arguments.optional_switch(args, "repair-days"),
    )
