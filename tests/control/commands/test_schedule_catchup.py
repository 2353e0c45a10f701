"""Schedules that catch up (issue 19 §2): every firing covers its own logical date, and the days it missed are found.

On aws each firing is what EventBridge Scheduler does with the schedule's target: Glue's StartJobRun
with the target's Input, ``<aws.scheduler.scheduled-time>`` filled in (on moto's server); the run
is then run as Glue runs it, the fake job's script with the job's default arguments and the run's,
as a process against moto's S3, where it writes its run report. Locally each firing is the
crontab line's ``execute``, run by the local runners. The clock the commands read is set; the
jobs never read it for their days.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import boto3
import pytest

from job_helpers import job_arguments, relative_dates
from job_helpers.run_report import read_report, report_url
from job_helpers.storage import Storage

SCHEDULE = "test-etl-fake-scheduled"
SCHEDULER_ROLE = "arn:aws:iam::123456789012:role/test-etl-scheduler"
CREATED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 5, 12, 0, tzinfo=UTC)


@pytest.fixture
def clock(monkeypatch):
    """Set the time the commands read (``relative_dates.now``, the one clock)."""

    def at(when: datetime) -> None:
        monkeypatch.setattr(relative_dates, "now", lambda: when)

    return at


def moto_run(name: str, run_id: str):
    """moto's record of one Glue run (the server runs in this process), to end it as Glue would."""
    from moto.glue.models import glue_backends

    return next(run for run in glue_backends["123456789012"]["us-east-1"].jobs[name].job_runs if run.job_run_id == run_id)


class OnGlue:
    """A project scheduled on moto: fire the schedule, run a Glue run, call the CLI with the test's settings."""

    def __init__(self, project, out: Path, capsys) -> None:
        self.project = project
        self.out = out
        self.capsys = capsys
        self.sets = (
            "--set",
            f"profiles.aws.scheduler_role_arn={SCHEDULER_ROLE}",
            "--set",
            f"jobs.fake.arguments.--output={out.as_uri()}/",
        )
        self.glue = boto3.client("glue", region_name="us-east-1")
        self.scheduler = boto3.client("scheduler", region_name="us-east-1")

    def cli(self, *args: str) -> tuple[int, str, str]:
        code = self.project.cli(*self.sets, *args, profile="aws")
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err

    def fire(self, scheduled_time: str) -> str:
        """What EventBridge Scheduler does at a firing: StartJobRun with its target's Input, the time filled in."""
        target = self.scheduler.get_schedule(Name=SCHEDULE, GroupName="test-etl")["Target"]
        assert target["Arn"] == "arn:aws:scheduler:::aws-sdk:glue:startJobRun"
        request = json.loads(target["Input"].replace("<aws.scheduler.scheduled-time>", scheduled_time))
        return self.glue.start_job_run(**request)["JobRunId"]

    def run(self, name: str, run_id: str) -> str:
        """Run one Glue run as Glue would (job defaults, then the run's arguments), end it in moto; its state."""
        job = self.glue.get_job(JobName=name)["Job"]
        found = self.glue.get_job_run(JobName=name, RunId=run_id)["JobRun"]
        command = [sys.executable, str(self.project.root / "jobs" / "fake_job.py"), "--JOB_NAME", name, "--JOB_RUN_ID", run_id]
        for option, value in {**job["DefaultArguments"], **found.get("Arguments", {})}.items():
            command += [option, value]
        env = {**os.environ, "JOB_HELPERS_RUNTIME": "local", "PYTHONPATH": str(self.project.root)}
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        ended = moto_run(name, run_id)
        ended.status = "SUCCEEDED" if done.returncode == 0 else "FAILED"
        ended.worker_type, ended.number_of_workers = "G.1X", 2
        return ended.status

    def scope(self, name: str, run_id: str) -> str:
        report = read_report(Storage(), report_url("s3://assets/glue/runs/", name, run_id))
        assert report is not None, f"run {run_id} of {name} wrote no report"
        return report.scope


@pytest.fixture
def on_glue(built_on_moto, capsys, clock, runs_stay_starting, tmp_path) -> OnGlue:
    """``fake`` scheduled daily at 03:00 UTC, yesterday's day per firing, created on 2026-03-01 at noon."""
    from moto.scheduler.models import scheduler_backends

    runs_stay_starting()
    glue = OnGlue(built_on_moto, tmp_path / "out", capsys)
    glue.scheduler.create_schedule_group(Name="test-etl", Tags=[{"Key": "source", "Value": "test-etl"}])
    clock(CREATED)
    assert glue.cli("schedule", "--job", "fake", "--cron", "0 3 * * ? *")[0] == 0
    installed = scheduler_backends["123456789012"]["us-east-1"].schedule_groups["test-etl"].schedules[SCHEDULE]
    installed.creation_date = CREATED.timestamp()
    return glue


def chunks(summary: dict) -> dict[str, tuple]:
    """By first day: the chunk's last day, firing, state and attempts."""
    return {c["from"]: (c["to"], c["logical_time"], c["state"], c["attempts"]) for c in summary["chunks"]}


def test_each_firing_covers_its_own_day_and_a_console_rerun_of_it_the_same_day(on_glue, clock):
    """Issue 19.2: a Glue trigger passed the same today-1 to every run, so a re-run a day later covered the wrong day."""
    first = on_glue.fire("2026-03-02T03:00:00Z")
    assert on_glue.run(SCHEDULE, first) == "SUCCEEDED"
    assert on_glue.scope(SCHEDULE, first) == "2026-03-01_2026-03-01"
    arguments = on_glue.glue.get_job_run(JobName=SCHEDULE, RunId=first)["JobRun"]["Arguments"]
    assert arguments["--logical-time"] == "2026-03-02T03:00:00Z"

    # A console re-run of that firing, days later: the same arguments, started whenever.
    rerun = on_glue.glue.start_job_run(JobName=SCHEDULE, Arguments=arguments)["JobRunId"]
    assert on_glue.run(SCHEDULE, rerun) == "SUCCEEDED"
    assert on_glue.scope(SCHEDULE, rerun) == "2026-03-01_2026-03-01", "the job counted from the firing, not from the day it ran"

    clock(NOW)
    code, out, _ = on_glue.cli("status", "--schedule", "fake", "--json")
    assert code == 0
    summary = json.loads(out)
    assert chunks(summary) == {"2026-03-01": ("2026-03-01", "2026-03-02T03:00:00Z", "SUCCEEDED", 2)}
    (chunk,) = summary["chunks"]
    assert chunk["dpu_hours"] == pytest.approx(2 * 123 * 2 / 3600, abs=1e-6), "both attempts billed: 123 s on 2 G.1X each"
    assert summary["price_usd"] == pytest.approx(2 * 123 * 2 / 3600 * 0.44, abs=1e-6)
    assert summary["schedule"]["missing_days"] == ["2026-03-02", "2026-03-03", "2026-03-04"]


def test_a_missed_and_a_failed_day_are_shown_retried_and_caught_up_once(on_glue, clock):
    """Firings: 03-02 fine, 03-03 missed, 03-04 failed, 03-05 fired twice (EventBridge delivers at least once)."""
    on_glue.out.mkdir(parents=True)
    (on_glue.out / "fail-2026-03-03").touch()
    fired = {}
    for scheduled_time in ("2026-03-02T03:00:00Z", "2026-03-04T03:00:00Z", "2026-03-05T03:00:00Z", "2026-03-05T03:00:00Z"):
        run_id = on_glue.fire(scheduled_time)
        fired[run_id] = on_glue.run(SCHEDULE, run_id)
    fine, failed, *twice = fired
    assert list(fired.values()) == ["SUCCEEDED", "FAILED", "SUCCEEDED", "SUCCEEDED"]
    assert {on_glue.scope(SCHEDULE, run_id) for run_id in twice} == {"2026-03-04_2026-03-04"}

    clock(NOW)
    code, out, _ = on_glue.cli("status", "--schedule", "fake")
    assert code == 0
    assert "Schedule of fake" in out and "2026-03-05T03:00:00Z" in out
    assert "Missing 2 of 4 due day(s), no succeeded run covers them: 2026-03-02 → 2026-03-03." in out
    assert "make catchup job=fake since=2026-03-02" in out
    logs = boto3.client("logs", region_name="us-east-1")
    logs.create_log_group(logGroupName="/aws-glue/jobs/output")
    logs.create_log_stream(logGroupName="/aws-glue/jobs/output", logStreamName=f"{failed}-driver")
    event = {"timestamp": int(datetime.now(UTC).timestamp() * 1000), "message": "ValueError: chunk 2026-03-03 failed"}
    logs.put_log_events(logGroupName="/aws-glue/jobs/output", logStreamName=f"{failed}-driver", logEvents=[event])
    code, out, _ = on_glue.cli("status", "--schedule", "fake", "--log-lines", "1")
    assert code == 0 and "    ValueError: chunk 2026-03-03 failed" in out, "the failed firing's log, not the job's latest run's"
    summary = json.loads(on_glue.cli("status", "--schedule", "fake", "--json")[1])
    assert chunks(summary) == {
        "2026-03-01": ("2026-03-01", "2026-03-02T03:00:00Z", "SUCCEEDED", 1),
        "2026-03-03": ("2026-03-03", "2026-03-04T03:00:00Z", "FAILED", 1),
        "2026-03-04": ("2026-03-04", "2026-03-05T03:00:00Z", "SUCCEEDED", 2),
    }, "two firings of one logical date are one chunk with two attempts"

    # retry: the failed firing starts again on the schedule's job, with its own logical time.
    (on_glue.out / "fail-2026-03-03").unlink()
    code, out, _ = on_glue.cli("retry", "--schedule", "fake")
    assert code == 0 and "Retrying 1 of 3 chunk(s) of schedule fake" in out
    assert "Follow the schedule with: make status schedule=fake" in out
    runs = sorted(on_glue.glue.get_job_runs(JobName=SCHEDULE)["JobRuns"], key=lambda run: run["StartedOn"])
    (again,) = [run for run in runs if run["Id"] not in (fine, failed, *twice)]
    assert again["Arguments"]["--logical-time"] == "2026-03-04T03:00:00Z"
    assert on_glue.run(SCHEDULE, again["Id"]) == "SUCCEEDED" and on_glue.scope(SCHEDULE, again["Id"]) == "2026-03-03_2026-03-03"

    # catchup: only the day no firing covered, as one batch tagged for the schedule.
    code, out, _ = on_glue.cli("catchup", "--job", "fake", "--since", "2026-03-01", "--dry-run", "--json")
    assert code == 0
    assert [(run["from"], run["to"]) for run in json.loads(out)] == [("2026-03-02", "2026-03-02")]
    code, out, _ = on_glue.cli("catchup", "--job", "fake", "--since", "2026-03-01")
    assert code == 0 and "4 day(s) due from 2026-03-01 to 2026-03-04" in out and "3 covered by a succeeded run" in out
    (caught,) = [n for n in on_glue.glue.list_jobs()["JobNames"] if n != SCHEDULE]
    assert caught.endswith("-20260302-20260302")
    tags = on_glue.glue.get_tags(ResourceArn=f"arn:aws:glue:us-east-1:123456789012:job/{caught}")["Tags"]
    assert tags["for-schedule"] == "fake" and tags["job"] == "fake" and "schedule" not in tags, "cleanup may delete it"

    # While it runs, a second catchup starts nothing: the day is being worked on.
    code, out, _ = on_glue.cli("catchup", "--job", "fake", "--since", "2026-03-01")
    assert code == 0 and "1 being worked on, 0 missing" in out
    assert len(on_glue.glue.list_jobs()["JobNames"]) == 2

    (run,) = on_glue.glue.get_job_runs(JobName=caught)["JobRuns"]
    assert on_glue.run(caught, run["Id"]) == "SUCCEEDED"
    summary = json.loads(on_glue.cli("status", "--schedule", "fake", "--json")[1])
    assert chunks(summary) == {
        "2026-03-01": ("2026-03-01", "2026-03-02T03:00:00Z", "SUCCEEDED", 1),
        "2026-03-02": ("2026-03-02", None, "SUCCEEDED", 1),
        "2026-03-03": ("2026-03-03", "2026-03-04T03:00:00Z", "SUCCEEDED", 2),
        "2026-03-04": ("2026-03-04", "2026-03-05T03:00:00Z", "SUCCEEDED", 2),
    }
    assert summary["schedule"]["missing_days"] == []
    code, out, _ = on_glue.cli("catchup", "--job", "fake", "--since", "2026-03-01")
    assert code == 0 and "0 missing" in out and len(on_glue.glue.list_jobs()["JobNames"]) == 2

    page = on_glue.project.build_dir / "reports" / "schedule-fake.html"
    assert on_glue.cli("report", "--schedule", "fake")[0] == 0
    assert "<h1>Schedule of fake</h1>" in page.read_text()


def test_catchup_never_runs_ahead_of_the_schedule(on_glue, clock):
    """Before 03:00 UTC today's firing has not happened: its day is not due yet, whatever the date says."""
    clock(datetime(2026, 3, 3, 2, 59, tzinfo=UTC))
    code, out, _ = on_glue.cli("catchup", "--job", "fake", "--since", "2026-03-01", "--dry-run", "--json")
    assert code == 0 and [run["from"] for run in json.loads(out)] == ["2026-03-01"]
    clock(datetime(2026, 3, 3, 3, 0, tzinfo=UTC))
    code, out, _ = on_glue.cli("catchup", "--job", "fake", "--since", "2026-03-01", "--dry-run", "--json")
    assert [(run["from"], run["to"]) for run in json.loads(out)] == [
        ("2026-03-01", "2026-03-01"),
        ("2026-03-02", "2026-03-02"),
    ], "in chunks of the schedule's days per firing"


def test_a_firing_just_before_midnight_utc_covers_its_own_day_even_when_its_run_starts_after(on_glue, clock):
    """A firing meant for 23:59 UTC whose job starts at 00:01: counting from the clock gave the next day."""
    assert on_glue.cli("unschedule", "--job", "fake")[0] == 0
    clock(CREATED)
    assert on_glue.cli("schedule", "--job", "fake", "--cron", "59 23 * * ? *", "--lag-days", "1")[0] == 0
    run_id = on_glue.fire("2026-03-01T23:59:00Z")
    arguments = on_glue.glue.get_job_run(JobName=SCHEDULE, RunId=run_id)["JobRun"]["Arguments"]
    resolved = {name.removeprefix("--").replace("-", "_"): value for name, value in arguments.items()}
    clock(datetime(2026, 3, 2, 0, 1, tzinfo=UTC))
    assert job_arguments.day_range(resolved) == (date(2026, 2, 28), date(2026, 2, 28))
    assert on_glue.run(SCHEDULE, run_id) == "SUCCEEDED" and on_glue.scope(SCHEDULE, run_id) == "2026-02-28_2026-02-28"

    clock(datetime(2026, 3, 1, 23, 58, tzinfo=UTC))
    code, out, _ = on_glue.cli("catchup", "--job", "fake", "--since", "2026-02-27", "--dry-run", "--json")
    assert [run["from"] for run in json.loads(out)] == ["2026-02-27"], "the 23:59 firing of 03-01 is not due at 23:58"


def test_catchup_without_a_schedule_says_how_to_make_one(built, capsys):
    assert built.cli("catchup", "--job", "fake", "--since", "2026-03-01") == 2
    assert "fake has no schedule: catchup starts the days its firings should have covered" in capsys.readouterr().err


@pytest.mark.subprocess
def test_locally_the_crontab_line_s_firings_are_the_schedule_s_runs_and_catchup_reads_the_reports(built, capsys, clock):
    """The same on the local profile: the crontab line passes the time cron fired it; the registry and the
    run reports say what ran; the reports still count once cleanup has deleted the jobs."""
    clock(CREATED)
    assert built.cli("schedule", "--job", "fake", "--cron", "0 3 * * ? *") == 0
    line = capsys.readouterr().out
    assert 'logical_time="$(date +\\%Y-\\%m-\\%dT\\%H:\\%M\\%z)"' in line
    out = built.settings().lake / "scratch" / "out"
    out.mkdir(parents=True)
    (out / "fail-2026-03-03").touch()

    def fire(day: int) -> int:
        """What the line runs when cron fires it at 03:00 here on 2026-03-<day>."""
        when = datetime(2026, 3, day, 3, 0).astimezone()
        clock(when)
        arguments = ["execute", "--job", "fake", "--from", "today-1", "--to", "today-1", "--days-per-job", "1"]
        return built.cli(*arguments, "--logical-time", when.strftime("%Y-%m-%dT%H:%M%z"), "--wait")

    assert [fire(2), fire(4), fire(5), fire(5)] == [0, 1, 0, 0]
    capsys.readouterr()
    clock(NOW)
    assert built.cli("status", "--schedule", "fake", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert {day: (state, attempts) for day, (_, _, state, attempts) in chunks(summary).items()} == {
        "2026-03-01": ("SUCCEEDED", 1),
        "2026-03-03": ("FAILED", 1),
        "2026-03-04": ("SUCCEEDED", 2),
    }
    assert summary["schedule"]["missing_days"] == ["2026-03-02", "2026-03-03"]
    assert summary["schedule"]["zone"] == "local" and summary["estimate"] is True

    (out / "fail-2026-03-03").unlink()
    assert built.cli("retry", "--schedule", "fake", "--wait") == 0
    assert built.cli("catchup", "--job", "fake", "--since", "2026-03-01", "--wait") == 0
    assert "3 covered by a succeeded run, 0 being worked on, 1 missing" in capsys.readouterr().out
    assert built.cli("status", "--schedule", "fake", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert {day: state for day, (_, _, state, _) in chunks(summary).items()} == {
        "2026-03-01": "SUCCEEDED",
        "2026-03-02": "SUCCEEDED",
        "2026-03-03": "SUCCEEDED",
        "2026-03-04": "SUCCEEDED",
    }
    assert summary["schedule"]["missing_days"] == []

    assert built.cli("cleanup") == 0
    assert built.cli("catchup", "--job", "fake", "--since", "2026-03-01") == 0
    assert "4 covered by a succeeded run, 0 being worked on, 0 missing" in capsys.readouterr().out, "the reports outlive the jobs"
    assert built.cli("unschedule", "--job", "fake") == 0
    assert built.cli("status", "--schedule", "fake") == 0
    assert "fake has no schedule now" in capsys.readouterr().out
