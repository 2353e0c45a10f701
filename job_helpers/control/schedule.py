"""The daily increment: a Glue scheduled trigger (or, locally, a crontab line) for one job.

The trigger starts one job created for the schedule with relative dates (``--from-date today-1
--to-date today-1``), which the job resolves when it starts, so the same trigger serves every
day. Pure logic only: names, arguments, the cron checks and the crontab line.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from job_helpers.control.config import JobSpec
from job_helpers.control.plan import FROM_ARGUMENT, SCHEDULE_TAG, TO_ARGUMENT, PlanError, check_job_name

# Glue's cron: minutes hours day-of-month month day-of-week year, with `?` in one of the day fields.
# Relative dates go back at most this many days (today-999999), which the jobs resolve.
MAX_DAYS_BACK = 999_999
CRON_FIELD = re.compile(r"[0-9A-Za-z*?/,#L-]+")


def schedule_name(job: JobSpec) -> str:
    """The name of the schedule's job and of its trigger (Glue keeps the two apart)."""
    name = f"{job.name_prefix}-scheduled"
    check_job_name(name)
    return name


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


def glue_cron(text: str) -> list[str]:
    """The six fields of a Glue cron expression, or a PlanError saying what Glue expects."""
    fields = text.strip().removeprefix("cron(").removesuffix(")").split()
    example = "e.g. '0 3 * * ? *' for 03:00 UTC every day"
    if len(fields) != 6 or not all(CRON_FIELD.fullmatch(field) for field in fields):
        raise PlanError(f"--cron {text!r}: Glue wants six fields, minutes hours day-of-month month day-of-week year ({example})")
    if "?" not in (fields[2], fields[4]):
        raise PlanError(f"--cron {text!r}: Glue wants '?' in day-of-month or day-of-week ({example})")
    return fields


def trigger_request(job: JobSpec, cron: str, arguments: Mapping[str, str], tags: Mapping[str, str]) -> dict[str, Any]:
    """The CreateTrigger request: SCHEDULED, started on creation, tagged like the schedule's job."""
    name = schedule_name(job)
    return {
        "Name": name,
        "Type": "SCHEDULED",
        "Schedule": f"cron({' '.join(glue_cron(cron))})",
        "Actions": [{"JobName": name, "Arguments": dict(arguments)}],
        "Description": f"Daily increment of {job.key}: {arguments[FROM_ARGUMENT]} to {arguments[TO_ARGUMENT]} (UTC)",
        "StartOnCreation": True,
        "Tags": dict(tags),
    }


def schedule_tags(project_tags: Mapping[str, str], job: JobSpec) -> dict[str, str]:
    """The project's tags and ``schedule=<job key>``: cleanup leaves jobs carrying it alone."""
    return {**project_tags, SCHEDULE_TAG: job.key}


def crontab_line(cron: str, repo_root: Path, job: JobSpec, arguments: Mapping[str, str], days_per_job: int) -> str:
    """The crontab line running the same ``execute`` locally; Glue's cron fields turned into crontab's five."""
    minute, hour, day, month, weekday, year = glue_cron(cron)
    if year != "*":
        raise PlanError(f"--cron {cron!r}: crontab has no year field; use '*' for the year to schedule locally")
    fields = [minute, hour, day.replace("?", "*"), month, _crontab_weekday(weekday.replace("?", "*"))]
    command = (
        f"cd {shlex.quote(str(repo_root))} && make execute job={job.key} from={arguments[FROM_ARGUMENT]} "
        f"to={arguments[TO_ARGUMENT]} days_per_job={days_per_job} profile=local "
        f">> build/logs/schedule-{job.key}.log 2>&1"
    )
    return f"{' '.join(fields)} {command}"


def _crontab_weekday(field: str) -> str:
    """Glue counts days of the week 1-7 from Sunday, crontab 0-6: shift the numbers, keep names and steps."""

    def shift(token: str) -> str:
        base, slash, step = token.partition("/")
        return re.sub(r"\d+", lambda m: str(int(m.group()) - 1), base) + slash + step

    if re.search(r"[#L]", field):
        raise PlanError(f"day-of-week {field!r}: crontab has no '#' or 'L'; schedule this one on Glue only")
    return ",".join(shift(token) for token in field.split(","))
