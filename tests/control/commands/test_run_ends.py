"""A local run's recorded end never lies: a busy registry journals it, a dead runner's run ends as its report says."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading

import pytest
from test_runs_local import all_ended, make_job

from job_helpers.control.local_registry import Registry, RunEnd, end_by_report, same_process_alive
from job_helpers.control.local_runner import execute
from job_helpers.run_report import FAILED, RunReport, report_url
from job_helpers.storage import Storage
from tests.support.local_runners import eventually, job_pid, kill_runner_under_its_job, run_end


@pytest.mark.parametrize(
    "report, exit_code, log_error, expected",
    [
        (RunReport(), 0, None, RunEnd("SUCCEEDED", 0, None)),
        (RunReport(), 3, "Abort", RunEnd("SUCCEEDED", 3, "exited with status 3 after its run report said SUCCEEDED")),
        (RunReport(), None, None, RunEnd("SUCCEEDED", None, None)),
        (
            RunReport(status=FAILED, message="day 2 failed"),
            1,
            "x failed: day 2 failed",
            RunEnd("FAILED", 1, "x failed: day 2 failed"),
        ),
        (RunReport(status=FAILED, message="day 2 failed"), None, None, RunEnd("FAILED", None, "day 2 failed")),
        (RunReport(status=FAILED, message="odd"), 0, None, RunEnd("FAILED", 0, "odd")),
        (None, 0, None, RunEnd("SUCCEEDED", 0, None)),
        (None, 137, None, RunEnd("FAILED", 137, "exited with status 137")),
    ],
)
def test_a_job_s_end_is_its_run_report_and_else_its_exit_status(report, exit_code, log_error, expected):
    assert end_by_report(report, exit_code, log_error) == expected


def quick_registry(project, **options) -> Registry:
    return Registry(project.registry, busy_timeout=0.05, end_attempts=2, sleep=lambda seconds: None, **options)


def reporting_job(project, name: str, tmp_path, **arguments: str):
    """A job that writes its run report under ``tmp_path/runs/``, as every job execute creates does."""
    return make_job(project, name, tmp_path, **{"--run-reports": (tmp_path / "runs").as_uri() + "/", **arguments})


def hold_the_write_lock(database, until: threading.Event, held: threading.Event, after=lambda: None) -> threading.Thread:
    """Another process's long write transaction (a stuck command, a slow disk), taken once ``after`` returns."""

    def hold() -> None:
        after()
        with sqlite3.connect(database, isolation_level=None) as db:
            db.execute("BEGIN EXCLUSIVE")
            held.set()
            until.wait(timeout=60)
            db.execute("ROLLBACK")

    thread = threading.Thread(target=hold)
    thread.start()
    return thread


@pytest.mark.subprocess
def test_an_end_the_busy_registry_refused_is_journaled_and_applied_by_the_next_reader(built, tmp_path):
    """Registry locked when the run ends and every retry used up: the end waits in the journal, not lost."""
    registry = quick_registry(built)
    (run_id,) = registry.add_runs([reporting_job(built, "locked-out", tmp_path, **{"--sleep-seconds": "1"})], 1)
    claimed = registry.claim_next(os.getpid())
    release, held = threading.Event(), threading.Event()
    job_started = lambda: eventually(lambda: job_pid(built.registry, run_id), "the job starting")  # noqa: E731
    locker = hold_the_write_lock(built.registry, release, held, after=job_started)
    try:
        state = execute(registry, claimed)
        assert held.is_set() and state == "SUCCEEDED"
        journal = registry.ends_folder / f"{run_id}.json"
        assert json.loads(journal.read_text())["state"] == "SUCCEEDED"
    finally:
        release.set()
        locker.join()
    (status,) = Registry(built.registry).run_states([run_id])
    assert (status.state, status.error) == ("SUCCEEDED", None)
    Registry(built.registry).run_states([run_id])
    assert not journal.exists()


def test_a_journaled_end_is_applied_even_after_its_runner_died(built, tmp_path):
    registry = quick_registry(built)
    (run_id,) = registry.add_runs([reporting_job(built, "journaled", tmp_path)], 1)
    registry.claim_next(99_999_999)
    release, held = threading.Event(), threading.Event()
    locker = hold_the_write_lock(built.registry, release, held)
    held.wait(timeout=60)
    try:
        registry.finish(run_id, "FAILED", 1, "day 3 failed")
    finally:
        release.set()
        locker.join()
    dead_runner = Registry(built.registry, alive=lambda pid, since: False, job_alive=lambda pid, start: False)
    (status,) = dead_runner.run_states([run_id])
    assert (status.state, status.error) == ("FAILED", "day 3 failed")


@pytest.mark.subprocess
def test_a_runner_killed_after_its_job_published_leaves_the_run_succeeded(built, tmp_path):
    """kill -9 on the runner while its job works; the job publishes, reports and exits: SUCCEEDED, never ERROR."""
    registry = Registry(built.registry)
    (run_id,) = registry.add_runs([reporting_job(built, "published", tmp_path, **{"--sleep-seconds": "2"})], 1)
    runner, job = kill_runner_under_its_job(built, run_id)
    ended = run_end(registry, run_id)
    assert ended.state == "SUCCEEDED"
    assert ended.error == f"local runner (pid {runner.pid}) died; the end is its job's run report"
    assert (tmp_path / "out" / "published.json").exists() and not same_process_alive(job, None)


@pytest.mark.subprocess
def test_a_runner_killed_while_its_job_failed_after_publishing_part_leaves_the_run_failed(built, tmp_path):
    """The job wrote its output, then failed and reported FAILED: the run is FAILED with the report's message."""
    registry = Registry(built.registry)
    job = reporting_job(built, "half", tmp_path, **{"--sleep-seconds": "2", "--fail-on": "2022-01-01"})
    (run_id,) = registry.add_runs([job], 1)
    runner, _ = kill_runner_under_its_job(built, run_id)
    ended = run_end(registry, run_id)
    assert ended.state == "FAILED" and (tmp_path / "out" / "half.json").exists()
    assert ended.error == (
        f"chunk 2022-01-01..2022-01-01 failed on purpose (local runner (pid {runner.pid}) died; the end is its job's run report)"
    )


@pytest.mark.subprocess
def test_a_dead_runner_s_run_whose_job_left_no_report_is_error(built, tmp_path):
    """The job killed too before it could report: nothing says how it ended, so ERROR, naming both."""
    registry = Registry(built.registry)
    (run_id,) = registry.add_runs([reporting_job(built, "lost", tmp_path, **{"--sleep-seconds": "60"})], 1)
    runner, job = kill_runner_under_its_job(built, run_id)
    os.kill(job, signal.SIGKILL)
    ended = run_end(registry, run_id)
    assert ended.state == "ERROR"
    assert ended.error == (
        f"local runner (pid {runner.pid}) died; its job process {job} ended without a recorded exit status "
        "or a run report (see its log)"
    )


def test_a_report_that_cannot_be_read_yet_leaves_the_run_undecided(built, tmp_path):
    """An unreachable report (S3 down, say) is not a missing one: the run waits for a later reading."""
    reachable = {"value": False}

    def reports(definition, run_id):
        if not reachable["value"]:
            raise ConnectionError("could not connect to the endpoint")
        return RunReport(job=definition["name"])

    claiming = Registry(built.registry, alive=lambda pid, since: True)
    (run_id,) = claiming.add_runs([reporting_job(built, "unreachable", tmp_path)], 1)
    claiming.claim_next(101)
    claiming.record_job_pid(run_id, 202, 1)
    dead = Registry(built.registry, alive=lambda pid, since: False, job_alive=lambda pid, start: False, reports=reports)
    (waiting,) = dead.run_states([run_id])
    assert (
        waiting.state == "RUNNING" and "its run report could not be read yet (could not connect to the endpoint)" in waiting.error
    )
    reachable["value"] = True
    (ended,) = dead.run_states([run_id])
    assert ended.state == "SUCCEEDED"


def test_a_corrupt_report_counts_as_none(built, tmp_path):
    """A report cut short (its writer killed mid-write on a store without atomic writes) decides nothing."""
    claiming = Registry(built.registry, alive=lambda pid, since: True)
    (run_id,) = claiming.add_runs([reporting_job(built, "garbled", tmp_path)], 1)
    claiming.claim_next(101)
    claiming.record_job_pid(run_id, 202, 1)
    Storage().write_text(report_url((tmp_path / "runs").as_uri() + "/", "garbled", run_id), '{"status": "SUCC')
    dead = Registry(built.registry, alive=lambda pid, since: False, job_alive=lambda pid, start: False)
    (ended,) = dead.run_states([run_id])
    assert ended.state == "ERROR" and ended.error.endswith("or a run report (see its log)")


@pytest.mark.subprocess
def test_status_never_shows_error_for_a_batch_whose_runners_were_killed_after_publishing(built, capsys):
    """Through the CLI: both runners killed -9 while their jobs work; the jobs publish and report; status says SUCCEEDED."""
    arguments = ["--set", "jobs.fake.arguments.--sleep-seconds=2", "execute", "--job", "fake"]
    assert built.cli(*arguments, "--from", "2022-01-01", "--to", "2022-01-02") == 0
    capsys.readouterr()

    def both_jobs_started() -> list[int] | None:
        with sqlite3.connect(built.registry) as db:
            rows = db.execute("SELECT runner_pid FROM runs WHERE job_pid IS NOT NULL").fetchall()
        return [row[0] for row in rows] if len(rows) == 2 else None

    for pid in eventually(both_jobs_started, "both jobs starting"):
        os.kill(pid, signal.SIGKILL)
    registry = Registry(built.registry)
    latest = eventually(lambda: all_ended(registry, 2), "both runs ending")
    assert {run.state for run in latest.values()} == {"SUCCEEDED"}
    assert built.cli("status") == 0
    assert "2 SUCCEEDED" in capsys.readouterr().out
