"""DPU-hours and price of runs: Glue's own figure first, else time x workers x DPUs of the worker type."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from job_helpers.control.config import JobSpec
from job_helpers.control.cost import DPU_PER_WORKER, Rates, dpu_hours, price
from job_helpers.control.runs import RunStatus

START = datetime(2026, 1, 1, tzinfo=UTC)
JOB = JobSpec("j", "p-j", "jobs/j.py", "glueetl", "G.2X", 5, 60, 1, True, {})


def run(**fields) -> RunStatus:
    return RunStatus("p-j-1", "jr_1", "SUCCEEDED", {}, **fields)


@pytest.mark.parametrize(
    "worker_type, dpus",
    [
        ("G.1X", 1),
        ("G.2X", 2),
        ("G.4X", 4),
        ("G.8X", 8),
        ("G.12X", 12),
        ("G.16X", 16),
        ("R.1X", 1),
        ("R.2X", 2),
        ("R.4X", 4),
        ("R.8X", 8),
    ],
)
def test_an_hour_on_ten_workers_is_ten_times_the_worker_s_dpus(worker_type, dpus):
    assert DPU_PER_WORKER[worker_type] == dpus
    assert dpu_hours(run(execution_seconds=3600, worker_type=worker_type, number_of_workers=10), None) == 10 * dpus


def test_glue_s_dpu_seconds_win_over_the_estimate():
    assert dpu_hours(run(execution_seconds=3600, worker_type="G.1X", number_of_workers=10, dpu_seconds=1800), None) == 0.5


def test_without_worker_figures_the_configured_job_gives_them_and_the_run_times_give_the_duration():
    ended = run(started_on=START, completed_on=START + timedelta(minutes=30))
    assert dpu_hours(ended, JOB) == 0.5 * 5 * 2
    assert dpu_hours(ended, None) is None
    assert dpu_hours(run(), JOB) is None


def test_flex_runs_are_priced_at_the_flex_rate():
    runs = [run(execution_seconds=3600, worker_type="G.1X", number_of_workers=1, execution_class=c) for c in ("FLEX", "STANDARD")]
    hours, total = price(runs, None, Rates(standard=0.44, flex=0.29))
    assert hours == 2 and total == pytest.approx(0.73)
