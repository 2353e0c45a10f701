"""The latest batch is the one the backend created last, whatever this machine's clock said when it was named.

A batch id is the UTC time execute started. A clock that once ran fast names a batch in the
future, and picking the largest id would then make status, retry and report act on that old
batch for good; a clock set back makes a new batch look old. Locally the registry's order of
insertion decides, on aws the CreatedOn Glue records (moto's server keeps its own clock here).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from test_runs_glue import batch_of

from job_helpers.control import plan
from job_helpers.control.local_registry import Registry

REAL_DATETIME = datetime


def execute(project, offset: timedelta, start: str, profile: str, capsys) -> str:
    """One batch, named while this machine's clock (as execute reads it) is ``offset`` away from the true time."""

    class SkewedClock(REAL_DATETIME):
        @classmethod
        def now(cls, tz=None):
            return REAL_DATETIME.now(tz) + offset

    with pytest.MonkeyPatch.context() as clock:
        clock.setattr(plan, "datetime", SkewedClock)
        arguments = ["execute", "--job", "fake", "--from", start, "--to", start]
        assert project.cli(*arguments, *(["--wait"] if profile == "local" else []), profile=profile) == 0
    return batch_of(capsys.readouterr().out)


@pytest.mark.parametrize(
    "first_clock, second_clock",
    [(timedelta(days=400), timedelta(0)), (timedelta(0), timedelta(days=-400))],
    ids=["the clock ran fast for the older batch", "the clock ran backwards for the newer batch"],
)
@pytest.mark.subprocess
def test_status_retry_and_report_act_on_the_batch_created_last_locally(built, capsys, first_clock, second_clock):
    older = execute(built, first_clock, "2022-01-01", "local", capsys)
    newer = execute(built, second_clock, "2022-02-01", "local", capsys)
    assert newer < older, "the ids alone would pick the older batch"

    assert built.cli("status", "--json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["batch"] == newer and [chunk["from"] for chunk in summary["chunks"]] == ["2022-02-01"]
    assert built.cli("retry", "--json") == 0
    assert json.loads(capsys.readouterr().out)["batch"] == newer
    assert built.cli("report") == 0
    assert capsys.readouterr().out.strip().endswith(f"batch-{newer}.html")


@pytest.mark.parametrize(
    "first_clock, second_clock",
    [(timedelta(days=400), timedelta(0)), (timedelta(0), timedelta(days=-400))],
    ids=["the clock ran fast for the older batch", "the clock ran backwards for the newer batch"],
)
def test_status_and_retry_act_on_the_batch_glue_created_last(built_on_moto, capsys, first_clock, second_clock):
    older = execute(built_on_moto, first_clock, "2022-01-01", "aws", capsys)
    newer = execute(built_on_moto, second_clock, "2022-02-01", "aws", capsys)
    assert newer < older

    assert built_on_moto.cli("status", "--json", profile="aws") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["batch"] == newer and [chunk["from"] for chunk in summary["chunks"]] == ["2022-02-01"]
    assert built_on_moto.cli("retry", "--json", profile="aws") == 0
    assert json.loads(capsys.readouterr().out)["batch"] == newer


@pytest.mark.subprocess
def test_a_deleted_newest_batch_makes_the_one_before_it_the_latest(built, capsys):
    """cleanup removes the newest batch's jobs: the latest is then the one created before it, not the largest id."""
    older = execute(built, timedelta(0), "2022-01-01", "local", capsys)
    middle = execute(built, timedelta(days=-800), "2022-02-01", "local", capsys)
    newest = execute(built, timedelta(days=-400), "2022-03-01", "local", capsys)
    registry = Registry(built.registry)
    for name in registry.tagged_jobs({"batch": newest}):
        registry.delete_job(name)
    assert middle < older and newest > middle
    assert built.cli("status", "--json") == 0
    assert json.loads(capsys.readouterr().out)["batch"] == middle


def test_the_batch_id_still_names_the_time_execute_started_in_utc():
    assert plan.new_batch_id(REAL_DATETIME(2026, 11, 25, 10, 15, 0, 123456, tzinfo=UTC)) == "20261125T101500.123Z"
