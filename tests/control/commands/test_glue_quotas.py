"""Glue's jobs quota, CreateJob retried after a timeout, runs Glue forgot, renamed prefixes: on the moto server
(and the renamed prefix on the local registry).

moto keeps no jobs quota, replaces a job created twice and never forgets a run; the fixtures here
make its in-process server answer as Glue does where a test needs it (Glue's API reference:
CreateJob's AlreadyExistsException and ResourceNumberLimitExceededException; Service Quotas'
GetServiceQuota for AWS Glue's "Max jobs per account", L-611FDDE4).
"""

from __future__ import annotations

import json
import re
import threading
from datetime import UTC, datetime, timedelta

import boto3
import pytest
import requests
from botocore.exceptions import ReadTimeoutError
from botocore.stub import Stubber

from job_helpers.control.build import current_artifact
from job_helpers.control.cleanup import decide
from job_helpers.control.glue_backend import GlueBackend, jobs_quota
from job_helpers.control.plan import plan_runs
from job_helpers.control.runs import StartFailed
from job_helpers.storage import Storage

ACCOUNT, REGION = "123456789012", "us-east-1"
PROJECT = {"source": "test-etl"}


@pytest.fixture
def glue(moto_server):
    return boto3.client("glue", region_name=REGION)


def moto_glue():
    from moto.glue.models import glue_backends

    return glue_backends[ACCOUNT][REGION]


def all_job_names(glue) -> list[str]:
    return sorted(n for page in glue.get_paginator("list_jobs").paginate() for n in page["JobNames"])


def batch_of(output: str) -> str:
    return re.search(r"batch (\d{8}T\d{6}\.\d{3}Z)", output).group(1)


def other_teams_jobs(glue, count: int) -> None:
    for index in range(count):
        glue.create_job(Name=f"other-team-{index}", Role="arn:aws:iam::123456789012:role/r", Command={"Name": "glueetl"})


@pytest.fixture
def glue_quota(monkeypatch):
    """Service Quotas on the moto server answers Glue's "Max jobs per account" with the value set here."""
    from moto.servicequotas.models import ServiceQuotasBackend

    applied: dict[str, float] = {}
    answer = ServiceQuotasBackend.get_service_quota

    def get_service_quota(self, service_code, quota_code):
        if (service_code, quota_code) == ("glue", "L-611FDDE4") and "value" in applied:
            return {
                "ServiceCode": "glue",
                "QuotaCode": "L-611FDDE4",
                "QuotaName": "Max jobs per account",
                "Value": applied["value"],
            }
        return answer(self, service_code, quota_code)

    monkeypatch.setattr(ServiceQuotasBackend, "get_service_quota", get_service_quota)

    def apply(value: float) -> None:
        applied["value"] = value

    return apply


@pytest.fixture
def jobs_as_glue_keeps_them(monkeypatch):
    """Glue refuses a second job of a name (moto replaces the first) and refuses jobs past its quota
    (``limit[0]`` jobs in the account); it keeps the JobRunQueuingEnabled a job was created with
    (moto drops it). Returns the limit to set and the names CreateJob was asked for, in order."""
    from moto.glue.exceptions import AlreadyExistsException, ResourceNumberLimitExceededException
    from moto.glue.models import FakeJob
    from moto.glue.responses import GlueResponse

    limit: list[int] = [10**6]
    asked: list[str] = []
    create = GlueResponse.create_job
    as_dict = FakeJob.as_dict
    one_at_a_time = threading.Lock()

    def create_job(self):
        name = self._get_param("Name")
        with one_at_a_time:
            asked.append(name)
            if name in self.glue_backend.jobs:
                raise AlreadyExistsException(f"Job {name}")
            if len(self.glue_backend.jobs) >= limit[0]:
                raise ResourceNumberLimitExceededException("Number of jobs exceeds the account's limit")
            answer = create(self)
            self.glue_backend.jobs[name].queuing = self._get_param("JobRunQueuingEnabled")
            return answer

    def with_queuing(job):
        found = as_dict(job)
        if getattr(job, "queuing", None) is not None:
            found["JobRunQueuingEnabled"] = job.queuing
        return found

    monkeypatch.setattr(GlueResponse, "create_job", create_job)
    monkeypatch.setattr(FakeJob, "as_dict", with_queuing)
    return limit, asked


def backend_of(project, session=None):
    settings = project.settings("aws")
    return settings, GlueBackend.from_settings(settings, session or boto3.Session(region_name=REGION))


# Quota: the account's jobs, counted with ListJobs, against the quota Service Quotas applies.


def test_execute_counts_every_job_in_the_account_against_glue_s_quota(built_on_moto, glue, glue_quota, capsys):
    """Issue 19 §2: the guard counted only the project's jobs, but Glue's quota counts the account's."""
    glue_quota(10.0)
    other_teams_jobs(glue, 6)
    days = ["--job", "fake", "--from", "2022-01-01", "--to", "2022-01-02"]
    assert built_on_moto.cli("execute", *days, "--wait", profile="aws") == 0
    capsys.readouterr()
    assert len(all_job_names(glue)) == 8

    assert built_on_moto.cli("execute", "--job", "fake", "--from", "2022-02-01", "--to", "2022-02-03", profile="aws") == 2
    refused = " ".join(capsys.readouterr().err.split())
    assert (
        "this batch would add 3 job(s), over Glue's quota of 10 jobs per account ('Max jobs per account', L-611FDDE4, "
        "from Service Quotas): the account has 8 job(s), 2 of them this project's, of which `make cleanup` could delete 2 "
        "now (every run ended)"
    ) in refused
    assert "--days-per-job" in refused and "ask for a higher 'Max jobs per account' quota" in refused
    assert len(all_job_names(glue)) == 8, "nothing was created"

    assert built_on_moto.cli("execute", "--job", "fake", "--from", "2022-02-01", "--to", "2022-02-02", profile="aws") == 0
    assert len(all_job_names(glue)) == 10


def test_the_project_limit_says_how_many_jobs_there_are_in_all(built_on_moto, glue, glue_quota, capsys):
    glue_quota(1000.0)
    other_teams_jobs(glue, 4)
    limit = ["--set", "project.max_project_jobs=3"]
    assert built_on_moto.cli(*limit, "execute", "--job", "fake", "--from", "2022-01-01", "--to", "2022-01-02", profile="aws") == 0
    capsys.readouterr()
    assert built_on_moto.cli(*limit, "execute", "--job", "fake", "--from", "2022-02-01", "--to", "2022-02-02", profile="aws") == 2
    refused = " ".join(capsys.readouterr().err.split())
    assert "the project has 2 job(s) and this batch would add 2, over the limit of 3 (project.max_project_jobs" in refused
    assert "6 job(s) there in all, `make cleanup` could delete 2 of the project's now" in refused


def test_an_unreadable_quota_falls_back_to_glue_s_documented_default_and_says_why(moto_server, caplog):
    """moto's Service Quotas knows no Glue quota (NoSuchResourceException); AccessDenied is the botocore model's."""
    found = jobs_quota(boto3.client("service-quotas", region_name=REGION))
    assert (found.jobs, found.source) == (1000, "Glue's documented default; Service Quotas answered NoSuchResourceException")
    assert "could not be read from Service Quotas (NoSuchResourceException): counting against its documented default, 1,000" in (
        caplog.text
    )

    quotas = boto3.client("service-quotas", region_name=REGION)
    with Stubber(quotas) as stub:
        stub.add_client_error("get_service_quota", "AccessDeniedException", expected_params=None)
        assert jobs_quota(quotas).source == "Glue's documented default; Service Quotas answered AccessDeniedException"
    with Stubber(quotas) as stub:
        stub.add_response(
            "get_service_quota",
            {"Quota": {"ServiceCode": "glue", "QuotaCode": "L-611FDDE4", "Value": 2500.0}},
            {"ServiceCode": "glue", "QuotaCode": "L-611FDDE4"},
        )
        assert jobs_quota(quotas).jobs == 2500


# Refused for the quota anyway: stop at once with the counts.


def test_a_create_job_refused_for_the_quota_stops_at_once_with_the_counts(
    built_on_moto, glue, jobs_as_glue_keeps_them, runs_stay_starting
):
    """Issue 19 §2: ResourceNumberLimitExceededException was retried for two minutes; waiting frees no job slot."""
    limit, asked = jobs_as_glue_keeps_them
    other_teams_jobs(glue, 3)
    asked.clear()
    limit[0] = 5
    runs_stay_starting()
    settings, backend = backend_of(built_on_moto)
    waits: list[float] = []
    backend.sleep = waits.append
    backend.pool_size = 1
    job = settings.job("fake")
    artifact = current_artifact(built_on_moto.build_dir, settings.datasets["glue_assets"], Storage(boto3.Session()))
    planned = plan_runs(job, "20220101T000000.000Z", "2022-01-01", "2022-01-06", "1")
    with pytest.raises(StartFailed) as failure:
        backend.start_runs(job, artifact, planned, {**PROJECT, "batch": "20220101T000000.000Z", "job": "fake"}, lambda run: None)
    message = " ".join(str(failure.value).split())
    assert waits == [], "no retry"
    assert len(asked) == len(set(asked)) and asked[:3] == [run.name for run in planned[:3]], "each job was asked for once"
    assert "Glue refused to create more jobs, the account's 'Max jobs per account' quota is reached" in message
    assert "ResourceNumberLimitExceededException" in message and "Run `make cleanup`" in message
    assert "the account has 5 job(s), 2 of them this project's, of which `make cleanup` could delete 0 now" in message
    assert len(failure.value.started) == 2 and len(all_job_names(glue)) == 5


def test_execute_stops_with_the_counts_when_glue_refuses_past_the_guard(
    built_on_moto, glue, jobs_as_glue_keeps_them, capsys, caplog
):
    """The quota Service Quotas could not give (moto: none) counts as 1,000; Glue's own refusal still stops the batch."""
    limit, asked = jobs_as_glue_keeps_them
    limit[0] = 2
    assert built_on_moto.cli("execute", "--job", "fake", "--from", "2022-01-01", "--to", "2022-01-04", profile="aws") == 1
    captured = capsys.readouterr()
    err = " ".join(captured.err.split())
    assert "counting against its documented default, 1,000" in caplog.text
    assert "'Max jobs per account' quota is reached" in err and "the account has 2 job(s), 2 of them this project's" in err
    assert "Started 2 job(s)" in captured.out
    assert len(asked) == len(set(asked)) <= 4


# CreateJob answered by a timeout, after Glue created the job.


def time_out_after_glue_got_it(client) -> list[str]:
    """The first CreateJob of each name reaches the server, which creates the job, and its answer times out."""
    sent: list[str] = []

    def before_send(request, **_):
        name = json.loads(request.body)["Name"]
        sent.append(name)
        if sent.count(name) == 1:
            requests.request(request.method, request.url, headers=dict(request.headers), data=request.body, timeout=10)
            raise ReadTimeoutError(endpoint_url=request.url)
        return None

    client.meta.events.register("before-send.glue.CreateJob", before_send)
    return sent


def test_a_create_job_retried_after_a_timeout_counts_the_job_glue_created(built_on_moto, glue, jobs_as_glue_keeps_them):
    """Issue 19 §2: botocore retries the CreateJob; Glue answers AlreadyExistsException for this batch's own job."""
    _, asked = jobs_as_glue_keeps_them
    settings, backend = backend_of(built_on_moto)
    sent = time_out_after_glue_got_it(backend.jobs.glue)
    job = settings.job("fake")
    artifact = current_artifact(built_on_moto.build_dir, settings.datasets["glue_assets"], Storage(boto3.Session()))
    batch = "20220101T000000.000Z"
    planned = plan_runs(job, batch, "2022-01-01", "2022-01-03", "1")
    started = backend.start_runs(job, artifact, planned, {**PROJECT, "batch": batch, "job": "fake"}, lambda run: None)

    names = [run.name for run in planned]
    assert sorted(sent) == sorted(names * 2), "every CreateJob was sent twice: the first answer timed out"
    assert sorted(asked) == sorted(names * 2)
    assert [run.job_name for run in started] == names
    assert all_job_names(glue) == names
    for run in started:
        (only,) = glue.get_job_runs(JobName=run.job_name)["JobRuns"]
        assert only["Id"] == run.run_id


@pytest.mark.parametrize(
    ("tags", "script", "clash"),
    [
        (
            {"source": "someone-else", "batch": "20220101T000000.000Z", "job": "fake"},
            None,
            "already exists and is not this batch's",
        ),
        ({**PROJECT, "batch": "20211231T000000.000Z", "job": "fake"}, None, "already exists and is not this batch's"),
        (None, "s3://assets/glue/builds/other/jobs/fake_job.py", "already exists with this batch's tags but another Command"),
    ],
    ids=["another-project", "another-batch", "another-definition"],
)
def test_a_job_of_the_same_name_that_is_not_this_batch_s_fails_naming_it(
    built_on_moto, glue, jobs_as_glue_keeps_them, tags, script, clash
):
    settings, backend = backend_of(built_on_moto)
    job = settings.job("fake")
    artifact = current_artifact(built_on_moto.build_dir, settings.datasets["glue_assets"], Storage(boto3.Session()))
    batch = "20220101T000000.000Z"
    ours = {**PROJECT, "batch": batch, "job": "fake"}
    (planned,) = plan_runs(job, batch, "2022-01-01", "2022-01-01", "1")
    from job_helpers.control.glue_backend import job_definition

    there = job_definition(job, artifact, planned.name, settings.glue_role_arn, settings.glue_version, tags or ours)
    if script:
        there["Command"] = {**there["Command"], "ScriptLocation": script}
    glue.create_job(**there)

    with pytest.raises(StartFailed) as failure:
        backend.start_runs(job, artifact, [planned], ours, lambda run: None)
    assert f"job {planned.name} {clash}" in str(failure.value)
    assert glue.get_job_runs(JobName=planned.name)["JobRuns"] == [], "nothing was started on a job not this batch's"


# Runs Glue forgot: cleanup decides from the job's times and tags.


def test_cleanup_deletes_a_job_older_than_glue_s_run_history_and_keeps_fresh_never_run_ones(built_on_moto, glue, capsys):
    """Issue 19 §2: a job whose runs Glue forgot (90 days) looked never run, and was kept for good."""
    long_ago = datetime.now(UTC) - timedelta(days=120)
    recently = datetime.now(UTC) - timedelta(days=10)
    old_batch, new_batch = f"{long_ago:%Y%m%dT%H%M%S}.000Z", f"{recently:%Y%m%dT%H%M%S}.000Z"
    jobs = {
        "forgotten": (long_ago, long_ago, old_batch),
        "changed-lately": (long_ago, recently, old_batch),
        "batched-lately": (long_ago, long_ago, new_batch),
        "fresh": (None, None, new_batch),
    }
    for name, (created, modified, batch) in jobs.items():
        glue.create_job(
            Name=name,
            Role="arn:aws:iam::123456789012:role/r",
            Command={"Name": "glueetl"},
            Tags={**PROJECT, "batch": batch, "job": "fake"},
        )
        if created is not None:
            moto_glue().jobs[name].created_on = created.replace(tzinfo=None)
            moto_glue().jobs[name].last_modified_on = modified.replace(tzinfo=None)

    assert built_on_moto.cli("cleanup", "--dry-run", "--json", profile="aws") == 0
    planned = {row["job_name"]: (row["action"], row["reason"]) for row in json.loads(capsys.readouterr().out)["jobs"]}
    assert planned["forgotten"] == (
        "WOULD REMOVE",
        f"no run in Glue's 90-day run history, and created, changed and batched before it (last {long_ago:%Y-%m-%d}): "
        "any run it had ended long ago",
    )

    assert built_on_moto.cli("cleanup", profile="aws") == 0
    output = capsys.readouterr().out
    assert (
        "REMOVED - Name: forgotten\n" in output
        and "SKIPPED - Name: changed-lately (never run; pass --include-never-run to delete it)" in output
        and "SKIPPED - Name: batched-lately (never run; pass --include-never-run to delete it)" in output
        and "SKIPPED - Name: fresh (never run; pass --include-never-run to delete it)" in output
    )
    assert all_job_names(glue) == ["batched-lately", "changed-lately", "fresh"]

    assert built_on_moto.cli("cleanup", "--include-never-run", profile="aws") == 0
    assert all_job_names(glue) == []


def test_the_reason_says_the_run_history_was_forgotten():
    long_ago = datetime(2024, 1, 2, tzinfo=UTC)
    now = long_ago + timedelta(days=91)
    deletable, reason = decide("j", [], False, timedelta(days=90), long_ago, long_ago, now)
    assert deletable and reason == (
        "no run in Glue's 90-day run history, and created, changed and batched before it (last 2024-01-02): "
        "any run it had ended long ago"
    )
    assert decide("j", [], False, timedelta(days=90), long_ago, long_ago, long_ago + timedelta(days=89))[0] is False
    assert decide("j", [], False, None, long_ago, long_ago, now)[0] is False, "the local registry forgets no run"
    assert decide("j", [], False, timedelta(days=90), None, long_ago, now)[0] is False, "Glue's own times are needed"


# A changed prefix: the project's jobs are still found by their tags, and named with why.


def test_after_the_prefix_changed_status_and_cleanup_name_the_earlier_jobs_and_cleanup_still_deletes_them(
    built_on_moto, glue, capsys
):
    assert (
        built_on_moto.cli("execute", "--job", "fake", "--from", "2022-01-01", "--to", "2022-01-02", "--wait", profile="aws") == 0
    )
    batch = batch_of(capsys.readouterr().out)
    earlier = all_job_names(glue)
    renamed = ["--set", "project.prefix=renamed"]

    assert built_on_moto.cli(*renamed, "status", "--json", profile="aws") == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["batch"] == batch
    note = "named with an earlier prefix, test-etl-fake: jobs.fake.name_prefix (from project.prefix) is now renamed-fake"
    assert f"note: batch {batch}'s jobs are {note}; found by their tags" in captured.err

    assert built_on_moto.cli(*renamed, "cleanup", profile="aws") == 0
    output = capsys.readouterr().out
    assert [line for line in output.splitlines() if line.startswith("REMOVED")] == [
        f"REMOVED - Name: {name} ({note})" for name in earlier
    ]
    assert all_job_names(glue) == []


def test_after_the_project_tag_changed_cleanup_and_status_say_which_jobs_it_no_longer_reaches(built_on_moto, glue, capsys):
    assert (
        built_on_moto.cli("execute", "--job", "fake", "--from", "2022-01-01", "--to", "2022-01-02", "--wait", profile="aws") == 0
    )
    batch = batch_of(capsys.readouterr().out)
    other_teams_jobs(glue, 2)
    retagged = ["--set", "project.prefix=renamed", "--set", "project.tag.value=renamed"]

    assert built_on_moto.cli(*retagged, "cleanup", "--json", profile="aws") == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out)
    assert result["jobs"] == [] and result["untagged_lookalikes"] == {"test-etl-fake": 2}
    assert (
        "Left alone: 2 job(s) named as this tool names jobs but without the project's tag source=renamed: "
        "test-etl-fake-… (2). If they are this project's from before project.tag.value changed"
    ) in " ".join(captured.err.split())
    assert len(all_job_names(glue)) == 4

    assert built_on_moto.cli(*retagged, "status", "--batch", batch, profile="aws") == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"no project job carries batch '{batch}'; its jobs carry source=test-etl instead" in err
    assert "pass --set project.tag.value=<that value>" in err


@pytest.mark.subprocess
def test_locally_the_renamed_jobs_are_named_too_and_the_registry_forgets_no_run(built, capsys):
    """The local profile takes the same path: found by tags, named with the earlier prefix; never-run means never run."""
    from job_helpers.control.local_backend import LocalBackend
    from job_helpers.control.local_registry import Registry

    assert built.cli("execute", "--job", "fake", "--from", "2022-01-01", "--to", "2022-01-02", "--wait") == 0
    batch = batch_of(capsys.readouterr().out)
    backend = LocalBackend(Registry(built.registry), built.build_dir / "logs", built.root, 1)
    names = sorted(backend.tagged_jobs(PROJECT))
    assert backend.run_history is None and backend.jobs_limit() is None and backend.all_jobs() == set(names)
    created = backend.last_changed(names)
    assert sorted(created) == names and all(abs(datetime.now(UTC) - when) < timedelta(hours=1) for when in created.values())

    renamed = ["--set", "project.prefix=renamed"]
    assert built.cli(*renamed, "status", "--batch", batch) == 0
    note = "named with an earlier prefix, test-etl-fake: jobs.fake.name_prefix (from project.prefix) is now renamed-fake"
    assert f"note: batch {batch}'s jobs are {note}; found by their tags" in capsys.readouterr().err
    assert built.cli(*renamed, "cleanup") == 0
    output = capsys.readouterr().out
    assert [line for line in output.splitlines() if line.startswith("REMOVED")] == [
        f"REMOVED - Name: {name} ({note})" for name in names
    ]
    assert backend.all_jobs() == set()
