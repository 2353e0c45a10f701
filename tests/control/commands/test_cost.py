"""What Glue bills: DPU-hours with the one-minute minimum, the region's prices, M-DPUs for R workers,
and an estimate, said as one, for runs still going and for local runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from job_helpers.control.config import GluePrices, JobSpec
from job_helpers.control.cost import DPU_PER_WORKER, Rates, billed, cost
from job_helpers.control.runs import RunStatus
from job_helpers.control.summary import cost_line

START = datetime(2026, 1, 1, tzinfo=UTC)
JOB = JobSpec("j", "p-j", "jobs/j.py", "glueetl", "G.2X", 5, 60, 1, True, {})
US_EAST_1 = Rates("us-east-1", GluePrices(standard=0.44, flex=0.29))


def run(state: str = "SUCCEEDED", **fields) -> RunStatus:
    return RunStatus("p-j-1", "jr_1", state, {}, **fields)


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
    used = billed(run(execution_seconds=3600, worker_type=worker_type, number_of_workers=10), None)
    assert used.dpu_hours == 10 * dpus
    assert used.memory_optimised == worker_type.startswith("R.")


@pytest.mark.parametrize("seconds", [0, 1, 20, 59.9, 60])
def test_a_run_shorter_than_a_minute_is_billed_a_minute(seconds):
    """A 20 s run on 2 G.1X workers costs 2 DPU-minutes (0.033 DPU-h), not 0.011."""
    used = billed(run(execution_seconds=seconds, worker_type="G.1X", number_of_workers=2), None)
    assert used.dpu_hours == pytest.approx(2 * 60 / 3600)


def test_a_longer_run_is_billed_by_the_second():
    used = billed(run(execution_seconds=61, worker_type="G.1X", number_of_workers=2), None)
    assert used.dpu_hours == pytest.approx(2 * 61 / 3600)


def test_glue_s_dpu_seconds_win_over_the_estimate_and_short_runs_still_pay_a_minute():
    assert billed(run(execution_seconds=3600, worker_type="G.1X", number_of_workers=10, dpu_seconds=1800), None).dpu_hours == 0.5
    # An auto-scaled run of 30 s that used 60 DPU-seconds is billed for a minute at the same scale.
    short = billed(run(execution_seconds=30, worker_type="G.1X", number_of_workers=10, dpu_seconds=60), None)
    assert short.dpu_hours == pytest.approx(120 / 3600)


def test_without_worker_figures_the_configured_job_gives_them_and_the_run_times_give_the_duration():
    ended = run(started_on=START, completed_on=START + timedelta(minutes=30))
    assert billed(ended, JOB).dpu_hours == 0.5 * 5 * 2
    assert billed(ended, None) is None
    assert billed(run(), JOB) is None


def test_a_running_chunk_is_estimated_from_its_start_not_shown_as_zero():
    """Glue reports ExecutionTime 0 while a run goes on; the cost counts from the start, as an estimate."""
    going = run("RUNNING", started_on=START, execution_seconds=0, worker_type="G.1X", number_of_workers=2)
    used = billed(going, None, now=START + timedelta(minutes=30))
    assert used.dpu_hours == pytest.approx(1.0) and used.estimate
    spent = cost([going], None, US_EAST_1, now=START + timedelta(minutes=30))
    assert spent.price_usd == pytest.approx(0.44) and spent.estimate


def test_flex_runs_are_priced_at_the_flex_rate():
    runs = [run(execution_seconds=3600, worker_type="G.1X", number_of_workers=1, execution_class=c) for c in ("FLEX", "STANDARD")]
    spent = cost(runs, None, US_EAST_1)
    assert spent.dpu_hours == 2 and spent.price_usd == pytest.approx(0.73) and not spent.estimate


def test_a_region_without_prices_shows_dpu_hours_and_no_price():
    """Prices are the run's region's: us-east-1's list price is never applied to eu-west-1."""
    spent = cost([run(execution_seconds=3600, worker_type="G.1X", number_of_workers=1)], None, Rates("eu-west-1", None))
    assert spent.dpu_hours == 1 and spent.price_usd == 0 and spent.unpriced_dpu_hours == 1


def test_r_workers_are_priced_per_m_dpu_hour_or_not_at_all():
    r_run = run(execution_seconds=3600, worker_type="R.2X", number_of_workers=1)
    assert cost([r_run], None, US_EAST_1).unpriced_dpu_hours == 2
    priced = Rates("us-east-1", GluePrices(0.44, 0.29, memory_optimized=0.52))
    assert cost([r_run], None, priced).price_usd == pytest.approx(1.04)


def test_local_runs_are_estimates():
    spent = cost([run(execution_seconds=3600, worker_type="G.1X", number_of_workers=1)], None, Rates("us-east-1", None, True))
    assert spent.estimate


def _summary(price_usd, unpriced=0.0, estimate=False, rates=None):
    return {
        "dpu_hours": 1.0,
        "price_usd": price_usd,
        "unpriced_dpu_hours": unpriced,
        "estimate": estimate,
        "rates_usd_per_dpu_hour": rates or {"region": "us-east-1", "STANDARD": 0.44, "FLEX": 0.29},
    }


def test_the_cost_line_says_what_is_an_estimate_and_what_has_no_price():
    assert "estimate" in cost_line(_summary(0.44, estimate=True))
    assert "at list prices" in cost_line(_summary(0.44)) and "one minute at least" in cost_line(_summary(0.44))
    unpriced = cost_line(_summary(None, 1.0, rates={"region": "eu-west-1", "STANDARD": None, "FLEX": None}))
    assert "no price" in unpriced and "eu-west-1" in unpriced and "project.glue_prices" in unpriced
    assert "R workers have no price" in cost_line(_summary(0.44, unpriced=0.5))
