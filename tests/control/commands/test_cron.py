"""Schedules: Glue's cron checked as Glue reads it, the crontab line it becomes, and the zone its dates count in."""

from __future__ import annotations

import json
import re
import shlex
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from job_helpers import relative_dates
from job_helpers.control.config import JobSpec
from job_helpers.control.plan import PlanError
from job_helpers.control.schedule import crontab_line, glue_cron, window_arguments
from job_helpers.relative_dates import logical_day

JOB = JobSpec("fake", "test-etl-fake", "jobs/fake_job.py", "glueetl", "G.1X", 2, 5, 1, True, {})


@pytest.mark.parametrize(
    "cron, reason",
    [
        ("99 99 * * ? *", "minutes '99': 99 is outside 0-59"),
        ("0 24 * * ? *", "hours '24': 24 is outside 0-23"),
        ("0 3 0 * ? *", "day-of-month '0': 0 is outside 1-31"),
        ("0 3 32 * ? *", "day-of-month '32': 32 is outside 1-31"),
        ("0 3 * 13 ? *", "month '13': 13 is outside 1-12"),
        ("0 3 * * ? 1969", "year '1969': 1969 is outside 1970-2199"),
        ("0 3 ? * 0 *", "day-of-week '0': 0 is outside 1-7 (Glue counts the days of the week 1-7 from Sunday: SUN=1, SAT=7)"),
        ("0 3 ? * 0-4 *", "day-of-week '0-4': 0 is outside 1-7 (Glue counts"),
        ("0 3 ? * 8 *", "day-of-week '8': 8 is outside 1-7"),
        ("0 3 * JANUARY ? *", "month 'JANUARY': 'JANUARY' is not a number or a name (JAN, FEB"),
        ("0 3 ? * MON-FRY *", "day-of-week 'MON-FRY': 'FRY' is not a number or a name (SUN, MON"),
        ("0 3 ? * ? *", "Glue wants '?' in day-of-month or day-of-week, exactly one of them"),
        ("0 3 * * * *", "Glue wants '?' in day-of-month or day-of-week"),
        ("0 3 1 * MON *", "Glue wants '?' in day-of-month or day-of-week"),
        ("? 3 * * ? *", "minutes '?': Glue allows '?' only in day-of-month and day-of-week"),
        ("0 3 1,? * ? *", "day-of-month '1,?': Glue allows '?' only alone, in day-of-month and day-of-week"),
        ("0 3 ? * 6#3 *", "day-of-week '6#3': Glue allows '#' nowhere (it is not one of Glue's wildcards)"),
        ("0 3 ? * 15W *", "day-of-week '15W': Glue allows '15W' only in day-of-month"),
        ("0 3 3L * ? *", "day-of-month '3L': Glue allows '3L' only in day-of-week"),
        ("L 3 * * ? *", "minutes 'L': Glue allows 'L' only in day-of-month and day-of-week"),
        ("0 3 5-1 * ? *", "day-of-month '5-1': the range 5-1 runs backwards; write it as two ranges, e.g. 5-31,1-1"),
        ("0/0 3 * * ? *", "minutes '0/0': the step after '/' must be a whole number of at least 1, not '0'"),
        ("0/x 3 * * ? *", "the step after '/' must be a whole number of at least 1, not 'x'"),
        ("0/61 3 * * ? *", "minutes '0/61': a step of 61 is longer than the field's 60 values"),
        ("0,,5 3 * * ? *", "minutes '0,,5': an empty item between commas"),
        ("-5 3 * * ? *", "minutes '-5': '' is not a number"),
        ("* * * * ? *", "Glue runs a schedule at most every 5 minutes; this one runs 1 minute(s) apart"),
        ("0/2 3 * * ? *", "this one runs 2 minute(s) apart"),
        ("0,3 4 * * ? *", "this one runs 3 minute(s) apart"),
        ("58,2 * * * ? *", "this one runs 4 minute(s) apart"),
        ("0 3 * * ? * ;rm -rf ~", "Glue wants six fields"),
        ("0 3 * * ? ;rm", "year ';rm': ';rm' is not a number"),
        ("0 3 * * ?", "Glue wants six fields"),
        ("", "Glue wants six fields"),
        # Digits are ASCII: str.isdigit() took these, and int() crashed on the superscripts or read ٣ as 3.
        ("0 \u00b3 * * ? *", "hours '\u00b3': '\u00b3' is not part of a cron"),
        ("*/\u00b2 * * * ? *", "minutes '*/\u00b2': '\u00b2' is not part of a cron"),
        ("0 \u0663 * * ? *", "hours '\u0663': '\u0663' is not part of a cron"),
        ("0 \uff13 * * ? *", "hours '\uff13': '\uff13' is not part of a cron"),
        ("0 3 ? * \u0666L *", "day-of-week '\u0666L': '\u0666' is not part of a cron"),
        # Steps are bounded by the field's values, also after '*'.
        ("*/99999999999999999999 * * * ? *", "minutes '*/99999999999999999999': a step of 99999999999999999999 is longer"),
        ("0 */25 * * ? *", "hours '*/25': a step of 25 is longer than the field's 24 values"),
        ("0 3 * * ? */" + "9" * 5000, "is longer than the field's 230 values"),
        ("0 3 * * ? " + "9" * 5000, "is outside 1970-2199"),
        ("*/-5 * * * ? *", "minutes '*/-5': the step after '/' must be a whole number of at least 1, not '-5'"),
        # Fields are separated by single spaces, as EventBridge Scheduler's grammar has it.
        ("0\t3\t*\t*\t?\t*", r"minutes '0\t3\t*\t*\t?\t*': '\t' is not part of a cron"),
        ("0 3 * * ?\u00a0*", r"day-of-week '?\xa0*': '\xa0' is not part of a cron"),
        ("0  3 * * ? *", "hours is empty; separate the six fields by single spaces"),
        ("0 3 * * ? *\n0 4 * * ? *", r"year '*\n0': '\n' is not part of a cron"),
    ],
)
def test_a_cron_glue_would_refuse_or_misread_is_refused_naming_the_field_and_why(cron, reason):
    with pytest.raises(PlanError) as refused:
        glue_cron(cron)
    assert reason in str(refused.value)


@pytest.mark.parametrize(
    "cron",
    [
        "0 3 * * ? *",
        "cron(0 3 * * ? *)",
        "15 12 * * ? *",
        "0 18 ? * MON-FRI *",
        "0 8 1 * ? *",
        "0/15 * * * ? *",
        "0/10 * ? * MON-FRI *",
        "0/5 8-17 ? * MON-FRI *",
        "0 3 L * ? *",
        "0 3 LW * ? *",
        "0 3 15W * ? *",
        "0 3 ? * 6L *",
        "0 3 ? * L *",
        "0 3 ? * mon-fri *",
        "58,2 3 * * ? *",
        "0 3 * * ? 2025-2030",
    ],
)
def test_what_glue_documents_is_taken(cron):
    assert glue_cron(cron).expression == f"cron({cron.removeprefix('cron(').removesuffix(')')})"


@pytest.mark.parametrize(
    "cron, fields",
    [
        ("0 3 * * ? *", "0 3 * * *"),
        ("0 3 ? * MON-FRI *", "0 3 * * 1-5"),
        ("0 3 ? * 2-6 *", "0 3 * * 1-5"),
        ("0 3 ? * SUN,SAT *", "0 3 * * 0,6"),
        ("0 3 ? * 1 *", "0 3 * * 0"),
        ("0 3 ? * 7 *", "0 3 * * 6"),
        ("0 3 ? * 1/2 *", "0 3 * * */2"),
        ("0 3 ? * 2/2 *", "0 3 * * 1-6/2"),
        ("0 3 ? * * *", "0 3 * * *"),
        ("0/15 * * * ? *", "*/15 * * * *"),
        ("5/15 8-17 ? * MON-FRI *", "5-59/15 8-17 * * 1-5"),
        ("0 3 1 JAN,JUL ? *", "0 3 1 1,7 *"),
        ("0 3 1-7 jun-aug ? *", "0 3 1-7 6-8 *"),
        ("30 0 1/2 * ? *", "30 0 */2 * *"),
        ("30 0 2/2 * ? *", "30 0 2-31/2 * *"),
    ],
)
def test_the_crontab_line_holds_the_same_times_in_numbers_only(cron, fields, tmp_path):
    """Crontab counts Sunday 0 and (Debian's and others) takes no lists or ranges of names, so only numbers go in."""
    line = crontab_line(cron, tmp_path, JOB, window_arguments(1, 1), 1)
    assert line.split(" cd ")[0] == fields


@pytest.mark.parametrize(
    "cron, reason",
    [
        ("0 3 L * ? *", "day-of-month 'L': crontab has no 'L' or 'W'"),
        ("0 3 LW * ? *", "day-of-month 'LW': crontab has no 'L' or 'W'"),
        ("0 3 15W * ? *", "day-of-month '15W': crontab has no 'L' or 'W'"),
        ("0 3 ? * 6L *", "day-of-week '6L': crontab has no 'L' or 'W'"),
        ("0 3 * * ? 2027", "year '2027': crontab has no year field; use '*' for the year to schedule locally"),
    ],
)
def test_what_glue_takes_but_crontab_cannot_hold_is_refused_locally(cron, reason, tmp_path):
    glue_cron(cron)
    with pytest.raises(PlanError) as refused:
        crontab_line(cron, tmp_path, JOB, window_arguments(1, 1), 1)
    assert reason in str(refused.value)


@pytest.fixture
def london():
    """This machine in Europe/London, as a laptop in the UK is; the C library's zone is reset afterwards."""
    with pytest.MonkeyPatch.context() as zone:
        zone.setenv("TZ", "Europe/London")
        time.tzset()
        yield ZoneInfo("Europe/London")
    time.tzset()


def firings(line: str, first: date, days: int, zone: ZoneInfo) -> list[datetime]:
    """When cron runs a daily line (minute and hour fields) in ``zone`` on each of ``days`` days."""
    minute, hour = (int(field) for field in line.split()[:2])
    return [
        datetime.combine(first + timedelta(days=n), datetime.min.time(), zone).replace(hour=hour, minute=minute)
        for n in range(days)
    ]


def fired_at(line: str, when: datetime) -> str:
    """What the line's ``date`` prints when cron fires it at ``when``: cron turns each ``\\%`` into ``%`` first."""
    (form,) = re.findall(r"\$\(date \+(\S+)\)", line)
    return when.astimezone().strftime(form.replace("\\%", "%"))


def planned_day(project, capsys, monkeypatch, line: str, when: datetime) -> str:
    """The day the line's ``make execute`` plans when cron runs it at ``when``, through the CLI as make calls it."""
    values = dict(item.split("=", 1) for item in shlex.split(line.split("make execute ")[1].split(" >>")[0]))
    monkeypatch.setattr(relative_dates, "now", lambda: when.astimezone(UTC))
    arguments = ["execute", "--job", values["job"], "--from", values["from"], "--to", values["to"]]
    arguments += ["--days-per-job", values["days_per_job"], "--dry-run", "--json"]
    if "logical_time" in values:
        arguments += ["--logical-time", fired_at(line, when)]
    assert project.cli(*arguments) == 0
    (chunk,) = json.loads(capsys.readouterr().out)
    assert chunk["from"] == chunk["to"]
    return chunk["from"]


@pytest.mark.parametrize(
    "first, change",
    [(date(2024, 10, 24), "2024-10-27, clocks back"), (date(2024, 3, 28), "2024-03-31, clocks forward")],
    ids=["autumn", "spring"],
)
@pytest.mark.parametrize("cron", ["30 0 * * ? *", "30 23 * * ? *", "0 3 * * ? *"])
def test_a_london_crontab_line_covers_each_day_once_across_the_clock_change(
    project, capsys, monkeypatch, london, first, change, cron
):
    """cron fires the line in London time and the line passes that time with its offset; its today-1 is
    counted from that London day, so no day is skipped or run twice."""
    assert project.cli("schedule", "--job", "fake", "--cron", cron) == 0
    line = capsys.readouterr().out.strip()
    assert "logical_time=" in line
    days = [planned_day(project, capsys, monkeypatch, line, when) for when in firings(line, first, 8, london)]
    assert days == [str(first + timedelta(days=n - 1)) for n in range(8)], change


def test_the_line_passes_the_local_time_cron_fired_it_with_its_offset(london):
    line = crontab_line("30 0 * * ? *", Path("/repo"), JOB, window_arguments(1, 1), 1)
    assert fired_at(line, datetime(2024, 10, 26, 0, 30, tzinfo=london)) == "2024-10-26T00:30+0100"
    assert fired_at(line, datetime(2024, 10, 28, 0, 30, tzinfo=london)) == "2024-10-28T00:30+0000"
    assert logical_day(fired_at(line, datetime(2024, 10, 26, 0, 30, tzinfo=london))) == date(2024, 10, 26)


def test_the_same_line_counting_in_utc_would_skip_the_26th_of_october(project, capsys, monkeypatch, london):
    """The failure this guards against: cron at 00:30 London, today-1 counted in UTC."""
    assert project.cli("schedule", "--job", "fake", "--cron", "30 0 * * ? *") == 0
    line = re.sub(r' logical_time="[^"]*"', "", capsys.readouterr().out.strip())
    days = [planned_day(project, capsys, monkeypatch, line, when) for when in firings(line, date(2024, 10, 24), 5, london)]
    assert days == ["2024-10-22", "2024-10-23", "2024-10-24", "2024-10-25", "2024-10-27"]


def test_execute_says_which_zone_its_relative_dates_counted_in(project, capsys, monkeypatch, london):
    monkeypatch.setattr(relative_dates, "now", lambda: datetime(2024, 7, 1, 23, 30, tzinfo=UTC))
    arguments = ["execute", "--job", "fake", "--from", "today-1", "--to", "today-1", "--dry-run"]
    assert project.cli(*arguments, "--dates-in", "local") == 0
    assert "Dates resolved in local time (BST, UTC+0100): --from today-1 = 2024-07-01, --to today-1 = 2024-07-01" in (
        capsys.readouterr().out
    )
    assert project.cli(*arguments) == 0
    assert "Dates resolved in UTC: --from today-1 = 2024-06-30, --to today-1 = 2024-06-30" in capsys.readouterr().out
    assert project.cli(*arguments, "--dates-in", "Mars") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "invalid choice: 'mars' (choose from 'utc', 'local')" in err


def test_schedule_refuses_a_cron_that_never_fires_with_one_error_line(project, capsys):
    assert project.cli("schedule", "--job", "fake", "--cron", "0 3 31 4 ? *") == 2
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err.count("\n") == 1
    assert captured.err.startswith("error: day-of-month '31', month '4': no day from ")
    assert not (project.lake_root / "_registry" / "schedules" / "fake.json").exists()
