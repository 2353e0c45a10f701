"""A schedule of the SiteWise merge on the aws profile: a firing as EventBridge Scheduler makes it, run as Glue runs it.

``make schedule`` creates the schedule on moto's EventBridge Scheduler; each firing is its target's
StartJobRun with ``<aws.scheduler.scheduled-time>`` filled in, and the run is the real job script
from the uploaded build (glue_emulator). The job counts its days from the firing's time, so a
console re-run of the firing months later merges the same day again, and nothing doubles.
"""

from __future__ import annotations

import json
from datetime import date

import fastavro
import pytest
from aws_project import AwsProject
from glue_emulator import run_job

from job_helpers.run_report import read_report, report_url
from job_helpers.sitewise.sample_data import write_cold_tier
from job_helpers.storage import Storage

SCHEDULE = "glue-etl-sitewise-repartition-scheduled"
SETS = (
    "--set=profiles.aws.scheduler_role_arn=arn:aws:iam::123456789012:role/glue-etl-scheduler",
    "--set=jobs.sitewise_repartition.arguments.--series-source=asset_metadata",
)


@pytest.fixture(scope="module")
def project(aws_project: AwsProject) -> AwsProject:
    """Three days of cold tier on S3, the project's schedule group (as make stack makes it), the merge scheduled."""
    cold_tier = aws_project.settings("local").datasets["sitewise.cold_tier"]
    write_cold_tier(Storage(), cold_tier, date(2024, 2, 28), days=3, series=8, records_per_file=10)
    aws_project.upload_lake()
    aws_project.client("scheduler").create_schedule_group(Name="glue-etl", Tags=[{"Key": "source", "Value": "glue-etl"}])
    done = aws_project.cli(*SETS, "schedule", "--job", "sitewise_repartition", "--cron", "0 3 * * ? *")
    assert done.returncode == 0, done.stdout + done.stderr
    return aws_project


def report_of(project: AwsProject, run_id: str):
    storage = Storage(boto3_session=project.session, s3_client=project.client("s3"))
    report = read_report(storage, report_url("s3://glue-etl-assets/glue/runs/", SCHEDULE, run_id))
    assert report is not None
    return report


def test_a_firing_and_its_console_rerun_merge_the_firing_s_day_once(project, tmp_path):
    glue = project.client("glue")
    target = project.client("scheduler").get_schedule(Name=SCHEDULE, GroupName="glue-etl")["Target"]
    request = json.loads(target["Input"].replace("<aws.scheduler.scheduled-time>", "2024-03-01T03:00:00Z"))
    fired = glue.start_job_run(**request)["JobRunId"]
    first = run_job(glue, project.client("s3"), SCHEDULE, tmp_path / "glue", project.env)
    assert first.returncode == 0, first.output[-4000:]
    report = report_of(project, fired)
    assert (report.status, report.scope, report.details["days_merged"]) == ("SUCCEEDED", "2024-02-29_2024-02-29", 1)

    arguments = glue.get_job_run(JobName=SCHEDULE, RunId=fired)["JobRun"]["Arguments"]
    rerun = glue.start_job_run(JobName=SCHEDULE, Arguments=arguments)["JobRunId"]
    second = run_job(glue, project.client("s3"), SCHEDULE, tmp_path / "glue-again", project.env)
    assert second.returncode == 0, second.output[-4000:]
    again = report_of(project, rerun)
    assert (again.scope, again.details["days_merged"], again.details["days_skipped"]) == ("2024-02-29_2024-02-29", 0, 1), (
        "today is years later: the run counted from its firing, found the day merged and left it"
    )
    merged = sorted(
        project.mirror(project.settings("aws").datasets["sitewise.repartitioned"], tmp_path / "merged").rglob("*.avro")
    )
    assert [path.parent.name for path in merged] == ["startDay=29"]
    assert sum(1 for _ in fastavro.reader(merged[0].open("rb"))) == report.records_written

    done = project.cli(*SETS, "status", "--schedule", "sitewise_repartition", "--json")
    assert done.returncode == 0, done.stderr
    (chunk,) = json.loads(done.stdout)["chunks"]
    assert (chunk["from"], chunk["to"], chunk["logical_time"], chunk["attempts"]) == (
        "2024-02-29",
        "2024-02-29",
        "2024-03-01T03:00:00Z",
        2,
    )
    done = project.cli(*SETS, "catchup", "--job", "sitewise_repartition", "--since", "2024-02-28", "--dry-run", "--json")
    assert done.returncode == 0, done.stderr
    planned = {run["from"] for run in json.loads(done.stdout)}
    assert {"2024-02-28", "2024-03-01"} <= planned and "2024-02-29" not in planned, "the merged day is covered"
