"""The STEDI jobs' arguments turned into plain values, a bad one failing with a line that names it."""

from __future__ import annotations

from datetime import date

import pytest

from job_helpers.runtime import JobFailed
from job_helpers.stedi import parameters

COMMON = {"output_format": "parquet", "report": "file:///lake/reports/job/", "allow_shrink": "false"}


def test_a_ranged_run_is_scoped_to_its_dates_and_a_whole_run_to_all():
    ranged = parameters.from_args({**COMMON, "from_date": "2022-06-18", "to_date": "2022-06-19"}, ranged=True)
    assert ranged.days == (date(2022, 6, 18), date(2022, 6, 19)) and ranged.scope == "2022-06-18_2022-06-19"
    whole = parameters.from_args(COMMON, ranged=True)
    assert (whole.first, whole.last, whole.scope, whole.allow_shrink) == (None, None, "all", False)


def test_bad_arguments_name_themselves():
    with pytest.raises(JobFailed, match="--to-date: this job always recomputes its whole table"):
        parameters.from_args({**COMMON, "to_date": "2022-06-18"}, ranged=False)
    with pytest.raises(JobFailed, match="--from-date needs its partner"):
        parameters.from_args({**COMMON, "from_date": "2022-06-18"}, ranged=True)
    with pytest.raises(JobFailed, match="--output-format 'csv' is not one of parquet, json"):
        parameters.from_args({**COMMON, "output_format": "csv"}, ranged=False)
    with pytest.raises(JobFailed, match="--ml-join 'any'"):
        parameters.ml_join({"ml_join": "any"})


def test_the_key_source_is_only_looked_at_when_pseudonymising():
    source = "secretsmanager:glue-etl/stedi/pseudonym-key"
    assert parameters.pseudonym_key_source({"pseudonymise": "true", "pseudonym_key": source}) == source
    assert parameters.pseudonym_key_source({"pseudonymise": "false", "pseudonym_key": source}) is None
