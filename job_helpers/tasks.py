"""Tasks: one function run over many items at once, results in item order, wherever the job runs.

Embrace and the sensor export use Spark only to spread Python functions over cores, so a job that
asks ``runtime.start_job`` for ``tasks`` gets a runner with ``parallelism`` and ``map``. On Glue it
is Spark (``SparkTasks``: the same functions on the cluster's executors); locally it is a pool of
worker processes of this interpreter (``ProcessTasks``), with no JVM. ``runtime`` chooses.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from typing import Any, Protocol, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

log = logging.getLogger(__name__)

# Workers start as fresh interpreters: a fork of a driver that runs threads (boto3's transfers, a test's
# moto server) may copy a lock some thread held, and a forked worker would share the driver's heap.
START_METHOD = "spawn"
# A worker hands large arrays back to the OS as soon as they are freed, so its memory follows the
# task it runs, not the largest it has run (glibc reads this when the worker starts).
WORKER_ENVIRONMENT = {"MALLOC_MMAP_THRESHOLD_": "131072", "ARROW_DEFAULT_MEMORY_POOL": "system"}
# Spark tasks one map asks for at most, per core: a Spark task costs tens of milliseconds to schedule, so
# beyond that items go in groups, dealt round-robin (items given largest first stay spread over the tasks).
TASKS_PER_CORE = 4
# Linux starts no process whose environment holds a ``NAME=value`` string of 128 KiB or more (MAX_ARG_STRLEN).
LONGEST_VARIABLE = 128 * 1024 - 1
WORKER_DIED = (
    "a task's worker process ended abruptly (killed by a signal, for example out of memory): "
    "run the job again, with fewer or smaller items per task if it recurs"
)


class TaskFailed(Exception):
    """A task raised, or its worker died: the message is one line naming the cause."""


class Tasks(Protocol):
    """Runs ``function`` on each item in parallel; ``parallelism`` is how many run at once."""

    @property
    def parallelism(self) -> int: ...

    def map(self, function: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
        """``function(item)`` for each item, in item order; raises when any task fails."""
        ...


class SparkTasks:
    """Items as Spark tasks on ``context`` (a ``SparkContext``): Glue's way. Each item is a task of its own,
    up to ``TASKS_PER_CORE`` tasks per core; more items are dealt round-robin to that many tasks."""

    def __init__(self, context: Any) -> None:
        self.context = context

    @property
    def parallelism(self) -> int:
        return int(self.context.defaultParallelism)

    def map(self, function: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
        if not items:
            return []
        count = min(len(items), self.parallelism * TASKS_PER_CORE)
        dealt = [list(items[first::count]) for first in range(count)]
        results: list[Any] = [None] * len(items)
        for first, group in enumerate(self.context.parallelize(dealt, count).map(partial(_run_group, function)).collect()):
            results[first::count] = group
        return results


class ProcessTasks:
    """Items run by ``workers`` local worker processes (one per core by default), kept for the
    runner's life; each task sees the environment and working directory the driver had when ``map``
    was called, whatever an earlier task in its worker changed.

    ``function`` and the items are pickled, so ``function`` is a module-level function or a
    ``functools.partial`` of one. ``close`` stops the workers.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or os.cpu_count() or 1
        self._pool: ProcessPoolExecutor | None = None

    @property
    def parallelism(self) -> int:
        return self.workers

    def map(self, function: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
        if not items:
            return []
        pool = self._started()
        environment = dict(os.environ)  # after the start, which adds WORKER_ENVIRONMENT for the tasks too
        directory = os.getcwd()
        try:
            futures = [pool.submit(_run_task, environment, directory, function, item) for item in items]
            wait(futures, return_when=FIRST_EXCEPTION)
        except BaseException:  # the driver interrupted (Ctrl-C): its tasks stop with it
            self._halt()
            raise
        failed = [(number, error) for number, error in enumerate(map(_error, futures), 1) if error is not None]
        if failed:
            for future in futures:
                future.cancel()
            wait(futures)  # tasks already running finish, so none writes after the driver cleans up
            raise self._failure(*failed[0], len(items))
        return [future.result() for future in futures]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def _halt(self) -> None:
        """End the workers now, their tasks unfinished and the queued ones dropped, so none writes after the
        driver stopped; the next ``map`` starts new ones."""
        pool, self._pool = self._pool, None
        if pool is None:
            return
        workers = list(pool._processes.values())  # the executor ends its workers itself only from Python 3.14 on
        pool.shutdown(wait=False, cancel_futures=True)
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.join()

    def _started(self) -> ProcessPoolExecutor:
        if self._pool is None:
            _refuse_unstartable(os.environ)
            for name, value in WORKER_ENVIRONMENT.items():
                os.environ.setdefault(name, value)
            context = multiprocessing.get_context(START_METHOD)
            self._pool = ProcessPoolExecutor(self.workers, mp_context=context, initializer=_end_with_the_driver)
        return self._pool

    def _failure(self, number: int, error: BaseException, count: int) -> TaskFailed:
        if isinstance(error, BrokenProcessPool):
            self.close()  # a broken pool takes no more work; the next map starts a new one
            return TaskFailed(WORKER_DIED)
        if isinstance(error, TaskFailed):
            return error
        return TaskFailed(f"task {number} of {count} failed: {describe(error)}")


def _run_group(function: Callable[[Item], Result], items: Sequence[Item]) -> list[Result]:
    """In a Spark task: ``function`` over the items dealt to it, in their order."""
    return [function(item) for item in items]


def _refuse_unstartable(environment: Mapping[str, str]) -> None:
    """Name a variable no worker could be started with (spawning one would fail on a broken pipe)."""
    for name, value in environment.items():
        size = len(os.fsencode(f"{name}={value}"))
        if size > LONGEST_VARIABLE:
            raise TaskFailed(
                f"the environment variable {name} is {size} bytes, more than a task's worker process can be started "
                f"with ({LONGEST_VARIABLE}): unset it, or pass its value another way (a file, an argument)"
            )


def _end_with_the_driver() -> None:
    """In a new worker: exit as soon as the driver process is gone (killed, say, by SIGKILL or SIGTERM), so
    no task goes on writing into a run's staging after it and no worker is left running on its own."""
    driver = multiprocessing.parent_process()
    if driver is not None:
        threading.Thread(target=_exit_after, args=(driver,), name="end-with-the-driver", daemon=True).start()


def _exit_after(driver: multiprocessing.process.BaseProcess) -> None:
    driver.join()  # a spawned worker's parent: returns when the driver's end of their pipe closes, as it exits
    os._exit(1)


def _error(future: Future) -> BaseException | None:
    """What a finished task raised; None while it runs, when it was cancelled or when it succeeded."""
    return future.exception() if future.done() and not future.cancelled() else None


def _run_task(environment: Mapping[str, str], directory: str, function: Callable[[Item], Result], item: Item) -> Result:
    """In a worker: ``function(item)`` with the driver's environment and working directory (relative paths
    mean what they mean to the driver); an error comes back as one line, its traceback logged here."""
    os.environ.clear()
    os.environ.update(environment)
    os.chdir(directory)
    try:
        return function(item)
    except BaseException as error:  # sys.exit in a task too: Spark names it the same way
        log.error("a task failed:\n%s", traceback.format_exc())
        raise TaskFailed(f"a task failed: {describe(error)}") from None


def describe(error: BaseException) -> str:
    """An error's type and the first line of its message."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")
