"""What every STEDI job script shares: its arguments, landing rejects, counted publishing, its report.

Job scripts resolve their arguments with the runtime, then compose these helpers with the pure
transforms; nothing here knows whether it runs on Glue or on a laptop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import StructType

from job_helpers import job_arguments
from job_helpers.publish import ShrinkGuard
from job_helpers.relative_dates import FORMS, NotADate, resolve_day
from job_helpers.stedi.errors import StediError
from job_helpers.stedi.landing import parse_landing, read_lines
from job_helpers.stedi.pseudonym import resolve_key
from job_helpers.stedi.report import FAILED, JobReport, scope_name, write_report
from job_helpers.stedi.schemas import PARTITION_COLUMN
from job_helpers.stedi.tables import FORMATS, publish_table
from job_helpers.stedi.transforms import in_dates, reading_date
from job_helpers.storage import Storage, join

log = logging.getLogger(__name__)

DATE_OPTIONS = ("from-date", "to-date")
COMMON_OPTIONS = ("output-format", "report", "allow-shrink")


JobBody = Callable[[SparkSession, str, dict[str, str], Storage], JobReport]


class RejectsExceeded(StediError):
    """More landing records were rejected than the configured share allows."""


def job_options(argv: Sequence[str], options: Sequence[str]) -> list[str]:
    """The options to resolve: the job's own, the common ones, and whichever dates are given.

    ``--from-date``/``--to-date`` are optional (without them the job recomputes everything), but
    ``getResolvedOptions`` only accepts required options, so they are added when present;
    ``RunParams.from_args`` then checks they come as a pair.
    """
    return [*options, *COMMON_OPTIONS, *[option for option in DATE_OPTIONS if f"--{option}" in argv]]


def run_script(argv: Sequence[str], options: Sequence[str], body: JobBody) -> None:
    """A job script's ``main``: start the job, run ``body``, turn a StediError into one failure line."""
    from job_helpers import runtime

    with runtime.start_job(argv, job_options(argv, options), spark=True) as job:
        try:
            report = body(job.spark, job.name, job.args, Storage())
        except StediError as error:
            raise runtime.JobFailed(str(error)) from error
        job.report.read.update(report.read)
        job.report.written.update(report.written)


@dataclass(frozen=True)
class RunParams:
    """The plain values every STEDI job needs, resolved from its arguments."""

    output_format: str
    report_folder: str
    first: date | None = None
    last: date | None = None
    allow_shrink: bool = False

    @property
    def scope(self) -> str:
        return scope_name(self.first, self.last)

    @classmethod
    def from_args(cls, args: dict[str, str], *, ranged: bool) -> RunParams:
        """Check the common arguments; ``ranged`` says whether the job accepts --from-date/--to-date."""
        given = [name for name in ("from_date", "to_date") if name in args]
        if given and not ranged:
            raise StediError(f"--{given[0].replace('_', '-')}: this job always recomputes its whole table; drop the dates")
        if len(given) == 1:
            raise StediError(f"--{given[0].replace('_', '-')} needs its partner: give both --from-date and --to-date, or neither")
        fmt = args["output_format"]
        if fmt not in FORMATS:
            raise StediError(f"--output-format {fmt!r} is not one of {', '.join(FORMATS)}")
        first = _date(args, "from_date") if "from_date" in args else None
        last = _date(args, "to_date") if "to_date" in args else None
        if first and last and last < first:
            raise StediError(f"--to-date {last} is before --from-date {first}: swap them")
        return cls(fmt, args["report"], first, last, job_arguments.switch(args, "allow-shrink"))


def _date(args: dict[str, str], name: str) -> date:
    value = args[name]
    try:
        return resolve_day(value)
    except NotADate as error:
        raise StediError(f"--{name.replace('_', '-')} {value!r} is not a date; give {FORMS}") from error


def parse_share(text: str) -> float:
    try:
        share = float(text)
    except ValueError:
        share = -1.0
    if not 0.0 <= share <= 1.0:
        raise StediError(f"--max-reject-share {text!r} must be a number from 0 to 1, e.g. 0.01 for 1%")
    return share


@contextmanager
def reporting(storage: Storage, job_name: str, params: RunParams) -> Iterator[JobReport]:
    """Yield the run's report and publish it at the end, marked FAILED if a StediError escapes."""
    report = JobReport(job_name, params.scope)
    try:
        yield report
    except StediError as error:
        report.status, report.message = FAILED, str(error)
        write_report(storage, params.report_folder, report)
        raise
    write_report(storage, params.report_folder, report)
    log.info(
        "%s %s: read %s, rejected %d, excluded %d, wrote %s",
        job_name,
        report.scope,
        report.read,
        report.rejected,
        report.excluded,
        report.written,
    )


@dataclass(frozen=True)
class Landing:
    """Parsed landing records (of the run's dates), their rejects, and the number of lines read in all."""

    records: DataFrame
    rejects: DataFrame
    lines: int


def load_landing(
    spark: SparkSession,
    url: str,
    schema: StructType,
    keys: tuple[str, ...],
    params: RunParams,
    report: JobReport,
    date_column: str | None = None,
) -> Landing:
    """Parse and count a landing folder; with ``date_column`` keep the records of the run's dates.

    Rejects have no trustworthy date, so every run reports all of them; the reject share is taken
    over every line read, so a one-day run is not failed by bad lines of other days.
    """
    records, rejects = parse_landing(read_lines(spark, url), schema, keys)
    records, rejects = records.cache(), rejects.cache()
    by_reason = {row["reason"]: row["count"] for row in rejects.groupBy("reason").count().collect()}
    report.rejected = sum(by_reason.values())
    report.rejected_by_reason = dict(sorted(by_reason.items()))
    lines = records.count() + report.rejected
    if date_column is not None and params.first is not None:
        records = in_dates(records.withColumn(PARTITION_COLUMN, reading_date(date_column)), params.first, params.last)
        report.read[url] = records.count() + report.rejected
    else:
        report.read[url] = lines
    return Landing(records, rejects, lines)


def check_rejects(
    landing: Landing, storage: Storage, rejects_folder: str, max_share: float, params: RunParams, report: JobReport
) -> None:
    """Fail when the rejects exceed ``max_share`` of the lines, publishing them (and nothing else) to look at."""
    if landing.lines and report.rejected / landing.lines > max_share:
        publish_rejects(landing, storage, rejects_folder, params)
        reasons = ", ".join(f"{count} {reason}" for reason, count in report.rejected_by_reason.items())
        raise RejectsExceeded(
            f"{report.rejected} of {landing.lines} landing records rejected ({reasons}), over the allowed share "
            f"{max_share:.2%}; see {rejects_folder}{params.scope}/ and fix the input, or raise stedi.max_reject_share"
        )


def publish_rejects(landing: Landing, storage: Storage, rejects_folder: str, params: RunParams) -> None:
    """Publish the run's rejects, replacing the last run's however fewer; after the table, so a refused
    table leaves them as they were."""
    publish_table(landing.rejects, storage, join(rejects_folder, params.scope + "/"), "json")


def publish_counted(frame: DataFrame, storage: Storage, url: str, params: RunParams, report: JobReport, partitioned: bool) -> int:
    """Publish ``frame`` (the run's dates only when partitioned and ranged) and record its row count.

    The shrink guard refuses a run whose files hold under a tenth of the bytes of those they replace
    (landing data that expired or went missing), unless ``--allow-shrink true``.
    """
    frame = frame.cache()
    count = frame.count()
    guard = ShrinkGuard(allowed=params.allow_shrink)
    if partitioned:
        publish_table(
            frame, storage, url, params.output_format, partitioned=True, first=params.first, last=params.last, shrink_guard=guard
        )
    else:
        publish_table(frame, storage, url, params.output_format, shrink_guard=guard)
    frame.unpersist()
    report.written[url] = count
    return count


def pseudonym_key(args: dict[str, str]) -> bytes | None:
    """The key when ``--pseudonymise true``; None when pseudonymisation is switched off."""
    if not job_arguments.switch(args, "pseudonymise"):
        return None
    return resolve_key(args["pseudonym_key"])
