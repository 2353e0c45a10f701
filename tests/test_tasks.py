"""The task runners: Spark's (Glue's) and the local worker processes give the same results, in item
order, and a failed task or a dead worker ends the run with one line naming the cause.

Functions are builtins, which both runners pickle by reference, so no worker needs the tests' modules.
"""

import operator
import os
import signal
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest

from job_helpers import runtime
from job_helpers.tasks import TASKS_PER_CORE, WORKER_DIED, ProcessTasks, SparkTasks, TaskFailed

# Items whose results differ from one another, the largest first, so a runner that returned results
# as tasks finish rather than in item order would be caught.
ITEMS = [12, 0, 7, 3, 30, 1]
POWERS = [2**item for item in ITEMS]


def test_spark_and_local_workers_give_the_same_results_in_item_order(spark, tasks):
    glue = SparkTasks(spark.sparkContext)
    assert glue.parallelism == spark.sparkContext.defaultParallelism
    assert tasks.parallelism == os.cpu_count()
    for runner in (glue, tasks):
        assert runner.map(partial(pow, 2), ITEMS) == POWERS
        assert runner.map(partial(pow, 2), []) == []
        assert runner.map(len, [(), "ab", [1, 2, 3]]) == [0, 2, 3]


def test_thousands_of_small_items_are_a_few_spark_tasks_each_and_keep_their_order(spark):
    """Spark spends tens of milliseconds on a task: items beyond a few per core go in groups, not one task each."""
    context = spark.sparkContext
    glue = SparkTasks(context)
    items = list(range(10 * glue.parallelism * TASKS_PER_CORE + 3))
    context.setJobGroup("many-small-items", "a map of many small items")
    try:
        assert glue.map(partial(pow, 2), items) == [2**item for item in items]
    finally:  # the group is a property of this thread: later tests' Spark actions must not carry it
        for key in ("spark.jobGroup.id", "spark.job.description", "spark.job.interruptOnCancel"):
            context.setLocalProperty(key, None)  # type: ignore[arg-type]
    tracker = context.statusTracker()
    stages = [stage for job in tracker.getJobIdsForGroup("many-small-items") for stage in tracker.getJobInfo(job).stageIds]
    assert [tracker.getStageInfo(stage).numTasks for stage in stages] == [glue.parallelism * TASKS_PER_CORE]


def test_a_local_task_sees_the_environment_of_the_driver_when_it_was_given(tasks, monkeypatch):
    """The workers outlive a test that sets an endpoint (moto's), so each task takes the driver's environment."""
    monkeypatch.setenv("JOB_HELPERS_TASK_PROBE", "first")
    assert tasks.map(os.getenv, ["JOB_HELPERS_TASK_PROBE"] * 3) == ["first"] * 3
    monkeypatch.setenv("JOB_HELPERS_TASK_PROBE", "second")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    assert tasks.map(os.getenv, ["JOB_HELPERS_TASK_PROBE", "AWS_DEFAULT_REGION"]) == ["second", None]


def test_a_failing_task_is_one_line_naming_its_error_and_the_workers_keep_serving(tasks):
    with pytest.raises(TaskFailed) as raised:
        tasks.map(partial(operator.floordiv, 1), [1, 2, 0, 4])
    assert str(raised.value) == "a task failed: ZeroDivisionError: integer division or modulo by zero"
    assert tasks.map(partial(operator.floordiv, 12), [1, 2, 3]) == [12, 6, 4]


# Statements a task runs (``exec``, a builtin both runners send by reference) and the one-line cause each
# failure must be named by: the first line of a message of several, the type without its module, an exit.
FAILURES = {
    "raise ValueError('first line\\nsecond line')": "ValueError: first line",
    "import json; json.loads('{')": "JSONDecodeError: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
    "import sys; sys.exit(3)": "SystemExit: 3",
}


def test_spark_and_local_workers_name_a_failed_task_alike(spark, tasks):
    glue = SparkTasks(spark.sparkContext)
    for statement, cause in FAILURES.items():
        for runner, prefix in ((glue, "a Spark task failed: "), (tasks, "a task failed: ")):
            with pytest.raises(Exception) as raised:
                runner.map(exec, [statement])
            assert runtime.failure_message(raised.value) == prefix + cause


def test_a_worker_killed_mid_task_ends_the_run_as_one_line_and_the_next_tasks_get_new_workers(tasks):
    with pytest.raises(TaskFailed) as raised:
        tasks.map(signal.raise_signal, [signal.SIGKILL])
    assert str(raised.value) == WORKER_DIED
    assert runtime.failure_message(raised.value) == WORKER_DIED
    assert "\n" not in WORKER_DIED and "killed" in WORKER_DIED
    assert tasks.map(partial(pow, 2), ITEMS) == POWERS


def test_a_function_the_workers_cannot_receive_fails_naming_it(tasks):
    with pytest.raises(TaskFailed, match=r"^task 1 of 2 failed: (AttributeError|PicklingError): .*lambda"):
        tasks.map(lambda item: item, [1, 2])


def test_a_task_that_changes_directory_leaves_the_next_task_in_the_drivers(tasks, tmp_path):
    """A relative path (a local lake's, a staging file's) means the same in every task: the driver's directory."""
    tasks.map(os.chdir, [str(tmp_path)] * 2 * tasks.parallelism)
    assert tasks.map(os.path.abspath, ["."] * 2 * tasks.parallelism) == [os.getcwd()] * 2 * tasks.parallelism


# A driver with one worker: it prints the worker's process id, then runs tasks that would outlast the test.
DRIVER = """
import operator, os, time
from job_helpers.tasks import ProcessTasks
tasks = ProcessTasks(1)
print(tasks.map(operator.call, [os.getpid])[0], flush=True)
tasks.map(time.sleep, [3600] * 3)
"""


@pytest.mark.subprocess
@pytest.mark.parametrize("stop", [signal.SIGKILL, signal.SIGINT], ids=["killed", "interrupted"])
def test_no_worker_outlives_a_driver_stopped_while_its_tasks_run(stop):
    """A job killed mid-run (SIGKILL, or SIGTERM, which Python does not catch) or interrupted (Ctrl-C) leaves no
    worker writing into its staging, running or queued: every process that holds the driver's standard output
    has ended once that pipe reads to its end."""
    root = Path(__file__).resolve().parents[1]
    driver = subprocess.Popen([sys.executable, "-c", DRIVER], cwd=root, stdout=subprocess.PIPE, text=True)
    worker = int(driver.stdout.readline())
    driver.send_signal(stop)
    try:
        driver.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        driver.kill()
        os.kill(worker, signal.SIGKILL)
        pytest.fail(f"worker {worker} still ran after its driver was stopped by {stop.name}")


def test_an_environment_variable_too_long_to_start_a_worker_with_is_named(monkeypatch):
    """Linux starts no process whose environment holds a ``NAME=value`` of 128 KiB or more: the run says which
    variable, before any worker is started, rather than failing on a broken pipe."""
    monkeypatch.setenv("JOB_HELPERS_TASK_HUGE", "é" * 65536)
    with pytest.raises(TaskFailed) as raised:
        ProcessTasks(1).map(len, ["item"])
    assert str(raised.value) == (
        "the environment variable JOB_HELPERS_TASK_HUGE is 131094 bytes, more than a task's worker process can be "
        "started with (131071): unset it, or pass its value another way (a file, an argument)"
    )
