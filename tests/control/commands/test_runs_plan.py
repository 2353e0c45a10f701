"""Planning rules: chunks, names, date and argument validation; the CLI refuses bad input with status 2."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import UTC, date, datetime

import boto3
import pytest

from job_helpers.backoff import Backoff, retry
from job_helpers.control.cleanup import decide
from job_helpers.control.config import JobSpec
from job_helpers.control.local_runner import last_error_line
from job_helpers.control.plan import (
    MAX_DAYS_PER_JOB,
    PlanError,
    check_batch_size,
    check_job_name,
    job_name,
    new_batch_id,
    plan_runs,
    split_range,
)
from job_helpers.control.runs import RunStatus

JOB = JobSpec(
    key="fake",
    name_prefix="test-etl-fake",
    script="jobs/fake_job.py",
    command="glueetl",
    worker_type="G.1X",
    number_of_workers=2,
    timeout_minutes=5,
    max_concurrent_runs=1,
    date_ranged=True,
    arguments={},
)


@pytest.mark.parametrize(
    ("start", "end", "days", "count"),
    [
        (date(2022, 1, 1), date(2022, 1, 31), 1, 31),
        (date(2022, 1, 1), date(2022, 1, 31), 5, 7),
        (date(2022, 1, 1), date(2022, 12, 31), 10, 37),
        (date(2022, 1, 1), date(2022, 12, 31), 30, 13),
        (date(2022, 1, 1), date(2022, 1, 3), 10, 1),
        (date(2022, 1, 1), date(2022, 1, 1), 1, 1),
    ],
)
def test_chunks_cover_the_range_without_gaps_and_end_at_to(start, end, days, count):
    chunks = split_range(start, end, days)
    assert len(chunks) == count
    assert chunks[0].start == start and chunks[-1].end == end
    assert all(1 <= chunk.days <= days for chunk in chunks)
    assert all((b.start - a.end).days == 1 for a, b in zip(chunks, chunks[1:]))


def test_a_range_shorter_than_a_chunk_is_one_job_ending_at_to():
    (chunk,) = split_range(date(2022, 2, 27), date(2022, 3, 2), 30)
    assert (chunk.start, chunk.end) == (date(2022, 2, 27), date(2022, 3, 2))


@pytest.mark.parametrize(
    ("start", "end", "days", "message"),
    [
        ("2022-02-30", "2022-03-01", "1", "--from '2022-02-30'"),
        ("2022/01/01", "2022-03-01", "1", "YYYY-MM-DD"),
        ("2022-01-01", "20220301", "1", "--to '20220301'"),
        ("2022-03-01", "2022-01-01", "1", "after --to"),
        ("2022-01-01", "2022-01-02", "0", "positive whole number"),
        ("2022-01-01", "2022-01-02", "-2", "positive whole number"),
        ("2022-01-01", "2022-01-02", "1.5", "positive whole number"),
        ("2022-01-01", None, "1", "give --to"),
        ("2022-01-01", "2022-01-02", "1000000000", "--days-per-job '1000000000': at most 3652059"),
        ("2022-01-01", "2022-01-02", "9" * 5000, "--days-per-job '9999.*: at most"),
        ("9999-12-31", "9999-12-31", "1", "--from '9999-12-31': the last day a job can cover is 9999-12-30"),
        ("2022-01-01", "9999-12-31", "1", "--to '9999-12-31'"),
    ],
)
def test_bad_dates_and_day_counts_are_refused(start, end, days, message):
    with pytest.raises(PlanError, match=message):
        plan_runs(JOB, "b", start, end, days)


def test_chunks_reach_the_calendar_end_without_overflow():
    chunks = split_range(date(9999, 12, 1), date.max, 30)
    assert [(c.start, c.end) for c in chunks] == [(date(9999, 12, 1), date(9999, 12, 30)), (date.max, date.max)]
    (whole,) = split_range(date.min, date.max, MAX_DAYS_PER_JOB)
    assert whole.days == MAX_DAYS_PER_JOB
    assert len(plan_runs(JOB, "b", "2022-01-01", "2022-01-03", str(MAX_DAYS_PER_JOB))) == 1


def test_a_batch_over_the_limit_needs_confirming():
    check_batch_size(400, 400, confirmed=False)
    check_batch_size(7305, 400, confirmed=True)
    with pytest.raises(PlanError, match=r"7305 jobs, over the limit of 400 \(project.max_jobs_per_batch.*--yes \(make: yes=1\)"):
        check_batch_size(7305, 400, confirmed=False)


def test_names_carry_prefix_batch_and_compact_dates():
    runs = plan_runs(JOB, "20261125T101500.123Z", "2022-01-01", "2022-01-07", "3")
    assert [run.name for run in runs] == [
        "test-etl-fake-20261125T101500.123Z-20220101-20220103",
        "test-etl-fake-20261125T101500.123Z-20220104-20220106",
        "test-etl-fake-20261125T101500.123Z-20220107-20220107",
    ]
    assert runs[1].arguments == {"--from-date": "2022-01-04", "--to-date": "2022-01-06"}
    assert runs[2].as_json() == {"name": runs[2].name, "from": "2022-01-07", "to": "2022-01-07"}


def test_a_name_over_255_bytes_is_refused():
    check_job_name("x" * 255)
    with pytest.raises(PlanError, match="256 bytes"):
        check_job_name("x" * 256)
    with pytest.raises(PlanError, match="over Glue's limit"):
        check_job_name("é" * 128)
    long_prefix = replace(JOB, name_prefix="p" * 220)
    with pytest.raises(PlanError, match="name_prefix"):
        plan_runs(long_prefix, new_batch_id(), "2022-01-01", "2022-01-02", "1")


def test_a_job_that_is_not_date_ranged_runs_once_and_refuses_dates():
    once = replace(JOB, date_ranged=False)
    (run,) = plan_runs(once, "B", None, None, None)
    assert run.name == job_name("test-etl-fake", "B", None) == "test-etl-fake-B"
    assert run.arguments == {} and run.as_json() == {"name": "test-etl-fake-B", "from": None, "to": None}
    with pytest.raises(PlanError, match="drop --from, --days-per-job"):
        plan_runs(once, "B", "2022-01-01", None, "2")


def test_batch_ids_sort_in_time_order_to_the_millisecond():
    first = new_batch_id(datetime(2026, 11, 25, 10, 15, 0, 999_000, tzinfo=UTC))
    second = new_batch_id(datetime(2026, 11, 25, 10, 15, 1, 0, tzinfo=UTC))
    assert first == "20261125T101500.999Z" and second == "20261125T101501.000Z"
    assert first < second


def test_retry_retries_only_what_it_is_told_and_gives_up_after_the_attempts():
    calls, sleeps = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise KeyError("busy")
        return "done"

    assert retry(flaky, lambda e: isinstance(e, KeyError), Backoff(1, 4), 5, sleeps.append) == "done"
    assert len(sleeps) == 2 and all(0 <= s <= 4 for s in sleeps)
    with pytest.raises(ValueError):
        retry(lambda: int("x"), lambda e: isinstance(e, KeyError), Backoff(1, 4), 5, sleeps.append)
    assert len(sleeps) == 2
    with pytest.raises(KeyError):
        retry(lambda: {}["k"], lambda e: True, Backoff(1, 4), 3, sleeps.append)
    assert len(sleeps) == 4


def test_backoff_delays_are_jittered_below_the_capped_bound():
    rng = random.Random(7)
    backoff = Backoff(base=0.5, cap=8)
    delays = [backoff.delay(attempt, rng) for attempt in range(12) for _ in range(20)]
    assert all(0 <= d <= 8 for d in delays)
    assert max(delays[:20]) <= 0.5 and len(set(delays)) == len(delays)


def _status(state: str, started: int = 1) -> RunStatus:
    return RunStatus("j", f"jr_{started}", state, {}, started_on=datetime(2022, 1, 1, started, tzinfo=UTC))


def test_cleanup_deletes_jobs_all_of_whose_runs_ended():
    for state in ("SUCCEEDED", "FAILED", "STOPPED", "ERROR", "TIMEOUT", "EXPIRED"):
        assert decide("j", [_status("FAILED", 1), _status(state, 2)], include_never_run=False) == (
            True,
            f"every run ended, the latest {state}",
        )
    for state in ("WAITING", "STARTING", "RUNNING", "STOPPING"):
        assert decide("j", [_status(state)], include_never_run=True) == (False, f"a run is still {state}")
        assert decide("j", [_status(state, 1), _status("SUCCEEDED", 2)], include_never_run=True)[0] is False
    assert decide("j", [_status("RUNNING", 1), _status("STARTING", 2)], True)[1] == "a run is still RUNNING and STARTING"
    assert decide("j", [], include_never_run=False)[0] is False
    assert decide("j", [], include_never_run=True) == (True, "never run")


def test_the_error_message_is_the_last_error_line_of_the_log():
    log = "\n".join(
        [
            "2026-11-25 10:15:00,001 INFO job: starting",
            "2026-11-25 10:15:01,002 ERROR job_helpers.runtime: job-x failed: chunk broke",
            "2026-11-25 10:15:01,003 INFO py4j: shutting down",
        ]
    )
    assert last_error_line(log) == "job-x failed: chunk broke"
    traceback = 'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: bad value\n'
    assert last_error_line(log + "\n" + traceback) == "ValueError: bad value"
    assert last_error_line("all fine\n") is None


class TestCliRefusesBadInput:
    """Errors exit with status 2 and create nothing: no registry, no Glue job."""

    @pytest.mark.parametrize(
        "arguments",
        [
            ["--from", "2022-01-32", "--to", "2022-02-01"],
            ["--from", "2022-02-01", "--to", "2022-01-01"],
            ["--from", "2022-01-01", "--to", "2022-01-02", "--days-per-job", "0"],
            ["--from", "2022-01-01", "--to", "2022-01-02", "--days-per-job", "two"],
            ["--from", "2022-01-01"],
            ["--from", "2022-01-01", "--to", "2022-01-02", "--days-per-job", "1000000000"],
            ["--from", "9999-12-31", "--to", "9999-12-31"],
        ],
    )
    def test_locally(self, built, capsys, arguments):
        assert built.cli("execute", "--job", "fake", *arguments) == 2
        captured = capsys.readouterr()
        assert captured.err.startswith("error:") and captured.err.count("\n") == 1 and captured.out == ""
        assert not built.registry.exists()

    def test_unknown_job_name_too_long_and_dates_for_an_undated_job(self, built, capsys):
        assert built.cli("execute", "--job", "nope", "--from", "2022-01-01", "--to", "2022-01-01") == 2
        assert "unknown job 'nope'" in capsys.readouterr().err
        long_prefix = "jobs.fake.name_prefix=" + "p" * 230
        assert built.cli("--set", long_prefix, "execute", "--job", "fake", "--from", "2022-01-01", "--to", "2022-01-01") == 2
        assert "over Glue's limit of 255" in capsys.readouterr().err
        assert built.cli("execute", "--job", "once", "--from", "2022-01-01", "--to", "2022-01-02") == 2
        assert "not date-ranged" in capsys.readouterr().err
        assert not built.registry.exists()

    @pytest.mark.subprocess
    def test_a_batch_over_the_limit_without_yes(self, built, capsys):
        twenty_years = ["--from", "2000-01-01", "--to", "2019-12-31", "--days-per-job", "1"]
        assert built.cli("execute", "--job", "fake", *twenty_years) == 2
        output = capsys.readouterr().err
        assert "would create 7305 jobs, over the limit of 400" in output and "--yes (make: yes=1)" in output
        three = ["--from", "2022-01-01", "--to", "2022-01-03"]
        assert built.cli("--set", "project.max_jobs_per_batch=2", "execute", "--job", "fake", *three) == 2
        assert "3 jobs, over the limit of 2" in capsys.readouterr().err
        assert not built.registry.exists()
        assert built.cli("execute", "--job", "fake", *twenty_years, "--dry-run", "--json") == 0
        assert len(json.loads(capsys.readouterr().out)) == 7305
        assert built.cli("--set", "project.max_jobs_per_batch=2", "execute", "--job", "fake", *three, "--yes", "--wait") == 0
        assert "3 SUCCEEDED" in capsys.readouterr().out

    def test_without_a_build(self, project, capsys):
        assert project.cli("execute", "--job", "fake", "--from", "2022-01-01", "--to", "2022-01-02") == 2
        assert "run `make build` first" in capsys.readouterr().err
        assert not project.registry.exists()

    def test_on_glue(self, built_on_moto, capsys):
        glue = boto3.client("glue", region_name="us-east-1")
        assert built_on_moto.cli("execute", "--job", "fake", "--from", "2022-13-01", "--to", "2022-12-31", profile="aws") == 2
        assert (
            built_on_moto.cli("execute", "--job", "fake", "--from", "2022-01-01", "--to", "2022-01-02", "--json", profile="aws")
            == 2
        )
        assert glue.list_jobs()["JobNames"] == []


def test_dry_run_prints_the_plan_as_json_or_a_table_and_needs_no_build(project, capsys):
    assert (
        project.cli(
            "execute", "--job", "fake", "--from", "2022-01-01", "--to", "2022-01-31", "--days-per-job", "5", "--dry-run", "--json"
        )
        == 0
    )
    plan = json.loads(capsys.readouterr().out)
    assert len(plan) == 7 and set(plan[0]) == {"name", "from", "to"}
    assert (plan[0]["from"], plan[-1]["from"], plan[-1]["to"]) == ("2022-01-01", "2022-01-31", "2022-01-31")
    assert project.cli("execute", "--job", "once", "--dry-run") == 0
    output = capsys.readouterr().out
    assert "1 job(s)" in output and "dry run, nothing created" in output
    empty = ["--from", "", "--to", "", "--days-per-job", ""]
    assert project.cli("execute", "--job", "once", *empty, "--dry-run", "--json") == 0
    assert json.loads(capsys.readouterr().out)[0]["from"] is None
    assert (
        project.cli(
            "execute", "--job", "fake", "--from", "2022-01-01", "--to", "2022-01-03", "--days-per-job", "", "--dry-run", "--json"
        )
        == 0
    )
    assert len(json.loads(capsys.readouterr().out)) == 3
    assert not project.registry.exists()
