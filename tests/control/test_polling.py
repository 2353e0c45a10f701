"""The control plane's waits (job runs, Athena queries) poll with backoff.poll."""

from __future__ import annotations

import random

import pytest

from job_helpers.backoff import Backoff
from job_helpers.control import ddl
from job_helpers.control.plan import PlannedRun
from job_helpers.control.runs import FAILED, RUNNING, SUCCEEDED, RunStatus, StartedRun, wait_for_runs


class FakeBackend:
    """Answers each poll with the next states of its runs; records which runs were asked for."""

    poll_backoff = Backoff(base=1.0, cap=100.0)

    def __init__(self, answers: list[dict[str, str]]) -> None:
        self.answers = iter(answers)
        self.asked: list[list[str]] = []

    def run_states(self, runs):
        self.asked.append([run.run_id for run in runs])
        states = next(self.answers)
        return [RunStatus(run.job_name, run.run_id, states[run.run_id], {}) for run in runs]


def started(run_id: str) -> StartedRun:
    return StartedRun(f"job-{run_id}", run_id, PlannedRun(f"job-{run_id}", None))


def test_wait_for_runs_asks_only_for_unfinished_runs_and_restarts_its_backoff_when_a_state_changes():
    backend = FakeBackend(
        [
            {"a": RUNNING, "b": RUNNING},
            {"a": RUNNING, "b": RUNNING},
            {"a": RUNNING, "b": RUNNING},
            {"a": SUCCEEDED, "b": RUNNING},
            {"b": FAILED},
        ]
    )
    pauses: list[float] = []
    updates: list[list[str]] = []
    random.seed(3)
    final = wait_for_runs(backend, [started("a"), started("b")], lambda s: updates.append([r.state for r in s]), pauses.append)
    assert [status.state for status in final] == [SUCCEEDED, FAILED]
    assert backend.asked[-1] == ["b"]
    assert len(updates) == 5 and len(pauses) == 4
    # First poll: everything is new (bound 1 s); then unchanged (2 s, 4 s); then a run ended (back to 1 s).
    assert pauses[0] <= 1 and pauses[1] <= 2 and pauses[2] <= 4 and pauses[3] <= 1


class FakeAthena:
    def __init__(self, states: list[str]) -> None:
        self.states = iter(states)
        self.stopped: list[str] = []

    def get_query_execution(self, QueryExecutionId: str) -> dict:
        return {"QueryExecution": {"Status": {"State": next(self.states)}}}

    def stop_query_execution(self, QueryExecutionId: str) -> dict:
        self.stopped.append(QueryExecutionId)
        return {}


def test_an_athena_query_is_polled_until_it_ends(monkeypatch):
    monkeypatch.setattr(ddl, "QUERY_POLL", Backoff(0.0, 0.0))
    assert ddl._wait_for_query(FakeAthena(["QUEUED", "RUNNING", "SUCCEEDED"]), "q-1")["State"] == "SUCCEEDED"


def test_an_athena_query_still_running_at_the_deadline_is_a_ddl_error(monkeypatch):
    monkeypatch.setattr(ddl, "QUERY_POLL", Backoff(0.0, 0.0))
    monkeypatch.setattr(ddl, "QUERY_TIMEOUT_SECONDS", -60)
    athena = FakeAthena(["RUNNING"] * 3)
    with pytest.raises(ddl.DdlError, match="Athena query q-2 was still RUNNING after .* it was stopped"):
        ddl._wait_for_query(athena, "q-2")
    assert athena.stopped == ["q-2"]
