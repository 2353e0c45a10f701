"""`pipeline` on the aws profile: each job created and started on Glue (moto), waited for, then the next."""

from __future__ import annotations

import boto3

from job_helpers.control.build import current_artifact
from job_helpers.control.config import PipelineSpec
from job_helpers.control.glue_backend import GlueBackend
from job_helpers.control.pipeline import run_on_backend
from job_helpers.storage import Storage


def test_jobs_start_in_order_each_after_the_previous_ended(built_on_moto):
    settings = built_on_moto.settings("aws")
    session = boto3.Session(region_name="us-east-1")
    storage = Storage(boto3_session=session)
    artifact = current_artifact(built_on_moto.build_dir, settings.datasets["glue_assets"], storage)
    backend = GlueBackend.from_settings(settings, session)
    glue = session.client("glue")
    seen_jobs_when_started: list[list[str]] = []

    def on_job(outcome) -> None:
        seen_jobs_when_started.append(sorted(glue.list_jobs()["JobNames"]))

    result = run_on_backend(
        settings,
        PipelineSpec("two", ("once", "fake"), ()),
        backend,
        artifact,
        "20260101T000000.000Z",
        storage,
        on_job=on_job,
        sleep=lambda seconds: None,
    )

    assert [o.state for o in result.outcomes] == ["SUCCEEDED", "SUCCEEDED"]
    assert len(seen_jobs_when_started[0]) == 1 and len(seen_jobs_when_started[1]) == 2
    first, second = seen_jobs_when_started[1]
    assert {
        glue.get_tags(ResourceArn=f"arn:aws:glue:us-east-1:123456789012:job/{n}")["Tags"]["job"] for n in (first, second)
    } == {"once", "fake"}
