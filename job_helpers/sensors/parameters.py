"""The export's parameters: a chunk of days, where its readings come from, and where the grid and rejects go."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from job_helpers import job_arguments
from job_helpers.publish import ShrinkGuard
from job_helpers.run_report import scope_name

RAW_JSON, TIMESTREAM = "raw_json", "timestream"
SOURCES = (RAW_JSON, TIMESTREAM)
OPTIONS = (
    "from-date",
    "to-date",
    "source",
    "raw",
    "curated",
    "rejects",
    "timestream-database",
    "timestream-table",
)
OPTIONAL = ("allow-shrink", "max-row-loss")


@dataclass(frozen=True)
class Parameters:
    """``source`` is ``raw_json`` (JSON lines under ``raw``) or ``timestream`` (the database's table).

    ``shrink_guard``: ``--allow-shrink`` (false unless given) publishes what the input holds now
    (hours whose raw objects are gone are emptied, and the curated hours may lose more than
    ``--max-row-loss`` of their rows).
    """

    first: date
    last: date
    source: str
    raw: str
    curated: str
    rejects: str
    timestream_database: str
    timestream_table: str
    shrink_guard: ShrinkGuard

    @property
    def scope(self) -> str:
        """``<from>_<to>``: names the run in its report."""
        return scope_name(self.first, self.last)


def from_args(args: Mapping[str, str]) -> Parameters:
    first, last = job_arguments.day_range(args)
    return Parameters(
        first,
        last,
        job_arguments.choice(args, "source", SOURCES),
        args["raw"],
        args["curated"],
        args["rejects"],
        args["timestream_database"],
        args["timestream_table"],
        job_arguments.shrink_guard(args),
    )
