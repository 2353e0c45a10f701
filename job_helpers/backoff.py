"""Exponential backoff with full jitter, for the waits botocore's retries do not cover.

Full jitter (a uniform delay between zero and the exponential bound) spreads many waiting
callers apart, so they do not retry or poll in lockstep.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """Delays bounded by ``min(cap, base * 2**attempt)`` seconds."""

    base: float
    cap: float

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        bound = min(self.cap, self.base * 2 ** min(attempt, 32))
        return (rng or random).uniform(0, bound)


def retry(
    call: Callable[[], T],
    retryable: Callable[[Exception], bool],
    backoff: Backoff,
    attempts: int,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call until it succeeds, sleeping a jittered delay after each retryable failure.

    The last failure, or any failure ``retryable`` rejects, propagates unchanged.
    """
    if attempts < 1:
        raise ValueError(f"attempts must be at least 1, not {attempts}")
    attempt = 0
    while True:
        try:
            return call()
        except Exception as error:
            attempt += 1
            if attempt >= attempts or not retryable(error):
                raise
            sleep(backoff.delay(attempt - 1))


class DeadlinePassed(Exception):
    """What was polled for had not ended by the deadline."""


@dataclass(frozen=True)
class Pending:
    """A poll's answer while the thing waited for has not ended; ``changed`` restarts the backoff."""

    changed: bool = False


def poll(
    check: Callable[[], T | Pending],
    backoff: Backoff,
    deadline: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Call ``check`` until it returns a result, sleeping a jittered delay between calls.

    The delay grows while nothing changes and drops back to the shortest when ``check`` says
    something did. ``deadline`` is a ``clock()`` time; passing it raises ``DeadlinePassed``.
    """
    attempt = 0
    while True:
        answer = check()
        if not isinstance(answer, Pending):
            return answer
        if deadline is not None and clock() > deadline:
            raise DeadlinePassed(f"still waiting after the deadline ({attempt + 1} checks)")
        attempt = 0 if answer.changed else attempt + 1
        sleep(backoff.delay(attempt))
