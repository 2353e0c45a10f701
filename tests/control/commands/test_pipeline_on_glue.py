"""`pipeline` on the aws profile: each job created and started on Glue (moto), waited for, then the next."""

from __future__ import annotations

from collections.abc import Sequence

import boto3

from job_helpers.control.build import current_artifact
from job_helpers.control.config import PipelineSpec
from job_helpers.control.glue_backend import GlueBackend
from job_helpers.control.pipeline import BackendRunner, run_jobs, table_counts
from job_helpers.control.runs import RunStatus, StartedRun
from job_helpers.run_report import RunReport, report_url, reports_prefix, write_report
from job_helpers.storage import Storage


class ReportingGlue(GlueBackend):
    """moto's Glue runs no script: each run that ends writes the report its job would, at its run id."""

    storage: Storage
    reports: str

    def run_states(self, runs: Sequence[StartedRun]) -> list[RunStatus]:
        states = super().run_states(runs)
        for status in states:
            if status.ended:
                report = RunReport(job=status.job_name, read={"in": 7}, written={f"s3://scratch/{status.job_name}/": 5})
                write_report(self.storage, report_url(self.reports, status.job_name, status.run_id), report)
        return states


def test_jobs_start_in_order_each_after_the_previous_ended_and_count_from_their_run_reports(built_on_moto):
    settings = built_on_moto.settings("aws")
    session = boto3.Session(region_name="us-east-1")
    storage = Storage(boto3_session=session)
    artifact = current_artifact(built_on_moto.build_dir, settings.datasets["glue_assets"], storage)
    backend = ReportingGlue.from_settings(settings, session)
    backend.storage, backend.reports = storage, reports_prefix(settings.datasets["glue_assets"])
    glue = session.client("glue")
    seen_jobs_when_started: list[list[str]] = []

    def on_job(outcome) -> None:
        seen_jobs_when_started.append(sorted(glue.list_jobs()["JobNames"]))

    runner = BackendRunner(settings, backend, artifact, "20260101T000000.000Z", sleep=lambda seconds: None)
    result = run_jobs(settings, PipelineSpec("two", ("once", "fake"), ()), runner, storage, on_job=on_job)

    assert [o.state for o in result.outcomes] == ["SUCCEEDED", "SUCCEEDED"]
    assert len(seen_jobs_when_started[0]) == 1 and len(seen_jobs_when_started[1]) == 2
    first, second = seen_jobs_when_started[1]
    assert {
        glue.get_tags(ResourceArn=f"arn:aws:glue:us-east-1:123456789012:job/{n}")["Tags"]["job"] for n in (first, second)
    } == {"once", "fake"}
    names = [outcome.report.job for outcome in result.outcomes if outcome.report is not None]
    assert len(names) == 2 and set(names) == {first, second}
    tables = {name: f"s3://scratch/{name}/" for name in names}
    assert table_counts(tables, names, result.outcomes) == {name: 5 for name in names}
