"""execute, status and cleanup on the local profile: real runner and job processes, a real SQLite registry."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from job_helpers.control.build import current_artifact
from job_helpers.control.local_backend import LocalBackend, import_path
from job_helpers.control.local_registry import (
    LocalJob,
    NewRun,
    Registry,
    pid_alive,
    process_start,
    same_process_alive,
    utcnow,
)
from job_helpers.control.local_runner import serve
from job_helpers.control.plan import plan_runs
from job_helpers.control.runs import ENDED_STATES, JobActive, StartFailed
from job_helpers.storage import Storage
from tests.support.local_runners import (
    DEADLINE_SECONDS,
    REPO,
    eventually,
    job_pid,
    kill_runner_under_its_job,
    run_end,
    start_runner,
)

pytestmark = pytest.mark.subprocess


def batch_of(output: str) -> str:
    return re.search(r"batch (\d{8}T\d{6}\.\d{3}Z)", output).group(1)


def records(project) -> dict[str, dict]:
    out = project.lake_root / "scratch" / "out"
    return {path.stem: json.loads(path.read_text()) for path in out.glob("*.json")}


def all_ended(registry: Registry, count: int) -> dict | None:
    """The latest run of every job once there are ``count`` of them and all have ended, as `status` reads them."""
    latest = registry.latest_runs(list(registry.tagged_jobs({})))
    ended = len(latest) == count and all(run is not None and run.state in ENDED_STATES for run in latest.values())
    return latest if ended else None


def max_overlap(intervals: list[tuple[datetime, datetime]]) -> int:
    events = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals], key=lambda e: (e[0], e[1]))
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def test_execute_wait_runs_chunks_as_glue_would_then_status_and_cleanup(built, capsys):
    assert built.execute_a_week("--set", "jobs.fake.arguments.--sleep-seconds=0.5") == 0
    output = capsys.readouterr().out
    batch = batch_of(output)
    assert output.count("SUCCEEDED") >= 3 and "2022-01-07" in output

    ran = records(built)
    assert sorted(ran) == [
        f"test-etl-fake-{batch}-{span}" for span in ("20220101-20220103", "20220104-20220106", "20220107-20220107")
    ]
    first = ran[f"test-etl-fake-{batch}-20220101-20220103"]
    argv = first["argv"]
    options = dict(zip(argv[0::2], argv[1::2]))
    assert argv[:2] == ["--JOB_NAME", f"test-etl-fake-{batch}-20220101-20220103"]
    assert options["--from-date"] == "2022-01-01" and options["--to-date"] == "2022-01-03"
    assert options["--output"] == (built.lake_root / "scratch").as_uri() + "/out/"
    assert options["--extra-py-files"].endswith("/job_helpers.zip") and options["--job-language"] == "python"
    assert options["--JOB_RUN_ID"].startswith("jr_")
    assert first["runtime"] == "local"
    assert first["pythonpath"].endswith("job_helpers.zip") and first["package"].startswith(first["pythonpath"])
    intervals = [(datetime.fromisoformat(r["started"]), datetime.fromisoformat(r["ended"])) for r in ran.values()]
    assert max_overlap(intervals) <= 2, "max_parallel_runs is 2"
    log = built.build_dir / "logs" / f"test-etl-fake-{batch}-20220104-20220106.log"
    text = log.read_text()
    assert "INFO fake_job: working on 2022-01-04..2022-01-06" in text and "a line on stderr" in text

    assert built.cli("status") == 0
    status = capsys.readouterr().out
    assert f"Batch {batch} (fake)" in status and "2022-01-01 → 2022-01-03" in status and "3 SUCCEEDED" in status

    assert built.cli("cleanup", "--dry-run", "--json") == 0
    found = json.loads(capsys.readouterr().out)
    assert (found["removed"], found["skipped"]) == (3, 0) and {job["action"] for job in found["jobs"]} == {"WOULD REMOVE"}

    assert built.cli("cleanup") == 0
    output = capsys.readouterr().out
    assert output.count("REMOVED - Name: ") == 3 and "3 removed, 0 skipped" in output
    assert Registry(built.registry).tagged_jobs({}) == {}


@pytest.mark.parametrize("project", ["a:b c"], indirect=True)
def test_a_repository_and_lake_under_a_folder_named_with_a_colon_run_their_jobs(built, capsys):
    """PYTHONPATH splits at ':', so the runner gave the job two folders that do not exist and every run
    ended in ModuleNotFoundError; the package is now given relative to the job's working folder."""
    week = ("--job", "fake", "--from", "2022-01-01", "--to", "2022-01-01", "--wait")
    assert built.cli("--set", "jobs.fake.arguments.--sleep-seconds=0", "execute", *week) == 0
    assert "1 SUCCEEDED" in capsys.readouterr().out
    (ran,) = records(built).values()
    assert ":" not in ran["pythonpath"] and Path(ran["package"]).is_relative_to(built.lake_root)


def test_an_import_path_that_holds_the_separator_even_relative_to_the_working_folder_starts_nothing(tmp_path):
    assert import_path(tmp_path / "a b", tmp_path) == str(tmp_path / "a b")
    assert import_path(tmp_path / "a:b" / "x.zip", tmp_path / "a:b" / "repo") == "../x.zip"
    with pytest.raises(StartFailed, match=r"a:b/x.zip: Python cannot import from a folder named with ':'; .*nothing was created"):
        import_path(tmp_path / "a:b" / "x.zip", tmp_path / "repo")


def test_a_failing_chunk_exits_1_with_its_error_in_the_table(built, capsys):
    assert built.execute_a_week("--set", "jobs.fake.arguments.--fail-on=2022-01-04") == 1
    output = capsys.readouterr().out
    assert "FAILED" in output and "chunk 2022-01-04..2022-01-06 failed on purpose" in output
    assert "1 FAILED, 2 SUCCEEDED" in output
    assert re.search(r"FAILED test-etl-fake-\S+-20220104-20220106: \S+\.log", output)

    assert built.cli("status") == 0
    assert "failed on purpose" in capsys.readouterr().out
    assert built.cli("status", "--json") == 0
    failed = [chunk for chunk in json.loads(capsys.readouterr().out)["chunks"] if chunk["state"] == "FAILED"]
    assert [chunk["error"] for chunk in failed] == [
        f"{failed[0]['job_name']} failed: chunk 2022-01-04..2022-01-06 failed on purpose"
    ]
    assert failed[0]["log"] == str(built.build_dir / "logs" / f"{failed[0]['job_name']}.log")


def test_runs_go_on_after_execute_exits_without_wait(built):
    """execute runs in its own process here, so the runners must outlive it to finish the batch."""
    command = built.cli_process(
        "--set",
        "jobs.fake.arguments.--sleep-seconds=1",
        "execute",
        "--job",
        "fake",
        "--from",
        "2022-03-01",
        "--to",
        "2022-03-05",
        "--days-per-job",
        "2",
    )
    result = subprocess.run(command, capture_output=True, text=True, timeout=DEADLINE_SECONDS, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Started 3 job(s)" in result.stdout and "make status batch=" in result.stdout
    assert "build/logs/test-etl-fake-" in result.stdout

    registry = Registry(built.registry)
    latest = eventually(lambda: all_ended(registry, 3), "all three runs ending")
    assert {run.state for run in latest.values()} == {"SUCCEEDED"}
    assert len(records(built)) == 3


def make_job(project, name: str, tmp_path: Path, timeout_seconds: int = 300, **arguments: str) -> NewRun:
    zip_path = next((project.lake_root / "assets").rglob("job_helpers.zip"))
    script = next((project.lake_root / "assets").rglob("fake_job.py"))
    defaults = {"--output": (tmp_path / "out").as_uri(), "--fail-on": "never", "--sleep-seconds": "0", **arguments}
    job = LocalJob(name, str(script), str(zip_path), defaults, timeout_seconds, str(tmp_path / f"{name}.log"), str(tmp_path))
    return NewRun(job, {"source": "test-etl"}, {"--from-date": "2022-01-01", "--to-date": "2022-01-01"})


def test_a_run_past_its_timeout_is_stopped_and_recorded_as_timeout(built, tmp_path):
    registry = Registry(built.registry)
    (run_id,) = registry.add_runs([make_job(built, "slow", tmp_path, timeout_seconds=1, **{"--sleep-seconds": "60"})], 1)
    serve(registry, os.getpid())
    (status,) = registry.run_states([run_id])
    assert status.state == "TIMEOUT" and "timed out" in status.error


def test_a_run_whose_runner_died_stays_running_while_its_job_lives_and_is_never_cleaned_up(built, tmp_path, capsys):
    """The runner is killed while its job sleeps: the run is RUNNING until the job process is gone, then ERROR."""
    registry = Registry(built.registry)
    (run_id,) = registry.add_runs([make_job(built, "orphan", tmp_path, **{"--sleep-seconds": "60"})], 1)
    runner, job = kill_runner_under_its_job(built, run_id)
    (status,) = registry.run_states([run_id])
    assert status.state == "RUNNING" and f"its job process {job} still runs" in status.error
    assert built.cli("cleanup") == 0
    assert "SKIPPED - Name: orphan (a run is still RUNNING)" in capsys.readouterr().out
    with pytest.raises(JobActive, match="is RUNNING; the job was not deleted"):
        registry.delete_job("orphan")
    assert list(registry.tagged_jobs({})) == ["orphan"]

    os.kill(job, signal.SIGKILL)
    ended = run_end(registry, run_id)
    assert ended.state == "ERROR" and f"local runner (pid {runner.pid}) died" in ended.error
    assert f"job process {job} ended without a recorded exit status" in ended.error
    assert built.cli("cleanup") == 0
    assert "REMOVED - Name: orphan" in capsys.readouterr().out


def test_a_dead_runner_s_run_ends_by_what_is_known_of_its_job_process(built, tmp_path):
    """Runner and job liveness stubbed: no job recorded, job alive, job gone."""
    job_lives = {"value": True}
    dead_runner = Registry(built.registry, alive=lambda pid, since: False, job_alive=lambda pid, start: job_lives["value"])
    claiming = Registry(built.registry, alive=lambda pid, since: True)
    first, second = claiming.add_runs([make_job(built, f"job-{i}", tmp_path) for i in range(2)], 2)
    claiming.claim_next(101)
    claiming.claim_next(102)
    claiming.record_job_pid(second, 202, 12345)
    states = dead_runner.run_states([first, second])
    assert [s.state for s in states] == ["ERROR", "RUNNING"]
    assert states[0].error == "local runner (pid 101) died before recording its job process"
    job_lives["value"] = False
    (ended,) = dead_runner.run_states([second])
    assert ended.state == "ERROR" and "job process 202 ended without a recorded exit status" in ended.error


def test_sigterm_to_a_runner_stops_its_run(built, tmp_path):
    registry = Registry(built.registry)
    (run_id,) = registry.add_runs([make_job(built, "stoppable", tmp_path, **{"--sleep-seconds": "60"})], 1)
    runner = start_runner(built)
    job = eventually(lambda: job_pid(built.registry, run_id), "the job starting")
    runner.send_signal(signal.SIGTERM)
    assert runner.wait(timeout=DEADLINE_SECONDS) == 143
    (status,) = registry.run_states([run_id])
    assert status.state == "STOPPED" and status.error == "stopped: the local runner received SIGTERM"
    with pytest.raises(ProcessLookupError):
        os.kill(job, 0)


def test_at_most_max_parallel_runs_are_claimed_and_the_oldest_goes_first(built, tmp_path):
    registry = Registry(built.registry, alive=lambda pid, since: True)
    ids = registry.add_runs([make_job(built, f"job-{i}", tmp_path) for i in range(3)], 2)
    first, second = registry.claim_next(101), registry.claim_next(102)
    assert [first.run_id, second.run_id] == ids[:2]
    assert registry.claim_next(103) is None
    registry.finish(first.run_id, "SUCCEEDED", 0, None)
    assert registry.claim_next(101).run_id == ids[2]
    assert [s.state for s in registry.run_states(ids)] == ["SUCCEEDED", "RUNNING", "RUNNING"]


def test_a_clashing_job_name_creates_nothing(built, tmp_path):
    settings = built.settings()
    job = settings.job("fake")
    artifact = current_artifact(built.build_dir, settings.datasets["glue_assets"], Storage())
    backend = LocalBackend(Registry(built.registry), tmp_path / "logs", built.root, max_parallel=1)
    planned = plan_runs(job, "B", "2022-01-01", "2022-01-01", "1")
    backend.start_runs(job, artifact, planned, {"source": "test-etl"}, lambda run: None)
    more = plan_runs(job, "B", "2021-12-31", "2022-01-01", "1")
    with pytest.raises(StartFailed, match="already exists; start the batch again; nothing was created"):
        backend.start_runs(job, artifact, more, {"source": "test-etl"}, lambda run: None)
    assert list(backend.tagged_jobs({})) == [planned[0].name]


def test_a_pid_taken_by_a_newer_process_does_not_keep_a_run_alive():
    """The test process stands in for an unrelated process that got a dead runner's or job's pid again."""
    assert pid_alive(os.getpid(), utcnow())
    assert not pid_alive(os.getpid(), datetime(2000, 1, 1, tzinfo=UTC))
    start = process_start(os.getpid())
    assert same_process_alive(os.getpid(), start)
    assert not same_process_alive(os.getpid(), start - 1)


def test_retry_starts_again_only_the_failed_chunks_of_a_batch(built, capsys):
    """10 chunks, 3 made to fail by a file; the file removed, retry reruns exactly those 3 on their own jobs."""
    out = built.lake_root / "scratch" / "out"
    out.mkdir(parents=True)
    failing = ["2022-01-02", "2022-01-05", "2022-01-09"]
    for day in failing:
        (out / f"fail-{day}").write_text("")
    assert built.cli("execute", "--job", "fake", "--from", "2022-01-01", "--to", "2022-01-10", "--wait") == 1
    batch = batch_of(capsys.readouterr().out)
    registry = Registry(built.registry)
    first = registry.latest_runs(list(registry.tagged_jobs({})))
    assert sorted(run.from_date for run in first.values() if run.state == "FAILED") == failing

    for day in failing:
        (out / f"fail-{day}").unlink()
    assert built.cli("retry", "--batch", batch, "--wait") == 0
    output = capsys.readouterr().out
    assert "Retrying 3 of 10 chunk(s)" in output and "10 SUCCEEDED" in output
    history = registry.job_runs(list(registry.tagged_jobs({})))
    assert len(history) == 10 and sum(len(runs) for runs in history.values()) == 13
    retried = {runs[0].from_date: runs for runs in history.values() if len(runs) == 2}
    assert sorted(retried) == failing
    for runs in retried.values():
        assert [run.state for run in runs] == ["FAILED", "SUCCEEDED"] and runs[1].arguments == runs[0].arguments

    assert built.cli("status", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["counts"] == {"SUCCEEDED": 10} and len(summary["chunks"]) == 10
    for chunk in summary["chunks"]:
        runs = history[chunk["job_name"]]
        assert chunk["attempts"] == len(runs) == (2 if chunk["from"] in failing else 1)
        # fake is configured with 2 G.1X workers: execution seconds (a minute at least) x 2 workers x 1 DPU.
        expected = sum(max(run.execution_seconds, 60) for run in runs) * 2 / 3600
        assert chunk["dpu_hours"] == pytest.approx(expected, abs=1e-6) and chunk["dpu_hours"] > 0
        assert chunk["price_usd"] == pytest.approx(expected * 0.44, abs=1e-5) and chunk["estimate"]
        assert [run["state"] for run in chunk["runs"]] == [run.state for run in runs]

    assert built.cli("retry", "--batch", batch, "--json") == 0
    assert json.loads(capsys.readouterr().out) == {"batch": batch, "retried": [], "left_alone": {}}
    assert sum(len(runs) for runs in registry.job_runs(list(registry.tagged_jobs({}))).values()) == 13


def test_a_chunk_that_read_nothing_is_shown_as_such_with_the_records_of_each_chunk(built, capsys):
    out = built.lake_root / "scratch" / "out"
    out.mkdir(parents=True)
    (out / "empty-2022-01-02").write_text("")
    assert built.cli("execute", "--job", "fake", "--from", "2022-01-01", "--to", "2022-01-03", "--wait") == 0
    output = capsys.readouterr().out
    assert "SUCCEEDED, nothing to read" in output and "3 SUCCEEDED (1 with nothing to read)" in output
    assert output.count("10 → 10") == 2

    assert built.cli("status", "--json") == 0
    chunks = {chunk["from"]: chunk for chunk in json.loads(capsys.readouterr().out)["chunks"]}
    assert [(c["records_read"], c["records_written"], c["nothing_to_read"]) for c in chunks.values()] == [
        (10, 10, False),
        (0, 0, True),
        (10, 10, False),
    ]
    reports = sorted((built.lake_root / "assets" / "glue" / "runs").glob("*/*.json"))
    assert len(reports) == 3 and {path.stem for path in reports} == {c["runs"][0]["run_id"] for c in chunks.values()}


def test_status_prints_the_last_lines_of_a_failed_chunks_log(built, capsys):
    """status --log-lines N: locally the last N lines of the chunk's log file, as Glue's driver output on aws."""
    fail = "jobs.fake.arguments.--fail-on=2022-01-02"
    assert built.cli("--set", fail, "execute", "--job", "fake", "--from", "2022-01-01", "--to", "2022-01-02", "--wait") == 1
    capsys.readouterr()
    assert built.cli("status", "--log-lines", "3") == 0
    out = capsys.readouterr().out
    failure = out[out.index("  FAILED ") :].splitlines()
    log = Path(failure[0].rpartition(": ")[2])
    assert failure[1:4] == ["    " + line for line in log.read_text().splitlines()[-3:]]
    assert len(failure) == 4, "only the failed chunk's lines"
