"""Fixtures of the STEDI tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def small_shuffles(spark):
    """Few shuffle partitions: the STEDI tables are small and the machine has two cores."""
    spark.conf.set("spark.sql.shuffle.partitions", "4")
    return spark


@pytest.fixture(autouse=True)
def no_key_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests choose their key explicitly; a developer's PSEUDONYM_KEY must not leak in."""
    monkeypatch.delenv("PSEUDONYM_KEY", raising=False)
