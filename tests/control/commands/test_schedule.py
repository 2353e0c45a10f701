"""The daily increment: relative dates, the jobs quota, and schedules (EventBridge Scheduler on moto, crontab locally)."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta

import boto3
import pytest

from job_helpers import job_arguments
from job_helpers.control.config import JobSpec
from job_helpers.control.local_registry import Registry
from job_helpers.control.plan import PlanError, check_project_jobs, plan_runs
from job_helpers.control.runs import RunStatus, restart_arguments
from job_helpers.control.schedule import crontab_line, glue_cron, window_arguments
from job_helpers.control.scheduled_runs import reported_days
from job_helpers.relative_dates import NotADate, resolve_day
from job_helpers.run_report import RunReport, report_url, reports_prefix, write_report
from job_helpers.runtime import JobFailed
from job_helpers.storage import Storage

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


def test_the_crontab_line_runs_the_same_execute_with_crontab_s_fields_and_the_time_cron_fired_it(tmp_path):
    arguments = window_arguments(1, 1)
    line = crontab_line("0 3 ? * 2-6 *", tmp_path / "my repo", JOB, arguments, 1)
    assert line == (
        f"0 3 * * 1-5 cd '{tmp_path / 'my repo'}' && make execute job=fake from=today-1 to=today-1 days_per_job=1 "
        'logical_time="$(date +\\%Y-\\%m-\\%dT\\%H:\\%M\\%z)" profile=local >> build/logs/schedule-fake.log 2>&1'
    )
    with pytest.raises(PlanError, match="no year field"):
        crontab_line("0 3 * * ? 2027", tmp_path, JOB, arguments, 1)


def test_a_batch_past_the_project_jobs_limit_is_refused_naming_the_ways_out():
    check_project_jobs(890, 10, 900)
    with pytest.raises(PlanError) as refused:
        check_project_jobs(891, 10, 900)
    assert "has 891 job(s) and this batch would add 10, over the limit of 900" in str(refused.value)
    assert "make cleanup" in str(refused.value) and "--days-per-job" in str(refused.value)


@pytest.mark.subprocess
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


def test_schedule_locally_prints_the_crontab_line_records_it_and_installs_nothing(project, capsys):
    assert project.cli("schedule", "--job", "fake", "--cron", "30 2 * * ? *", "--lag-days", "2", "--days-per-job", "3") == 0
    captured = capsys.readouterr()
    assert captured.out == (
        f"30 2 * * * cd {project.root} && make execute job=fake from=today-4 to=today-2 days_per_job=3 "
        'logical_time="$(date +\\%Y-\\%m-\\%dT\\%H:\\%M\\%z)" profile=local >> build/logs/schedule-fake.log 2>&1\n'
    )
    assert "crontab -e" in captured.err and "_registry/schedules/fake.json" in captured.err
    recorded = json.loads((project.lake_root / "_registry" / "schedules" / "fake.json").read_text())
    assert {k: recorded[k] for k in ("job", "cron", "lag_days", "days_per_job")} == {
        "job": "fake",
        "cron": "30 2 * * ? *",
        "lag_days": 2,
        "days_per_job": 3,
    }
    assert project.cli("schedule", "--job", "once", "--cron", "30 2 * * ? *") == 2
    assert "not date-ranged" in capsys.readouterr().err
    for lag in ("-1", "x", "9" * 5000):
        assert project.cli("schedule", "--job", "fake", "--cron", "30 2 * * ? *", "--lag-days", lag) == 2
        assert "--lag-days" in capsys.readouterr().err
    # A window every run's job would refuse: it reaches back before year 1000 (or year 1).
    for lag, lands in (("400000", "lands on 09"), ("999999", "lands before year 1 (")):
        assert project.cli("schedule", "--job", "fake", "--cron", "30 2 * * ? *", "--lag-days", lag) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: --lag-days plus --days-per-job: the window's first day 'today-{lag}' {lands}"), err
        assert err.endswith("the first day a date can name is 1000-01-01\n") and err.count("\n") == 1, err
    assert project.cli("schedule", "--job", "fake", "--cron", "30 2 * * *") == 2
    assert "six fields" in capsys.readouterr().err
    assert project.cli("unschedule", "--job", "fake") == 0
    assert "Removed the record of the schedule" in capsys.readouterr().out
    assert not (project.lake_root / "_registry" / "schedules" / "fake.json").exists()


def test_command_line_dates_take_relative_forms_too():
    import argparse

    from job_helpers.relative_dates import day_option

    assert day_option("2024-03-01") == date(2024, 3, 1)
    assert abs(day_option("today") - datetime.now(UTC).date()) <= timedelta(days=1)
    with pytest.raises(argparse.ArgumentTypeError, match="give YYYY-MM-DD, today, yesterday or today-N"):
        day_option("soon")


def test_execute_refuses_a_date_a_job_would_refuse(project, capsys):
    """Issue 20 §5: the control plane took 2024-3-1 (strptime) and today-７ (any script's digits); the jobs refused both."""
    for text in ("2024-3-1", "today-\uff17"):
        assert project.cli("execute", "--job", "fake", "--from", text, "--to", "2024-03-02", "--dry-run") == 2
        assert capsys.readouterr().err == (
            f"error: --from {text!r}: expected a date like 2022-01-31 (YYYY-MM-DD), today, yesterday or today-N\n"
        )


SCHEDULER_ROLE = "arn:aws:iam::123456789012:role/test-etl-scheduler"
WITH_ROLE = ("--set", f"profiles.aws.scheduler_role_arn={SCHEDULER_ROLE}")
TAGS = {"source": "test-etl", "schedule": "fake"}


@pytest.fixture
def scheduler(moto_server):
    return boto3.client("scheduler", region_name="us-east-1")


def make_stack_s_group(scheduler) -> None:
    """The project's schedule group, tagged, as `make stack` creates it."""
    scheduler.create_schedule_group(Name="test-etl", Tags=[{"Key": "source", "Value": "test-etl"}])


def test_schedule_creates_an_eventbridge_schedule_passing_each_firing_s_time_and_a_job_cleanup_leaves_alone(
    built_on_moto, scheduler, capsys
):
    """Issue 19.2: every firing names its own logical date (<aws.scheduler.scheduled-time>), so no day is the same today-1."""
    glue = boto3.client("glue", region_name="us-east-1")
    assert built_on_moto.cli("schedule", "--job", "fake", "--cron", "0 3 * * ? *", profile="aws") == 2
    assert "profiles.aws.scheduler_role_arn is empty: set SCHEDULER_ROLE_ARN" in capsys.readouterr().err
    assert built_on_moto.cli(*WITH_ROLE, "schedule", "--job", "fake", "--cron", "0 3 * * ? *", profile="aws") == 2
    assert "the project's schedule group test-etl does not exist: `make stack profile=aws` creates it" in (
        capsys.readouterr().err
    )
    assert glue.list_jobs()["JobNames"] == [], "nothing is created before the group is there"

    make_stack_s_group(scheduler)
    assert built_on_moto.cli(*WITH_ROLE, "schedule", "--job", "fake", "--cron", "0 3 * * ? *", profile="aws") == 0
    out = capsys.readouterr().out
    assert (
        "Scheduled fake: schedule test-etl/test-etl-fake-scheduled (cron(0 3 * * ? *), UTC) starts job test-etl-fake-scheduled"
        in (out)
    )
    found = scheduler.get_schedule(Name="test-etl-fake-scheduled", GroupName="test-etl")
    assert (found["ScheduleExpression"], found["ScheduleExpressionTimezone"], found["State"]) == (
        "cron(0 3 * * ? *)",
        "UTC",
        "ENABLED",
    )
    assert found["FlexibleTimeWindow"] == {"Mode": "OFF"} and found["ActionAfterCompletion"] == "NONE"
    target = found["Target"]
    assert (target["Arn"], target["RoleArn"]) == ("arn:aws:scheduler:::aws-sdk:glue:startJobRun", SCHEDULER_ROLE)
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}
    assert json.loads(target["Input"]) == {
        "JobName": "test-etl-fake-scheduled",
        "Arguments": {"--from-date": "today-1", "--to-date": "today-1", "--logical-time": "<aws.scheduler.scheduled-time>"},
    }
    job = glue.get_job(JobName="test-etl-fake-scheduled")["Job"]
    assert job["Command"]["ScriptLocation"].endswith("/jobs/fake_job.py") and job["WorkerType"] == "G.1X"
    assert glue.get_tags(ResourceArn="arn:aws:glue:us-east-1:123456789012:job/test-etl-fake-scheduled")["Tags"] == TAGS
    assert glue.get_triggers()["Triggers"] == [], "no Glue trigger any more"

    assert built_on_moto.cli("cleanup", "--include-never-run", profile="aws") == 0
    assert (
        "SKIPPED - Name: test-etl-fake-scheduled (started by a schedule; `make unschedule job=fake` removes it)"
        in capsys.readouterr().out
    )
    assert built_on_moto.cli(*WITH_ROLE, "schedule", "--job", "fake", "--cron", "0 4 * * ? *", profile="aws") == 2
    assert "already scheduled (schedule test-etl/test-etl-fake-scheduled)" in capsys.readouterr().err

    assert built_on_moto.cli("unschedule", "--job", "fake", profile="aws") == 0
    assert "removed schedule test-etl/test-etl-fake-scheduled and job test-etl-fake-scheduled" in capsys.readouterr().out
    assert scheduler.list_schedules(GroupName="test-etl")["Schedules"] == [] and glue.list_jobs()["JobNames"] == []
    assert built_on_moto.cli("unschedule", "--job", "fake", profile="aws") == 0
    assert "has no schedule" in capsys.readouterr().out


def older_schedule(glue) -> None:
    """What `make schedule` created before schedules passed their firing's time: a tagged job and Glue trigger."""
    name = "test-etl-fake-scheduled"
    glue.create_job(
        Name=name,
        Role="arn:aws:iam::123456789012:role/test-glue-jobs",
        Command={"Name": "glueetl", "ScriptLocation": "s3://assets/glue/builds/old/jobs/fake_job.py"},
        Tags=TAGS,
    )
    glue.create_trigger(
        Name=name,
        Type="SCHEDULED",
        Schedule="cron(0 3 * * ? *)",
        Actions=[{"JobName": name, "Arguments": {"--from-date": "today-2", "--to-date": "today-1"}}],
        StartOnCreation=True,
        Tags=TAGS,
    )


def test_schedule_replaces_the_glue_trigger_of_an_older_schedule_and_unschedule_removes_either_kind(
    built_on_moto, scheduler, capsys
):
    glue = boto3.client("glue", region_name="us-east-1")
    make_stack_s_group(scheduler)
    older_schedule(glue)
    assert built_on_moto.cli("status", "--schedule", "fake", "--json", profile="aws") == 0
    state = json.loads(capsys.readouterr().out)["schedule"]
    assert (state["installed"], state["cron"], state["lag_days"], state["days_per_job"]) == (
        "Glue trigger test-etl-fake-scheduled",
        "cron(0 3 * * ? *)",
        1,
        2,
    ), "status reads an older trigger's schedule too"

    assert built_on_moto.cli(*WITH_ROLE, "schedule", "--job", "fake", "--cron", "0 5 * * ? *", profile="aws") == 0
    out = capsys.readouterr().out
    assert "Replaced fake's Glue trigger test-etl-fake-scheduled and its job" in out
    assert glue.get_triggers()["Triggers"] == []
    assert (
        scheduler.get_schedule(Name="test-etl-fake-scheduled", GroupName="test-etl")["ScheduleExpression"] == "cron(0 5 * * ? *)"
    )
    job = glue.get_job(JobName="test-etl-fake-scheduled")["Job"]
    assert "/builds/old/" not in job["Command"]["ScriptLocation"], "the job is created again from the current build"

    assert built_on_moto.cli("unschedule", "--job", "fake", profile="aws") == 0
    capsys.readouterr()
    older_schedule(glue)
    assert built_on_moto.cli("unschedule", "--job", "fake", profile="aws") == 0
    assert "removed trigger test-etl-fake-scheduled and job test-etl-fake-scheduled" in capsys.readouterr().out
    assert glue.get_triggers()["Triggers"] == [] and glue.list_jobs()["JobNames"] == []


def test_a_trigger_of_another_project_is_never_replaced(built_on_moto, scheduler, capsys):
    glue = boto3.client("glue", region_name="us-east-1")
    make_stack_s_group(scheduler)
    glue.create_trigger(
        Name="test-etl-fake-scheduled",
        Type="SCHEDULED",
        Schedule="cron(0 3 * * ? *)",
        Actions=[{"JobName": "theirs"}],
        Tags={"source": "another"},
    )
    assert built_on_moto.cli(*WITH_ROLE, "schedule", "--job", "fake", "--cron", "0 5 * * ? *", profile="aws") == 2
    assert "a Glue trigger named test-etl-fake-scheduled exists without this project's tags" in capsys.readouterr().err
    assert [t["Name"] for t in glue.get_triggers()["Triggers"]] == ["test-etl-fake-scheduled"]
    assert glue.list_jobs()["JobNames"] == [] and scheduler.list_schedules()["Schedules"] == []


def test_a_schedule_name_eventbridge_would_refuse_is_refused_naming_the_key(built_on_moto, scheduler, capsys):
    long_prefix = ("--set", "jobs.fake.name_prefix=" + "x" * 60)
    assert built_on_moto.cli(*WITH_ROLE, *long_prefix, "schedule", "--job", "fake", "--cron", "0 3 * * ? *", profile="aws") == 2
    err = capsys.readouterr().err
    assert "EventBridge Scheduler takes 1-64 letters, digits" in err and "shorten jobs.fake.name_prefix in config.yml" in err
    assert scheduler.list_schedules()["Schedules"] == []


@pytest.mark.parametrize(
    "text, day",
    [
        ("2026-03-02T03:00:00Z", date(2026, 3, 2)),
        ("2026-03-01T23:59:59Z", date(2026, 3, 1)),
        ("2026-03-02T00:30+0100", date(2026, 3, 2)),
        ("2026-03-01T23:30-05:00", date(2026, 3, 1)),
        ("2026-03-02T03:00:00.123456Z", date(2026, 3, 2)),
    ],
)
def test_a_firing_s_relative_dates_count_from_the_day_of_its_logical_time_where_it_was_written(text, day):
    """Not from the day the run starts: a re-run a week later, or a run that starts after midnight, covers the same days."""
    args = {"from_date": "today-2", "to_date": "today-1", "logical_time": text}
    assert job_arguments.day_range(args, None) == (day - timedelta(days=2), day - timedelta(days=1))
    assert job_arguments.day_range({"from_date": "2024-01-01", "to_date": "2024-01-02", "logical_time": text}) == (
        date(2024, 1, 1),
        date(2024, 1, 2),
    ), "dates written out win"


@pytest.mark.parametrize("text", ["2026-03-02", "2026-03-02T03:00", "yesterday", "2026-03-02 03:00Z", "2026-02-30T03:00Z", ""])
def test_a_logical_time_without_its_offset_or_not_a_time_fails_the_run_naming_the_argument(text):
    with pytest.raises(JobFailed, match=f"--logical-time {re.escape(repr(text))}: .* is not a time with its offset"):
        job_arguments.day_range({"from_date": "today-1", "to_date": "today-1", "logical_time": text})


@pytest.mark.subprocess
def test_execute_with_a_logical_time_counts_from_its_day_and_the_batch_is_the_schedule_s(built, capsys):
    command = ["execute", "--job", "fake", "--from", "today-1", "--to", "today-1", "--days-per-job", "1"]
    assert built.cli(*command, "--logical-time", "2026-03-02T00:30+0100", "--dry-run", "--json") == 0
    captured = capsys.readouterr()
    assert [(run["from"], run["to"]) for run in json.loads(captured.out)] == [("2026-03-01", "2026-03-01")]
    assert "Dates resolved from the day of the logical time 2026-03-02T00:30+0100" in captured.err
    assert built.cli(*command, "--logical-time", "2026-03-02T00:30+0100", "--dates-in", "local") == 2
    assert "--logical-time carries its own zone (its offset): drop --dates-in" in capsys.readouterr().err
    assert built.cli(*command, "--logical-time", "tomorrow") == 2
    assert "--logical-time: 'tomorrow' is not a time with its offset" in capsys.readouterr().err
    assert built.cli("execute", "--job", "once", "--logical-time", "2026-03-02T00:30Z") == 2
    assert "once is not date-ranged" in capsys.readouterr().err

    assert built.cli(*command, "--logical-time", "2026-03-02T00:30+0100", "--wait") == 0
    registry = Registry(built.registry)
    ((name, tags),) = registry.tagged_jobs({"for-schedule": "fake"}).items()
    assert tags["job"] == "fake" and "schedule" not in tags
    (run,) = registry.job_runs([name])[name]
    assert run.arguments == {"--from-date": "2026-03-01", "--to-date": "2026-03-01", "--logical-time": "2026-03-02T00:30+0100"}
    assert run.state == "SUCCEEDED", "the job takes --logical-time"


def test_a_glue_trigger_s_run_covered_the_utc_day_it_started_on_and_a_retry_pins_those_days():
    """Runs an older schedule's trigger started carry no logical time: their job counted from the day it started."""
    started = datetime(2026, 3, 2, 3, 0, 5, tzinfo=UTC)
    run = RunStatus("test-etl-fake-scheduled", "jr_1", "FAILED", {"--from-date": "today-1", "--to-date": "today-1"}, started)
    assert (run.from_date, run.to_date) == ("2026-03-01", "2026-03-01")
    assert restart_arguments(run, {"--max-workers": "4"}) == {
        "--from-date": "2026-03-01",
        "--to-date": "2026-03-01",
        "--max-workers": "4",
    }, "a retry next week must not count from next week"
    fired = RunStatus(
        "test-etl-fake-scheduled",
        "jr_2",
        "FAILED",
        {"--from-date": "today-1", "--to-date": "today-1", "--logical-time": "2026-03-02T03:00:00Z"},
        started + timedelta(days=9),
    )
    assert (fired.from_date, restart_arguments(fired, {})) == ("2026-03-01", dict(fired.arguments))
    waiting = RunStatus("test-etl-fake-scheduled", "jr_3", "WAITING", {"--from-date": "today-1", "--to-date": "today-1"})
    assert waiting.days is None and waiting.from_date == "today-1", "not started: its days are not known yet"


class CountingStorage(Storage):
    """Local storage that remembers which objects were read."""

    def __init__(self) -> None:
        super().__init__()
        self.read: list[str] = []

    def read_text(self, url: str) -> str:
        self.read.append(url)
        return super().read_text(url)


def test_catchup_counts_the_days_of_the_job_s_succeeded_run_reports_only(tmp_path):
    storage = CountingStorage()
    assets = (tmp_path / "assets").as_uri() + "/"
    prefix = reports_prefix(assets)

    def report(name: str, run_id: str, scope: str, status: str = "SUCCEEDED") -> str:
        url = report_url(prefix, name, run_id)
        write_report(storage, url, RunReport(job=name, scope=scope, status=status))
        return url

    report("test-etl-fake-scheduled", "jr_1", "2026-03-01_2026-03-01")
    report("test-etl-fake-scheduled", "jr_2", "2026-03-02_2026-03-02", "FAILED")
    report("test-etl-fake-scheduled", "jr_3", "all")
    report("test-etl-fake-20260310T000000.000Z-20260303-20260304", "jr_4", "2026-03-03_2026-03-04")
    outside = report("test-etl-fake-20260310T000000.000Z-20260101-20260102", "jr_5", "2026-01-01_2026-01-02")
    other = report("test-etl-fake-extra-scheduled", "jr_6", "2026-03-05_2026-03-05")
    broken = report_url(prefix, "test-etl-fake-scheduled", "jr_7")
    storage.write_text(broken, "{not json")
    found = reported_days(storage, assets, JOB, date(2026, 3, 1), date(2026, 3, 31))
    assert found == {date(2026, 3, 1), date(2026, 3, 3), date(2026, 3, 4)}
    assert outside not in storage.read and other not in storage.read, "batches named outside the range, other jobs: not read"
    assert broken in storage.read, "a broken report covers nothing: its days run again"
    assert reported_days(storage, assets, JOB, date(2026, 3, 4), date(2026, 3, 10)) == {date(2026, 3, 4)}


def test_a_logical_time_in_config_yml_is_refused_schedules_and_execute_set_it(built, capsys):
    setting = ("--set", "jobs.fake.arguments.--logical-time=2026-03-02T03:00:00Z")
    assert built.cli(*setting, "execute", "--job", "fake", "--from", "2026-03-01", "--to", "2026-03-01") == 2
    assert "--set jobs.fake.arguments.--logical-time: execute sets it" in capsys.readouterr().err
