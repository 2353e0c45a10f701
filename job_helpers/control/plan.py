"""What ``execute`` will create: a date range cut into chunks, one named job run per chunk.

Pure logic only (no AWS, no files), so every rule about dates, names and arguments is checked
before anything is created and can be unit-tested directly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta

from job_helpers.config_fields import is_number
from job_helpers.control.config import JobSpec
from job_helpers.relative_dates import (
    LOGICAL_TIME,
    DayOutOfRange,
    NotADate,
    is_relative,
    logical_day,
    resolve_day,
    utc_today,
)
from job_helpers.run_report import RUN_REPORTS_ARGUMENT

# A chunk never needs more days than the calendar holds.
MAX_DAYS_PER_JOB = (date.max - date.min).days + 1
MAX_NAME_BYTES = 255
FROM_ARGUMENT = "--from-date"
TO_ARGUMENT = "--to-date"
LOGICAL_TIME_ARGUMENT = f"--{LOGICAL_TIME}"
BATCH_TAG = "batch"
JOB_TAG = "job"
# Carried by the job a schedule starts (its value is the job key); cleanup never deletes such a job.
SCHEDULE_TAG = "schedule"
# Carried by the jobs of a batch that ran days of a schedule (value: the job key): a crontab line's
# firing or a catch-up. Ordinary batch jobs, which cleanup deletes once their runs have ended.
FOR_SCHEDULE_TAG = "for-schedule"
UNSAFE_NAME = re.compile(r"[/\\\x00-\x1f\x7f]")
# A name job_name made: <name_prefix>-<batch id>, then -<from>-<to> for a chunk of days.
BATCH_NAME = re.compile(r"(?P<prefix>.+)-(?P<batch>\d{8}T\d{6}\.\d{3}Z)(?:-\d{8}-\d{8})?")
# Service Quotas' name and code of the Glue quota that counts every job of the account, and its
# default (https://docs.aws.amazon.com/general/latest/gr/glue.html: "Max jobs per account", 1,000).
JOBS_QUOTA_NAME = "Max jobs per account"
JOBS_QUOTA_CODE = "L-611FDDE4"
DEFAULT_JOBS_QUOTA = 1000


class PlanError(ValueError):
    """The requested run cannot be planned; the message says which input to change."""


@dataclass(frozen=True)
class Chunk:
    """An inclusive range of days handled by one job run."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class PlannedRun:
    """One job to create and start: its full name, for date-ranged jobs its chunk, and the
    ``--logical-time`` of the schedule's firing it runs for, if a schedule started it."""

    name: str
    chunk: Chunk | None
    logical_time: str = ""

    @property
    def arguments(self) -> dict[str, str]:
        """The run arguments Glue receives on top of the job's default arguments."""
        if self.chunk is None:
            return {}
        dates = {FROM_ARGUMENT: self.chunk.start.isoformat(), TO_ARGUMENT: self.chunk.end.isoformat()}
        return {**dates, LOGICAL_TIME_ARGUMENT: self.logical_time} if self.logical_time else dates

    def as_json(self) -> dict[str, str | None]:
        chunk = self.chunk
        return {
            "name": self.name,
            "from": chunk.start.isoformat() if chunk else None,
            "to": chunk.end.isoformat() if chunk else None,
        }


def rerun_of(name: str, arguments: Mapping[str, str]) -> PlannedRun:
    """The planned run behind an existing run of job ``name``, from the dates and logical time it was started with."""
    return PlannedRun(name, run_days(arguments), arguments.get(LOGICAL_TIME_ARGUMENT, ""))


def run_days(arguments: Mapping[str, str], started_on: datetime | None = None) -> Chunk | None:
    """The days a run with these arguments covers, as its job counts them; None without (readable) dates.

    Relative dates count from the day of the run's ``--logical-time`` (a schedule's firing); a run
    without one (a Glue trigger's, before schedules passed their time) resolved them against the
    UTC day it started on, ``started_on``; unknown while it has not started.
    """
    start, end = arguments.get(FROM_ARGUMENT), arguments.get(TO_ARGUMENT)
    if not start or not end:
        return None
    logical = arguments.get(LOGICAL_TIME_ARGUMENT)
    try:
        today = logical_day(logical) if logical else started_on.astimezone(UTC).date() if started_on else None
        if today is None and (is_relative(start) or is_relative(end)):
            return None
        return Chunk(resolve_day(start, today), resolve_day(end, today))
    except NotADate:
        return None


def parse_date(text: str, option: str, today: date | None = None) -> date:
    """A ``YYYY-MM-DD`` date, or ``today``, ``yesterday``, ``today-N`` (UTC, against ``today`` when given).

    The grammar is ``relative_dates``', the jobs' own; anything else is a PlanError naming the option
    and the accepted forms.
    """
    try:
        return resolve_day(text, today)
    except DayOutOfRange as error:
        raise PlanError(f"{option} {error}") from None
    except NotADate:
        raise PlanError(f"{option} {text!r}: expected a date like 2022-01-31 (YYYY-MM-DD), today, yesterday or today-N") from None


def parse_days(text: str) -> int:
    """The --days-per-job value: a positive whole number, at most the days of the whole calendar."""
    digits = (text or "").strip().lstrip("0")
    if not re.fullmatch(r"\s*\d+\s*", text or "") or not digits:
        raise PlanError(f"--days-per-job {text!r}: expected a positive whole number of days")
    if len(digits) > len(str(MAX_DAYS_PER_JOB)) or int(digits) > MAX_DAYS_PER_JOB:
        raise PlanError(f"--days-per-job {text!r}: at most {MAX_DAYS_PER_JOB} (every day from year 1 to 9999)")
    return int(digits)


def split_range(start: date, end: date, days_per_job: int) -> list[Chunk]:
    """Consecutive chunks of at most ``days_per_job`` days covering start..end; the last ends at ``end``."""
    if not is_number(days_per_job, whole=True, least=1):
        raise PlanError(f"--days-per-job {days_per_job!r}: expected a positive whole number of days")
    if start > end:
        raise PlanError(f"--from {start.isoformat()} is after --to {end.isoformat()}: swap them")
    chunks = []
    chunk_start = start
    while True:
        chunk_end = chunk_start + timedelta(days=min(days_per_job - 1, (end - chunk_start).days))
        chunks.append(Chunk(chunk_start, chunk_end))
        if chunk_end == end:
            return chunks
        chunk_start = chunk_end + timedelta(days=1)


def new_batch_id(now: datetime | None = None) -> str:
    """A UTC timestamp with milliseconds, e.g. ``20261125T101500.123Z``.

    Milliseconds keep two batches started in the same second apart, and the fixed width makes
    batch ids sort in time order, which is how ``status`` finds the latest one. A clash within
    one millisecond is not silent: the job names collide and creation fails.
    """
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return now.strftime("%Y%m%dT%H%M%S.") + f"{now.microsecond // 1000:03d}Z"


def job_name(name_prefix: str, batch: str, chunk: Chunk | None) -> str:
    """``<prefix>-<batch>-<from>-<to>`` with compact dates; without a chunk, ``<prefix>-<batch>``."""
    name = f"{name_prefix}-{batch}"
    if chunk is not None:
        name += f"-{chunk.start:%Y%m%d}-{chunk.end:%Y%m%d}"
    return name


def check_job_name(name: str) -> None:
    """Glue limits names to 255 bytes; locally the name is also a log file name."""
    size = len(name.encode("utf-8"))
    if size > MAX_NAME_BYTES:
        raise PlanError(
            f"job name {name[:60]}... is {size} bytes, over Glue's limit of {MAX_NAME_BYTES}: "
            "shorten project.prefix or the job's name_prefix in config.yml"
        )
    if UNSAFE_NAME.search(name):
        raise PlanError(f"job name {name!r} contains '/', '\\' or a control character: change the job's name_prefix")


def plan_runs(
    job: JobSpec,
    batch: str,
    start: str | None,
    end: str | None,
    days_per_job: str | None,
    today: date | None = None,
    logical_time: str = "",
) -> list[PlannedRun]:
    """Validate the request for ``job`` and return the runs to create, in date order.

    Relative dates (``today-7``, ``yesterday``) are resolved here, once, against ``today``
    (default: the current UTC date), so every chunk of the batch sees the same day. A batch a
    schedule started passes its firing's ``logical_time``, which every run carries.

    A date-ranged job needs --from and --to (--days-per-job defaults to 1). A job that is not
    date-ranged runs once without dates, so giving it any of the three is an error rather than
    something silently ignored.
    """
    if not job.date_ranged:
        given = [
            option for option, value in (("--from", start), ("--to", end), ("--days-per-job", days_per_job)) if value is not None
        ]
        if given:
            raise PlanError(f"job {job.key!r} is not date-ranged and runs once without dates: drop {', '.join(given)}")
        runs = [PlannedRun(job_name(job.name_prefix, batch, None), None)]
    else:
        if start is None or end is None:
            missing = [option for option, value in (("--from", start), ("--to", end)) if value is None]
            raise PlanError(f"job {job.key!r} is date-ranged: give {' and '.join(missing)} (YYYY-MM-DD)")
        days = 1 if days_per_job is None else parse_days(days_per_job)
        today = today or utc_today()
        chunks = split_range(parse_date(start, "--from", today), parse_date(end, "--to", today), days)
        runs = [PlannedRun(job_name(job.name_prefix, batch, chunk), chunk, logical_time) for chunk in chunks]
    for run in runs:
        check_job_name(run.name)
    return runs


def stretches(days: Iterable[date]) -> list[Chunk]:
    """Consecutive days as ranges, in order: the 1st, 2nd, 3rd and 5th → 1st to 3rd, 5th to 5th."""
    found: list[Chunk] = []
    for day in sorted(set(days)):
        if found and found[-1].end + timedelta(days=1) == day:
            found[-1] = Chunk(found[-1].start, day)
        else:
            found.append(Chunk(day, day))
    return found


def plan_days(job: JobSpec, batch: str, days: Iterable[date], days_per_job: int) -> list[PlannedRun]:
    """The runs covering exactly ``days`` (gaps allowed), in date order: each stretch of consecutive
    days cut into chunks of at most ``days_per_job``, never a chunk across a gap."""
    chunks = [chunk for stretch in stretches(days) for chunk in split_range(stretch.start, stretch.end, days_per_job)]
    runs = [PlannedRun(job_name(job.name_prefix, batch, chunk), chunk) for chunk in chunks]
    for run in runs:
        check_job_name(run.name)
    return runs


def check_batch_size(runs: int, limit: int, confirmed: bool) -> None:
    """Refuse, unless confirmed, a batch of more jobs than ``limit``: thousands of jobs are rarely meant."""
    if runs > limit and not confirmed:
        raise PlanError(
            f"this batch would create {runs} jobs, over the limit of {limit} (project.max_jobs_per_batch in "
            "config.yml): pass --yes (make: yes=1) to start them anyway, or give a larger --days-per-job"
        )


def check_project_jobs(existing: int, new: int, limit: int, every: int | None = None, removable: int | None = None) -> None:
    """Refuse a batch that would take the project past ``limit`` jobs, before anything is created.

    ``every`` (the jobs there in all) and ``removable`` (the project's that cleanup could delete
    now) are added to the refusal when known.
    """
    if existing + new > limit:
        counts = "" if every is None else f"; {every:,} job(s) there in all"
        if removable is not None:
            counts += f", `make cleanup` could delete {removable:,} of the project's now"
        raise PlanError(
            f"the project has {existing} job(s) and this batch would add {new}, over the limit of {limit} "
            f"(project.max_project_jobs in config.yml{counts}): run "
            "`make cleanup` to delete the jobs whose runs ended, or give a larger --days-per-job (make: days_per_job=) "
            "for fewer, longer chunks"
        )


def check_account_jobs(existing: int, project: int, removable: int, new: int, quota: int, source: str) -> None:
    """Refuse a batch that would take the account past Glue's jobs quota, which counts every job in it.

    Past the quota CreateJob is refused halfway through a batch; the refusal says how many of the
    ``existing`` jobs are the project's and how many of those cleanup could delete now.
    """
    if existing + new > quota:
        raise PlanError(
            f"this batch would add {new:,} job(s), over Glue's quota of {quota:,} jobs per account ({source}): "
            f"{quota_counts(existing, project, removable)}. Run `make cleanup`, give a larger "
            "--days-per-job (make: days_per_job=) for fewer, longer chunks, or ask for a higher "
            f"{JOBS_QUOTA_NAME!r} quota (Service Quotas, AWS Glue, {JOBS_QUOTA_CODE})"
        )


def quota_counts(existing: int, project: int, removable: int) -> str:
    """Whose the account's jobs are, and how many of them cleanup could delete now."""
    return (
        f"the account has {existing:,} job(s), {project:,} of them this project's, of which `make cleanup` "
        f"could delete {removable:,} now (every run ended)"
    )


def prefix_and_batch(name: str) -> tuple[str, str] | None:
    """The name prefix and batch id of a name ``job_name`` made, or None for any other name."""
    found = BATCH_NAME.fullmatch(name)
    return None if found is None else (found["prefix"], found["batch"])


def job_tags(project_tags: dict[str, str], batch: str, job_key: str) -> dict[str, str]:
    """The tags every created job carries: the project's, its batch and its job key."""
    return {**project_tags, BATCH_TAG: batch, JOB_TAG: job_key}


def default_arguments(job: JobSpec, zip_url: str, run_reports_url: str = "") -> dict[str, str]:
    """The job's default arguments as Glue stores them; the local runner passes the same ones.

    ``--run-reports`` tells the job where to write what it read and wrote, for ``status``.
    """
    arguments = {
        **job.arguments,
        "--extra-py-files": zip_url,
        "--job-language": "python",
    }
    if run_reports_url:
        arguments[RUN_REPORTS_ARGUMENT] = run_reports_url
    return arguments


def retry_arguments(created: JobSpec, wanted: JobSpec) -> dict[str, str]:
    """The run arguments that give a retried run what ``--set`` changed about its job, ``created`` without it.

    A retry restarts the jobs the batch created, so only their arguments can change (a run's
    arguments win over its job's); any other setting the override changes is refused, never ignored.
    """
    changed = [f.name for f in fields(JobSpec) if f.name != "arguments" and getattr(created, f.name) != getattr(wanted, f.name)]
    if changed:
        keys = ", ".join(f"jobs.{created.key}.{name}" for name in changed)
        raise PlanError(
            f"--set changes {keys}, which a retry cannot: it restarts the jobs the batch created as they are. "
            "Only their arguments can change for a retry; start a new batch with execute for the rest"
        )
    dropped = sorted(set(created.arguments) - set(wanted.arguments))
    if dropped:
        raise PlanError(
            f"--set removes {', '.join(dropped)} from jobs.{created.key}: a retry can change arguments, not remove them"
        )
    return {name: value for name, value in wanted.arguments.items() if created.arguments.get(name) != value}
