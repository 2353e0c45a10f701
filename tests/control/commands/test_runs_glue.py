"""execute, status and cleanup on the aws profile, against the moto server."""

from __future__ import annotations

import json
import re
import time

import boto3
import pytest
import requests

from job_helpers.backoff import Backoff
from job_helpers.control.build import current_artifact
from job_helpers.control.glue_backend import GlueBackend, GlueJobs, GlueRefused, retry_refusals
from job_helpers.control.plan import PlannedRun, plan_runs
from job_helpers.control.runs import StartFailed
from job_helpers.run_report import RunReport
from job_helpers.storage import Storage

TAGS_OF_PROJECT = {"source": "test-etl"}


@pytest.fixture
def glue(moto_server):
    return boto3.client("glue", region_name="us-east-1")


def job_tags(glue, name: str) -> dict[str, str]:
    return glue.get_tags(ResourceArn=f"arn:aws:glue:us-east-1:123456789012:job/{name}")["Tags"]


def all_job_names(glue) -> list[str]:
    return sorted(n for page in glue.get_paginator("list_jobs").paginate() for n in page["JobNames"])


def batch_of(output: str) -> str:
    return re.search(r"batch (\d{8}T\d{6}\.\d{3}Z)", output).group(1)


def test_execute_creates_tagged_jobs_with_one_run_each_and_waits(built_on_moto, glue, capsys):
    assert built_on_moto.execute_a_week(profile="aws") == 0
    output = capsys.readouterr().out
    batch = batch_of(output)
    names = all_job_names(glue)
    assert names == [f"test-etl-fake-{batch}-{span}" for span in ("20220101-20220103", "20220104-20220106", "20220107-20220107")]
    assert output.count("SUCCEEDED") >= 3 and "gluestudio/home?region=us-east-1#/editor/job/" in output

    base = re.search(
        r"s3://assets/glue/builds/[0-9a-f]{16}/", glue.get_job(JobName=names[0])["Job"]["Command"]["ScriptLocation"]
    ).group(0)
    for name, (start, end) in zip(
        names, [("2022-01-01", "2022-01-03"), ("2022-01-04", "2022-01-06"), ("2022-01-07", "2022-01-07")]
    ):
        job = glue.get_job(JobName=name)["Job"]
        assert job["Role"] == "arn:aws:iam::123456789012:role/test-glue-jobs"
        assert job["Command"] == {"Name": "glueetl", "ScriptLocation": base + "jobs/fake_job.py", "PythonVersion": "3"}
        assert (job["GlueVersion"], job["WorkerType"], job["NumberOfWorkers"], job["Timeout"]) == ("5.1", "G.1X", 2, 5)
        assert job["ExecutionProperty"] == {"MaxConcurrentRuns": 1}
        assert job["DefaultArguments"] == {
            "--output": "s3://scratch/out/",
            "--fail-on": "never",
            "--sleep-seconds": "0",
            "--extra-py-files": base + "job_helpers.zip",
            "--job-language": "python",
            "--run-reports": "s3://assets/glue/runs/",
        }
        assert "--enable-continuous-cloudwatch-log" not in job["DefaultArguments"], (
            "Glue 5 logs in real time; the flag does nothing"
        )
        assert job_tags(glue, name) == {"source": "test-etl", "batch": batch, "job": "fake"}
        (run,) = glue.get_job_runs(JobName=name)["JobRuns"]
        assert run["Arguments"]["--from-date"] == start and run["Arguments"]["--to-date"] == end

    assert built_on_moto.cli("status", profile="aws") == 0
    status = capsys.readouterr().out
    assert f"Batch {batch} (fake)" in status and "2022-01-04 → 2022-01-06" in status and "3 SUCCEEDED" in status


def test_365_one_day_chunks_are_created_started_and_cleaned_up_across_pages(built_on_moto, glue, capsys):
    assert built_on_moto.cli("execute", "--job", "fake", "--from", "2022-01-01", "--to", "2022-12-31", profile="aws") == 0
    output = capsys.readouterr().out
    assert "Started 365 job(s)" in output and "make status batch=" in output
    names = all_job_names(glue)
    assert len(names) == 365 and names[-1].endswith("-20221231-20221231")
    assert all(len(glue.get_job_runs(JobName=name)["JobRuns"]) == 1 for name in names[::30])

    assert built_on_moto.cli("cleanup", profile="aws") == 0
    output = capsys.readouterr().out
    assert output.count("REMOVED - Name: ") == 365 and "365 removed, 0 skipped" in output
    assert all_job_names(glue) == []


def test_cleanup_removes_only_ended_project_jobs(built_on_moto, glue, capsys, runs_stay_starting):
    assert built_on_moto.cli("execute", "--job", "fake", "--from", "2022-01-01", "--to", "2022-01-02", profile="aws") == 0
    ended = all_job_names(glue)
    for name in ended:
        assert glue.get_job_runs(JobName=name)["JobRuns"][0]["JobRunState"] == "SUCCEEDED"

    def create(name: str, tags: dict[str, str] | None) -> None:
        extra = {"Tags": tags} if tags else {}
        glue.create_job(Name=name, Role="arn:aws:iam::123456789012:role/r", Command={"Name": "glueetl"}, **extra)

    create("untagged", None)
    create("other-project", {"source": "someone-else"})
    create("never-run", TAGS_OF_PROJECT)
    for name in ("untagged", "other-project"):
        glue.start_job_run(JobName=name)
        glue.get_job_runs(JobName=name)
    runs_stay_starting()
    create("still-running", TAGS_OF_PROJECT)
    glue.start_job_run(JobName="still-running")

    assert built_on_moto.cli("cleanup", "--dry-run", profile="aws") == 0
    output = capsys.readouterr().out
    for name in ended:
        assert f"WOULD REMOVE - Name: {name}" in output
    assert "SKIPPED - Name: never-run (never run; pass --include-never-run to delete it)" in output
    assert "SKIPPED - Name: still-running (a run is still STARTING)" in output
    assert "untagged" not in output and "other-project" not in output
    assert "2 would remove, 2 skipped" in output
    assert len(all_job_names(glue)) == 6

    assert built_on_moto.cli("cleanup", profile="aws") == 0
    output = capsys.readouterr().out
    assert [line for line in output.splitlines() if line.startswith("REMOVED")] == [f"REMOVED - Name: {n}" for n in ended]
    assert all_job_names(glue) == ["never-run", "other-project", "still-running", "untagged"]

    assert built_on_moto.cli("cleanup", "--include-never-run", profile="aws") == 0
    assert "REMOVED - Name: never-run" in capsys.readouterr().out
    assert all_job_names(glue) == ["other-project", "still-running", "untagged"]


def test_cleanup_keeps_a_job_whose_older_run_is_still_starting(built_on_moto, glue, capsys, runs_stay_starting):
    """The newer run SUCCEEDED, but the older one has not ended: the job must stay."""
    glue.create_job(
        Name="two-runs",
        Role="arn:aws:iam::123456789012:role/r",
        Command={"Name": "glueetl"},
        ExecutionProperty={"MaxConcurrentRuns": 2},
        Tags=TAGS_OF_PROJECT,
    )
    runs_stay_starting()
    older = glue.start_job_run(JobName="two-runs")["JobRunId"]
    newer = glue.start_job_run(JobName="two-runs")["JobRunId"]
    runs_stay_starting(reads=1)
    states = [glue.get_job_run(JobName="two-runs", RunId=newer)["JobRun"]["JobRunState"] for _ in range(2)]
    assert states == ["RUNNING", "SUCCEEDED"]
    runs_stay_starting()
    runs = {run["Id"]: run["JobRunState"] for run in glue.get_job_runs(JobName="two-runs")["JobRuns"]}
    assert runs == {older: "STARTING", newer: "SUCCEEDED"}

    assert built_on_moto.cli("cleanup", profile="aws") == 0
    assert "SKIPPED - Name: two-runs (a run is still STARTING)" in capsys.readouterr().out
    assert all_job_names(glue) == ["two-runs"]


def test_refused_runs_are_retried_with_backoff_until_glue_accepts(glue, runs_stay_starting, moto_endpoint):
    """A job allows one run at a time: the second start is refused until the first one ends."""
    glue.create_job(
        Name="busy",
        Role="arn:aws:iam::123456789012:role/r",
        Command={"Name": "glueetl"},
        ExecutionProperty={"MaxConcurrentRuns": 1},
    )
    runs_stay_starting()
    jobs = GlueJobs(glue, boto3.client("sts", region_name="us-east-1"))
    first = jobs.start_run("busy", {})
    waits: list[float] = []

    def first_run_ends(delay: float) -> None:
        waits.append(delay)
        requests.post(
            f"{moto_endpoint}/moto-api/state-manager/unset-transition", json={"model_name": "glue::job_run"}, timeout=10
        )
        assert jobs.get_run("busy", first)["JobRunState"] == "SUCCEEDED"

    second = retry_refusals(lambda: jobs.start_run("busy", {}), Backoff(0.5, 2), 4, first_run_ends)
    assert second != first and len(waits) == 1 and 0 <= waits[0] <= 0.5

    runs_stay_starting()
    with pytest.raises(GlueRefused, match="concurrent-runs quota"):
        retry_refusals(lambda: jobs.start_run("busy", {}), Backoff(0.5, 2), 3, waits.append)
    assert len(waits) == 3


def test_a_failed_create_stops_the_batch_and_reports_what_was_started(built_on_moto, glue, aws_requests_follow_the_model):
    settings = built_on_moto.settings("aws")
    job = settings.job("fake")
    artifact = current_artifact(built_on_moto.build_dir, settings.datasets["glue_assets"], Storage(boto3.Session()))
    backend = GlueBackend.from_settings(settings, boto3.Session(region_name="us-east-1"))
    planned = plan_runs(job, "B", "2022-01-01", "2022-01-02", "1") + [PlannedRun("", None)]
    with pytest.raises(StartFailed, match="1 job\\(s\\) could not be created or started") as failure:
        backend.start_runs(job, artifact, planned, {"source": "test-etl"}, lambda run: None)
    assert aws_requests_follow_the_model.reset() == ["glue:CreateJob Name: 0 characters, fewer than the minimum 1"]
    started = failure.value.started
    assert {run.job_name for run in started} <= {run.name for run in planned[:2]}
    for run in started:
        assert glue.get_job_runs(JobName=run.job_name)["JobRuns"][0]["Id"] == run.run_id


def moto_runs(name: str) -> list:
    """The moto server runs in this process: its Glue job runs, to set their end state as a real failure would."""
    from moto.glue.models import glue_backends

    return glue_backends["123456789012"]["us-east-1"].jobs[name].job_runs


def end_runs_as_glue_would(moto_endpoint: str, failing: list[str]) -> None:
    """Runs of ``failing`` jobs end FAILED, the others SUCCEEDED at their next read."""
    for name in failing:
        run = moto_runs(name)[-1]
        run.status = "FAILED"
    requests.post(f"{moto_endpoint}/moto-api/state-manager/unset-transition", json={"model_name": "glue::job_run"}, timeout=10)


def test_retry_starts_again_only_the_failed_chunks_on_their_own_jobs(
    built_on_moto, glue, capsys, runs_stay_starting, moto_endpoint
):
    runs_stay_starting()
    assert built_on_moto.cli("execute", "--job", "fake", "--from", "2022-01-01", "--to", "2022-01-10", profile="aws") == 0
    batch = batch_of(capsys.readouterr().out)
    names = all_job_names(glue)
    failing = [names[1], names[4], names[8]]
    end_runs_as_glue_would(moto_endpoint, failing)
    assert built_on_moto.cli("status", "--batch", batch, profile="aws") == 0
    assert "3 FAILED, 7 SUCCEEDED" in capsys.readouterr().out
    definitions = {name: glue.get_job(JobName=name)["Job"] for name in names}

    assert built_on_moto.cli("retry", "--wait", profile="aws") == 0
    output = capsys.readouterr().out
    assert "Retrying 3 of 10 chunk(s)" in output and "10 SUCCEEDED" in output
    assert all_job_names(glue) == names
    for name in names:
        runs = sorted(glue.get_job_runs(JobName=name)["JobRuns"], key=lambda run: run["StartedOn"])
        assert [run["JobRunState"] for run in runs] == (["FAILED", "SUCCEEDED"] if name in failing else ["SUCCEEDED"])
        assert runs[-1]["Arguments"]["--from-date"] == runs[0]["Arguments"]["--from-date"]
        assert glue.get_job(JobName=name)["Job"] == definitions[name]


@pytest.fixture
def runs_report_like_glue(monkeypatch):
    """moto's job runs lack what real Glue returns for them: ErrorMessage, DPUSeconds, ExecutionClass.

    A run given ``error`` or ``dpu_seconds`` attributes reports them; every run reports its job's class.
    """
    from moto.glue.models import FakeJobRun, glue_backends

    as_dict = FakeJobRun.as_dict

    def with_glue_fields(run):
        found = as_dict(run)
        job = glue_backends["123456789012"]["us-east-1"].jobs[run.job_name]
        found["ExecutionClass"] = job.execution_class
        for attribute, key in (("error", "ErrorMessage"), ("dpu_seconds", "DPUSeconds")):
            if hasattr(run, attribute):
                found[key] = getattr(run, attribute)
        return found

    monkeypatch.setattr(FakeJobRun, "as_dict", with_glue_fields)


def test_status_json_gives_attempts_dpu_hours_price_errors_and_logs(
    built_on_moto, glue, capsys, runs_stay_starting, moto_endpoint, runs_report_like_glue
):
    runs_stay_starting()
    assert (
        built_on_moto.cli(
            "execute", "--job", "fake", "--from", "2022-01-01", "--to", "2022-01-03", "--execution-class", "flex", profile="aws"
        )
        == 0
    )
    batch = batch_of(capsys.readouterr().out)
    names = all_job_names(glue)
    assert {glue.get_job(JobName=name)["Job"]["ExecutionClass"] for name in names} == {"FLEX"}
    moto_runs(names[0])[-1].dpu_seconds = 7200.0
    moto_runs(names[1])[-1].error = "AnalysisException: <Path> does not exist & more"
    end_runs_as_glue_would(moto_endpoint, [names[1]])

    assert built_on_moto.cli("status", "--json", profile="aws") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["batch"] == batch and summary["counts"] == {"FAILED": 1, "SUCCEEDED": 2}
    first, failed, last = summary["chunks"]
    assert first["dpu_hours"] == 2.0 and first["attempts"] == 1
    # moto's runs report ExecutionTime 123 s on 2 G.1X workers: 123 * 2 * 1 / 3600 DPU-hours.
    assert last["dpu_hours"] == round(123 * 2 / 3600, 6)
    assert summary["dpu_hours"] == round(2.0 + 2 * 123 * 2 / 3600, 6)
    assert summary["price_usd"] == pytest.approx(summary["dpu_hours"] * 0.29, abs=1e-5)
    run_id = failed["runs"][0]["run_id"]
    assert failed["error"] == "AnalysisException: <Path> does not exist & more"
    # Glue 5 writes the driver's stdout and stderr, with the traceback, to the output group's <run id>-driver stream.
    assert failed["log"] == (
        f"CloudWatch /aws-glue/jobs/output stream {run_id}-driver; https://us-east-1.console.aws.amazon.com/gluestudio/home"
        f"?region=us-east-1#/job/{names[1]}/run/{run_id}"
    )

    assert built_on_moto.cli("status", profile="aws") == 0
    table = capsys.readouterr().out
    assert "DPU-hours" in table and "Attempts" in table
    assert f"FAILED {names[1]}: CloudWatch /aws-glue/jobs/output stream {run_id}-driver" in table
    assert (
        f"{summary['dpu_hours']:.3f} DPU-hours, about ${summary['price_usd']:.2f} (at list prices, us-east-1: $0.44/DPU-hour, "
        "Flex $0.29; billed per second, one minute at least per run)"
    ) in " ".join(table.split())


def test_flex_on_a_worker_type_glue_refuses_is_a_usage_error(built_on_moto, glue, capsys):
    code = built_on_moto.cli(
        "--set",
        "jobs.fake.worker_type=G.4X",
        "execute",
        "--job",
        "fake",
        "--from",
        "2022-01-01",
        "--to",
        "2022-01-01",
        "--execution-class",
        "FLEX",
        profile="aws",
    )
    assert code == 2 and "FLEX on G.1X and G.2X workers only, not G.4X" in capsys.readouterr().err
    assert all_job_names(glue) == []


def test_status_reads_the_records_each_glue_run_reported(built_on_moto, glue, capsys):
    assert (
        built_on_moto.cli("execute", "--job", "fake", "--from", "2022-01-01", "--to", "2022-01-02", "--wait", profile="aws") == 0
    )
    capsys.readouterr()
    names = all_job_names(glue)
    s3 = boto3.client("s3", region_name="us-east-1")
    for name, read in zip(names, (0, 1234)):
        (run,) = glue.get_job_runs(JobName=name)["JobRuns"]
        body = RunReport(job=name, read={"in": read}, written={"out": read}).to_json()
        s3.put_object(Bucket="assets", Key=f"glue/runs/{name}/{run['Id']}.json", Body=body.encode())

    assert built_on_moto.cli("status", profile="aws") == 0
    table = capsys.readouterr().out
    assert "SUCCEEDED, nothing to read" in table and "1,234 → 1,234" in table
    assert "2 SUCCEEDED (1 with nothing to read)" in table


def test_status_prints_the_last_lines_of_a_failed_runs_driver_output(
    built_on_moto, glue, capsys, runs_stay_starting, moto_endpoint
):
    """status --log-lines N reads the failed run's <run id>-driver stream of /aws-glue/jobs/output (GetLogEvents)."""
    runs_stay_starting()
    assert built_on_moto.cli("execute", "--job", "fake", "--from", "2022-01-01", "--to", "2022-01-02", profile="aws") == 0
    capsys.readouterr()
    first, second = all_job_names(glue)
    failed_run = moto_runs(first)[-1]
    end_runs_as_glue_would(moto_endpoint, [first, second])
    logs = boto3.client("logs", region_name="us-east-1")
    logs.create_log_group(logGroupName="/aws-glue/jobs/output")
    logs.create_log_stream(logGroupName="/aws-glue/jobs/output", logStreamName=f"{failed_run.job_run_id}-driver")
    now_ms = int(time.time() * 1000)  # CloudWatch refuses events older than 14 days
    lines = ["starting", "Traceback (most recent call last):", '  File "fake_job.py", line 9', "ValueError: bad day"]
    logs.put_log_events(
        logGroupName="/aws-glue/jobs/output",
        logStreamName=f"{failed_run.job_run_id}-driver",
        logEvents=[{"timestamp": now_ms + i, "message": line} for i, line in enumerate(lines)],
    )

    assert built_on_moto.cli("status", "--log-lines", "2", profile="aws") == 0
    out = capsys.readouterr().out
    block = out[out.index(f"FAILED {first}:") :].splitlines()
    assert block[1:3] == ['      File "fake_job.py", line 9', "    ValueError: bad day"]
    assert f"FAILED {second}:" in out and "starting" not in out, "a run whose stream is not there yet prints no lines"
    assert built_on_moto.cli("status", "--log-lines", "0", profile="aws") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert "--log-lines: '0' is not a number of lines from 1 to 10000" in err
