"""What the control plane needs to know about one data set, declared once in the data set's package.

Each domain package has a ``dataset.py`` holding one ``DATASET``; ``job_helpers/datasets.py`` lists
the packages. Config, ``sample-data``, the policies, the DDL, the Makefile's help and the tests
iterate that list instead of naming data sets by hand. The module sits below the control plane
(it imports nothing of it) and is cheap to import: a sample-data writer imports its generator when
called, so listing the data sets loads neither Spark nor an AWS client.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from job_helpers.config_keys import SectionContext

# parse(node, context, problems) -> the section's typed settings (see config_keys).
SectionParser = Callable[[Any, SectionContext, list[str]], Any]


@dataclass(frozen=True)
class SampleOption:
    """One option of ``make sample-data`` that a data set's writer reads: a whole number from 1 to ``most``."""

    name: str
    default: int
    help: str
    most: int = 2**63 - 1


# Every writer is given these; a data set lists only the options of its own.
COMMON_SAMPLE_OPTIONS = ("days", "start", "seed")


@dataclass(frozen=True)
class SampleRequest:
    """What ``make sample-data`` asks a writer for: the common options and the data set's own."""

    start: date
    days: int
    seed: int
    options: Mapping[str, int] = field(default_factory=dict)


# write(storage, datasets, request) -> one line saying what was written where; ValueError names a bad option.
SampleWriter = Callable[[Any, Mapping[str, str], SampleRequest], str]


@dataclass(frozen=True)
class SampleData:
    """The data set's generated input: ``writer`` imports its generator when called, so listing data sets loads none."""

    writer: SampleWriter
    options: tuple[SampleOption, ...] = ()


@dataclass(frozen=True)
class PolicyContext:
    """What a data set's policy values are made of: the role's account and region, its section, its jobs' arguments."""

    region: str
    account: str
    section: Any
    job_arguments: Mapping[str, Mapping[str, str]]


@dataclass(frozen=True)
class RolePolicy:
    """What the data set's jobs may do as the Glue job role.

    ``reads`` and ``writes`` are S3 object ARNs written with the policy's ``{name.objects_arn}``
    references; ``statements`` are further IAM statements (other services its jobs call), with a
    ``Sid`` each; ``values`` gives the ``{name}`` references only this data set's statements use.
    """

    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    statements: tuple[Mapping[str, Any], ...] = ()
    values: Callable[[PolicyContext], Mapping[str, str]] | None = None


@dataclass(frozen=True)
class DataSet:
    """One data set: its package, jobs, config.yml section, sample data, policy and tables.

    ``name`` is the package under job_helpers/, the prefix of its names under ``datasets:`` in
    config.yml, the section it owns there (when ``settings`` parses one) and the ``dataset=`` of
    ``make sample-data``. ``jobs`` are the keys of its jobs (``jobs/<key>.py``), ``tables`` the
    Athena tables its DDL in sql/ creates, ``services`` the AWS services (boto3 names) its code
    calls, ``example_buckets`` the bucket names config.yml ships for it (refused on a real account),
    ``sql_values`` the ``{name}`` values its DDL uses beyond the data set URLs.
    """

    name: str
    title: str
    jobs: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()
    settings: SectionParser | None = None
    argument_choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    sample: SampleData | None = None
    role: RolePolicy = RolePolicy()
    services: tuple[str, ...] = ("s3",)
    example_buckets: tuple[str, ...] = ()
    sql_values: Callable[[Any], Mapping[str, str]] | None = None
