"""One date grammar: the CLI's options, execute's plans, the schedules' windows and the jobs' arguments
read every date alike (issue 20 §5: the control plane took ``2024-3-1``, which a job refused)."""

from __future__ import annotations

import argparse
import re
from datetime import date

import pytest

from job_helpers import job_arguments
from job_helpers.control.config import JobSpec
from job_helpers.control.plan import PlanError, plan_runs, run_days
from job_helpers.control.schedule import window_of
from job_helpers.relative_dates import DayOutOfRange, NotADate, day_option, logical_time, resolve_day
from job_helpers.runtime import JobFailed

TODAY = date(2026, 3, 1)
JOB = JobSpec("fake", "test-etl-fake", "jobs/fake_job.py", "glueetl", "G.1X", 2, 5, 1, True, {})
FULL_WIDTH = "\uff12\uff10\uff12\uff14-\uff10\uff13-\uff10\uff11"  # ２０２４-０３-０１
ARABIC_INDIC = "2024-\u0660\u0663-01"  # 2024-٠٣-01


def read_everywhere(text: str) -> dict[str, object]:
    """What each entry point makes of ``text``: the day it names, or the kind of refusal."""

    def outcome(read) -> object:
        try:
            return read()
        except (NotADate, PlanError, JobFailed, argparse.ArgumentTypeError) as error:
            return type(error).__name__

    runs = outcome(lambda: plan_runs(JOB, "B", text, text, "1", TODAY))
    chunk = run_days({"--from-date": text, "--to-date": text}, None)
    return {
        "grammar": outcome(lambda: resolve_day(text, TODAY)),
        "execute --from/--to": runs if isinstance(runs, str) else runs[0].chunk.start,
        "a run's arguments (status, retry)": (chunk.start, chunk.end) if chunk else "unreadable or relative without a day",
        "job argument --from-date": outcome(lambda: job_arguments.day({"from_date": text}, "from-date", TODAY)),
    }


@pytest.mark.parametrize(
    "text",
    [
        "2024-3-1",
        "2024-03-1",
        "2024-03-01T00:00",
        "2024-03-01 00:00",
        "20240301",
        FULL_WIDTH,
        ARABIC_INDIC,
        "2024-02-30",
        "today+1",
        "today-\uff17",
        "today -1",
        "Yesterday",
    ],
)
def test_every_entry_point_refuses_what_is_not_a_date(text):
    assert read_everywhere(text) == {
        "grammar": "NotADate",
        "execute --from/--to": "PlanError",
        "a run's arguments (status, retry)": "unreadable or relative without a day",
        "job argument --from-date": "JobFailed",
    }
    with pytest.raises(argparse.ArgumentTypeError, match="give YYYY-MM-DD, today, yesterday or today-N"):
        day_option(text)


@pytest.mark.parametrize(
    "text, day",
    [
        ("2024-03-01", date(2024, 3, 1)),
        (" 2024-03-01", date(2024, 3, 1)),
        ("2024-03-01\t", date(2024, 3, 1)),
        ("2024-02-29", date(2024, 2, 29)),
    ],
)
def test_every_entry_point_reads_a_date_alike_spaces_around_it_ignored(text, day):
    assert read_everywhere(text) == {
        "grammar": day,
        "execute --from/--to": day,
        "a run's arguments (status, retry)": (day, day),
        "job argument --from-date": day,
    }
    assert day_option(text) == day


@pytest.mark.parametrize("text, back", [("today-0", 0), ("today", 0), ("yesterday", 1), (" today-7 ", 7), ("today-000007", 7)])
def test_relative_dates_mean_the_same_in_a_plan_a_schedule_and_a_job(text, back):
    day = date.fromordinal(TODAY.toordinal() - back)
    assert resolve_day(text, TODAY) == day
    assert plan_runs(JOB, "B", text, text, "1", TODAY)[0].chunk.start == day
    assert job_arguments.day({"from_date": text}, "from-date", TODAY) == day
    assert window_of({"--from-date": text, "--to-date": text}, "schedule s") == (back, 1)


@pytest.mark.parametrize("text", ["today+1", "today-\uff17", "2024-03-01", "today-"])
def test_a_schedule_s_window_takes_only_relative_dates_of_the_grammar(text):
    with pytest.raises(PlanError, match="is not a schedule's relative window"):
        window_of({"--from-date": text, "--to-date": "today"}, "schedule s")


@pytest.mark.parametrize(
    "text, says",
    [
        ("0999-12-31", "'0999-12-31' is before year 1000"),
        ("0001-01-01", "'0001-01-01' is before year 1000"),
        ("today-374799", "'today-374799' lands on 0999-12-31 (374799 days before 2026-03-01), before year 1000"),
        ("today-700000", "'today-700000' lands on 0109-08-18 (700000 days before 2026-03-01), before year 1000"),
        ("today-739675", "'today-739675' lands on 0001-01-01 (739675 days before 2026-03-01), before year 1000"),
        ("today-739676", "'today-739676' lands before year 1 (739676 days before 2026-03-01)"),
        ("today-999999", "'today-999999' lands before year 1 (999999 days before 2026-03-01)"),
    ],
)
def test_every_entry_point_refuses_a_day_before_year_1000_saying_where_it_lands(text, says):
    """strftime('%Y') writes year 999 as 999: execute planned --from-date 999-01-01, which the job refused."""
    assert read_everywhere(text) == {
        "grammar": "DayOutOfRange",
        "execute --from/--to": "PlanError",
        "a run's arguments (status, retry)": "unreadable or relative without a day",
        "job argument --from-date": "JobFailed",
    }
    rule = "; the first day a date can name is 1000-01-01"
    with pytest.raises(PlanError) as planned:
        plan_runs(JOB, "B", text, "2024-01-01", "1", TODAY)
    with pytest.raises(JobFailed) as started:
        job_arguments.day({"from_date": text}, "from-date", TODAY)
    assert str(planned.value).startswith(f"--from {says}") and str(planned.value).endswith(rule)
    assert str(started.value).startswith(f"--from-date {says}") and str(started.value).endswith(rule)


def test_command_line_date_options_say_where_a_day_before_year_1000_lands():
    """day_option counts from the real today, so only days before year 1000 whatever today is."""
    with pytest.raises(argparse.ArgumentTypeError, match=r"^'0999-12-31' is before year 1000; the first day"):
        day_option("0999-12-31")
    with pytest.raises(argparse.ArgumentTypeError, match=r"^'today-999999' lands before year 1 \(999999 days before "):
        day_option("today-999999")


def test_the_first_day_is_read_everywhere_and_written_back_with_four_digit_years():
    first = date(1000, 1, 1)
    assert read_everywhere("1000-01-01") == {
        "grammar": first,
        "execute --from/--to": first,
        "a run's arguments (status, retry)": (first, first),
        "job argument --from-date": first,
    }
    assert resolve_day("today-374798", TODAY) == first
    (run,) = plan_runs(JOB, "B", "1000-01-01", "1000-01-03", "3", TODAY)
    assert run.arguments == {"--from-date": "1000-01-01", "--to-date": "1000-01-03"}
    assert run.as_json() == {"name": "test-etl-fake-B-10000101-10000103", "from": "1000-01-01", "to": "1000-01-03"}


@pytest.mark.parametrize("logical", ["0999-12-31T23:00:00Z", "0001-01-01T00:00+0100"])
def test_a_logical_time_before_year_1000_is_refused_and_relative_dates_cannot_count_from_it(logical):
    with pytest.raises(DayOutOfRange, match=re.escape(f"'{logical}' is before year 1000")):
        logical_time(logical)
    with pytest.raises(JobFailed, match=re.escape(f"--logical-time '{logical}': '{logical}' is before year 1000")):
        job_arguments.scheduled_day({"logical_time": logical})
    assert run_days({"--from-date": "today", "--to-date": "today", "--logical-time": logical}) is None


@pytest.mark.parametrize("text, today", [("9999-12-31", TODAY), ("today", date(9999, 12, 31)), ("today-0", date.max)])
def test_every_entry_point_refuses_a_day_after_the_last_a_job_can_cover(text, today):
    """A job reads up to the day after its last; the job's own arguments took 9999-12-31 (only execute's plan
    refused it) and the job then ended in OverflowError instead of naming the argument."""
    rule = f"'{text}': the last day a job can cover is 9999-12-30 (jobs read up to the day after --to)"
    with pytest.raises(DayOutOfRange, match=re.escape(rule)):
        resolve_day(text, today)
    with pytest.raises(PlanError, match=re.escape(f"--from {rule}")):
        plan_runs(JOB, "B", text, text, "1", today)
    with pytest.raises(JobFailed, match=re.escape(f"--from-date {rule}")):
        job_arguments.day({"from_date": text}, "from-date", today)
    assert resolve_day("9999-12-30") == date(9999, 12, 30)


def test_a_logical_time_on_the_calendar_s_last_day_is_refused_where_the_job_reads_it():
    logical = "9999-12-31T00:00:00Z"
    with pytest.raises(JobFailed, match=re.escape(f"--logical-time '{logical}': '{logical}': the last day a job can")):
        job_arguments.day_range({"from_date": "today-1", "to_date": "today-1", "logical_time": logical})
