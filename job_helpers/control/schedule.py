"""The daily increment: an EventBridge Scheduler schedule (or, locally, a crontab line) for one job.

Every firing names its own logical date, as Airflow's data interval does. On aws the schedule's
target is EventBridge Scheduler's universal target for Glue's ``StartJobRun``, on one job created
for the schedule, with relative dates (``--from-date today-1 --to-date today-1``) and
``--logical-time <aws.scheduler.scheduled-time>``: the job counts the relative dates from the day
the firing was meant for, so a retry or a console re-run of a firing covers its own days, and the
run reports say which days each firing covered. Locally the crontab line's ``execute`` passes the
time cron fired it (``date`` with its offset) the same way. Pure logic only: names, requests,
the cron checks, the crontab line and the window a schedule covers.

The cron is the one EventBridge Scheduler and Glue read, checked field by field, so what they
would refuse or read otherwise (``99 99 …``, a weekday 0, ``?`` in both day fields, every minute)
is refused here with the field and the reason. Locally it becomes a crontab line of numbers only
(names and Glue's Sunday-is-1 weekdays translated; crontab has no ``L``, ``W`` or year, so those
are refused). The schedule reads its cron in UTC, and the logical time it passes is UTC; cron
fires a crontab line in the machine's zone, and the line's logical time carries that zone's
offset, so the day a line stands for never depends on how far the zone is from UTC that day.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from job_helpers.control.config import JobSpec, Settings
from job_helpers.control.plan import (
    FROM_ARGUMENT,
    LOGICAL_TIME_ARGUMENT,
    SCHEDULE_TAG,
    TO_ARGUMENT,
    Chunk,
    PlanError,
    check_job_name,
)
from job_helpers.relative_dates import days_back

# Relative dates go back at most this many days (today-999999), which the jobs resolve.
MAX_DAYS_BACK = 999_999
EXAMPLE = "e.g. '0 3 * * ? *' for 03:00 every day"
MONTHS = {name: number for number, name in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), start=1)}
# Glue counts the days of the week 1-7 from Sunday; crontab 0-6.
DAYS = {name: number for number, name in enumerate("SUN MON TUE WED THU FRI SAT".split(), start=1)}
# Digits of the largest number a field holds (a year): a longer one is out of every field's range.
MAX_DIGITS = 4
# Glue runs a schedule at most this often.
MIN_MINUTES_APART = 5
# EventBridge Scheduler's universal target for Glue's StartJobRun: the Input is the request.
STARTJOBRUN_TARGET = "arn:aws:scheduler:::aws-sdk:glue:startJobRun"
# EventBridge Scheduler writes the time the firing was meant for here, e.g. 2026-03-02T03:00:00Z.
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
# A firing whose StartJobRun fails (throttled, refused) is retried for up to a day: EventBridge
# Scheduler's defaults, stated. One that never starts is a missed day, which catch-up finds.
RETRY_POLICY = {"MaximumEventAgeInSeconds": 86_400, "MaximumRetryAttempts": 185}
# EventBridge Scheduler's Name and GroupName (botocore's model).
SCHEDULER_NAME = re.compile(r"[0-9a-zA-Z_.-]{1,64}")
# What a crontab line passes as its logical time: when cron fired it, to the minute, with the
# machine's offset (`%` is a new line in crontab unless escaped).
CRONTAB_LOGICAL_TIME = '"$(date +\\%Y-\\%m-\\%dT\\%H:\\%M\\%z)"'


@dataclass(frozen=True)
class CronField:
    """One field of Glue's cron: its range, the names it knows, and the wildcards besides , - * / it allows."""

    name: str
    low: int
    high: int
    names: Mapping[str, int] = field(default_factory=dict)
    specials: str = ""


# AWS Glue, "Time-based schedules for jobs and crawlers": six fields, in UTC.
GLUE_FIELDS = (
    CronField("minutes", 0, 59),
    CronField("hours", 0, 23),
    CronField("day-of-month", 1, 31, specials="?LW"),
    CronField("month", 1, 12, MONTHS),
    CronField("day-of-week", 1, 7, DAYS, specials="?L"),
    CronField("year", 1970, 2199),
)


@dataclass(frozen=True)
class Term:
    """``start``-``end`` every ``step``, inclusive, in the field's own numbers; ``special`` is ``?``, ``L``, ``3W``, ``6L``."""

    start: int = 0
    end: int = 0
    step: int = 1
    special: str = ""


@dataclass(frozen=True)
class Cron:
    """A Glue cron expression, checked field by field; ``fields`` are the terms of each of the six fields."""

    text: str
    fields: tuple[tuple[Term, ...], ...]

    @property
    def expression(self) -> str:
        return f"cron({self.text})"


class CronError(PlanError):
    """A cron expression Glue would refuse or read otherwise than meant; the message says which field and why."""


@dataclass(frozen=True)
class Schedule:
    """One job's schedule as installed: its cron, the window each firing covers, and when it began.

    ``local``: a crontab line, which fires and counts its days in the machine's zone (else UTC).
    ``where`` says what holds it, for messages.
    """

    job_key: str
    cron: Cron
    lag_days: int
    days_per_job: int
    created: datetime
    local: bool
    where: str

    def window(self, day: date) -> Chunk:
        """The days a firing on ``day`` covers: ``days_per_job`` days ending ``lag_days`` before it."""
        end = day - timedelta(days=self.lag_days)
        return Chunk(end - timedelta(days=self.days_per_job - 1), end)


def schedule_name(job: JobSpec) -> str:
    """The name of the schedule's job, and of its schedule (and, before schedules, its Glue trigger)."""
    name = f"{job.name_prefix}-scheduled"
    check_job_name(name)
    return name


def scheduler_name(job: JobSpec) -> str:
    """The schedule's name in EventBridge Scheduler, which takes 64 characters at most."""
    name = schedule_name(job)
    if not SCHEDULER_NAME.fullmatch(name):
        raise PlanError(
            f"schedule name {name!r}: EventBridge Scheduler takes 1-64 letters, digits, '-', '_' or '.'; "
            f"shorten jobs.{job.key}.name_prefix in config.yml"
        )
    return name


def schedule_group(settings: Settings) -> str:
    """The project's schedule group (``make stack`` creates it, tagged): named after ``project.prefix``."""
    return str(settings.resolved["project"]["prefix"])


def relative_day(days_back: int) -> str:
    return "today" if days_back == 0 else f"today-{days_back}"


def window_arguments(lag_days: int, days_per_job: int) -> dict[str, str]:
    """The run arguments for the ``days_per_job`` days ending ``lag_days`` before the run date."""
    if lag_days < 0:
        raise PlanError(f"--lag-days {lag_days}: give 0 (today) or more days back")
    if days_per_job < 1:
        raise PlanError(f"--days-per-job {days_per_job}: give at least 1")
    if lag_days + days_per_job - 1 > MAX_DAYS_BACK:
        raise PlanError(f"--lag-days plus --days-per-job reach back more than {MAX_DAYS_BACK} days: give smaller ones")
    return {FROM_ARGUMENT: relative_day(lag_days + days_per_job - 1), TO_ARGUMENT: relative_day(lag_days)}


def glue_cron(text: str) -> Cron:
    """Glue's six-field cron, checked as Glue reads it; CronError names the field and the reason.

    Fields are separated by single spaces and hold ASCII only: a tab, a no-break space or a digit
    of another script (``٣``, ``３``, ``³``, which ``str.isdigit`` accepts) is refused in its field.
    """
    inner = text.strip(" ").removeprefix("cron(").removesuffix(")")
    parts = inner.split(" ")
    for spec, part in zip(GLUE_FIELDS, parts):
        foreign = re.search(r"[^!-~]", part)
        if foreign:
            raise CronError(
                f"{spec.name} {part!r}: {foreign.group()!r} is not part of a cron: fields hold ASCII digits, names "
                f"and , - * / ? L W, separated by single spaces ({EXAMPLE})"
            )
    empty = next((spec.name for spec, part in zip(GLUE_FIELDS, parts) if not part), None)
    if inner and empty:
        raise CronError(f"--cron {text!r}: {empty} is empty; separate the six fields by single spaces ({EXAMPLE})")
    if len(parts) != 6:
        raise CronError(f"--cron {text!r}: Glue wants six fields, minutes hours day-of-month month day-of-week year ({EXAMPLE})")
    terms = tuple(_field(spec, part) for spec, part in zip(GLUE_FIELDS, parts))
    day, weekday = parts[2], parts[4]
    if (day == "?") == (weekday == "?"):
        raise CronError(
            f"--cron {text!r}: Glue wants '?' in day-of-month or day-of-week, exactly one of them "
            f"(a value in one means '?' in the other; {EXAMPLE})"
        )
    cron = Cron(" ".join(parts), terms)
    _check_rate(cron)
    return cron


def _field(spec: CronField, text: str) -> tuple[Term, ...]:
    """The terms of one field (comma-separated items), each range, name and step checked."""
    if text in ("?", "L") or (spec.name == "day-of-month" and text == "LW"):
        if text[0] not in spec.specials:
            raise CronError(f"{spec.name} {text!r}: Glue allows {text[0]!r} only in {_fields_allowing(text[0])}")
        return (Term(special=text),)
    return tuple(_term(spec, text, item) for item in text.split(","))


def _fields_allowing(wildcard: str) -> str:
    return " and ".join(spec.name for spec in GLUE_FIELDS if wildcard in spec.specials)


def _term(spec: CronField, text: str, item: str) -> Term:
    """One comma-separated item: a day's ``nL``/``nW``, or a value, range or ``*``, each with an optional step."""
    where = f"{spec.name} {text!r}"
    if not item:
        raise CronError(f"{where}: an empty item between commas")
    for wildcard in ("?", "#"):
        if wildcard in item:
            allowed = _fields_allowing(wildcard)
            why = f"only alone, in {allowed}" if allowed else "nowhere (it is not one of Glue's wildcards)"
            raise CronError(f"{where}: Glue allows {wildcard!r} {why}")
    special = re.fullmatch(r"([0-9]+)([LW])", item)
    return _nearest_or_last(spec, where, *special.groups()) if special else _range(spec, where, item)


def _nearest_or_last(spec: CronField, where: str, number: str, letter: str) -> Term:
    """``nW`` (the weekday nearest day n) in day-of-month, ``nL`` (the last weekday n of the month) in day-of-week."""
    field_name = "day-of-week" if letter == "L" else "day-of-month"
    if letter not in spec.specials or spec.name != field_name:
        raise CronError(f"{where}: Glue allows '{number}{letter}' only in {field_name}")
    value = _value(spec, where, number)
    return Term(value, value, 1, f"{number}{letter}")


def _range(spec: CronField, where: str, item: str) -> Term:
    """``*``, ``n`` or ``n-m``, then ``/step`` if given (``n/step`` runs to the field's end)."""
    base, slash, step_text = item.partition("/")
    step = _step(spec, where, step_text) if slash else 1
    if base == "*":
        return Term(spec.low, spec.high, step)
    first, dash, last = base.partition("-")
    start = _value(spec, where, first)
    end = _value(spec, where, last) if dash else (spec.high if slash else start)
    if end < start:
        raise CronError(
            f"{where}: the range {base} runs backwards; write it as two ranges, e.g. {first}-{spec.high},{spec.low}-{last}"
        )
    return Term(start, end, step)


def _step(spec: CronField, where: str, text: str) -> int:
    """The step after '/': at least 1, and no longer than the field's values (``*/99999999999999999999`` is refused)."""
    step = _number(text)
    if step is None or step < 1:
        raise CronError(f"{where}: the step after '/' must be a whole number of at least 1, not {text!r}")
    if step > spec.high - spec.low + 1:
        raise CronError(f"{where}: a step of {text} is longer than the field's {spec.high - spec.low + 1} values")
    return step


def _value(spec: CronField, where: str, text: str) -> int:
    if text.upper() in spec.names:
        return spec.names[text.upper()]
    value = _number(text)
    if value is None:
        names = f" or a name ({', '.join(spec.names)})" if spec.names else ""
        raise CronError(f"{where}: {text!r} is not a number{names}")
    if not spec.low <= value <= spec.high:
        hint = " (Glue counts the days of the week 1-7 from Sunday: SUN=1, SAT=7)" if spec.names is DAYS else ""
        raise CronError(f"{where}: {text} is outside {spec.low}-{spec.high}{hint}")
    return value


def _number(text: str) -> int | None:
    """``text`` as a whole number if it is ASCII digits only; a number longer than any field's is read as too large."""
    if not re.fullmatch(r"[0-9]+", text):
        return None
    return int(text) if len(text) <= MAX_DIGITS else 10**MAX_DIGITS


def _values(terms: Sequence[Term]) -> set[int]:
    return {value for term in terms if not term.special for value in range(term.start, term.end + 1, term.step)}


def _check_rate(cron: Cron) -> None:
    """Glue refuses a schedule that would run more often than every five minutes."""
    minutes, hours = sorted(_values(cron.fields[0])), _values(cron.fields[1])
    gaps = [later - earlier for earlier, later in zip(minutes, minutes[1:])]
    if any((hour + 1) % 24 in hours for hour in hours) and minutes:
        gaps.append(60 - minutes[-1] + minutes[0])
    if gaps and min(gaps) < MIN_MINUTES_APART:
        raise CronError(
            f"minutes {cron.text.split()[0]!r}: Glue runs a schedule at most every {MIN_MINUTES_APART} minutes; "
            f"this one runs {min(gaps)} minute(s) apart"
        )


def schedule_request(job: JobSpec, cron: str, arguments: Mapping[str, str], group: str, role_arn: str) -> dict[str, Any]:
    """The CreateSchedule request: the cron in UTC, StartJobRun on the schedule's job with its firing's time.

    Tags belong to the schedule group, not to schedules (CreateSchedule takes none).
    """
    name = scheduler_name(job)
    if not SCHEDULER_NAME.fullmatch(group):
        raise PlanError(f"project.prefix {group!r}: the schedule group's name takes 1-64 letters, digits, '-', '_' or '.'")
    start = {"JobName": schedule_name(job), "Arguments": {**arguments, LOGICAL_TIME_ARGUMENT: SCHEDULED_TIME}}
    return {
        "Name": name,
        "GroupName": group,
        "ScheduleExpression": glue_cron(cron).expression,
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "State": "ENABLED",
        "ActionAfterCompletion": "NONE",
        "Description": f"Daily increment of {job.key}: {arguments[FROM_ARGUMENT]} to {arguments[TO_ARGUMENT]} of each firing's UTC day",
        "Target": {
            "Arn": STARTJOBRUN_TARGET,
            "RoleArn": role_arn,
            "Input": json.dumps(start, sort_keys=True),
            "RetryPolicy": dict(RETRY_POLICY),
        },
    }


def window_of(arguments: Mapping[str, str], where: str) -> tuple[int, int]:
    """``(lag_days, days_per_job)`` from a schedule's relative ``--from-date``/``--to-date``; PlanError names ``where``."""
    start, end = arguments.get(FROM_ARGUMENT, ""), arguments.get(TO_ARGUMENT, "")
    first, last = days_back(start), days_back(end)
    if first is None or last is None or first < last:
        raise PlanError(f"{where}: its window {start or '?'} to {end or '?'} is not a schedule's relative window (today-N)")
    return last, first - last + 1


def scheduled_schedule(job_key: str, found: Mapping[str, Any]) -> Schedule:
    """The schedule a GetSchedule answer describes (its cron, its target's window, its creation)."""
    where = f"schedule {found['GroupName']}/{found['Name']}"
    try:
        arguments = json.loads(found["Target"]["Input"])["Arguments"]
    except (KeyError, TypeError, ValueError) as error:
        raise PlanError(f"{where}: its target's Input is not a StartJobRun request with Arguments ({error})") from None
    lag, days = window_of(arguments, where)
    return Schedule(job_key, glue_cron(found["ScheduleExpression"]), lag, days, found["CreationDate"], False, where)


def trigger_schedule(job_key: str, trigger: Mapping[str, Any], created: datetime) -> Schedule:
    """The schedule of a Glue SCHEDULED trigger (before schedules passed their firing's time)."""
    where = f"Glue trigger {trigger['Name']}"
    lag, days = window_of(trigger["Actions"][0].get("Arguments", {}), where)
    return Schedule(job_key, glue_cron(trigger["Schedule"]), lag, days, created, False, where)


def schedule_tags(project_tags: Mapping[str, str], job: JobSpec) -> dict[str, str]:
    """The project's tags and ``schedule=<job key>``: cleanup leaves jobs carrying it alone."""
    return {**project_tags, SCHEDULE_TAG: job.key}


def crontab_line(cron: str, repo_root: Path, job: JobSpec, arguments: Mapping[str, str], days_per_job: int) -> str:
    """The crontab line running the same ``execute`` locally, with the time cron fired it as its logical time.

    Glue's fields become crontab's five, in numbers only: crontab (Debian's and others) takes no
    ranges or lists of names, and counts the days of the week 0-6 from Sunday. The line fires in
    the machine's time zone and passes that local time with its offset, so its ``execute`` counts
    the relative dates from the local day the line fired on, and the batch is the schedule's.
    """
    parsed = glue_cron(cron)
    minute, hour, day, month, weekday, year = parsed.fields
    if year != (Term(1970, 2199, 1),):
        raise CronError(f"year {parsed.text.split()[5]!r}: crontab has no year field; use '*' for the year to schedule locally")
    fields = [
        _crontab(minute, 0, 59),
        _crontab(hour, 0, 23),
        _crontab(day, 1, 31, "day-of-month"),
        _crontab(month, 1, 12),
        _crontab(tuple(Term(t.start - 1, t.end - 1, t.step, t.special) for t in weekday), 0, 6, "day-of-week"),
    ]
    command = (
        f"cd {shlex.quote(str(repo_root))} && make execute job={job.key} from={arguments[FROM_ARGUMENT]} "
        f"to={arguments[TO_ARGUMENT]} days_per_job={days_per_job} logical_time={CRONTAB_LOGICAL_TIME} profile=local "
        f">> build/logs/schedule-{job.key}.log 2>&1"
    )
    return f"{' '.join(fields)} {command}"


def _crontab(terms: Sequence[Term], low: int, high: int, name: str = "") -> str:
    """One crontab field from checked terms: ``?`` is ``*``; Glue's ``L`` and ``W`` have no crontab form."""
    items = []
    for term in terms:
        if term.special == "?":
            return "*"
        if term.special:
            raise CronError(
                f"{name} {term.special!r}: crontab has no 'L' or 'W' (last day, nearest weekday); schedule this one on Glue only"
            )
        whole = (term.start, term.end) == (low, high)
        span = "*" if whole else str(term.start) if term.start == term.end else f"{term.start}-{term.end}"
        items.append(span if term.step == 1 else f"{span}/{term.step}")
    return ",".join(items)
