"""`retry` claims each chunk before it starts it, and leaves alone a chunk whose run report says it succeeded.

Locally the claim is the registry's write transaction; on aws it is an object in the assets bucket
written only if none exists (S3 If-None-Match, on moto's server), so it holds across machines.
"""

from __future__ import annotations

import json
import subprocess

import boto3
import pytest
from test_runs_glue import all_job_names, batch_of, end_runs_as_glue_would, moto_runs
from test_runs_local import all_ended

from job_helpers.control.claims import RetryClaims
from job_helpers.control.glue_backend import GlueBackend
from job_helpers.control.local_backend import LocalBackend
from job_helpers.control.local_registry import Registry
from job_helpers.control.runs import batch_status, to_retry
from job_helpers.run_report import FAILED, RunReport, report_url, reports_prefix, write_report
from job_helpers.storage import Storage
from tests.support.local_runners import DEADLINE_SECONDS, REPO, eventually

FAILING = ["2022-01-02", "2022-01-04"]
TAGS = {"source": "test-etl"}


def failed_batch(project, capsys) -> str:
    """Five one-day chunks, two of them failed; the cause is then removed, as before a real retry."""
    out = project.lake_root / "scratch" / "out"
    out.mkdir(parents=True, exist_ok=True)
    for day in FAILING:
        (out / f"fail-{day}").write_text("")
    assert project.cli("execute", "--job", "fake", "--from", "2022-01-01", "--to", "2022-01-05", "--wait") == 1
    batch = batch_of(capsys.readouterr().out)
    for day in FAILING:
        (out / f"fail-{day}").unlink()
    return batch


def local_backend(project) -> LocalBackend:
    return LocalBackend(Registry(project.registry), project.build_dir / "logs", project.root, max_parallel=2)


def runs_per_chunk(registry: Registry) -> dict[str, list[str]]:
    history = registry.job_runs(list(registry.tagged_jobs({})))
    return {runs[0].from_date: [run.state for run in runs] for runs in history.values()}


def race_twice(command: list[str]) -> list[dict]:
    """Run ``command`` in two processes at once; each must exit 0 and print JSON, returned in start order."""
    racers = [subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    answers = []
    for racer in racers:
        out, err = racer.communicate(timeout=DEADLINE_SECONDS)
        assert racer.returncode == 0, out + err
        answers.append(json.loads(out))
    return answers


@pytest.mark.subprocess
def test_two_retries_that_read_the_batch_at_once_start_each_failed_chunk_once(built, capsys):
    batch = failed_batch(built, capsys)
    first, second = local_backend(built), local_backend(built)
    seen_by_first, seen_by_second = batch_status(first, TAGS, batch), batch_status(second, TAGS, batch)
    assert [run.from_date for run in to_retry(seen_by_second)] == FAILING

    done = first.restart_runs(to_retry(seen_by_first), {}, lambda run: None)
    late = second.restart_runs(to_retry(seen_by_second), {}, lambda run: None)
    assert len(done.started) == 2 and late.started == []
    started = {run.job_name: run.run_id for run in done.started}
    assert sorted(late.taken) == sorted(started)
    for name, why in late.taken.items():
        assert why.startswith(f"another retry started run {started[name]} (")

    registry = Registry(built.registry)
    eventually(lambda: all_ended(registry, 5), "the retried runs ending")
    counts = runs_per_chunk(registry)
    assert {day: states for day, states in counts.items() if len(states) > 1} == {day: ["FAILED", "SUCCEEDED"] for day in FAILING}


@pytest.mark.subprocess
def test_two_retry_commands_at_once_start_each_failed_chunk_once(built, capsys):
    """Two processes race for real; whatever the interleaving, one run per failed chunk is added."""
    batch = failed_batch(built, capsys)
    command = built.cli_process("retry", "--batch", batch, "--json")
    answers = race_twice(command)
    # The later command either finds the new runs (nothing to retry) or loses the claim (left alone).
    started = [run["job_name"] for answer in answers for run in answer["retried"]]
    left = [name for answer in answers for name in answer["left_alone"]]
    assert len(started) == 2 and len(set(started)) == 2 and set(left) <= set(started)

    registry = Registry(built.registry)
    eventually(lambda: all_ended(registry, 5), "the retried runs ending")
    assert sorted(len(states) for states in runs_per_chunk(registry).values()) == [1, 1, 1, 2, 2]


@pytest.mark.subprocess
def test_a_chunk_whose_run_report_says_succeeded_is_never_retried(built, capsys):
    """The job published and reported SUCCEEDED, then its process crashed at exit (status 3)."""
    out = built.lake_root / "scratch" / "out"
    out.mkdir(parents=True)
    (out / "crash-after-2022-01-02").write_text("")
    (out / "fail-2022-01-03").write_text("")
    assert built.cli("execute", "--job", "fake", "--from", "2022-01-01", "--to", "2022-01-03", "--wait") == 1
    batch = batch_of(capsys.readouterr().out)
    registry = Registry(built.registry)
    states = {run.from_date: run for run in registry.latest_runs(list(registry.tagged_jobs({}))).values()}
    crashed = states["2022-01-02"]
    assert crashed.state == "SUCCEEDED" and crashed.error == "exited with status 3 after its run report said SUCCEEDED"
    assert states["2022-01-03"].state == "FAILED"

    (out / "fail-2022-01-03").unlink()
    assert built.cli("retry", "--batch", batch, "--json", "--wait") == 0
    answer = json.loads(capsys.readouterr().out)
    assert [run["from"] for run in answer["retried"]] == ["2022-01-03"]
    assert runs_per_chunk(registry) == {
        "2022-01-01": ["SUCCEEDED"],
        "2022-01-02": ["SUCCEEDED"],
        "2022-01-03": ["FAILED", "SUCCEEDED"],
    }


# --- aws: claims in the assets bucket, on moto's server ---------------------------------------------


def glue_backend(project, holder: str) -> GlueBackend:
    """The aws backend as one operator machine has it: its own session, storage and claim holder."""
    session = boto3.Session(region_name="us-east-1")
    backend = GlueBackend.from_settings(project.settings("aws"), session)
    backend.claims = RetryClaims(Storage(boto3_session=session), "s3://assets/glue/", holder=holder)
    return backend


def failed_batch_on_glue(project, capsys, moto_endpoint, hold) -> tuple[str, list[str]]:
    hold()
    assert project.cli("execute", "--job", "fake", "--from", "2022-01-01", "--to", "2022-01-05", profile="aws") == 0
    batch = batch_of(capsys.readouterr().out)
    names = all_job_names(boto3.client("glue", region_name="us-east-1"))
    failing = [names[1], names[3]]
    end_runs_as_glue_would(moto_endpoint, failing)
    return batch, failing


@pytest.fixture
def two_failed_on_glue(built_on_moto, capsys, runs_stay_starting, moto_endpoint) -> tuple[str, list[str]]:
    """A batch of five one-day chunks on moto's Glue whose 2nd and 4th ended FAILED: (batch, their job names)."""
    return failed_batch_on_glue(built_on_moto, capsys, moto_endpoint, runs_stay_starting)


def seen_by_this_machine(project, batch: str) -> tuple[GlueBackend, list]:
    """This machine's aws backend and the runs of ``batch`` it would retry."""
    backend = glue_backend(project, "this machine")
    return backend, to_retry(batch_status(backend, TAGS, batch))


def glue_runs(name: str) -> list[str]:
    return [run.status for run in moto_runs(name)]


def test_two_operators_retrying_at_once_start_each_failed_chunk_once_on_glue(built_on_moto, two_failed_on_glue):
    batch, failing = two_failed_on_glue
    alice, bob = glue_backend(built_on_moto, "alice-laptop pid 1"), glue_backend(built_on_moto, "bob-ci pid 2")
    seen_by_alice, seen_by_bob = batch_status(alice, TAGS, batch), batch_status(bob, TAGS, batch)
    assert sorted(run.job_name for run in to_retry(seen_by_bob)) == failing

    done = alice.restart_runs(to_retry(seen_by_alice), {}, lambda run: None)
    late = bob.restart_runs(to_retry(seen_by_bob), {}, lambda run: None)
    assert sorted(run.job_name for run in done.started) == failing and late.started == []
    started = {run.job_name: run.run_id for run in done.started}
    assert late.taken == {name: f"retried by alice-laptop pid 1: run {started[name]}" for name in failing}
    for name in failing:
        assert len(glue_runs(name)) == 2
        failed_run = to_retry(seen_by_alice)[failing.index(name)].run_id
        claim = json.loads(Storage().read_text(f"s3://assets/glue/retry-claims/{name}/{failed_run}.json"))
        assert (claim["holder"], claim["run_id"], claim["released"]) == ("alice-laptop pid 1", started[name], False)


def test_two_retry_commands_on_glue_at_once_add_one_run_per_failed_chunk(built_on_moto, two_failed_on_glue):
    """Two processes (two operators' machines, as far as the claims know) race against moto's S3 and Glue."""
    batch, failing = two_failed_on_glue
    command = built_on_moto.cli_process("retry", "--batch", batch, "--json", profile="aws")
    answers = race_twice(command)
    started = sorted(run["job_name"] for answer in answers for run in answer["retried"])
    left = {name for answer in answers for name in answer["left_alone"]}
    assert started == failing and left <= set(failing)
    assert all(len(glue_runs(name)) == 2 for name in failing)


def test_a_claim_whose_start_failed_is_released_and_taken_by_the_next_retry(built_on_moto, two_failed_on_glue):
    batch, failing = two_failed_on_glue
    backend, failed = seen_by_this_machine(built_on_moto, batch)

    def refused(job_name, arguments):
        raise RuntimeError("Glue refused the start")

    real_start = backend.jobs.start_run
    backend.jobs.start_run = refused
    with pytest.raises(Exception, match="could not be started again"):
        backend.restart_runs(failed, {}, lambda run: None)
    backend.jobs.start_run = real_start
    for run in failed:
        claim = json.loads(Storage().read_text(f"s3://assets/glue/retry-claims/{run.job_name}/{run.run_id}.json"))
        assert claim["released"] is True and claim["run_id"] is None
        assert len(glue_runs(run.job_name)) == 1

    again = backend.restart_runs(failed, {}, lambda run: None)
    assert sorted(run.job_name for run in again.started) == failing and again.taken == {}
    assert all(len(glue_runs(name)) == 2 for name in failing)


def test_a_claim_held_by_a_retry_that_started_nothing_is_left_alone_naming_how_to_free_it(built_on_moto, two_failed_on_glue):
    """A retry killed between its claim and StartJobRun: no second run, and the message says what to delete."""
    batch, failing = two_failed_on_glue
    backend, failed = seen_by_this_machine(built_on_moto, batch)
    killed = RetryClaims(Storage(), "s3://assets/glue/", holder="ci-runner-7 pid 99")
    killed.claim(failed[0].job_name, failed[0].run_id)

    result = backend.restart_runs(failed, {}, lambda run: None)
    assert [run.job_name for run in result.started] == [failed[1].job_name]
    why = result.taken[failed[0].job_name]
    url = f"s3://assets/glue/retry-claims/{failed[0].job_name}/{failed[0].run_id}.json"
    assert why.startswith("claimed by ci-runner-7 pid 99 at ") and f"delete {url} and retry again" in why
    assert len(glue_runs(failed[0].job_name)) == 1


def test_retry_on_glue_leaves_a_failed_run_whose_report_says_succeeded(built_on_moto, capsys, two_failed_on_glue):
    """A run that TIMED OUT or FAILED after its job reported SUCCEEDED is not started again; one whose report says FAILED is."""
    batch, failing = two_failed_on_glue
    storage, prefix = Storage(), reports_prefix("s3://assets/glue/")
    published, broken = failing
    (published_run,) = [run.job_run_id for run in moto_runs(published)]
    (broken_run,) = [run.job_run_id for run in moto_runs(broken)]
    write_report(storage, report_url(prefix, published, published_run), RunReport(job=published, written={"out": 10}))
    write_report(storage, report_url(prefix, broken, broken_run), RunReport(job=broken, status=FAILED, written={"out": 4}))

    assert built_on_moto.cli("retry", "--batch", batch, "--json", profile="aws") == 0
    answer = json.loads(capsys.readouterr().out)
    assert [run["job_name"] for run in answer["retried"]] == [broken]
    assert answer["left_alone"] == {published: f"its run {published_run} ended FAILED, but its run report says SUCCEEDED"}
    assert len(glue_runs(published)) == 1 and len(glue_runs(broken)) == 2
