import random

import pytest

from job_helpers.backoff import Backoff, DeadlinePassed, Pending, poll


def test_poll_returns_the_first_answer_and_restarts_its_backoff_when_something_changed():
    answers = iter([Pending(), Pending(), Pending(changed=True), Pending(), "done"])
    bounds = []
    backoff = Backoff(base=1.0, cap=100.0)

    def sleep(seconds: float) -> None:
        bounds.append(seconds)

    random.seed(7)
    assert poll(lambda: next(answers), backoff, sleep=sleep) == "done"
    assert len(bounds) == 4
    assert bounds[0] <= 2 and bounds[1] <= 4 and bounds[2] <= 1 and bounds[3] <= 2


def test_poll_gives_up_at_its_deadline():
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += 10

    with pytest.raises(DeadlinePassed, match="after the deadline"):
        poll(lambda: Pending(), Backoff(1.0, 1.0), deadline=25.0, sleep=sleep, clock=lambda: now[0])
    assert now[0] == 30
