"""Fixtures of the Embrace tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def small_spark(spark):
    """The suite's session with two shuffle partitions: the inputs are tiny and the machine has two cores."""
    spark.conf.set("spark.sql.shuffle.partitions", "2")
    return spark
