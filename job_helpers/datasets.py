"""The registry: every data set of the project, one line each (its package under job_helpers/).

Each package declares its ``DATASET`` in ``dataset.py`` (see job_helpers/dataset.py); config,
``sample-data``, the policies, the DDL, the Makefile's help and the tests iterate ``registered()``.
A package with a job in jobs/ that is not listed here fails tests/test_datasets.py.
"""

from __future__ import annotations

import importlib
from functools import cache

from job_helpers.dataset import DataSet

PACKAGES = (
    "sitewise",
    "stedi",
    "sensors",
    "embrace",
    "ingest",
)


@cache
def registered() -> tuple[DataSet, ...]:
    """Every registered data set, in the order above."""
    return tuple(importlib.import_module(f"job_helpers.{package}.dataset").DATASET for package in PACKAGES)


def by_name() -> dict[str, DataSet]:
    """The registered data sets by name."""
    return {dataset.name: dataset for dataset in registered()}


def sample_names() -> str:
    """The data sets ``make sample-data`` writes, as its help shows them (``a|b|c``)."""
    return "|".join(dataset.name for dataset in registered() if dataset.sample)


if __name__ == "__main__":
    # `make help` prints the sample-data line from this, so the Makefile names no data set by hand.
    import sys

    sys.stdout.write(sample_names() + "\n")
