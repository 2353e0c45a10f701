"""The daily increment: relative dates, the jobs quota, and schedules (Glue triggers on moto, crontab locally)."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta

import boto3
import pytest

from job_helpers import job_arguments
from job_helpers.control.config import JobSpec
from job_helpers.control.plan import PlanError, check_project_jobs, plan_runs
from job_helpers.control.schedule import crontab_line, glue_cron, window_arguments
from job_helpers.relative_dates import NotADate, resolve_day
from job_helpers.runtime import JobFailed

JOB = JobSpec("fake", "test-etl-fake", "jobs/fake_job.py", "glueetl", "G.1X", 2, 5, 1, True, {})
TODAY = date(2026, 3, 1)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("today", TODAY),
        ("yesterday", date(2026, 2, 28)),
        ("today-0", TODAY),
        ("today-7", date(2026, 2, 22)),
        ("today-365", date(2025, 3, 1)),
        (" 2024-02-29 ", date(2024, 2, 29)),
    ],
)
def test_relative_dates_count_back_from_today(text, expected):
    assert resolve_day(text, TODAY) == expected


@pytest.mark.parametrize("text", ["today+1", "tomorrow", "Today", "today-", "today-x", "2024-02-30", "20240229", ""])
def test_anything_else_is_not_a_date(text):
    with pytest.raises(NotADate, match="give YYYY-MM-DD, today, yesterday or today-N"):
        resolve_day(text, TODAY)


def test_execute_resolves_relative_dates_once_when_it_plans_the_batch():
    runs = plan_runs(JOB, "B", "today-7", "yesterday", "3", TODAY)
    assert [run.arguments for run in runs] == [
        {"--from-date": "2026-02-22", "--to-date": "2026-02-24"},
        {"--from-date": "2026-02-25", "--to-date": "2026-02-27"},
        {"--from-date": "2026-02-28", "--to-date": "2026-02-28"},
    ]
    with pytest.raises(
        PlanError, match=re.escape("--from 'today+1': expected a date like 2022-01-31 (YYYY-MM-DD), today, yesterday or today-N")
    ):
        plan_runs(JOB, "B", "today+1", "today", None, TODAY)


def test_job_scripts_resolve_relative_date_arguments_at_start_up():
    args = {"from_date": "today-2", "to_date": "yesterday"}
    assert job_arguments.day_range(args, TODAY) == (date(2026, 2, 27), date(2026, 2, 28))
    with pytest.raises(JobFailed, match="--from-date 'last week' is not a date; give YYYY-MM-DD, today, yesterday or today-N"):
        job_arguments.day_range({"from_date": "last week", "to_date": "today"}, TODAY)


def test_the_window_ends_lag_days_before_the_run_date():
    assert window_arguments(1, 1) == {"--from-date": "today-1", "--to-date": "today-1"}
    assert window_arguments(0, 7) == {"--from-date": "today-6", "--to-date": "today"}
    assert window_arguments(2, 3) == {"--from-date": "today-4", "--to-date": "today-2"}
    with pytest.raises(PlanError):
        window_arguments(-1, 1)


@pytest.mark.parametrize(
    "cron, message",
    [
        ("0 3 * * *", "six fields"),
        ("0 3 * * * *", "'\\?' in day-of-month or day-of-week"),
        ("0 3 * * ? * ;rm", "six fields"),
    ],
)
def test_a_cron_glue_would_refuse_is_a_plan_error(cron, message):
    with pytest.raises(PlanError, match=message):
        glue_cron(cron)


def test_the_crontab_line_runs_the_same_execute_with_crontab_s_fields(tmp_path):
    arguments = window_arguments(1, 1)
    line = crontab_line("0 3 ? * 2-6 *", tmp_path / "my repo", JOB, arguments, 1)
    assert line == (
        f"0 3 * * 1-5 cd '{tmp_path / 'my repo'}' && make execute job=fake from=today-1 to=today-1 days_per_job=1 "
        "dates_in=local profile=local >> build/logs/schedule-fake.log 2>&1"
    )
    with pytest.raises(PlanError, match="no year field"):
        crontab_line("0 3 * * ? 2027", tmp_path, JOB, arguments, 1)


def test_a_batch_past_the_project_jobs_limit_is_refused_naming_the_ways_out():
    check_project_jobs(890, 10, 900)
    with pytest.raises(PlanError) as refused:
        check_project_jobs(891, 10, 900)
    assert "has 891 job(s) and this batch would add 10, over the limit of 900" in str(refused.value)
    assert "make cleanup" in str(refused.value) and "--days-per-job" in str(refused.value)


def test_execute_counts_the_project_s_jobs_and_creates_nothing_past_the_limit(built, capsys):
    limit = ["--set", "project.max_project_jobs=5"]
    assert built.cli(*limit, "execute", "--job", "fake", "--from", "2022-01-01", "--to", "2022-01-03", "--wait") == 0
    capsys.readouterr()
    assert built.cli(*limit, "execute", "--job", "fake", "--from", "2022-02-01", "--to", "2022-02-03") == 2
    output = capsys.readouterr().err
    assert "the project has 3 job(s) and this batch would add 3, over the limit of 5" in output and "make cleanup" in output
    assert built.cli(*limit, "status", "--json") == 0
    assert len(json.loads(capsys.readouterr().out)["chunks"]) == 3
    assert built.cli("cleanup") == 0
    capsys.readouterr()
    assert built.cli(*limit, "execute", "--job", "fake", "--from", "2022-02-01", "--to", "2022-02-03") == 0


def test_execute_shows_what_relative_dates_stood_for(built, capsys):
    assert built.cli("execute", "--job", "fake", "--from", "today-2", "--to", "yesterday", "--dry-run") == 0
    output = capsys.readouterr().out
    found = re.search(r"--from today-2 = (\S+), --to yesterday = (\S+)", output)
    today = date.fromisoformat(found.group(2)) + timedelta(days=1)
    assert date.fromisoformat(found.group(1)) == today - timedelta(days=2)
    assert abs(today - datetime.now(UTC).date()) <= timedelta(days=1)
    assert built.cli("execute", "--job", "fake", "--from", "today-2", "--to", "yesterday", "--dry-run", "--json") == 0
    plan = json.loads(capsys.readouterr().out)
    assert [run["from"] for run in plan] == [found.group(1), str(today - timedelta(days=2) + timedelta(days=1))]


def test_schedule_locally_prints_the_crontab_line_and_installs_nothing(project, capsys):
    assert project.cli("schedule", "--job", "fake", "--cron", "30 2 * * ? *", "--lag-days", "2", "--days-per-job", "3") == 0
    captured = capsys.readouterr()
    assert captured.out == (
        f"30 2 * * * cd {project.root} && make execute job=fake from=today-4 to=today-2 days_per_job=3 dates_in=local "
        "profile=local >> build/logs/schedule-fake.log 2>&1\n"
    )
    assert "crontab -e" in captured.err
    assert project.cli("schedule", "--job", "once", "--cron", "30 2 * * ? *") == 2
    assert "not date-ranged" in capsys.readouterr().err
    for lag in ("-1", "x", "9" * 5000):
        assert project.cli("schedule", "--job", "fake", "--cron", "30 2 * * ? *", "--lag-days", lag) == 2
        assert "--lag-days" in capsys.readouterr().err
    assert project.cli("schedule", "--job", "fake", "--cron", "30 2 * * *") == 2
    assert "six fields" in capsys.readouterr().err


def test_schedule_creates_a_tagged_trigger_and_job_that_cleanup_leaves_alone(built_on_moto, capsys):
    glue = boto3.client("glue", region_name="us-east-1")
    assert built_on_moto.cli("schedule", "--job", "fake", "--cron", "0 3 * * ? *", profile="aws") == 0
    assert "Scheduled fake: trigger test-etl-fake-scheduled (cron(0 3 * * ? *), UTC)" in capsys.readouterr().out
    trigger = glue.get_trigger(Name="test-etl-fake-scheduled")["Trigger"]
    assert (trigger["Type"], trigger["Schedule"], trigger["State"]) == ("SCHEDULED", "cron(0 3 * * ? *)", "ACTIVATED")
    assert trigger["Actions"] == [
        {"JobName": "test-etl-fake-scheduled", "Arguments": {"--from-date": "today-1", "--to-date": "today-1"}}
    ]
    tags = {"source": "test-etl", "schedule": "fake"}
    assert glue.get_tags(ResourceArn="arn:aws:glue:us-east-1:123456789012:trigger/test-etl-fake-scheduled")["Tags"] == tags
    job = glue.get_job(JobName="test-etl-fake-scheduled")["Job"]
    assert job["Command"]["ScriptLocation"].endswith("/jobs/fake_job.py") and job["WorkerType"] == "G.1X"
    assert glue.get_tags(ResourceArn="arn:aws:glue:us-east-1:123456789012:job/test-etl-fake-scheduled")["Tags"] == tags

    run_id = glue.start_job_run(JobName="test-etl-fake-scheduled", Arguments=trigger["Actions"][0]["Arguments"])["JobRunId"]
    assert glue.get_job_run(JobName="test-etl-fake-scheduled", RunId=run_id)["JobRun"]["JobRunState"] == "SUCCEEDED"
    assert built_on_moto.cli("cleanup", "--include-never-run", profile="aws") == 0
    assert (
        "SKIPPED - Name: test-etl-fake-scheduled (started by a schedule; `make unschedule job=fake` removes it)"
        in capsys.readouterr().out
    )
    assert glue.get_job(JobName="test-etl-fake-scheduled")

    assert built_on_moto.cli("schedule", "--job", "fake", "--cron", "0 4 * * ? *", profile="aws") == 2
    assert "already scheduled" in capsys.readouterr().err

    assert built_on_moto.cli("unschedule", "--job", "fake", profile="aws") == 0
    assert "removed trigger test-etl-fake-scheduled and job test-etl-fake-scheduled" in capsys.readouterr().out
    assert glue.get_triggers()["Triggers"] == [] and glue.list_jobs()["JobNames"] == []
    assert built_on_moto.cli("unschedule", "--job", "fake", profile="aws") == 0
    assert "has no schedule" in capsys.readouterr().out


def test_command_line_dates_take_relative_forms_too():
    import argparse

    from job_helpers.relative_dates import day_option

    assert day_option("2024-03-01") == date(2024, 3, 1)
    assert abs(day_option("today") - datetime.now(UTC).date()) <= timedelta(days=1)
    with pytest.raises(argparse.ArgumentTypeError, match="give YYYY-MM-DD, today, yesterday or today-N"):
        day_option("soon")
