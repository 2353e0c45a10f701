"""The suite's slow groups, as markers, and the check that keeps the fast loop fast.

``spark`` (a SparkSession: the ``spark`` fixture, or a job run in-process), ``subprocess`` (a process
of its own: a job, a local runner, the CLI as a user runs it, make, Chromium, the task runner's
workers), ``moto`` (moto's HTTP server) and ``aws_e2e`` (the project of ``tests/aws_e2e``) are what
take the suite's minutes; every test in one of them is also marked ``slow``, and ``make test-fast``
runs the others. A test that uses the ``spark``, ``tasks`` or ``moto_endpoint`` fixture, names a
storage fixture's ``s3`` case or lives in ``tests/aws_e2e`` is marked here. A test in no group that starts Spark or a process, or asks for
moto's server, fails, naming the marker it needs, so the fast loop stays fast by a failing test,
not by a list someone remembers to keep. (A test already in one slow group may do what the others
do: it is out of the fast loop either way.)
"""

from __future__ import annotations

import multiprocessing.process
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from unittest import mock

import pytest

GROUPS = ("spark", "subprocess", "moto", "aws_e2e")
BY_FIXTURE = {"spark": "spark", "tasks": "subprocess", "moto_endpoint": "moto"}
MOTO_CASE = "s3"  # the parameter value that names a test's case on moto's S3
JVM_LAUNCHER = "spark-submit"  # the process that starts Spark's JVM
AWS_E2E = Path(__file__).resolve().parents[1] / "aws_e2e"


class OutOfGroup(AssertionError):
    """A test did what only tests of a slow group do, without its marker."""


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture in set(BY_FIXTURE) & set(getattr(item, "fixturenames", ())):
            item.add_marker(BY_FIXTURE[fixture])
        if _names_the_moto_case(item):
            item.add_marker("moto")
        if AWS_E2E in item.path.parents:
            item.add_marker("aws_e2e")
        if any(item.get_closest_marker(group) for group in GROUPS):
            item.add_marker("slow")


def _names_the_moto_case(item: pytest.Item) -> bool:
    """A storage fixture's case on moto, which asks for ``s3_storage`` only as it runs."""
    callspec = getattr(item, "callspec", None)
    return callspec is not None and any(isinstance(value, str) and value == MOTO_CASE for value in callspec.params.values())


def require(item: pytest.Item, group: str, what: str) -> None:
    """Fail a test in no group that uses what only ``group``'s tests use (a fixture asked for while it runs)."""
    if not item.get_closest_marker("slow"):
        pytest.fail(
            f"this test {what}: mark it pytest.mark.{group}, or call its parameter {MOTO_CASE!r} (tests/support/groups.py)"
        )


@contextmanager
def _kept_in_group(item: pytest.Item) -> Iterator[list[str]]:
    """While the fixtures and body of a test in no group run, Spark and processes are refused and
    listed (a job's own error handling may swallow the refusal, the list still fails the test)."""
    found: list[str] = []

    def refuse(what: str, marker: str) -> None:
        found.append(f"this test {what}: mark it (or its module) pytest.mark.{marker} (tests/support/groups.py)")
        raise OutOfGroup(found[-1])

    def no_spark(*args, **kwargs):
        refuse("starts Spark", "spark")

    def no_process(self, args, *rest, **kwargs):
        command = [args] if isinstance(args, str | bytes) else list(args)
        if str(command[0]).endswith(JVM_LAUNCHER):
            refuse("starts Spark", "spark")
        refuse(f"starts a process ({' '.join(map(str, command))[:100]})", "subprocess")

    def no_worker(self):
        refuse(f"starts a worker process ({self.name})", "subprocess")

    with ExitStack() as stack:
        if not item.get_closest_marker("slow"):
            if "pyspark.sql" in sys.modules:  # else Spark would start its JVM, a process refused below
                from pyspark.sql import SparkSession

                stack.enter_context(mock.patch.object(SparkSession.Builder, "getOrCreate", no_spark))
            stack.enter_context(mock.patch.object(subprocess.Popen, "__init__", no_process))
            stack.enter_context(mock.patch.object(multiprocessing.process.BaseProcess, "start", no_worker))
        yield found


def _in_group(item: pytest.Item):
    with _kept_in_group(item) as found:
        result = yield
    if found:
        pytest.fail(found[0], pytrace=False)
    return result


pytest_runtest_setup = pytest.hookimpl(wrapper=True)(_in_group)
pytest_runtest_call = pytest.hookimpl(wrapper=True)(_in_group)
