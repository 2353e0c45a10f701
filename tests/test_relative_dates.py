"""One date grammar: the CLI's options, execute's plans, the schedules' windows and the jobs' arguments
read every date alike (issue 20 §5: the control plane took ``2024-3-1``, which a job refused)."""

from __future__ import annotations

import argparse
from datetime import date

import pytest

from job_helpers import job_arguments
from job_helpers.control.config import JobSpec
from job_helpers.control.plan import PlanError, plan_runs, run_days
from job_helpers.control.schedule import window_of
from job_helpers.relative_dates import NotADate, day_option, resolve_day
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
